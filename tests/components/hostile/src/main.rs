//! Test component (hosted only): a hostile PD. It tries to escape its confinement, either in
//! `init` (PD names `init_<attempt>`) or in a constructor that the C library runs before `main`
//! (PD names `ctor_<attempt>`), and says on stderr what happened: `refused` when the attempt
//! returned an error, `NOT REFUSED` when it got through. An attempt that seccomp stops kills the
//! process with SIGSYS before it can say anything. Attempts:
//! - `read_passwd`: open and read /etc/passwd;
//! - `kill_all`: `kill(-1, SIGKILL)`;
//! - `kill_scan`: find other processes with `kill(pid, 0)` for pid 1..=4096 and SIGKILL them;
//! - `overwrite_programs`: list the program files of runs under the workspace's
//!   target/hosted/runs/, replace those of its own run with itself, and open /proc/self/exe for
//!   writing;
//! - `thread_socket` (init only): start a thread that opens a socket once `init` has returned.
//!
//! So that a regression cannot turn this test into an attack on the machine running it, the
//! killing attempts send SIGKILL only when the PD is process 1 of its own PID namespace (so there
//! is nothing outside it to reach); otherwise they send signal 0, which reaches the same
//! processes and kills none.
//!
//! Under any other name it is the program a successful replacement would run: it says so.
#![no_main]

use rampart_runtime::{clock, pd_name, ChannelSet, Handler};
use std::sync::atomic::{AtomicBool, Ordering};

/// The workspace's per-run program copies, as the supervisor's `build_components` makes them.
const RUNS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../target/hosted/runs");
/// Highest pid the scan tries.
const SCAN_PID_MAX: i32 = 4096;
/// When the thread started in init tries (after the first event: init has returned by then).
const AFTER_INIT_NS: u64 = 100_000_000;

/// Set by the first event, which comes after `init` returned.
static INIT_RETURNED: AtomicBool = AtomicBool::new(false);

/// A line on stderr (the supervisor prints it with the PD's name); one write, no allocation
/// beyond the line.
fn say(who: &str, what: &str) {
    let line = format!("hostile {who}: {what}\n");
    // SAFETY: writes a live buffer to descriptor 2.
    unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
}

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

fn read_passwd(who: &str) {
    // SAFETY: a constant NUL-terminated path.
    let fd = unsafe { libc::open(c"/etc/passwd".as_ptr(), libc::O_RDONLY) };
    if fd < 0 {
        return say(who, &format!("refused: open /etc/passwd: {}", errno()));
    }
    let mut buf = [0u8; 64];
    // SAFETY: reads into a stack buffer.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    say(who, &format!("NOT REFUSED: read {n} bytes of /etc/passwd"));
}

/// Whether this process is alone in its own PID namespace (then SIGKILL can reach nobody else).
fn own_pid_namespace() -> bool {
    // SAFETY: no arguments.
    unsafe { libc::getpid() == 1 }
}

fn kill_all(who: &str) {
    let sig = if own_pid_namespace() { libc::SIGKILL } else { 0 };
    // SAFETY: a signal to every process this one may signal; see the module doc for `sig`.
    let r = unsafe { libc::kill(-1, sig) };
    if r == 0 {
        say(who, &format!("NOT REFUSED: kill(-1, {sig}) reached other processes"));
    } else {
        say(who, &format!("refused: kill(-1, {sig}): {}", errno()));
    }
}

fn kill_scan(who: &str) {
    // SAFETY: no arguments.
    let me = unsafe { libc::getpid() };
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let found: Vec<i32> = (1..=SCAN_PID_MAX).filter(|&pid| pid != me && unsafe { libc::kill(pid, 0) } == 0).collect();
    if found.is_empty() {
        return say(who, "refused: no other process found in 1..=4096");
    }
    if own_pid_namespace() {
        for pid in &found {
            // SAFETY: as above; only in this PD's own PID namespace.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
    }
    say(who, &format!("NOT REFUSED: found {} other processes, e.g. {:?}", found.len(), &found[..found.len().min(8)]));
}

fn overwrite_programs(who: &str) {
    match std::fs::read_dir(RUNS_DIR) {
        Err(e) => say(who, &format!("refused: list target/hosted/runs: {e}")),
        Ok(runs) => {
            let runs: Vec<_> = runs.flatten().map(|e| e.path()).collect();
            say(who, &format!("NOT REFUSED: listed {} runs under target/hosted/runs", runs.len()));
            // Replace only the programs of its own run (other runs may be other tests).
            if let Ok(exe) = std::fs::read_link("/proc/self/exe") {
                let me = std::fs::read("/proc/self/exe").unwrap_or_default();
                for f in exe.parent().and_then(|d| std::fs::read_dir(d).ok()).into_iter().flatten().flatten() {
                    let path = f.path();
                    let tmp = path.with_extension("hostile");
                    if path != exe && std::fs::write(&tmp, &me).is_ok() && std::fs::rename(&tmp, &path).is_ok() {
                        say(who, &format!("NOT REFUSED: replaced {}", path.display()));
                    }
                }
            }
        }
    }
    // SAFETY: a constant NUL-terminated path.
    let fd = unsafe { libc::open(c"/proc/self/exe".as_ptr(), libc::O_WRONLY) };
    if fd < 0 {
        say(who, &format!("refused: open /proc/self/exe for writing: {}", errno()));
    } else {
        say(who, "NOT REFUSED: opened /proc/self/exe for writing");
    }
}

fn thread_socket(who: &'static str) {
    let started = std::thread::Builder::new().spawn(move || {
        while !INIT_RETURNED.load(Ordering::Acquire) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // SAFETY: plain system call with constant arguments.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0) };
        if fd < 0 {
            say(who, &format!("refused: socket from a thread started in init: {}", errno()));
        } else {
            say(who, "NOT REFUSED: opened a socket from a thread started in init, after init");
        }
    });
    if let Err(e) = started {
        say(who, &format!("refused: start a thread: {e}"));
    }
}

/// Make the attempt `what`; false if there is no such attempt.
fn attempt(who: &'static str, what: &str) -> bool {
    // SAFETY: no arguments.
    let pid = unsafe { libc::getpid() };
    say(who, &format!("trying, as process {pid}"));
    match what {
        "read_passwd" => read_passwd(who),
        "kill_all" => kill_all(who),
        "kill_scan" => kill_scan(who),
        "overwrite_programs" => overwrite_programs(who),
        "thread_socket" => thread_socket(who),
        _ => return false,
    }
    say(who, "still running after the attempt");
    true
}

/// Runs before `main`, under whatever confinement the process was started with.
extern "C" fn constructor(argc: libc::c_int, argv: *const *const libc::c_char, _envp: *const *const libc::c_char) {
    if argc < 1 || argv.is_null() {
        return;
    }
    // SAFETY: the C library passes the process's argv, whose first entry is a C string.
    let name = unsafe { std::ffi::CStr::from_ptr(*argv) }.to_string_lossy().into_owned();
    if let Some(what) = name.strip_prefix("ctor_") {
        let who: &'static str = Box::leak(name.clone().into_boxed_str());
        attempt(who, what);
    }
}

#[used]
#[unsafe(link_section = ".init_array")]
static CONSTRUCTOR: extern "C" fn(libc::c_int, *const *const libc::c_char, *const *const libc::c_char) = constructor;

struct Hostile;

impl Handler for Hostile {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.alarm() {
            INIT_RETURNED.store(true, Ordering::Release);
        }
    }
}

fn init() -> Hostile {
    let name = pd_name();
    if let Some(what) = name.strip_prefix("init_") {
        attempt(name, what);
    } else if !name.starts_with("ctor_") {
        say(name, &format!("the hostile program is running as `{name}`: a PD's program was replaced"));
    }
    clock::set_alarm_after(AFTER_INIT_NS);
    Hostile
}

rampart_runtime::pd_main!(init);
