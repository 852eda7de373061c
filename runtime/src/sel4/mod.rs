//! The seL4 backend: a PD is an seL4 thread in its own CSpace and VSpace, built by the system
//! initializer (`runtime/sel4-root`), whose only authority is the capabilities `layout.rs`
//! describes.
//!
//! Start-up ([`run`]): read the PD's [`PdInfo`] from its IPC buffer frame (where the initializer
//! wrote it), run the component's `init`, tell the monitor, then serve events forever.
//!
//! Events: a PD that nobody calls waits on its notification; the badge is the set of channels
//! that signalled. A PD that serves protected procedure calls waits on its endpoint with its
//! notification bound to its thread, so both arrive there: a call (badge = the channel id, the
//! Rampart label in message register 0, the words after it) goes to [`Handler::protected`] and is
//! answered with `ReplyRecv`; a signal goes to [`Handler::notified`]. Which of the two ended a
//! receive is told by [`syscalls::RECV_SENTINEL_INFO`], which the kernel overwrites for every
//! message and never for a signal.
//!
//! A call made while serving a call first moves the reply capability into the PD's CSpace
//! (`CNode_SaveCaller`), because the kernel keeps one implicit reply capability per thread; the
//! answer then goes through the saved capability.
//!
//! Faults, panics and uses of channels the PD was not given go to the monitor, which reports
//! them with the PD's name and sends the thread to [`rampart_sel4_tombstone`]: it answers the
//! call the PD was serving (if any) and every later one with `LABEL_CALL_FAILED`, until the
//! monitor rebuilds the PD (restart) or for good (hold). A PD that panics while serving a call
//! answers it with `LABEL_CALL_FAILED` first.
//!
//! Child faults: the monitor signals the parent's notification with the alarm bit; on that bit
//! the runtime asks the monitor for pending child faults (`ChildFault`), hands each to
//! [`Handler::fault`] and passes the decision back (`FaultDecision`).
//!
//! Time: `clock::now_ns` is the TSC since the root task started (scaled by the frequency the
//! kernel measured at boot), the same clock in every PD. `clock::set_alarm` tells the monitor,
//! which signals the PD's notification with the alarm bit (`ALARM_ID`, which no channel uses)
//! once the deadline has passed.
//!
//! Interrupts and I/O ports: `io.rs`.

#[path = "../../sel4-root/src/abi.rs"]
mod abi;
mod io;
#[path = "../../sel4-root/src/layout.rs"]
mod layout;
pub mod logger;
#[path = "../../sel4-root/src/mem.rs"]
mod mem;
pub mod raw;
#[path = "../../sel4-root/src/syscalls.rs"]
mod syscalls;

use crate::{ChannelSet, Child, Fault, FaultAction, FaultKind, Handler, Message, LABEL_CALL_FAILED, LABEL_MALFORMED, MAX_MESSAGE_WORDS};
use core::cell::UnsafeCell;
use core::fmt::Write as _;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use layout::{MonitorLabel, PdInfo};
use rampart_supervision::Decision;
use syscalls::{message_info, IpcBuffer, Received};

#[cfg(not(target_arch = "x86_64"))]
compile_error!("rampart-runtime: the seL4 backend exists for x86_64 only");

/// Where the initializer maps this PD's IPC buffer (the layout of every x86_64 PD).
const IPC_BUFFER_VADDR: u64 = layout::ipc_buffer_vaddr(rampart_spec::Arch::X86_64.stack_top());

/// This PD's IPC buffer.
fn ipc() -> IpcBuffer {
    // SAFETY: the initializer maps a frame read-write at IPC_BUFFER_VADDR and registers it as this
    // thread's IPC buffer before the thread starts; the runtime never makes a Rust reference into
    // it (every access is a volatile read or write of one word).
    unsafe { IpcBuffer::new(IPC_BUFFER_VADDR as *mut u64) }
}

/// A value written once, before `init`, and only read afterwards.
struct Once<T>(UnsafeCell<Option<T>>);

// SAFETY: a PD is one thread; `set` runs once in `run` before anything reads.
unsafe impl<T> Sync for Once<T> {}

impl<T> Once<T> {
    const fn new() -> Self {
        Once(UnsafeCell::new(None))
    }

    fn set(&self, value: T) {
        // SAFETY: called once, at start-up, before any `get` (single thread), so no reference to
        // the contents exists yet.
        unsafe { *self.0.get() = Some(value) };
    }

    fn get(&self) -> Option<&T> {
        // SAFETY: after `set` the contents never change again, so shared references are sound.
        unsafe { (*self.0.get()).as_ref() }
    }
}

static INFO: Once<PdInfo> = Once::new();
/// Whether the PD is inside `Handler::protected` (a call it makes then saves the reply first).
static SERVING: AtomicBool = AtomicBool::new(false);
/// Whether the reply capability of the call being served is in `SLOT_SAVED_REPLY`.
static REPLY_SAVED: AtomicBool = AtomicBool::new(false);
/// The alarm deadline the PD set last, [`NO_ALARM`] when none.
static ALARM_NS: AtomicU64 = AtomicU64::new(NO_ALARM);
const NO_ALARM: u64 = u64::MAX;
const _: () = assert!(layout::ALARM_BADGE == 1 << crate::ALARM_ID);

fn info() -> &'static PdInfo {
    match INFO.get() {
        Some(i) => i,
        None => startup_failure("the runtime was used before the PD started (call it from init or a handler)"),
    }
}

/// Read the PdInfo the initializer wrote into the IPC buffer frame.
fn read_pd_info() -> Option<PdInfo> {
    let mut bytes = [0u8; layout::PD_INFO_BYTES];
    let base = (IPC_BUFFER_VADDR as usize + layout::PD_INFO_OFFSET) as *const u8;
    for (i, b) in bytes.iter_mut().enumerate() {
        // SAFETY: PD_INFO_OFFSET + PD_INFO_BYTES lies inside the IPC buffer frame (asserted in
        // layout.rs), which is mapped readable; the kernel never writes past its first 1 KiB.
        *b = unsafe { base.add(i).read_volatile() };
    }
    PdInfo::decode(&bytes)
}

/// A fixed buffer as a `core::fmt` sink (text to the monitor); cuts what does not fit.
struct Text {
    bytes: [u8; layout::MONITOR_BYTES_MAX],
    len: usize,
}

impl Text {
    const fn new() -> Text {
        Text { bytes: [0; layout::MONITOR_BYTES_MAX], len: 0 }
    }
}

impl core::fmt::Write for Text {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let n = s.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// Call the monitor with `label` and `bytes` (length first, then the bytes packed).
fn monitor_bytes(label: MonitorLabel, bytes: &[u8]) {
    let ipc = ipc();
    let n = bytes.len().min(layout::MONITOR_BYTES_MAX);
    let mut regs = [n as u64, 0, 0, 0];
    for (i, chunk) in bytes[..n].chunks(8).enumerate() {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        let w = u64::from_le_bytes(w);
        if 1 + i < abi::MSG_REGISTERS_IN_CPU {
            regs[1 + i] = w;
        } else {
            ipc.set_mr(1 + i, w);
        }
    }
    let words = 1 + n.div_ceil(8);
    syscalls::call(layout::SLOT_MONITOR, message_info(label as u64, 0, words as u64), regs);
}

/// Stop this PD with a message to the monitor; the monitor never answers. Out of line, so that
/// its text buffer is not part of every caller's stack frame.
#[cold]
#[inline(never)]
fn stop(label: MonitorLabel, args: core::fmt::Arguments) -> ! {
    let mut t = Text::new();
    let _ = t.write_fmt(args);
    monitor_bytes(label, &t.bytes[..t.len]);
    // The monitor does not reply to these; should it ever, stay stopped.
    loop {
        syscalls::recv(layout::SLOT_INPUT, 0);
    }
}

#[cold]
#[inline(never)]
fn startup_failure(msg: &str) -> ! {
    stop(MonitorLabel::Panic, format_args!("start-up failed: {msg}"))
}

#[cold]
#[inline(never)]
fn violation(args: core::fmt::Arguments) -> ! {
    stop(MonitorLabel::Violation, args)
}

/// Read the Message of a call or a reply `r` into `m`; false when it is not one (wrong seL4
/// label, no Rampart label, more than 64 words), and then `m` is left as it was.
#[inline]
fn read_message(r: &Received, m: &mut Message) -> bool {
    let len = r.length();
    if r.label() != layout::LABEL_PPC || len == 0 || len - 1 > MAX_MESSAGE_WORDS {
        return false;
    }
    let ipc = ipc();
    // In place, and only the `len - 1` words that arrived (at most 64: checked above, so this
    // cannot fail).
    m.set_from_fn(r.mr[0], len - 1, |i| ipc.received_mr(r, 1 + i)).is_ok()
}

/// Load `m` as the message registers of the next send; its info word.
#[inline]
fn load_message(m: &Message) -> (u64, [u64; 4]) {
    let ipc = ipc();
    let words = m.words();
    let mut regs = [m.label(), 0, 0, 0];
    for (i, w) in words.iter().enumerate() {
        if 1 + i < abi::MSG_REGISTERS_IN_CPU {
            regs[1 + i] = *w;
        } else {
            ipc.set_mr(1 + i, *w);
        }
    }
    (message_info(layout::LABEL_PPC, 0, 1 + words.len() as u64), regs)
}

/// Start the PD: read its boot information, init, serve. Never returns.
///
/// Stack: a PD's stack is what system.xml gives it (4 KiB by default, as in Microkit), so the
/// loop keeps its own frame small: the message being served lives in a static, and serving a
/// call is a function of its own.
pub fn run<H: Handler>(init: fn() -> H) -> ! {
    let Some(pd_info) = read_pd_info() else { startup_failure("no PD information in the IPC buffer frame") };
    INFO.set(pd_info);
    logger::start();
    // Keep the tombstone in the program (the monitor finds it by its symbol).
    core::hint::black_box(rampart_sel4_tombstone as extern "C" fn() -> ! as usize);
    let mut handler = init();
    syscalls::call(layout::SLOT_MONITOR, message_info(MonitorLabel::InitDone as u64, 0, 0), [0; 4]);

    let serves = pd_info.serves_calls;
    let mut reply: Option<(u64, [u64; 4])> = None;
    loop {
        let r = match reply.take() {
            Some((info, regs)) => syscalls::reply_recv(layout::SLOT_INPUT, info | syscalls::RECV_SENTINEL_INFO, regs),
            None => syscalls::recv(layout::SLOT_INPUT, syscalls::RECV_SENTINEL_INFO),
        };
        if !serves || syscalls::is_sentinel(r.info) {
            // Channel bits come from peers' capabilities (ids 0 to 62), the alarm bit only from
            // the monitor's.
            let mut set = ChannelSet(r.badge);
            if set.alarm() {
                // The monitor's bit: the alarm, or a child's fault.
                child_faults(&mut handler);
            }
            if set.alarm() && !alarm_due() {
                set = ChannelSet(set.0 & !layout::ALARM_BADGE);
            }
            if !set.is_empty() {
                handler.notified(set);
            }
            continue;
        }
        let (info, regs) = serve_call(&mut handler, &r);
        if REPLY_SAVED.load(Ordering::Relaxed) {
            answer_call(info, regs);
        } else {
            reply = Some((info, regs));
        }
    }
}

/// Hand every pending child fault to `Handler::fault` and tell the monitor the decisions.
#[inline(never)]
fn child_faults<H: Handler>(handler: &mut H) {
    loop {
        let r = syscalls::call(layout::SLOT_MONITOR, message_info(MonitorLabel::ChildFault as u64, 0, 0), [0; 4]);
        if r.mr[0] != 1 {
            return;
        }
        // The monitor is trusted, but its words are still decoded into types once, here.
        let kind = FaultKind::from_code(r.mr[2]).unwrap_or(FaultKind::Exit);
        let child = r.mr[1] as u8;
        let decision = match handler.fault(Child(child), &Fault { kind, code: r.mr[3] }) {
            Ok(FaultAction::Restart) => Decision::Restart.code(),
            Ok(FaultAction::Stop) => Decision::Hold.code(),
            Err(_) => unhandled_fault(child),
        };
        let decision = u64::from(decision);
        syscalls::call(layout::SLOT_MONITOR, message_info(MonitorLabel::FaultDecision as u64, 0, 2), [u64::from(child), decision, 0, 0]);
    }
}

#[cold]
#[inline(never)]
fn unhandled_fault(child: u8) -> ! {
    panic!("PD `{}` was told that its child {child} faulted but does not handle child faults (implement Handler::fault)", info_name())
}

/// Where the monitor sends the thread of a PD that stopped (a fault, a panic, a violation), on a
/// fresh frame at the top of its stack: answer the call the PD was serving, if any, with
/// `LABEL_CALL_FAILED` (only this thread can: the kernel keeps the caller's reply capability in
/// it), tell the monitor, then answer every further call with `LABEL_CALL_FAILED` until the
/// monitor rebuilds the PD or for good. Uses only this PD's statics, its IPC buffer and a few
/// words of stack.
#[no_mangle]
pub extern "C" fn rampart_sel4_tombstone() -> ! {
    let (failed_info, failed_regs) = load_message(&Message::new(LABEL_CALL_FAILED));
    if SERVING.swap(false, Ordering::Relaxed) {
        answer_call(failed_info, failed_regs);
    }
    syscalls::send(layout::SLOT_MONITOR, message_info(MonitorLabel::Tombstone as u64, 0, 0), [0; 4]);
    let serves = INFO.get().is_some_and(|i| i.serves_calls);
    let mut r = syscalls::recv(layout::SLOT_INPUT, syscalls::RECV_SENTINEL_INFO);
    loop {
        r = if serves && !syscalls::is_sentinel(r.info) {
            syscalls::reply_recv(layout::SLOT_INPUT, failed_info | syscalls::RECV_SENTINEL_INFO, failed_regs)
        } else {
            syscalls::recv(layout::SLOT_INPUT, syscalls::RECV_SENTINEL_INFO)
        };
    }
}

/// The message being served (a PD serves one call at a time).
struct Incoming(UnsafeCell<Message>);

// SAFETY: a PD is one thread, and `serve_call` (the only user) is not re-entered: a handler
// cannot receive while it serves.
unsafe impl Sync for Incoming {}

static INCOMING: Incoming = Incoming(UnsafeCell::new(Message::new(0)));

/// Serve the protected procedure call `r` (its badge is this PD's id of the channel); the reply
/// to send.
#[inline(never)]
fn serve_call<H: Handler>(handler: &mut H, r: &Received) -> (u64, [u64; 4]) {
    let channel = (r.badge & 0x3f) as u8;
    // SAFETY: see `Incoming`: this is the only reference to the message while the call is served.
    let incoming = unsafe { &mut *INCOMING.0.get() };
    if !read_message(r, incoming) {
        return load_message(&Message::new(LABEL_MALFORMED));
    }
    SERVING.store(true, Ordering::Relaxed);
    let result = handler.protected(channel, incoming);
    SERVING.store(false, Ordering::Relaxed);
    match result {
        Ok(answer) => load_message(&answer),
        Err(_) => {
            let (info, regs) = load_message(&Message::new(LABEL_CALL_FAILED));
            answer_call(info, regs);
            unhandled_call(channel)
        }
    }
}

#[cold]
#[inline(never)]
fn unhandled_call(channel: u8) -> ! {
    panic!("PD `{}` received a protected procedure call on channel {channel} but does not handle calls (implement Handler::protected)", info_name())
}

/// Answer the call being served now, through the saved reply capability if there is one.
fn answer_call(info: u64, regs: [u64; 4]) {
    if REPLY_SAVED.swap(false, Ordering::Relaxed) {
        syscalls::send(layout::SLOT_SAVED_REPLY, info, regs);
    } else {
        syscalls::reply(info, regs);
    }
}

fn info_name() -> &'static str {
    INFO.get().map_or("?", |i| i.name())
}

/// Microseconds on the PD clock for log timestamps; 0 before the PD has started.
pub(crate) fn now_us_or_zero() -> u64 {
    if INFO.get().is_some() {
        now_ns() / 1000
    } else {
        0
    }
}

pub(crate) fn pd_name() -> &'static str {
    info().name()
}

pub(crate) fn notify(id: u8) {
    let i = info();
    if id > 62 || i.may_notify & (1 << id) == 0 {
        violation(format_args!("PD `{}` tried to notify channel {id}, which it may not notify", i.name()));
    }
    syscalls::signal(layout::SLOT_NOTIFY_BASE + u64::from(id));
}

pub(crate) fn pp_call(id: u8, m: &Message) -> Message {
    let i = info();
    if id > 62 || i.may_call & (1 << id) == 0 {
        violation(format_args!("PD `{}` tried a protected procedure call on channel {id}, which it may not call", i.name()));
    }
    if SERVING.load(Ordering::Relaxed) && !REPLY_SAVED.load(Ordering::Relaxed) {
        // The call below would overwrite the implicit reply capability of the call being served.
        let depth = abi::WORD_BITS;
        let r = syscalls::call(layout::SLOT_CNODE, message_info(abi::LABEL_CNODE_SAVE_CALLER, 0, 2), [layout::SLOT_SAVED_REPLY, depth, 0, 0]);
        if r.label() != 0 {
            violation(format_args!("PD `{}` could not save its reply capability: seL4 error {}", i.name(), r.label()));
        }
        REPLY_SAVED.store(true, Ordering::Relaxed);
    }
    let (info, regs) = load_message(m);
    let r = syscalls::call(layout::SLOT_CALL_BASE + u64::from(id), info, regs);
    let mut answer = Message::new(LABEL_MALFORMED);
    if !read_message(&r, &mut answer) {
        // `read_message` leaves the message as it was when it refuses one.
        return Message::new(LABEL_MALFORMED);
    }
    answer
}

pub(crate) use io::{ioport_in, ioport_out, irq_ack};

pub(crate) fn now_ns() -> u64 {
    let i = info();
    let ticks = syscalls::rdtsc().saturating_sub(i.clock_origin_tsc);
    if i.tsc_mhz == 0 {
        return 0;
    }
    // ticks / (MHz / 1000) ns, in 128 bits so that it cannot overflow.
    (u128::from(ticks) * 1000 / u128::from(i.tsc_mhz)) as u64
}

/// `clock::cycles`: the TSC.
pub(crate) fn cycles() -> u64 {
    syscalls::rdtsc()
}

pub(crate) fn set_alarm(deadline_ns: Option<u64>) {
    let deadline = deadline_ns.map_or(NO_ALARM, |d| d.min(NO_ALARM - 1));
    ALARM_NS.store(deadline, Ordering::Relaxed);
    let r = syscalls::call(layout::SLOT_MONITOR, message_info(MonitorLabel::SetAlarm as u64, 0, 1), [deadline, 0, 0, 0]);
    if r.label() == layout::ALARM_REFUSED {
        panic!("clock::set_alarm: this system gives the PIT to a timer PD, so the monitor serves no alarms; set timeouts through the timer PD (rampart_runtime::timeout)");
    }
}

/// Whether the alarm signal in a notification is the current alarm's: a signal for an alarm
/// that was moved or cancelled after the monitor sent it is dropped, so an alarm never arrives
/// before its deadline (the monitor signals again for the new one).
fn alarm_due() -> bool {
    let deadline = ALARM_NS.load(Ordering::Relaxed);
    if deadline != NO_ALARM && now_ns() >= deadline {
        ALARM_NS.store(NO_ALARM, Ordering::Relaxed);
        true
    } else {
        false
    }
}

pub(crate) fn exit_system(status: u8) -> ! {
    syscalls::call(layout::SLOT_MONITOR, message_info(MonitorLabel::Exit as u64, 0, 1), [u64::from(status), 0, 0, 0]);
    loop {
        syscalls::recv(layout::SLOT_INPUT, 0);
    }
}

/// The PD's heap: the arena `pd_main!(init, heap_bytes = N)` reserved, empty by default (then
/// every allocation fails, which panics with "memory allocation of N bytes failed" and stops the
/// PD with that message). See `crate::heap`.
#[global_allocator]
static HEAP: crate::heap::PdHeap = crate::heap::PdHeap::new();

/// A panic stops the PD. If it panicked while serving a call, the caller gets
/// `LABEL_CALL_FAILED` first instead of waiting for ever.
#[panic_handler]
fn panic(panic: &core::panic::PanicInfo) -> ! {
    if SERVING.swap(false, Ordering::Relaxed) {
        let (info, regs) = load_message(&Message::new(LABEL_CALL_FAILED));
        answer_call(info, regs);
    }
    stop(MonitorLabel::Panic, format_args!("{panic}"))
}

/// The entry point of a PD program on seL4, placed in the program by `pd_main!` (a symbol in a
/// library might not be linked): the initializer starts the thread here with RSP at the top of
/// its stack; align it as the System V ABI wants at a call and call `main(0, NULL)`, which never
/// returns.
#[doc(hidden)]
#[macro_export]
macro_rules! __entry {
    () => {
        ::core::arch::global_asm!(
            ".text",
            ".globl _start",
            ".type _start,@function",
            "_start:",
            "    xor ebp, ebp",
            "    and rsp, -16",
            "    xor edi, edi",
            "    xor esi, esi",
            "    call main",
            "    ud2",
        );
    };
}

/// `RDRAND`, when CPUID says the CPU has it (leaf 1, ECX bit 30); each draw is retried a few
/// times, as Intel's guidance says, since it may transiently report no data.
pub(crate) fn entropy(out: &mut [u8]) -> Result<(), crate::entropy::NoEntropy> {
    const RETRIES: u32 = 10;
    // CPUID leaf 1 exists on every x86_64 CPU.
    let ecx = core::arch::x86_64::__cpuid(1).ecx;
    if ecx & (1 << 30) == 0 {
        return Err(crate::entropy::NoEntropy);
    }
    for chunk in out.chunks_mut(8) {
        let mut got = None;
        for _ in 0..RETRIES {
            let mut v = 0u64;
            // SAFETY: CPUID reported RDRAND above.
            if unsafe { core::arch::x86_64::_rdrand64_step(&mut v) } == 1 {
                got = Some(v);
                break;
            }
        }
        let v = got.ok_or(crate::entropy::NoEntropy)?;
        chunk.copy_from_slice(&v.to_le_bytes()[..chunk.len()]);
    }
    Ok(())
}
