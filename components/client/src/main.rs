//! The cluster's client PD: [`CLIENTS`] MinBFT clients (`rampart_minbft::Client`, one request
//! outstanding each) over rings to every replica, issuing [`cluster_workload::OPS_TOTAL`]
//! operations in all and checking every result.
//!
//! Workloads (chosen at build time by `RAMPART_CLIENT_WORKLOAD`):
//! - `check` (the default): key-value puts, gets and deletes, each client on keys of its own,
//!   every result compared with a sequential model of those keys (a linearizable store must
//!   answer exactly what the model does, since no one else touches them);
//! - `null`: null operations (the benchmark of the protocol's own cost);
//! - `kv1k`: puts of 1 KiB values (checked like `check`).
//!
//! When every operation has completed it logs the count, the time, operations per second and
//! the latency percentiles (p50, p99); once every client PD of the system is done (the others
//! notify client PD 0, see `rampart_cluster::topology`) client PD 0 ends the system with 0. A
//! wrong result ends it with 1 at once, naming the operation. A result accepted from f+1 replicas is one at least one correct
//! replica produced, so this checks the cluster, not one replica.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use rampart_minbft::client::ClientAction;
use rampart_minbft::wire::{self, Message};
use rampart_minbft::{Client, ClientConfig, ClientId, KvOp, KvResult, ReplicaId};
use rampart_runtime::{clock, exit_system, pd_index, Channel, ChannelSet, Handler, NoPpCall, Notify};
use rampart_transport::Link;

rampart_runtime::bindings!();

#[allow(dead_code)]
mod cluster {
    include!(concat!(env!("OUT_DIR"), "/rampart_cluster.rs"));
}

#[allow(dead_code)]
enum Workload {
    Check,
    Null,
    Kv1k,
}

mod cluster_workload {
    include!(concat!(env!("OUT_DIR"), "/workload.rs"));
}

const ENVELOPE_MINBFT: u8 = 0;
const HEAP_BYTES: usize = 8 << 20;
const CLIENTS: usize = cluster::CLIENTS_PER_PD;
const OUTBOX_MESSAGES_MAX: usize = 1024;
const MESSAGE_BYTES_MAX: usize = 1 << 20;
const POLL_FRAMES_MAX: usize = 256;
const ROUNDS_MAX: usize = 64;
const RETRANSMIT_TIMEOUT_MS: u64 = 1_000;
/// Keys per client in the checked workloads.
const KEYS_PER_CLIENT: u64 = 8;
const NS_PER_MS: u64 = 1_000_000;
const NO_DEADLINE: u64 = u64::MAX;
/// Completed operations between progress lines.
const LOG_EVERY_DONE: u64 = 1000;

/// One MinBFT client and its workload state.
struct Lane {
    client: Client,
    /// Its keys' values, as the cluster must have them.
    model: BTreeMap<u64, Vec<u8>>,
    rng: u64,
    /// The outstanding operation: what it expects back and when it was submitted.
    expect: Option<(KvResult, u64)>,
    deadline_ns: u64,
}

impl Lane {
    fn next_random(&mut self) -> u64 {
        // SplitMix64.
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce5_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn key(&self, k: u64) -> Vec<u8> {
        let mut key = Vec::from(&b"client-"[..]);
        key.extend_from_slice(&self.client.id().0.to_le_bytes());
        key.extend_from_slice(&k.to_le_bytes());
        key
    }

    /// The next operation and the result a correct cluster returns for it.
    fn next_op(&mut self) -> (KvOp, KvResult) {
        match cluster_workload::WORKLOAD {
            Workload::Null => (KvOp::Null, KvResult::Ok),
            Workload::Check | Workload::Kv1k => {
                let r = self.next_random();
                let k = r % KEYS_PER_CLIENT;
                let key = self.key(k);
                match (r >> 8) % 4 {
                    0 => (KvOp::Get { key }, KvResult::Value(self.model.get(&k).cloned())),
                    1 => (KvOp::Delete { key }, KvResult::Value(self.model.remove(&k))),
                    _ => {
                        let len = if matches!(cluster_workload::WORKLOAD, Workload::Kv1k) { 1024 } else { 1 + (r >> 16) as usize % 32 };
                        let value: Vec<u8> = (0..len).map(|i| (r >> (i % 7)) as u8 ^ i as u8).collect();
                        let prev = self.model.insert(k, value.clone());
                        (KvOp::Put { key, value }, KvResult::Value(prev))
                    }
                }
            }
        }
    }
}

struct ClientPd {
    lanes: Vec<Lane>,
    first: u64,
    links: Vec<(Channel<Notify, NoPpCall>, Link<Channel<Notify, NoPpCall>>)>,
    issued: u64,
    done: u64,
    started_ns: u64,
    latencies_us: Vec<u32>,
    /// A notification's work was cut short by the round limit: come back at once.
    busy: bool,
    /// This client PD's index.
    me: usize,
    /// Every operation of this PD is done and checked.
    finished: bool,
    /// Client PD 0: which other client PDs said they are done (index p at [p]).
    others_done: Vec<bool>,
}

fn envelope(body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 1);
    v.push(ENVELOPE_MINBFT);
    v.extend_from_slice(body);
    v
}

impl ClientPd {
    fn act(&mut self, lane: usize, actions: Vec<ClientAction>) {
        for a in actions {
            match a {
                ClientAction::Send { to, message } => {
                    if let Ok(bytes) = wire::encode(&message) {
                        if let Some((_, link)) = self.links.get_mut(to.0 as usize) {
                            let _ = link.send(envelope(&bytes));
                        }
                    }
                }
                ClientAction::Broadcast { message } => {
                    if let Ok(bytes) = wire::encode(&message) {
                        let m = envelope(&bytes);
                        for (_, link) in &mut self.links {
                            let _ = link.send(m.clone());
                        }
                    }
                }
                ClientAction::SetTimer { duration_ms } => self.lanes[lane].deadline_ns = clock::now_ns().saturating_add(duration_ms * NS_PER_MS),
                ClientAction::CancelTimer => self.lanes[lane].deadline_ns = NO_DEADLINE,
                ClientAction::Done { request_id, result } => self.completed(lane, request_id, &result),
            }
        }
    }

    fn completed(&mut self, lane: usize, request_id: u64, result: &[u8]) {
        let Some((expected, submitted_ns)) = self.lanes[lane].expect.take() else { return };
        let got = KvResult::decode(result);
        if got.as_ref() != Some(&expected) {
            defmt::error!(
                "client {} request {}: the cluster answered {}, the model says {}",
                self.lanes[lane].client.id().0,
                request_id,
                defmt::Debug2Format(&got),
                defmt::Debug2Format(&expected)
            );
            exit_system(1);
        }
        let us = (clock::now_ns() - submitted_ns) / 1000;
        self.latencies_us.push(us.min(u64::from(u32::MAX)) as u32);
        self.done += 1;
        if self.done % LOG_EVERY_DONE == 0 {
            defmt::info!("{} operations done", self.done);
        }
        if self.done == cluster_workload::OPS_TOTAL {
            self.finish();
        }
        self.submit(lane);
    }

    fn submit(&mut self, lane: usize) {
        if self.issued >= cluster_workload::OPS_TOTAL || self.lanes[lane].expect.is_some() {
            return;
        }
        let (op, expected) = self.lanes[lane].next_op();
        let Ok(actions) = self.lanes[lane].client.submit(op.encode()) else {
            defmt::error!("a client refused an operation");
            exit_system(1)
        };
        self.issued += 1;
        self.lanes[lane].expect = Some((expected, clock::now_ns()));
        self.act(lane, actions);
    }

    fn finish(&mut self) {
        let ns = (clock::now_ns() - self.started_ns).max(1);
        self.latencies_us.sort_unstable();
        let pct = |p: usize| self.latencies_us.get((self.latencies_us.len() * p / 100).min(self.latencies_us.len().saturating_sub(1))).copied().unwrap_or(0);
        let workload = match cluster_workload::WORKLOAD {
            Workload::Check => "checked key-value",
            Workload::Null => "null",
            Workload::Kv1k => "1 KiB put/get/delete",
        };
        defmt::info!(
            "{=u64} {=str} operations by {} clients, every result checked: {} ms, {} ops/s, latency p50 {} us, p99 {} us",
            self.done,
            workload,
            CLIENTS,
            ns / NS_PER_MS,
            self.done * 1_000_000_000 / ns,
            pct(50),
            pct(99)
        );
        self.finished = true;
        if self.me == 0 {
            self.end_when_all_done();
        } else {
            // Client PD 0 ends the system once every client PD is done (rampart_cluster::topology).
            Channel::<Notify, NoPpCall>::new(cluster::DONE_CHANNEL_ID, false).notify();
        }
    }

    /// Client PD 0: end the system with 0 once this PD and every other client PD are done. (A
    /// wrong result anywhere has ended it with 1 already.)
    fn end_when_all_done(&self) {
        if self.finished && self.others_done.iter().skip(1).all(|d| *d) {
            if self.others_done.len() > 1 {
                defmt::info!("all {} client PDs are done", self.others_done.len());
            }
            exit_system(0)
        }
    }

    fn on_bytes(&mut self, from: ReplicaId, bytes: &[u8]) {
        let Some((&ENVELOPE_MINBFT, body)) = bytes.split_first() else { return };
        let Ok(Message::Reply(reply)) = wire::decode(body) else { return };
        let Some(lane) = reply.client.0.checked_sub(self.first).map(|l| l as usize).filter(|l| *l < self.lanes.len()) else { return };
        let actions = self.lanes[lane].client.on_reply(from, reply);
        self.act(lane, actions);
    }

    fn run(&mut self) {
        let mut inbound: Vec<Vec<u8>> = Vec::new();
        for _ in 0..ROUNDS_MAX {
            let mut progress = false;
            for r in 0..self.links.len() {
                let (ch, link) = &mut self.links[r];
                if link.poll(POLL_FRAMES_MAX, |m| inbound.push(m.to_vec())).unwrap_or(0) > 0 {
                    progress = true;
                    ch.notify();
                }
                for m in inbound.drain(..) {
                    self.on_bytes(ReplicaId(r as u32), &m);
                }
            }
            for (_, link) in &mut self.links {
                let _ = link.pump();
            }
            if !progress && self.links.iter_mut().all(|(_, l)| l.ready_to_sleep()) {
                return;
            }
        }
        self.busy = true;
    }

    fn timers(&mut self) {
        let now = clock::now_ns();
        for lane in 0..self.lanes.len() {
            if self.lanes[lane].deadline_ns <= now {
                self.lanes[lane].deadline_ns = NO_DEADLINE;
                let actions = self.lanes[lane].client.on_timer();
                self.act(lane, actions);
            }
        }
    }
}

impl Handler for ClientPd {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.alarm() {
            self.timers();
        }
        if self.me == 0 {
            for p in 1..self.others_done.len() {
                if channels.contains(cluster::done_from(p)) && !self.others_done[p] {
                    self.others_done[p] = true;
                    defmt::info!("client PD {} is done", p);
                    self.end_when_all_done();
                }
            }
        }
        self.run();
        for (_, link) in &mut self.links {
            let _ = link.pump();
        }
        let next =
            if core::mem::take(&mut self.busy) { Some(clock::now_ns()) } else { self.lanes.iter().map(|l| l.deadline_ns).min().filter(|d| *d != NO_DEADLINE) };
        if let Some(next) = next {
            clock::set_alarm(next);
        }
    }
}

fn init() -> ClientPd {
    let n = cluster::REPLICA_COUNT;
    let me = pd_index().expect("a client PD's name ends with its index");
    let first = (me * CLIENTS) as u64;
    let mut lanes = Vec::new();
    for k in 0..CLIENTS {
        let id = first + k as u64;
        let keys = cluster::CLIENT_KEYS.get(id as usize).map(|row| row.to_vec()).expect("keys for every client");
        let client = Client::new(ClientConfig {
            id: ClientId(id),
            n: n as u32,
            f: (n as u32 - 1) / 2,
            keys,
            retransmit_timeout_ms: RETRANSMIT_TIMEOUT_MS,
            first_request_id: clock::now_ns().max(1),
        });
        lanes.push(Lane { client, model: BTreeMap::new(), rng: id.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ 0x5eed, expect: None, deadline_ns: NO_DEADLINE });
    }
    let mut links = Vec::new();
    for &(_, ch, tx, rx) in cluster::REPLICA_LINKS.iter() {
        // SAFETY: the regions are mapped read-write for the PD's life, nothing else here touches
        // them, and each ring has this one producer or consumer in this PD.
        let link = unsafe { Link::open(tx.raw_parts(), rx.raw_parts(), || ch, OUTBOX_MESSAGES_MAX, MESSAGE_BYTES_MAX) }.expect("the replica rings open");
        links.push((ch, link));
    }
    let others_done = alloc::vec![false; cluster::CLIENT_PDS];
    let mut pd = ClientPd {
        lanes,
        first,
        links,
        issued: 0,
        done: 0,
        started_ns: clock::now_ns(),
        latencies_us: Vec::new(),
        busy: false,
        me,
        finished: false,
        others_done,
    };
    defmt::info!("client PD {}: {} clients, {} operations to issue", me, CLIENTS, cluster_workload::OPS_TOTAL);
    for lane in 0..CLIENTS {
        pd.submit(lane);
    }
    for (ch, link) in &mut pd.links {
        let _ = link.pump();
        ch.notify();
    }
    if let Some(next) = pd.lanes.iter().map(|l| l.deadline_ns).min().filter(|d| *d != NO_DEADLINE) {
        clock::set_alarm(next);
    }
    pd
}

rampart_runtime::pd_main!(init, heap_bytes = HEAP_BYTES);
