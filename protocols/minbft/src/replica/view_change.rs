//! View change (Veronese et al., "Efficient Byzantine Fault-Tolerance"): ReqViewChange,
//! ViewChange, NewView.
//!
//! A replica whose known requests stall asks for view v+1 (ReqViewChange); f+1 such requests
//! start the change: each replica stops the normal case and sends a ViewChange with its stable
//! checkpoint certificate and every certified message it sent since its own Checkpoint for it
//! (contiguous counters, so nothing can be left out). The new primary sends f+1 of them in a
//! NewView, from which every replica recomputes the same batches to re-propose, in the same
//! order (deviation 6 in the crate README: highest view wins; within a view a batch some backup
//! committed, else the primary's first Prepare; gaps become empty batches).
//!
//! Guarantees: a batch that executed at any correct replica is re-proposed at its sequence
//! number in every later view. Refuses: ViewChanges with a bad certificate
//! (`BadCheckpointCert`) or an incomplete or non-contiguous log (`BadViewChange`), NewViews
//! that do not verify or whose f+1 ViewChanges do not (`BadNewView`), votes more than
//! `VIEWS_AHEAD_MAX` views ahead. A restarted replica sends no ViewChange until its amnesia
//! floor is passed (see [`super::restart`]).

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use crate::app::Application;
use crate::usig_port::UsigPort;
use crate::wire::{Batch, Certified, CheckpointCert, LogEntry, Message, NewView, ReplicaId, ReqViewChange, ViewChange};

use super::{placeholder_ui, Action, Mode, Out, Reason, Replica, TimerKind, CHECKPOINTS_AHEAD_MAX, VIEWS_AHEAD_MAX, VIEW_CHANGE_BACKOFF_MAX};

impl<A: Application + Clone> Replica<A> {
    /// This replica asks for `new_view` (timeout): broadcast and count its own vote.
    pub(super) fn ask_view_change(&mut self, usig: &mut impl UsigPort, new_view: u64, out: &mut Out) {
        out.push(Action::Broadcast { message: Message::ReqViewChange(ReqViewChange { replica: self.config.me, new_view }) });
        let me = self.config.me;
        self.vote_view_change(usig, me, new_view, out);
    }

    pub(super) fn vote_view_change(&mut self, usig: &mut impl UsigPort, from: ReplicaId, new_view: u64, out: &mut Out) {
        if new_view <= self.view || new_view > self.view + VIEWS_AHEAD_MAX {
            return self.reject(Reason::Stale, out);
        }
        let votes = self.view_change_votes.entry(new_view).or_default();
        votes.insert(from);
        let enough = votes.len() > self.config.f as usize;
        let beyond = match self.mode {
            Mode::Normal => true,
            Mode::ChangingTo(to) => new_view > to,
        };
        if enough && beyond {
            self.start_view_change(usig, new_view, out);
        }
    }

    /// Leaves normal operation for `new_view`: send our ViewChange.
    fn start_view_change(&mut self, usig: &mut impl UsigPort, new_view: u64, out: &mut Out) {
        self.mode = Mode::ChangingTo(new_view);
        if self.request_timer_armed {
            self.request_timer_armed = false;
            out.push(Action::CancelTimer { kind: TimerKind::Request });
        }
        let backoff = (new_view - self.view).min(VIEW_CHANGE_BACKOFF_MAX);
        let backoff = 1u64 << (backoff - 1).min(6);
        if self.recovery.is_some() || !self.log_has_room(false) {
            // While recovering: see `Recovery`. A log at its bound (view changes failing for
            // a long time without a checkpoint): we keep asking (ReqViewChange) without
            // certifying more.
            // Our log may be missing what we said before our restart: wait for the NewView.
            out.push(Action::SetTimer { kind: TimerKind::ViewChange, duration_ms: self.config.view_change_timeout_ms * backoff });
            return;
        }
        let log = self.log_entries();
        let mut vc = ViewChange { replica: self.config.me, new_view, checkpoint: self.current_stable_cert(), log, ui: placeholder_ui() };
        let Some(ui) = self.certify(usig, &vc.digest()) else {
            return self.reject(Reason::UsigUnavailable, out);
        };
        vc.ui = ui;
        self.emit(Certified::ViewChange(vc.clone()), out);
        out.push(Action::SetTimer { kind: TimerKind::ViewChange, duration_ms: self.config.view_change_timeout_ms * backoff });
        self.record_view_change(usig, vc, out);
    }

    pub(super) fn on_view_change(&mut self, usig: &mut impl UsigPort, vc: ViewChange, out: &mut Out) {
        if vc.new_view <= self.view || vc.new_view > self.view + VIEWS_AHEAD_MAX {
            return self.reject(Reason::Stale, out);
        }
        if let Err(reason) = self.check_view_change(usig, &vc) {
            return self.reject(reason, out);
        }
        let (j, w) = (vc.replica, vc.new_view);
        self.record_view_change(usig, vc, out);
        self.vote_view_change(usig, j, w, out);
    }

    fn record_view_change(&mut self, usig: &mut impl UsigPort, vc: ViewChange, out: &mut Out) {
        let w = vc.new_view;
        self.view_changes.entry(w).or_default().insert(vc.replica, vc);
        self.try_send_new_view(usig, w, out);
    }

    /// New primary: with f+1 ViewChanges for the view we are changing to, start it.
    fn try_send_new_view(&mut self, usig: &mut impl UsigPort, w: u64, out: &mut Out) {
        if self.mode != Mode::ChangingTo(w) || self.primary_of(w) != self.config.me {
            return;
        }
        let Some(vcs) = self.view_changes.get(&w) else {
            return;
        };
        if vcs.len() <= self.config.f as usize || !vcs.contains_key(&self.config.me) || !self.log_has_room(false) {
            return;
        }
        // Ours first, then the lowest ids: deterministic.
        let mut chosen: Vec<ViewChange> = alloc::vec![vcs[&self.config.me].clone()];
        chosen.extend(vcs.values().filter(|v| v.replica != self.config.me).take(self.config.f as usize).cloned());
        let mut nv = NewView { replica: self.config.me, new_view: w, view_changes: chosen, ui: placeholder_ui() };
        let Some(ui) = self.certify(usig, &nv.digest()) else {
            return self.reject(Reason::UsigUnavailable, out);
        };
        nv.ui = ui;
        self.emit(Certified::NewView(nv.clone()), out);
        self.on_new_view(usig, nv, out);
    }

    /// Checks a ViewChange on its own: certificate, and a complete, contiguous log since the
    /// sender's Checkpoint for that certificate.
    fn check_view_change(&self, usig: &mut impl UsigPort, vc: &ViewChange) -> Result<(), Reason> {
        let j = vc.replica;
        if j.0 >= self.config.n || vc.ui.usig.0 != j.0 {
            return Err(Reason::BadViewChange);
        }
        if !self.verify_cert(usig, &vc.checkpoint) {
            return Err(Reason::BadCheckpointCert);
        }
        let Some(LogEntry::Checkpoint(anchor)) = vc.log.first() else {
            return Err(Reason::BadViewChange);
        };
        if anchor.seq != vc.checkpoint.seq || anchor.state_digest != vc.checkpoint.state_digest {
            return Err(Reason::BadViewChange);
        }
        if j != self.config.me {
            if let Some(c) = self.streams[j.0 as usize].anchors.get(&anchor.seq) {
                if c.ui.epoch == anchor.ui.epoch && c.ui.counter != anchor.ui.counter {
                    return Err(Reason::BadViewChange);
                }
            }
        }
        let mut expect = anchor.ui.counter;
        for e in &vc.log {
            let ui = e.ui();
            if ui.usig.0 != j.0 || ui.epoch != vc.ui.epoch || ui.counter != expect {
                return Err(Reason::BadViewChange);
            }
            let named = match e {
                LogEntry::Prepare(p) => p.replica,
                LogEntry::Commit(c) => c.replica,
                LogEntry::Checkpoint(c) => c.replica,
                LogEntry::Stub { .. } => j,
            };
            if named != j {
                return Err(Reason::BadViewChange);
            }
            if usig.verify_ui(&e.digest(), ui).is_err() {
                return Err(Reason::BadUi);
            }
            if let LogEntry::Commit(c) = e {
                // The Prepare a Commit vouches for must be the primary's own.
                let p = &c.prepare;
                if p.replica != self.primary_of(p.view) || p.ui.usig.0 != p.replica.0 || usig.verify_ui(&p.digest(), &p.ui).is_err() {
                    return Err(Reason::BadViewChange);
                }
            }
            if let LogEntry::Prepare(p) = e {
                if p.replica != self.primary_of(p.view) {
                    return Err(Reason::BadViewChange);
                }
            }
            expect += 1;
        }
        if expect != vc.ui.counter {
            return Err(Reason::BadViewChange);
        }
        Ok(())
    }

    pub(super) fn on_new_view(&mut self, usig: &mut impl UsigPort, nv: NewView, out: &mut Out) {
        if nv.new_view <= self.view {
            return self.reject(Reason::Stale, out);
        }
        if nv.replica != self.primary_of(nv.new_view) {
            return self.reject(Reason::BadNewView, out);
        }
        let Some(plan) = self.check_new_view(usig, &nv) else {
            return self.reject(Reason::BadNewView, out);
        };
        self.enter_view(usig, nv, plan, out);
    }

    /// Validates a NewView and computes what it fixes: the highest checkpoint certificate, and
    /// for every sequence number above it up to the highest one any log mentions, the batch of
    /// the highest-view Prepare found (empty if none: nothing can have executed there).
    fn check_new_view(&self, usig: &mut impl UsigPort, nv: &NewView) -> Option<NewViewPlan> {
        let mut senders = BTreeSet::new();
        for vc in &nv.view_changes {
            if vc.new_view != nv.new_view || !senders.insert(vc.replica) {
                return None;
            }
            if usig.verify_ui(&vc.digest(), &vc.ui).is_err() {
                return None;
            }
            self.check_view_change(usig, vc).ok()?;
        }
        if senders.len() <= self.config.f as usize {
            return None;
        }
        let cert = nv.view_changes.iter().map(|v| &v.checkpoint).max_by_key(|c| c.seq)?.clone();
        // seq -> best candidate. The highest view wins. Within a view: a batch some backup
        // committed (a correct backup commits only the Prepare correct replicas accepted; if a
        // backup is faulty the primary is correct and has one Prepare per seq), else the
        // primary's first Prepare for it, by (epoch, counter): correct replicas accept no
        // Prepare of a view after refusing one, nor in a later epoch of the primary.
        type Key = (u64, bool, core::cmp::Reverse<(u64, u64)>);
        let mut best: BTreeMap<u64, (Key, &Batch)> = BTreeMap::new();
        for vc in &nv.view_changes {
            for e in &vc.log {
                let (p, committed) = match e {
                    LogEntry::Prepare(p) => (p, false),
                    LogEntry::Commit(c) => (&c.prepare, true),
                    _ => continue,
                };
                if p.seq <= cert.seq || p.view >= nv.new_view {
                    continue;
                }
                let key: Key = (p.view, committed, core::cmp::Reverse((p.ui.epoch, p.ui.counter)));
                if best.get(&p.seq).is_none_or(|b| b.0 < key) {
                    best.insert(p.seq, (key, &p.batch));
                }
            }
        }
        let top = best.keys().next_back().copied().unwrap_or(cert.seq);
        if top - cert.seq > self.config.checkpoint_period * (CHECKPOINTS_AHEAD_MAX + 1) {
            return None;
        }
        let reproposals = (cert.seq + 1..=top).map(|q| (q, best.get(&q).map(|b| b.1.clone()).unwrap_or_default())).collect();
        Some(NewViewPlan { cert, reproposals })
    }

    fn enter_view(&mut self, usig: &mut impl UsigPort, nv: NewView, plan: NewViewPlan, out: &mut Out) {
        let w = nv.new_view;
        let nv_epoch = nv.ui.epoch;
        self.view = w;
        self.mode = Mode::Normal;
        self.new_view = Some(nv);
        self.slots.clear();
        self.early_commits.clear();
        self.proposed.clear();
        self.fresh = self.pending.keys().copied().collect();
        self.next_prepare_seq = plan.cert.seq + 1;
        self.reproposals = plan.reproposals;
        self.primary_resync = false;
        self.resync_commits.clear();
        self.view_leader_epoch = Some(nv_epoch);
        let p = self.primary_of(w);
        self.primary_suspect = p != self.config.me && self.premature.contains(&(p, w));
        self.premature.retain(|&(_, v)| v > w);
        self.view_change_votes.retain(|&v, _| v > w);
        self.view_changes.retain(|&v, _| v > w);
        out.push(Action::CancelTimer { kind: TimerKind::ViewChange });
        out.push(Action::ViewEntered { view: w });
        if self.executed_seq < plan.cert.seq {
            // Verified inside check_new_view.
            if self.transfer_target.as_ref().is_none_or(|t| t.seq < plan.cert.seq) {
                self.transfer_target = Some(plan.cert);
                self.want_state(out);
            }
        } else {
            self.adopt_stable(usig, plan.cert, out);
        }
        self.request_timer_armed = false;
        self.arm_request_timer(out);
        // Prepares of the new primary may already be held: they were waiting for this.
        self.drain(usig, out);
    }
}

#[derive(Clone, Debug)]
struct NewViewPlan {
    cert: CheckpointCert,
    reproposals: BTreeMap<u64, Batch>,
}
