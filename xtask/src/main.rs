//! `cargo xtask test [-- ARGS]`: the README's test command, which sets up what the tests need by
//! itself, checks that the code is formatted as rustfmt.toml says (`cargo fmt --check`, in this
//! workspace, runtime/sel4-root and fuzz), and then runs `cargo test --workspace ARGS`.
//!
//! Setting up is `rampart setup --tests` (src/setup.rs): the Debian packages the seL4 tests need
//! (make, gcc, binutils, xmllint, python3 with venv and pip, qemu-system-x86_64), installed with
//! apt-get as root or through password-less sudo, and the PyPI package sdfgen in target/pydeps.
//! When that cannot be done it prints one line naming what to install and this exits 2 without
//! running a test. Otherwise the exit status is cargo test's.
//!
//! `cargo xtask setup [--check]` only sets up (or, with `--check`, names what is missing).

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask test [-- CARGO_TEST_ARGS]   (set up the host, then cargo test --workspace)\n       cargo xtask setup [--check]             (only set up; --check installs nothing)";

fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")));
    // The workspace root: xtask/ is one of its members.
    c.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask/ is inside the workspace"));
    c
}

/// The exit code of a finished child (1 if a signal ended it), or 1 with a line if it never ran.
fn run(mut cmd: Command) -> ExitCode {
    match cmd.status() {
        Ok(s) => ExitCode::from(s.code().map_or(1, |c| u8::try_from(c).unwrap_or(1))),
        Err(e) => {
            eprintln!("xtask: cannot run {:?}: {e}", cmd.get_program());
            ExitCode::from(1)
        }
    }
}

/// `rampart setup --tests`, built and run from this workspace.
fn setup(check: bool) -> ExitCode {
    let mut cmd = cargo();
    cmd.args(["run", "--quiet", "--package", "rampart", "--bin", "rampart", "--", "setup", "--tests"]);
    if check {
        cmd.arg("--check");
    }
    run(cmd)
}

/// The workspaces whose code `cargo fmt --check` holds to rustfmt.toml: this one, and the two kept
/// out of it (the seL4 root task and the fuzz targets).
const FORMATTED: &[&str] = &[".", "runtime/sel4-root", "fuzz"];

/// `cargo fmt --check` over [`FORMATTED`]; rustfmt is added with rustup when it is missing.
fn format_check() -> ExitCode {
    let has_rustfmt = || cargo().args(["fmt", "--version"]).output().is_ok_and(|o| o.status.success());
    if !has_rustfmt() {
        let added = Command::new("rustup").args(["component", "add", "rustfmt"]).status().is_ok_and(|s| s.success());
        if !added || !has_rustfmt() {
            eprintln!("missing: rustfmt: run 'rustup component add rustfmt'");
            return ExitCode::from(2);
        }
    }
    for dir in FORMATTED {
        let mut fmt = cargo();
        let root = fmt.get_current_dir().map(Path::to_path_buf).unwrap_or_default();
        fmt.current_dir(root.join(dir)).args(["fmt", "--all", "--", "--check"]);
        if run(fmt) != ExitCode::SUCCESS {
            eprintln!("xtask: {dir}: not formatted as rustfmt.toml says; run 'cargo fmt --all' there");
            return ExitCode::from(1);
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match args.first().and_then(|a| a.to_str()) {
        Some("test") => {
            let rest = &args[1..];
            let pass = if rest.first().is_some_and(|a| a == "--") { &rest[1..] } else { rest };
            let ready = setup(false);
            if ready != ExitCode::SUCCESS {
                return ready;
            }
            let formatted = format_check();
            if formatted != ExitCode::SUCCESS {
                return formatted;
            }
            let mut test = cargo();
            test.args(["test", "--workspace"]).args(pass);
            run(test)
        }
        Some("setup") => match &args[1..] {
            [] => setup(false),
            [flag] if flag == "--check" => setup(true),
            _ => {
                eprintln!("{USAGE}");
                ExitCode::from(2)
            }
        },
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
