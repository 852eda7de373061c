//! Untrusted system files: `rampart_sdf::check_bytes` must never panic, hang or blow the stack.
//!
//! The whole input is the file; its first byte also picks the board (`byte % 3`: 0 qemu-x86_64,
//! 1 qemu-sabrelite, 2 qemu-aarch64-virt), so a seed starting with `<` is checked for x86_64, one
//! starting with a newline for sabrelite (armv7) and one starting with a space for aarch64.
//!
//! Properties:
//! - a rejected file has at least one error, and its report renders;
//! - an accepted file has no errors, its spec passes `check`, and `decode(encode(spec)) == spec`
//!   (every spec the compiler emits is one the backends can read back, unchanged);
//! - the backend checks and the bindings generator accept whatever the compiler emits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_sdf::{backend, bindings, Backend, Board, Options, Report};
use std::sync::OnceLock;

const BOARDS: [&str; 3] = ["qemu-x86_64", "qemu-sabrelite", "qemu-aarch64-virt"];

fn options() -> &'static [Options] {
    static OPTIONS: OnceLock<Vec<Options>> = OnceLock::new();
    OPTIONS.get_or_init(|| {
        BOARDS
            .iter()
            .map(|name| {
                let mut o = Options::new(Board::named(name).expect("board compiled in"));
                // Two workspace components, so that `ping.elf` resolves to a component.
                o.components = vec!["ping".to_string(), "pong".to_string()];
                o
            })
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let opts = &options()[usize::from(data.first().copied().unwrap_or(0)) % BOARDS.len()];
    match rampart_sdf::check_bytes("fuzz.xml", data, opts) {
        Ok(checked) => {
            assert!(!checked.report.has_errors(), "accepted with errors:\n{}", checked.report.render(false));
            let _ = checked.report.render(false);
            checked.spec.check().expect("a compiled spec passes its own check");
            let bytes = checked.spec.encode();
            let back = rampart_spec::decode(&bytes).expect("a compiled spec decodes");
            assert_eq!(back, checked.spec, "decode(encode(spec)) != spec");
            assert_eq!(back.encode(), bytes, "encoding is not deterministic");
            for b in [Backend::Hosted, Backend::Sel4] {
                let mut r = Report::new("fuzz.xml", String::from_utf8_lossy(data).into_owned());
                r.diagnostics = backend::unsupported(&checked.system, &checked.spec, b);
                r.sort();
                let _ = r.render(false);
            }
            for component in ["ping", "pong"] {
                let _ = bindings::generate(&checked.spec, component, "fuzz.xml");
            }
        }
        Err(report) => {
            assert!(report.has_errors(), "rejected without an error");
            let _ = report.render(false);
            let _ = report.render(true);
        }
    }
});
