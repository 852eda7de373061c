//! Crashes, view changes, lagging and restarted replicas.
mod common;
use common::*;
use rampart_minbft::replica::{Input, Peer, Reason, STATE_REPLIES_PER_PERIOD_MAX};
use rampart_minbft::wire::{Message, ReplicaId, StateRequest, Status, StreamPosition};

#[test]
fn primary_crash_triggers_a_view_change_and_no_executed_request_is_lost() {
    for seed in 0..10 {
        let mut cfg = SimConfig::new(200 + seed);
        cfg.clients = 4;
        cfg.ops_per_client = 40;
        let mut sim = Sim::new(cfg, kv_workload);
        sim.run_until(20 + seed * 7);
        sim.crash(0);
        assert!(sim.run_until_done(), "seed {seed}: clients finished after the view change\n{}", sim.dump());
        sim.check(&[0, 1, 2]);
        for i in 1..3 {
            assert!(sim.replicas[i].replica.view() >= 1, "seed {seed}: replica {i} left view 0");
        }
    }
}

#[test]
fn a_partitioned_replica_catches_up_by_state_transfer() {
    let mut cfg = SimConfig::new(7);
    cfg.clients = 4;
    cfg.ops_per_client = 80;
    let mut sim = Sim::new(cfg, kv_workload);
    sim.run_until(10);
    sim.partition(2);
    sim.run_until(400);
    sim.heal(2);
    // Then the other backup fails: progress now needs replica 2.
    sim.run_until(500);
    sim.crash(1);
    assert!(sim.run_until_done(), "clients finished with replica 2 caught up\n{}", sim.dump());
    sim.check(&[0, 1, 2]);
    assert!(!sim.restored[2].is_empty(), "replica 2 restored a snapshot");
    assert_eq!(sim.replicas[2].replica.executed_seq(), sim.replicas[0].replica.executed_seq());
}

#[test]
fn a_restarted_replica_fetches_state_in_its_new_epoch_and_rejoins() {
    for seed in 0..5 {
        let mut cfg = SimConfig::new(300 + seed);
        cfg.clients = 4;
        cfg.ops_per_client = 80;
        let mut sim = Sim::new(cfg, kv_workload);
        sim.run_until(30);
        sim.crash(2);
        sim.run_until(300);
        sim.restart(2);
        sim.run_until(600);
        // Progress now needs the restarted replica.
        sim.crash(1);
        assert!(sim.run_until_done(), "seed {seed}: clients finished\n{}", sim.dump());
        sim.check(&[0, 1, 2]);
        assert!(!sim.restored[2].is_empty(), "seed {seed}: replica 2 restored a snapshot");
    }
}

#[test]
fn a_restarted_primary_rejoins_after_the_view_change() {
    let mut cfg = SimConfig::new(11);
    cfg.clients = 4;
    cfg.ops_per_client = 80;
    let mut sim = Sim::new(cfg, kv_workload);
    sim.run_until(25);
    sim.crash(0);
    sim.run_until(1500);
    sim.restart(0);
    sim.run_until(2500);
    sim.crash(2);
    assert!(sim.run_until_done(), "clients finished with the restarted replica help\n{}", sim.dump());
    sim.check(&[0, 1, 2]);
}

/// The most StateRequests one replica sent, and StateReplies one replica sent to one peer,
/// within any window of `window_ms` starting at or after `from_ms`.
fn state_message_peaks(sim: &Sim, from_ms: u64, window_ms: u64) -> (usize, usize) {
    let msgs: Vec<_> = sim.state_messages.iter().filter(|m| m.0 >= from_ms).collect();
    let mut requests = 0;
    let mut replies = 0;
    for (i, &&(t, from, to, _)) in msgs.iter().enumerate() {
        let window = || msgs[i..].iter().take_while(|m| m.0 < t + window_ms);
        requests = requests.max(window().filter(|m| !m.3 && m.1 == from).count());
        replies = replies.max(window().filter(|m| m.3 && m.1 == from && m.2 == to).count());
    }
    (requests, replies)
}

#[test]
fn state_transfer_after_a_restart_is_rate_limited() {
    // Checkpoints every 2 batches under load: a lagging replica sees a new certificate often.
    let (status_ms, transfer_ms) = (50, 200); // common::replica_config
    for seed in 0..6 {
        let mut cfg = SimConfig::new(400 + seed);
        cfg.clients = 32;
        cfg.ops_per_client = 300;
        cfg.checkpoint_period = 2;
        cfg.window_max = 2;
        let mut sim = Sim::new(cfg, kv_workload);
        sim.run_until(30);
        sim.crash(2);
        sim.run_until(300);
        sim.restart(2);
        sim.run_until(700);
        if seed % 2 == 0 {
            sim.crash(1); // progress now needs the restarted replica
        }
        assert!(sim.run_until_done(), "seed {seed}: clients finished\n{}", sim.dump());
        sim.check(&[0, 1, 2]);
        assert!(!sim.restored[2].is_empty(), "seed {seed}: replica 2 restored a snapshot");
        // One StateRequest broadcast (n - 1 messages) per StateTransfer period at most...
        let (requests, _) = state_message_peaks(&sim, 300, transfer_ms);
        assert!(requests <= 2, "seed {seed}: {requests} StateRequests from one replica in {transfer_ms} ms");
        // ... and STATE_REPLIES_PER_PERIOD_MAX StateReplies to one peer per Status period (a
        // sliding window can straddle two periods).
        let (_, replies) = state_message_peaks(&sim, 300, status_ms);
        let bound = 2 * STATE_REPLIES_PER_PERIOD_MAX as usize;
        assert!(replies <= bound, "seed {seed}: {replies} StateReplies to one peer in {status_ms} ms");
    }
}

#[test]
fn a_flood_of_state_requests_and_status_gets_bounded_answers() {
    let mut sim = Sim::new(SimConfig::new(9), kv_workload);
    sim.run_until_done();
    sim.run_until(sim.now_ms + 20);
    let before = sim.state_messages.len();
    // Replica 1 (faulty, say) floods replica 0 within one Status period: StateRequests that
    // all differ, and Statuses claiming a far-ahead checkpoint and a stuck stream position.
    for i in 0..1000u64 {
        let request = Message::StateRequest(StateRequest { replica: ReplicaId(1), executed_seq: i % 7, view: 0 });
        sim.replica_input(0, Input::Message { from: Peer::Replica(ReplicaId(1)), message: request });
        let status = Message::Status(Status {
            replica: ReplicaId(1),
            view: 0,
            changing_to: None,
            epoch: 1,
            last_counter: 1,
            streams: vec![StreamPosition { replica: ReplicaId(0), epoch: 1, next_counter: 1 }],
            stable_seq: 1_000_000,
            executed_seq: 0,
        });
        sim.replica_input(0, Input::Message { from: Peer::Replica(ReplicaId(1)), message: status });
    }
    let sent = &sim.state_messages[before..];
    let replies = sent.iter().filter(|m| m.3 && m.1 == 0).count();
    let requests = sent.iter().filter(|m| !m.3 && m.1 == 0).count();
    assert!(replies <= STATE_REPLIES_PER_PERIOD_MAX as usize, "{replies} StateReplies");
    assert!(requests <= 1, "{requests} StateRequests");
    assert!(sim.replicas[0].replica.rejections().count(Reason::StateReplyLimit) >= 998);
}
