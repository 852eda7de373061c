//! The stateright model: the real replica and client cores, a faulty network, timers.
//!
//! # Why a hand-written `Model` and not stateright's actor model
//! Every fault must be bounded for the space to be finite, and the bound must be part of the
//! state: the actor model's lossy network drops without limit and its duplicating network
//! redelivers without limit, and each redelivery of an old message changes the real core's
//! state (its rejection counters), so the space would never close. Here the network is a
//! multiset of envelopes: delivery consumes one copy, and drops and extra deliveries each
//! spend a budget. Timers are a set of armed (node, timer) pairs; any armed timer may fire at
//! any moment (no timing assumption at all), each expiry spending the timeout budget.
//!
//! # The state
//! The correct replicas ([`Replica`] with its [`MemUsig`]), the Byzantine replica's knowledge
//! ([`Byzantine`]), the clients ([`Client`]), the in-flight envelopes, the armed timers, the
//! remaining budgets and a history (what was submitted, executed, replied and accepted) that
//! the properties read. Everything is `Clone + Eq + Hash`, so stateright deduplicates states.
//!
//! # Boot
//! The initial state is the cluster just after boot: every replica accepted every USIG's
//! epoch 1, received `Start`, and the anchoring Checkpoints (seq 0) every replica broadcasts
//! on start have been delivered. The Byzantine replica also sent its anchor (a replica that
//! never anchors has every Prepare and Commit refused by the barrier, which is uninteresting).

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};

use rampart_minbft::auth::{derive_key, Key};
use rampart_minbft::replica::{Action as ReplicaAction, Config, Input, Peer, TimerKind};
use rampart_minbft::wire::{ClientId, Message, ReplicaId};
use rampart_minbft::{Client, ClientAction, ClientConfig, KvOp, KvStore, MemUsig, Replica};
use rampart_usig::{Digest, UsigId};
use stateright::{Model, Property};

use crate::byzantine::{ByzAction, Byzantine};
use crate::config::{ModelConfig, F, N};

/// Client-replica keys derive from this master secret (tests only).
pub const MASTER: Key = [7; 32];
/// USIG keys derive from this seed (tests only).
pub const USIG_SEED: u64 = 0xC0FFEE;

/// Request timeout of the replicas, ms (only the liveness continuation reads durations).
pub const REQUEST_TIMEOUT_MS: u64 = 400;
pub const VIEW_CHANGE_TIMEOUT_MS: u64 = 600;
pub const STATUS_INTERVAL_MS: u64 = 50;
pub const STATE_TRANSFER_TIMEOUT_MS: u64 = 200;
pub const CLIENT_RETRANSMIT_TIMEOUT_MS: u64 = 300;

/// A node of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Node {
    Replica(u32),
    Client(u64),
}

/// A timer a node armed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    Replica(TimerKind),
    /// The client's retransmission timer.
    Client,
}

/// A message in flight.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Envelope {
    pub from: Node,
    pub to: Node,
    pub message: Message,
}

/// A correct replica: the real core and its USIG.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CorrectReplica {
    pub replica: Replica<KvStore>,
    pub usig: MemUsig,
}

/// One replica slot.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ReplicaSlot {
    Correct(Box<CorrectReplica>),
    Byzantine(Box<Byzantine>),
}

/// One client: the real client library and how far through its workload it is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientSlot {
    pub client: Client,
    pub submitted: usize,
}

/// What happened so far, for the properties.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct History {
    /// (client, request id) of every request a client submitted.
    pub submitted: BTreeSet<(u64, u64)>,
    /// Per replica (empty for the Byzantine one): (seq, index, client, request id) executed
    /// by its current life.
    pub executed: Vec<Vec<(u64, usize, u64, u64)>>,
    /// What earlier lives of restarted replicas executed: (replica, its log), one per life.
    pub earlier_lives: Vec<(u32, Vec<(u64, usize, u64, u64)>)>,
    /// A restarted replica's new life restored a checkpoint or executed a request.
    pub restarted_caught_up: bool,
    /// (client, request id) -> every result a correct replica put in a reply.
    pub correct_results: BTreeMap<(u64, u64), BTreeSet<Vec<u8>>>,
    /// (client, request id, result) of every completion a client accepted.
    pub accepted: Vec<(u64, u64, Vec<u8>)>,
    /// Highest view a correct replica entered.
    pub view_entered_max: u64,
    /// A correct replica restored a snapshot (state transfer).
    pub restored: bool,
    /// A correct replica executed while the Byzantine replica was its primary.
    pub executed_under_byzantine_primary: bool,
    /// A panic inside the core (replica or client) and its message: always a finding.
    pub panic: Option<String>,
}

/// What may still go wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Budgets {
    pub drops: u8,
    pub duplicates: u8,
    pub timeouts: u8,
    pub gossip: u8,
    pub restarts: u8,
    pub byzantine: u8,
}

/// A state of the model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    pub replicas: Vec<ReplicaSlot>,
    pub clients: Vec<ClientSlot>,
    /// In-flight envelopes, a multiset kept in a canonical order (by a hash) so equal multisets
    /// are equal states.
    pub network: Vec<Envelope>,
    pub timers: BTreeSet<(Node, Timer)>,
    pub budgets: Budgets,
    pub history: History,
    /// Timer settings (duration) and cancellations (None) made during the current transition,
    /// for the liveness continuation, which runs a clock. Always empty in explored states.
    pub timer_log: Vec<(Node, Timer, Option<u64>)>,
}

/// One step of the model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Deliver one copy of an in-flight envelope.
    Deliver(Envelope),
    /// Deliver an envelope and keep a copy in flight (spends the duplication budget).
    DeliverAndDuplicate(Envelope),
    /// Lose one copy of an envelope (spends the drop budget).
    Drop(Envelope),
    /// An armed timer expires (spends the gossip budget for a replica's Status timer, the
    /// timeout budget for any other).
    Timeout(Node, Timer),
    /// A client submits its next request.
    Submit(u64),
    /// The Byzantine replica acts (spends the Byzantine budget).
    Byzantine(ByzAction),
    /// A correct replica crashes and restarts from its pristine image in a new USIG epoch
    /// (spends the restart budget).
    Restart(u32),
}

/// The model of one [`ModelConfig`].
#[derive(Clone, Debug)]
pub struct MinBftModel {
    pub cfg: ModelConfig,
    pub replica_configs: Vec<Config>,
    pub client_configs: Vec<ClientConfig>,
    pub genesis_digest: Digest,
    pub usig_keys: Vec<[u8; 32]>,
}

/// The operation client `c` submits as its `i`-th request: a put on one shared key, so every
/// result (the previous value) depends on the agreed order.
pub fn operation(c: u64, i: usize) -> Vec<u8> {
    KvOp::Put { key: b"k".to_vec(), value: vec![c as u8, i as u8] }.encode()
}

fn envelope_key(e: &Envelope) -> u64 {
    let mut h = DefaultHasher::new();
    e.hash(&mut h);
    h.finish()
}

impl MinBftModel {
    pub fn new(cfg: ModelConfig) -> MinBftModel {
        let genesis_digest = Replica::genesis_digest(&KvStore::new());
        let replica_configs = (0..N)
            .map(|me| Config {
                n: N,
                f: F,
                me: ReplicaId(me),
                batch_size_max: 2,
                window_max: 1,
                checkpoint_period: cfg.checkpoint_period,
                request_timeout_ms: REQUEST_TIMEOUT_MS,
                view_change_timeout_ms: VIEW_CHANGE_TIMEOUT_MS,
                status_interval_ms: STATUS_INTERVAL_MS,
                state_transfer_timeout_ms: STATE_TRANSFER_TIMEOUT_MS,
                client_keys: (0..cfg.clients).map(|c| (ClientId(c), derive_key(&MASTER, ClientId(c), ReplicaId(me)))).collect(),
                genesis_digest,
            })
            .collect();
        let client_configs = (0..cfg.clients)
            .map(|c| ClientConfig {
                id: ClientId(c),
                n: N,
                f: F,
                keys: (0..N).map(|r| derive_key(&MASTER, ClientId(c), ReplicaId(r))).collect(),
                retransmit_timeout_ms: CLIENT_RETRANSMIT_TIMEOUT_MS,
                first_request_id: 1,
            })
            .collect();
        MinBftModel { cfg, replica_configs, client_configs, genesis_digest, usig_keys: MemUsig::cluster_keys(N as usize, USIG_SEED) }
    }

    pub fn is_byzantine(&self, r: u32) -> bool {
        self.cfg.byzantine == Some(r)
    }

    /// The ids of the correct replicas.
    pub fn correct_ids(&self) -> Vec<u32> {
        (0..N).filter(|&r| !self.is_byzantine(r)).collect()
    }

    /// The primary of `view`.
    pub fn primary_of(view: u64) -> u32 {
        (view % N as u64) as u32
    }

    /// The initial state (see the module docs: after boot, anchors delivered).
    pub fn initial_state(&self) -> State {
        let replicas = (0..N)
            .map(|r| {
                let usig = MemUsig::new(UsigId(r), 1, self.usig_keys.clone());
                if self.is_byzantine(r) {
                    ReplicaSlot::Byzantine(Box::new(Byzantine::new(r, usig)))
                } else {
                    let replica = Replica::new(self.replica_configs[r as usize].clone(), KvStore::new());
                    ReplicaSlot::Correct(Box::new(CorrectReplica { replica, usig }))
                }
            })
            .collect();
        let clients = self.client_configs.iter().map(|c| ClientSlot { client: Client::new(c.clone()), submitted: 0 }).collect();
        let mut s = State {
            replicas,
            clients,
            network: Vec::new(),
            timers: BTreeSet::new(),
            budgets: Budgets {
                drops: self.cfg.drops_max,
                duplicates: self.cfg.duplicates_max,
                timeouts: self.cfg.timeouts_max,
                gossip: self.cfg.gossip_max,
                restarts: self.cfg.restarts_max,
                byzantine: self.cfg.byzantine_actions_max,
            },
            history: History { executed: vec![Vec::new(); N as usize], ..History::default() },
            timer_log: Vec::new(),
        };
        for r in self.correct_ids() {
            for j in 0..N {
                self.replica_input(&mut s, r, Input::EpochAccepted { replica: ReplicaId(j), epoch: 1 });
            }
            self.replica_input(&mut s, r, Input::Start { recovering: false });
        }
        if let Some(b) = self.cfg.byzantine {
            let anchor = self.byzantine_mut(&mut s).anchor(self.genesis_digest);
            for r in self.correct_ids() {
                self.send(&mut s, Envelope { from: Node::Replica(b), to: Node::Replica(r), message: anchor.clone() });
            }
        }
        while !s.network.is_empty() {
            let e = s.network.remove(0);
            self.deliver(&mut s, e);
        }
        s
    }

    // ----- transitions ---------------------------------------------------------------------

    pub fn byzantine_mut<'a>(&self, s: &'a mut State) -> &'a mut Byzantine {
        let b = self.cfg.byzantine.expect("a Byzantine replica") as usize;
        match &mut s.replicas[b] {
            ReplicaSlot::Byzantine(z) => z,
            ReplicaSlot::Correct(_) => unreachable!("slot {b} is Byzantine"),
        }
    }

    pub fn byzantine<'a>(&self, s: &'a State) -> Option<&'a Byzantine> {
        let b = self.cfg.byzantine? as usize;
        match &s.replicas[b] {
            ReplicaSlot::Byzantine(z) => Some(z),
            ReplicaSlot::Correct(_) => None,
        }
    }

    /// Puts an envelope in flight; one to the Byzantine replica is read by it at once (it sees
    /// what is sent to it, and may act on it whenever it likes).
    pub fn send(&self, s: &mut State, e: Envelope) {
        if let Node::Replica(r) = e.to {
            if self.is_byzantine(r) {
                self.byzantine_mut(s).observe(e.message);
                return;
            }
        }
        s.network.push(e);
    }

    /// Delivers one envelope (already taken out of the network).
    pub fn deliver(&self, s: &mut State, e: Envelope) {
        match e.to {
            Node::Replica(r) => {
                let from = match e.from {
                    Node::Replica(j) => Peer::Replica(ReplicaId(j)),
                    Node::Client(c) => Peer::Client(ClientId(c)),
                };
                self.replica_input(s, r, Input::Message { from, message: e.message });
            }
            Node::Client(c) => {
                let (Node::Replica(j), Message::Reply(reply)) = (e.from, e.message) else { return };
                let slot = &mut s.clients[c as usize];
                let actions = match catch_unwind(AssertUnwindSafe(|| slot.client.on_reply(ReplicaId(j), reply))) {
                    Ok(a) => a,
                    Err(p) => return record_panic(s, format!("client {c}"), p),
                };
                self.apply_client_actions(s, c, actions);
            }
        }
    }

    /// Runs one input through a correct replica's core and applies its actions.
    pub fn replica_input(&self, s: &mut State, r: u32, input: Input) {
        let ReplicaSlot::Correct(node) = &mut s.replicas[r as usize] else { return };
        let node = &mut **node;
        let actions = match catch_unwind(AssertUnwindSafe(|| node.replica.step(&mut node.usig, input))) {
            Ok(a) => a,
            Err(p) => return record_panic(s, format!("replica {r}"), p),
        };
        let from = Node::Replica(r);
        for a in actions {
            match a {
                ReplicaAction::Send { to, message } => self.send(s, Envelope { from, to: Node::Replica(to.0), message }),
                ReplicaAction::Broadcast { message } => {
                    for j in (0..N).filter(|&j| j != r) {
                        self.send(s, Envelope { from, to: Node::Replica(j), message: message.clone() });
                    }
                }
                ReplicaAction::ReplyToClient { client, reply } => {
                    s.history.correct_results.entry((client.0, reply.request_id)).or_default().insert(reply.result.clone());
                    if (client.0 as usize) < s.clients.len() {
                        self.send(s, Envelope { from, to: Node::Client(client.0), message: Message::Reply(reply) });
                    }
                }
                ReplicaAction::SetTimer { kind, duration_ms } => {
                    s.timers.insert((from, Timer::Replica(kind)));
                    s.timer_log.push((from, Timer::Replica(kind), Some(duration_ms)));
                }
                ReplicaAction::CancelTimer { kind } => {
                    s.timers.remove(&(from, Timer::Replica(kind)));
                    s.timer_log.push((from, Timer::Replica(kind), None));
                }
                ReplicaAction::Executed { seq, index, client, request_id } => {
                    s.history.executed[r as usize].push((seq, index, client.0, request_id));
                    if s.history.earlier_lives.iter().any(|(x, _)| *x == r) {
                        s.history.restarted_caught_up = true;
                    }
                    let view = match &s.replicas[r as usize] {
                        ReplicaSlot::Correct(n) => n.replica.view(),
                        ReplicaSlot::Byzantine(_) => unreachable!(),
                    };
                    if self.is_byzantine(Self::primary_of(view)) {
                        s.history.executed_under_byzantine_primary = true;
                    }
                }
                ReplicaAction::StateRestored { .. } => {
                    s.history.restored = true;
                    if s.history.earlier_lives.iter().any(|(x, _)| *x == r) {
                        s.history.restarted_caught_up = true;
                    }
                }
                ReplicaAction::ViewEntered { view } => s.history.view_entered_max = s.history.view_entered_max.max(view),
                ReplicaAction::Rejected { .. } => {}
            }
        }
    }

    pub fn apply_client_actions(&self, s: &mut State, c: u64, actions: Vec<ClientAction>) {
        let from = Node::Client(c);
        for a in actions {
            match a {
                ClientAction::Send { to, message } => self.send(s, Envelope { from, to: Node::Replica(to.0), message }),
                ClientAction::Broadcast { message } => {
                    for r in 0..N {
                        self.send(s, Envelope { from, to: Node::Replica(r), message: message.clone() });
                    }
                }
                ClientAction::SetTimer { duration_ms } => {
                    s.timers.insert((from, Timer::Client));
                    s.timer_log.push((from, Timer::Client, Some(duration_ms)));
                }
                ClientAction::CancelTimer => {
                    s.timers.remove(&(from, Timer::Client));
                    s.timer_log.push((from, Timer::Client, None));
                }
                ClientAction::Done { request_id, result } => s.history.accepted.push((c, request_id, result)),
            }
        }
    }

    /// Replica `r` crashes and restarts: a new life of the core (nothing but its configuration)
    /// with a USIG in the next epoch; its armed timers are gone; messages in flight to it reach
    /// the new life. Its epoch announcement reaches every correct replica at once (the PDs'
    /// authenticated announcement path is not modelled), and the new life hears every peer's
    /// current epoch and starts in recovery (state transfer).
    pub fn restart(&self, s: &mut State, r: u32) {
        let ReplicaSlot::Correct(node) = &mut s.replicas[r as usize] else { return };
        let epoch = node.usig.epoch() + 1;
        **node = CorrectReplica {
            replica: Replica::new(self.replica_configs[r as usize].clone(), KvStore::new()),
            usig: MemUsig::new(UsigId(r), epoch, self.usig_keys.clone()),
        };
        s.timers.retain(|(n, _)| *n != Node::Replica(r));
        let life = std::mem::take(&mut s.history.executed[r as usize]);
        s.history.earlier_lives.push((r, life));
        let epochs: Vec<u64> = s
            .replicas
            .iter()
            .map(|slot| match slot {
                ReplicaSlot::Correct(n) => n.usig.epoch(),
                ReplicaSlot::Byzantine(z) => z.usig.epoch(),
            })
            .collect();
        for (j, &e) in epochs.iter().enumerate() {
            self.replica_input(s, r, Input::EpochAccepted { replica: ReplicaId(j as u32), epoch: e });
        }
        self.replica_input(s, r, Input::Start { recovering: true });
        for other in self.correct_ids().into_iter().filter(|&o| o != r) {
            self.replica_input(s, other, Input::EpochAccepted { replica: ReplicaId(r), epoch });
        }
    }

    /// Client `c` submits its next request (it must not be busy and must have one left).
    pub fn submit(&self, s: &mut State, c: u64) {
        let slot = &mut s.clients[c as usize];
        let op = operation(c, slot.submitted);
        slot.submitted += 1;
        let actions = match slot.client.submit(op) {
            Ok(a) => a,
            Err(e) => return s.history.panic = Some(format!("client {c} refused a submit: {e:?}")),
        };
        let id = slot.client.outstanding().map(|r| r.request_id).unwrap_or(0);
        s.history.submitted.insert((c, id));
        self.apply_client_actions(s, c, actions);
    }

    /// Fires an armed timer (already removed from the set).
    pub fn fire(&self, s: &mut State, node: Node, timer: Timer) {
        match (node, timer) {
            (Node::Replica(r), Timer::Replica(kind)) => self.replica_input(s, r, Input::Timer(kind)),
            (Node::Client(c), Timer::Client) => {
                let actions = s.clients[c as usize].client.on_timer();
                self.apply_client_actions(s, c, actions);
            }
            _ => {}
        }
    }

    /// Can client `c` submit now?
    pub fn may_submit(&self, s: &State, c: u64) -> bool {
        let slot = &s.clients[c as usize];
        !slot.client.is_busy() && slot.submitted < self.cfg.requests_per_client
    }

    /// Has every client completed its whole workload?
    pub fn workload_done(&self, s: &State) -> bool {
        s.clients.iter().all(|c| !c.client.is_busy() && c.submitted == self.cfg.requests_per_client)
    }

    /// Is every correct replica within the view bound?
    pub fn within_views(&self, s: &State) -> bool {
        s.replicas.iter().all(|slot| match slot {
            ReplicaSlot::Correct(n) => n.replica.view() <= self.cfg.view_max && n.replica.changing_to().is_none_or(|v| v <= self.cfg.view_max),
            ReplicaSlot::Byzantine(_) => true,
        })
    }

    /// Is this envelope a reply its client will ignore whatever happens (its request is not the
    /// client's outstanding one: request ids only grow)? Such envelopes are removed, which
    /// changes no node's behaviour and saves their interleavings.
    fn is_stale_reply(s: &State, e: &Envelope) -> bool {
        let (Node::Client(c), Message::Reply(r)) = (e.to, &e.message) else { return false };
        let slot = &s.clients[c as usize];
        match slot.client.outstanding() {
            Some(o) => r.request_id < o.request_id,
            // Ids are 1..=submitted so far; the next one is submitted + 1.
            None => r.request_id <= slot.submitted as u64,
        }
    }

    /// The network in canonical order, stale replies removed.
    pub fn canonicalize(s: &mut State) {
        s.timer_log.clear();
        let network = std::mem::take(&mut s.network);
        s.network = network.into_iter().filter(|e| !Self::is_stale_reply(s, e)).collect();
        s.network.sort_by_cached_key(envelope_key);
    }
}

fn record_panic(s: &mut State, who: String, p: Box<dyn std::any::Any + Send>) {
    let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|m| m.to_string())).unwrap_or_default();
    s.history.panic = Some(format!("{who} panicked: {msg}"));
}

fn take_one(network: &mut Vec<Envelope>, e: &Envelope) -> bool {
    match network.iter().position(|x| x == e) {
        Some(i) => {
            network.remove(i);
            true
        }
        None => false,
    }
}

impl Model for MinBftModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        let mut s = self.initial_state();
        Self::canonicalize(&mut s);
        vec![s]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        // Beyond the view bound, or after a panic: a leaf (its properties are still checked).
        if s.history.panic.is_some() || !self.within_views(s) {
            return;
        }
        for (i, e) in s.network.iter().enumerate() {
            if i > 0 && s.network[i - 1] == *e {
                continue;
            }
            actions.push(Action::Deliver(e.clone()));
            if s.budgets.duplicates > 0 {
                actions.push(Action::DeliverAndDuplicate(e.clone()));
            }
            if s.budgets.drops > 0 {
                actions.push(Action::Drop(e.clone()));
            }
        }
        for &(node, timer) in &s.timers {
            let budget = if timer == Timer::Replica(TimerKind::Status) { s.budgets.gossip } else { s.budgets.timeouts };
            if budget > 0 {
                actions.push(Action::Timeout(node, timer));
            }
        }
        for c in 0..self.cfg.clients {
            if self.may_submit(s, c) {
                actions.push(Action::Submit(c));
            }
        }
        if s.budgets.byzantine > 0 {
            if let Some(z) = self.byzantine(s) {
                z.menu(self, s, actions);
            }
        }
        if s.budgets.restarts > 0 {
            for r in self.correct_ids() {
                actions.push(Action::Restart(r));
            }
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        match action {
            Action::Deliver(e) => {
                take_one(&mut s.network, &e);
                self.deliver(&mut s, e);
            }
            Action::DeliverAndDuplicate(e) => {
                s.budgets.duplicates -= 1;
                self.deliver(&mut s, e);
            }
            Action::Drop(e) => {
                s.budgets.drops -= 1;
                take_one(&mut s.network, &e);
            }
            Action::Timeout(node, timer) => {
                if timer == Timer::Replica(TimerKind::Status) {
                    s.budgets.gossip -= 1;
                } else {
                    s.budgets.timeouts -= 1;
                }
                s.timers.remove(&(node, timer));
                self.fire(&mut s, node, timer);
            }
            Action::Submit(c) => self.submit(&mut s, c),
            Action::Restart(r) => {
                s.budgets.restarts -= 1;
                self.restart(&mut s, r);
            }
            Action::Byzantine(a) => {
                s.budgets.byzantine -= 1;
                let envelopes = self.byzantine_mut(&mut s).act(self, a);
                for e in envelopes {
                    s.network.push(e);
                }
            }
        }
        Self::canonicalize(&mut s);
        Some(s)
    }

    fn format_action(&self, action: &Action) -> String {
        crate::format::action(action)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        crate::properties::all(&self.cfg)
    }
}
