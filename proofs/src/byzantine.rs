//! The Byzantine replica: a finite menu of everything it can build.
//!
//! # What it is
//! The Byzantine replica runs no core. It holds its own USIG ([`MemUsig`], which certifies only
//! under its own id), everything it certified so far, and everything correct replicas and
//! clients sent it. Each step it picks one item of [`ByzAction`] (each spends one unit of the
//! Byzantine budget). Whatever it sends leaves under its own transport identity (the transport
//! authenticates senders), so correct replicas see `Peer::Replica(b)`.
//!
//! # What it cannot do
//! Forge another USIG's certificate or a client's authenticator: it has no such keys. Messages
//! that claim another sender carry certificates that do not verify (zeros), and garbage
//! requests carry zero authenticators. It can tag replies to clients, since it shares a key
//! with each client, but only as itself.
//!
//! # The menu (targets: one correct replica, or all of them)
//! - `Propose`: a Prepare for a view it leads (up to the view bound), any seq in
//!   `1..=byzantine_seq_max`, batch = one genuine request it saw, or a garbage one; a fresh UI
//!   from its USIG. Two Proposes to different replicas are equivocation; the same request at
//!   two seqs tests exactly-once.
//! - `Commit`: a Commit for any Prepare of another replica it saw (fresh UI).
//! - `BogusCheckpoint`: a Checkpoint for seq K with a made-up state digest (fresh UI).
//! - `ViewChange`: a ViewChange for a view up to the bound, with its whole log (genesis
//!   certificate); after a `Burn` its log has a gap, so it is refused.
//! - `ReqViewChange`: an (uncertified) request for a view change, to all.
//! - `Replay`: resend any certified message or request it saw or made, to one replica.
//! - `Burn`: use a USIG counter and send nothing (its later messages wait behind the gap).
//! - `ReuseUi`: a message with the UI of the last message it certified but another body.
//! - `ForgeCommit`: a Commit with its own valid UI that embeds a Prepare attributed to a
//!   correct primary, with a certificate that cannot verify, at that primary's next counter.
//! - `ForgePrepare`: a Prepare naming a correct replica, with that replica's USIG id and a
//!   certificate that cannot verify.
//! - `GarbageRequest`: a client request with a bad authenticator, relayed to all.
//! - `WrongReply`: a correctly tagged reply with a wrong result for a client's outstanding
//!   request.

use std::hash::{DefaultHasher, Hash, Hasher};

use rampart_minbft::auth::{derive_key, reply_tag, MacKey};
use rampart_minbft::usig_port::UsigPort;
use rampart_minbft::wire::{
    Certified, Checkpoint, CheckpointCert, ClientId, Commit, LogEntry, Message, Prepare, ReplicaId, Reply, ReqViewChange, Request, ViewChange,
};
use rampart_minbft::MemUsig;
use rampart_usig::{Certificate, Digest, Ui, UsigId};

use crate::config::N;
use crate::model::{Action, Envelope, MinBftModel, Node, State, MASTER};

/// Where a Byzantine message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    One(u32),
    AllCorrect,
}

/// One item of the menu (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ByzAction {
    Propose { view: u64, seq: u64, request: Option<Request>, to: Target },
    Commit { prepare: Prepare, to: Target },
    BogusCheckpoint,
    ViewChange { new_view: u64 },
    ReqViewChange { new_view: u64 },
    Replay { message: Message, to: u32 },
    Burn,
    ReuseUi,
    ForgeCommit { view: u64 },
    ForgePrepare,
    GarbageRequest,
    WrongReply { client: u64, request_id: u64 },
}

/// The Byzantine replica's state.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Byzantine {
    pub id: u32,
    pub usig: MemUsig,
    /// Everything it certified, in counter order (None: a burned counter).
    pub created: Vec<Option<Certified>>,
    /// Requests, Prepares, Commits and ViewChanges it received (deduplicated, canonical order).
    pub seen: Vec<Message>,
}

fn key(m: &Message) -> u64 {
    let mut h = DefaultHasher::new();
    m.hash(&mut h);
    h.finish()
}

fn junk_ui(usig: u32, counter: u64) -> Ui {
    Ui { usig: UsigId(usig), epoch: 1, counter, cert: Certificate::HmacSha256([0xAB; 32]) }
}

fn placeholder() -> Ui {
    junk_ui(0, 0)
}

impl Byzantine {
    pub fn new(id: u32, usig: MemUsig) -> Byzantine {
        Byzantine { id, usig, created: Vec::new(), seen: Vec::new() }
    }

    fn me(&self) -> ReplicaId {
        ReplicaId(self.id)
    }

    /// Certifies `digest` with its own USIG (which cannot fail in the model).
    fn certify(&mut self, digest: &Digest) -> Ui {
        self.usig.create_ui(digest).expect("MemUsig certifies")
    }

    /// Its anchoring Checkpoint for the genesis state (sent at boot, like a correct replica).
    pub fn anchor(&mut self, genesis: Digest) -> Message {
        let mut c = Checkpoint { replica: self.me(), seq: 0, state_digest: genesis, ui: placeholder() };
        c.ui = self.certify(&c.digest());
        self.created.push(Some(Certified::Checkpoint(c.clone())));
        Message::Checkpoint(c)
    }

    /// Reads a message sent to it.
    pub fn observe(&mut self, m: Message) {
        let keep = matches!(m, Message::Request(_) | Message::Prepare(_) | Message::Commit(_) | Message::ViewChange(_));
        if !keep {
            return;
        }
        let k = key(&m);
        match self.seen.binary_search_by(|x| key(x).cmp(&k)) {
            Ok(i) if self.seen[i] == m => {}
            Ok(i) | Err(i) => self.seen.insert(i, m),
        }
    }

    fn seen_requests(&self) -> Vec<Request> {
        let mut out: Vec<Request> = Vec::new();
        for m in &self.seen {
            if let Message::Request(r) = m {
                if !out.iter().any(|x| x.client == r.client && x.request_id == r.request_id) {
                    out.push(r.clone());
                }
            }
        }
        out
    }

    fn seen_prepares(&self) -> Vec<Prepare> {
        let mut out: Vec<Prepare> = Vec::new();
        for m in &self.seen {
            let p = match m {
                Message::Prepare(p) => p,
                Message::Commit(c) => &c.prepare,
                _ => continue,
            };
            if p.replica != self.me() && !out.contains(p) {
                out.push(p.clone());
            }
        }
        out
    }

    fn garbage_request(&self) -> Request {
        Request { client: ClientId(0), request_id: 1, operation: vec![0], authenticator: vec![[0; 32]; N as usize] }
    }

    /// Appends the menu for this state.
    pub fn menu(&self, model: &MinBftModel, s: &State, actions: &mut Vec<Action>) {
        let cfg = &model.cfg;
        let correct = model.correct_ids();
        let mut targets: Vec<Target> = correct.iter().map(|&r| Target::One(r)).collect();
        targets.push(Target::AllCorrect);
        let mut push = |a: ByzAction| actions.push(Action::Byzantine(a));

        let led: Vec<u64> = (0..=cfg.view_max).filter(|&v| MinBftModel::primary_of(v) == self.id).collect();
        let mut batches: Vec<Option<Request>> = self.seen_requests().into_iter().map(Some).collect();
        batches.push(None);
        for &view in &led {
            for seq in 1..=cfg.byzantine_seq_max {
                for request in &batches {
                    for &to in &targets {
                        push(ByzAction::Propose { view, seq, request: request.clone(), to });
                    }
                }
            }
        }
        for prepare in self.seen_prepares() {
            for &to in &targets {
                push(ByzAction::Commit { prepare: prepare.clone(), to });
            }
        }
        push(ByzAction::BogusCheckpoint);
        for new_view in 1..=cfg.view_max {
            let sent = self.created.iter().flatten().any(|c| matches!(c, Certified::ViewChange(v) if v.new_view == new_view));
            if !sent {
                push(ByzAction::ViewChange { new_view });
            }
            push(ByzAction::ReqViewChange { new_view });
        }
        let mut replayable: Vec<Message> = self.seen.clone();
        replayable.extend(self.created.iter().flatten().map(|c| c.clone().into_message()));
        for message in replayable {
            for &to in &correct {
                push(ByzAction::Replay { message: message.clone(), to });
            }
        }
        push(ByzAction::Burn);
        if !self.created.is_empty() {
            push(ByzAction::ReuseUi);
        }
        for view in 0..=cfg.view_max {
            if MinBftModel::primary_of(view) != self.id {
                push(ByzAction::ForgeCommit { view });
            }
        }
        push(ByzAction::ForgePrepare);
        push(ByzAction::GarbageRequest);
        for (c, slot) in s.clients.iter().enumerate() {
            if let Some(r) = slot.client.outstanding() {
                push(ByzAction::WrongReply { client: c as u64, request_id: r.request_id });
            }
        }
    }

    fn to_targets(&self, model: &MinBftModel, to: Target, message: Message) -> Vec<Envelope> {
        let from = Node::Replica(self.id);
        match to {
            Target::One(r) => vec![Envelope { from, to: Node::Replica(r), message }],
            Target::AllCorrect => model.correct_ids().into_iter().map(|r| Envelope { from, to: Node::Replica(r), message: message.clone() }).collect(),
        }
    }

    /// Performs one menu item; returns what it sends.
    pub fn act(&mut self, model: &MinBftModel, a: ByzAction) -> Vec<Envelope> {
        let me = self.me();
        let k = model.cfg.checkpoint_period;
        match a {
            ByzAction::Propose { view, seq, request, to } => {
                let batch = vec![request.unwrap_or_else(|| self.garbage_request())];
                let mut p = Prepare { view, replica: me, seq, batch: batch.into(), ui: placeholder() };
                p.ui = self.certify(&p.digest());
                self.created.push(Some(Certified::Prepare(p.clone())));
                self.to_targets(model, to, Message::Prepare(p))
            }
            ByzAction::Commit { prepare, to } => {
                let mut c = Commit { replica: me, prepare, ui: placeholder() };
                c.ui = self.certify(&c.digest());
                self.created.push(Some(Certified::Commit(c.clone())));
                self.to_targets(model, to, Message::Commit(c))
            }
            ByzAction::BogusCheckpoint => {
                let mut c = Checkpoint { replica: me, seq: k, state_digest: [0xEE; 32], ui: placeholder() };
                c.ui = self.certify(&c.digest());
                self.created.push(Some(Certified::Checkpoint(c.clone())));
                self.to_targets(model, Target::AllCorrect, Message::Checkpoint(c))
            }
            ByzAction::ViewChange { new_view } => {
                let log: Vec<LogEntry> = self.created.iter().flatten().map(Certified::to_log_entry).collect();
                let checkpoint = CheckpointCert { seq: 0, state_digest: model.genesis_digest, checkpoints: Vec::new() };
                let mut vc = ViewChange { replica: me, new_view, checkpoint, log, ui: placeholder() };
                vc.ui = self.certify(&vc.digest());
                self.created.push(Some(Certified::ViewChange(vc.clone())));
                self.to_targets(model, Target::AllCorrect, Message::ViewChange(vc))
            }
            ByzAction::ReqViewChange { new_view } => {
                self.to_targets(model, Target::AllCorrect, Message::ReqViewChange(ReqViewChange { replica: me, new_view }))
            }
            ByzAction::Replay { message, to } => self.to_targets(model, Target::One(to), message),
            ByzAction::Burn => {
                let _ = self.certify(&[0x42; 32]);
                self.created.push(None);
                Vec::new()
            }
            ByzAction::ReuseUi => {
                let Some(ui) = self.created.iter().rev().flatten().next().map(|c| c.ui().clone()) else {
                    return Vec::new();
                };
                let message = if MinBftModel::primary_of(0) == self.id {
                    let batch = vec![self.garbage_request()];
                    Message::Prepare(Prepare { view: 0, replica: me, seq: 1, batch: batch.into(), ui })
                } else {
                    Message::Checkpoint(Checkpoint { replica: me, seq: k, state_digest: [0xDD; 32], ui })
                };
                self.to_targets(model, Target::AllCorrect, message)
            }
            ByzAction::ForgeCommit { view } => {
                let primary = MinBftModel::primary_of(view);
                let request = self.seen_requests().into_iter().next().unwrap_or_else(|| self.garbage_request());
                let forged = Prepare {
                    view,
                    replica: ReplicaId(primary),
                    seq: 1,
                    batch: vec![request].into(),
                    // Counter 1 is the primary's anchor; 2 is its first Prepare.
                    ui: junk_ui(primary, 2),
                };
                let mut c = Commit { replica: me, prepare: forged, ui: placeholder() };
                c.ui = self.certify(&c.digest());
                self.created.push(Some(Certified::Commit(c.clone())));
                self.to_targets(model, Target::AllCorrect, Message::Commit(c))
            }
            ByzAction::ForgePrepare => {
                let other = (0..N).find(|&r| r != self.id).expect("n > 1");
                let batch = vec![self.seen_requests().into_iter().next().unwrap_or_else(|| self.garbage_request())];
                let p = Prepare { view: 0, replica: ReplicaId(other), seq: 1, batch: batch.into(), ui: junk_ui(other, 2) };
                self.to_targets(model, Target::AllCorrect, Message::Prepare(p))
            }
            ByzAction::GarbageRequest => self.to_targets(model, Target::AllCorrect, Message::Request(self.garbage_request())),
            ByzAction::WrongReply { client, request_id } => {
                let key = derive_key(&MASTER, ClientId(client), me);
                let mut reply = Reply { replica: me, view: 0, client: ClientId(client), request_id, result: b"forged".to_vec(), authenticator: [0; 32] };
                reply.authenticator = reply_tag(&MacKey::new(&key), &reply);
                vec![Envelope { from: Node::Replica(self.id), to: Node::Client(client), message: Message::Reply(reply) }]
            }
        }
    }
}
