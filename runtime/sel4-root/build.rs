//! Embeds the system image `rampart run` wrote (`$RAMPART_SEL4_SYSTEM_IMAGE`, see
//! `src/layout.rs` for its format) as `$OUT_DIR/system.img`, which `src/main.rs` includes. Without
//! the variable the image is empty and the root task runs its self-test (`rampart boot`).
fn main() {
    const VAR: &str = "RAMPART_SEL4_SYSTEM_IMAGE";
    println!("cargo:rerun-if-env-changed={VAR}");
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("system.img");
    let bytes = match std::env::var_os(VAR) {
        Some(path) if !path.is_empty() => {
            println!("cargo:rerun-if-changed={}", std::path::Path::new(&path).display());
            std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read the system image {}: {e}", std::path::Path::new(&path).display()))
        }
        _ => Vec::new(),
    };
    // Only rewrite on change, so that an unchanged image does not relink the root task.
    if std::fs::read(&out).ok().as_deref() != Some(&bytes[..]) {
        std::fs::write(&out, &bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
    }
}
