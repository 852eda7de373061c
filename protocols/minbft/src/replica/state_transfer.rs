//! State transfer and retransmission (not in Veronese et al., "Efficient Byzantine
//! Fault-Tolerance", which assumes reliable channels and replicas that keep their state:
//! deviation 8 in the crate README).
//!
//! Periodic `Status` gossip says where each replica is in each peer's stream; peers resend the
//! missing certified messages (at most `RETRANSMIT_BURST_MAX`) or, below their garbage
//! collection point, a StateReply: stable certificate, snapshot, their log, and the anchors
//! they recorded for other peers. A lagging or restarted replica verifies the snapshot's digest
//! against the f+1 certificate, restores it, and resumes each peer's stream at that peer's
//! first Checkpoint for a seq its state covers, as recorded by a third replica (so a Byzantine
//! peer cannot pick a later duplicate Checkpoint to hide what it sent in between); only if
//! nobody else has a record does it fall back to the peer's own anchor (the residual risk in
//! the crate README).
//!
//! Bounds: at most one StateRequest per StateTransfer period, at most
//! `STATE_REPLIES_PER_PERIOD_MAX` StateReplies to a peer per Status period
//! (`StateReplyLimit`). Refuses: snapshots that do not match their certificate (`BadSnapshot`),
//! unverifiable certificates and NewViews.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::app::Application;
use crate::usig_port::UsigPort;
use crate::wire::{Certified, Checkpoint, CheckpointTransfer, LogEntry, Message, ReplicaId, StateReply, StateRequest, Status, StreamPosition};

use super::{state_digest, Action, CachedReply, Mode, Out, Reason, Replica, Snapshot, Stream, TimerKind, RETRANSMIT_BURST_MAX, STATE_REPLIES_PER_PERIOD_MAX};

impl<A: Application + Clone> Replica<A> {
    pub(super) fn status(&self) -> Status {
        let streams = self
            .streams
            .iter()
            .enumerate()
            .filter(|(i, s)| *i as u32 != self.config.me.0 && s.epoch.is_some())
            .map(|(i, s)| StreamPosition { replica: ReplicaId(i as u32), epoch: s.epoch.unwrap_or(0), next_counter: s.next })
            .collect();
        Status {
            replica: self.config.me,
            view: self.view,
            changing_to: self.changing_to(),
            epoch: self.my_epoch,
            last_counter: self.my_last_counter,
            streams,
            stable_seq: self.stable.seq,
            executed_seq: self.executed_seq,
        }
    }

    /// Asks every peer for state now if no StateRequest went out in this StateTransfer period,
    /// else when the period ends: at most one StateRequest per period, however many messages
    /// (checkpoint certificates, NewViews, StateReplies) tell us we lag.
    pub(super) fn want_state(&mut self, out: &mut Out) {
        if self.state_timer_armed {
            self.state_wanted = true;
        } else {
            self.request_state(out);
        }
    }

    /// Broadcasts a StateRequest and starts a StateTransfer period (see [`Replica::want_state`]).
    pub(super) fn request_state(&mut self, out: &mut Out) {
        self.state_timer_armed = true;
        self.state_wanted = false;
        out.push(Action::Broadcast {
            message: Message::StateRequest(StateRequest { replica: self.config.me, executed_seq: self.executed_seq, view: self.view }),
        });
        out.push(Action::SetTimer { kind: TimerKind::StateTransfer, duration_ms: self.config.state_transfer_timeout_ms });
    }

    /// Skips part of peer `j`'s stream: continue at `anchor`, `j`'s first Checkpoint for a seq at
    /// or below our stable checkpoint, as recorded by a replica other than `j` (with at most f
    /// faulty, a faulty `j` cannot pick a later duplicate to hide what it sent in between).
    /// What we skip is about sequence numbers our state already covers (the barrier).
    pub(super) fn jump_to_anchor(&mut self, usig: &mut impl UsigPort, anchor: &Checkpoint, out: &mut Out) {
        let j = anchor.replica;
        if j.0 >= self.config.n || j == self.config.me || anchor.ui.usig.0 != j.0 {
            return;
        }
        let s = &self.streams[j.0 as usize];
        if s.epoch != Some(anchor.ui.epoch) || s.next >= anchor.ui.counter || anchor.seq > self.stable.seq || anchor.seq % self.config.checkpoint_period != 0 {
            return;
        }
        if s.anchors.get(&anchor.seq).is_some_and(|c| c.ui.counter != anchor.ui.counter) {
            return self.reject(Reason::BadCheckpoint, out);
        }
        if usig.verify_ui(&anchor.digest(), &anchor.ui).is_err() {
            return self.reject(Reason::BadUi, out);
        }
        let target = anchor.ui.counter;
        let s = &mut self.streams[j.0 as usize];
        s.next = target;
        s.anchor_requests = 0;
        s.held = core::mem::take(&mut s.held).split_off(&target);
        // The barrier restarts at the anchor (it is the peer's checkpoint for its range).
        s.max_checkpoint = None;
        if j == self.primary_of(self.view) {
            // We no longer know which Prepare of this view the primary's stream had reached,
            // unless we will still read this view's NewView from it.
            let nv_ahead = self.new_view.as_ref().is_some_and(|nv| nv.ui.epoch == anchor.ui.epoch && nv.ui.counter >= target);
            if !nv_ahead {
                self.primary_resync = true;
            }
        }
        self.offer(usig, j, Certified::Checkpoint(anchor.clone()), out);
    }

    pub(super) fn on_status(&mut self, j: ReplicaId, s: Status, out: &mut Out) {
        // Retransmit what j lacks of our stream.
        if let Some(pos) = s.streams.iter().find(|p| p.replica == self.config.me) {
            let first = self.sent_log.first().map_or(u64::MAX, |(m, _)| m.ui().counter);
            let position = Some((pos.epoch, pos.next_counter));
            // The same position as in j's previous Status: j is stuck, not just a message
            // behind (under load a Status often races with the messages it asks for).
            let stuck = self.reported_positions[j.0 as usize] == position;
            self.reported_positions[j.0 as usize] = position;
            if pos.epoch == self.my_epoch && pos.next_counter < first {
                // What j lacks is below our stable checkpoint: it needs state, then our log.
                if stuck {
                    let r = StateRequest { replica: j, executed_seq: s.executed_seq, view: s.view };
                    self.on_state_request(j, r, out);
                }
            } else if pos.epoch == self.my_epoch && pos.next_counter <= self.my_last_counter {
                let from = pos.next_counter;
                for m in self.sent_log.iter().map(|(m, _)| m).filter(|m| m.ui().counter >= from).take(RETRANSMIT_BURST_MAX) {
                    out.push(Action::Send { to: j, message: m.clone().into_message() });
                }
            }
        }
        // j is past our execution, or in a later view: fetch (the reply is verified, not j's word).
        // At most one such request per StateTransfer period (a Status is a hint any peer can
        // send at any rate).
        let lagging = s.stable_seq > self.executed_seq || (s.view > self.view && s.changing_to.is_none());
        if lagging && !self.is_fetching_state() && !self.state_timer_armed {
            self.state_timer_armed = true;
            out.push(Action::SetTimer { kind: TimerKind::StateTransfer, duration_ms: self.config.state_transfer_timeout_ms });
            out.push(Action::Send {
                to: j,
                message: Message::StateRequest(StateRequest { replica: self.config.me, executed_seq: self.executed_seq, view: self.view }),
            });
        }
    }

    /// Answers a StateRequest, within `j`'s budget for this Status period (see
    /// [`STATE_REPLIES_PER_PERIOD_MAX`]).
    pub(super) fn on_state_request(&mut self, j: ReplicaId, r: StateRequest, out: &mut Out) {
        let key = (self.stable.seq, self.view, r.executed_seq, r.view);
        let budget = &mut self.state_reply_budgets[j.0 as usize];
        if budget.last == Some(key) || budget.sent >= STATE_REPLIES_PER_PERIOD_MAX {
            return self.reject(Reason::StateReplyLimit, out);
        }
        budget.sent += 1;
        budget.last = Some(key);
        let checkpoint =
            (self.stable.seq > r.executed_seq).then(|| CheckpointTransfer { cert: self.current_stable_cert(), snapshot: self.stable_snapshot.clone() });
        let new_view = if self.view > r.view && self.mode == Mode::Normal { self.new_view.clone() } else { None };
        let log = self.log_entries();
        out.push(Action::Send {
            to: j,
            message: Message::StateReply(StateReply {
                replica: self.config.me,
                executed_seq: self.executed_seq,
                checkpoint,
                new_view,
                log,
                anchors: self.streams.iter().flat_map(|s| s.anchors.values().cloned()).collect(),
            }),
        });
    }

    pub(super) fn on_state_reply(&mut self, usig: &mut impl UsigPort, j: ReplicaId, r: StateReply, out: &mut Out) {
        self.note_executed_report(j, r.executed_seq);
        if let Some(t) = r.checkpoint {
            if t.cert.seq > self.executed_seq {
                if !self.verify_cert(usig, &t.cert) {
                    return self.reject(Reason::BadCheckpointCert, out);
                }
                if let Err(reason) = self.restore(usig, t, out) {
                    return self.reject(reason, out);
                }
            }
        }
        if let Some(nv) = r.new_view {
            if nv.new_view > self.view {
                let p = nv.replica;
                let p_view = nv.new_view;
                let epoch_ok = p == self.config.me || self.accepted_epochs[p.0 as usize] == Some(nv.ui.epoch);
                if !epoch_ok || usig.verify_ui(&nv.digest(), &nv.ui).is_err() {
                    self.reject(Reason::BadNewView, out);
                } else {
                    // Out of stream order: if we are already past it in the primary's stream,
                    // we have not seen this view's Prepares in order.
                    let past = p != self.config.me && {
                        let st = &self.streams[p.0 as usize];
                        st.epoch != Some(nv.ui.epoch) || st.next > nv.ui.counter
                    };
                    self.on_new_view(usig, nv, out);
                    if past && self.view == p_view {
                        self.primary_resync = true;
                    }
                }
            }
        }
        // Other peers' anchors, as j recorded them in their streams.
        for c in &r.anchors {
            let better = |s: &Stream| s.epoch == Some(c.ui.epoch) && s.next < c.ui.counter;
            if c.replica != j && c.replica.0 < self.config.n && c.replica != self.config.me {
                // The highest anchor we can use for that peer.
                let usable = c.seq <= self.stable.seq && !r.anchors.iter().any(|d| d.replica == c.replica && d.seq > c.seq && d.seq <= self.stable.seq);
                if usable && better(&self.streams[c.replica.0 as usize]) {
                    self.jump_to_anchor(usig, c, out);
                }
            }
        }
        self.fill_from_log(usig, j, &r.log, out);
        // Still behind j's log: we lack what j no longer keeps.
        let stuck = r.log.first().and_then(|e| match e {
            LogEntry::Checkpoint(c) => {
                let st = &self.streams[j.0 as usize];
                (st.epoch == Some(c.ui.epoch) && st.next < c.ui.counter).then(|| c.clone())
            }
            _ => None,
        });
        if let Some(anchor) = stuck {
            let st = &mut self.streams[j.0 as usize];
            if st.anchor_requests == 0 {
                // First ask every replica: a third party's record of j's anchor is preferred
                // (see `jump_to_anchor`).
                st.anchor_requests = 1;
                self.want_state(out);
            } else {
                // Nobody else has a record (e.g. the others restarted): resume at j's own
                // anchor, for liveness. See the crate README on the residual risk.
                self.jump_to_anchor(usig, &anchor, out);
                self.fill_from_log(usig, j, &r.log, out);
            }
        }
        if self.fetching && self.transfer_target.is_none() && !self.recovery_floor_unknown() {
            // A restarted replica has heard from enough peers; later lag is detected by Status.
            self.fetching = false;
        }
        // The StateTransfer timer, if armed, stays so: its period bounds our StateRequests even
        // when fetching ends and starts again (a new certificate every K batches while we lag).
    }

    /// Replaces our state by a verified snapshot at `t.cert`.
    fn restore(&mut self, usig: &mut impl UsigPort, t: CheckpointTransfer, out: &mut Out) -> Result<(), Reason> {
        let snap: Snapshot = match postcard::take_from_bytes::<Snapshot>(&t.snapshot) {
            Ok((s, [])) => s,
            _ => return Err(Reason::BadSnapshot),
        };
        let mut replies = BTreeMap::new();
        for (c, id, result) in snap.replies {
            if replies.insert(c, CachedReply { request_id: id, result }).is_some() {
                return Err(Reason::BadSnapshot);
            }
        }
        let mut app = self.app.clone();
        app.restore(&snap.app).map_err(|_| Reason::BadSnapshot)?;
        if state_digest(&app, &replies) != t.cert.state_digest {
            return Err(Reason::BadSnapshot);
        }
        let seq = t.cert.seq;
        self.app = app;
        self.replies = replies;
        self.executed_seq = seq;
        self.slots.retain(|&q, _| q > seq);
        self.early_commits.retain(|&q, _| q > seq);
        let r = &self.replies;
        self.pending.retain(|c, p| r.get(c).is_none_or(|c| p.request_id > c.request_id));
        self.own_checkpoints.clear();
        self.stable_votes = t.cert.checkpoints.iter().map(|c| (c.replica, c.clone())).collect();
        self.stable = t.cert;
        self.stable_snapshot = t.snapshot;
        self.checkpoint_votes.retain(|&s, _| s > seq);
        for s in &mut self.streams {
            s.anchors.retain(|&a, _| a >= seq);
        }
        if self.transfer_target.as_ref().is_some_and(|t| t.seq <= seq) {
            self.transfer_target = None;
        }
        out.push(Action::StateRestored { seq });
        // Anchor our log at our own Checkpoint for the restored state (sent_log restarts).
        let digest = self.stable.state_digest;
        self.send_checkpoint(usig, seq, digest, out);
        // Commits for slots we already hold can now pass the barrier.
        let held: Vec<u64> = self.slots.keys().copied().collect();
        for s in held {
            self.maybe_send_commit(usig, s, out);
        }
        Ok(())
    }
}
