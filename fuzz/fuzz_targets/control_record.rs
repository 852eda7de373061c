//! Untrusted bytes on a hosted PD's control pipe, as the supervisor reads them: records are
//! taken one at a time, never buffering more than `Record::bytes_needed` says, and decoding must
//! never panic, never claim more bytes than it has, and give back a record that survives its own
//! encoding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_runtime::hosted::control::{Record, MAX_RECORD_BYTES};

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let need = Record::bytes_needed(&buf);
        assert!(need <= MAX_RECORD_BYTES);
        if buf.len() < need {
            let take = (need - buf.len()).min(rest.len());
            if take == 0 {
                return;
            }
            buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
        }
        match Record::decode(&buf) {
            Ok(Some((record, used))) => {
                assert!(used <= buf.len() && used == need);
                let again = record.encode();
                assert_eq!(Record::decode(&again), Ok(Some((record, again.len()))));
                buf.drain(..used);
            }
            Ok(None) => {}
            Err(_) => return,
        }
    }
});
