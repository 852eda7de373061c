//! The hosted MinBFT cluster end to end (`system.xml`: 3 replica PDs, 3 USIG PDs, a client PD
//! with 16 closed-loop clients), for null operations and 1 KiB puts/gets/deletes: throughput and
//! latency percentiles (p50, p99) as the client PD measures them.
//!
//! Baseline in the same run: the same protocol code (`rampart_minbft`, same configuration,
//! same 16 clients, each message encoded and decoded with `wire`), driven in one thread in
//! memory with an in-memory USIG, without PDs, rings or protected procedure calls. The ratio
//! cluster / in-memory is the framework's share: processes, rings, doorbells and USIG calls.
//!
//! `cargo bench --bench cluster` (OPS operations per workload; set RAMPART_BENCH_OPS to change).

use std::collections::VecDeque;
use std::process::Command;
use std::time::Instant;

use rampart_minbft::auth::derive_key;
use rampart_minbft::replica::{Action, Config, Input, Peer, Replica};
use rampart_minbft::wire::{self, ClientId, Message, ReplicaId};
use rampart_minbft::{Client, ClientAction, ClientConfig, KvOp, KvStore, MemUsig};
use rampart_usig::UsigId;

const CLIENTS: u64 = 16;
const N: u32 = 3;

struct Figures {
    ops_per_s: f64,
    p50_us: u64,
    p99_us: u64,
}

/// Run the hosted default system with the client built for `workload`; parse its last line.
fn cluster(workload: &str, ops: u64) -> Figures {
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["run", "--hosted", "--timeout", "600"])
        .env("RAMPART_CLIENT_WORKLOAD", workload)
        .env("RAMPART_CLIENT_OPS", ops.to_string())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run rampart");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the cluster run failed:\n{text}");
    let line = text.lines().find(|l| l.contains("every result checked:")).unwrap_or_else(|| panic!("no result line:\n{text}"));
    let num_before = |marker: &str| -> f64 {
        let head = &line[..line.find(marker).unwrap_or_else(|| panic!("no `{marker}` in {line}"))];
        head.rsplit(' ').find(|w| !w.is_empty()).unwrap().parse().unwrap()
    };
    Figures { ops_per_s: num_before(" ops/s"), p50_us: num_before(" us, p99") as u64, p99_us: line.rsplit(' ').nth(1).unwrap().parse().unwrap() }
}

enum To {
    Replica(u32),
    Client(u64),
}

/// The same protocol in memory, messages encoded and decoded as on the wire.
fn in_memory(op_of: &dyn Fn(u64, u64) -> Vec<u8>, ops_total: u64) -> Figures {
    let master = [3u8; 32];
    let keys = MemUsig::cluster_keys(N as usize, 1);
    let mut usigs: Vec<MemUsig> = (0..N).map(|i| MemUsig::new(UsigId(i), 1, keys.clone())).collect();
    let mut replicas: Vec<Replica<KvStore>> = (0..N)
        .map(|i| {
            let config = Config {
                n: N,
                f: 1,
                me: ReplicaId(i),
                batch_size_max: 64,
                window_max: 2,
                checkpoint_period: 64,
                request_timeout_ms: 60_000,
                view_change_timeout_ms: 60_000,
                status_interval_ms: 60_000,
                state_transfer_timeout_ms: 60_000,
                client_keys: (0..CLIENTS).map(|c| (ClientId(c), derive_key(&master, ClientId(c), ReplicaId(i)))).collect(),
                genesis_digest: Replica::genesis_digest(&KvStore::new()),
            };
            Replica::new(config, KvStore::new())
        })
        .collect();
    let mut clients: Vec<Client> = (0..CLIENTS)
        .map(|c| Client::new(ClientConfig { id: ClientId(c), n: N, f: 1, keys: (0..N).map(|r| derive_key(&master, ClientId(c), ReplicaId(r))).collect(), retransmit_timeout_ms: 60_000, first_request_id: 1 }))
        .collect();
    let mut queue: VecDeque<(To, Peer, Vec<u8>)> = VecDeque::new();
    let mut actions = Vec::new();
    let route = |i: u32, actions: &mut Vec<Action>, queue: &mut VecDeque<(To, Peer, Vec<u8>)>| {
        for a in actions.drain(..) {
            let from = Peer::Replica(ReplicaId(i));
            match a {
                Action::Send { to, message } => queue.push_back((To::Replica(to.0), from, wire::encode(&message).unwrap())),
                Action::Broadcast { message } => {
                    let bytes = wire::encode(&message).unwrap();
                    for j in (0..N).filter(|&j| j != i) {
                        queue.push_back((To::Replica(j), from, bytes.clone()));
                    }
                }
                Action::ReplyToClient { client, reply } => queue.push_back((To::Client(client.0), from, wire::encode(&Message::Reply(reply)).unwrap())),
                _ => {}
            }
        }
    };
    let client_route = |c: ClientId, acts: Vec<ClientAction>, queue: &mut VecDeque<(To, Peer, Vec<u8>)>| {
        for a in acts {
            match a {
                ClientAction::Send { to, message } => queue.push_back((To::Replica(to.0), Peer::Client(c), wire::encode(&message).unwrap())),
                ClientAction::Broadcast { message } => {
                    let bytes = wire::encode(&message).unwrap();
                    for j in 0..N {
                        queue.push_back((To::Replica(j), Peer::Client(c), bytes.clone()));
                    }
                }
                _ => {}
            }
        }
    };
    for i in 0..N as usize {
        for j in 0..N {
            replicas[i].step_into(&mut usigs[i], Input::EpochAccepted { replica: ReplicaId(j), epoch: 1 }, &mut actions);
        }
        replicas[i].step_into(&mut usigs[i], Input::Start { recovering: false }, &mut actions);
        route(i as u32, &mut actions, &mut queue);
    }
    let start = Instant::now();
    let mut submitted_at = vec![Instant::now(); CLIENTS as usize];
    let mut latencies_us = Vec::new();
    let mut submitted = 0;
    for c in 0..CLIENTS {
        submitted_at[c as usize] = Instant::now();
        let acts = clients[c as usize].submit(op_of(c, submitted)).unwrap();
        client_route(ClientId(c), acts, &mut queue);
        submitted += 1;
    }
    while (latencies_us.len() as u64) < ops_total {
        let (to, from, bytes) = queue.pop_front().expect("the in-memory cluster stalled");
        let message = wire::decode(&bytes).unwrap();
        match to {
            To::Replica(i) => {
                let i = i as usize;
                replicas[i].step_into(&mut usigs[i], Input::Message { from, message }, &mut actions);
                route(i as u32, &mut actions, &mut queue);
            }
            To::Client(c) => {
                let (Message::Reply(reply), Peer::Replica(r)) = (message, from) else { continue };
                let acts = clients[c as usize].on_reply(r, reply);
                if acts.iter().any(|a| matches!(a, ClientAction::Done { .. })) {
                    latencies_us.push(submitted_at[c as usize].elapsed().as_micros() as u64);
                    if submitted < ops_total {
                        submitted_at[c as usize] = Instant::now();
                        let acts = clients[c as usize].submit(op_of(c, submitted)).unwrap();
                        client_route(ClientId(c), acts, &mut queue);
                        submitted += 1;
                    }
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    latencies_us.sort_unstable();
    let pct = |p: usize| latencies_us[(latencies_us.len() * p / 100).min(latencies_us.len() - 1)];
    Figures { ops_per_s: ops_total as f64 / secs, p50_us: pct(50), p99_us: pct(99) }
}

fn main() {
    let ops: u64 = std::env::var("RAMPART_BENCH_OPS").ok().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let null = |_: u64, _: u64| KvOp::Null.encode();
    let kv1k = |c: u64, k: u64| match k % 4 {
        0 => KvOp::Get { key: format!("client-{c}-{}", k % 8).into_bytes() }.encode(),
        1 => KvOp::Delete { key: format!("client-{c}-{}", k % 8).into_bytes() }.encode(),
        _ => KvOp::Put { key: format!("client-{c}-{}", k % 8).into_bytes(), value: vec![k as u8; 1024] }.encode(),
    };
    println!("MinBFT cluster, n = 3, {CLIENTS} closed-loop clients, {ops} operations per workload");
    println!("{:<10} {:>26} {:>26} {:>8}", "workload", "hosted PDs: ops/s p50 p99", "in memory: ops/s p50 p99", "ratio");
    for (name, workload, op) in [("null", "null", &null as &dyn Fn(u64, u64) -> Vec<u8>), ("1 KiB", "kv1k", &kv1k)] {
        let base = in_memory(op, ops);
        let pds = cluster(workload, ops);
        println!(
            "{name:<10} {:>10.0} {:>6} us {:>5} us {:>10.0} {:>6} us {:>5} us {:>7.2}x",
            pds.ops_per_s, pds.p50_us, pds.p99_us, base.ops_per_s, base.p50_us, base.p99_us, base.ops_per_s / pds.ops_per_s
        );
    }
    println!("ratio: in-memory throughput / hosted-PD throughput (the framework's share: processes, rings, USIG calls)");
}
