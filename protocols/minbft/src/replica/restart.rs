//! Start, restarts and USIG epochs (recovery with amnesia: deviation 7 in the crate README; the
//! paper, Veronese et al., "Efficient Byzantine Fault-Tolerance", assumes replicas keep their
//! state).
//!
//! Every epoch starts with a Checkpoint of the replica's current state (deviation 5), the
//! anchor of its log. A replica restarted from a pristine image has a new USIG epoch (counters
//! from 1) and no memory: it fetches state (see [`super::state_transfer`]), cannot lead the
//! view it crashed in (its Prepares from an epoch other than the view's NewView are refused),
//! and sends no ViewChange until its stable checkpoint passes its amnesia floor (the highest
//! executed seq reported by f+1 others plus K * `CHECKPOINTS_AHEAD_MAX`), which bounds what it
//! may have said before the crash. `Input::EpochAccepted` moves a peer's stream to its new
//! epoch; earlier epochs' messages are then refused (`EpochNotAccepted`).

use alloc::collections::BTreeMap;

use crate::app::Application;
use crate::usig_port::UsigPort;
use crate::wire::ReplicaId;

use super::{Action, Out, Replica, TimerKind, CHECKPOINTS_AHEAD_MAX};

impl<A: Application + Clone> Replica<A> {
    pub(super) fn on_start(&mut self, usig: &mut impl UsigPort, recovering: bool, out: &mut Out) {
        if self.started {
            return;
        }
        self.started = true;
        // The first certified message of every epoch: a Checkpoint of the current (genesis)
        // state, which anchors our log.
        let cp = self.stable.clone();
        let snapshot = self.stable_snapshot.clone();
        self.own_checkpoints.insert(cp.seq, (cp.state_digest, snapshot));
        self.send_checkpoint(usig, cp.seq, cp.state_digest, out);
        if !recovering && self.view == 0 && self.primary_of(0) == self.config.me {
            self.view_leader_epoch = Some(self.my_epoch);
        }
        out.push(Action::SetTimer { kind: TimerKind::Status, duration_ms: self.config.status_interval_ms });
        if recovering {
            self.fetching = true;
            self.recovery = Some(Recovery { executed: BTreeMap::new(), floor: None });
            self.want_state(out);
        }
    }

    pub(super) fn on_epoch_accepted(&mut self, replica: ReplicaId, epoch: u64) {
        let i = replica.0 as usize;
        if i >= self.streams.len() || replica == self.config.me {
            return;
        }
        if self.accepted_epochs[i].is_some_and(|e| e >= epoch) {
            return;
        }
        let first = self.accepted_epochs[i].is_none();
        self.accepted_epochs[i] = Some(epoch);
        self.streams[i].reset(epoch);
        if first && self.view == 0 && self.new_view.is_none() && replica == self.primary_of(0) {
            self.view_leader_epoch = Some(epoch);
        }
    }

    /// While recovering, until the amnesia floor is known: peer `j` reported (in a StateReply)
    /// that it executed up to `executed_seq`. With f+1 reports the floor is set.
    pub(super) fn note_executed_report(&mut self, j: ReplicaId, executed_seq: u64) {
        let f = self.config.f as usize;
        let k = self.config.checkpoint_period;
        if let Some(rec) = &mut self.recovery {
            if rec.floor.is_none() {
                rec.executed.insert(j, executed_seq);
                if rec.executed.len() > f {
                    let h = rec.executed.values().copied().max().unwrap_or(0);
                    rec.floor = Some(h.saturating_add(k * CHECKPOINTS_AHEAD_MAX));
                }
            }
        }
    }

    /// Recovering, and not yet heard from enough peers to know the amnesia floor.
    pub(super) fn recovery_floor_unknown(&self) -> bool {
        self.recovery.as_ref().is_some_and(|r| r.floor.is_none())
    }

    /// Ends recovery once our stable checkpoint has reached the amnesia floor: our ViewChanges
    /// are complete again.
    pub(super) fn end_recovery_past_floor(&mut self) {
        if self.recovery.as_ref().is_some_and(|r| r.floor.is_some_and(|f| self.stable.seq >= f)) {
            self.recovery = None;
        }
    }
}

/// A restarted replica's amnesia bound. Before it crashed it can have sent Prepares and Commits
/// only for sequence numbers up to (its stable checkpoint then) + K * CHECKPOINTS_AHEAD_MAX,
/// and f other replicas had executed up to that stable checkpoint. Among any f+1 other
/// replicas one of those is found, so `floor` (the highest executed_seq reported by f+1
/// others, plus K * CHECKPOINTS_AHEAD_MAX) bounds what it forgot. Once its stable checkpoint
/// reaches `floor`, its ViewChanges are complete again.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct Recovery {
    executed: BTreeMap<ReplicaId, u64>,
    floor: Option<u64>,
}
