//! The seL4 backend's foundation: build a real seL4 5.0.0 kernel and a Rust root task for a
//! board, and boot them under QEMU.
//!
//! - [`host`]: the host tools the build needs (one error line naming the Debian packages when
//!   any is missing) and the Python venv with the kernel build's PyPI packages.
//! - [`kernel`]: the kernel from the `sel4-sys` 0.0.28 crate's vendored source, built from a
//!   patched copy with the board's `autoconf.h`; rebuilt only when the source or configuration
//!   changes.
//! - [`abi_check`]: the root task's ABI constants checked against the headers that kernel build
//!   generated, so a configuration change cannot silently shift an invocation label.
//! - [`root`]: the root task (`runtime/sel4-root`), a freestanding static ELF built with cargo.
//! - [`qemu`]: the runner: boot under a timeout, console on the terminal or captured (a line at
//!   a time, for decoding), the root task's exit status from QEMU's `isa-debug-exit` device.
//! - [`system`]: a whole system on seL4 (`rampart run`): the components built for seL4, the
//!   system image embedded in the root task (the system initializer and monitor), the boot, and
//!   PD logs decoded from the console.
//!
//! Everything is written under `<workspace>/target/`: `sel4/` for builds, `images/<board>/` for
//! the results (`kernel32.elf`, `rootserver.elf`, and `<system>.elf` for a system's root task). x86_64 (`qemu-x86_64`) is the only board that
//! can be built and booted today.

pub mod abi_check;
pub mod host;
pub mod kernel;
/// The contract between the root task, the PD runtime and this tool (CSpace layout, messages,
/// console lines, the system image format), compiled in from the root task's sources.
#[path = "../../runtime/sel4-root/src/layout.rs"]
pub mod layout;
pub mod qemu;
pub mod root;
/// The root task's ABI constants, compiled into the tool too so that [`abi_check`] compares the
/// very values the root task is built with.
#[path = "../../runtime/sel4-root/src/abi.rs"]
pub mod root_abi;
pub mod system;

use rampart_sdf::Board;
use std::fmt;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The first line the root task prints: its proof of life on the console.
pub const ROOT_TASK_BANNER: &str = layout::ROOT_TASK_BANNER;

/// A failure of the seL4 build or boot, as one message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

pub(crate) fn err<T>(msg: impl Into<String>) -> Result<T, Error> {
    Err(Error(msg.into()))
}

/// `f(path)` failed: an error naming the path.
pub(crate) fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error(format!("{}: {e}", path.display()))
}

/// Where the seL4 builds of a workspace live.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The workspace root (holds `Cargo.toml`, `images/`, `runtime/sel4-root/`).
    pub workspace: PathBuf,
}

impl Layout {
    /// The workspace this tool was built from.
    pub fn of_tool() -> Layout {
        Layout { workspace: PathBuf::from(crate::WORKSPACE_DIR) }
    }

    pub fn target(&self) -> PathBuf {
        self.workspace.join("target")
    }

    /// `target/sel4`: the kernel builds, the venv and the root task's target directory.
    pub fn sel4_dir(&self) -> PathBuf {
        self.target().join("sel4")
    }

    /// `target/images/<board>`: what `rampart build` produces.
    pub fn images_dir(&self, board: &str) -> PathBuf {
        self.target().join("images").join(board)
    }
}

/// How chatty a build is.
#[derive(Clone, Copy, Debug, Default)]
pub struct BuildOptions {
    /// Show make's, pip's and cargo's output instead of keeping it in log files.
    pub verbose: bool,
}

/// The bootable images of a board.
#[derive(Clone, Debug)]
pub struct Images {
    /// The kernel as QEMU's multiboot loader takes it (32-bit ELF container).
    pub kernel: PathBuf,
    /// The root task (a static ELF), passed to the kernel as the first boot module.
    pub root_task: PathBuf,
    /// How long the kernel build took, if this call built it (`None`: it was up to date).
    pub kernel_build_time: Option<Duration>,
}

/// The lock on `target/sel4/` that builds hold, so that concurrent builds (tests, a second
/// terminal) wait for each other. Released when dropped.
pub(crate) struct BuildLock(#[allow(dead_code)] std::fs::File);

impl BuildLock {
    pub(crate) fn take(layout: &Layout) -> Result<BuildLock, Error> {
        let sel4 = layout.sel4_dir();
        std::fs::create_dir_all(&sel4).map_err(|e| io_err(&sel4, e))?;
        let lock_path = sel4.join(".build.lock");
        let lock = std::fs::File::create(&lock_path).map_err(|e| io_err(&lock_path, e))?;
        // SAFETY: flock on a descriptor we own; the lock is released when the file is closed.
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        Ok(BuildLock(lock))
    }
}

/// Build (or find up to date) the kernel of `board` and check the ABI constants against it; the
/// build, and how long it took if this call built it. The caller holds the [`BuildLock`].
pub(crate) fn build_kernel(layout: &Layout, board: &Board, opts: BuildOptions) -> Result<(kernel::Built, Option<Duration>), Error> {
    if board.kernel.is_none() {
        return err(format!("board `{}` has no [kernel] table in images/boards/{}.toml: it cannot be built for seL4 yet", board.name, board.name));
    }
    root::target_for(board)?;
    host::require(&host::build_tools())?;
    let python = host::python_venv(&layout.sel4_dir().join("venv"), opts)?;
    let started = Instant::now();
    let built = kernel::build(layout, board, &python, opts)?;
    let kernel_build_time = built.rebuilt.then(|| started.elapsed());
    abi_check::check(&built)?;
    Ok((built, kernel_build_time))
}

/// Build the kernel and the root task of `board` into `target/images/<board>/` (the root task
/// with no system: it runs its self-test). Holds the [`BuildLock`].
pub fn build_images(layout: &Layout, board: &Board, opts: BuildOptions) -> Result<Images, Error> {
    let lock = BuildLock::take(layout)?;
    let (built, kernel_build_time) = build_kernel(layout, board, opts)?;
    let root_task = root::build(layout, board, None, opts)?;

    let out = layout.images_dir(&board.name);
    std::fs::create_dir_all(&out).map_err(|e| io_err(&out, e))?;
    let images = Images { kernel: out.join("kernel32.elf"), root_task: out.join("rootserver.elf"), kernel_build_time };
    copy_file(&built.boot_image, &images.kernel)?;
    copy_file(&root_task, &images.root_task)?;
    drop(lock);
    Ok(images)
}

/// Copy through a temporary name, so a reader never sees a half-written image.
pub(crate) fn copy_file(from: &Path, to: &Path) -> Result<(), Error> {
    let tmp = to.with_extension("tmp");
    std::fs::copy(from, &tmp).map_err(|e| Error(format!("copy {} to {}: {e}", from.display(), tmp.display())))?;
    std::fs::rename(&tmp, to).map_err(|e| io_err(to, e))
}

/// FNV-1a, 64 bits: the fingerprint of a build's inputs (change detection, not security).
#[derive(Clone, Copy)]
pub(crate) struct Fingerprint(u64);

impl Fingerprint {
    pub(crate) fn new() -> Fingerprint {
        Fingerprint(0xcbf2_9ce4_8422_2325)
    }

    pub(crate) fn add(&mut self, bytes: &[u8]) {
        // Length first, so that ("ab", "c") and ("a", "bc") differ.
        let mut h = self.0;
        for &b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }

    pub(crate) fn hex(self) -> String {
        format!("{:016x}", self.0)
    }
}

/// The last `n` lines of a log file, for an error message.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
