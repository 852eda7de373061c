//! The normal case: batching, reply cache, checkpoints and garbage collection.
mod common;
use common::*;

#[test]
fn all_requests_complete_and_agree_with_batching() {
    let mut cfg = SimConfig::new(1);
    cfg.clients = 8;
    cfg.ops_per_client = 30;
    let mut sim = Sim::new(cfg, kv_workload);
    assert!(sim.run_until_done(), "clients finished");
    sim.check(&[0, 1, 2]);
    // Batching happened: fewer sequence numbers than requests.
    let reqs: usize = sim.executed[0].values().map(|e| e.len()).sum();
    assert_eq!(reqs, 8 * 30);
    assert!(sim.max_executed() < 8 * 30, "batches carry several requests");
}

use rampart_minbft::auth::{derive_key, request_authenticator};
use rampart_minbft::replica::{Action, Input, Peer};
use rampart_minbft::wire::{ClientId, Message, ReplicaId, Request};
use rampart_minbft::KvOp;

#[test]
fn a_retried_request_is_answered_from_the_reply_cache_not_executed_again() {
    let mut cfg = SimConfig::new(2);
    cfg.clients = 2;
    cfg.ops_per_client = 5;
    let mut sim = Sim::new(cfg, kv_workload);
    assert!(sim.run_until_done());
    // Client 0 retransmits its last request (id 5) to every replica.
    let op = sim.clients[0].sent[&5].encode();
    let keys: Vec<_> = (0..3).map(|r| rampart_minbft::auth::MacKey::new(&derive_key(&MASTER, ClientId(0), ReplicaId(r)))).collect();
    let request = Request { client: ClientId(0), request_id: 5, authenticator: request_authenticator(&keys, ClientId(0), 5, &op), operation: op };
    for i in 0..3usize {
        let node = &mut sim.replicas[i];
        let before = node.replica.executed_seq();
        let actions = node.replica.step(&mut node.usig, Input::Message { from: Peer::Client(ClientId(0)), message: Message::Request(request.clone()) });
        assert!(!actions.iter().any(|a| matches!(a, Action::Executed { .. })), "not executed again");
        let reply = actions
            .iter()
            .find_map(|a| match a {
                Action::ReplyToClient { reply, .. } => Some(reply),
                _ => None,
            })
            .expect("cached reply");
        assert_eq!(reply.request_id, 5);
        assert_eq!(&reply.result, &sim.clients[0].done[&5]);
        assert_eq!(node.replica.executed_seq(), before);
    }
    // An older request id is refused as stale.
    let node = &mut sim.replicas[1];
    let mut old = request.clone();
    old.request_id = 3;
    old.authenticator = request_authenticator(&keys, ClientId(0), 3, &old.operation);
    let actions = node.replica.step(&mut node.usig, Input::Message { from: Peer::Client(ClientId(0)), message: Message::Request(old) });
    assert!(actions.iter().any(|a| matches!(a, Action::Rejected { reason: rampart_minbft::Reason::StaleRequest })));
    let _ = KvOp::Null;
}

#[test]
fn duplicated_and_reordered_messages_execute_every_request_exactly_once() {
    for seed in 0..20 {
        let mut cfg = SimConfig::new(100 + seed);
        cfg.duplicate_percent = 30;
        cfg.delay_ms_max = 30;
        cfg.clients = 4;
        let mut sim = Sim::new(cfg, kv_workload);
        assert!(sim.run_until_done(), "seed {seed}");
        sim.check(&[0, 1, 2]);
    }
}

#[test]
fn checkpoints_garbage_collect_the_log() {
    let mut cfg = SimConfig::new(3);
    cfg.clients = 4;
    cfg.ops_per_client = 300;
    cfg.checkpoint_period = 8;
    cfg.window_max = 4;
    let k = cfg.checkpoint_period as usize;
    let mut sim = Sim::new(cfg, kv_workload);
    let mut max_log = 0;
    let mut max_slots = 0;
    while !sim.all_done() {
        assert!(sim.step());
        for r in &sim.replicas {
            max_log = max_log.max(r.replica.sent_log_len());
            max_slots = max_slots.max(r.replica.slots_len());
        }
    }
    sim.check(&[0, 1, 2]);
    let executed = sim.max_executed() as usize;
    assert!(executed > 10 * k, "ran many checkpoint intervals ({executed})");
    // The log holds at most about CHECKPOINTS_AHEAD_MAX intervals of own messages, not all.
    assert!(max_log <= 3 * k + 8, "sent log bounded by checkpoints: {max_log}");
    assert!(max_slots <= 2 * k, "slots bounded: {max_slots}");
    for r in &sim.replicas {
        let stable = r.replica.stable_checkpoint().seq;
        assert!(stable + 2 * k as u64 >= r.replica.executed_seq(), "stable checkpoint follows execution");
    }
}
