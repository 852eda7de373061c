//! Confinement: the system calls a hosted PD may make, as two seccomp-bpf allow-lists.
//!
//! - The **start-up filter** ([`startup_filter`]) is installed by the supervisor's child between
//!   `clone` and `execveat`, so it is in force from the PD program's first instruction (its C
//!   library start-up and its constructors included). It allows what `execveat` of the program's
//!   sealed memfd, the static C library's start-up and the runtime's own start-up need (reading
//!   the boot information, mapping regions, closing descriptors, signal handlers, installing the
//!   strict filter), plus everything the strict filter allows. `openat`, `open` and `readlink`
//!   fail with `EACCES` instead of killing (the root is empty anyway); anything else off the list
//!   kills the process with SIGSYS. There is no way to make a process or thread (no clone, clone3,
//!   fork, vfork), to signal (no kill, tkill, tgkill), to make a socket, or to make a descriptor.
//! - The **strict filter** ([`filter`], installed by [`confine`] before the component's `init`,
//!   on every thread at once with `SECCOMP_FILTER_FLAG_TSYNC`) allows only what `init` and the
//!   event loop need: I/O on descriptors already held, memory, the clock, entropy, sleeping.
//!   Anything else (open, socket, connect, execve, clone of any kind, ptrace, kill, ioctl,
//!   mprotect, ...) kills the process with SIGSYS, which the supervisor reports as a confinement
//!   violation.
//!
//! Filters stack: a system call must be allowed by every filter installed, and the stricter
//! answer wins, so after [`confine`] the strict filter decides. Both filters refuse a foreign
//! architecture's system call ABI (e.g. 32-bit `int 0x80` on x86_64); x32 calls carry a flag bit
//! in their number and so match nothing on either list.

use libc::{c_long, sock_filter, sock_fprog};

/// System calls a confined PD may make, in `init` and after.
const ALLOWED: &[c_long] = &[
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_exit,
    libc::SYS_exit_group,
    libc::SYS_futex,
    libc::SYS_rt_sigreturn,
    libc::SYS_rt_sigprocmask,
    libc::SYS_sigaltstack,
    libc::SYS_restart_syscall,
    libc::SYS_mmap,
    libc::SYS_munmap,
    libc::SYS_mremap,
    libc::SYS_madvise,
    libc::SYS_brk,
    libc::SYS_clock_gettime,
    libc::SYS_clock_nanosleep,
    libc::SYS_nanosleep,
    libc::SYS_ppoll,
    libc::SYS_sched_yield,
    libc::SYS_getrandom,
    libc::SYS_gettid,
    libc::SYS_getpid,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_poll,
];

/// System calls allowed from `execveat` until the strict filter is in place, beyond [`ALLOWED`]
/// (which `init` and the event loop need, so the start-up filter must allow them too). Observed
/// with `strace -f` on every component; each is there for:
const STARTUP_EXTRA: &[c_long] = &[
    // The static C library's start-up: the thread pointer (TLS), the thread's id and robust
    // futex list, restartable sequences, RELRO (`mprotect` to read-only after relocation).
    #[cfg(target_arch = "x86_64")]
    libc::SYS_arch_prctl,
    libc::SYS_set_tid_address,
    libc::SYS_set_robust_list,
    libc::SYS_rseq,
    libc::SYS_mprotect,
    // The runtime's start-up: the boot information (read with `pread`, then closed), the
    // descriptors that served only for mapping (closed), the fault handlers.
    libc::SYS_pread64,
    libc::SYS_close,
    libc::SYS_rt_sigaction,
    // Installing the strict filter (`prctl` is narrowed to PR_SET_NO_NEW_PRIVS below).
    libc::SYS_seccomp,
];

/// System calls answered with `EACCES` during start-up instead of killing: the C library's
/// start-up asks for `/proc/self/exe` (and would be killed for asking), and nothing can be
/// opened in the empty root anyway.
const STARTUP_REFUSED: &[c_long] = &[
    #[cfg(target_arch = "x86_64")]
    libc::SYS_open,
    libc::SYS_openat,
    libc::SYS_openat2,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_readlink,
    libc::SYS_readlinkat,
];

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64

const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const BPF_JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K
const SECCOMP_RET_ALLOW: u32 = 0x7fff_0000;
const SECCOMP_RET_ERRNO: u32 = 0x0005_0000;
const SECCOMP_RET_KILL_PROCESS: u32 = 0x8000_0000;
const OFFSET_NR: u32 = 0; // struct seccomp_data.nr
const OFFSET_ARCH: u32 = 4; // struct seccomp_data.arch
const OFFSET_ARGS: u32 = 16; // struct seccomp_data.args[0]; each 8 bytes, low word first (little-endian)
const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
const SECCOMP_FILTER_FLAG_TSYNC: libc::c_uint = 1;

fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter { code, jt: 0, jf: 0, k }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The common head: refuse a foreign ABI, then load the system call number.
fn head() -> std::vec::Vec<sock_filter> {
    std::vec![
        stmt(BPF_LD_W_ABS, OFFSET_ARCH),
        jump(BPF_JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, OFFSET_NR),
    ]
}

/// `nr` gets `action`.
fn rule(p: &mut std::vec::Vec<sock_filter>, nr: c_long, action: u32) {
    p.push(jump(BPF_JEQ_K, nr as u32, 0, 1));
    p.push(stmt(BPF_RET_K, action));
}

/// `nr` is allowed when its argument `arg` is `value`; otherwise it kills. Both words are
/// compared, unless `int_arg` (the kernel reads an `int`, and ignores the high word).
fn rule_arg(p: &mut std::vec::Vec<sock_filter>, nr: c_long, arg: u32, value: u64, int_arg: bool) {
    let low = OFFSET_ARGS + 8 * arg;
    if int_arg {
        p.push(jump(BPF_JEQ_K, nr as u32, 0, 4));
    } else {
        p.push(jump(BPF_JEQ_K, nr as u32, 0, 6));
        p.push(stmt(BPF_LD_W_ABS, low + 4));
        p.push(jump(BPF_JEQ_K, (value >> 32) as u32, 0, 3));
    }
    p.push(stmt(BPF_LD_W_ABS, low));
    p.push(jump(BPF_JEQ_K, value as u32, 0, 1));
    p.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
    p.push(stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS));
}

/// The strict filter program.
pub fn filter() -> std::vec::Vec<sock_filter> {
    let mut p = head();
    let n = ALLOWED.len();
    for (i, nr) in ALLOWED.iter().enumerate() {
        // Match: jump to the ALLOW after the remaining comparisons and the KILL.
        let to_allow = (n - i) as u8;
        p.push(jump(BPF_JEQ_K, *nr as u32, to_allow, 0));
    }
    p.push(stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS));
    p.push(stmt(BPF_RET_K, SECCOMP_RET_ALLOW));
    p
}

/// The start-up filter program, for a program executed from descriptor `program_fd` (the only
/// descriptor `execveat` may name; it is close-on-exec, so it is gone once the program runs).
pub fn startup_filter(program_fd: i32) -> std::vec::Vec<sock_filter> {
    let mut p = head();
    rule_arg(&mut p, libc::SYS_execveat, 0, program_fd as u64, true);
    rule_arg(&mut p, libc::SYS_prctl, 0, libc::PR_SET_NO_NEW_PRIVS as u64, true);
    // The C library's start-up reads RLIMIT_STACK; reading a limit only (new limit NULL).
    rule_arg(&mut p, libc::SYS_prlimit64, 2, 0, false);
    for nr in ALLOWED.iter().chain(STARTUP_EXTRA) {
        rule(&mut p, *nr, SECCOMP_RET_ALLOW);
    }
    for nr in STARTUP_REFUSED {
        rule(&mut p, *nr, SECCOMP_RET_ERRNO | libc::EACCES as u32);
    }
    p.push(stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS));
    p
}

/// Confine every thread of the calling process for good with the strict filter. Fails (and the
/// PD must not start) if any thread could not take the filter.
pub fn confine() -> Result<(), i32> {
    let prog = filter();
    let fprog = sock_fprog { len: prog.len() as u16, filter: prog.as_ptr() as *mut sock_filter };
    // SAFETY: prctl with integer arguments; no memory is passed.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    // SAFETY: `fprog` points at `prog`, which outlives the call; the kernel copies the program.
    // With TSYNC, a positive result is the id of a thread that could not be synchronised.
    let r = unsafe { libc::syscall(libc::SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog as *const sock_fprog) };
    match r {
        0 => Ok(()),
        r if r > 0 => Err(libc::ESRCH),
        _ => Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0)),
    }
}
