//! Setting up the host: what a command needs from the machine (Debian packages, PyPI packages),
//! found, or installed before the command runs.
//!
//! Guarantees: every need is probed first (a program on `PATH`, or Python modules importable by
//! `python3`); nothing is installed when nothing is missing. What is missing is installed with
//! one `apt-get update` and one `apt-get install --no-install-recommends` (as root, or through
//! `sudo -n` when that works without a password), then probed again. When that is impossible (not
//! root and no password-less sudo, no `apt-get`, apt fails without a network) the caller gets ONE
//! line naming every missing thing and the command that would install it:
//!
//! ```text
//! missing: qemu-system-x86_64, xmllint: run 'sudo apt-get install qemu-system-x86 libxml2-utils'
//! ```
//!
//! [`Mode::Check`] never installs: it only names what is missing (`rampart setup --check`, and
//! the tests of this module). Used by `rampart setup`, by `rampart run`/`build`/`boot` on seL4
//! before their first build, and by `cargo xtask test` (through `rampart setup --tests`).

use crate::progress::Step;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// How long apt waits for another apt (a second terminal, a parallel test) to release its lock.
pub const APT_LOCK_TIMEOUT_S: u32 = 300;

/// One thing a command needs from the host, and the Debian package that provides it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    /// What the one-line message names: a program (`xmllint`), or `python3 -m venv`.
    pub name: String,
    /// The Debian package that provides it.
    pub debian_package: &'static str,
    probe: Probe,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Probe {
    /// An executable file of this name on `PATH`.
    Program,
    /// `python3 -c 'import <modules>'` succeeds (the modules, comma-separated).
    PythonImports(&'static str),
}

impl Need {
    /// A program looked up on `PATH`.
    pub fn new(program: &str, debian_package: &'static str) -> Need {
        Need { name: program.to_string(), debian_package, probe: Probe::Program }
    }

    /// Python modules `python3` must import (`modules` comma-separated), named `name`.
    pub fn python_imports(name: &str, modules: &'static str, debian_package: &'static str) -> Need {
        Need { name: name.to_string(), debian_package, probe: Probe::PythonImports(modules) }
    }

    /// Whether the host has it now.
    pub fn is_met(&self) -> bool {
        match self.probe {
            Probe::Program => find_program(&self.name).is_some(),
            Probe::PythonImports(modules) => {
                find_program("python3").is_some()
                    && Command::new("python3")
                        .args(["-c", &format!("import {modules}")])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status()
                        .is_ok_and(|s| s.success())
            }
        }
    }
}

/// `python3 -m pip`, which installs PyPI packages (the tests' `sdfgen`).
pub fn pip() -> Need {
    Need::python_imports("python3 -m pip", "pip", "python3-pip")
}

/// `python3 -m venv` with `ensurepip`, which the kernel build's venv needs (Debian splits it out).
pub fn venv() -> Need {
    Need::python_imports("python3 -m venv", "venv, ensurepip", "python3-venv")
}

/// The file `program` resolves to on `PATH`, if it is an executable file there.
pub fn find_program(program: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// Which of `needs` the host lacks, in the order given.
pub fn missing(needs: &[Need]) -> Vec<Need> {
    needs.iter().filter(|n| !n.is_met()).cloned().collect()
}

/// The Debian packages of `needs`, each once, in the order of first mention.
pub fn packages(needs: &[Need]) -> Vec<&'static str> {
    let mut packages: Vec<&'static str> = Vec::new();
    for n in needs {
        if !packages.contains(&n.debian_package) {
            packages.push(n.debian_package);
        }
    }
    packages
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The one line for `missing` (not empty): what is missing and the command that installs it.
pub fn missing_line(missing: &[Need]) -> String {
    let names: Vec<&str> = missing.iter().map(|n| n.name.as_str()).collect();
    let sudo = if is_root() { "" } else { "sudo " };
    format!("missing: {}: run '{sudo}apt-get install {}'", names.join(", "), packages(missing).join(" "))
}

/// Whether to install what is missing, or only name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Never install: name what is missing.
    Check,
    /// Install what is missing when this user can (root, or password-less sudo).
    Install,
}

/// Setup could not give the host what it needs: one line for the user (exit status 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupError(pub String);

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SetupError {}

/// The last non-empty line a command printed, so a failure stays one line.
fn last_line(out: &Output) -> String {
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    text.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("no output").to_string()
}

/// Make sure the host has every one of `needs`: the Debian packages installed (in
/// [`Mode::Install`]); the packages this call installed, or the one line naming what is missing.
pub fn ensure(needs: &[Need], mode: Mode) -> Result<Vec<&'static str>, SetupError> {
    let lacking = missing(needs);
    if lacking.is_empty() {
        return Ok(Vec::new());
    }
    let line = missing_line(&lacking);
    let Some(apt_get) = find_program("apt-get").filter(|_| mode == Mode::Install) else {
        return Err(SetupError(line));
    };
    // As root, apt-get itself; otherwise through sudo, if it needs no password (-n: never ask).
    let sudo = if is_root() {
        None
    } else {
        match find_program("sudo") {
            Some(sudo)
                if Command::new(&sudo)
                    .args(["-n", "true"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success()) =>
            {
                Some(sudo)
            }
            _ => return Err(SetupError(line)),
        }
    };
    let packages = packages(&lacking);
    let apt = |args: &[&str]| -> Result<Output, SetupError> {
        let mut cmd = match &sudo {
            None => {
                let mut cmd = Command::new(&apt_get);
                cmd.env("DEBIAN_FRONTEND", "noninteractive");
                cmd
            }
            Some(sudo) => {
                // sudo resets the environment: `env` sets the variable on the far side.
                let mut cmd = Command::new(sudo);
                cmd.args(["-n", "env", "DEBIAN_FRONTEND=noninteractive"]).arg(&apt_get);
                cmd
            }
        };
        cmd.args(args).stdin(Stdio::null());
        cmd.output().map_err(|e| SetupError(format!("{line} (cannot run apt-get: {e})")))
    };
    eprintln!("rampart: installing {} with apt-get (for {})", packages.join(" "), lacking.iter().map(|n| n.name.as_str()).collect::<Vec<_>>().join(", "));
    let step = Step::start("apt-get update", false);
    let update = apt(&["update", "-qq"])?;
    step.finish();
    if !update.status.success() {
        return Err(SetupError(format!("{line} ('apt-get update' failed: {})", last_line(&update))));
    }
    let step = Step::start(&format!("apt-get install {}", packages.join(" ")), false);
    let lock = format!("DPkg::Lock::Timeout={APT_LOCK_TIMEOUT_S}");
    let mut args = vec!["install", "-y", "-qq", "--no-install-recommends", "-o", lock.as_str()];
    args.extend(packages.iter().copied());
    let install = apt(&args)?;
    step.finish();
    if !install.status.success() {
        return Err(SetupError(format!("{line} ('apt-get install' failed: {})", last_line(&install))));
    }
    let still = missing(needs);
    if !still.is_empty() {
        return Err(SetupError(format!("{} (still missing after 'apt-get install')", missing_line(&still))));
    }
    Ok(packages)
}

/// Make sure `python3` imports the PyPI package `package` with `dir` on `PYTHONPATH`, installing
/// it there with pip (in [`Mode::Install`]); whether this call installed it.
pub fn ensure_pypi(dir: &Path, package: &str, mode: Mode) -> Result<bool, SetupError> {
    let importable = || {
        Command::new("python3")
            .args(["-c", &format!("import {package}")])
            .env("PYTHONPATH", dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if importable() {
        return Ok(false);
    }
    let how = format!("python3 -m pip install --target {} {package}", dir.display());
    if mode == Mode::Check {
        return Err(SetupError(format!("missing: the PyPI package {package}: run '{how}'")));
    }
    let step = Step::start(&format!("pip install {package}"), false);
    let out = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--target"])
        .arg(dir)
        .arg(package)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| SetupError(format!("missing: the PyPI package {package}: cannot run python3: {e}")))?;
    step.finish();
    if !out.status.success() || !importable() {
        return Err(SetupError(format!("missing: the PyPI package {package}: '{how}' failed: {}", last_line(&out))));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_missing_line_names_each_need_and_each_package_once_in_order() {
        let line = missing_line(&[
            Need::new("qemu-system-x86_64", "qemu-system-x86"),
            Need::new("xmllint", "libxml2-utils"),
            Need::new("ld", "binutils"),
            Need::new("objcopy", "binutils"),
        ]);
        assert!(!line.contains('\n'), "{line}");
        assert!(line.starts_with("missing: qemu-system-x86_64, xmllint, ld, objcopy: run '"), "{line}");
        assert!(line.ends_with("apt-get install qemu-system-x86 libxml2-utils binutils'"), "{line}");
    }

    #[test]
    fn check_mode_names_what_is_absent_and_installs_nothing() {
        let needs = [Need::new("sh", "dash"), Need::new("rampart-no-such-program", "nothing")];
        let e = ensure(&needs, Mode::Check).unwrap_err().0;
        assert!(e.starts_with("missing: rampart-no-such-program: run '") && e.ends_with("apt-get install nothing'"), "{e}");
        assert_eq!(ensure(&needs[..1], Mode::Check), Ok(vec![]));
    }
}
