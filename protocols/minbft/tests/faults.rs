//! Crashes, view changes, lagging and restarted replicas.
mod common;
use common::*;

#[test]
fn primary_crash_triggers_a_view_change_and_no_executed_request_is_lost() {
    for seed in 0..10 {
        let mut cfg = SimConfig::new(200 + seed);
        cfg.clients = 4;
        cfg.ops_per_client = 40;
        let mut sim = Sim::new(cfg, kv_workload);
        sim.run_until(20 + seed * 7);
        sim.crash(0);
        assert!(
            sim.run_until_done(),
            "seed {seed}: clients finished after the view change\n{}",
            sim.dump()
        );
        sim.check(&[0, 1, 2]);
        for i in 1..3 {
            assert!(
                sim.replicas[i].replica.view() >= 1,
                "seed {seed}: replica {i} left view 0"
            );
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
    assert!(
        sim.run_until_done(),
        "clients finished with replica 2 caught up\n{}",
        sim.dump()
    );
    sim.check(&[0, 1, 2]);
    assert!(!sim.restored[2].is_empty(), "replica 2 restored a snapshot");
    assert_eq!(
        sim.replicas[2].replica.executed_seq(),
        sim.replicas[0].replica.executed_seq()
    );
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
        assert!(
            sim.run_until_done(),
            "seed {seed}: clients finished\n{}",
            sim.dump()
        );
        sim.check(&[0, 1, 2]);
        assert!(
            !sim.restored[2].is_empty(),
            "seed {seed}: replica 2 restored a snapshot"
        );
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
    assert!(
        sim.run_until_done(),
        "clients finished with the restarted replica help\n{}",
        sim.dump()
    );
    sim.check(&[0, 1, 2]);
}
