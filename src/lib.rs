//! The `rampart` host tool as a library: what the CLI does, callable from tests.
//!
//! Today: reading, checking and describing system files (`rampart check`, `rampart describe`),
//! running systems hosted ([`hosted`], `rampart run --hosted`) and on seL4 under QEMU
//! ([`sel4`]: kernel build, ABI check, system images, QEMU runner; `rampart run`). Clusters and
//! drills join here.

pub mod describe;
pub mod hosted;
pub mod progress;
pub mod sel4;
pub mod setup;

pub use rampart_sdf as sdf;

/// The default system (`system.xml` at the workspace root), compiled by `build.rs` when the tool
/// was built: the spec format's encoding, as [`rampart_spec::decode`] reads it.
pub const DEFAULT_SYSTEM_SPEC: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/default_system.spec"));

/// The workspace this tool was built from (for finding components when a system file lies
/// outside any workspace).
pub const WORKSPACE_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// The workspace whose components a system file uses: the nearest directory at or above the
/// file's directory that holds `components/` and a `Cargo.toml`, else [`WORKSPACE_DIR`].
pub fn workspace_for(system_file: &std::path::Path) -> std::path::PathBuf {
    let dir = system_file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    dir.ancestors()
        .find(|d| d.join("components").is_dir() && d.join("Cargo.toml").is_file())
        .map(|d| d.to_path_buf())
        .unwrap_or_else(|| std::path::PathBuf::from(WORKSPACE_DIR))
}

/// Build a checked system's components and run it hosted until it ends; its exit status.
pub fn run_hosted(system_file: &std::path::Path, spec: &rampart_spec::SystemSpec, board: &str, opts: hosted::RunOptions) -> Result<u8, hosted::RunError> {
    let workspace = workspace_for(system_file);
    let binaries = hosted::build_components(spec, system_file, board, &workspace, opts.verbose)?;
    let base = system_file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    let verbose = opts.verbose;
    let mut sup = hosted::Supervisor::start(spec.clone(), &binaries.by_component, base, opts)?;
    let status = sup.supervise();
    drop(sup);
    if verbose {
        eprintln!("rampart: supervisor peak memory {} KiB", hosted::peak_memory_kib());
    }
    drop(binaries);
    Ok(status)
}
