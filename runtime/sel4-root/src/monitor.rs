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
//! 2. *Decision.* A child PD's fault goes to its parent: the monitor queues it and signals the
//!    parent's notification with the alarm bit; the parent's runtime asks (`ChildFault`), runs
//!    `Handler::fault` and answers (`FaultDecision`). Any other PD (or a child whose parent is
//!    not running) gets the policy from the system image: restart (at most
//!    [`layout::RESTARTS_MAX`] times in [`layout::RESTART_WINDOW_NS`] on the system clock, then
//!    hold) or hold.
//! 3. *Restart* ([`crate::builder::Builder::rebuild`], which revokes the previous life's objects
//!    when they live in the PD's restart arena): a fresh VSpace, CSpace and TCB, the
//!    program loaded again from the pristine ELF file embedded in the image into fresh frames,
//!    fresh stack and IPC buffer, the same shared regions, notification and endpoint; the old
//!    thread and VSpace are deleted. *Hold*: the tombstone keeps failing calls.
//!
//! When every PD is held, the system ends with status 1.

use crate::abi;
use crate::arch::{self, PageSize};
use crate::builder::{Builder, System};
use crate::layout::{self, fault_code, MonitorLabel};
use crate::syscalls::{self, message_info, CPtr, IpcBuffer, Received};
use crate::Console;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write;
use rampart_spec::SystemSpec;

/// Exit status when every PD has stopped.
pub const EXIT_ALL_STOPPED: u8 = 1;

/// Where a PD is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Life {
    Running,
    /// Stopped; its thread runs the tombstone, which has not reported yet.
    Dying,
    /// Stopped; its parent has been told and has not decided yet.
    AwaitParent,
    /// Stopped for good (the tombstone fails its calls).
    Held,
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
    /// `--restart hold`.
    hold_policy: bool,
    exit_port: CPtr,
    tsc_mhz: u64,
    start_tsc: u64,
    init_done: Vec<bool>,
    life: Vec<Life>,
    /// The last fault of each PD: (fault code, code).
    last_fault: Vec<(u64, u64)>,
    /// The system clock at each policy restart of each PD within the window.
    restarts: Vec<Vec<u64>>,
    /// Lives each PD has started (1 at boot).
    lives: Vec<u64>,
    /// Child faults waiting for their parent to ask: (parent, child).
    pending: Vec<(usize, usize)>,
    /// Each PD's alarm deadline on the system clock, [`NO_ALARM`] when none is set.
    alarms: Vec<u64>,
    all_init_reported: bool,
}

/// No alarm set.
const NO_ALARM: u64 = u64::MAX;

impl Monitor {
    #[allow(clippy::too_many_arguments)]
    pub fn new(ipc: IpcBuffer, system: System, builder: Builder, spec: SystemSpec, programs: Vec<&'static [u8]>, hold_policy: bool, exit_port: CPtr, tsc_mhz: u64, start_tsc: u64) -> Monitor {
        let n = system.pds.len();
        let tombstones = programs.iter().map(|p| crate::elf::Program::parse(p).ok().and_then(|p| p.symbol(layout::TOMBSTONE_SYMBOL))).collect();
        Monitor {
            ipc,
            system,
            builder,
            spec,
            programs,
            tombstones,
            hold_policy,
            exit_port,
            tsc_mhz,
            start_tsc,
            init_done: vec![false; n],
            life: vec![Life::Running; n],
            last_fault: vec![(0, 0); n],
            restarts: vec![Vec::new(); n],
            lives: vec![1; n],
            pending: Vec::new(),
            alarms: vec![NO_ALARM; n],
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
                if deadline == NO_ALARM || self.life[pd] != Life::Running {
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
                self.stopped(pd, fault_code::CRASH, code);
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
                    self.print_log(pd, &r);
                    reply = empty;
                }
                Some(MonitorLabel::Exit) => {
                    let status = r.mr[0] as u8;
                    println!("rampart: PD `{}` ended the system with status {status}", self.system.pds[pd].name);
                    crate::exit(self.exit_port, status);
                }
                Some(MonitorLabel::Panic) => {
                    let mut text = [0u8; layout::MONITOR_BYTES_MAX];
                    let t = self.bytes(&r, &mut text);
                    println!("rampart: PD `{}` panicked: {}", self.system.pds[pd].name, OneLine(t));
                    self.stopped(pd, fault_code::PANIC, 0);
                }
                Some(MonitorLabel::Violation) => {
                    let mut text = [0u8; layout::MONITOR_BYTES_MAX];
                    let t = self.bytes(&r, &mut text);
                    println!("rampart: PD `{}` stopped for a capability violation: {}", self.system.pds[pd].name, OneLine(t));
                    self.stopped(pd, fault_code::CONFINEMENT, 0);
                }
                Some(MonitorLabel::Tombstone) => {
                    // A send: nothing to answer.
                    if self.life[pd] == Life::Dying {
                        self.decide(pd);
                    }
                }
                Some(MonitorLabel::ChildFault) => {
                    let mut regs = [0u64; 4];
                    if let Some(k) = self.pending.iter().position(|&(p, _)| p == pd) {
                        let (_, child) = self.pending.remove(k);
                        let id = self.spec.pds[child].parent.map_or(0, |(_, id)| id);
                        let (kind, code) = self.last_fault[child];
                        regs = [1, u64::from(id), kind, code];
                    }
                    reply = Some((message_info(0, 0, 4), regs));
                }
                Some(MonitorLabel::FaultDecision) => {
                    self.child_decision(pd, r.mr[0], r.mr[1] == 0);
                    reply = empty;
                }
                None => {
                    println!("rampart: PD `{}` sent the monitor an unknown request (label {:#x}); it stays blocked", self.system.pds[pd].name, r.label());
                }
            }
        }
    }

    fn init_done(&mut self, pd: usize) {
        self.init_done[pd] = true;
        let n = self.system.pds.len();
        if !self.all_init_reported && (0..n).all(|i| self.init_done[i] || self.life[i] != Life::Running) {
            self.all_init_reported = true;
            println!("{} ({} us after the root task started)", layout::ALL_INIT_DONE_LINE, self.elapsed_us());
        }
    }

    /// PD `pd` stopped (its fault is reported): send it to its tombstone, then decide.
    fn stopped(&mut self, pd: usize, kind: u64, code: u64) {
        match self.life[pd] {
            Life::Running => {
                self.last_fault[pd] = (kind, code);
                self.alarms[pd] = NO_ALARM;
                if let Some(tomb) = self.tombstones[pd] {
                    // On a fresh frame at the top of its stack, as if called.
                    let regs = arch::start_registers(tomb, arch::call_frame_sp(self.spec.arch.stack_top()));
                    match crate::sys::tcb_write_registers(&self.ipc, self.system.pds[pd].tcb, true, &regs) {
                        Ok(()) => {
                            self.life[pd] = Life::Dying;
                            return;
                        }
                        Err(e) => println!("rampart: cannot send PD `{}` to its tombstone: seL4 error {e}", self.system.pds[pd].name),
                    }
                }
                let _ = crate::sys::tcb_suspend(&self.ipc, self.system.pds[pd].tcb);
                self.decide(pd);
            }
            Life::Dying => {
                // It faulted again in its tombstone: stop the thread, decide on the first fault.
                println!("rampart: PD `{}` faulted in its tombstone; its callers may stay blocked", self.system.pds[pd].name);
                self.tombstones[pd] = None;
                let _ = crate::sys::tcb_suspend(&self.ipc, self.system.pds[pd].tcb);
                self.decide(pd);
            }
            Life::AwaitParent | Life::Held => {
                let _ = crate::sys::tcb_suspend(&self.ipc, self.system.pds[pd].tcb);
            }
        }
    }

    /// Its parent decides, else the policy.
    fn decide(&mut self, pd: usize) {
        self.init_done[pd] = false;
        if let Some((parent, _)) = self.spec.pds[pd].parent {
            let parent = usize::from(parent);
            if self.life[parent] == Life::Running {
                self.life[pd] = Life::AwaitParent;
                self.pending.push((parent, pd));
                syscalls::signal(self.system.pds[parent].alarm);
                return;
            }
        }
        let name = &self.system.pds[pd].name;
        if self.hold_policy {
            println!("rampart: holding PD `{name}` (restart policy: hold)");
            return self.hold(pd);
        }
        let now = self.now_ns();
        self.restarts[pd].retain(|&t| now.saturating_sub(t) < layout::RESTART_WINDOW_NS);
        if self.restarts[pd].len() >= layout::RESTARTS_MAX {
            println!("rampart: holding PD `{name}`: it faulted again after {} restarts within {} ms", layout::RESTARTS_MAX, layout::RESTART_WINDOW_NS / 1_000_000);
            return self.hold(pd);
        }
        self.restarts[pd].push(now);
        self.restart(pd, "restart policy");
    }

    fn child_decision(&mut self, parent: usize, child_id: u64, restart: bool) {
        let Some(c) = (0..self.spec.pds.len()).find(|&c| self.spec.pds[c].parent.is_some_and(|(p, id)| usize::from(p) == parent && u64::from(id) == child_id)) else {
            println!("rampart: PD `{}` decided about child {child_id}, which it does not have", self.system.pds[parent].name);
            return;
        };
        if self.life[c] != Life::AwaitParent {
            return;
        }
        if restart {
            self.restart(c, "its parent asked");
        } else {
            println!("rampart: holding PD `{}` (its parent `{}` asked)", self.system.pds[c].name, self.system.pds[parent].name);
            self.hold(c);
        }
    }

    /// Rebuild PD `pd` from its pristine program into fresh memory and start it.
    fn restart(&mut self, pd: usize, why: &str) {
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
                self.life[pd] = Life::Running;
                self.alarms[pd] = NO_ALARM;
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
            }
            Err(e) => {
                println!("rampart: cannot restart PD `{}`: {e}; holding it", self.system.pds[pd].name);
                self.tombstones[pd] = None;
                let _ = crate::sys::tcb_suspend(&self.ipc, self.system.pds[pd].tcb);
                self.hold(pd);
            }
        }
    }

    fn hold(&mut self, pd: usize) {
        self.life[pd] = Life::Held;
        if self.tombstones[pd].is_none() {
            let _ = crate::sys::tcb_suspend(&self.ipc, self.system.pds[pd].tcb);
        }
        // Its children's pending faults now go by the policy.
        let orphans: Vec<usize> = self.pending.iter().filter(|&&(p, _)| p == pd).map(|&(_, c)| c).collect();
        self.pending.retain(|&(p, _)| p != pd);
        for c in orphans {
            self.decide(c);
        }
        if self.life.iter().all(|&l| l == Life::Held) {
            println!("rampart: every PD has stopped; ending the system with status {EXIT_ALL_STOPPED}");
            crate::exit(self.exit_port, EXIT_ALL_STOPPED);
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

    fn print_log(&self, pd: usize, r: &Received) {
        let len = (r.mr[0] as usize).min(layout::MONITOR_BYTES_MAX).min((r.length().saturating_sub(1)) * 8);
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
                println!("rampart: PD `{}` faulted: capability fault on capability {:#x}, instruction at {:#x}", p.name, mr(abi::CAP_FAULT_ADDR), mr(abi::CAP_FAULT_IP));
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

/// Text on one console line: line breaks become ": ", or a space after a colon (a panic message
/// has one after its location), so that every report is one line.
struct OneLine<'a>(&'a str);

impl core::fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut previous: Option<&str> = None;
        for part in self.0.split('\n') {
            if let Some(p) = previous {
                f.write_str(if p.ends_with(':') { " " } else { ": " })?;
            }
            f.write_str(part.trim_end_matches('\r'))?;
            previous = Some(part);
        }
        Ok(())
    }
}
