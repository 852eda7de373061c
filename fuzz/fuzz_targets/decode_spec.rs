//! Untrusted encoded specs: `rampart_spec::decode` must never panic or hang, and whatever it
//! accepts must survive another round: `decode(encode(x)) == x`, and `x` passes `check`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(spec) = rampart_spec::decode(data) {
        spec.check().expect("decode returned a spec that fails check");
        let bytes = spec.encode();
        let again = rampart_spec::decode(&bytes).expect("re-encoded spec decodes");
        assert_eq!(again, spec, "decode(encode(x)) != x");
        assert_eq!(again.encode(), bytes, "encoding is not deterministic");
        let _ = spec.digest();
    }
});
