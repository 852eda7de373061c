//! Validates the default `system.xml` during `cargo build`: a broken system fails the build with
//! the same diagnostics `rampart check` prints. The compiled spec is embedded in the tool.
//! (Each component's own build script generates its bindings; see rampart_sdf::bindings.)
use std::path::PathBuf;

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let system = root.join("system.xml");
    println!("cargo:rerun-if-changed={}", system.display());
    println!("cargo:rerun-if-changed={}", root.join("images/boards").display());
    // Which programs are components depends on which crates components/ (and tests/components/)
    // hold.
    println!("cargo:rerun-if-changed={}", root.join("components").display());
    println!("cargo:rerun-if-changed={}", root.join("tests/components").display());
    let mut opts = rampart_sdf::Options::new(rampart_sdf::Board::default_board());
    opts.components = rampart_sdf::find_components(&root);
    match rampart_sdf::check_file(&system, &opts) {
        Ok(checked) => {
            for d in &checked.report.diagnostics {
                println!("cargo:warning=system.xml: {} ({})", d.message, checked.report.location(d));
            }
            let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("default_system.spec");
            std::fs::write(out, checked.spec.encode()).unwrap();
        }
        Err(report) => {
            eprint!("{}", report.render(false));
            eprintln!("error: the default system.xml is invalid; fix it or `rampart check system.xml` for details");
            std::process::exit(1);
        }
    }
}
