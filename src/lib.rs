//! The `rampart` host tool as a library: what the CLI does, callable from tests.
//!
//! Today: reading, checking and describing system files (`rampart check`, `rampart describe`).
//! The image builder, the QEMU runner, the hosted launcher, clusters and drills join here.

pub mod describe;

pub use rampart_sdf as sdf;

/// The default system (`system.xml` at the workspace root), compiled by `build.rs` when the tool
/// was built: the spec format's encoding, as [`rampart_spec::decode`] reads it.
pub const DEFAULT_SYSTEM_SPEC: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/default_system.spec"));

/// The workspace this tool was built from (for finding components when a system file lies
/// outside any workspace).
pub const WORKSPACE_DIR: &str = env!("CARGO_MANIFEST_DIR");
