//! The monitor: what the root task becomes once every PD runs. It waits on its endpoint, above
//! every PD's priority, for two kinds of message:
//!
//! - requests from PDs (badge = PD index, label a [`MonitorLabel`]): init done, a defmt log frame
//!   (printed as one `rampart-log` line, which the tool decodes), the end of the system (the
//!   status goes to QEMU's exit port), a panic or a capability violation (reported; the PD
//!   stops), a parent's questions and decisions about its children's faults;
//! - faults (badge [`layout::MONITOR_BADGE_FAULT`] | PD index, label the fault type), reported
//!   with the PD's name, the fault and its address; the PD stops.
//!
//! It also keeps each PD's alarm: a `SetAlarm` request records the deadline, and the timer
//! ([`crate::arch::Timer`], whose interrupt signals the monitor's bound notification) is armed for the
//! earliest one; when a deadline passes, the monitor signals that PD's notification with
//! [`layout::ALARM_BADGE`].
//!
//! **A PD that stops** (fault, panic, violation) goes through three steps:
//!
//! 1. *Tombstone.* The monitor points the PD's thread at the runtime's tombstone
//!    (`rampart_sel4_tombstone`, found in the program's symbol table) on a fresh stack frame and
//!    resumes it. The tombstone answers the call the PD was serving, if any, with
//!    `LABEL_CALL_FAILED` (the kernel keeps that caller's reply capability in the PD's thread, so
//!    only the thread itself can answer it), tells the monitor (`Tombstone`), and from then on
//!    answers every call that reaches it with `LABEL_CALL_FAILED`: no caller stays blocked on a
//!    dead PD. (A program without the symbol is suspended instead.)
//! 2. *Decision*, by the supervision core ([`rampart_supervision::Supervision`], the policy the
//!    hosted supervisor drives too): the monitor reports the fault when it arrives
//!    ([`Supervision::fault`]) and the end of the old life when the tombstone reports (or at once
//!    without one, [`Supervision::stopped`]), and carries out the [`Action`]s it gets back. A
//!    child PD's fault goes to its parent: the monitor signals the parent's notification with the
//!    alarm bit; the parent's runtime asks (`ChildFault`, [`Supervision::take_child_fault`]), runs
//!    `Handler::fault` and answers (`FaultDecision`, decoded once with [`Decision::from_code`]; a
//!    code no runtime sends is reported and ignored). A restart needs the parent's
//!    `rampart:restart_children` grant and stays within the per-parent rate limit
//!    ([`rampart_supervision::PARENT_RESTARTS_MAX`]); otherwise the child is held. Any other PD
//!    (or a child whose parent is not running) gets the policy from the system image: restart
//!    (at most [`rampart_supervision::RESTARTS_MAX`] times in
//!    [`rampart_supervision::RESTART_WINDOW_NS`] on the system clock, then hold) or hold.
//! 3. *Restart* ([`crate::builder::Builder::rebuild`], which revokes the previous life's objects
//!    when they live in the PD's restart arena): a fresh VSpace, CSpace and TCB, the
//!    program loaded again from the pristine ELF file embedded in the image into fresh frames,
//!    fresh stack and IPC buffer, the same shared regions, notification and endpoint; the old
//!    thread and VSpace are deleted. *Hold*: the tombstone keeps failing calls.
//!
//! When every PD is held, the system ends with status 1.
//!
//! **Authority.** Only a PD with the `rampart:exit_system` grant ends the system (`Exit`); any
//! other PD that asks is reported and stopped as a confinement fault, and the system runs on.
//!
//! **What a PD cannot do to the console.** Text a PD supplies (panic and violation messages) is
//! printed through [`Sanitized`]: control characters are escaped, so a PD cannot start a line of
//! its own or overwrite another's. Log frames are printed as hexadecimal (the tool decodes and
//! sanitises them), at most [`LOG_FRAMES_PER_WINDOW_MAX`] frames and [`LOG_BYTES_PER_WINDOW_MAX`]
//! bytes per PD per [`LOG_WINDOW_NS`] of the system clock; frames over that budget are dropped
//! without printing (the PD's call still returns at once), counted, and the count is reported
//! once per window, so a PD that logs without pause costs the monitor a receive and a reply per
//! frame, not a console line, and cannot crowd out the other PDs.

use crate::abi;
use crate::arch::{self, PageSize};
use crate::builder::{Builder, System};
use crate::layout::{self, MonitorLabel};
use crate::syscalls::{self, message_info, CPtr, IpcBuffer, Received};
use crate::Console;
use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write;
use rampart_spec::SystemSpec;
use rampart_supervision::{
    Action, Actions, Decision, ExitVerdict, Fault, FaultKind, HoldReason, Policy, RestartReason, Sanitized, Supervision, PARENT_RESTARTS_MAX, RESTARTS_MAX,
    RESTART_WINDOW_NS,
};

/// The window over which each PD's log budget is counted, in nanoseconds of the system clock.
pub const LOG_WINDOW_NS: u64 = 100_000_000;
/// Log frames the monitor prints for one PD within [`LOG_WINDOW_NS`]; more are dropped.
pub const LOG_FRAMES_PER_WINDOW_MAX: u32 = 64;
/// Bytes of log frames the monitor prints for one PD within [`LOG_WINDOW_NS`] (each frame is at
/// most [`layout::MONITOR_BYTES_MAX`] bytes, and two console characters per byte); more are
/// dropped.
pub const LOG_BYTES_PER_WINDOW_MAX: usize = 8 * 1024;
/// Actions the monitor can have waiting at once without allocating (the queue grows past it).
const ACTIONS_QUEUED_MAX: usize = 128;

/// One PD's log budget in the current window.
#[derive(Clone, Copy, Default)]
struct LogBudget {
    /// When the window started, on the system clock.
    window_start_ns: u64,
    frames: u32,
    bytes: usize,
    /// Frames dropped in this window, not reported yet.
    dropped: u64,
}

/// The monitor's state.
pub struct Monitor {
    ipc: IpcBuffer,
    system: System,
    builder: Builder,
    spec: SystemSpec,
    /// Each PD's pristine program (ELF file) in the embedded image.
    programs: Vec<&'static [u8]>,
    /// The tombstone's address in each PD's program.
    tombstones: Vec<Option<u64>>,
    exit_port: CPtr,
    tsc_mhz: u64,
    start_tsc: u64,
    init_done: Vec<bool>,
    /// The lives of the PDs, their restart limits, the parents' decisions and the exit authority.
    supervision: Supervision,
    /// Whether each PD's thread runs its tombstone, which has not reported yet.
    dying: Vec<bool>,
    /// Lives each PD has started (1 at boot).
    lives: Vec<u64>,
    /// Each PD's alarm deadline on the system clock, [`NO_ALARM`] when none is set.
    alarms: Vec<u64>,
    logs: Vec<LogBudget>,
    /// Actions of the supervision core not carried out yet (its capacity is kept, so that serving
    /// a fault does not grow the root task's bump heap).
    work: VecDeque<Action>,
    all_init_reported: bool,
}

/// No alarm set.
const NO_ALARM: u64 = u64::MAX;

impl Monitor {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ipc: IpcBuffer,
        system: System,
        builder: Builder,
        spec: SystemSpec,
        programs: Vec<&'static [u8]>,
        hold_policy: bool,
        exit_port: CPtr,
        tsc_mhz: u64,
        start_tsc: u64,
    ) -> Monitor {
        let n = system.pds.len();
        let tombstones = programs.iter().map(|p| crate::elf::Program::parse(p).ok().and_then(|p| p.symbol(layout::TOMBSTONE_SYMBOL))).collect();
        let supervision = Supervision::new(&spec, if hold_policy { Policy::Hold } else { Policy::Restart });
        Monitor {
            ipc,
            system,
            builder,
            spec,
            programs,
            tombstones,
            exit_port,
            tsc_mhz,
            start_tsc,
            init_done: vec![false; n],
            supervision,
            dying: vec![false; n],
            lives: vec![1; n],
            alarms: vec![NO_ALARM; n],
            logs: vec![LogBudget::default(); n],
            work: VecDeque::with_capacity(ACTIONS_QUEUED_MAX),
            all_init_reported: false,
        }
    }

    /// Nanoseconds since the root task started: the system clock, as every PD computes it.
    fn now_ns(&self) -> u64 {
        let ticks = syscalls::timestamp().saturating_sub(self.start_tsc);
        if self.tsc_mhz == 0 {
            return 0;
        }
        (u128::from(ticks) * 1000 / u128::from(self.tsc_mhz)) as u64
    }

    /// Signal every PD whose alarm is due, then arm the timer for the earliest one left.
    fn alarms_due(&mut self) {
        let n = self.system.pds.len();
        loop {
            let now = self.now_ns();
            let mut next = NO_ALARM;
            for pd in 0..n {
                let deadline = self.alarms[pd];
                if deadline == NO_ALARM || !self.supervision.running(pd) {
                    continue;
                }
                if deadline <= now {
                    self.alarms[pd] = NO_ALARM;
                    syscalls::signal(self.system.pds[pd].alarm);
                } else {
                    next = next.min(deadline);
                }
            }
            if next == NO_ALARM {
                return;
            }
            let now = self.now_ns();
            if next > now {
                if let Some(timer) = &self.system.timer {
                    timer.arm(&self.ipc, next - now);
                }
                return;
            }
        }
    }

    /// Microseconds since the root task started.
    fn elapsed_us(&self) -> u64 {
        self.now_ns() / 1000
    }

    fn name(&self, pd: usize) -> &str {
        &self.system.pds[pd].name
    }

    /// Serve requests and faults until the system ends.
    pub fn run(mut self) -> ! {
        let endpoint: CPtr = self.system.monitor_endpoint;
        let mut reply: Option<(u64, [u64; 4])> = None;
        loop {
            let r = match reply.take() {
                Some((info, regs)) => syscalls::reply_recv(endpoint, info | syscalls::RECV_SENTINEL_INFO, regs),
                None => syscalls::recv(endpoint, syscalls::RECV_SENTINEL_INFO),
            };
            if syscalls::is_sentinel(r.info) {
                // The bound notification: the timer's interrupt.
                if r.badge & layout::TIMER_BADGE != 0 {
                    if let Some(timer) = &self.system.timer {
                        timer.ack(&self.ipc);
                    }
                    self.alarms_due();
                }
                continue;
            }
            let pd = (r.badge & layout::MONITOR_BADGE_PD_MASK) as usize;
            if pd >= self.system.pds.len() {
                continue;
            }
            let empty = Some((0, [0; 4]));
            if r.badge & layout::MONITOR_BADGE_FAULT != 0 {
                let code = self.report_fault(pd, &r);
                self.stop(pd, Fault { kind: FaultKind::Crash, code });
                continue;
            }
            match MonitorLabel::from_label(r.label()) {
                Some(MonitorLabel::InitDone) => {
                    self.init_done(pd);
                    reply = empty;
                }
                Some(MonitorLabel::SetAlarm) if self.system.timer.is_none() => {
                    // A timer PD owns the PIT: refuse, and let the runtime say so in the PD.
                    reply = Some((message_info(layout::ALARM_REFUSED, 0, 0), [0; 4]));
                }
                Some(MonitorLabel::SetAlarm) => {
                    self.alarms[pd] = r.mr[0];
                    self.alarms_due();
                    reply = empty;
                }
                Some(MonitorLabel::Log) => {
                    self.log(pd, &r);
                    reply = empty;
                }
                Some(MonitorLabel::Exit) => {
                    let status = r.mr[0] as u8;
                    match self.supervision.exit_request(pd, status) {
                        ExitVerdict::End(status) => {
                            self.report_dropped_logs();
                            println!("rampart: PD `{}` ended the system with status {status}", self.name(pd));
                            crate::exit(self.exit_port, status);
                        }
                        ExitVerdict::Refused => {
                            println!(
                                "rampart: PD `{}` tried to end the system (status {status}) without the rampart:exit_system grant; stopping it",
                                self.name(pd)
                            );
                            self.stop(pd, Fault { kind: FaultKind::Confinement, code: u64::from(status) });
                        }
                    }
                }
                Some(MonitorLabel::Panic) => {
                    let mut text = [0u8; layout::MONITOR_BYTES_MAX];
                    let t = self.bytes(&r, &mut text);
                    println!("rampart: PD `{}` panicked: {}", self.name(pd), OneLine(t));
                    self.stop(pd, Fault { kind: FaultKind::Panic, code: 0 });
                }
                Some(MonitorLabel::Violation) => {
                    let mut text = [0u8; layout::MONITOR_BYTES_MAX];
                    let t = self.bytes(&r, &mut text);
                    println!("rampart: PD `{}` stopped for a capability violation: {}", self.name(pd), OneLine(t));
                    self.stop(pd, Fault { kind: FaultKind::Confinement, code: 0 });
                }
                Some(MonitorLabel::Tombstone) => {
                    // A send: nothing to answer.
                    if self.dying[pd] {
                        self.dying[pd] = false;
                        self.stopped(pd);
                    }
                }
                Some(MonitorLabel::ChildFault) => {
                    let mut regs = [0u64; 4];
                    if let Some((id, fault)) = self.supervision.take_child_fault(pd) {
                        regs = [1, u64::from(id), u64::from(fault.kind.code()), fault.code];
                    }
                    reply = Some((message_info(0, 0, 4), regs));
                }
                Some(MonitorLabel::FaultDecision) => {
                    self.child_decision(pd, r.mr[0], r.mr[1]);
                    // A parent stopped for a bad decision gets no answer (it is in its tombstone).
                    if self.supervision.running(pd) {
                        reply = empty;
                    }
                }
                None => {
                    println!("rampart: PD `{}` sent the monitor an unknown request (label {:#x}); it stays blocked", self.name(pd), r.label());
                }
            }
        }
    }

    fn init_done(&mut self, pd: usize) {
        self.init_done[pd] = true;
        let n = self.system.pds.len();
        if !self.all_init_reported && (0..n).all(|i| self.init_done[i] || !self.supervision.running(i)) {
            self.all_init_reported = true;
            println!("{} ({} us after the root task started)", layout::ALL_INIT_DONE_LINE, self.elapsed_us());
        }
    }

    /// PD `pd` stopped with `fault` (already reported): tell the supervision core, send the PD
    /// to its tombstone, and once it is there (or at once without one) let the core decide.
    fn stop(&mut self, pd: usize, fault: Fault) {
        if !self.supervision.fault(pd, fault) {
            // Not running: a fault in its tombstone, or a stray report.
            if self.dying[pd] {
                println!("rampart: PD `{}` faulted in its tombstone; its callers may stay blocked", self.name(pd));
                self.dying[pd] = false;
                self.tombstones[pd] = None;
                let _ = crate::sys::tcb_suspend(&self.ipc, self.system.pds[pd].tcb);
                self.stopped(pd);
            } else {
                let _ = crate::sys::tcb_suspend(&self.ipc, self.system.pds[pd].tcb);
            }
            return;
        }
        self.alarms[pd] = NO_ALARM;
        self.init_done[pd] = false;
        if let Some(tomb) = self.tombstones[pd] {
            // On a fresh frame at the top of its stack, as if called.
            let regs = arch::start_registers(tomb, arch::call_frame_sp(self.spec.arch.stack_top()));
            match crate::sys::tcb_write_registers(&self.ipc, self.system.pds[pd].tcb, true, &regs) {
                Ok(()) => {
                    self.dying[pd] = true;
                    return;
                }
                Err(e) => println!("rampart: cannot send PD `{}` to its tombstone: seL4 error {e}", self.name(pd)),
            }
        }
        let _ = crate::sys::tcb_suspend(&self.ipc, self.system.pds[pd].tcb);
        self.stopped(pd);
    }

    /// PD `pd`'s old life is gone: the supervision core decides.
    fn stopped(&mut self, pd: usize) {
        let now = self.now_ns();
        let actions = self.supervision.stopped(pd, Fault { kind: FaultKind::Exit, code: 0 }, now);
        self.carry_out(actions);
    }

    /// A parent's decision about its child `child_id`, as it came over the wire. The runtime only
    /// decides about children the monitor named, with [`Decision::code`]s: anything else is the
    /// parent's violation (reported once, and the parent stops, so garbage cannot flood the
    /// console), never acted on.
    fn child_decision(&mut self, parent: usize, child_id: u64, code: u64) {
        let Some(child) = u8::try_from(child_id).ok().and_then(|id| self.supervision.child(parent, id)) else {
            println!("rampart: PD `{}` stopped for a violation: it decided about child {child_id}, which it does not have", self.name(parent));
            self.stop(parent, Fault { kind: FaultKind::Confinement, code: child_id });
            return;
        };
        let Some(decision) = Decision::from_code(code) else {
            println!(
                "rampart: PD `{}` stopped for a violation: it sent decision code {code} about its child `{}`, which no runtime sends",
                self.name(parent),
                self.name(child)
            );
            self.stop(parent, Fault { kind: FaultKind::Confinement, code });
            return;
        };
        let now = self.now_ns();
        let actions = self.supervision.decision(parent, child_id as u8, decision, now);
        self.carry_out(actions);
    }

    /// Carry out the supervision core's actions (and those that follow from them).
    fn carry_out(&mut self, actions: Actions) {
        self.work.extend(actions);
        while let Some(action) = self.work.pop_front() {
            match action {
                Action::TellParent { parent } => syscalls::signal(self.system.pds[parent].alarm),
                Action::Restart { pd, reason } => {
                    let why = match reason {
                        RestartReason::Policy => "restart policy",
                        RestartReason::ParentAsked => "its parent asked",
                    };
                    if self.restart(pd, why) {
                        self.supervision.restarted(pd);
                        // Faults of its children may have waited for it while it was down: its new
                        // life asks on the alarm bit (and gets none if there is none).
                        if self.spec.pds.iter().any(|c| c.parent.is_some_and(|(p, _)| usize::from(p) == pd)) {
                            syscalls::signal(self.system.pds[pd].alarm);
                        }
                    } else {
                        let now = self.now_ns();
                        let more = self.supervision.restart_failed(pd, now);
                        self.work.extend(more);
                    }
                }
                Action::Hold { pd, reason } => self.hold(pd, reason),
                Action::EndSystem { status, by } => {
                    self.report_dropped_logs();
                    match by {
                        Some(by) => println!("rampart: PD `{}` ended the system with status {status}", self.name(by)),
                        None => println!("rampart: every PD has stopped; ending the system with status {status}"),
                    }
                    crate::exit(self.exit_port, status);
                }
            }
        }
    }

    /// Rebuild PD `pd` from its pristine program into fresh memory and start it; whether it runs.
    fn restart(&mut self, pd: usize, why: &str) -> bool {
        let started = syscalls::timestamp();
        let used_before = self.builder.memory_used_bytes();
        match self.builder.rebuild(&self.spec, pd, self.programs[pd]) {
            Ok(r) => {
                let us = (syscalls::timestamp() - started) / self.tsc_mhz.max(1);
                let p = &mut self.system.pds[pd];
                p.tcb = r.tcb;
                p.stack_bottom = r.stack_bottom;
                p.memory_bytes = r.memory_bytes;
                p.frames = r.frames;
                self.alarms[pd] = NO_ALARM;
                self.dying[pd] = false;
                self.lives[pd] += 1;
                println!(
                    "rampart: PD `{}` restarted ({why}), life {}: rebuilt from its pristine program into fresh memory in {us} us ({} frames, {} KiB of kernel objects and frames in its restart arena, {} KiB newly taken; {} KiB of untyped memory in use, {} slots)",
                    p.name,
                    self.lives[pd],
                    r.frames,
                    r.memory_bytes / 1024,
                    (self.builder.memory_used_bytes() - used_before) / 1024,
                    self.builder.memory_used_bytes() / 1024,
                    self.builder.slots_used()
                );
                true
            }
            Err(e) => {
                println!("rampart: cannot restart PD `{}`: {e}; holding it", self.name(pd));
                self.tombstones[pd] = None;
                let _ = crate::sys::tcb_suspend(&self.ipc, self.system.pds[pd].tcb);
                false
            }
        }
    }

    /// PD `pd` stays stopped: say why (its tombstone keeps failing its calls, else it is
    /// suspended).
    fn hold(&mut self, pd: usize, reason: HoldReason) {
        let name = self.name(pd);
        let parent = self.spec.pds[pd].parent.map_or("", |(p, _)| self.system.pds[usize::from(p)].name.as_str());
        let window_ms = RESTART_WINDOW_NS / 1_000_000;
        match reason {
            HoldReason::Policy => println!("rampart: holding PD `{name}` (restart policy: hold)"),
            HoldReason::RestartLimit => println!("rampart: holding PD `{name}`: it faulted again after {RESTARTS_MAX} restarts within {window_ms} ms"),
            HoldReason::ParentAsked => println!("rampart: holding PD `{name}` (its parent `{parent}` asked)"),
            HoldReason::ParentNotGranted => {
                println!("rampart: holding PD `{name}`: its parent `{parent}` asked for a restart but has no rampart:restart_children grant")
            }
            HoldReason::ParentRateLimit => println!(
                "rampart: holding PD `{name}`: its parent `{parent}` asked for more than {PARENT_RESTARTS_MAX} restarts within {window_ms} ms (the per-parent restart rate limit)"
            ),
            HoldReason::RestartFailed => {}
        }
        if self.tombstones[pd].is_none() {
            let _ = crate::sys::tcb_suspend(&self.ipc, self.system.pds[pd].tcb);
        }
    }

    /// A log frame from `pd`: printed if it fits the PD's budget for this window, else dropped
    /// and counted.
    fn log(&mut self, pd: usize, r: &Received) {
        let len = Self::frame_len(r);
        let now = self.now_ns();
        if now.saturating_sub(self.logs[pd].window_start_ns) >= LOG_WINDOW_NS {
            self.report_dropped_log(pd);
            self.logs[pd] = LogBudget { window_start_ns: now, frames: 0, bytes: 0, dropped: 0 };
        }
        let budget = &mut self.logs[pd];
        if budget.frames >= LOG_FRAMES_PER_WINDOW_MAX || budget.bytes + len > LOG_BYTES_PER_WINDOW_MAX {
            budget.dropped += 1;
            return;
        }
        budget.frames += 1;
        budget.bytes += len;
        self.print_log(pd, r, len);
    }

    /// Report the frames `pd` had dropped in its last window, if any.
    fn report_dropped_log(&mut self, pd: usize) {
        let dropped = core::mem::take(&mut self.logs[pd].dropped);
        if dropped > 0 {
            println!(
                "rampart: PD `{}`: {dropped} log frames dropped (over its log budget of {LOG_FRAMES_PER_WINDOW_MAX} frames and {LOG_BYTES_PER_WINDOW_MAX} bytes per {} ms)",
                self.name(pd),
                LOG_WINDOW_NS / 1_000_000
            );
        }
    }

    fn report_dropped_logs(&mut self) {
        for pd in 0..self.logs.len() {
            self.report_dropped_log(pd);
        }
    }

    /// The byte string of a Log, Panic or Violation message (word 0 its length).
    fn bytes<'b>(&self, r: &Received, out: &'b mut [u8; layout::MONITOR_BYTES_MAX]) -> &'b str {
        let len = (r.mr[0] as usize).min(layout::MONITOR_BYTES_MAX).min((r.length().saturating_sub(1)) * 8);
        for i in 0..len.div_ceil(8) {
            let w = self.ipc.received_mr(r, 1 + i).to_le_bytes();
            let n = (len - i * 8).min(8);
            out[i * 8..i * 8 + n].copy_from_slice(&w[..n]);
        }
        match core::str::from_utf8(&out[..len]) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(&out[..e.valid_up_to()]).unwrap_or(""),
        }
    }

    /// The length of a Log message's frame: as word 0 says, cut to [`layout::MONITOR_BYTES_MAX`]
    /// and to the words the message carries.
    fn frame_len(r: &Received) -> usize {
        (r.mr[0] as usize).min(layout::MONITOR_BYTES_MAX).min((r.length().saturating_sub(1)) * 8)
    }

    fn print_log(&self, pd: usize, r: &Received, len: usize) {
        let mut c = Console;
        let _ = write!(c, "{}{} ", layout::LOG_LINE_PREFIX, pd);
        for i in 0..len {
            let b = self.ipc.received_mr(r, 1 + i / 8).to_le_bytes()[i % 8];
            let _ = write!(c, "{b:02x}");
        }
        let _ = writeln!(c);
    }

    /// Report a fault; its code for a parent (the fault address, else 0).
    fn report_fault(&self, pd: usize, r: &Received) -> u64 {
        let p = &self.system.pds[pd];
        let mr = |i: usize| self.ipc.received_mr(r, i);
        match r.label() {
            abi::FAULT_VM => {
                let addr = mr(abi::VM_FAULT_ADDR);
                let ip = mr(abi::VM_FAULT_IP);
                let (access, why) = arch::describe_vm_fault(mr(abi::VM_FAULT_FSR), mr(abi::VM_FAULT_PREFETCH));
                let low = |a: u64| a & arch::VM_FAULT_ADDR_MASK;
                let guard = p.stack_bottom - PageSize::Small.bytes();
                let hint = if (low(guard)..low(guard) + PageSize::Small.bytes()).contains(&low(addr)) {
                    ": the guard page below its stack, so a stack overflow (raise stack_size in system.xml)"
                } else {
                    ""
                };
                println!(
                    "rampart: PD `{}` faulted: memory fault, {access} at {addr:#x}{}, {why}{hint}; instruction at {ip:#x}",
                    p.name,
                    arch::VM_FAULT_ADDR_NOTE
                );
            }
            abi::FAULT_CAP => {
                println!(
                    "rampart: PD `{}` faulted: capability fault on capability {:#x}, instruction at {:#x}",
                    p.name,
                    mr(abi::CAP_FAULT_ADDR),
                    mr(abi::CAP_FAULT_IP)
                );
            }
            abi::FAULT_USER_EXCEPTION => {
                println!(
                    "rampart: PD `{}` faulted: CPU exception {} (error code {:#x}), instruction at {:#x}",
                    p.name,
                    mr(abi::USER_EXCEPTION_NUMBER),
                    mr(abi::USER_EXCEPTION_CODE),
                    mr(abi::USER_EXCEPTION_IP)
                );
            }
            abi::FAULT_UNKNOWN_SYSCALL => {
                println!("rampart: PD `{}` faulted: unknown system call, instruction at {:#x}", p.name, mr(abi::UNKNOWN_SYSCALL_IP));
            }
            other => println!("rampart: PD `{}` faulted: fault type {other}", p.name),
        }
        if r.label() == abi::FAULT_VM {
            mr(abi::VM_FAULT_ADDR)
        } else {
            0
        }
    }
}

/// Text a PD supplied, on one console line: line breaks become ": ", or a space after a colon (a
/// panic message has one after its location), so that every report is one line; every other
/// control character is escaped ([`Sanitized`]), so that the PD cannot pass as another.
struct OneLine<'a>(&'a str);

impl core::fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut previous: Option<&str> = None;
        for part in self.0.split('\n') {
            if let Some(p) = previous {
                f.write_str(if p.ends_with(':') { " " } else { ": " })?;
            }
            write!(f, "{}", Sanitized(part))?;
            previous = Some(part);
        }
        Ok(())
    }
}
