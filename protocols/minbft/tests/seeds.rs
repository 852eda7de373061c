//! Many seeds of randomized faults: agreement, exactly-once, validity and client results against
//! a sequential model, plus liveness after the network heals. A failing seed replays exactly:
//! `SEED=<n> cargo test -p rampart-minbft --release --test seeds one_seed -- --nocapture`.
mod common;
use common::*;

/// Runs one randomized scenario; panics on a violated property.
fn scenario(seed: u64) {
    let mut r = Rng(seed ^ 0xA5A5_5A5A);
    let mut cfg = SimConfig::new(seed);
    cfg.clients = 1 + r.below(4);
    cfg.ops_per_client = 10 + r.below(30) as usize;
    cfg.drop_percent = r.below(20);
    cfg.duplicate_percent = r.below(20);
    cfg.delay_ms_max = 1 + r.below(40);
    cfg.batch_size_max = 1 + r.below(8) as usize;
    cfg.checkpoint_period = [2, 4, 8][r.below(3) as usize];
    cfg.window_max = 1 + r.below(cfg.checkpoint_period);
    cfg.heal_at_ms = 500 + r.below(2500);
    let faulty = r.below(3) as u32;
    let kind = r.below(4);
    if kind == 3 {
        let other = (faulty + 1 + r.below(2) as u32) % 3;
        cfg.byzantine = Some((
            faulty,
            match r.below(3) {
                0 => Byzantine::Noisy,
                1 => Byzantine::SilentTo(other),
                _ => Byzantine::Equivocate { victim: other },
            },
        ));
    }
    let heal = cfg.heal_at_ms;
    let mut sim = Sim::new(cfg.clone(), kv_workload);
    match kind {
        1 => {
            // Crash and restart, possibly twice.
            let mut t = r.below(heal / 2);
            for _ in 0..1 + r.below(2) {
                sim.run_until(t);
                sim.crash(faulty);
                t += 50 + r.below(800);
                sim.run_until(t);
                sim.restart(faulty);
                t += 100 + r.below(500);
            }
        }
        2 => {
            let t = r.below(heal / 2);
            sim.run_until(t);
            sim.partition(faulty);
            sim.run_until(t + 100 + r.below(1500));
            sim.heal(faulty);
        }
        _ => {}
    }
    let done = sim.run_until_done();
    let honest: Vec<u32> = (0..3).filter(|&i| cfg.byzantine.is_none_or(|(b, _)| b != i)).collect();
    sim.check(&honest);
    assert!(done, "seed {seed} (kind {kind}, faulty {faulty}): clients did not finish\n{cfg:?}\n{}", sim.dump());
}

#[test]
fn many_seeds() {
    let count: u64 = std::env::var("SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(if cfg!(debug_assertions) { 40 } else { 300 });
    for seed in 0..count {
        if std::env::var_os("VERBOSE").is_some() {
            eprintln!("seed {seed}");
        }
        if let Err(e) = std::panic::catch_unwind(|| scenario(seed)) {
            eprintln!("FAILED seed {seed}");
            std::panic::resume_unwind(e);
        }
    }
}

/// Seeds that found bugs in the sweep (the crate README: deviation 7, amnesia recovery, seed 248;
/// deviation 10, historical UIs in certificates, seed 1498). Run in every profile: a debug
/// `many_seeds` stops at 40. (Seed 248 fails again if a recovering replica may send a
/// ViewChange before its amnesia floor.)
const REGRESSION_SEEDS: [u64; 2] = [248, 1498];

#[test]
fn seeds_that_once_found_bugs_still_pass() {
    for seed in REGRESSION_SEEDS {
        scenario(seed);
    }
}

#[test]
fn one_seed() {
    if let Some(seed) = std::env::var("SEED").ok().and_then(|s| s.parse().ok()) {
        scenario(seed);
    }
}
