//! Streams: every peer's certified messages processed in its USIG counter order, and our own
//! certified messages (Veronese et al., "Efficient Byzantine Fault-Tolerance": the USIG's unique identifiers are what stop a faulty replica from sending different
//! messages to different replicas).
//!
//! A certified message from peer j is verified (its UI over its digest) and processed only
//! when it is next in j's stream: no gaps, later counters wait in a bounded hold-back buffer
//! (`HELD_PER_PEER_MAX`, then `HoldBackFull`). No stream waits on another (model-checking
//! finding 1). Embedded copies (a Commit's Prepare, a NewView's ViewChanges, a ViewChange's
//! log) fill gaps in the streams they belong to. The checkpoint barrier is enforced here
//! (`BarrierViolation`), and a peer whose Checkpoints do not strictly increase is marked faulty
//! for its epoch (`BadCheckpoint`, then `FaultySender`).
//!
//! Our own side: every message we certify is recorded in our log since our stable Checkpoint
//! (`sent_log`, bounded by `LOG_ENTRIES_MAX`, `LogFull`), for view changes and retransmission.

use alloc::vec::Vec;

use rampart_usig::{Digest, Ui};

use crate::app::Application;
use crate::usig_port::UsigPort;
use crate::wire::{Certified, LogEntry, Prepare, ReplicaId, LOG_ENTRIES_MAX};

use super::{boundary, Action, Out, Reason, Replica, CHECKPOINTS_AHEAD_MAX, HELD_PER_PEER_MAX};

impl<A: Application + Clone> Replica<A> {
    /// Verifies a certified message from peer `j` and processes it in `j`'s counter order
    /// (holding it back if earlier ones are missing).
    pub(super) fn offer(&mut self, usig: &mut impl UsigPort, j: ReplicaId, msg: Certified, out: &mut Out) {
        let ui = msg.ui();
        if ui.usig.0 != j.0 || msg.replica() != j {
            return self.reject(Reason::WrongSender, out);
        }
        let s = &self.streams[j.0 as usize];
        if s.epoch != Some(ui.epoch) {
            return self.reject(Reason::EpochNotAccepted, out);
        }
        if ui.counter < s.next || s.held.contains_key(&ui.counter) {
            return self.reject(Reason::Duplicate, out);
        }
        if s.held.len() >= HELD_PER_PEER_MAX && ui.counter != s.next {
            return self.reject(Reason::HoldBackFull, out);
        }
        // A Commit brings the Prepare it embeds: offered to the primary's stream (which
        // verifies it) if we have not seen that counter yet.
        let digest = match &msg {
            Certified::Commit(c) => {
                let p = &c.prepare;
                let d = self.known_prepare_digest(p).unwrap_or_else(|| p.digest());
                let primary = p.replica;
                if primary.0 < self.config.n && primary != self.config.me && self.is_new(primary, &p.ui) {
                    self.offer(usig, primary, Certified::Prepare(p.clone()), out);
                }
                c.digest_with(&d)
            }
            m => m.digest(),
        };
        if usig.verify_ui(&digest, msg.ui()).is_err() {
            return self.reject(Reason::BadUi, out);
        }
        // Embedded ViewChanges of a NewView, and the log of a ViewChange, can fill our gaps.
        match &msg {
            Certified::NewView(nv) => {
                for vc in nv.view_changes.clone() {
                    if vc.replica != self.config.me && vc.replica.0 < self.config.n && self.is_new(vc.replica, &vc.ui) {
                        self.offer(usig, vc.replica, Certified::ViewChange(vc), out);
                    }
                }
            }
            Certified::ViewChange(vc) => {
                let log = vc.log.clone();
                self.fill_from_log(usig, j, &log, out);
            }
            _ => {}
        }
        let counter = msg.ui().counter;
        let s = &mut self.streams[j.0 as usize];
        if counter < s.next || s.held.contains_key(&counter) {
            return; // delivered meanwhile from an embedded copy
        }
        s.held.insert(counter, (msg, digest));
        self.drain(usig, out);
    }

    /// Is this UI from `j`'s accepted epoch, neither processed nor held yet?
    fn is_new(&self, j: ReplicaId, ui: &Ui) -> bool {
        let s = &self.streams[j.0 as usize];
        s.epoch == Some(ui.epoch) && ui.counter >= s.next && !s.held.contains_key(&ui.counter)
    }

    /// The digest of a Prepare we already hold in a slot (saves rehashing a batch).
    pub(super) fn known_prepare_digest(&self, p: &Prepare) -> Option<Digest> {
        if let Some(slot) = self.slots.get(&p.seq) {
            return (slot.prepare == *p).then_some(slot.prepare_digest);
        }
        // Executed recently: a late Commit for it only needs its UI checked, over the digest
        // we verified (a Commit whose body differs from what its UI certifies fails that check
        // or is, at worst, a certified Commit for the genuine Prepare; it is stale either way).
        let &(usig, epoch, counter, d) = self.recent_prepares.get(&p.seq)?;
        (p.ui.usig.0 == usig && p.ui.epoch == epoch && p.ui.counter == counter).then_some(d)
    }

    /// Offers the full entries of `j`'s log that we have not processed yet (filling gaps; a
    /// jump over what we lack is [`Replica::jump_to_anchor`]'s, on a third replica's word).
    pub(super) fn fill_from_log(&mut self, usig: &mut impl UsigPort, j: ReplicaId, log: &[LogEntry], out: &mut Out) {
        for e in log {
            if !self.is_new(j, e.ui()) {
                continue;
            }
            let m = match e {
                LogEntry::Prepare(p) => Certified::Prepare(p.clone()),
                LogEntry::Commit(c) => Certified::Commit(c.clone()),
                LogEntry::Checkpoint(c) => Certified::Checkpoint(c.clone()),
                // A stub cannot be processed; a later retransmission of the full message will.
                LogEntry::Stub { .. } => break,
            };
            self.offer(usig, j, m, out);
        }
    }

    /// Processes held messages that are next in their streams, until none is.
    pub(super) fn drain(&mut self, usig: &mut impl UsigPort, out: &mut Out) {
        loop {
            let mut progressed = false;
            for j in 0..self.streams.len() {
                loop {
                    let s = &self.streams[j];
                    let Some((msg, _)) = s.held.get(&s.next) else {
                        break;
                    };
                    if !self.dependencies_met(msg) {
                        break;
                    }
                    let s = &mut self.streams[j];
                    let (msg, digest) = s.held.remove(&s.next).expect("present");
                    s.next += 1;
                    progressed = true;
                    self.process(usig, ReplicaId(j as u32), msg, digest, out);
                }
            }
            if !progressed {
                break;
            }
        }
    }

    /// Only a Prepare far beyond our stable checkpoint waits; nothing waits on another stream.
    fn dependencies_met(&self, msg: &Certified) -> bool {
        let k = self.config.checkpoint_period;
        if let Certified::Prepare(p) = msg {
            // A Prepare far beyond our stable checkpoint waits (bounding the slots a faulty
            // primary can make us keep) until state transfer or stability catches up.
            return p.seq <= self.stable.seq + k * (CHECKPOINTS_AHEAD_MAX + 2);
        }
        // Nothing else waits on another stream: a Commit that arrives before its Prepare is
        // kept aside (`early_commits`) rather than blocking its sender's stream, since a
        // faulty primary can leave a gap in its own stream forever (model-checking finding 1:
        // a wait across streams let a Byzantine replica wedge a correct one).
        true
    }

    /// One certified message from `j`, in `j`'s counter order, UI verified.
    fn process(&mut self, usig: &mut impl UsigPort, j: ReplicaId, msg: Certified, digest: Digest, out: &mut Out) {
        let ji = j.0 as usize;
        let counter = msg.ui().counter;
        if self.streams[ji].faulty {
            return self.reject(Reason::FaultySender, out);
        }
        let k = self.config.checkpoint_period;
        // The barrier: a Prepare or Commit for q must follow j's Checkpoint for boundary(q).
        let seq_about = match &msg {
            Certified::Prepare(p) => Some(p.seq),
            Certified::Commit(c) => Some(c.prepare.seq),
            _ => None,
        };
        if let Some(q) = seq_about {
            if q == 0 || self.streams[ji].max_checkpoint.is_none_or(|m| m < boundary(q, k)) {
                return self.reject(Reason::BarrierViolation, out);
            }
        }
        match msg {
            Certified::Checkpoint(c) => {
                let s = &mut self.streams[ji];
                if c.seq % k != 0 || s.max_checkpoint.is_some_and(|m| c.seq <= m) {
                    // Only a faulty replica sends checkpoints out of order (see module docs).
                    s.faulty = true;
                    return self.reject(Reason::BadCheckpoint, out);
                }
                s.max_checkpoint = Some(c.seq);
                let limit = self.stable.seq + k * (CHECKPOINTS_AHEAD_MAX + 2);
                if c.seq >= self.stable.seq && c.seq <= limit {
                    debug_assert_eq!(c.ui.counter, counter);
                    s.anchors.entry(c.seq).or_insert_with(|| c.clone());
                }
                self.on_checkpoint_vote(usig, c, out);
            }
            Certified::Prepare(p) => self.on_prepare(usig, p, Some(digest), out),
            Certified::Commit(c) => self.on_commit(usig, c, out),
            Certified::ViewChange(vc) => self.on_view_change(usig, vc, out),
            Certified::NewView(nv) => self.on_new_view(usig, nv, out),
        }
    }

    /// Room in our log for one more certified message (Checkpoints keep a reserve, since they
    /// are what lets garbage collection free the log).
    pub(super) fn log_has_room(&self, checkpoint: bool) -> bool {
        self.sent_log.len() + if checkpoint { 1 } else { 16 } < LOG_ENTRIES_MAX
    }

    pub(super) fn certify(&mut self, usig: &mut impl UsigPort, digest: &Digest) -> Option<Ui> {
        // A correct wrapper gives us every counter of our USIG, so ours are contiguous; a
        // Byzantine one may burn counters elsewhere (our peers then see a gap and stop
        // following us), which is not ours to assert.
        let ui = usig.create_ui(digest).ok()?;
        self.my_epoch = ui.epoch;
        self.my_last_counter = ui.counter;
        Some(ui)
    }

    /// Our log since our anchor, as log entries.
    pub(super) fn log_entries(&self) -> Vec<LogEntry> {
        self.sent_log.iter().map(|(m, stub)| stub.clone().unwrap_or_else(|| m.to_log_entry())).collect()
    }

    /// Records a certified message we created and broadcasts it.
    pub(super) fn emit(&mut self, m: Certified, out: &mut Out) {
        let entry = match &m {
            Certified::ViewChange(_) | Certified::NewView(_) => Some(m.to_log_entry()),
            _ => None,
        };
        self.sent_log.push((m.clone(), entry));
        out.push(Action::Broadcast { message: m.into_message() });
    }
}
