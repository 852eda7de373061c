//! Untrusted MinBFT wire bytes: `rampart_minbft::wire::decode` must never panic or hang, and what
//! it accepts must survive a round trip: `decode(encode(x)) == x`, within every bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_minbft::wire;

fuzz_target!(|data: &[u8]| {
    if let Ok(msg) = wire::decode(data) {
        msg.check_bounds().expect("decode returned a message over its bounds");
        let bytes = wire::encode(&msg).expect("a decoded message re-encodes");
        let again = wire::decode(&bytes).expect("re-encoded message decodes");
        assert_eq!(again, msg, "decode(encode(x)) != x");
        assert_eq!(wire::encode(&again).expect("encodes"), bytes, "encoding is not deterministic");
    }
});
