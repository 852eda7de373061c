//! Two threads, a million messages: every one arrives, in order, intact.

mod common;

use common::{backoff, payload_of, TestRegion};
use rampart_ring::{NoDoorbell, RingError};

#[test]
fn a_million_frames_between_two_threads_arrive_in_order_and_intact() {
    const MESSAGES: u64 = 1_000_000;
    // A ring of 4 KiB: small enough to fill and wrap constantly.
    let region = TestRegion::new(4096);
    region.init();
    let mut tx = region.producer(NoDoorbell);
    let mut rx = region.consumer();
    let len_of = |seq: u64| ((seq * 7919) % 200) as usize;
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut full = 0u64;
            let mut spins = 0;
            for seq in 0..MESSAGES {
                let len = len_of(seq);
                loop {
                    match tx.try_write_frame(payload_of(seq, len)) {
                        Ok(()) => break,
                        Err(RingError::Full) => {
                            full += 1;
                            backoff(&mut spins);
                        }
                        Err(e) => panic!("send {seq}: {e}"),
                    }
                }
            }
            tx.flush();
            println!("producer met a full ring {full} times");
        });
        s.spawn(|| {
            let mut got = [0u8; 200];
            let mut seq = 0;
            let mut spins = 0;
            while seq < MESSAGES {
                match rx.try_recv_frame_into(&mut got) {
                    Ok(Some(len)) => {
                        assert_eq!(len, len_of(seq), "length of frame {seq}");
                        assert!(got[..len] == *payload_of(seq, len), "content of frame {seq}");
                        seq += 1;
                    }
                    Ok(None) => backoff(&mut spins),
                    Err(e) => panic!("receive {seq}: {e}"),
                }
            }
            assert_eq!(rx.try_recv_frame_into(&mut got), Ok(None));
        });
    });
    assert!(region.guards_intact());
}

#[test]
fn typed_messages_between_two_threads_arrive_in_order() {
    const MESSAGES: u64 = 200_000;
    let region = TestRegion::new(1024);
    region.init();
    let mut tx = region.producer(NoDoorbell);
    let mut rx = region.consumer();
    std::thread::scope(|s| {
        s.spawn(|| {
            for seq in 0..MESSAGES {
                let msg = (seq, seq as u32 ^ 0xdead_beef, [seq as u8; 5]);
                let mut spins = 0;
                while let Err(e) = tx.try_write(&msg) {
                    assert_eq!(e, RingError::Full);
                    backoff(&mut spins);
                }
            }
            tx.flush();
        });
        s.spawn(|| {
            let mut seq = 0;
            let mut spins = 0;
            while seq < MESSAGES {
                if let Some(msg) = rx.try_recv::<(u64, u32, [u8; 5])>().unwrap() {
                    assert_eq!(msg, (seq, seq as u32 ^ 0xdead_beef, [seq as u8; 5]));
                    seq += 1;
                } else {
                    backoff(&mut spins);
                }
            }
        });
    });
}
