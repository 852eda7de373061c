//! FINDINGS.md, finding 1 (fixed): a Commit that embeds a forged Prepare used to wedge a correct
//! replica's streams (liveness). This replays the counterexample's trace against the core.

use rampart_minbft::wire::Message;
use rampart_proofs::byzantine::{ByzAction, Target};
use rampart_proofs::liveness::{continuation, Outcome};
use rampart_proofs::model::{Action, Envelope, MinBftModel, Node, ReplicaSlot, State};
use rampart_proofs::ModelConfig;
use stateright::Model;

fn step(m: &MinBftModel, s: &State, a: Action) -> State {
    m.next_state(s, a).expect("every action yields a state")
}

fn envelope(s: &State, from: u32, to: u32, pred: impl Fn(&Message) -> bool) -> Envelope {
    s.network.iter().find(|e| e.from == Node::Replica(from) && e.to == Node::Replica(to) && pred(&e.message)).cloned().expect("the envelope is in flight")
}

#[test]
fn a_commit_embedding_a_forged_prepare_does_not_wedge_a_correct_replica() {
    let m = MinBftModel::new(ModelConfig::ci_byzantine_two());
    let mut s = m.init_states().remove(0);
    // The Byzantine replica 0 sends a Commit (its counter 2, valid) embedding a Prepare that
    // claims to be replica 1's counter 2, with a certificate that cannot verify.
    s = step(&m, &s, Action::Byzantine(ByzAction::ForgeCommit { view: 1 }));
    let forged_to_1 = envelope(&s, 0, 1, |m| matches!(m, Message::Commit(_)));
    s = step(&m, &s, Action::Deliver(forged_to_1));
    // The client's request reaches the (Byzantine) primary, which proposes it (counter 3).
    s = step(&m, &s, Action::Submit(0));
    let request = match &m.byzantine(&s).unwrap().seen[0] {
        Message::Request(r) => r.clone(),
        other => panic!("expected the request, got {other:?}"),
    };
    s = step(&m, &s, Action::Byzantine(ByzAction::Propose { view: 0, seq: 1, request: Some(request), to: Target::AllCorrect }));
    let prepare_to_1 = envelope(&s, 0, 1, |m| matches!(m, Message::Prepare(_)));
    s = step(&m, &s, Action::Deliver(prepare_to_1));
    // Replica 1 commits (its real counter 2). Replica 2 gets that Commit, then the Prepare,
    // then the forged Commit: its stream of replica 0 waits at counter 2 for replica 1's
    // counter 2, which waits for replica 0's counter 3, which is behind counter 2.
    let commit_1_to_2 = envelope(&s, 1, 2, |m| matches!(m, Message::Commit(_)));
    s = step(&m, &s, Action::Deliver(commit_1_to_2));
    let prepare_to_2 = envelope(&s, 0, 2, |m| matches!(m, Message::Prepare(_)));
    s = step(&m, &s, Action::Deliver(prepare_to_2));
    let forged_to_2 = envelope(&s, 0, 2, |m| matches!(m, Message::Commit(_)));
    s = step(&m, &s, Action::Deliver(forged_to_2));

    let outcome = continuation(&m, &s);
    let executed_2 = match &s.replicas[2] {
        ReplicaSlot::Correct(n) => n.replica.executed_seq(),
        _ => unreachable!(),
    };
    assert!(
        matches!(outcome, Outcome::Completed { .. }),
        "the client's request never completes once the network is good ({outcome:?}); replica 2 executed up to {executed_2}"
    );
}
