//! The normal case (Veronese et al., "Efficient Byzantine Fault-Tolerance"): client requests, the primary's Prepares, the backups' Commits, execution in sequence order
//! and replies.
//!
//! The primary of view v (v mod n) orders batches of pending client requests in Prepares
//! (pipelined within `window_max`, each carrying the next sequence number); a backup checks
//! every request's MAC entry and answers with a Commit that embeds the Prepare; a batch
//! executes once the primary's Prepare and f matching Commits are in, strictly in sequence
//! order, and every K batches the replica sends its Checkpoint (see [`super::checkpoint`]).
//!
//! Guarantees: only requests whose client authenticator verifies are executed, each
//! (client, request id) at most once (the reply cache answers retries); a Commit never waits
//! for its Prepare (model-checking finding 1: its vote waits in `early_commits` instead).
//! Refuses: a Prepare that is not the next sequence number (`PrepareOutOfOrder`: equivocation
//! or skipping), from a primary in another epoch than the one it started the view in, or
//! after one of its Prepares was refused; a Commit for a different Prepare than the slot's
//! (`PrepareMismatch`); a re-proposal differing from what the NewView fixes
//! (`ReproposalMismatch`); stale or unauthenticated requests.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use rampart_usig::Digest;

use crate::app::Application;
use crate::auth::{self, MacKey};
use crate::usig_port::UsigPort;
use crate::wire::{Certified, ClientId, Commit, Prepare, ReplicaId, Reply, Request};

use super::{
    boundary, encode_snapshot, placeholder_ui, state_digest, Action, CachedReply, Mode, Out, Reason, Replica, Slot, TimerKind, CHECKPOINTS_AHEAD_MAX,
    PENDING_REQUESTS_MAX, RECENT_PREPARES_MAX, VIEWS_AHEAD_MAX,
};

impl<A: Application + Clone> Replica<A> {
    fn client_key(&self, client: ClientId) -> Option<&MacKey> {
        self.client_macs.get(&client)
    }

    fn check_request(&self, r: &Request) -> Result<(), Reason> {
        let key = self.client_key(r.client).ok_or(Reason::UnknownClient)?;
        if !auth::verify_request(key, self.config.me, self.config.n as usize, r) {
            return Err(Reason::BadClientAuth);
        }
        Ok(())
    }

    pub(super) fn on_request(&mut self, r: Request, out: &mut Out) {
        if let Err(reason) = self.check_request(&r) {
            return self.reject(reason, out);
        }
        if let Some(cached) = self.replies.get(&r.client) {
            if r.request_id < cached.request_id {
                return self.reject(Reason::StaleRequest, out);
            }
            if r.request_id == cached.request_id {
                // A retransmission of an executed request: answer from the cache.
                let result = cached.result.clone();
                self.send_reply(r.client, r.request_id, result, out);
                return;
            }
        }
        let client = r.client;
        if let Some(p) = self.pending.get_mut(&client) {
            if r.request_id <= p.request_id {
                return; // already known
            }
            *p = r;
        } else if self.pending.len() >= PENDING_REQUESTS_MAX {
            return self.reject(Reason::PendingFull, out);
        } else {
            self.pending.insert(client, r);
        }
        if self.is_primary() && self.fresh.len() < PENDING_REQUESTS_MAX {
            self.fresh.push_back(client);
        }
        self.arm_request_timer(out);
    }

    pub(super) fn arm_request_timer(&mut self, out: &mut Out) {
        if !self.request_timer_armed && !self.pending.is_empty() && self.mode == Mode::Normal {
            self.request_timer_armed = true;
            out.push(Action::SetTimer { kind: TimerKind::Request, duration_ms: self.config.request_timeout_ms });
        }
    }

    fn send_reply(&mut self, client: ClientId, request_id: u64, result: Vec<u8>, out: &mut Out) {
        let Some(key) = self.client_key(client) else {
            return;
        };
        let mut reply = Reply { replica: self.config.me, view: self.view, client, request_id, result, authenticator: [0; 32] };
        reply.authenticator = auth::reply_tag(key, &reply);
        out.push(Action::ReplyToClient { client, reply });
    }

    pub(super) fn on_prepare(&mut self, usig: &mut impl UsigPort, p: Prepare, digest: Option<Digest>, out: &mut Out) {
        if p.replica != self.primary_of(p.view) {
            return self.reject(Reason::NotPrimary, out);
        }
        if p.view > self.view && p.replica != self.config.me {
            // In stream order, before (or without) a NewView we accept: remember it, so that
            // we refuse that view's Prepares from this primary (see `premature`).
            self.premature.insert((p.replica, p.view));
            while self.premature.len() > self.config.n as usize * VIEWS_AHEAD_MAX as usize {
                self.premature.pop_first();
            }
        }
        if p.view != self.view || self.mode != Mode::Normal {
            return self.reject(Reason::OutOfView, out);
        }
        let mine = p.replica == self.config.me;
        if !mine {
            if self.primary_resync {
                // Adopted through Commits instead (see `primary_resync`).
                return self.reject(Reason::Stale, out);
            }
            if let Err(reason) = self.check_prepare(&p) {
                // Any refused Prepare ends our acceptance of this primary's Prepares in this
                // view: so the Prepare correct replicas accepted for a (view, seq) is always the
                // first one the primary sent for it (what the NewView computation relies on).
                self.primary_suspect = true;
                return self.reject(reason, out);
            }
        }
        self.next_prepare_seq += 1;
        let seq = p.seq;
        if seq <= self.stable.seq {
            return;
        }
        let mine = p.replica == self.config.me;
        if seq <= self.executed_seq {
            // Already executed here (a re-proposal): confirm it for replicas that lag.
            if !mine {
                let d = digest.unwrap_or_else(|| p.digest());
                self.send_commit(usig, p, &d, out);
            }
            return;
        }
        let prepare_digest = digest.unwrap_or_else(|| p.digest());
        let primary = p.replica;
        let view = p.view;
        let early: BTreeSet<ReplicaId> = self
            .early_commits
            .remove(&seq)
            .unwrap_or_default()
            .into_iter()
            .filter(|(r, (v, d))| *v == view && *d == prepare_digest && *r != primary)
            .map(|(r, _)| r)
            .collect();
        self.slots.insert(seq, Slot { prepare: p, prepare_digest, commits: early, commit_sent: mine });
        if !mine {
            self.maybe_send_commit(usig, seq, out);
        }
    }

    /// The checks of a backup on the current primary's Prepare, in stream order.
    fn check_prepare(&self, p: &Prepare) -> Result<(), Reason> {
        if self.primary_suspect {
            return Err(Reason::FaultySender);
        }
        if self.view_leader_epoch != Some(p.ui.epoch) {
            // Not the epoch in which the primary started this view (it restarted since).
            return Err(Reason::OutOfView);
        }
        if p.seq != self.next_prepare_seq {
            return Err(Reason::PrepareOutOfOrder);
        }
        if let Some(expected) = self.reproposals.get(&p.seq) {
            if *expected != p.batch {
                return Err(Reason::ReproposalMismatch);
            }
            return Ok(());
        }
        if p.batch.is_empty() || p.batch.len() > self.config.batch_size_max {
            return Err(Reason::BadBatch);
        }
        // A request we cannot authenticate: refused (our request timer then suspects the
        // primary).
        p.batch.iter().try_for_each(|r| self.check_request(r))
    }

    pub(super) fn maybe_send_commit(&mut self, usig: &mut impl UsigPort, seq: u64, out: &mut Out) {
        let k = self.config.checkpoint_period;
        if self.my_max_checkpoint.is_none_or(|m| m < boundary(seq, k)) || seq > self.stable.seq + k * CHECKPOINTS_AHEAD_MAX {
            return; // the barrier: after our own checkpoint, and not too far past stability
        }
        let Some(slot) = self.slots.get(&seq) else {
            return;
        };
        if slot.commit_sent {
            return;
        }
        let (p, d) = (slot.prepare.clone(), slot.prepare_digest);
        if self.send_commit(usig, p, &d, out) {
            let me = self.config.me;
            if let Some(slot) = self.slots.get_mut(&seq) {
                slot.commit_sent = true;
                slot.commits.insert(me);
            }
        }
    }

    fn send_commit(&mut self, usig: &mut impl UsigPort, p: Prepare, prepare_digest: &Digest, out: &mut Out) -> bool {
        if !self.log_has_room(false) {
            self.reject(Reason::LogFull, out);
            return false;
        }
        let mut c = Commit { replica: self.config.me, prepare: p, ui: placeholder_ui() };
        let digest = c.digest_with(prepare_digest);
        match self.certify(usig, &digest) {
            Some(ui) => {
                c.ui = ui;
                self.emit(Certified::Commit(c), out);
                true
            }
            None => {
                self.reject(Reason::UsigUnavailable, out);
                false
            }
        }
    }

    pub(super) fn on_commit(&mut self, usig: &mut impl UsigPort, c: Commit, out: &mut Out) {
        let p = &c.prepare;
        if p.view != self.view || self.mode != Mode::Normal {
            return self.reject(Reason::OutOfView, out);
        }
        if p.seq <= self.executed_seq {
            return self.reject(Reason::Stale, out);
        }
        if c.replica == p.replica {
            return self.reject(Reason::WrongSender, out);
        }
        if self.primary_resync && !self.slots.contains_key(&p.seq) {
            return self.resync_vote(usig, c, out);
        }
        let Some(slot) = self.slots.get_mut(&p.seq) else {
            // Its Prepare has not been accepted here (yet): keep the vote aside, bounded.
            let k = self.config.checkpoint_period;
            if p.seq > self.stable.seq + k * (CHECKPOINTS_AHEAD_MAX + 2) {
                return self.reject(Reason::Stale, out);
            }
            let d = self.known_prepare_digest(p).unwrap_or_else(|| p.digest());
            self.early_commits.entry(p.seq).or_default().insert(c.replica, (p.view, d));
            return;
        };
        if slot.prepare != *p {
            return self.reject(Reason::PrepareMismatch, out);
        }
        slot.commits.insert(c.replica);
    }

    /// While resyncing with this view's primary: a Prepare that f backups other than us have
    /// committed is the one correct replicas accepted in stream order (among the primary and
    /// those f, one is correct), so we adopt it.
    fn resync_vote(&mut self, usig: &mut impl UsigPort, c: Commit, out: &mut Out) {
        let k = self.config.checkpoint_period;
        let q = c.prepare.seq;
        if self.view_leader_epoch != Some(c.prepare.ui.epoch) {
            return self.reject(Reason::OutOfView, out);
        }
        if q <= self.stable.seq || q > self.stable.seq + k * (CHECKPOINTS_AHEAD_MAX + 1) {
            return self.reject(Reason::Stale, out);
        }
        if let Some(expected) = self.reproposals.get(&q) {
            if *expected != c.prepare.batch {
                return self.reject(Reason::ReproposalMismatch, out);
            }
        } else if c.prepare.batch.is_empty() || c.prepare.batch.len() > self.config.batch_size_max {
            return self.reject(Reason::BadBatch, out);
        }
        let d = c.prepare.digest();
        // The Prepare must really be the primary's: a faulty backup cannot make one up.
        let primary = self.primary_of(self.view);
        if c.prepare.replica != primary || c.prepare.ui.usig.0 != primary.0 || usig.verify_ui(&d, &c.prepare.ui).is_err() {
            return self.reject(Reason::BadUi, out);
        }
        let entry = self.resync_commits.entry(q).or_default().entry(d).or_insert_with(|| (c.prepare.clone(), BTreeSet::new()));
        entry.1.insert(c.replica);
        if entry.1.len() < self.config.f as usize {
            return;
        }
        let (prepare, commits) = entry.clone();
        self.resync_commits.remove(&q);
        if q <= self.executed_seq {
            return;
        }
        self.slots.insert(q, Slot { prepare, prepare_digest: d, commits, commit_sent: false });
        self.maybe_send_commit(usig, q, out);
    }

    /// Executes every ready slot in order, checkpointing every K.
    pub(super) fn try_execute(&mut self, usig: &mut impl UsigPort, out: &mut Out) {
        if self.mode != Mode::Normal {
            return;
        }
        let quorum = self.config.f as usize + 1;
        let executed_before = self.executed_seq;
        let mut executed_now: Vec<(ClientId, u64)> = Vec::new();
        loop {
            let q = self.executed_seq + 1;
            let ready =
                self.slots.get(&q).is_some_and(|s| s.prepare.view == self.view && 1 + s.commits.iter().filter(|r| **r != s.prepare.replica).count() >= quorum);
            if !ready {
                break;
            }
            let slot = self.slots.remove(&q).expect("ready");
            self.early_commits.remove(&q);
            let ui = &slot.prepare.ui;
            self.recent_prepares.insert(q, (ui.usig.0, ui.epoch, ui.counter, slot.prepare_digest));
            while self.recent_prepares.len() > RECENT_PREPARES_MAX {
                self.recent_prepares.pop_first();
            }
            for (index, r) in slot.prepare.batch.iter().enumerate() {
                let last = self.replies.get(&r.client).map(|c| c.request_id);
                if last.is_some_and(|l| r.request_id <= l) {
                    continue; // executed before: exactly once
                }
                let result = self.app.execute(&r.operation);
                self.replies.insert(r.client, CachedReply { request_id: r.request_id, result: result.clone() });
                executed_now.push((r.client, r.request_id));
                out.push(Action::Executed { seq: q, index, client: r.client, request_id: r.request_id });
                self.send_reply(r.client, r.request_id, result, out);
            }
            self.executed_seq = q;
            for (client, id) in executed_now.drain(..) {
                if self.pending.get(&client).is_some_and(|p| p.request_id <= id) {
                    self.pending.remove(&client);
                }
            }
            if q % self.config.checkpoint_period == 0 {
                let digest = state_digest(&self.app, &self.replies);
                let snapshot = encode_snapshot(&self.app, &self.replies);
                self.own_checkpoints.insert(q, (digest, snapshot));
                self.send_checkpoint(usig, q, digest, out);
                // The barrier opened: commits held for the next range can go.
                let held: Vec<u64> = self.slots.range(q + 1..).filter(|(_, s)| !s.commit_sent).map(|(&k, _)| k).collect();
                for s in held {
                    self.maybe_send_commit(usig, s, out);
                }
            }
        }
        // Progress restarts the backups' patience.
        if self.request_timer_armed && self.executed_seq > executed_before {
            self.request_timer_armed = false;
            if self.pending.is_empty() {
                out.push(Action::CancelTimer { kind: TimerKind::Request });
            }
        }
        self.arm_request_timer(out);
    }

    /// Primary: proposes re-proposals and pending requests within the window.
    pub(super) fn try_propose(&mut self, usig: &mut impl UsigPort, out: &mut Out) {
        if !self.is_primary() || self.mode != Mode::Normal || self.transfer_target.is_some() || self.fetching {
            return;
        }
        if self.view_leader_epoch != Some(self.my_epoch) {
            return; // we restarted since this view began: only a new view lets us lead
        }
        let k = self.config.checkpoint_period;
        loop {
            let q = self.next_prepare_seq;
            if !self.log_has_room(false) {
                break;
            }
            if q > self.executed_seq + self.config.window_max
                || q > self.stable.seq + k * CHECKPOINTS_AHEAD_MAX
                || self.my_max_checkpoint.is_none_or(|m| m < boundary(q, k))
            {
                break;
            }
            let batch = if let Some(b) = self.reproposals.get(&q) {
                b.clone()
            } else {
                let mut batch = Vec::new();
                while batch.len() < self.config.batch_size_max {
                    let Some(client) = self.fresh.pop_front() else {
                        break;
                    };
                    let Some(r) = self.pending.get(&client) else {
                        continue;
                    };
                    let done = self.replies.get(&client).map_or(0, |c| c.request_id);
                    let proposed = self.proposed.get(&client).copied().unwrap_or(0);
                    if r.request_id > done && r.request_id > proposed {
                        self.proposed.insert(client, r.request_id);
                        batch.push(r.clone());
                    }
                }
                if batch.is_empty() {
                    break;
                }
                batch.into()
            };
            let mut p = Prepare { view: self.view, replica: self.config.me, seq: q, batch, ui: placeholder_ui() };
            let digest = p.digest();
            let Some(ui) = self.certify(usig, &digest) else {
                return self.reject(Reason::UsigUnavailable, out);
            };
            p.ui = ui;
            for r in p.batch.iter() {
                let e = self.proposed.entry(r.client).or_insert(0);
                *e = (*e).max(r.request_id);
            }
            self.emit(Certified::Prepare(p.clone()), out);
            self.on_prepare(usig, p, Some(digest), out);
        }
    }
}
