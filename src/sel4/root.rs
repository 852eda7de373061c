//! Build the root task (`runtime/sel4-root`) for a board.
//!
//! With a system image (`rampart run`), the tool passes its path in
//! `RAMPART_SEL4_SYSTEM_IMAGE` and the crate's build script embeds it; without one (`rampart
//! build`, `rampart boot`) the root task runs its self-test. Only the root crate is rebuilt when
//! the image changes.
//!
//! The crate is its own workspace (outside Rampart's members, so `cargo build` never builds it
//! with host defaults). It is built for the stable `x86_64-unknown-linux-gnu` target, which needs
//! no extra toolchain, as a freestanding program: `-C relocation-model=static` and
//! `-nostartfiles -nostdlib -static` give a static, non-PIE ELF with the crate's own `_start`;
//! the crate brings its own memory functions. The flags go in `CARGO_ENCODED_RUSTFLAGS` and
//! `--target` is explicit, so they reach only the root task (not build scripts or proc macros,
//! and not the rest of the workspace); the target directory is `target/sel4/root`. The result
//! is checked to be what the kernel's loader takes: a 64-bit x86_64 executable, no interpreter,
//! no dynamic section.

use super::{err, io_err, BuildOptions, Error, Layout};
use rampart_sdf::Board;
use rampart_spec::Arch;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The package (and binary) name of the root task.
pub const PACKAGE: &str = "rampart-sel4-root";

/// The flags that make a freestanding seL4 task out of a linux-gnu target build.
pub const RUSTFLAGS: &[&str] = &["-Crelocation-model=static", "-Clink-arg=-nostartfiles", "-Clink-arg=-nostdlib", "-Clink-arg=-static"];

/// The Rust target the root task of `board` is built for.
pub fn target_for(board: &Board) -> Result<&'static str, Error> {
    match board.arch {
        Arch::X86_64 => Ok("x86_64-unknown-linux-gnu"),
        other => err(format!("the seL4 root task is only built for x86_64 so far, not {} (board `{}`)", other.name(), board.name)),
    }
}

/// The environment variable that names the system image to embed (`runtime/sel4-root/build.rs`).
pub const SYSTEM_IMAGE_ENV: &str = "RAMPART_SEL4_SYSTEM_IMAGE";

/// Build the root task, embedding `system_image` if given; the path of the ELF file cargo
/// produced (overwritten by the next build: copy it).
pub fn build(layout: &Layout, board: &Board, system_image: Option<&Path>, opts: BuildOptions) -> Result<PathBuf, Error> {
    let target = target_for(board)?;
    let manifest = layout.workspace.join("runtime/sel4-root/Cargo.toml");
    let target_dir = layout.sel4_dir().join("root");
    let mut cargo = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cargo
        .args(["build", "--release", "--offline", "--locked", "--target", target])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", RUSTFLAGS.join("\x1f"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove(format!("CARGO_TARGET_{}_RUSTFLAGS", target.to_uppercase().replace('-', "_")))
        .env(SYSTEM_IMAGE_ENV, system_image.map(|p| p.as_os_str().to_owned()).unwrap_or_default())
        .stdin(Stdio::null());
    if !opts.verbose {
        cargo.arg("--quiet");
    }
    let what = if system_image.is_some() { "building the root task with the system image" } else { "building the root task" };
    let step = crate::progress::Step::start(what, opts.verbose);
    let status = cargo.status().map_err(|e| Error(format!("cannot run cargo to build the root task: {e}")))?;
    step.finish();
    if !status.success() {
        return err(format!("building the root task ({}) failed", manifest.display()));
    }
    let elf = target_dir.join(target).join("release").join(PACKAGE);
    check_static_elf(&elf)?;
    Ok(elf)
}

/// Refuse anything the kernel's ELF loader would mishandle: it maps the PT_LOAD segments at
/// their addresses and jumps to the entry point, nothing more.
pub fn check_static_elf(path: &Path) -> Result<(), Error> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    let bad = |why: &str| err(format!("{} is not a static x86_64 executable: {why}", path.display()));
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" {
        return bad("no ELF header");
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        return bad("not 64-bit little-endian");
    }
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]);
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
    const ET_EXEC: u16 = 2;
    const EM_X86_64: u16 = 62;
    if u16_at(16) != ET_EXEC {
        return bad("not ET_EXEC (position-independent?)");
    }
    if u16_at(18) != EM_X86_64 {
        return bad("not x86_64");
    }
    let (phoff, phentsize, phnum) = (u64_at(32) as usize, u16_at(54) as usize, u16_at(56) as usize);
    if phentsize < 56 || phoff.checked_add(phentsize * phnum).is_none_or(|end| end > bytes.len()) {
        return bad("program headers out of the file");
    }
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        match u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) {
            PT_INTERP => return bad("it asks for a dynamic loader (PT_INTERP)"),
            PT_DYNAMIC => return bad("it has a dynamic section"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_host_program_is_not_a_root_task() {
        let sh = crate::sel4::host::find_program("sh").unwrap();
        let e = check_static_elf(&sh).unwrap_err().0;
        assert!(e.contains("not a static x86_64 executable"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x"), b"#!/bin/sh\n").unwrap();
        assert!(check_static_elf(&dir.path().join("x")).unwrap_err().0.contains("no ELF header"));
    }

    #[test]
    fn only_x86_64_boards_have_a_root_task() {
        assert_eq!(target_for(&Board::named("qemu-x86_64").unwrap()).unwrap(), "x86_64-unknown-linux-gnu");
        assert!(target_for(&Board::named("qemu-sabrelite").unwrap()).is_err());
    }
}
