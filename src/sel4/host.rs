//! What the seL4 build needs from the host, checked before anything runs.
//!
//! Programs are looked up on `PATH` (through [`crate::setup`], which `rampart setup` and the
//! CLI's seL4 commands also use to install them); when any is missing the build stops with one
//! line naming every missing program and the Debian packages to `apt-get install`. Nothing is
//! skipped silently. The kernel build's Python packages (PyPI `tempita`, `six`, `ply`) go into a venv
//! under `target/sel4/venv`, whose `bin/` also gives make the unversioned `python` it calls.

use super::{err, io_err, BuildOptions, Error};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A program (or Python module) the build or boot needs, and the Debian package that provides it.
pub use crate::setup::find_program;
pub use crate::setup::Need as Tool;

/// The PyPI packages the kernel build's Python tools import.
pub const PYTHON_PACKAGES: &[&str] = &["tempita", "six", "ply"];

/// What building the kernel and root task runs (besides cargo, which is running us).
pub fn build_tools() -> Vec<Tool> {
    vec![
        Tool::new("make", "make"),
        Tool::new("gcc", "gcc"),
        Tool::new("cpp", "cpp"),
        Tool::new("ld", "binutils"),
        Tool::new("objcopy", "binutils"),
        Tool::new("strip", "binutils"),
        Tool::new("xmllint", "libxml2-utils"),
        Tool::new("python3", "python3"),
        crate::setup::venv(),
    ]
}

/// What `rampart boot` runs on `board`: the build's tools and the board's QEMU.
pub fn boot_tools(board: &rampart_sdf::Board) -> Vec<Tool> {
    let mut tools = build_tools();
    tools.extend(board.qemu.as_ref().map(|q| qemu_tool(&q.binary)));
    tools
}

/// The tool for a QEMU binary named by a board file.
pub fn qemu_tool(binary: &str) -> Tool {
    let debian_package = match binary {
        "qemu-system-x86_64" | "qemu-system-i386" => "qemu-system-x86",
        "qemu-system-arm" | "qemu-system-aarch64" => "qemu-system-arm",
        _ => "qemu-system",
    };
    Tool::new(binary, debian_package)
}

/// Fail with one line if any of `tools` is missing (this never installs: `rampart setup` does).
pub fn require(tools: &[Tool]) -> Result<(), Error> {
    missing_message(crate::setup::missing(tools))
}

/// The one-line error for these missing tools (`Ok` when there are none).
pub fn missing_message(missing: Vec<Tool>) -> Result<(), Error> {
    if missing.is_empty() {
        return Ok(());
    }
    err(crate::setup::missing_line(&missing))
}

/// The venv's `bin/` directory, created with the build's Python packages if needed.
pub fn python_venv(venv: &Path, opts: BuildOptions) -> Result<PathBuf, Error> {
    let bin = venv.join("bin");
    let python = bin.join("python3");
    if python.is_file() && imports_ok(&python) {
        return Ok(bin);
    }
    let _ = std::fs::remove_dir_all(venv);
    let _step = crate::progress::Step::start("creating the kernel build's Python venv (pip install tempita six ply)", opts.verbose);
    let out = Command::new("python3").arg("-m").arg("venv").arg(venv).stdin(Stdio::null()).output().map_err(|e| Error(format!("cannot run python3: {e}")))?;
    if !out.status.success() || !python.is_file() {
        let why = String::from_utf8_lossy(&out.stderr);
        return err(format!(
            "cannot create a Python venv in {} ({}); on Debian: apt-get install python3-venv",
            venv.display(),
            why.lines().last().unwrap_or("no message").trim()
        ));
    }
    let mut pip = Command::new(&python);
    pip.args(["-m", "pip", "install", "--disable-pip-version-check"]).args(PYTHON_PACKAGES).stdin(Stdio::null());
    if !opts.verbose {
        pip.arg("--quiet");
    }
    let log = venv.join("pip.log");
    let out = if opts.verbose {
        pip.status().map(|s| (s, String::new()))
    } else {
        pip.output().map(|o| {
            let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            let _ = std::fs::write(&log, &text);
            (o.status, text)
        })
    }
    .map_err(|e| io_err(&python, e))?;
    if !out.0.success() || !imports_ok(&python) {
        let last = out.1.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
        return err(format!("cannot install the PyPI packages {} into {} with pip: {last}", PYTHON_PACKAGES.join(", "), venv.display()));
    }
    if !bin.join("python").is_file() {
        return err(format!("the venv {} has no `python`, which the kernel's Makefile runs", venv.display()));
    }
    Ok(bin)
}

fn imports_ok(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {}", PYTHON_PACKAGES.join(", "))])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tools_are_named_with_their_packages_on_one_line() {
        let e = missing_message(vec![
            Tool::new("xmllint", "libxml2-utils"),
            Tool::new("objcopy", "binutils"),
            Tool::new("ld", "binutils"),
            qemu_tool("qemu-system-x86_64"),
        ])
        .unwrap_err()
        .0;
        assert!(!e.contains('\n'), "{e}");
        assert!(e.starts_with("missing: xmllint, objcopy, ld, qemu-system-x86_64: run '"), "{e}");
        assert!(e.ends_with("apt-get install libxml2-utils binutils qemu-system-x86'"), "{e}");
        assert!(missing_message(vec![]).is_ok());
    }

    #[test]
    fn a_program_that_is_not_there_is_missing() {
        let e = require(&[Tool::new("rampart-no-such-program", "nothing")]).unwrap_err();
        assert!(e.0.contains("rampart-no-such-program") && e.0.contains("apt-get install nothing'"), "{e}");
        assert!(find_program("sh").is_some());
    }
}
