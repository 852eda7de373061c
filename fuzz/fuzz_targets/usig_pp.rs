//! Untrusted protected-procedure messages between a replica and its USIG PD:
//! `rampart_usig::pp` decoding must never panic, and whatever it accepts is canonical.
//!
//! The input is read two ways:
//! - as bytes (`[version, postcard...]`), decoded as a request and as a response; an accepted
//!   value re-encodes to exactly the input bytes (one encoding per value);
//! - as a runtime message: the first byte, as an i8, is added to the length of the rest to make
//!   the label (so 0 makes the rest a well-framed message, and other values a label off by up to
//!   128 bytes either way; the unit tests cover huge labels); the rest is packed into words
//!   (little-endian, at most 64, a short last word zero-padded). An accepted value re-encodes to
//!   the same label and meaningful words.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_usig::pp::{UsigRequest, UsigResponse, PP_MESSAGE_MAX_BYTES, PP_MESSAGE_MAX_WORDS};

fuzz_target!(|data: &[u8]| {
    let mut buf = [0u8; PP_MESSAGE_MAX_BYTES];
    if let Ok(req) = UsigRequest::decode_bytes(data) {
        let n = req.encode_bytes(&mut buf).expect("a decoded request re-encodes");
        assert_eq!(&buf[..n], data, "request encoding is not canonical");
    }
    if let Ok(resp) = UsigResponse::decode_bytes(data) {
        let n = resp.encode_bytes(&mut buf).expect("a decoded response re-encodes");
        assert_eq!(&buf[..n], data, "response encoding is not canonical");
    }

    let Some((&delta, rest)) = data.split_first() else {
        return;
    };
    let label = (rest.len() as i64 + i64::from(delta as i8)).max(0) as u64;
    let mut words = [0u64; PP_MESSAGE_MAX_WORDS];
    let mut count = 0;
    for chunk in rest.chunks(8).take(PP_MESSAGE_MAX_WORDS) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        words[count] = u64::from_le_bytes(b);
        count += 1;
    }
    if let Ok(req) = UsigRequest::decode(label, &words[..count]) {
        let msg = req.encode().expect("a decoded request re-encodes");
        assert_eq!(msg.label, label);
        assert_eq!(msg.words(), &words[..msg.word_count]);
    }
    if let Ok(resp) = UsigResponse::decode(label, &words[..count]) {
        let msg = resp.encode().expect("a decoded response re-encodes");
        assert_eq!(msg.label, label);
        assert_eq!(msg.words(), &words[..msg.word_count]);
    }
});
