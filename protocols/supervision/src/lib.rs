//! Supervision: the one policy for the lives of PDs, shared by the hosted supervisor
//! (`src/hosted.rs`) and the seL4 monitor (`runtime/sel4-root/src/monitor.rs`).
//!
//! A sans-IO state machine: the backend reports what happened (a PD faulted, its old life is gone,
//! a parent decided, a PD asked to end the system, a restart succeeded or failed) with the time on
//! its own clock, and gets back [`Action`]s to carry out (tell a parent, restart a PD, hold it, end
//! the system). No clock, no I/O, no allocation after [`Supervision::new`] except the bounded
//! queues it owns, so the policy and its tests are written once.
//!
//! What it guarantees:
//! - **Authority is declared.** Ending the system needs the `exit_system` grant; a PD without it
//!   that asks is faulted ([`FaultKind::Confinement`]) and the system runs on. A parent's decision
//!   to restart a child needs the `restart_children` grant; without it the child is held. A PD that
//!   decides about a child that is not its own, or not waiting for a decision, changes nothing.
//! - **Restarts are rate-limited**: by the policy at most [`RESTARTS_MAX`] per PD within
//!   [`RESTART_WINDOW_NS`], and at the request of a parent at most [`PARENT_RESTARTS_MAX`] per
//!   parent (over all its children) in the same window. Past either limit the PD is held.
//! - **Life transitions are checked**: Running → Stopping → (AwaitParent →) Running or Held; a
//!   report that does not fit the PD's life is ignored (and counted), never a panic.
//! - When every PD is held the system ends with [`EXIT_ALL_STOPPED`].
//!
//! It also owns the typed records that cross a backend's edge ([`FaultKind`], [`Decision`]) with
//! their wire codes, decoded once, and [`Sanitized`], the escaping of text a PD writes.
#![no_std]

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use rampart_spec::{Grants, SystemSpec};

/// Restarts the policy allows one PD within [`RESTART_WINDOW_NS`] before it is held.
pub const RESTARTS_MAX: usize = 5;
/// The window over which restarts are counted, in nanoseconds.
pub const RESTART_WINDOW_NS: u64 = 10_000_000_000;
/// Restarts one parent may ask for (over all its children) within [`RESTART_WINDOW_NS`].
pub const PARENT_RESTARTS_MAX: usize = 20;
/// Exit status when every PD has stopped.
pub const EXIT_ALL_STOPPED: u8 = 1;
/// Child faults queued for one parent at most (a parent has at most 63 children, each with at most
/// one fault waiting).
pub const PENDING_PER_PARENT_MAX: usize = 63;

/// Why a PD stopped, as its parent learns it. The wire code is [`FaultKind::code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FaultKind {
    /// It panicked or returned an error from a handler.
    Panic,
    /// It was killed by a signal or a hardware exception (memory fault, illegal instruction).
    Crash,
    /// It tried something its confinement forbids: a system call, a channel, or an authority
    /// (ending the system) it was not given.
    Confinement,
    /// It exited on its own.
    Exit,
}

impl FaultKind {
    /// The code on the wire (the same on both backends).
    pub const fn code(self) -> u8 {
        match self {
            FaultKind::Panic => 0,
            FaultKind::Crash => 1,
            FaultKind::Confinement => 2,
            FaultKind::Exit => 3,
        }
    }

    /// Decode a wire code; `None` for a code no backend sends.
    pub const fn from_code(code: u64) -> Option<FaultKind> {
        Some(match code {
            0 => FaultKind::Panic,
            1 => FaultKind::Crash,
            2 => FaultKind::Confinement,
            3 => FaultKind::Exit,
            _ => return None,
        })
    }
}

/// A fault: its kind and a code (signal number, exit status or fault address, by kind).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub code: u64,
}

/// A parent's decision about a faulted child. The wire code is [`Decision::code`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Start it again from its pristine program with fresh private memory.
    Restart,
    /// Leave it stopped.
    Hold,
}

impl Decision {
    pub const fn code(self) -> u8 {
        match self {
            Decision::Restart => 1,
            Decision::Hold => 2,
        }
    }

    /// Decode a wire code; `None` for anything else (a hostile parent's garbage).
    pub const fn from_code(code: u64) -> Option<Decision> {
        match code {
            1 => Some(Decision::Restart),
            2 => Some(Decision::Hold),
            _ => None,
        }
    }
}

/// What to do with a top-level PD that faults (or a child whose parent cannot decide).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Restart, within the rate limit.
    Restart,
    /// Leave it stopped.
    Hold,
}

/// Where a PD is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Life {
    Running,
    /// It faulted; its old life is being taken down (a process reaped, a thread sent to its
    /// tombstone) and nothing is decided yet.
    Stopping,
    /// Stopped; its parent has been told and has not decided yet.
    AwaitParent,
    /// Being started again (the backend reports [`Supervision::restarted`] or
    /// [`Supervision::restart_failed`]).
    Restarting,
    /// Stopped for good.
    Held,
}

/// Why a PD is restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartReason {
    Policy,
    ParentAsked,
}

/// Why a PD is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldReason {
    /// `--restart hold`.
    Policy,
    /// It faulted again after [`RESTARTS_MAX`] restarts within the window.
    RestartLimit,
    /// Its parent decided to hold it.
    ParentAsked,
    /// Its parent asked for a restart without the `restart_children` grant.
    ParentNotGranted,
    /// Its parent asked for more than [`PARENT_RESTARTS_MAX`] restarts within the window.
    ParentRateLimit,
    /// Starting it again failed.
    RestartFailed,
}

/// What the backend must do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Tell `parent` that it has a child fault waiting ([`Supervision::take_child_fault`]).
    TellParent { parent: usize },
    /// Start `pd` again from its pristine program; then report [`Supervision::restarted`] or
    /// [`Supervision::restart_failed`].
    Restart { pd: usize, reason: RestartReason },
    /// `pd` stays stopped (its calls keep failing).
    Hold { pd: usize, reason: HoldReason },
    /// End the system with this status; `by` is the PD that ended it (`None`: every PD stopped).
    EndSystem { status: u8, by: Option<usize> },
}

/// The answer to a PD that asks to end the system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitVerdict {
    /// It holds the grant: end the system with this status.
    End(u8),
    /// It does not: fault it as a confinement violation (report it, then [`Supervision::fault`]).
    Refused,
}

/// Actions produced by one event (at most a handful: a hold, the orphans it frees, the end).
pub type Actions = Vec<Action>;

struct Pd {
    life: Life,
    parent: Option<(usize, u8)>,
    grants: Grants,
    last_fault: Option<Fault>,
    /// System-clock times of policy restarts within the window.
    restarts: VecDeque<u64>,
    /// For parents: times of restarts this PD asked for within the window.
    parent_restarts: VecDeque<u64>,
    /// For parents: children whose faults wait for this PD to ask.
    pending: VecDeque<usize>,
}

/// The supervision state of one system.
pub struct Supervision {
    pds: Vec<Pd>,
    policy: Policy,
    /// Reports that did not fit a PD's life (ignored).
    ignored: u64,
}

impl Supervision {
    /// Every PD of `spec` starts as running.
    pub fn new(spec: &SystemSpec, policy: Policy) -> Supervision {
        let pds = spec
            .pds
            .iter()
            .map(|p| Pd {
                life: Life::Running,
                parent: p.parent.map(|(parent, id)| (usize::from(parent), id)),
                grants: p.grants,
                last_fault: None,
                restarts: VecDeque::new(),
                parent_restarts: VecDeque::new(),
                pending: VecDeque::new(),
            })
            .collect();
        Supervision { pds, policy, ignored: 0 }
    }

    pub fn life(&self, pd: usize) -> Option<Life> {
        self.pds.get(pd).map(|p| p.life)
    }

    pub fn last_fault(&self, pd: usize) -> Option<Fault> {
        self.pds.get(pd).and_then(|p| p.last_fault)
    }

    /// Reports that did not fit the PD's life and were ignored.
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// Whether `pd` is running.
    pub fn running(&self, pd: usize) -> bool {
        self.life(pd) == Some(Life::Running)
    }

    /// The PD that is `parent`'s child with id `child_id`.
    pub fn child(&self, parent: usize, child_id: u8) -> Option<usize> {
        self.pds.iter().position(|p| p.parent == Some((parent, child_id)))
    }

    /// `pd` asks to end the system with `status`.
    pub fn exit_request(&self, pd: usize, status: u8) -> ExitVerdict {
        match self.pds.get(pd) {
            Some(p) if p.grants.exit_system && p.life == Life::Running => ExitVerdict::End(status),
            _ => ExitVerdict::Refused,
        }
    }

    /// `pd` faulted (the first report of this life counts; later ones are ignored). Its old life is
    /// being taken down: call [`Supervision::stopped`] once it is gone.
    pub fn fault(&mut self, pd: usize, fault: Fault) -> bool {
        let Some(p) = self.pds.get_mut(pd) else { return false };
        if p.life != Life::Running {
            self.ignored += 1;
            return false;
        }
        p.life = Life::Stopping;
        p.last_fault = Some(fault);
        true
    }

    /// `pd`'s old life is gone (the process reaped, the tombstone reported): decide. A PD that
    /// stopped with no fault reported first is taken as `fallback`.
    pub fn stopped(&mut self, pd: usize, fallback: Fault, now_ns: u64) -> Actions {
        let mut out = Actions::new();
        let Some(p) = self.pds.get_mut(pd) else { return out };
        match p.life {
            Life::Running => {
                p.life = Life::Stopping;
                p.last_fault = Some(fallback);
            }
            Life::Stopping => {}
            _ => {
                self.ignored += 1;
                return out;
            }
        }
        self.decide(pd, now_ns, &mut out);
        out
    }

    fn decide(&mut self, pd: usize, now_ns: u64, out: &mut Actions) {
        debug_assert_eq!(self.pds[pd].life, Life::Stopping);
        if let Some((parent, _)) = self.pds[pd].parent {
            if self.pds[parent].life == Life::Running && self.pds[parent].pending.len() < PENDING_PER_PARENT_MAX {
                self.pds[pd].life = Life::AwaitParent;
                self.pds[parent].pending.push_back(pd);
                out.push(Action::TellParent { parent });
                return;
            }
        }
        if self.policy == Policy::Hold {
            return self.hold(pd, HoldReason::Policy, now_ns, out);
        }
        let p = &mut self.pds[pd];
        expire(&mut p.restarts, now_ns);
        if p.restarts.len() >= RESTARTS_MAX {
            return self.hold(pd, HoldReason::RestartLimit, now_ns, out);
        }
        p.restarts.push_back(now_ns);
        p.life = Life::Restarting;
        out.push(Action::Restart { pd, reason: RestartReason::Policy });
    }

    /// The next child fault waiting for `parent`: the child's id and its fault.
    pub fn take_child_fault(&mut self, parent: usize) -> Option<(u8, Fault)> {
        loop {
            let child = self.pds.get_mut(parent)?.pending.pop_front()?;
            let c = &self.pds[child];
            if c.life != Life::AwaitParent {
                continue;
            }
            let (_, id) = c.parent?;
            return Some((id, c.last_fault.unwrap_or(Fault { kind: FaultKind::Exit, code: 0 })));
        }
    }

    /// `parent` decided about its child `child_id`.
    pub fn decision(&mut self, parent: usize, child_id: u8, decision: Decision, now_ns: u64) -> Actions {
        let mut out = Actions::new();
        let Some(child) = self.child(parent, child_id) else {
            self.ignored += 1;
            return out;
        };
        if self.pds[child].life != Life::AwaitParent || self.pds[parent].life != Life::Running {
            self.ignored += 1;
            return out;
        }
        self.pds[parent].pending.retain(|&c| c != child);
        match decision {
            Decision::Hold => self.hold(child, HoldReason::ParentAsked, now_ns, &mut out),
            Decision::Restart if !self.pds[parent].grants.restart_children => self.hold(child, HoldReason::ParentNotGranted, now_ns, &mut out),
            Decision::Restart => {
                let p = &mut self.pds[parent];
                expire(&mut p.parent_restarts, now_ns);
                if p.parent_restarts.len() >= PARENT_RESTARTS_MAX {
                    self.hold(child, HoldReason::ParentRateLimit, now_ns, &mut out);
                } else {
                    p.parent_restarts.push_back(now_ns);
                    self.pds[child].life = Life::Restarting;
                    out.push(Action::Restart { pd: child, reason: RestartReason::ParentAsked });
                }
            }
        }
        out
    }

    /// A restart of `pd` succeeded: it runs again.
    pub fn restarted(&mut self, pd: usize) {
        match self.pds.get_mut(pd) {
            Some(p) if p.life == Life::Restarting => p.life = Life::Running,
            _ => self.ignored += 1,
        }
    }

    /// A restart of `pd` failed: it is held.
    pub fn restart_failed(&mut self, pd: usize, now_ns: u64) -> Actions {
        let mut out = Actions::new();
        if self.pds.get(pd).map(|p| p.life) == Some(Life::Restarting) {
            self.hold(pd, HoldReason::RestartFailed, now_ns, &mut out);
        } else {
            self.ignored += 1;
        }
        out
    }

    fn hold(&mut self, pd: usize, reason: HoldReason, now_ns: u64, out: &mut Actions) {
        self.pds[pd].life = Life::Held;
        out.push(Action::Hold { pd, reason });
        // Its children's waiting faults now go by the policy.
        let orphans: Vec<usize> = self.pds[pd].pending.drain(..).collect();
        for c in orphans {
            if self.pds[c].life == Life::AwaitParent {
                self.pds[c].life = Life::Stopping;
                self.decide(c, now_ns, out);
            }
        }
        if self.pds.iter().all(|p| p.life == Life::Held) && !out.iter().any(|a| matches!(a, Action::EndSystem { .. })) {
            out.push(Action::EndSystem { status: EXIT_ALL_STOPPED, by: None });
        }
    }
}

/// Drop the times that fell out of the window.
fn expire(times: &mut VecDeque<u64>, now_ns: u64) {
    while times.front().is_some_and(|&t| now_ns.saturating_sub(t) >= RESTART_WINDOW_NS) {
        times.pop_front();
    }
}

/// Text a PD wrote, for a console line that only the supervisor prefixes: control characters
/// (line breaks, carriage returns, escape sequences, DEL, C1 controls) are shown escaped
/// (`\r`, `\u{1b}`), so a PD can neither start a new line nor move the cursor over its prefix to
/// pass as another PD. Printable text, tabs included, is shown as it is.
pub struct Sanitized<'a>(pub &'a str);

impl core::fmt::Display for Sanitized<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(|c: char| c.is_control() && c != '\t') {
            f.write_str(&rest[..at])?;
            let c = rest[at..].chars().next().unwrap_or('\0');
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                c => write!(f, "\\u{{{:x}}}", u32::from(c))?,
            }
            rest = &rest[at + c.len_utf8()..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests;
