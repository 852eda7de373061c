//! Liveness as a checkable state property: a fair, synchronous continuation.
//!
//! # What it decides
//! From a given state, [`continuation`] runs the same cores on as if the network had become
//! synchronous and reliable: no more drops, duplications, premature timeouts or Byzantine
//! actions (the Byzantine replica falls silent: it reads what it is sent and sends nothing),
//! messages delivered in the order they were sent with no delay, and timers that expire only
//! when the network is quiescent, in deadline order, with the durations the cores asked for
//! (timers armed before the continuation starts are taken as set at its start). Clients submit
//! their remaining requests as soon as they may. The view bound of the exploration does not
//! apply here. The result says whether every client completed its whole workload.
//!
//! This is the "eventually synchronous" (GST) reading of liveness: whatever the adversary did
//! within its budgets, once it stops, every request completes. Checking it from every quiescent
//! reachable state is stronger than looking only at the exploration's terminal states, and
//! needs no fairness assumption inside the explored (adversarial) part.
//!
//! # Limits
//! [`CONTINUATION_STEPS_MAX`] deliveries and timer expiries, and [`CONTINUATION_TIME_MAX_MS`]
//! of simulated time: past either, the run counts as not completing (a finding to read: a
//! livelock, or a bound too tight).

use std::collections::BTreeMap;

use crate::model::{MinBftModel, Node, State, Timer};

/// Most deliveries plus timer expiries in one continuation.
pub const CONTINUATION_STEPS_MAX: usize = 20_000;
/// Most simulated time in one continuation.
pub const CONTINUATION_TIME_MAX_MS: u64 = 120_000;

/// How a continuation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every client completed its workload, at this simulated time.
    Completed { time_ms: u64, steps: usize },
    /// Nothing left to happen (no message, no timer) and the workload is not done.
    Stuck { time_ms: u64 },
    /// A bound ran out.
    OutOfBounds { time_ms: u64, steps: usize },
    /// A core panicked.
    Panicked(String),
}

fn nominal_duration_ms(t: Timer) -> u64 {
    use crate::model::*;
    use rampart_minbft::TimerKind;
    match t {
        Timer::Client => CLIENT_RETRANSMIT_TIMEOUT_MS,
        Timer::Replica(TimerKind::Request) => REQUEST_TIMEOUT_MS,
        Timer::Replica(TimerKind::ViewChange) => VIEW_CHANGE_TIMEOUT_MS,
        Timer::Replica(TimerKind::Status) => STATUS_INTERVAL_MS,
        Timer::Replica(TimerKind::StateTransfer) => STATE_TRANSFER_TIMEOUT_MS,
    }
}

fn apply_timer_log(s: &mut State, deadlines: &mut BTreeMap<(Node, Timer), u64>, now_ms: u64) {
    for (node, timer, set) in s.timer_log.drain(..) {
        match set {
            Some(d) => {
                deadlines.insert((node, timer), now_ms + d);
            }
            None => {
                deadlines.remove(&(node, timer));
            }
        }
    }
}

/// Runs the fair, synchronous continuation of `start` (see the module docs).
pub fn continuation(model: &MinBftModel, start: &State) -> Outcome {
    let mut s = start.clone();
    s.timer_log.clear();
    let mut deadlines: BTreeMap<(Node, Timer), u64> = s.timers.iter().map(|&(n, t)| ((n, t), nominal_duration_ms(t))).collect();
    let mut now_ms = 0;
    let mut steps = 0;
    loop {
        for c in 0..model.cfg.clients {
            if model.may_submit(&s, c) {
                model.submit(&mut s, c);
                apply_timer_log(&mut s, &mut deadlines, now_ms);
            }
        }
        while !s.network.is_empty() {
            let e = s.network.remove(0);
            model.deliver(&mut s, e);
            apply_timer_log(&mut s, &mut deadlines, now_ms);
            steps += 1;
            if let Some(p) = &s.history.panic {
                return Outcome::Panicked(p.clone());
            }
            if steps > CONTINUATION_STEPS_MAX {
                return Outcome::OutOfBounds { time_ms: now_ms, steps };
            }
            // A client that completed submits its next request at once.
            for c in 0..model.cfg.clients {
                if model.may_submit(&s, c) {
                    model.submit(&mut s, c);
                    apply_timer_log(&mut s, &mut deadlines, now_ms);
                }
            }
        }
        if model.workload_done(&s) {
            return Outcome::Completed { time_ms: now_ms, steps };
        }
        let Some(&next_ms) = deadlines.values().min() else {
            return Outcome::Stuck { time_ms: now_ms };
        };
        now_ms = next_ms.max(now_ms);
        if now_ms > CONTINUATION_TIME_MAX_MS {
            return Outcome::OutOfBounds { time_ms: now_ms, steps };
        }
        let due: Vec<(Node, Timer)> = deadlines.iter().filter(|(_, &d)| d <= now_ms).map(|(&k, _)| k).collect();
        for (node, timer) in due {
            // An earlier expiry in this batch may have re-armed or cancelled it.
            if deadlines.get(&(node, timer)).is_none_or(|&d| d > now_ms) {
                continue;
            }
            deadlines.remove(&(node, timer));
            s.timers.remove(&(node, timer));
            model.fire(&mut s, node, timer);
            apply_timer_log(&mut s, &mut deadlines, now_ms);
            steps += 1;
            if let Some(p) = &s.history.panic {
                return Outcome::Panicked(p.clone());
            }
        }
    }
}

/// The liveness property's predicate: from a quiescent state (nothing in flight), the
/// continuation completes every workload. Other states pass (each has quiescent successors
/// through deliveries alone, which the exploration visits).
pub fn live_from(model: &MinBftModel, s: &State) -> bool {
    if !model.cfg.check_liveness || !s.network.is_empty() || s.history.panic.is_some() {
        return true;
    }
    matches!(continuation(model, s), Outcome::Completed { .. })
}
