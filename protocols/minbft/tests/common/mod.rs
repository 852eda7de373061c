//! A deterministic in-process cluster simulator: replicas, clients, a seeded network that
//! drops, duplicates and reorders, crashes and restarts, and a Byzantine replica. Every message
//! goes through `wire::encode`/`wire::decode`. Any failure replays from its seed.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rampart_minbft::app::Application;
use rampart_minbft::auth::{derive_key, Key};
use rampart_minbft::replica::{Action, Config, Input, Peer, Replica, TimerKind};
use rampart_minbft::wire::{self, ClientId, Message, ReplicaId};
use rampart_minbft::{Client, ClientAction, ClientConfig, KvOp, KvResult, KvStore, MemUsig};
use rampart_usig::UsigId;

/// SplitMix64.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Node {
    Replica(u32),
    Client(u64),
}

/// How the Byzantine replica misbehaves (on top of running the protocol).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Byzantine {
    /// Sends nothing at all to one peer (selective silence).
    SilentTo(u32),
    /// Sends garbage bytes, mutated copies (broken UIs) and replays of its messages.
    Noisy,
    /// As primary, sends replica `victim` a conflicting Prepare (same view and seq, another
    /// batch) under a fresh UI of its own USIG instead of the real one.
    Equivocate { victim: u32 },
}

#[derive(Clone, Debug)]
pub struct SimConfig {
    pub seed: u64,
    pub n: u32,
    pub clients: u64,
    pub ops_per_client: usize,
    pub drop_percent: u64,
    pub duplicate_percent: u64,
    pub delay_ms_max: u64,
    pub batch_size_max: usize,
    pub window_max: u64,
    pub checkpoint_period: u64,
    pub byzantine: Option<(u32, Byzantine)>,
    /// Time after which the network is healed (no drops) and faults stop: liveness from then.
    pub heal_at_ms: u64,
    pub time_limit_ms: u64,
}

impl SimConfig {
    pub fn new(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            n: 3,
            clients: 3,
            ops_per_client: 20,
            drop_percent: 0,
            duplicate_percent: 0,
            delay_ms_max: 5,
            batch_size_max: 8,
            window_max: 4,
            checkpoint_period: 4,
            byzantine: None,
            heal_at_ms: 0,
            time_limit_ms: 600_000,
        }
    }
}

/// seq -> executed entries (index in batch, client, request id).
pub type History = BTreeMap<u64, Vec<(usize, ClientId, u64)>>;

pub struct ReplicaNode {
    pub replica: Replica<KvStore>,
    pub usig: MemUsig,
    pub up: bool,
}

pub struct ClientNode {
    pub client: Client,
    pub ops: VecDeque<KvOp>,
    /// request id -> op
    pub sent: BTreeMap<u64, KvOp>,
    /// request id -> result
    pub done: BTreeMap<u64, Vec<u8>>,
}

enum EventKind {
    Deliver { from: Node, to: Node, bytes: Vec<u8> },
    Timer { node: Node, kind: Option<TimerKind>, generation: u64 },
}

pub const MASTER: Key = [7; 32];
pub const USIG_SEED: u64 = 0xC0FFEE;

pub struct Sim {
    pub cfg: SimConfig,
    pub rng: Rng,
    pub now_ms: u64,
    events: BTreeMap<(u64, u64), EventKind>,
    order: u64,
    timer_generations: BTreeMap<(Node, Option<TimerKind>), u64>,
    pub replicas: Vec<ReplicaNode>,
    pub clients: Vec<ClientNode>,
    pub epochs: Vec<u64>,
    /// replica -> seq -> executed entries (index, client, request id), across restarts.
    pub executed: Vec<History>,
    pub restored: Vec<Vec<u64>>,
    /// Executions of earlier incarnations (before restarts).
    pub past: Vec<(u32, History)>,
    pub delivered: u64,
    /// Messages the Byzantine replica sent (for replays).
    byz_sent: Vec<(Node, Vec<u8>)>,
    /// Crash faults in effect: replicas that are down drop everything.
    pub partitioned: BTreeSet<u32>,
    pub equivocations: u64,
    /// Every StateRequest and StateReply a replica sent (before the network's losses):
    /// (time, from, to, is_reply).
    pub state_messages: Vec<(u64, u32, u32, bool)>,
}

pub fn replica_config(n: u32, me: u32, cfg: &SimConfig, clients: u64) -> Config {
    let f = (n - 1) / 2;
    let client_keys = (0..clients).map(|c| (ClientId(c), derive_key(&MASTER, ClientId(c), ReplicaId(me)))).collect();
    Config {
        n,
        f,
        me: ReplicaId(me),
        batch_size_max: cfg.batch_size_max,
        window_max: cfg.window_max,
        checkpoint_period: cfg.checkpoint_period,
        request_timeout_ms: 400,
        view_change_timeout_ms: 600,
        status_interval_ms: 50,
        state_transfer_timeout_ms: 200,
        client_keys,
        genesis_digest: Replica::genesis_digest(&KvStore::new()),
    }
}

pub fn client_config(n: u32, c: u64) -> ClientConfig {
    ClientConfig {
        id: ClientId(c),
        n,
        f: (n - 1) / 2,
        keys: (0..n).map(|r| derive_key(&MASTER, ClientId(c), ReplicaId(r))).collect(),
        retransmit_timeout_ms: 300,
        first_request_id: 1,
    }
}

impl Sim {
    pub fn new(cfg: SimConfig, workload: impl Fn(&mut Rng, u64, usize) -> KvOp) -> Sim {
        let mut rng = Rng(cfg.seed);
        let keys = MemUsig::cluster_keys(cfg.n as usize, USIG_SEED);
        let replicas = (0..cfg.n)
            .map(|i| ReplicaNode {
                replica: Replica::new(replica_config(cfg.n, i, &cfg, cfg.clients), KvStore::new()),
                usig: MemUsig::new(UsigId(i), 1, keys.clone()),
                up: true,
            })
            .collect();
        let clients = (0..cfg.clients)
            .map(|c| ClientNode {
                client: Client::new(client_config(cfg.n, c)),
                ops: (0..cfg.ops_per_client).map(|i| workload(&mut rng, c, i)).collect(),
                sent: BTreeMap::new(),
                done: BTreeMap::new(),
            })
            .collect();
        let mut sim = Sim {
            rng,
            now_ms: 0,
            events: BTreeMap::new(),
            order: 0,
            timer_generations: BTreeMap::new(),
            replicas,
            clients,
            epochs: vec![1; cfg.n as usize],
            executed: vec![BTreeMap::new(); cfg.n as usize],
            restored: vec![Vec::new(); cfg.n as usize],
            past: Vec::new(),
            delivered: 0,
            byz_sent: Vec::new(),
            partitioned: BTreeSet::new(),
            equivocations: 0,
            state_messages: Vec::new(),
            cfg,
        };
        for i in 0..sim.cfg.n {
            for j in 0..sim.cfg.n {
                sim.replica_input(i, Input::EpochAccepted { replica: ReplicaId(j), epoch: 1 });
            }
            sim.replica_input(i, Input::Start { recovering: false });
        }
        for c in 0..sim.cfg.clients {
            sim.client_next(c);
        }
        sim
    }

    fn schedule(&mut self, at: u64, e: EventKind) {
        self.order += 1;
        self.events.insert((at, self.order), e);
    }

    fn faults_on(&self) -> bool {
        self.now_ms < self.cfg.heal_at_ms
    }

    fn send_bytes(&mut self, from: Node, to: Node, bytes: Vec<u8>) {
        if let Node::Replica(r) = to {
            if self.partitioned.contains(&r) {
                return;
            }
        }
        if let Node::Replica(r) = from {
            if self.partitioned.contains(&r) {
                return;
            }
        }
        let faults = self.faults_on();
        if faults && self.rng.chance(self.cfg.drop_percent) {
            return;
        }
        let copies = if faults && self.rng.chance(self.cfg.duplicate_percent) { 2 } else { 1 };
        for _ in 0..copies {
            let delay = 1 + self.rng.below(self.cfg.delay_ms_max.max(1));
            self.schedule(self.now_ms + delay, EventKind::Deliver { from, to, bytes: bytes.clone() });
        }
    }

    fn send(&mut self, from: Node, to: Node, msg: &Message) {
        if let (Node::Replica(f), Node::Replica(t)) = (from, to) {
            match msg {
                Message::StateRequest(_) => self.state_messages.push((self.now_ms, f, t, false)),
                Message::StateReply(_) => self.state_messages.push((self.now_ms, f, t, true)),
                _ => {}
            }
        }
        let bytes = wire::encode(msg).expect("encodable");
        if let (Node::Replica(r), Some((b, mode))) = (from, self.cfg.byzantine) {
            if r == b {
                match mode {
                    Byzantine::SilentTo(x) if to == Node::Replica(x) => return,
                    Byzantine::Equivocate { victim } if to == Node::Replica(victim) => {
                        if let Message::Prepare(p) = msg {
                            let mut q = p.clone();
                            let mut batch = q.batch.to_vec();
                            if batch.len() >= 2 {
                                batch.reverse();
                            } else {
                                batch.push(batch[0].clone());
                            }
                            q.batch = batch.into();
                            use rampart_minbft::UsigPort;
                            q.ui = self.replicas[b as usize].usig.create_ui(&q.digest()).expect("usig");
                            self.equivocations += 1;
                            let bytes = wire::encode(&Message::Prepare(q)).expect("encodable");
                            self.send_bytes(from, to, bytes);
                            return;
                        }
                    }
                    Byzantine::Noisy => {
                        self.byz_sent.push((to, bytes.clone()));
                        if self.byz_sent.len() > 200 {
                            self.byz_sent.remove(0);
                        }
                        let roll = self.rng.below(10);
                        if roll == 0 {
                            // Garbage.
                            let len = self.rng.below(64) as usize;
                            let g: Vec<u8> = (0..len).map(|_| self.rng.next() as u8).collect();
                            self.send_bytes(from, to, g);
                        } else if roll == 1 && bytes.len() > 8 {
                            // A mutated copy: still decodes often, but its UI cannot verify.
                            let mut m = bytes.clone();
                            let i = 1 + self.rng.below(m.len() as u64 - 1) as usize;
                            m[i] ^= 1 << self.rng.below(8);
                            self.send_bytes(from, to, m);
                        } else if roll == 2 {
                            // A replay of an old message.
                            let k = self.rng.below(self.byz_sent.len() as u64) as usize;
                            let (t, old) = self.byz_sent[k].clone();
                            self.send_bytes(from, t, old);
                        }
                    }
                    _ => {}
                }
            }
        }
        self.send_bytes(from, to, bytes);
    }

    fn set_timer(&mut self, node: Node, kind: Option<TimerKind>, duration_ms: u64) {
        let g = self.timer_generations.entry((node, kind)).or_insert(0);
        *g += 1;
        let generation = *g;
        self.schedule(self.now_ms + duration_ms, EventKind::Timer { node, kind, generation });
    }

    fn cancel_timer(&mut self, node: Node, kind: Option<TimerKind>) {
        *self.timer_generations.entry((node, kind)).or_insert(0) += 1;
    }

    pub fn replica_input(&mut self, i: u32, input: Input) {
        let node = &mut self.replicas[i as usize];
        if !node.up {
            return;
        }
        let actions = node.replica.step(&mut node.usig, input);
        self.apply_replica_actions(i, actions);
    }

    fn apply_replica_actions(&mut self, i: u32, actions: Vec<Action>) {
        let from = Node::Replica(i);
        for a in actions {
            match a {
                Action::Send { to, message } => self.send(from, Node::Replica(to.0), &message),
                Action::Broadcast { message } => {
                    if std::env::var_os("TRACE_SEND").is_some() {
                        let kind = match &message {
                            Message::Prepare(p) => format!("Prepare v{} s{} n{} c{}", p.view, p.seq, p.batch.len(), p.ui.counter),
                            Message::Commit(c) => format!("Commit v{} s{} c{}", c.prepare.view, c.prepare.seq, c.ui.counter),
                            Message::Checkpoint(c) => {
                                format!("Checkpoint s{} c{}", c.seq, c.ui.counter)
                            }
                            Message::ViewChange(v) => format!("ViewChange v{} cert{} c{}", v.new_view, v.checkpoint.seq, v.ui.counter),
                            Message::NewView(v) => {
                                format!("NewView v{} c{}", v.new_view, v.ui.counter)
                            }
                            Message::ReqViewChange(v) => format!("ReqViewChange v{}", v.new_view),
                            Message::StateRequest(_) => "StateRequest".to_string(),
                            _ => String::new(),
                        };
                        if !kind.is_empty() {
                            eprintln!("{} r{i} bcast {kind}", self.now_ms);
                        }
                    }
                    for j in 0..self.cfg.n {
                        if j != i {
                            self.send(from, Node::Replica(j), &message);
                        }
                    }
                }
                Action::ReplyToClient { client, reply } => self.send(from, Node::Client(client.0), &Message::Reply(reply)),
                Action::SetTimer { kind, duration_ms } => self.set_timer(from, Some(kind), duration_ms),
                Action::CancelTimer { kind } => self.cancel_timer(from, Some(kind)),
                Action::Executed { seq, index, client, request_id } => {
                    let e = self.executed[i as usize].entry(seq).or_default();
                    assert!(!e.iter().any(|x| x.0 == index), "replica {i} executed seq {seq} index {index} twice");
                    e.push((index, client, request_id));
                    trace(|| format!("{} r{i} exec seq {seq} [{index}] c{} #{request_id}", self.now_ms, client.0));
                }
                Action::StateRestored { seq } => {
                    trace(|| format!("{} r{i} restored seq {seq}", self.now_ms));
                    self.restored[i as usize].push(seq)
                }
                Action::ViewEntered { view } => {
                    trace(|| format!("{} r{i} entered view {view} (exec {})", self.now_ms, self.replicas[i as usize].replica.executed_seq()))
                }
                Action::Rejected { reason } => {
                    if std::env::var_os("TRACE_REJECT").is_some() {
                        eprintln!("{} r{i} rejected {reason:?}", self.now_ms);
                    }
                }
            }
        }
    }

    fn client_next(&mut self, c: u64) {
        let node = &mut self.clients[c as usize];
        if node.client.is_busy() {
            return;
        }
        let Some(op) = node.ops.pop_front() else {
            return;
        };
        let actions = node.client.submit(op.encode()).expect("not busy");
        let rid = node.client.outstanding().expect("submitted").request_id;
        node.sent.insert(rid, op);
        self.apply_client_actions(c, actions);
    }

    fn apply_client_actions(&mut self, c: u64, actions: Vec<ClientAction>) {
        let from = Node::Client(c);
        let mut next = false;
        for a in actions {
            match a {
                ClientAction::Send { to, message } => self.send(from, Node::Replica(to.0), &message),
                ClientAction::Broadcast { message } => {
                    for j in 0..self.cfg.n {
                        self.send(from, Node::Replica(j), &message);
                    }
                }
                ClientAction::SetTimer { duration_ms } => self.set_timer(from, None, duration_ms),
                ClientAction::CancelTimer => self.cancel_timer(from, None),
                ClientAction::Done { request_id, result } => {
                    let prev = self.clients[c as usize].done.insert(request_id, result);
                    assert!(prev.is_none(), "client {c} request {request_id} completed twice");
                    next = true;
                }
            }
        }
        if next {
            self.client_next(c);
        }
    }

    /// Runs one event; false when none is left or the time limit passed.
    pub fn step(&mut self) -> bool {
        if self.delivered > 3_000_000 {
            panic!("message storm: {} deliveries by t={} ms\n{}", self.delivered, self.now_ms, self.dump());
        }
        let Some((&(at, order), _)) = self.events.iter().next() else {
            return false;
        };
        if at > self.cfg.time_limit_ms {
            return false;
        }
        let event = self.events.remove(&(at, order)).expect("present");
        self.now_ms = at;
        match event {
            EventKind::Deliver { from, to, bytes } => {
                self.delivered += 1;
                let Ok(message) = wire::decode(&bytes) else {
                    return true;
                };
                match to {
                    Node::Replica(i) => {
                        let peer = match from {
                            Node::Replica(r) => Peer::Replica(ReplicaId(r)),
                            Node::Client(c) => Peer::Client(ClientId(c)),
                        };
                        self.replica_input(i, Input::Message { from: peer, message });
                    }
                    Node::Client(c) => {
                        if let (Node::Replica(r), Message::Reply(reply)) = (from, message) {
                            let actions = self.clients[c as usize].client.on_reply(ReplicaId(r), reply);
                            self.apply_client_actions(c, actions);
                        }
                    }
                }
            }
            EventKind::Timer { node, kind, generation } => {
                if self.timer_generations.get(&(node, kind)) != Some(&generation) {
                    return true;
                }
                match (node, kind) {
                    (Node::Replica(i), Some(kind)) => self.replica_input(i, Input::Timer(kind)),
                    (Node::Client(c), None) => {
                        let actions = self.clients[c as usize].client.on_timer();
                        self.apply_client_actions(c, actions);
                    }
                    _ => {}
                }
            }
        }
        true
    }

    pub fn all_done(&self) -> bool {
        self.clients.iter().all(|c| c.ops.is_empty() && !c.client.is_busy())
    }

    /// Runs until every client finished, or the time limit.
    pub fn run_until_done(&mut self) -> bool {
        while !self.all_done() {
            if !self.step() {
                return false;
            }
        }
        true
    }

    pub fn run_until(&mut self, t_ms: u64) {
        while self.events.keys().next().is_some_and(|&(at, _)| at <= t_ms) {
            self.step();
        }
        self.now_ms = self.now_ms.max(t_ms);
    }

    /// Cuts replica `i` off the network (its state stays).
    pub fn partition(&mut self, i: u32) {
        trace(|| format!("{} r{i} PARTITION", self.now_ms));
        self.partitioned.insert(i);
    }
    pub fn heal(&mut self, i: u32) {
        self.partitioned.remove(&i);
    }

    pub fn crash(&mut self, i: u32) {
        trace(|| format!("{} r{i} CRASH", self.now_ms));
        self.replicas[i as usize].up = false;
        self.partitioned.insert(i);
    }

    /// Restarts replica `i` from a pristine image: empty state, a new USIG epoch.
    pub fn restart(&mut self, i: u32) {
        trace(|| format!("{} r{i} RESTART", self.now_ms));
        self.partitioned.remove(&i);
        let old = std::mem::take(&mut self.executed[i as usize]);
        self.past.push((i, old));
        self.epochs[i as usize] += 1;
        let epoch = self.epochs[i as usize];
        let keys = MemUsig::cluster_keys(self.cfg.n as usize, USIG_SEED);
        self.replicas[i as usize] = ReplicaNode {
            replica: Replica::new(replica_config(self.cfg.n, i, &self.cfg, self.cfg.clients), KvStore::new()),
            usig: MemUsig::new(UsigId(i), epoch, keys),
            up: true,
        };
        for j in 0..self.cfg.n {
            self.replica_input(i, Input::EpochAccepted { replica: ReplicaId(j), epoch: self.epochs[j as usize] });
        }
        for j in 0..self.cfg.n {
            if j != i {
                self.replica_input(j, Input::EpochAccepted { replica: ReplicaId(i), epoch });
            }
        }
        self.replica_input(i, Input::Start { recovering: true });
    }

    /// Agreement, exactly-once and client results against a sequential model of the agreed order.
    /// `honest`: the replicas whose executions are checked.
    pub fn check(&self, honest: &[u32]) {
        // Agreement: every seq executed the same way wherever it was executed.
        let mut order: BTreeMap<u64, Vec<(usize, ClientId, u64)>> = BTreeMap::new();
        let histories =
            honest.iter().map(|&i| (i, &self.executed[i as usize])).chain(self.past.iter().filter(|(i, _)| honest.contains(i)).map(|(i, h)| (*i, h)));
        for (i, history) in histories {
            for (seq, entries) in history {
                let mut e = entries.clone();
                e.sort();
                match order.get(seq) {
                    Some(prev) => {
                        assert_eq!(prev, &e, "replicas disagree at seq {seq} (replica {i})")
                    }
                    None => {
                        order.insert(*seq, e);
                    }
                }
            }
        }
        // Exactly once, across the agreed order.
        let mut seen = BTreeSet::new();
        for (seq, entries) in &order {
            for (_, c, rid) in entries {
                assert!(seen.insert((*c, *rid)), "({c:?}, {rid}) executed twice (again at seq {seq})");
                assert!(self.clients[c.0 as usize].sent.contains_key(rid), "validity: ({c:?}, {rid}) was never issued");
            }
        }
        // Client results against the sequential model.
        let mut model = KvStore::new();
        let mut expected: BTreeMap<(ClientId, u64), Vec<u8>> = BTreeMap::new();
        for entries in order.values() {
            for (_, c, rid) in entries {
                let op = &self.clients[c.0 as usize].sent[rid];
                expected.insert((*c, *rid), model.execute(&op.encode()));
            }
        }
        for (ci, c) in self.clients.iter().enumerate() {
            for (rid, result) in &c.done {
                let want = expected.get(&(ClientId(ci as u64), *rid));
                assert_eq!(want, Some(result), "client {ci} request {rid}: result differs from the agreed order");
            }
        }
        // Replicas that are up and caught up hold the model's state.
        let _ = KvResult::Ok;
    }

    pub fn dump(&self) -> String {
        use rampart_minbft::replica::{Reason, REASON_COUNT};
        let mut out = format!("t={} ms\n", self.now_ms);
        for (i, r) in self.replicas.iter().enumerate() {
            let rp = &r.replica;
            let rej: Vec<String> = (0..REASON_COUNT as u8)
                .filter_map(|k| {
                    let reason: Reason = unsafe_reason(k);
                    let c = rp.rejections().count(reason);
                    (c > 0).then(|| format!("{reason:?}={c}"))
                })
                .collect();
            out += &format!(
                "r{i} up={} view={} changing={:?} exec={} stable={} pending={} fetching={} log={} slots={} rej=[{}]\n",
                r.up,
                rp.view(),
                rp.changing_to(),
                rp.executed_seq(),
                rp.stable_checkpoint().seq,
                rp.pending_len(),
                rp.is_fetching_state(),
                rp.sent_log_len(),
                rp.slots_len(),
                rej.join(" ")
            );
        }
        for (ci, c) in self.clients.iter().enumerate() {
            out += &format!("c{ci} left={} busy={:?}\n", c.ops.len(), c.client.outstanding().map(|r| r.request_id));
        }
        out
    }

    pub fn max_executed(&self) -> u64 {
        self.replicas.iter().map(|r| r.replica.executed_seq()).max().unwrap_or(0)
    }
}

pub fn trace(f: impl FnOnce() -> String) {
    if std::env::var_os("TRACE").is_some() {
        eprintln!("{}", f());
    }
}

fn unsafe_reason(k: u8) -> rampart_minbft::replica::Reason {
    rampart_minbft::replica::Reason::ALL[k as usize]
}

/// A workload over a few keys so that clients conflict.
pub fn kv_workload(rng: &mut Rng, client: u64, i: usize) -> KvOp {
    let key = vec![b'k', rng.below(4) as u8];
    match rng.below(4) {
        0 => KvOp::Get { key },
        1 => KvOp::Delete { key },
        _ => KvOp::Put { key, value: format!("c{client}-{i}").into_bytes() },
    }
}

pub fn null_workload(_: &mut Rng, _: u64, _: usize) -> KvOp {
    KvOp::Null
}
