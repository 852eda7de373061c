//! The properties checked in every reachable state.
//!
//! Safety (`always`): agreement, validity, exactly-once, client safety, no panic in a core.
//! Liveness (`always`, over a continuation): see [`crate::liveness`].
//! Sanity (`sometimes`): the exploration reaches completions and view changes, so the safety
//! results are not vacuous.

use std::collections::BTreeMap;

use stateright::Property;

use crate::config::ModelConfig;
use crate::model::{MinBftModel, State};

/// Every property of a configuration.
pub fn all(cfg: &ModelConfig) -> Vec<Property<MinBftModel>> {
    let mut p = vec![
        Property::always("agreement", agreement),
        Property::always("validity", validity),
        Property::always("exactly-once", exactly_once),
        Property::always("client safety", client_safety),
        Property::always("no panic in the core", |_, s: &State| s.history.panic.is_none()),
        Property::always("liveness after faults stop", crate::liveness::live_from),
        Property::sometimes("a request completes", |_, s: &State| !s.history.accepted.is_empty()),
        Property::sometimes("every client completes its workload", |m: &MinBftModel, s: &State| m.workload_done(s)),
    ];
    if cfg.expect_view_change {
        p.push(Property::sometimes("a correct replica enters view 1", |_, s: &State| s.history.view_entered_max >= 1));
    }
    if cfg.byzantine.is_some() {
        p.push(Property::sometimes("a request executes under the Byzantine primary", |_, s: &State| s.history.executed_under_byzantine_primary));
    }
    if cfg.restarts_max > 0 {
        p.push(Property::sometimes("a restarted replica catches up (restores or executes)", |_, s: &State| s.history.restarted_caught_up));
    }
    if cfg.reaches_checkpoint() {
        // A replica's certified log, once a checkpoint is stable, starts at its own Checkpoint
        // for it; the workload sends nothing after its last checkpoint, so a log of one entry
        // means everything below the checkpoint was collected.
        p.push(Property::sometimes("a checkpoint becomes stable after execution and the log is collected", |_, s: &State| {
            s.replicas.iter().any(|r| match r {
                crate::model::ReplicaSlot::Correct(n) => n.replica.stable_checkpoint().seq >= 1 && n.replica.sent_log_len() == 1,
                _ => false,
            })
        }));
    }
    p
}

/// Every life's execution log: the current lives', then the earlier lives' of restarted replicas.
fn lives(s: &State) -> impl Iterator<Item = &Vec<(u64, usize, u64, u64)>> {
    s.history.executed.iter().chain(s.history.earlier_lives.iter().map(|(_, log)| log))
}

/// No two correct replicas (nor one replica twice, in any of its lives) execute different
/// requests at the same (seq, index).
pub fn agreement(_: &MinBftModel, s: &State) -> bool {
    let mut at: BTreeMap<(u64, usize), (u64, u64)> = BTreeMap::new();
    for log in lives(s) {
        for &(seq, index, client, request_id) in log {
            if *at.entry((seq, index)).or_insert((client, request_id)) != (client, request_id) {
                return false;
            }
        }
    }
    true
}

/// Only requests that a client submitted execute.
pub fn validity(_: &MinBftModel, s: &State) -> bool {
    lives(s).flatten().all(|&(_, _, c, r)| s.history.submitted.contains(&(c, r)))
}

/// No life of a correct replica executes a (client, request id) twice. (A restarted life
/// restores a snapshot and executes from there: what an earlier life executed is not applied to
/// its state again, which agreement and client safety check.)
pub fn exactly_once(_: &MinBftModel, s: &State) -> bool {
    lives(s).all(|log| {
        let mut ids: Vec<(u64, u64)> = log.iter().map(|&(_, _, c, r)| (c, r)).collect();
        ids.sort_unstable();
        ids.windows(2).all(|w| w[0] != w[1])
    })
}

/// Correct replicas agree on every request's result, and a client accepts only that result.
pub fn client_safety(_: &MinBftModel, s: &State) -> bool {
    s.history.correct_results.values().all(|r| r.len() == 1)
        && s.history.accepted.iter().all(|(c, r, result)| s.history.correct_results.get(&(*c, *r)).is_some_and(|set| set.contains(result)))
}
