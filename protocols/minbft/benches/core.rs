//! Throughput of the MinBFT core: n = 3 replicas and their clients in one thread, in memory
//! (messages passed as values through a FIFO queue, no encoding, HMAC-SHA256 MemUsig), null
//! operations. Baseline in the same run: the same cluster without batching (batch size 1);
//! prints both and their ratio.
//!
//! `cargo bench -p rampart-minbft --bench core`

use std::collections::VecDeque;
use std::time::Instant;

use rampart_minbft::auth::derive_key;
use rampart_minbft::replica::{Action, Config, Input, Peer, Replica};
use rampart_minbft::wire::{ClientId, Message, ReplicaId};
use rampart_minbft::{Client, ClientAction, ClientConfig, KvOp, KvStore, MemUsig};
use rampart_usig::UsigId;

const MASTER: [u8; 32] = [3; 32];

enum To {
    Replica(u32),
    Client(u64),
}

fn run(batch_size_max: usize, clients: u64, ops_total: u64) -> (f64, u64) {
    let n = 3u32;
    let keys = MemUsig::cluster_keys(3, 1);
    let mut usigs: Vec<MemUsig> = (0..n).map(|i| MemUsig::new(UsigId(i), 1, keys.clone())).collect();
    let mut replicas: Vec<Replica<KvStore>> = (0..n)
        .map(|i| {
            let config = Config {
                n,
                f: 1,
                me: ReplicaId(i),
                batch_size_max,
                window_max: if batch_size_max > 1 { 2 } else { 16 },
                checkpoint_period: 128,
                request_timeout_ms: 10_000,
                view_change_timeout_ms: 10_000,
                status_interval_ms: 1_000,
                state_transfer_timeout_ms: 1_000,
                client_keys: (0..clients).map(|c| (ClientId(c), derive_key(&MASTER, ClientId(c), ReplicaId(i)))).collect(),
                genesis_digest: Replica::genesis_digest(&KvStore::new()),
            };
            Replica::new(config, KvStore::new())
        })
        .collect();
    let mut cls: Vec<Client> = (0..clients)
        .map(|c| {
            Client::new(ClientConfig {
                id: ClientId(c),
                n,
                f: 1,
                keys: (0..n).map(|r| derive_key(&MASTER, ClientId(c), ReplicaId(r))).collect(),
                retransmit_timeout_ms: 10_000,
                first_request_id: 1,
            })
        })
        .collect();
    let null = KvOp::Null.encode();
    let mut queue: VecDeque<(To, Peer, Message)> = VecDeque::new();
    let mut actions = Vec::new();
    for i in 0..n as usize {
        for j in 0..n {
            replicas[i].step_into(&mut usigs[i], Input::EpochAccepted { replica: ReplicaId(j), epoch: 1 }, &mut actions);
        }
        replicas[i].step_into(&mut usigs[i], Input::Start { recovering: false }, &mut actions);
        route(i as u32, n, &mut actions, &mut queue);
    }
    let start = Instant::now();
    let mut submitted = 0u64;
    let mut done = 0u64;
    for c in cls.iter_mut() {
        for a in c.submit(null.clone()).unwrap() {
            client_action(c.id(), n, a, &mut queue);
        }
        submitted += 1;
    }
    while done < ops_total {
        let Some((to, from, msg)) = queue.pop_front() else { panic!("stalled at {done}") };
        match to {
            To::Replica(i) => {
                let i = i as usize;
                replicas[i].step_into(&mut usigs[i], Input::Message { from, message: msg }, &mut actions);
                route(i as u32, n, &mut actions, &mut queue);
            }
            To::Client(c) => {
                let Message::Reply(reply) = msg else { continue };
                let Peer::Replica(r) = from else { continue };
                let cl = &mut cls[c as usize];
                let mut next = false;
                for a in cl.on_reply(r, reply) {
                    if let ClientAction::Done { .. } = a {
                        done += 1;
                        next = true;
                    }
                }
                if next && submitted < ops_total {
                    for a in cl.submit(null.clone()).unwrap() {
                        client_action(cl.id(), n, a, &mut queue);
                    }
                    submitted += 1;
                }
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    (done as f64 / secs, replicas[0].executed_seq())
}

fn route(i: u32, n: u32, actions: &mut Vec<Action>, queue: &mut VecDeque<(To, Peer, Message)>) {
    for a in actions.drain(..) {
        match a {
            Action::Send { to, message } => queue.push_back((To::Replica(to.0), Peer::Replica(ReplicaId(i)), message)),
            Action::Broadcast { message } => {
                // A copy per recipient, the last one gets the original.
                let last = if i == n - 1 { n - 2 } else { n - 1 };
                for j in (0..last).filter(|&j| j != i) {
                    queue.push_back((To::Replica(j), Peer::Replica(ReplicaId(i)), message.clone()));
                }
                queue.push_back((To::Replica(last), Peer::Replica(ReplicaId(i)), message));
            }
            Action::ReplyToClient { client, reply } => queue.push_back((To::Client(client.0), Peer::Replica(ReplicaId(i)), Message::Reply(reply))),
            _ => {}
        }
    }
}

fn client_action(c: ClientId, n: u32, a: ClientAction, queue: &mut VecDeque<(To, Peer, Message)>) {
    match a {
        ClientAction::Send { to, message } => queue.push_back((To::Replica(to.0), Peer::Client(c), message)),
        ClientAction::Broadcast { message } => {
            for j in 0..n - 1 {
                queue.push_back((To::Replica(j), Peer::Client(c), message.clone()));
            }
            queue.push_back((To::Replica(n - 1), Peer::Client(c), message));
        }
        _ => {}
    }
}

fn main() {
    // `BENCH_OPS=n`: operations of the batched run (the unbatched one does a sixth), e.g. for
    // a profiler.
    let ops: u64 = std::env::var("BENCH_OPS").ok().and_then(|v| v.parse().ok()).unwrap_or(300_000);
    // Warm up.
    run(64, 64, (ops / 15).max(1));
    let (batched, seqs_b) = run(64, 256, ops);
    let (single, seqs_s) = run(1, 16, (ops / 6).max(1));
    println!("minbft core, n = 3, null ops, one thread, clients included (MemUsig HMAC-SHA256):");
    println!("  with batching (batch <= 64, 256 clients): {batched:>10.0} ops/s ({seqs_b} batches for {ops} ops)");
    println!("  without batching (batch = 1, 16 clients): {single:>10.0} ops/s ({seqs_s} batches for {} ops)", (ops / 6).max(1));
    println!("  batching / no batching: {:.2}x", batched / single);
}
