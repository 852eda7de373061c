//! The monitor: what the root task becomes once every PD runs. It waits on its endpoint, above
//! every PD's priority, for two kinds of message:
//!
//! - requests from PDs (badge = PD index, label a [`MonitorLabel`]): init done, a defmt log frame
//!   (printed as one `rampart-log` line, which the tool decodes), the end of the system (the
//!   status goes to QEMU's exit port), a panic or a capability violation (reported; the PD stays
//!   stopped, blocked on a reply that never comes);
//! - faults (badge [`layout::MONITOR_BADGE_FAULT`] | PD index, label the fault type), reported
//!   with the PD's name, the fault and its address; the PD stays stopped.
//!
//! It also keeps each PD's alarm: a `SetAlarm` request records the deadline, and the timer
//! ([`crate::timer`], whose interrupt signals the monitor's bound notification) is armed for the
//! earliest one; when a deadline passes, the monitor signals that PD's notification with
//! [`layout::ALARM_BADGE`].
//!
//! When every PD has stopped, the system ends with status 1. Not yet: restarting a PD (it needs
//! the initializer to rebuild one PD from a pristine copy of its image), and answering calls a
//! faulted PD was serving (its callers stay blocked).

use crate::abi;
use crate::builder::System;
use crate::layout::{self, MonitorLabel};
use crate::syscalls::{self, CPtr, IpcBuffer, Received};
use crate::Console;
use core::fmt::Write;

/// Exit status when every PD has stopped.
pub const EXIT_ALL_STOPPED: u8 = 1;

/// The monitor's state.
pub struct Monitor {
    ipc: IpcBuffer,
    system: System,
    exit_port: CPtr,
    tsc_mhz: u64,
    start_tsc: u64,
    init_done: [bool; rampart_spec::MAX_PDS],
    stopped: [bool; rampart_spec::MAX_PDS],
    /// Each PD's alarm deadline on the system clock, [`NO_ALARM`] when none is set.
    alarms: [u64; rampart_spec::MAX_PDS],
}

/// No alarm set.
const NO_ALARM: u64 = u64::MAX;

impl Monitor {
    pub fn new(ipc: IpcBuffer, system: System, exit_port: CPtr, tsc_mhz: u64, start_tsc: u64) -> Monitor {
        Monitor { ipc, system, exit_port, tsc_mhz, start_tsc, init_done: [false; rampart_spec::MAX_PDS], stopped: [false; rampart_spec::MAX_PDS], alarms: [NO_ALARM; rampart_spec::MAX_PDS] }
    }

    /// Nanoseconds since the root task started: the system clock, as every PD computes it.
    fn now_ns(&self) -> u64 {
        let ticks = syscalls::rdtsc().saturating_sub(self.start_tsc);
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
                if deadline == NO_ALARM || self.stopped[pd] {
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
                self.system.timer.arm(&self.ipc, next - now);
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
        let mut reply = false;
        loop {
            let r = if reply {
                syscalls::reply_recv(endpoint, syscalls::RECV_SENTINEL_INFO, [0; 4])
            } else {
                syscalls::recv(endpoint, syscalls::RECV_SENTINEL_INFO)
            };
            reply = false;
            if syscalls::is_sentinel(r.info) {
                // The bound notification: the timer's interrupt.
                if r.badge & layout::TIMER_BADGE != 0 {
                    self.system.timer.ack(&self.ipc);
                    self.alarms_due();
                }
                continue;
            }
            let pd = (r.badge & layout::MONITOR_BADGE_PD_MASK) as usize;
            if pd >= self.system.pds.len() {
                continue;
            }
            if r.badge & layout::MONITOR_BADGE_FAULT != 0 {
                self.report_fault(pd, &r);
                self.stop(pd);
                continue;
            }
            match MonitorLabel::from_label(r.label()) {
                Some(MonitorLabel::InitDone) => {
                    self.init_done(pd);
                    reply = true;
                }
                Some(MonitorLabel::SetAlarm) => {
                    self.alarms[pd] = r.mr[0];
                    self.alarms_due();
                    reply = true;
                }
                Some(MonitorLabel::Log) => {
                    self.print_log(pd, &r);
                    reply = true;
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
                    self.stop(pd);
                }
                Some(MonitorLabel::Violation) => {
                    let mut text = [0u8; layout::MONITOR_BYTES_MAX];
                    let t = self.bytes(&r, &mut text);
                    println!("rampart: PD `{}` stopped for a capability violation: {}", self.system.pds[pd].name, OneLine(t));
                    self.stop(pd);
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
        if (0..n).all(|i| self.init_done[i] || self.stopped[i]) {
            println!("{} ({} us after the root task started)", layout::ALL_INIT_DONE_LINE, self.elapsed_us());
        }
    }

    fn stop(&mut self, pd: usize) {
        self.stopped[pd] = true;
        // Not strictly needed (it waits for a reply that never comes), but a suspended thread
        // is plainly stopped in the kernel's own reports.
        let _ = crate::sys::tcb_suspend(&self.ipc, self.system.pds[pd].tcb);
        if (0..self.system.pds.len()).all(|i| self.stopped[i]) {
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

    fn report_fault(&self, pd: usize, r: &Received) {
        let p = &self.system.pds[pd];
        let mr = |i: usize| self.ipc.received_mr(r, i);
        match r.label() {
            abi::FAULT_VM => {
                let addr = mr(abi::VM_FAULT_ADDR);
                let ip = mr(abi::VM_FAULT_IP);
                // The x86 page-fault error code: bit 0 the page was present, 1 a write, 4 a fetch.
                let fsr = mr(abi::VM_FAULT_FSR);
                let access = if fsr & 0x10 != 0 || mr(abi::VM_FAULT_PREFETCH) != 0 {
                    "instruction fetch"
                } else if fsr & 0x2 != 0 {
                    "write"
                } else {
                    "read"
                };
                let why = if fsr & 0x1 != 0 { "not allowed by the mapping" } else { "nothing is mapped there" };
                // This kernel keeps only the low 32 bits of the fault address (`handleVMFault` in
                // src/arch/x86/kernel/vspace.c stores CR2 in a uint32_t), so compare those.
                let low = |a: u64| a & 0xffff_ffff;
                let guard = p.stack_bottom - (1 << abi::PAGE_BITS);
                let hint = if (low(guard)..low(guard) + (1 << abi::PAGE_BITS)).contains(&low(addr)) {
                    ": the guard page below its stack, so a stack overflow (raise stack_size in system.xml)"
                } else {
                    ""
                };
                println!(
                    "rampart: PD `{}` faulted: memory fault, {access} at {addr:#x} (the low 32 bits of the address: this kernel reports no more), {why}{hint}; instruction at {ip:#x}",
                    p.name
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
