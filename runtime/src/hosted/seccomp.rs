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
    // Installing the strict filter: `prctl` and `seccomp` are narrowed below to
    // PR_SET_NO_NEW_PRIVS and to SECCOMP_SET_MODE_FILTER with TSYNC (no other flag: a listener
    // would be a new descriptor).
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
    std::vec![stmt(BPF_LD_W_ABS, OFFSET_ARCH), jump(BPF_JEQ_K, AUDIT_ARCH, 1, 0), stmt(BPF_RET_K, SECCOMP_RET_KILL_PROCESS), stmt(BPF_LD_W_ABS, OFFSET_NR),]
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

/// `nr` is allowed when each `(arg, value)` holds (`int` arguments: low words compared);
/// otherwise it kills.
fn rule_ints(p: &mut std::vec::Vec<sock_filter>, nr: c_long, checks: &[(u32, u32)]) {
    let n = checks.len();
    p.push(jump(BPF_JEQ_K, nr as u32, 0, (2 * n + 2) as u8));
    for (k, (arg, value)) in checks.iter().enumerate() {
        p.push(stmt(BPF_LD_W_ABS, OFFSET_ARGS + 8 * arg));
        // Mismatch: jump over the remaining checks and the ALLOW, to the KILL.
        p.push(jump(BPF_JEQ_K, *value, 0, (2 * (n - 1 - k) + 1) as u8));
    }
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
    rule_ints(&mut p, libc::SYS_seccomp, &[(0, SECCOMP_SET_MODE_FILTER), (1, SECCOMP_FILTER_FLAG_TSYNC)]);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Run a filter program on one system call, as the kernel would (the instructions used here).
    fn eval(p: &[sock_filter], arch: u32, nr: c_long, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&(nr as u32).to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (k, a) in args.iter().enumerate() {
            data[16 + 8 * k..24 + 8 * k].copy_from_slice(&a.to_le_bytes());
        }
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = p[pc];
            match i.code {
                BPF_LD_W_ABS => acc = u32::from_le_bytes(data[i.k as usize..i.k as usize + 4].try_into().unwrap()),
                BPF_JEQ_K => pc += usize::from(if acc == i.k { i.jt } else { i.jf }),
                BPF_RET_K => return i.k,
                c => panic!("unexpected instruction {c:#x}"),
            }
            pc += 1;
        }
    }

    fn call(p: &[sock_filter], nr: c_long, args: [u64; 6]) -> u32 {
        eval(p, AUDIT_ARCH, nr, args)
    }

    const FD: i32 = 9;

    #[test]
    fn start_up_may_exec_only_the_program_descriptor() {
        let p = startup_filter(FD);
        assert_eq!(call(&p, libc::SYS_execveat, [FD as u64, 0, 0, 0, 0x1000, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(call(&p, libc::SYS_execveat, [3, 0, 0, 0, 0x1000, 0]), SECCOMP_RET_KILL_PROCESS);
        assert_eq!(call(&p, libc::SYS_execve, [0; 6]), SECCOMP_RET_KILL_PROCESS);
    }

    #[test]
    fn start_up_makes_no_process_thread_signal_socket_or_descriptor() {
        let p = startup_filter(FD);
        for nr in [
            libc::SYS_clone,
            libc::SYS_clone3,
            libc::SYS_kill,
            libc::SYS_tkill,
            libc::SYS_tgkill,
            libc::SYS_socket,
            libc::SYS_dup,
            libc::SYS_memfd_create,
            libc::SYS_ptrace,
            libc::SYS_mount,
        ] {
            assert_eq!(call(&p, nr, [0; 6]), SECCOMP_RET_KILL_PROCESS, "system call {nr}");
        }
        // A seccomp listener would be a new descriptor; a limit may be read, not set.
        assert_eq!(call(&p, libc::SYS_seccomp, [1, 1, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(call(&p, libc::SYS_seccomp, [1, 1 | 8, 0, 0, 0, 0]), SECCOMP_RET_KILL_PROCESS);
        assert_eq!(call(&p, libc::SYS_prlimit64, [0, 3, 0, 0x1000, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(call(&p, libc::SYS_prlimit64, [0, 4, 0x1000, 0, 0, 0]), SECCOMP_RET_KILL_PROCESS);
        assert_eq!(call(&p, libc::SYS_prctl, [libc::PR_SET_NO_NEW_PRIVS as u64, 1, 0, 0, 0, 0]), SECCOMP_RET_ALLOW);
        assert_eq!(call(&p, libc::SYS_prctl, [libc::PR_SET_PDEATHSIG as u64, 0, 0, 0, 0, 0]), SECCOMP_RET_KILL_PROCESS);
    }

    #[test]
    fn start_up_answers_open_with_an_error_and_the_strict_filter_kills_it() {
        assert_eq!(call(&startup_filter(FD), libc::SYS_openat, [0; 6]), SECCOMP_RET_ERRNO | libc::EACCES as u32);
        assert_eq!(call(&filter(), libc::SYS_openat, [0; 6]), SECCOMP_RET_KILL_PROCESS);
    }

    #[test]
    fn the_strict_filter_allows_the_event_loop_and_nothing_of_start_up() {
        let p = filter();
        for nr in ALLOWED {
            assert_eq!(call(&p, *nr, [0; 6]), SECCOMP_RET_ALLOW, "system call {nr}");
            // Filters stack: what the strict filter allows, the start-up filter must allow too.
            assert_eq!(call(&startup_filter(FD), *nr, [0; 6]), SECCOMP_RET_ALLOW, "system call {nr}");
        }
        for nr in [libc::SYS_clone, libc::SYS_clone3, libc::SYS_execveat, libc::SYS_mprotect, libc::SYS_close, libc::SYS_seccomp, libc::SYS_prctl] {
            assert_eq!(call(&p, nr, [FD as u64, 0, 0, 0, 0, 0]), SECCOMP_RET_KILL_PROCESS, "system call {nr}");
        }
    }

    #[test]
    fn both_filters_refuse_a_foreign_architecture() {
        for p in [filter(), startup_filter(FD)] {
            assert_eq!(eval(&p, 0x4000_0003, libc::SYS_read, [0; 6]), SECCOMP_RET_KILL_PROCESS);
        }
    }
}
