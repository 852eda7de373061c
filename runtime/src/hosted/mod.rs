//! The hosted backend: a PD is a Linux process whose only authority is the descriptors the
//! supervisor handed it.
//!
//! Start-up ([`run`]): the supervisor started the process in its own namespaces with an empty,
//! read-only root, from a sealed copy of its program, under the start-up seccomp filter
//! ([`seccomp::startup_filter`]). The runtime reads the [`bootinfo::BootInfo`] at descriptor 3;
//! maps every memory region at its declared address with its declared permissions (from a
//! descriptor opened read-only when the map is read-only, so the mapping cannot be upgraded) and
//! every control page; closes the descriptors that only served for mapping; installs the strict
//! seccomp filter on every thread ([`seccomp::confine`]); and only then runs the component's
//! `init` and serves events forever. No component code runs unconfined.
//!
//! Events: every sender signals the PD's one wake-up pipe after publishing in a shared page
//! ([`pages`]); the PD then scans its incoming notification counters and call pages. A sender
//! holds only a write end of its own (non-blocking: a signal never blocks, as an seL4 Signal), and
//! only the PD holds the read end (so only it can consume its wake-ups). The cost of a
//! notification is the same two system calls per side as a raw eventfd ping-pong.
//!
//! Faults: a panic, a memory fault (with its address) or an attempt to use a channel the PD was
//! not given is reported to the supervisor over the control pipe ([`control`]) before the process
//! exits; a forbidden system call kills it with SIGSYS. The supervisor decides about restarts.

pub mod bootinfo;
pub mod control;
pub mod logger;
pub mod pages;
pub mod seccomp;

use crate::{ChannelSet, Child, Fault, FaultAction, Handler, Message, ALARM_ID, LABEL_CALL_FAILED, LABEL_MALFORMED};
use bootinfo::{BootInfo, BOOTINFO_FD, CONTROL_PAGE_BYTES, MAX_BOOTINFO_BYTES};
use control::Record;
use core::sync::atomic::{AtomicU64, Ordering};
use pages::{MessagePage, NotifyPage};
use rampart_supervision::Decision;
use std::string::{String, ToString};
use std::sync::OnceLock;
use std::vec::Vec;

/// Exit status of a PD that panicked.
pub const EXIT_PANIC: i32 = 101;
/// Exit status of a PD that used a capability it does not have.
pub const EXIT_VIOLATION: i32 = 102;
/// Exit status of a PD whose start-up failed (bad boot information, a mapping refused).
pub const EXIT_STARTUP: i32 = 103;
/// Exit status of a PD after a memory fault is 128 + the signal, as a shell reports it.
pub const EXIT_SIGNAL_BASE: i32 = 128;

const NO_ALARM: u64 = u64::MAX;

struct CallOut {
    call: &'static MessagePage,
    reply: &'static MessagePage,
    peer_wake_fd: i32,
    reply_wake_fd: i32,
    seq: AtomicU64,
}

struct CallIn {
    id: u8,
    call: &'static MessagePage,
    reply: &'static MessagePage,
    reply_wake_fd: i32,
    last_seq: AtomicU64,
}

struct State {
    name: String,
    wake_fd: i32,
    control_fd: i32,
    child_faults_fd: Option<i32>,
    clock_origin_ns: u64,
    /// By channel id: the counter page and the peer's wake-up eventfd.
    notify_out: Vec<Option<(&'static NotifyPage, i32)>>,
    /// (id, page, last count seen).
    notify_in: Vec<(u8, &'static NotifyPage, AtomicU64)>,
    calls_out: Vec<Option<CallOut>>,
    calls_in: Vec<CallIn>,
    alarm_ns: AtomicU64,
}

static STATE: OnceLock<State> = OnceLock::new();
/// The control descriptor, for the signal handler (which may not touch `STATE`'s lock).
static CONTROL_FD: core::sync::atomic::AtomicI32 = core::sync::atomic::AtomicI32::new(-1);

fn state() -> &'static State {
    match STATE.get() {
        Some(s) => s,
        None => startup_failure("the runtime was used before the PD started (call it from init or a handler)"),
    }
}

fn send(fd: i32, r: &Record) {
    let bytes = r.encode();
    // SAFETY: writes `bytes.len()` bytes from a live buffer; failure is ignored because the
    // supervisor may already be gone, and there is nobody else to tell.
    unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
}

fn exit(status: i32) -> ! {
    // SAFETY: _exit ends the process at once; nothing is borrowed across it.
    unsafe { libc::_exit(status) }
}

fn startup_failure(msg: &str) -> ! {
    let fd = CONTROL_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        send(fd, &Record::Panic { message: std::format!("start-up failed: {msg}") });
    }
    std::eprintln!("rampart-runtime: start-up failed: {msg}");
    exit(EXIT_STARTUP)
}

fn violation(msg: String) -> ! {
    send(state().control_fd, &Record::Violation { message: msg });
    exit(EXIT_VIOLATION)
}

/// Signal a wake-up through a signal-only end (a non-blocking pipe write end): one byte. A full
/// pipe already holds a wake-up, so the error is of no consequence and the signaller never blocks.
fn signal(fd: i32) {
    let one = 1u8;
    // SAFETY: writes one byte from a live u8.
    unsafe { libc::write(fd, (&one as *const u8).cast(), 1) };
}

fn wait_readable(fd: i32, timeout_ns: Option<u64>) -> bool {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    let ts = timeout_ns.map(|ns| libc::timespec { tv_sec: (ns / 1_000_000_000) as libc::time_t, tv_nsec: (ns % 1_000_000_000) as libc::c_long });
    let tsp = ts.as_ref().map_or(core::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: one pollfd on the stack, an optional timespec on the stack, no signal mask.
    let n = unsafe { libc::ppoll(&mut pfd, 1, tsp, core::ptr::null()) };
    n > 0
}

/// Wait for and consume wake-ups on a wait-only end (the read end of this PD's wake-up pipe, or of
/// a call's reply pipe); only this PD holds it, so nobody else can take its wake-ups.
fn drain(fd: i32) {
    let mut buf = [0u8; 64];
    // SAFETY: reads into a stack buffer.
    unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
}

fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Map `len` bytes of `fd` shared; at `at` exactly (never replacing a mapping) when given.
fn map(fd: i32, len: usize, write: bool, execute: bool, at: Option<u64>) -> Result<*mut u8, String> {
    let mut prot = libc::PROT_READ;
    if write {
        prot |= libc::PROT_WRITE;
    }
    if execute {
        prot |= libc::PROT_EXEC;
    }
    let mut flags = libc::MAP_SHARED;
    let addr = match at {
        Some(a) => {
            flags |= libc::MAP_FIXED_NOREPLACE;
            a as usize as *mut libc::c_void
        }
        None => core::ptr::null_mut(),
    };
    // SAFETY: a new shared mapping of a descriptor we own; MAP_FIXED_NOREPLACE never replaces an
    // existing mapping, so no memory of this process is invalidated.
    let p = unsafe { libc::mmap(addr, len, prot, flags, fd, 0) };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error().to_string());
    }
    if let Some(a) = at {
        if p as u64 != a {
            return Err(std::format!("the kernel placed it at {:p}", p));
        }
    }
    Ok(p.cast())
}

fn close(fd: i32) {
    // SAFETY: closes a descriptor this process owns and no longer uses.
    unsafe { libc::close(fd) };
}

fn page<T>(fd: i32, write: bool) -> &'static T {
    match map(fd, CONTROL_PAGE_BYTES, write, false, None) {
        Ok(p) => {
            close(fd);
            // SAFETY: the page is CONTROL_PAGE_BYTES, larger than T (asserted in `pages`),
            // page-aligned, zero-initialised by the kernel (a valid T: T is made of atomics) and
            // never unmapped; shared access goes through atomics only.
            unsafe { &*(p as *const T) }
        }
        Err(e) => startup_failure(&std::format!("cannot map a control page (descriptor {fd}): {e}")),
    }
}

fn read_bootinfo() -> BootInfo {
    let mut buf = std::vec![0u8; MAX_BOOTINFO_BYTES + 1];
    let mut len = 0;
    loop {
        // SAFETY: reads into the unused tail of `buf`.
        let n = unsafe { libc::pread(BOOTINFO_FD, buf[len..].as_mut_ptr().cast(), buf.len() - len, len as libc::off_t) };
        if n <= 0 {
            break;
        }
        len += n as usize;
        if len == buf.len() {
            break;
        }
    }
    close(BOOTINFO_FD);
    BootInfo::decode(&buf[..len]).unwrap_or_else(|e| startup_failure(e))
}

extern "C" fn on_fatal_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // Async-signal-safe: atomics, a stack buffer, write and _exit only.
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as u64;
    let fd = CONTROL_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let r = Record::MemoryFault { addr, signal: sig as u8 };
        let mut buf = [0u8; 32];
        let bytes = r.encode_into(&mut buf);
        // SAFETY: writes a stack buffer to the control pipe.
        unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    }
    exit(EXIT_SIGNAL_BASE + sig)
}

fn install_fault_reporting() {
    std::panic::set_hook(std::boxed::Box::new(|info| {
        let msg = info.to_string().replace('\n', ": ");
        if let Some(s) = STATE.get() {
            send(s.control_fd, &Record::Panic { message: msg.clone() });
        }
        std::eprintln!("{msg}");
        exit(EXIT_PANIC);
    }));
    const ALT_STACK_BYTES: usize = 64 * 1024;
    let stack = std::vec![0u8; ALT_STACK_BYTES].leak();
    let ss = libc::stack_t { ss_sp: stack.as_mut_ptr().cast(), ss_flags: 0, ss_size: ALT_STACK_BYTES };
    // SAFETY: the alternate stack is leaked, so it lives as long as the process.
    unsafe { libc::sigaltstack(&ss, core::ptr::null_mut()) };
    for sig in [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE] {
        // SAFETY: a zeroed sigaction with a handler of the SA_SIGINFO signature.
        unsafe {
            let mut sa: libc::sigaction = core::mem::zeroed();
            let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) = on_fatal_signal;
            sa.sa_sigaction = handler as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESETHAND;
            libc::sigaction(sig, &sa, core::ptr::null_mut());
        }
    }
}

/// Start the PD: map, init, confine, serve. Never returns.
pub fn run<H: Handler>(init: fn() -> H) -> ! {
    let info = read_bootinfo();
    CONTROL_FD.store(info.control_fd, Ordering::Relaxed);
    logger::LOG_FD.store(info.log_fd, Ordering::Relaxed);
    install_fault_reporting();

    for r in &info.regions {
        if let Err(e) = map(r.fd, r.size_bytes as usize, r.write, r.execute, Some(r.vaddr)) {
            startup_failure(&std::format!("cannot map region `{}` at {:#x} ({:#x} bytes): {e}", r.name, r.vaddr, r.size_bytes));
        }
        close(r.fd);
    }
    let mut notify_out: Vec<Option<(&'static NotifyPage, i32)>> = (0..64).map(|_| None).collect();
    for n in &info.notify_out {
        notify_out[usize::from(n.id % 64)] = Some((page::<NotifyPage>(n.page_fd, true), n.peer_wake_fd));
    }
    let notify_in = info
        .notify_in
        .iter()
        .map(|n| {
            // Count from zero: a notification sent before this PD started (a peer's init may
            // run first) is pending, as in a seL4 notification object. After a restart this may
            // deliver one notification the previous life already saw; notifications only say
            // "look again", so a spurious one is harmless.
            (n.id, page::<NotifyPage>(n.page_fd, false), AtomicU64::new(0))
        })
        .collect();
    let mut calls_out: Vec<Option<CallOut>> = (0..64).map(|_| None).collect();
    for c in &info.calls_out {
        let call = page::<MessagePage>(c.call_page_fd, true);
        let reply = page::<MessagePage>(c.reply_page_fd, false);
        let seq = AtomicU64::new(call.seq());
        calls_out[usize::from(c.id % 64)] = Some(CallOut { call, reply, peer_wake_fd: c.peer_wake_fd, reply_wake_fd: c.reply_wake_fd, seq });
    }
    let calls_in = info
        .calls_in
        .iter()
        .map(|c| {
            let call = page::<MessagePage>(c.call_page_fd, false);
            let reply = page::<MessagePage>(c.reply_page_fd, true);
            // The last call answered is the reply's seq: a call published before this PD started
            // is still unanswered and will be served. (A restarted PD finds none: the supervisor
            // failed every call its previous life left unanswered.)
            CallIn { id: c.id, call, reply, reply_wake_fd: c.reply_wake_fd, last_seq: AtomicU64::new(reply.seq()) }
        })
        .collect();
    let st = State {
        name: info.pd_name.clone(),
        wake_fd: info.wake_fd,
        control_fd: info.control_fd,
        child_faults_fd: info.child_faults_fd,
        clock_origin_ns: info.clock_origin_ns,
        notify_out,
        notify_in,
        calls_out,
        calls_in,
        alarm_ns: AtomicU64::new(NO_ALARM),
    };
    if STATE.set(st).is_err() {
        startup_failure("started twice");
    }

    // Confined before any component code runs: the start-up filter has been in force since the
    // program's first instruction, and the strict one now covers every thread before `init`.
    if let Err(e) = seccomp::confine() {
        startup_failure(&std::format!("cannot install the seccomp filter on every thread (errno {e})"));
    }
    let mut handler = init();
    let s = state();
    send(s.control_fd, &Record::InitDone);
    loop {
        wait_for_events(s);
        serve_calls(s, &mut handler);
        serve_child_faults(s, &mut handler);
        let set = pending_notifications(s);
        if !set.is_empty() {
            handler.notified(set);
        }
    }
}

fn wait_for_events(s: &State) {
    let alarm = s.alarm_ns.load(Ordering::Relaxed);
    if alarm == NO_ALARM {
        drain(s.wake_fd); // blocks until something is signalled
        return;
    }
    let now = now_ns();
    if now < alarm && wait_readable(s.wake_fd, Some(alarm - now)) {
        drain(s.wake_fd);
    }
}

fn pending_notifications(s: &State) -> ChannelSet {
    let mut set = ChannelSet::EMPTY;
    for (id, page, seen) in &s.notify_in {
        let c = page.count.load(Ordering::Acquire);
        if c != seen.load(Ordering::Relaxed) {
            seen.store(c, Ordering::Relaxed);
            set.insert(*id);
        }
    }
    let alarm = s.alarm_ns.load(Ordering::Relaxed);
    if alarm != NO_ALARM && now_ns() >= alarm {
        s.alarm_ns.store(NO_ALARM, Ordering::Relaxed);
        set.insert(ALARM_ID);
    }
    set
}

fn serve_calls<H: Handler>(s: &State, handler: &mut H) {
    for c in &s.calls_in {
        let seq = c.call.seq();
        if seq == c.last_seq.load(Ordering::Relaxed) {
            continue;
        }
        c.last_seq.store(seq, Ordering::Relaxed);
        // The reply is published from where the handler left it (no copy of the Message).
        match c.call.read() {
            Ok(m) => match handler.protected(c.id, &m) {
                Ok(r) => c.reply.publish(seq, &r),
                Err(_) => {
                    c.reply.publish(seq, &Message::new(LABEL_CALL_FAILED));
                    signal(c.reply_wake_fd);
                    panic!("PD `{}` received a protected procedure call on channel {} but does not handle calls (implement Handler::protected)", s.name, c.id);
                }
            },
            Err(_) => c.reply.publish(seq, &Message::new(LABEL_MALFORMED)),
        }
        signal(c.reply_wake_fd);
    }
}

fn serve_child_faults<H: Handler>(s: &State, handler: &mut H) {
    let Some(fd) = s.child_faults_fd else { return };
    // Whole records only: the supervisor writes each with one write, all of one size.
    let mut buf = [0u8; control::TEXTLESS_RECORD_BYTES * 32];
    // SAFETY: reads into a stack buffer from a non-blocking pipe.
    while let n @ 1.. = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } {
        handle_child_faults(s, handler, &buf[..n as usize]);
    }
}

fn handle_child_faults<H: Handler>(s: &State, handler: &mut H, bytes: &[u8]) {
    let mut at = 0;
    while let Ok(Some((r, used))) = Record::decode(&bytes[at..]) {
        at += used;
        if let Record::ChildFault { child, kind, code } = r {
            let action = match handler.fault(Child(child), &Fault { kind, code }) {
                Ok(a) => a,
                Err(_) => panic!("PD `{}` has child PDs but does not handle their faults (implement Handler::fault)", s.name),
            };
            let decision = match action {
                FaultAction::Restart => Decision::Restart,
                FaultAction::Stop => Decision::Hold,
            };
            send(s.control_fd, &Record::ChildDecision { child, decision });
        }
    }
}

/// Microseconds on the PD clock for log timestamps; 0 before the PD has started.
pub(crate) fn now_us_or_zero() -> u64 {
    STATE.get().map_or(0, |s| monotonic_ns().saturating_sub(s.clock_origin_ns) / 1000)
}

pub(crate) fn pd_name() -> &'static str {
    &state().name
}

pub(crate) fn notify(id: u8) {
    let s = state();
    match s.notify_out.get(usize::from(id)).and_then(|o| o.as_ref()) {
        Some((page, wake)) => {
            // Release: what this PD wrote before notifying is visible to the peer once it sees
            // the new count (it Acquire-loads it).
            page.count.fetch_add(1, Ordering::Release);
            signal(*wake);
        }
        None => violation(std::format!("PD `{}` tried to notify channel {id}, which it may not notify", s.name)),
    }
}

pub(crate) fn pp_call(id: u8, m: &Message) -> Message {
    let s = state();
    let Some(c) = s.calls_out.get(usize::from(id)).and_then(|o| o.as_ref()) else {
        violation(std::format!("PD `{}` tried a protected procedure call on channel {id}, which it may not call", s.name))
    };
    let seq = c.seq.load(Ordering::Relaxed).wrapping_add(1);
    c.seq.store(seq, Ordering::Relaxed);
    c.call.publish(seq, m);
    signal(c.peer_wake_fd);
    loop {
        drain(c.reply_wake_fd);
        if c.reply.seq() == seq {
            return c.reply.read().unwrap_or_else(|_| Message::new(LABEL_MALFORMED));
        }
    }
}

pub(crate) fn irq_ack(id: u8) {
    violation(std::format!("PD `{}` acknowledged IRQ {id}: the hosted backend has no interrupts", state().name))
}

pub(crate) fn ioport_in(id: u8, port: u16, _width: u8) -> u32 {
    violation(std::format!("PD `{}` read I/O port {port:#x} (ioport {id}): the hosted backend has no I/O ports", state().name))
}

pub(crate) fn ioport_out(id: u8, port: u16, _width: u8, _value: u32) {
    violation(std::format!("PD `{}` wrote I/O port {port:#x} (ioport {id}): the hosted backend has no I/O ports", state().name))
}

pub(crate) fn now_ns() -> u64 {
    monotonic_ns().saturating_sub(state().clock_origin_ns)
}

/// `clock::cycles`: the TSC on x86_64, the PD clock elsewhere.
pub(crate) fn cycles() -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: rdtsc reads a counter and touches no memory (Linux leaves it enabled in user mode).
    #[allow(unused_unsafe)]
    return unsafe { core::arch::x86_64::_rdtsc() };
    #[cfg(not(target_arch = "x86_64"))]
    return now_ns();
}

pub(crate) fn set_alarm(deadline_ns: Option<u64>) {
    state().alarm_ns.store(deadline_ns.map_or(NO_ALARM, |d| d.min(NO_ALARM - 1)), Ordering::Relaxed);
}

pub(crate) fn exit_system(status: u8) -> ! {
    let s = state();
    send(s.control_fd, &Record::ExitSystem { status });
    // The supervisor stops every PD, this one included; wait for it.
    loop {
        drain(s.wake_fd);
    }
}

pub(crate) fn entropy(out: &mut [u8]) -> Result<(), crate::entropy::NoEntropy> {
    let mut done = 0;
    while done < out.len() {
        // SAFETY: writes at most `out.len() - done` bytes into `out[done..]`, which we own.
        let n = unsafe { libc::getrandom(out[done..].as_mut_ptr().cast(), out.len() - done, 0) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(crate::entropy::NoEntropy);
        }
        done += n as usize;
    }
    Ok(())
}

/// The descriptors this PD holds and what each is for: nothing it does not already hold, named
/// so that tests can play a hostile PD that aims at each one (and show that the ends it holds
/// cannot be turned against its peers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldDescriptors {
    /// The wait-only end of this PD's own wake-up pipe.
    pub own_wake: i32,
    /// The signal-only ends of the wake-up pipes of the PDs it may notify or call.
    pub peer_wakes: Vec<i32>,
    /// Its log pipe and its control pipe to the supervisor (write ends).
    pub log: i32,
    pub control: i32,
}

/// See [`HeldDescriptors`].
pub fn held_descriptors() -> HeldDescriptors {
    let s = state();
    let mut peer_wakes: Vec<i32> = s.notify_out.iter().flatten().map(|(_, fd)| *fd).collect();
    peer_wakes.extend(s.calls_out.iter().flatten().map(|c| c.peer_wake_fd));
    HeldDescriptors { own_wake: s.wake_fd, peer_wakes, log: logger::LOG_FD.load(Ordering::Relaxed), control: s.control_fd }
}
