//! The launcher: starts a PD process already confined, before its first instruction.
//!
//! What a PD process gets, in this order, between `clone` and `execveat` (only async-signal-safe
//! system calls run there: the supervisor has other threads):
//! 1. its own user, PID, mount, network, IPC and UTS namespaces (`clone` with `CLONE_NEW*`, as a
//!    fork): it is process 1 of its own PID namespace, so it can neither see nor signal another
//!    PD or the supervisor;
//! 2. death with the supervisor (`PR_SET_PDEATHSIG`, and a check that the supervisor had not
//!    already gone before that was set);
//! 3. exactly the descriptors it is entitled to, at fixed numbers; everything else closed;
//! 4. an empty, read-only root: mount propagation private, a small tmpfs, `pivot_root` into it,
//!    the old root detached, the tmpfs remounted read-only;
//! 5. no core dumps (`RLIMIT_CORE` 0), `PR_SET_NO_NEW_PRIVS`, and the start-up seccomp filter
//!    ([`rampart_runtime::hosted::seccomp::startup_filter`]);
//! 6. `execveat` of its program from a sealed memfd the supervisor filled once at start (never a
//!    path, so no PD can change what a restart runs).
//!
//! The runtime then installs the strict filter on every thread before the component's `init`.
//!
//! Where the host refuses a namespace, [`Confinement::probe`] (once per run) finds the strongest
//! set that works and says once, on stderr, what is missing and what PDs can therefore do; a PD is
//! never started more weakly than the probe announced (a failed step stops the PD, with the step
//! named on its stderr).

use rampart_runtime::hosted::bootinfo::BOOTINFO_FD;
use rampart_runtime::hosted::seccomp;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Exit status of a PD process whose confinement could not be set up (as the runtime's
/// start-up failure).
pub const EXIT_CONFINEMENT: i32 = rampart_runtime::hosted::EXIT_STARTUP;
/// The tmpfs that becomes a PD's root: 4 KiB at most, and it stays empty and read-only.
const EMPTY_ROOT_OPTIONS: &std::ffi::CStr = c"size=4k,mode=0555";
/// Where the empty root is mounted before `pivot_root` (inside the PD's own mount namespace).
const EMPTY_ROOT_MOUNT_POINT: &std::ffi::CStr = c"/tmp";
/// Descriptors are moved at or above this number before being placed, so placing one cannot
/// clobber another.
const FD_STAGING_MIN: RawFd = 1000;

/// The namespaces, strongest first, with what a PD can do without each.
const NAMESPACES: &[(libc::c_int, &str, &str)] = &[
    (libc::CLONE_NEWUSER, "user", "PDs keep the supervisor's user id (and, as root, its capabilities) on the host"),
    (libc::CLONE_NEWPID, "PID", "PDs see the host's process ids (seccomp still refuses kill and ptrace)"),
    (libc::CLONE_NEWNS, "mount", "PDs see the host's file system (seccomp still refuses open)"),
    (libc::CLONE_NEWNET, "network", "PDs share the host's network (seccomp still refuses socket)"),
    (libc::CLONE_NEWIPC, "IPC", "PDs share System V IPC and POSIX message queues with the host (seccomp refuses those calls)"),
    (libc::CLONE_NEWUTS, "UTS", "PDs share the host name (seccomp refuses sethostname)"),
];

/// How PD processes are started in this run: decided once by [`Confinement::probe`].
#[derive(Clone, Copy, Debug)]
pub struct Confinement {
    clone_flags: libc::c_int,
    empty_root: bool,
}

impl Confinement {
    /// Find the strongest confinement the host allows and say once what is missing.
    pub fn probe() -> Confinement {
        let all = NAMESPACES.iter().fold(0, |f, (n, _, _)| f | n);
        let conf = match try_start(all, true) {
            Ok(true) => Confinement { clone_flags: all, empty_root: true },
            first => {
                // Add namespaces one at a time (the user namespace first: without privilege, the
                // others need it), keeping each that works.
                let mut flags = 0;
                let mut refused = Vec::new();
                for (ns, name, _) in NAMESPACES {
                    match try_start(flags | ns, false) {
                        Ok(_) => flags |= ns,
                        Err(e) => refused.push(format!("{name} ({e})")),
                    }
                }
                let empty_root = flags & libc::CLONE_NEWNS != 0 && matches!(try_start(flags, true), Ok(true));
                let mut missing: Vec<String> = NAMESPACES
                    .iter()
                    .filter(|(ns, _, _)| flags & ns == 0)
                    .map(|(_, name, what)| {
                        let why = refused.iter().find(|r| r.starts_with(&format!("{name} ("))).map_or(String::new(), |r| r[name.len()..].to_string());
                        format!("no {name} namespace{why}: {what}")
                    })
                    .collect();
                if flags & libc::CLONE_NEWNS != 0 && !empty_root {
                    missing.push(
                        "no empty root (mounting a tmpfs and pivot_root into it failed): PDs see the host's file system (seccomp still refuses open)".into(),
                    );
                }
                if missing.is_empty() {
                    // The full set worked one step at a time but not at once: say so.
                    missing.push(format!("the full set of namespaces was refused at once ({first:?}) but not one by one"));
                }
                let mut err = std::io::stderr().lock();
                use std::io::Write as _;
                let _ = writeln!(err, "rampart: confinement: weaker than designed on this host; {}", missing.join("; "));
                Confinement { clone_flags: flags, empty_root }
            }
        };
        conf
    }
}

/// Start a throw-away child with `flags` (and the empty root when `root`); `Ok(true)` if it got
/// everything, `Ok(false)` if the namespaces worked but the empty root did not.
fn try_start(flags: libc::c_int, root: bool) -> Result<bool, std::io::Error> {
    // SAFETY: a fork-like clone; the child makes only async-signal-safe system calls and _exits.
    let pid = unsafe { libc::syscall(libc::SYS_clone, (flags | libc::SIGCHLD) as libc::c_ulong, 0usize, 0usize, 0usize, 0usize) };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: in the child: raw system calls only, then _exit.
        unsafe {
            let ok = !root || enter_empty_root().is_ok();
            libc::_exit(if ok { 0 } else { 1 });
        }
    }
    let mut status = 0;
    // SAFETY: waits for the child just made.
    unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
    Ok(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0)
}

/// Replace the root with an empty, read-only tmpfs (in the child's own mount namespace).
/// Async-signal-safe; on failure, the step and errno.
unsafe fn enter_empty_root() -> Result<(), (&'static str, i32)> {
    fn ok(r: libc::c_int, step: &'static str) -> Result<(), (&'static str, i32)> {
        if r == 0 {
            Ok(())
        } else {
            Err((step, errno()))
        }
    }
    let null = core::ptr::null::<libc::c_char>();
    let hidden = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    // SAFETY (whole block): mount, chdir, pivot_root and umount2 with NUL-terminated constant
    // strings, in a mount namespace that is this process's own.
    unsafe {
        ok(libc::mount(null, c"/".as_ptr(), null, libc::MS_REC | libc::MS_PRIVATE, core::ptr::null()), "make mounts private")?;
        ok(
            libc::mount(c"rampart".as_ptr(), EMPTY_ROOT_MOUNT_POINT.as_ptr(), c"tmpfs".as_ptr(), hidden, EMPTY_ROOT_OPTIONS.as_ptr().cast()),
            "mount the empty root",
        )?;
        ok(libc::chdir(EMPTY_ROOT_MOUNT_POINT.as_ptr()), "enter the empty root")?;
        ok(libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) as libc::c_int, "pivot_root")?;
        ok(libc::umount2(c".".as_ptr(), libc::MNT_DETACH), "detach the old root")?;
        ok(
            libc::mount(null, c"/".as_ptr(), null, libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | hidden, core::ptr::null()),
            "remount the root read-only",
        )?;
        ok(libc::chdir(c"/".as_ptr()), "chdir to the root")?;
    }
    Ok(())
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// A sealed, executable memfd holding `program`: what every start and restart of a PD runs.
pub fn program_memfd(name: &str, program: &[u8]) -> std::io::Result<OwnedFd> {
    const MFD_EXEC: libc::c_uint = 0x10; // Linux 6.3+: say explicitly that it is executable
                                         // The name shows as the PD process's command name (`memfd:<component>`) in ps and top.
    let cname = CString::new(name).unwrap_or_default();
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: a NUL-terminated name; flags only.
    let mut fd = unsafe { libc::memfd_create(cname.as_ptr(), flags | MFD_EXEC) };
    if fd < 0 && errno() == libc::EINVAL {
        // SAFETY: as above, for kernels that predate MFD_EXEC.
        fd = unsafe { libc::memfd_create(cname.as_ptr(), flags) };
    }
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    {
        use std::io::Write as _;
        let mut f = std::fs::File::from(fd.try_clone()?);
        f.write_all(program)?;
    }
    let seals = libc::F_SEAL_WRITE | libc::F_SEAL_GROW | libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL;
    // SAFETY: seals a memfd we own; from now on nobody can change its contents.
    if unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(fd)
}

/// What one PD process is started with.
pub struct Launch<'a> {
    /// Placed at 0, 1 and 2.
    pub stdio: [RawFd; 3],
    /// Placed at consecutive numbers from [`BOOTINFO_FD`].
    pub fds: &'a [RawFd],
    /// The sealed program memfd; placed after `fds`, close-on-exec.
    pub program: RawFd,
    /// The process's argv\[0\] (its PD name).
    pub argv0: &'a str,
    /// The read end of a pipe whose write end (`life.1`) only the supervisor holds: it reads as
    /// closed once the supervisor is gone.
    pub life: (RawFd, RawFd),
}

/// Start a PD process; its pid.
pub fn launch(conf: &Confinement, l: &Launch) -> std::io::Result<libc::pid_t> {
    // Everything the child needs is made here, before clone: the child may not allocate.
    let mut sources: Vec<RawFd> = l.stdio.to_vec();
    sources.extend_from_slice(l.fds);
    let program_fd = BOOTINFO_FD + l.fds.len() as RawFd;
    sources.push(l.program);
    let mut staged = vec![-1; sources.len()];
    let argv0 = CString::new(l.argv0).unwrap_or_default();
    let argv = [argv0.as_ptr(), core::ptr::null()];
    let envp = [core::ptr::null::<libc::c_char>()];
    let filter = seccomp::startup_filter(program_fd);
    let fprog = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr() as *mut libc::sock_filter };
    let child = Child { conf: *conf, sources: &sources, staged: &mut staged, program_fd, argv: &argv, envp: &envp, fprog: &fprog, life: l.life };
    // SAFETY: a fork-like clone (no new stack: the child runs on a copy of this one). The child
    // runs `Child::run`, which makes only async-signal-safe system calls on memory prepared above
    // and never returns.
    let pid = unsafe { libc::syscall(libc::SYS_clone, (conf.clone_flags | libc::SIGCHLD) as libc::c_ulong, 0usize, 0usize, 0usize, 0usize) };
    if pid < 0 {
        return Err(std::io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: in the child, see above.
        unsafe { child.run() }
    }
    Ok(pid as libc::pid_t)
}

struct Child<'a> {
    conf: Confinement,
    sources: &'a [RawFd],
    staged: &'a mut [RawFd],
    program_fd: RawFd,
    argv: &'a [*const libc::c_char; 2],
    envp: &'a [*const libc::c_char; 1],
    fprog: &'a libc::sock_fprog,
    life: (RawFd, RawFd),
}

impl Child<'_> {
    /// Between clone and exec. Async-signal-safe system calls only; never returns.
    unsafe fn run(self) -> ! {
        // SAFETY (whole block): system calls on descriptors and memory prepared by the parent.
        unsafe {
            // Die with the supervisor; if it is already gone (before PR_SET_PDEATHSIG was set),
            // the life pipe reads as closed now. (getppid cannot tell: in a PID namespace it is
            // always 0.)
            libc::close(self.life.1);
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                fail(b"set PR_SET_PDEATHSIG", errno());
            }
            let mut p = libc::pollfd { fd: self.life.0, events: libc::POLLIN, revents: 0 };
            if libc::poll(&mut p, 1, 0) != 0 {
                libc::_exit(EXIT_CONFINEMENT);
            }
            // Move every descriptor out of the way first, so that placing them cannot clobber one.
            for (k, fd) in self.sources.iter().enumerate() {
                let h = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, FD_STAGING_MIN);
                if h < 0 {
                    fail(b"stage a descriptor", errno());
                }
                self.staged[k] = h;
            }
            let last = self.sources.len() - 1;
            for (k, h) in self.staged.iter().enumerate() {
                // 0, 1, 2, then BOOTINFO_FD (3) onwards; the program last, close-on-exec.
                let to = k as RawFd;
                let flags = if k == last { libc::O_CLOEXEC } else { 0 };
                if libc::dup3(*h, to, flags) < 0 {
                    fail(b"place a descriptor", errno());
                }
            }
            // Nothing beyond the planned descriptors survives into the PD.
            libc::syscall(libc::SYS_close_range, self.program_fd as u32 + 1, u32::MAX, 0u32);
            // Signals blocked or ignored by the supervisor must not stay so in the PD.
            let mut set: libc::sigset_t = core::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, core::ptr::null_mut());
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
            if self.conf.empty_root {
                if let Err((step, e)) = enter_empty_root() {
                    fail(step.as_bytes(), e);
                }
            }
            let no_core = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            if libc::setrlimit(libc::RLIMIT_CORE, &no_core) != 0 {
                fail(b"set RLIMIT_CORE to 0", errno());
            }
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
                fail(b"set PR_SET_NO_NEW_PRIVS", errno());
            }
            if libc::prctl(libc::PR_SET_SECCOMP, libc::SECCOMP_MODE_FILTER, self.fprog as *const libc::sock_fprog, 0, 0) != 0 {
                fail(b"install the start-up seccomp filter", errno());
            }
            libc::syscall(libc::SYS_execveat, self.program_fd, c"".as_ptr(), self.argv.as_ptr(), self.envp.as_ptr(), libc::AT_EMPTY_PATH);
            fail(b"execveat the program", errno());
        }
    }
}

/// Say on the PD's stderr which step failed, and exit. Async-signal-safe: a stack buffer only.
fn fail(step: &[u8], errno: i32) -> ! {
    let mut buf = [0u8; 160];
    let mut n = 0;
    for part in [b"rampart: confinement: cannot ".as_slice(), step, b" (errno ".as_slice()] {
        for b in part {
            if n < buf.len() - 16 {
                buf[n] = *b;
                n += 1;
            }
        }
    }
    let mut digits = [0u8; 10];
    let mut d = 0;
    let mut v = errno.unsigned_abs();
    loop {
        digits[d] = b'0' + (v % 10) as u8;
        d += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    while d > 0 {
        d -= 1;
        buf[n] = digits[d];
        n += 1;
    }
    buf[n] = b')';
    buf[n + 1] = b'\n';
    // SAFETY: writes a stack buffer to stderr, then ends the process.
    unsafe {
        libc::write(2, buf.as_ptr().cast(), n + 2);
        libc::_exit(EXIT_CONFINEMENT)
    }
}
