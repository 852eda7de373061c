//! The hosted supervisor: runs a system as confined Linux processes (`rampart run --hosted`).
//!
//! It builds the system's components, creates every shared object the system file declares (a
//! memfd per memory region; per channel direction a notification page; per protected procedure
//! channel a request page, a reply page and a reply wake-up pipe; per PD a wake-up pipe and a
//! control pipe), and starts each PD with exactly the descriptors its channels and maps entitle
//! it to, placed at fixed numbers and described by the boot information at descriptor 3. Each
//! component's program is read once, at start, into a sealed memfd, and every start and restart
//! executes from it. The PD is confined before its first instruction ([`confine`]): its own user,
//! PID, mount, network, IPC and UTS namespaces, an empty read-only root, tied to the supervisor's
//! life, the start-up seccomp filter; its runtime adds the strict filter on every thread before
//! the component's `init`. Where the host refuses a namespace, the supervisor says so once.
//!
//! Then it plays the monitor, never waiting on a PD (non-blocking or polled descriptors, a budget
//! of log bytes and control records per PD per round, a tick of [`SUPERVISOR_TICK_MS`]): it logs
//! each PD's output behind the PD's name with control characters escaped, receives fault reports,
//! fails calls a faulted PD was serving (the caller gets `LABEL_CALL_FAILED` instead of hanging),
//! and carries out what the supervision core (`rampart_supervision`) decides: a child's fault to
//! its parent's `fault` entry (a restart only for a parent granted `rampart:restart_children`,
//! rate-limited per parent), the restart policy for the others (a fresh process, fresh private
//! memory, the same shared regions, at most `RESTARTS_MAX` times in `RESTART_WINDOW_NS`, then
//! held), the end of the system for a PD granted `rampart:exit_system` (any other that asks is
//! faulted). Ctrl-C (SIGINT), SIGTERM and SIGHUP stop every PD; no process outlives the supervisor.

mod confine;

use rampart_runtime::hosted::bootinfo::*;
use rampart_runtime::hosted::control::{Record, MAX_RECORD_BYTES};
use rampart_runtime::hosted::pages::MessagePage;
use rampart_runtime::{FaultKind, Message, LABEL_CALL_FAILED};
use rampart_spec::{ProgramRef, SystemSpec};
use std::collections::HashMap;
use std::ffi::CString;
use std::fmt;
use std::io::Write as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Most bytes of one PD output line kept; longer lines are cut.
pub const LOG_LINE_MAX_BYTES: usize = 4096;
/// Exit status of `rampart run` when stopped by a signal: 128 + the signal.
pub const EXIT_SIGNAL_BASE: u8 = 128;
/// Bytes of defmt log the supervisor reads from one PD in one round of its loop; the rest waits
/// in the pipe (and the PD blocks on its own log when the pipe is full, nobody else).
pub const LOG_BYTES_PER_ROUND: usize = 16 * 1024;
/// Longest defmt frame accepted, in bytes (its encoded form, up to the 0x00 that ends it): the
/// runtime never writes a longer one, so a longer run of bytes without a separator is hostile; it
/// is dropped and counted, and the decoder's buffer stays bounded.
pub use rampart_runtime::hosted::logger::LOG_FRAME_MAX_BYTES;
/// Control records the supervisor takes from one PD in one round.
pub const CONTROL_RECORDS_PER_ROUND: usize = 64;
/// Bytes of standard output and error kept from one PD per second; the rest is dropped and
/// counted, so that a PD cannot drown the others' lines.
pub const OUTPUT_BYTES_PER_SECOND: usize = 64 * 1024;
/// The supervisor looks at the clock and its signals at least this often, whatever PDs do.
pub const SUPERVISOR_TICK_MS: i32 = 200;

/// What to do with a top-level PD that faults: the supervision core's policy.
pub use rampart_supervision::Policy as RestartPolicy;
use rampart_supervision::{Action, ExitVerdict, Fault, HoldReason, RestartReason, Sanitized, Supervision, RESTARTS_MAX, RESTART_WINDOW_NS};

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub policy: RestartPolicy,
    /// Stop the system after this long (exit status 124).
    pub timeout: Option<Duration>,
    /// Map priorities onto SCHED_FIFO (needs CAP_SYS_NICE) instead of nice values.
    pub realtime: bool,
    /// Print supervisor events (starts, init times) as well as faults.
    pub verbose: bool,
}

/// Why a run could not start or ended badly.
#[derive(Debug)]
pub struct RunError(pub String);

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn os_err(what: &str) -> RunError {
    RunError(format!("{what}: {}", std::io::Error::last_os_error()))
}

fn check(ret: libc::c_int, what: &str) -> Result<libc::c_int, RunError> {
    if ret < 0 {
        Err(os_err(what))
    } else {
        Ok(ret)
    }
}

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful system call and is owned by nobody else.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn memfd(name: &str, size: usize) -> Result<OwnedFd, RunError> {
    let cname = CString::new(name).unwrap_or_default();
    // SAFETY: a NUL-terminated name; flags only.
    let fd = owned(check(unsafe { libc::memfd_create(cname.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) }, "memfd_create")?);
    // SAFETY: resizes a memfd we own.
    check(unsafe { libc::ftruncate(fd.as_raw_fd(), size as libc::off_t) }, "ftruncate")?;
    Ok(fd)
}

/// A second, read-only descriptor for the same memory: mappings through it cannot be made writable.
fn reopen_read_only(fd: &OwnedFd) -> Result<OwnedFd, RunError> {
    let path = CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).unwrap_or_default();
    // SAFETY: opens a path string; the result is a new descriptor or -1.
    Ok(owned(check(unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) }, "reopen a memfd read-only")?))
}

/// A wake-up: a pipe whose read end only the sleeper holds (wait-only) and whose write end is
/// handed to each signaller as a description of its own, non-blocking (signal-only). A signal is
/// one byte; a full pipe already means "wake up", so a signal never blocks and never fails in a
/// way that matters, as an seL4 Signal. Nobody but the sleeper can consume its wake-ups.
struct Wake {
    /// Wait-only end: handed to the sleeper (blocking reads); the supervisor polls it.
    read: OwnedFd,
    /// The supervisor's own signal-only end (non-blocking).
    write: OwnedFd,
}

impl Wake {
    fn new() -> Result<Wake, RunError> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two descriptors into `fds`.
        check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, "pipe2")?;
        let (read, write) = (owned(fds[0]), owned(fds[1]));
        // SAFETY: sets a flag on a descriptor we own.
        check(unsafe { libc::fcntl(write.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) }, "fcntl")?;
        Ok(Wake { read, write })
    }

    /// A signal-only end for one signaller: a new open file description of the write side (its
    /// own O_NONBLOCK, which no other PD's can change).
    fn signal_end(&self) -> Result<OwnedFd, RunError> {
        let path = CString::new(format!("/proc/self/fd/{}", self.write.as_raw_fd())).unwrap_or_default();
        // SAFETY: opens a path string; the result is a new descriptor or -1.
        Ok(owned(check(unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_NONBLOCK | libc::O_CLOEXEC) }, "open a signal-only end")?))
    }
}

fn pipe(nonblocking_read: bool) -> Result<(OwnedFd, OwnedFd), RunError> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into `fds`.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, "pipe2")?;
    if nonblocking_read {
        // SAFETY: sets a flag on a descriptor we own.
        unsafe { libc::fcntl(fds[0], libc::F_SETFL, libc::O_NONBLOCK) };
    }
    Ok((owned(fds[0]), owned(fds[1])))
}

/// Whether `fd` has data to read now.
fn readable(fd: RawFd) -> bool {
    let mut p = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: polls one descriptor without waiting.
    unsafe { libc::poll(&mut p, 1, 0) > 0 }
}

/// Consume pending wake-ups (the pipe must be readable, or this blocks).
fn drain_wake(fd: RawFd) {
    let mut buf = [0u8; 64];
    // SAFETY: reads into a stack buffer.
    unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
}

/// Signal a wake-up through a non-blocking signal-only end; a full pipe is already signalled.
fn signal_wake(fd: RawFd) {
    let one = 1u8;
    // SAFETY: writes one byte from a live u8.
    unsafe { libc::write(fd, (&one as *const u8).cast(), 1) };
}

/// A shared control page the supervisor keeps mapped (to fail calls of a faulted callee).
struct SharedPage {
    fd: OwnedFd,
    ptr: *mut u8,
}

impl SharedPage {
    fn new(name: &str) -> Result<SharedPage, RunError> {
        let fd = memfd(name, CONTROL_PAGE_BYTES)?;
        // SAFETY: maps a fresh memfd of CONTROL_PAGE_BYTES shared; never unmapped while `self` lives.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), CONTROL_PAGE_BYTES, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, fd.as_raw_fd(), 0) };
        if p == libc::MAP_FAILED {
            return Err(os_err("mmap a control page"));
        }
        Ok(SharedPage { fd, ptr: p.cast() })
    }

    fn message(&self) -> &MessagePage {
        // SAFETY: the mapping is page-sized, aligned and zero-initialised, and MessagePage is
        // atomics only, so any bytes are a valid value and shared access is sound.
        unsafe { &*(self.ptr as *const MessagePage) }
    }
}

impl Drop for SharedPage {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping made in `new`.
        unsafe { libc::munmap(self.ptr.cast(), CONTROL_PAGE_BYTES) };
    }
}

/// A protected procedure channel's objects.
struct CallPath {
    caller: usize,
    callee: usize,
    caller_id: u8,
    callee_id: u8,
    request: SharedPage,
    reply: SharedPage,
    reply_wake: Wake,
}

/// One direction of a notifying channel.
struct NotifyPath {
    sender: usize,
    receiver: usize,
    sender_id: u8,
    receiver_id: u8,
    page: SharedPage,
}

/// Everything that outlives PD processes: shared memory, pages, wake-up pipes.
struct Objects {
    regions: Vec<OwnedFd>,
    wake: Vec<Wake>,
    notifies: Vec<NotifyPath>,
    calls: Vec<CallPath>,
}

impl Objects {
    fn create(spec: &SystemSpec, base_dir: &Path) -> Result<Objects, RunError> {
        let mut regions = Vec::new();
        for r in &spec.regions {
            let fd = memfd(&format!("rampart-mr-{}", r.name), r.size_bytes as usize)?;
            if let Some(p) = &r.prefill {
                let bytes = std::fs::read(base_dir.join(&p.path)).map_err(|e| RunError(format!("cannot read prefill file {}: {e}", p.path)))?;
                let mut f = std::fs::File::from(fd.try_clone().map_err(|e| RunError(e.to_string()))?);
                f.write_all(&bytes).map_err(|e| RunError(e.to_string()))?;
            }
            regions.push(fd);
        }
        let wake = spec.pds.iter().map(|_| Wake::new()).collect::<Result<Vec<_>, _>>()?;
        let mut notifies = Vec::new();
        let mut calls = Vec::new();
        for ch in &spec.channels {
            let [a, b] = &ch.ends;
            for (from, to) in [(a, b), (b, a)] {
                if from.notify {
                    notifies.push(NotifyPath {
                        sender: usize::from(from.pd),
                        receiver: usize::from(to.pd),
                        sender_id: from.id,
                        receiver_id: to.id,
                        page: SharedPage::new("rampart-notify")?,
                    });
                }
                if from.pp {
                    calls.push(CallPath {
                        caller: usize::from(from.pd),
                        callee: usize::from(to.pd),
                        caller_id: from.id,
                        callee_id: to.id,
                        request: SharedPage::new("rampart-call")?,
                        reply: SharedPage::new("rampart-reply")?,
                        reply_wake: Wake::new()?,
                    });
                }
            }
        }
        Ok(Objects { regions, wake, notifies, calls })
    }
}

/// Descriptors to place in a child at consecutive numbers from [`BOOTINFO_FD`].
#[derive(Default)]
struct FdPlan {
    fds: Vec<OwnedFd>,
}

impl FdPlan {
    /// Add a descriptor (a duplicate we own); returns the number it will have in the child.
    fn add(&mut self, fd: OwnedFd) -> i32 {
        self.fds.push(fd);
        BOOTINFO_FD + self.fds.len() as i32 - 1
    }

    fn dup(&mut self, fd: &OwnedFd) -> Result<i32, RunError> {
        Ok(self.add(fd.try_clone().map_err(|e| RunError(format!("dup: {e}")))?))
    }
}

/// A running (or stopped) PD.
struct PdState {
    name: String,
    /// The component it runs (its program is `Supervisor::programs[component]`).
    component: String,
    /// The pid of its current process, if it has one.
    process: Option<libc::pid_t>,
    /// Read end of this PD's control pipe (the write end goes to each incarnation).
    control_read: OwnedFd,
    control_write: OwnedFd,
    /// Bytes of an unfinished control record (at most one record's worth).
    control_buf: Vec<u8>,
    /// Read end of this PD's defmt log pipe, and its decoder (with the PD binary's string table).
    log_read: OwnedFd,
    log_write: OwnedFd,
    log_table: Option<&'static defmt_decoder::Table>,
    log_decoder: Option<Box<dyn defmt_decoder::StreamDecoder + Send + Sync>>,
    /// Bytes of the defmt frame being received (since the last 0x00), and whether that frame is
    /// over [`LOG_FRAME_MAX_BYTES`] and being dropped.
    log_frame_bytes: usize,
    log_dropping: bool,
    /// Frames dropped for their size since the last report.
    log_frames_dropped: u64,
    /// For parents: the write end of the child-fault pipe, and the read end handed to the PD.
    child_faults: Option<(OwnedFd, OwnedFd)>,
    /// The last fault report, waiting for the process to exit.
    report: Option<String>,
    /// The fault the supervisor itself found (a refused exit), which overrides how the process ended.
    fault: Option<Fault>,
    init_done: bool,
    started_at: Instant,
}

/// The binaries of one run: copied out of cargo's target directory, because another run may
/// rebuild the same component against another system file at any time. Removed when dropped.
/// The supervisor reads each once, at start, into a sealed memfd and never executes these
/// files, so changing them cannot change what a PD (re)start runs.
pub struct Binaries {
    dir: PathBuf,
    pub by_component: HashMap<String, PathBuf>,
}

impl Drop for Binaries {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The target hosted PD programs are built for: the supervisor's own.
#[cfg(target_arch = "x86_64")]
pub const HOSTED_TARGET: &str = "x86_64-unknown-linux-gnu";
/// The target hosted PD programs are built for: the supervisor's own.
#[cfg(target_arch = "aarch64")]
pub const HOSTED_TARGET: &str = "aarch64-unknown-linux-gnu";

/// The flags of a hosted PD program: statically linked (it is executed from a sealed memfd in an
/// empty root, so nothing may be loaded from a file system) and not position independent (the
/// defmt decoder reads log string ids as link-time addresses; the build scripts add `-no-pie`).
pub const HOSTED_COMPONENT_RUSTFLAGS: &[&str] = &["-Ctarget-feature=+crt-static", "-Crelocation-model=static"];

/// Build the components a system runs (holding a lock, so that concurrent runs against other
/// system files do not swap binaries under each other) and copy them for this run.
pub fn build_components(spec: &SystemSpec, system_file: &Path, board: &str, workspace: &Path, verbose: bool) -> Result<Binaries, RunError> {
    let names = spec.component_names();
    let target_dir = workspace.join("target/hosted");
    let system = system_file.canonicalize().map_err(|e| RunError(format!("{}: {e}", system_file.display())))?;
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // An explicit target, so that the flags apply to the PD programs only (not to build scripts
    // and proc-macros, which cannot be static).
    cmd.args(["build", "--release", "--target", HOSTED_TARGET]).arg("--target-dir").arg(&target_dir).current_dir(workspace);
    cmd.env("CARGO_ENCODED_RUSTFLAGS", HOSTED_COMPONENT_RUSTFLAGS.join("\x1f"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove(format!("CARGO_TARGET_{}_RUSTFLAGS", HOSTED_TARGET.to_uppercase().replace('-', "_")));
    if !verbose {
        cmd.arg("--quiet");
    }
    for n in &names {
        cmd.arg("-p").arg(n);
    }
    cmd.env(rampart_sdf::bindings::SYSTEM_ENV, &system).env(rampart_sdf::bindings::BOARD_ENV, board);
    // defmt filters log levels at compile time; keep info and above unless the user chose.
    if std::env::var_os("DEFMT_LOG").is_none() {
        cmd.env("DEFMT_LOG", "info");
    }
    std::fs::create_dir_all(&target_dir).map_err(|e| RunError(format!("{}: {e}", target_dir.display())))?;
    let lock = std::fs::File::create(target_dir.join(".rampart-build.lock")).map_err(|e| RunError(format!("build lock: {e}")))?;
    // SAFETY: flock on a descriptor we own; released when `lock` is closed at the end of scope.
    unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    let status = cmd.status().map_err(|e| RunError(format!("cannot run cargo to build the components: {e}")))?;
    if !status.success() {
        return Err(RunError(format!("building the components ({}) failed", names.join(", "))));
    }
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let dir = target_dir.join("runs").join(format!("{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| RunError(format!("{}: {e}", dir.display())))?;
    let mut binaries = Binaries { dir: dir.clone(), by_component: HashMap::new() };
    for n in &names {
        let to = dir.join(n);
        std::fs::copy(target_dir.join(HOSTED_TARGET).join("release").join(n), &to).map_err(|e| RunError(format!("copy the binary of `{n}`: {e}")))?;
        binaries.by_component.insert(n.to_string(), to);
    }
    drop(lock);
    Ok(binaries)
}

/// A system being supervised.
pub struct Supervisor {
    spec: SystemSpec,
    /// Each component's program, read once at start into a sealed memfd: every start and restart
    /// executes from here, never from a path a PD could change.
    programs: HashMap<String, OwnedFd>,
    /// How PD processes are confined on this host (probed once).
    confinement: confine::Confinement,
    /// Descriptor 0 of every PD (`/dev/null`, read-only).
    null_in: OwnedFd,
    /// A pipe whose write end only the supervisor holds: a child started just as the supervisor
    /// dies sees it closed.
    alive: (OwnedFd, OwnedFd),
    objects: Objects,
    pds: Vec<PdState>,
    /// The supervision core: lives, restart limits, parent decisions, exit authority.
    life: Supervision,
    clock_origin_ns: u64,
    opts: RunOptions,
    signals: OwnedFd,
    started: Instant,
    all_init_reported: bool,
}

/// The supervisor's peak resident memory so far (its own, not its PDs').
pub fn peak_memory_kib() -> u64 {
    // SAFETY: getrusage writes one rusage into a zeroed value we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_maxrss.max(0) as u64
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: writes one timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn block_signals() -> Result<OwnedFd, RunError> {
    // SAFETY: builds a signal set on the stack, blocks it for this (single-threaded) process and
    // opens a signalfd for it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGCHLD, libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        Ok(owned(check(libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK), "signalfd")?))
    }
}

/// Print a line of PD text behind the PD's name. Only the supervisor writes prefixes: the PD's
/// text has its control characters escaped, so it cannot start a line of its own or move the
/// cursor over its prefix to pass as another PD.
fn log(pd: &str, line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "[{pd}] {}", Sanitized(line));
}

fn note(msg: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "rampart: {msg}");
}

impl Supervisor {
    /// Create every shared object and start every PD.
    pub fn start(spec: SystemSpec, binaries: &HashMap<String, PathBuf>, base_dir: &Path, opts: RunOptions) -> Result<Supervisor, RunError> {
        let signals = block_signals()?;
        let objects = Objects::create(&spec, base_dir)?;
        let confinement = confine::Confinement::probe();
        let mut programs = HashMap::new();
        let mut tables = HashMap::new();
        let mut pds = Vec::new();
        let has_children: Vec<bool> = (0..spec.pds.len()).map(|i| spec.pds.iter().any(|c| c.parent.is_some_and(|(p, _)| usize::from(p) == i))).collect();
        for (i, pd) in spec.pds.iter().enumerate() {
            let component = match &pd.program {
                ProgramRef::Component(c) => c.clone(),
                ProgramRef::Elf(p) => return Err(RunError(format!("PD `{}` runs the ELF file {p}; the hosted backend runs components only", pd.name))),
            };
            if !programs.contains_key(&component) {
                let binary = binaries.get(&component).ok_or_else(|| RunError(format!("component `{component}` was not built")))?;
                let elf = std::fs::read(binary).map_err(|e| RunError(format!("cannot read the program of `{component}` ({}): {e}", binary.display())))?;
                let fd = confine::program_memfd(&component, &elf).map_err(|e| RunError(format!("cannot seal the program of `{component}` in a memfd: {e}")))?;
                programs.insert(component.clone(), fd);
                tables.insert(component.clone(), log_table(&elf, binary));
            }
            let (control_read, control_write) = pipe(true)?;
            let (log_read, log_write) = pipe(true)?;
            let table = tables[&component];
            let log_decoder = table.map(|t| t.new_stream_decoder());
            let child_faults = if has_children[i] { Some(pipe(true)?) } else { None };
            if let Some((_, w)) = &child_faults {
                // The supervisor never blocks on a parent that does not read its children's faults.
                // SAFETY: sets a flag on a descriptor we own.
                unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
            }
            pds.push(PdState {
                name: pd.name.clone(),
                component,
                process: None,
                control_read,
                control_write,
                control_buf: Vec::new(),
                log_read,
                log_write,
                log_table: table,
                log_decoder,
                log_frame_bytes: 0,
                log_dropping: false,
                log_frames_dropped: 0,
                child_faults: child_faults.map(|(r, w)| (w, r)),
                report: None,
                fault: None,
                init_done: false,
                started_at: Instant::now(),
            });
        }
        // SAFETY: opens a constant path read-only; the result is a new descriptor or -1.
        let null_in = owned(check(unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) }, "open /dev/null")?);
        let alive = pipe(false)?;
        let life = Supervision::new(&spec, opts.policy);
        let mut sup = Supervisor {
            spec,
            programs,
            confinement,
            null_in,
            alive,
            life,
            objects,
            pds,
            clock_origin_ns: monotonic_ns(),
            opts,
            signals,
            started: Instant::now(),
            all_init_reported: false,
        };
        for i in 0..sup.pds.len() {
            sup.spawn(i)?;
        }
        Ok(sup)
    }

    fn bootinfo(&self, i: usize, plan: &mut FdPlan) -> Result<BootInfo, RunError> {
        let pd = &self.spec.pds[i];
        let o = &self.objects;
        let wake_fd = plan.dup(&o.wake[i].read)?;
        let control_fd = plan.dup(&self.pds[i].control_write)?;
        let log_fd = plan.dup(&self.pds[i].log_write)?;
        let child_faults_fd = match &self.pds[i].child_faults {
            Some((_, read)) => Some(plan.dup(read)?),
            None => None,
        };
        let mut regions = Vec::new();
        for m in &pd.maps {
            let r = &self.spec.regions[usize::from(m.region)];
            let src = &o.regions[usize::from(m.region)];
            let fd = if m.perms.write { plan.dup(src)? } else { plan.add(reopen_read_only(src)?) };
            regions.push(RegionMap { name: r.name.clone(), vaddr: m.vaddr, size_bytes: r.size_bytes, fd, write: m.perms.write, execute: m.perms.execute });
        }
        let mut notify_out = Vec::new();
        let mut notify_in = Vec::new();
        for n in &o.notifies {
            if n.sender == i {
                notify_out.push(NotifyOut { id: n.sender_id, page_fd: plan.dup(&n.page.fd)?, peer_wake_fd: plan.add(o.wake[n.receiver].signal_end()?) });
            }
            if n.receiver == i {
                notify_in.push(NotifyIn { id: n.receiver_id, page_fd: plan.add(reopen_read_only(&n.page.fd)?) });
            }
        }
        let mut calls_out = Vec::new();
        let mut calls_in = Vec::new();
        for c in &o.calls {
            if c.caller == i {
                calls_out.push(CallOut {
                    id: c.caller_id,
                    call_page_fd: plan.dup(&c.request.fd)?,
                    reply_page_fd: plan.add(reopen_read_only(&c.reply.fd)?),
                    peer_wake_fd: plan.add(o.wake[c.callee].signal_end()?),
                    reply_wake_fd: plan.dup(&c.reply_wake.read)?,
                });
            }
            if c.callee == i {
                calls_in.push(CallIn {
                    id: c.callee_id,
                    call_page_fd: plan.add(reopen_read_only(&c.request.fd)?),
                    reply_page_fd: plan.dup(&c.reply.fd)?,
                    reply_wake_fd: plan.add(c.reply_wake.signal_end()?),
                });
            }
        }
        Ok(BootInfo {
            pd_name: pd.name.clone(),
            wake_fd,
            control_fd,
            log_fd,
            child_faults_fd,
            clock_origin_ns: self.clock_origin_ns,
            regions,
            notify_out,
            notify_in,
            calls_out,
            calls_in,
        })
    }

    fn spawn(&mut self, i: usize) -> Result<(), RunError> {
        let mut plan = FdPlan::default();
        let boot = memfd("rampart-bootinfo", 0)?;
        plan.add(boot.try_clone().map_err(|e| RunError(e.to_string()))?);
        let info = self.bootinfo(i, &mut plan)?;
        let bytes = info.encode();
        std::fs::File::from(boot.try_clone().map_err(|e| RunError(e.to_string()))?)
            .write_all(&bytes)
            .map_err(|e| RunError(format!("write boot information: {e}")))?;
        // SAFETY: seals a memfd we own so the PD cannot change its boot information.
        unsafe { libc::fcntl(boot.as_raw_fd(), libc::F_ADD_SEALS, libc::F_SEAL_WRITE | libc::F_SEAL_GROW | libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL) };

        let raw: Vec<RawFd> = plan.fds.iter().map(|f| f.as_raw_fd()).collect();
        let (out_read, out_write) = pipe(false)?;
        let (err_read, err_write) = pipe(false)?;
        let launch = confine::Launch {
            stdio: [self.null_in.as_raw_fd(), out_write.as_raw_fd(), err_write.as_raw_fd()],
            fds: &raw,
            program: self.programs[&self.pds[i].component].as_raw_fd(),
            argv0: &self.pds[i].name,
            life: (self.alive.0.as_raw_fd(), self.alive.1.as_raw_fd()),
        };
        let pid = confine::launch(&self.confinement, &launch)
            .map_err(|e| RunError(format!("cannot start PD `{}` (component `{}`): {e}", self.pds[i].name, self.pds[i].component)))?;
        drop(plan);
        drop((out_write, err_write));
        self.set_priority(pid as libc::id_t, self.spec.pds[i].priority);
        let name = self.pds[i].name.clone();
        forward_output(name.clone(), out_read);
        forward_output(name, err_read);
        let p = &mut self.pds[i];
        p.process = Some(pid);
        p.report = None;
        p.fault = None;
        p.init_done = false;
        p.started_at = Instant::now();
        if self.opts.verbose {
            note(&format!("started PD `{}` (pid {pid})", p.name));
        }
        Ok(())
    }

    fn set_priority(&self, pid: libc::id_t, priority: u8) {
        if self.opts.realtime {
            let param = libc::sched_param { sched_priority: 1 + i32::from(priority) * 98 / 254 };
            // SAFETY: sets the scheduling policy of a child we started.
            if unsafe { libc::sched_setscheduler(pid as libc::pid_t, libc::SCHED_FIFO, &param) } != 0 {
                note(&format!("cannot use SCHED_FIFO ({}); priorities are not applied", std::io::Error::last_os_error()));
            }
        } else {
            // Priority 0..=254 onto nice 19..=-20: higher priority, lower nice.
            let nice = 19 - i32::from(priority) * 39 / 254;
            // SAFETY: sets the nice value of a child we started.
            unsafe { libc::setpriority(libc::PRIO_PROCESS, pid, nice) };
        }
    }

    /// Serve until a PD ends the system, a signal arrives or the timeout passes. Returns the exit
    /// status. Never waits on a PD: every descriptor it reads is non-blocking or polled first,
    /// every round takes a bounded amount from each PD, and the clock and signals are looked at
    /// every round and at least every [`SUPERVISOR_TICK_MS`].
    pub fn supervise(&mut self) -> u8 {
        let deadline = self.opts.timeout.map(|t| self.started + t);
        loop {
            let mut pfds = vec![libc::pollfd { fd: self.signals.as_raw_fd(), events: libc::POLLIN, revents: 0 }];
            for (i, p) in self.pds.iter().enumerate() {
                pfds.push(libc::pollfd { fd: p.control_read.as_raw_fd(), events: libc::POLLIN, revents: 0 });
                pfds.push(libc::pollfd { fd: p.log_read.as_raw_fd(), events: libc::POLLIN, revents: 0 });
                // A PD with no process cannot answer: the supervisor watches its wake-up pipe
                // and fails every call made to it meanwhile.
                if p.process.is_none() {
                    pfds.push(libc::pollfd { fd: self.objects.wake[i].read.as_raw_fd(), events: libc::POLLIN, revents: 0 });
                }
            }
            let until_deadline = deadline.map_or(i32::MAX, |d| d.saturating_duration_since(Instant::now()).as_millis().min(i32::MAX as u128) as i32);
            // SAFETY: polls descriptors in a live Vec.
            unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, until_deadline.min(SUPERVISOR_TICK_MS)) };
            if let Some(status) = self.handle_signals() {
                self.stop_all();
                return status;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                note("timeout: stopping the system");
                self.stop_all();
                return 124;
            }
            for i in 0..self.pds.len() {
                if self.pds[i].process.is_none() && readable(self.objects.wake[i].read.as_raw_fd()) {
                    drain_wake(self.objects.wake[i].read.as_raw_fd());
                    self.fail_pending_calls(i);
                }
                self.read_log(i, LOG_BYTES_PER_ROUND);
                if let Some(status) = self.read_control(i) {
                    self.stop_all();
                    return status;
                }
            }
            if let Some(status) = self.reap() {
                self.stop_all();
                return status;
            }
        }
    }

    /// Read at most [`CONTROL_RECORDS_PER_ROUND`] control records from PD `i`; `Some(status)` if
    /// a PD with the grant ended the system.
    fn read_control(&mut self, i: usize) -> Option<u8> {
        for _ in 0..CONTROL_RECORDS_PER_ROUND {
            // Never more than one record is buffered: read only what the next record needs.
            let have = self.pds[i].control_buf.len();
            let want = match Record::decode(&self.pds[i].control_buf) {
                Ok(Some(_)) => 0,
                Ok(None) => Record::bytes_needed(&self.pds[i].control_buf).saturating_sub(have),
                Err(_) => 0,
            };
            if want > 0 {
                let mut buf = [0u8; MAX_RECORD_BYTES];
                // SAFETY: reads at most `want` (< MAX_RECORD_BYTES) bytes into a stack buffer
                // from a non-blocking pipe.
                let n = unsafe { libc::read(self.pds[i].control_read.as_raw_fd(), buf.as_mut_ptr().cast(), want.min(buf.len())) };
                if n <= 0 {
                    return None;
                }
                self.pds[i].control_buf.extend_from_slice(&buf[..n as usize]);
            }
            let (record, used) = match Record::decode(&self.pds[i].control_buf) {
                Ok(Some(x)) => x,
                Ok(None) => continue,
                Err(e) => {
                    note(&format!("PD `{}` wrote a malformed control record ({e}); stopping it", self.pds[i].name));
                    self.pds[i].control_buf.clear();
                    self.fault_and_kill(i, Fault { kind: FaultKind::Confinement, code: 0 }, format!("wrote a malformed control record ({e})"));
                    return None;
                }
            };
            self.pds[i].control_buf.drain(..used);
            if self.pds[i].process.is_none() || self.pds[i].fault.is_some() {
                continue; // what a stopped life still had in the pipe changes nothing
            }
            if let Some(status) = self.control_record(i, record) {
                return Some(status);
            }
        }
        None
    }

    fn control_record(&mut self, i: usize, record: Record) -> Option<u8> {
        let name = self.pds[i].name.clone();
        match record {
            Record::InitDone => {
                self.pds[i].init_done = true;
                if self.opts.verbose {
                    note(&format!("PD `{name}` initialised in {:?}", self.pds[i].started_at.elapsed()));
                }
                if !self.all_init_reported && self.pds.iter().all(|p| p.init_done) {
                    self.all_init_reported = true;
                    note(&format!("all {} PDs initialised {} ms after start", self.pds.len(), self.started.elapsed().as_millis()));
                }
            }
            Record::ExitSystem { status } => match self.life.exit_request(i, status) {
                ExitVerdict::End(status) => {
                    note(&format!("PD `{name}` ended the system with status {status}"));
                    return Some(status);
                }
                ExitVerdict::Refused => {
                    let why = format!("tried to end the system (status {status}) without the rampart:exit_system grant");
                    note(&format!("PD `{name}` {why}; the system runs on"));
                    self.fault_and_kill(i, Fault { kind: FaultKind::Confinement, code: u64::from(status) }, format!("capability violation: {why}"));
                }
            },
            Record::Panic { message } => self.pds[i].report = Some(format!("panicked: {}", Sanitized(&message))),
            Record::MemoryFault { addr, signal } => self.pds[i].report = Some(format!("memory fault at {addr:#x} ({})", signal_name(i32::from(signal)))),
            Record::Violation { message } => self.pds[i].report = Some(format!("capability violation: {}", Sanitized(&message))),
            Record::ChildDecision { child, decision } => {
                if self.life.child(i, child).is_none() {
                    note(&format!("PD `{name}` decided about child {child}, which it does not have"));
                }
                let actions = self.life.decision(i, child, decision, self.now_ns());
                return self.apply(actions);
            }
            Record::ChildFault { .. } => note(&format!("PD `{name}` sent a record only the supervisor sends; ignored")),
        }
        None
    }

    /// The supervisor found a fault in PD `i` itself (a refused request, garbage on its control
    /// pipe): report it as `report` when the process is gone, and stop it now.
    fn fault_and_kill(&mut self, i: usize, fault: Fault, report: String) {
        self.pds[i].fault = Some(fault);
        self.pds[i].report = Some(report);
        self.kill(i);
    }

    fn now_ns(&self) -> u64 {
        monotonic_ns().saturating_sub(self.clock_origin_ns)
    }

    /// Carry out what the supervision core decided; `Some(status)` when the system ends.
    fn apply(&mut self, actions: Vec<Action>) -> Option<u8> {
        let mut end = None;
        let mut queue: std::collections::VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            match action {
                Action::TellParent { parent } => {
                    while let Some((child, fault)) = self.life.take_child_fault(parent) {
                        if let Some((w, _)) = &self.pds[parent].child_faults {
                            let bytes = Record::ChildFault { child, kind: fault.kind, code: fault.code }.encode();
                            // SAFETY: writes one record (< PIPE_BUF, so whole or not at all) to
                            // the parent's non-blocking child-fault pipe.
                            unsafe { libc::write(w.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
                        }
                    }
                    signal_wake(self.objects.wake[parent].write.as_raw_fd());
                }
                Action::Restart { pd, reason } => {
                    let name = self.pds[pd].name.clone();
                    match reason {
                        RestartReason::Policy => note(&format!("restarting PD `{name}` from a fresh process")),
                        RestartReason::ParentAsked => {
                            let parent = self.spec.pds[pd].parent.map_or(String::new(), |(p, _)| self.pds[usize::from(p)].name.clone());
                            note(&format!("restarting PD `{name}` (its parent `{parent}` asked)"));
                        }
                    }
                    match self.spawn(pd) {
                        Ok(()) => self.life.restarted(pd),
                        Err(e) => {
                            note(&format!("cannot restart PD `{name}`: {e}"));
                            queue.extend(self.life.restart_failed(pd, self.now_ns()));
                        }
                    }
                }
                Action::Hold { pd, reason } => note(&self.hold_text(pd, reason)),
                Action::EndSystem { status, by } => {
                    if by.is_none() {
                        note("every PD has stopped");
                    }
                    end.get_or_insert(status);
                }
            }
        }
        end
    }

    fn hold_text(&self, pd: usize, reason: HoldReason) -> String {
        let name = &self.pds[pd].name;
        let parent = self.spec.pds[pd].parent.map_or("", |(p, _)| self.pds[usize::from(p)].name.as_str());
        match reason {
            HoldReason::Policy => format!("holding PD `{name}` (restart policy: hold)"),
            HoldReason::RestartLimit => format!("holding PD `{name}`: it faulted {RESTARTS_MAX} times within {} ms", RESTART_WINDOW_NS / 1_000_000),
            HoldReason::ParentAsked => format!("holding PD `{name}` (its parent `{parent}` asked)"),
            HoldReason::ParentNotGranted => {
                format!("holding PD `{name}`: its parent `{parent}` asked for a restart without the rampart:restart_children grant")
            }
            HoldReason::ParentRateLimit => format!(
                "holding PD `{name}`: its parent `{parent}` asked for more than {} restarts within {} ms (restart rate limit)",
                rampart_supervision::PARENT_RESTARTS_MAX,
                RESTART_WINDOW_NS / 1_000_000
            ),
            HoldReason::RestartFailed => format!("holding PD `{name}`: it could not be started again"),
        }
    }

    fn handle_signals(&mut self) -> Option<u8> {
        // SAFETY: signalfd_siginfo is plain data; reads whole records from a non-blocking signalfd.
        let mut si: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        let mut stop = None;
        // SAFETY: reads one signalfd_siginfo into `si`.
        while unsafe { libc::read(self.signals.as_raw_fd(), (&mut si as *mut libc::signalfd_siginfo).cast(), size) } == size as isize {
            match si.ssi_signo as i32 {
                libc::SIGCHLD => {}
                s => {
                    note(&format!("{}: stopping the system", signal_name(s)));
                    stop = Some(EXIT_SIGNAL_BASE + s as u8);
                }
            }
        }
        stop
    }

    /// Collect every PD process that ended and decide about each; `Some(status)` when the
    /// system ends (every PD stopped).
    fn reap(&mut self) -> Option<u8> {
        let mut end = None;
        for i in 0..self.pds.len() {
            let Some(pid) = self.pds[i].process else { continue };
            let mut status = 0;
            // SAFETY: polls for the end of a child we started, without waiting.
            if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } != pid {
                continue;
            }
            self.pds[i].process = None;
            let _ = self.read_control(i);
            let signal = libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status));
            let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
            let (kind, code, what) = match (signal, code) {
                (Some(libc::SIGSYS), _) => {
                    (FaultKind::Confinement, libc::SIGSYS as u64, "confinement violation: a forbidden system call (killed by SIGSYS)".to_string())
                }
                (Some(s), _) => (FaultKind::Crash, s as u64, format!("killed by {}", signal_name(s))),
                (None, Some(rampart_runtime::hosted::EXIT_PANIC)) => (FaultKind::Panic, 101, "panicked".to_string()),
                (None, Some(rampart_runtime::hosted::EXIT_VIOLATION)) => (FaultKind::Confinement, 102, "used a capability it does not have".to_string()),
                (None, Some(c)) if c > rampart_runtime::hosted::EXIT_SIGNAL_BASE => {
                    (FaultKind::Crash, (c - 128) as u64, format!("crashed ({})", signal_name(c - 128)))
                }
                (None, Some(c)) => (FaultKind::Exit, c as u64, format!("exited with status {c}")),
                (None, None) => (FaultKind::Exit, 0, "exited".to_string()),
            };
            let fault = self.pds[i].fault.take().unwrap_or(Fault { kind, code });
            let report = self.pds[i].report.take().unwrap_or(what);
            note(&format!("fault in PD `{}`: {report}", self.pds[i].name));
            self.fail_pending_calls(i);
            // The process is gone: its fault and the end of its life are one event here.
            let actions = self.life.stopped(i, fault, self.now_ns());
            if let Some(status) = self.apply(actions) {
                end.get_or_insert(status);
            }
        }
        end
    }

    /// A callee died: answer every call it had not answered, so no caller waits forever.
    fn fail_pending_calls(&self, callee: usize) {
        for c in self.objects.calls.iter().filter(|c| c.callee == callee) {
            let seq = c.request.message().seq();
            if c.reply.message().seq() != seq {
                c.reply.message().publish(seq, &Message::new(LABEL_CALL_FAILED));
                signal_wake(c.reply_wake.write.as_raw_fd());
            }
        }
    }

    fn kill(&mut self, i: usize) {
        if let Some(pid) = self.pds[i].process {
            // SAFETY: signals a child we started and have not reaped (so the pid is still ours).
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }

    /// Stop every PD and wait for each; then print what they logged last (within the budget).
    pub fn stop_all(&mut self) {
        for p in &mut self.pds {
            if let Some(pid) = p.process.take() {
                let mut status = 0;
                // SAFETY: kills and reaps a child we started and have not reaped.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                    libc::waitpid(pid, &mut status, 0);
                }
            }
        }
        for i in 0..self.pds.len() {
            self.read_log(i, LOG_BYTES_PER_ROUND);
        }
    }

    /// Decode and print at most `budget` bytes of the defmt frames PD `i` has written. Frames
    /// longer than [`LOG_FRAME_MAX_BYTES`] are dropped (and counted), so memory stays bounded
    /// whatever the PD writes.
    fn read_log(&mut self, i: usize, budget: usize) {
        let mut buf = [0u8; 4096];
        let mut taken = 0;
        while taken < budget {
            let want = buf.len().min(budget - taken);
            // SAFETY: reads at most `want` bytes into a stack buffer from a non-blocking pipe.
            let n = unsafe { libc::read(self.pds[i].log_read.as_raw_fd(), buf.as_mut_ptr().cast(), want) };
            if n <= 0 {
                break;
            }
            let n = n as usize;
            taken += n;
            if self.pds[i].log_table.is_none() {
                let name = self.pds[i].name.clone();
                log(&name, &format!("({n} bytes of defmt log, but the binary has no defmt string table)"));
                continue;
            }
            // Split at frame ends (0x00), feeding the decoder only frames within the limit.
            let mut rest = &buf[..n];
            while !rest.is_empty() {
                let end = rest.iter().position(|&b| b == 0);
                let piece = &rest[..end.map_or(rest.len(), |e| e + 1)];
                rest = &rest[piece.len()..];
                let p = &mut self.pds[i];
                p.log_frame_bytes += piece.len();
                if !p.log_dropping && p.log_frame_bytes > LOG_FRAME_MAX_BYTES {
                    // Forget the partial frame the decoder holds: a fresh decoder.
                    p.log_dropping = true;
                    p.log_frames_dropped += 1;
                    p.log_decoder = p.log_table.map(|t| t.new_stream_decoder());
                }
                if !p.log_dropping {
                    if let Some(d) = p.log_decoder.as_mut() {
                        d.received(piece);
                    }
                }
                if end.is_some() {
                    p.log_dropping = false;
                    p.log_frame_bytes = 0;
                    self.print_frames(i);
                }
            }
        }
        let p = &mut self.pds[i];
        if p.log_frames_dropped > 0 {
            let (name, dropped) = (p.name.clone(), std::mem::take(&mut p.log_frames_dropped));
            note(&format!("PD `{name}`: {dropped} log frame(s) over {LOG_FRAME_MAX_BYTES} bytes dropped"));
        }
    }

    fn print_frames(&mut self, i: usize) {
        let name = self.pds[i].name.clone();
        let Some(decoder) = self.pds[i].log_decoder.as_mut() else { return };
        loop {
            match decoder.decode() {
                Ok(frame) => {
                    let text = frame.display_message().to_string();
                    match frame.level().map(|l| l.as_str()) {
                        None | Some("info") => log(&name, &text),
                        Some(level) => log(&name, &format!("{}: {text}", level.to_uppercase())),
                    }
                }
                Err(defmt_decoder::DecodeError::UnexpectedEof) => break,
                Err(defmt_decoder::DecodeError::Malformed) => log(&name, "(a malformed defmt log frame was skipped)"),
            }
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop_all();
    }
}

fn signal_name(s: i32) -> String {
    match s {
        libc::SIGSEGV => "SIGSEGV".into(),
        libc::SIGBUS => "SIGBUS".into(),
        libc::SIGILL => "SIGILL".into(),
        libc::SIGFPE => "SIGFPE".into(),
        libc::SIGABRT => "SIGABRT".into(),
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGSYS => "SIGSYS".into(),
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        n => format!("signal {n}"),
    }
}

/// The defmt string table of a PD binary, kept for the whole run.
fn log_table(elf: &[u8], binary: &Path) -> Option<&'static defmt_decoder::Table> {
    match defmt_decoder::Table::parse(elf) {
        Ok(Some(table)) => Some(Box::leak(Box::new(table))),
        Ok(None) => None,
        Err(e) => {
            note(&format!("cannot read the defmt string table of {}: {e}", binary.display()));
            None
        }
    }
}

/// Copy a PD's output to ours, a line at a time, with its name in front (escaped by [`log`]), at
/// most [`OUTPUT_BYTES_PER_SECOND`]: past that, lines are dropped and counted, and the count is
/// said once the second is over.
fn forward_output(name: String, fd: OwnedFd) {
    std::thread::spawn(move || {
        use std::io::{BufRead, Read};
        let mut reader = std::io::BufReader::new(std::fs::File::from(fd));
        let mut line = Vec::new();
        let (mut second, mut used, mut dropped) = (Instant::now(), 0usize, 0u64);
        loop {
            line.clear();
            match reader.by_ref().take(LOG_LINE_MAX_BYTES as u64).read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if second.elapsed() >= Duration::from_secs(1) {
                        if dropped > 0 {
                            note(&format!("PD `{name}`: {dropped} output line(s) dropped (over {OUTPUT_BYTES_PER_SECOND} bytes per second)"));
                        }
                        (second, used, dropped) = (Instant::now(), 0, 0);
                    }
                    used += n;
                    if used > OUTPUT_BYTES_PER_SECOND {
                        dropped += 1;
                        continue;
                    }
                    let text = String::from_utf8_lossy(&line);
                    log(&name, text.trim_end_matches('\n'));
                }
            }
        }
    });
}
