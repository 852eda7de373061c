//! Generated bindings: a component names its channels and regions by the names in system.xml,
//! and the compiler refuses names and rights it was not given.
//!
//! Each test builds a throwaway component crate against a throwaway system file with the real
//! build script and runtime (cargo, offline, one shared target directory so that the
//! dependencies compile once), and checks that the build succeeds or fails with the expected
//! compiler error.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Builds share one target directory; cargo would serialise them anyway.
static BUILD: Mutex<()> = Mutex::new(());

const SYSTEM: &str = r#"<system>
    <memory_region name="buffer" size="0x1000" />
    <protection_domain name="probe" priority="10">
        <program_image path="probe.elf" />
        <map mr="buffer" vaddr="0x4000000" perms="r" />
    </protection_domain>
    <protection_domain name="server" priority="20">
        <program_image path="server.elf" />
        <map mr="buffer" vaddr="0x4000000" perms="rw" />
    </protection_domain>
    <channel>
        <end pd="probe" id="3" pp="true" notify="false" />
        <end pd="server" id="0" />
    </channel>
</system>
"#;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Build component `probe` with `lib_rs` against `system`; Ok(stderr) or Err(stderr).
fn build_probe(system: &str, lib_rs: &str) -> Result<String, String> {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let crate_dir = root.join("components/probe");
    std::fs::create_dir_all(crate_dir.join("src")).unwrap();
    std::fs::write(root.join("system.xml"), system).unwrap();
    let ws = workspace();
    let manifest = format!(
        r#"[package]
name = "probe"
version = "0.0.0"
edition = "2021"

[workspace]

[dependencies]
rampart-runtime = {{ path = {runtime:?} }}

[build-dependencies]
rampart-sdf = {{ path = {sdf:?} }}
"#,
        runtime = ws.join("runtime").display().to_string(),
        sdf = ws.join("sdf").display().to_string()
    );
    std::fs::write(crate_dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(crate_dir.join("build.rs"), "fn main() { rampart_sdf::bindings::build_script(); }\n").unwrap();
    std::fs::write(crate_dir.join("src/lib.rs"), lib_rs).unwrap();
    // Reuse the workspace's lock file so that the offline build picks the same versions.
    std::fs::copy(ws.join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    let out = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--manifest-path"])
        .arg(crate_dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target_dir())
        .env_remove("RAMPART_SYSTEM")
        .env_remove("RAMPART_BOARD")
        .output()
        .expect("run cargo");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if out.status.success() {
        Ok(stderr)
    } else {
        Err(stderr)
    }
}

fn target_dir() -> PathBuf {
    let t = workspace().join("target/bindings-probe");
    let _ = std::fs::create_dir_all(&t);
    t
}

fn fails_with(system: &str, lib_rs: &str, needle: &str) {
    match build_probe(system, lib_rs) {
        Ok(_) => panic!("the build should have failed with `{needle}`"),
        Err(e) => assert!(e.contains(needle), "expected `{needle}` in:\n{e}"),
    }
}

const HEADER: &str = "#![no_std]\nrampart_runtime::bindings!();\nuse rampart_runtime::*;\n";

#[test]
fn a_component_names_its_channels_and_regions_as_system_xml_does() {
    let lib = format!(
        "{HEADER}pub const SERVER: Channel<NoNotify, PpCall> = channels::SERVER;
pub const BUF: Region<ReadOnly> = regions::BUFFER;
const _: () = assert!(SERVER.id() == 3 && BUF.vaddr() == 0x400_0000 && BUF.size_bytes() == 0x1000);
const _: () = assert!(!SERVES_PROTECTED_CALLS);"
    );
    if let Err(e) = build_probe(SYSTEM, &lib) {
        panic!("a component using its own names must build:\n{e}");
    }
}

#[test]
fn a_pd_that_names_a_channel_it_does_not_have_fails_to_compile() {
    fails_with(SYSTEM, &format!("{HEADER}pub const X: u8 = channels::CLIENT.id();"), "cannot find value `CLIENT` in module `channels`");
}

#[test]
fn a_pd_that_names_a_region_it_does_not_have_fails_to_compile() {
    fails_with(SYSTEM, &format!("{HEADER}pub const X: u64 = regions::RING.vaddr();"), "cannot find value `RING` in module `regions`");
}

#[test]
fn a_channel_end_without_the_notify_right_is_not_a_notifying_channel() {
    fails_with(SYSTEM, &format!("{HEADER}pub const X: Channel<Notify, PpCall> = channels::SERVER;"), "mismatched types");
}

#[test]
fn a_region_mapped_read_only_cannot_be_used_as_writable() {
    let lib = format!("{HEADER}fn needs_write<A: Writable>(_: Region<A>) {{}}\npub fn f() {{ needs_write(regions::BUFFER) }}");
    fails_with(SYSTEM, &lib, "rampart_runtime::ReadOnly: rampart_runtime::Writable` is not satisfied");
}

#[test]
fn an_invalid_system_fails_the_component_build_with_its_diagnostics() {
    let broken = SYSTEM.replace(r#"priority="20""#, r#"priority="5""#);
    fails_with(&broken, HEADER, "error: `probe` (priority 10) may not make protected procedure calls to `server` (priority 5)");
    fails_with(&broken, HEADER, "system.xml:12:36");
    fails_with(&broken, HEADER, r#"12 |         <end pd="probe" id="3" pp="true" notify="false" />"#);
}

#[test]
fn a_component_no_pd_runs_fails_with_a_clear_error() {
    let other = SYSTEM.replace("probe.elf", "elsewhere.elf");
    fails_with(&other, HEADER, "component `probe` is not the program of any protection domain");
}

#[test]
fn the_default_system_fails_the_tool_build_when_it_is_broken() {
    // Copy the tool's sources (not target/) with a broken system.xml, and build only its build
    // script's dependencies and the build script itself.
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let ws = workspace();
    copy_tree(&ws, dir.path(), &["target", ".git", "fuzz"]);
    let xml = std::fs::read_to_string(ws.join("system.xml")).unwrap().replacen(r#"perms="rw""#, r#"perms="w""#, 1);
    std::fs::write(dir.path().join("system.xml"), xml).unwrap();
    let out = Command::new(env!("CARGO"))
        .args(["check", "--offline", "--quiet", "-p", "rampart", "--lib"])
        .current_dir(dir.path())
        .env("CARGO_TARGET_DIR", target_dir())
        .output()
        .expect("run cargo");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("error: perms `w` is write-only"), "{err}");
    assert!(err.contains("the default system.xml is invalid"), "{err}");
}

fn copy_tree(from: &Path, to: &Path, skip: &[&str]) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let (src, dst) = (entry.path(), to.join(&name));
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_tree(&src, &dst, &[]);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}
