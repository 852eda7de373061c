//! A Byzantine replica: equivocation, forged and reused UIs, garbage, forged client requests.
mod common;
use common::*;

use rampart_minbft::auth::request_authenticator;
use rampart_minbft::replica::{Action, Input, Peer, Reason};
use rampart_minbft::wire::{self, ClientId, Message, Prepare, ReplicaId, Request};
use rampart_minbft::{KvOp, UsigPort};
use rampart_usig::Certificate;

fn request(client: u64, id: u64, op: &KvOp) -> Request {
    let keys: Vec<_> = (0..3).map(|r| rampart_minbft::auth::MacKey::new(&rampart_minbft::auth::derive_key(&MASTER, ClientId(client), ReplicaId(r)))).collect();
    let operation = op.encode();
    Request { client: ClientId(client), request_id: id, authenticator: request_authenticator(&keys, ClientId(client), id, &operation), operation }
}

fn rejected(actions: &[Action], reason: Reason) -> bool {
    actions.iter().any(|a| matches!(a, Action::Rejected { reason: r } if *r == reason))
}

/// A fresh 3-replica cluster with no clients running; the test plays replica 0 (the primary).
fn idle_cluster() -> Sim {
    let mut cfg = SimConfig::new(9);
    cfg.clients = 2;
    cfg.ops_per_client = 0;
    let mut sim = Sim::new(cfg, null_workload);
    sim.run_until(5);
    sim
}

fn deliver(sim: &mut Sim, to: u32, from: u32, msg: Message) -> Vec<Action> {
    // Through the wire, as the network would.
    let msg = wire::decode(&wire::encode(&msg).unwrap()).unwrap();
    let node = &mut sim.replicas[to as usize];
    node.replica.step(&mut node.usig, Input::Message { from: Peer::Replica(ReplicaId(from)), message: msg })
}

#[test]
fn an_equivocating_primary_is_caught_by_counter_order() {
    let mut sim = idle_cluster();
    let (a, b) = (request(0, 1, &KvOp::Null), request(1, 1, &KvOp::Null));
    // The primary certifies two Prepares for seq 1: A (counter c) and B (counter c+1).
    let usig = &mut sim.replicas[0].usig;
    let mut pa = Prepare { view: 0, replica: ReplicaId(0), seq: 1, batch: vec![a.clone()].into(), ui: placeholder() };
    pa.ui = usig.create_ui(&pa.digest()).unwrap();
    let mut pb = Prepare { view: 0, replica: ReplicaId(0), seq: 1, batch: vec![b.clone()].into(), ui: placeholder() };
    pb.ui = usig.create_ui(&pb.digest()).unwrap();
    // Replica 2 gets only B: it cannot process it before counter c, so it holds it back.
    let acts = deliver(&mut sim, 2, 0, Message::Prepare(pb.clone()));
    assert!(!acts.iter().any(|a| matches!(a, Action::Broadcast { message: Message::Commit(_) })), "B held back, not committed");
    // Replica 1 gets A and commits it; its Commit carries A to replica 2.
    let acts = deliver(&mut sim, 1, 0, Message::Prepare(pa.clone()));
    let commit = acts
        .iter()
        .find_map(|a| match a {
            Action::Broadcast { message: m @ Message::Commit(_) } => Some(m.clone()),
            _ => None,
        })
        .expect("replica 1 commits A");
    let acts = deliver(&mut sim, 2, 1, commit);
    // Replica 2 processes A (from the Commit), then B: same seq again, refused.
    assert!(rejected(&acts, Reason::PrepareOutOfOrder), "B refused as out of order: {acts:?}");
    assert!(acts.iter().any(|a| matches!(a, Action::Executed { seq: 1, client: ClientId(0), .. })), "A executed at seq 1");
    // And replica 1, getting B later, refuses it too.
    let acts = deliver(&mut sim, 1, 0, Message::Prepare(pb));
    assert!(rejected(&acts, Reason::PrepareOutOfOrder));
}

#[test]
fn forged_and_reused_uis_are_refused() {
    let mut sim = idle_cluster();
    let a = request(0, 1, &KvOp::Null);
    let usig = &mut sim.replicas[0].usig;
    let mut p = Prepare { view: 0, replica: ReplicaId(0), seq: 1, batch: vec![a.clone()].into(), ui: placeholder() };
    p.ui = usig.create_ui(&p.digest()).unwrap();
    // Forged certificate.
    let mut forged = p.clone();
    forged.ui.cert = Certificate::HmacSha256([0x42; 32]);
    assert!(rejected(&deliver(&mut sim, 1, 0, Message::Prepare(forged)), Reason::BadUi));
    // Reused UI on other content (same counter, another batch).
    let mut reused = p.clone();
    reused.batch = vec![request(1, 1, &KvOp::Null)].into();
    assert!(rejected(&deliver(&mut sim, 1, 0, Message::Prepare(reused.clone())), Reason::BadUi));
    // The genuine one is accepted; replaying it is a duplicate.
    let acts = deliver(&mut sim, 1, 0, Message::Prepare(p.clone()));
    assert!(acts.iter().any(|a| matches!(a, Action::Broadcast { message: Message::Commit(_) })));
    assert!(rejected(&deliver(&mut sim, 1, 0, Message::Prepare(p.clone())), Reason::Duplicate));
    assert!(rejected(&deliver(&mut sim, 1, 0, Message::Prepare(reused)), Reason::Duplicate));
    // A UI of an epoch that is not accepted.
    let mut other_epoch = rampart_minbft::MemUsig::new(rampart_usig::UsigId(0), 9, rampart_minbft::MemUsig::cluster_keys(3, USIG_SEED));
    let mut q = Prepare { view: 0, replica: ReplicaId(0), seq: 2, batch: vec![request(1, 1, &KvOp::Null)].into(), ui: placeholder() };
    q.ui = other_epoch.create_ui(&q.digest()).unwrap();
    assert!(rejected(&deliver(&mut sim, 1, 0, Message::Prepare(q)), Reason::EpochNotAccepted));
    // A message claiming another sender than the transport's.
    assert!(rejected(&deliver(&mut sim, 1, 2, Message::Prepare(p)), Reason::WrongSender));
}

#[test]
fn a_replica_cannot_forge_a_client_request() {
    let mut sim = idle_cluster();
    // Replica 0 (primary) makes up a request for client 0 without client 0's keys.
    let mut r = request(0, 1, &KvOp::Put { key: b"k".to_vec(), value: b"evil".to_vec() });
    r.authenticator = vec![[9; 32]; 3];
    let usig = &mut sim.replicas[0].usig;
    let mut p = Prepare { view: 0, replica: ReplicaId(0), seq: 1, batch: vec![r].into(), ui: placeholder() };
    p.ui = usig.create_ui(&p.digest()).unwrap();
    let acts = deliver(&mut sim, 1, 0, Message::Prepare(p));
    assert!(rejected(&acts, Reason::BadClientAuth));
    assert!(!acts.iter().any(|a| matches!(a, Action::Broadcast { message: Message::Commit(_) })));
}

#[test]
fn garbage_bytes_never_reach_the_core() {
    let mut rng = Rng(5);
    for _ in 0..10_000 {
        let len = rng.below(200) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = wire::decode(&bytes);
    }
    assert!(wire::decode(&[]).is_err());
    assert!(wire::decode(&[wire::VERSION + 1, 0]).is_err());
    let ok = wire::encode(&Message::Request(request(0, 1, &KvOp::Null))).unwrap();
    let mut trailing = ok.clone();
    trailing.push(0);
    assert!(wire::decode(&trailing).is_err());
    assert!(wire::decode(&ok).is_ok());
}

#[test]
fn byzantine_replicas_in_simulation_keep_agreement_and_liveness() {
    for seed in 0..30u64 {
        for (b, mode) in [
            (0, Byzantine::Equivocate { victim: 1 + (seed % 2) as u32 }),
            (seed as u32 % 3, Byzantine::Noisy),
            (seed as u32 % 3, Byzantine::SilentTo((seed as u32 + 1) % 3)),
        ] {
            let mut cfg = SimConfig::new(500 + seed);
            cfg.clients = 3;
            cfg.ops_per_client = 20;
            cfg.byzantine = Some((b, mode));
            let mut sim = Sim::new(cfg, kv_workload);
            let done = sim.run_until_done();
            let honest: Vec<u32> = (0..3).filter(|&i| i != b).collect();
            sim.check(&honest);
            assert!(done, "seed {seed} {mode:?}\n{}", sim.dump());
            if matches!(mode, Byzantine::Equivocate { .. }) {
                assert!(sim.equivocations > 0);
                let victim_saw = honest.iter().map(|&i| sim.replicas[i as usize].replica.rejections().count(Reason::PrepareOutOfOrder)).sum::<u64>();
                assert!(victim_saw > 0, "equivocation detected");
            }
        }
    }
}

fn placeholder() -> rampart_usig::Ui {
    rampart_usig::Ui { usig: rampart_usig::UsigId(0), epoch: 0, counter: 0, cert: Certificate::HmacSha256([0; 32]) }
}

#[test]
fn a_faulty_primary_racing_ahead_cannot_grow_a_backups_state() {
    use rampart_minbft::replica::{CHECKPOINTS_AHEAD_MAX, HELD_PER_PEER_MAX};
    use rampart_minbft::wire::Checkpoint;
    let mut sim = idle_cluster();
    let k = sim.cfg.checkpoint_period;
    for q in 1..=2000u64 {
        let usig = &mut sim.replicas[0].usig;
        let mut msgs = Vec::new();
        if q > 1 && (q - 1) % k == 0 {
            // Made-up checkpoints keep the barrier open.
            let mut c = Checkpoint { replica: ReplicaId(0), seq: q - 1, state_digest: [q as u8; 32], ui: placeholder() };
            c.ui = usig.create_ui(&c.digest()).unwrap();
            msgs.push(Message::Checkpoint(c));
        }
        let mut p = Prepare { view: 0, replica: ReplicaId(0), seq: q, batch: vec![request(q % 2, q, &KvOp::Null)].into(), ui: placeholder() };
        p.ui = usig.create_ui(&p.digest()).unwrap();
        msgs.push(Message::Prepare(p));
        for m in msgs {
            deliver(&mut sim, 1, 0, m);
        }
    }
    let r = &sim.replicas[1].replica;
    assert!(r.slots_len() as u64 <= k * (CHECKPOINTS_AHEAD_MAX + 2), "slots bounded: {}", r.slots_len());
    assert!(r.rejections().count(Reason::HoldBackFull) > 0, "the rest was held back, then refused");
    let _ = HELD_PER_PEER_MAX;
}

/// Model-checking finding 1 (proofs/FINDINGS.md): a Commit embedding a forged Prepare that
/// claims a correct replica's counter must not wedge another correct replica's streams.
#[test]
fn a_commit_embedding_a_forged_prepare_does_not_wedge_a_correct_replica() {
    use rampart_minbft::wire::Commit;
    let mut sim = idle_cluster();
    let r = request(0, 1, &KvOp::Null);
    // Replica 0 (Byzantine primary): a Commit (its counter 2) of a Prepare that claims to be
    // replica 1's counter 2 in view 1, with a certificate that cannot verify.
    let mut forged = Prepare { view: 1, replica: ReplicaId(1), seq: 1, batch: vec![r.clone()].into(), ui: placeholder() };
    forged.ui = rampart_usig::Ui { usig: rampart_usig::UsigId(1), epoch: 1, counter: 2, cert: Certificate::HmacSha256([7; 32]) };
    let usig = &mut sim.replicas[0].usig;
    let mut bad = Commit { replica: ReplicaId(0), prepare: forged, ui: placeholder() };
    bad.ui = usig.create_ui(&bad.digest()).unwrap();
    // Then a genuine Prepare for seq 1 (its counter 3).
    let mut p = Prepare { view: 0, replica: ReplicaId(0), seq: 1, batch: vec![r].into(), ui: placeholder() };
    p.ui = usig.create_ui(&p.digest()).unwrap();
    deliver(&mut sim, 1, 0, Message::Commit(bad.clone()));
    let acts = deliver(&mut sim, 1, 0, Message::Prepare(p.clone()));
    let commit_1 = acts
        .iter()
        .find_map(|a| match a {
            Action::Broadcast { message: m @ Message::Commit(_) } => Some(m.clone()),
            _ => None,
        })
        .expect("replica 1 commits the genuine Prepare");
    // Replica 2: replica 1's Commit, then the Prepare, then the forged Commit.
    deliver(&mut sim, 2, 1, commit_1);
    deliver(&mut sim, 2, 0, Message::Prepare(p));
    let acts = deliver(&mut sim, 2, 0, Message::Commit(bad));
    assert_eq!(sim.replicas[2].replica.executed_seq(), 1, "replica 2 executed seq 1: {acts:?}");
    assert_eq!(sim.replicas[1].replica.executed_seq(), 1);
}

/// A refused message changes nothing but the counters, and the counters take no part in a
/// replica's equality (the model checker relies on both: see `Replica`'s docs).
#[test]
fn a_refused_message_is_counted_and_leaves_the_protocol_state_alone() {
    let mut sim = idle_cluster();
    let before = sim.replicas[1].replica.clone();
    let total_before = before.rejections().total();
    let p = Prepare {
        view: 0,
        replica: ReplicaId(0),
        seq: 1,
        batch: vec![request(0, 1, &KvOp::Null)].into(),
        // Not made by replica 0's USIG: the certificate cannot verify.
        ui: rampart_usig::Ui { counter: 1, ..placeholder() },
    };
    let actions = deliver(&mut sim, 1, 0, Message::Prepare(p));
    assert!(actions.iter().any(|a| matches!(a, Action::Rejected { .. })), "refused: {actions:?}");
    let after = &sim.replicas[1].replica;
    assert_eq!(after.rejections().total(), total_before + 1, "counted once");
    assert_ne!(after.rejections(), before.rejections());
    assert_eq!(after, &before, "protocol state unchanged; counters left out of equality");
}
