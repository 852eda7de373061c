//! Checkpoints and garbage collection (Veronese et al., "Efficient Byzantine Fault-Tolerance").
//!
//! Every K batches each replica certifies a Checkpoint of its state (application digest and
//! reply cache); f+1 matching Checkpoints form a certificate that makes it stable, and
//! everything below it (slots, votes, our own log up to our Checkpoint for it) is discarded.
//! Our own Checkpoint for the stable seq anchors our log, and the checkpoint barrier (deviation
//! 4 in the crate README: a Prepare or Commit for q only after the sender's Checkpoint for
//! boundary(q)) makes that log complete for everything above it, which is what a ViewChange
//! relies on.
//!
//! Guarantees: a stable checkpoint is always backed by f+1 Checkpoints whose UIs verify
//! (historical epochs included, deviation 10), and is re-formed from current-epoch ones when
//! possible. Refuses: certified state contradicting our own (`Divergence`); certificates are
//! checked here (`verify_cert`) and refused by their callers (`BadCheckpointCert`); a
//! certificate beyond our execution is fetched by state transfer instead.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use rampart_usig::Digest;

use crate::app::Application;
use crate::usig_port::UsigPort;
use crate::wire::{Certified, Checkpoint, CheckpointCert};

use super::{placeholder_ui, Out, Reason, Replica};

impl<A: Application + Clone> Replica<A> {
    pub(super) fn send_checkpoint(&mut self, usig: &mut impl UsigPort, seq: u64, state_digest: Digest, out: &mut Out) {
        debug_assert!(self.my_max_checkpoint.is_none_or(|m| m < seq));
        if !self.log_has_room(true) {
            return self.reject(Reason::LogFull, out);
        }
        let mut c = Checkpoint { replica: self.config.me, seq, state_digest, ui: placeholder_ui() };
        let Some(ui) = self.certify(usig, &c.digest()) else {
            return self.reject(Reason::UsigUnavailable, out);
        };
        c.ui = ui;
        self.my_max_checkpoint = Some(seq);
        if seq == self.stable.seq {
            // Our anchor for the stable checkpoint (at start, or after state transfer).
            self.sent_log.clear();
        }
        self.emit(Certified::Checkpoint(c.clone()), out);
        self.on_checkpoint_vote(usig, c, out);
    }

    pub(super) fn on_checkpoint_vote(&mut self, usig: &mut impl UsigPort, c: Checkpoint, out: &mut Out) {
        if c.seq == self.stable.seq && c.state_digest == self.stable.state_digest {
            self.stable_votes.insert(c.replica, c);
            return;
        }
        if c.seq <= self.stable.seq {
            return;
        }
        // One vote per replica, its latest (a replica's checkpoints only increase): n at most.
        let seq = c.seq;
        let digest = c.state_digest;
        for m in self.checkpoint_votes.values_mut() {
            m.remove(&c.replica);
        }
        self.checkpoint_votes.retain(|_, m| !m.is_empty());
        self.checkpoint_votes.entry(seq).or_default().insert(c.replica, c);
        let matching: Vec<Checkpoint> = self.checkpoint_votes[&seq].values().filter(|v| v.state_digest == digest).cloned().collect();
        if matching.len() > self.config.f as usize {
            let cert = CheckpointCert { seq, state_digest: digest, checkpoints: matching };
            self.adopt_stable(usig, cert, out);
        }
    }

    /// A checkpoint certificate we verified (or assembled): make it stable if we have its state,
    /// or fetch the state.
    pub(super) fn adopt_stable(&mut self, _usig: &mut impl UsigPort, cert: CheckpointCert, out: &mut Out) {
        if cert.seq <= self.stable.seq {
            return;
        }
        match self.own_checkpoints.get(&cert.seq) {
            Some((d, _)) if *d == cert.state_digest => {
                let (_, snapshot) = self.own_checkpoints.remove(&cert.seq).expect("present");
                self.make_stable(cert, snapshot);
            }
            Some(_) => self.reject(Reason::Divergence, out),
            None if self.executed_seq >= cert.seq => self.reject(Reason::Divergence, out),
            None => {
                if self.transfer_target.as_ref().is_none_or(|t| t.seq < cert.seq) {
                    self.transfer_target = Some(cert);
                    self.want_state(out);
                }
            }
        }
    }

    /// `cert` is stable and `snapshot` is our state at it: garbage-collect below it.
    fn make_stable(&mut self, cert: CheckpointCert, snapshot: Vec<u8>) {
        let seq = cert.seq;
        debug_assert!(self.executed_seq >= seq);
        // Our log now starts at our own Checkpoint for seq.
        let pos = self
            .sent_log
            .iter()
            .position(|(m, _)| matches!(m, Certified::Checkpoint(c) if c.seq == seq))
            .expect("we sent a checkpoint for every seq we have a snapshot of");
        self.sent_log.drain(..pos);
        self.stable_votes = cert.checkpoints.iter().map(|c| (c.replica, c.clone())).collect();
        if let Some(m) = self.checkpoint_votes.get(&seq) {
            for c in m.values().filter(|c| c.state_digest == cert.state_digest) {
                self.stable_votes.insert(c.replica, c.clone());
            }
        }
        self.stable = cert;
        self.stable_snapshot = snapshot;
        self.own_checkpoints.retain(|&s, _| s > seq);
        self.checkpoint_votes.retain(|&s, _| s > seq);
        self.resync_commits.retain(|&s, _| s > seq);
        for s in &mut self.streams {
            s.anchors.retain(|&a, _| a >= seq);
        }
        if self.transfer_target.as_ref().is_some_and(|t| t.seq <= seq) {
            self.transfer_target = None;
        }
    }

    /// Our stable certificate, re-formed if possible from Checkpoints whose epochs are still
    /// accepted (a restarted replica's old-epoch UIs no longer verify).
    pub(super) fn current_stable_cert(&self) -> CheckpointCert {
        if self.stable.seq == 0 {
            return self.stable.clone();
        }
        let valid: Vec<Checkpoint> = self
            .stable_votes
            .values()
            .filter(|c| if c.replica == self.config.me { c.ui.epoch == self.my_epoch } else { self.accepted_epochs[c.replica.0 as usize] == Some(c.ui.epoch) })
            .take(self.config.f as usize + 1)
            .cloned()
            .collect();
        if valid.len() > self.config.f as usize {
            CheckpointCert { seq: self.stable.seq, state_digest: self.stable.state_digest, checkpoints: valid }
        } else {
            self.stable.clone()
        }
    }

    pub(super) fn verify_cert(&self, usig: &mut impl UsigPort, cert: &CheckpointCert) -> bool {
        if cert.seq % self.config.checkpoint_period != 0 {
            return false;
        }
        if cert.seq == 0 {
            return cert.state_digest == self.config.genesis_digest;
        }
        let mut seen = BTreeSet::new();
        for c in &cert.checkpoints {
            if c.seq != cert.seq || c.state_digest != cert.state_digest || c.replica.0 >= self.config.n || c.ui.usig.0 != c.replica.0 {
                return false;
            }
            if !seen.insert(c.replica) {
                return false;
            }
            // A certificate is evidence: a Checkpoint from an epoch before the one now accepted
            // (its replica restarted since) still proves what that replica said then. The
            // UsigPort must verify such historical UIs (see its docs); live stream messages,
            // by contrast, are only accepted from the current epoch.
            let accepted = if c.replica == self.config.me { Some(self.my_epoch) } else { self.accepted_epochs[c.replica.0 as usize] };
            if accepted.is_none_or(|a| c.ui.epoch > a) {
                return false;
            }
            if usig.verify_ui(&c.digest(), &c.ui).is_err() {
                return false;
            }
        }
        seen.len() > self.config.f as usize
    }
}
