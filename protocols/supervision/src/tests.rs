//! The policy, written once: each test states a behaviour both backends inherit.

use super::*;
use alloc::string::{String, ToString};
use alloc::vec;
use rampart_spec::{Arch, PdSpec, ProgramRef, DEFAULT_STACK_SIZE_BYTES};

const S: u64 = 1_000_000_000;
const CRASH: Fault = Fault { kind: FaultKind::Crash, code: 11 };

/// PDs: 0 `judge` (may exit), 1 `parent` (grants as given), 2 and 3 its children (ids 0, 1),
/// 4 `loner`.
fn spec(parent_grants: Grants) -> SystemSpec {
    let pd = |name: &str, parent: Option<(u8, u8)>, grants: Grants| PdSpec {
        name: name.to_string(),
        program: ProgramRef::Component(name.to_string()),
        priority: 10,
        sched: None,
        passive: false,
        stack_size_bytes: DEFAULT_STACK_SIZE_BYTES,
        cpu: 0,
        fpu: true,
        parent,
        maps: vec![],
        channels: vec![],
        irqs: vec![],
        ioports: vec![],
        setvars: vec![],
        grants,
    };
    SystemSpec {
        board: "qemu-x86_64".into(),
        arch: Arch::X86_64,
        pds: vec![
            pd("judge", None, Grants { exit_system: true, restart_children: false }),
            pd("parent", None, parent_grants),
            pd("child0", Some((1, 0)), Grants::default()),
            pd("child1", Some((1, 1)), Grants::default()),
            pd("loner", None, Grants::default()),
        ],
        regions: vec![],
        channels: vec![],
    }
}

fn granted() -> Supervision {
    Supervision::new(&spec(Grants { exit_system: false, restart_children: true }), Policy::Restart)
}

fn crash(s: &mut Supervision, pd: usize, now: u64) -> Actions {
    assert!(s.fault(pd, CRASH));
    s.stopped(pd, CRASH, now)
}

#[test]
fn only_a_granted_pd_may_end_the_system() {
    let s = granted();
    assert_eq!(s.exit_request(0, 7), ExitVerdict::End(7));
    for pd in 1..5 {
        assert_eq!(s.exit_request(pd, 0), ExitVerdict::Refused, "PD {pd}");
    }
    assert_eq!(s.exit_request(99, 0), ExitVerdict::Refused);
}

#[test]
fn a_top_level_pd_is_restarted_by_the_policy_then_held_past_the_limit() {
    let mut s = granted();
    for k in 0..RESTARTS_MAX as u64 {
        assert_eq!(crash(&mut s, 4, k * S), [Action::Restart { pd: 4, reason: RestartReason::Policy }]);
        assert_eq!(s.life(4), Some(Life::Restarting));
        s.restarted(4);
    }
    assert_eq!(crash(&mut s, 4, 5 * S), [Action::Hold { pd: 4, reason: HoldReason::RestartLimit }]);
    assert_eq!(s.life(4), Some(Life::Held));
}

#[test]
fn the_restart_window_slides() {
    let mut s = granted();
    for k in 0..RESTARTS_MAX as u64 {
        crash(&mut s, 4, k * S);
        s.restarted(4);
    }
    // The first restart left the window.
    assert_eq!(crash(&mut s, 4, RESTART_WINDOW_NS), [Action::Restart { pd: 4, reason: RestartReason::Policy }]);
}

#[test]
fn the_hold_policy_holds_and_the_system_ends_when_every_pd_is_held() {
    let mut s = Supervision::new(&spec(Grants::default()), Policy::Hold);
    assert_eq!(crash(&mut s, 0, 0), [Action::Hold { pd: 0, reason: HoldReason::Policy }]);
    assert_eq!(crash(&mut s, 4, 0), [Action::Hold { pd: 4, reason: HoldReason::Policy }]);
    assert_eq!(crash(&mut s, 2, 0), [Action::TellParent { parent: 1 }]);
    assert_eq!(
        crash(&mut s, 1, 0),
        [
            Action::Hold { pd: 1, reason: HoldReason::Policy },
            // Its waiting child now goes by the policy, and then nobody runs but child1.
            Action::Hold { pd: 2, reason: HoldReason::Policy },
        ]
    );
    let end = crash(&mut s, 3, 0);
    assert_eq!(end, [Action::Hold { pd: 3, reason: HoldReason::Policy }, Action::EndSystem { status: EXIT_ALL_STOPPED, by: None }]);
}

#[test]
fn a_child_fault_goes_to_its_parent_which_decides() {
    let mut s = granted();
    assert_eq!(crash(&mut s, 2, 0), [Action::TellParent { parent: 1 }]);
    assert_eq!(s.life(2), Some(Life::AwaitParent));
    assert_eq!(s.take_child_fault(1), Some((0, CRASH)));
    assert_eq!(s.take_child_fault(1), None);
    assert_eq!(s.decision(1, 0, Decision::Restart, 0), [Action::Restart { pd: 2, reason: RestartReason::ParentAsked }]);
    s.restarted(2);
    assert!(s.running(2));
    crash(&mut s, 3, 0);
    assert_eq!(s.decision(1, 1, Decision::Hold, 0), [Action::Hold { pd: 3, reason: HoldReason::ParentAsked }]);
}

#[test]
fn a_parent_without_the_grant_cannot_have_a_child_restarted() {
    let mut s = Supervision::new(&spec(Grants::default()), Policy::Restart);
    crash(&mut s, 2, 0);
    assert_eq!(s.decision(1, 0, Decision::Restart, 0), [Action::Hold { pd: 2, reason: HoldReason::ParentNotGranted }]);
}

#[test]
fn decisions_about_children_that_are_not_yours_or_not_waiting_change_nothing() {
    let mut s = granted();
    // Nobody is waiting.
    assert!(s.decision(1, 0, Decision::Restart, 0).is_empty());
    crash(&mut s, 2, 0);
    // Not the parent; no such child.
    assert!(s.decision(0, 0, Decision::Restart, 0).is_empty());
    assert!(s.decision(1, 9, Decision::Restart, 0).is_empty());
    assert_eq!(s.life(2), Some(Life::AwaitParent));
    // Deciding twice restarts once.
    assert_eq!(s.decision(1, 0, Decision::Restart, 0).len(), 1);
    assert!(s.decision(1, 0, Decision::Restart, 0).is_empty());
    assert_eq!(s.ignored(), 4);
}

#[test]
fn a_restart_storm_from_a_parent_is_rate_limited() {
    let mut s = granted();
    let mut restarts = 0;
    let mut held = None;
    for k in 0..(PARENT_RESTARTS_MAX as u64 + 5) {
        crash(&mut s, 2, k);
        match s.decision(1, 0, Decision::Restart, k)[..] {
            [Action::Restart { .. }] => {
                restarts += 1;
                s.restarted(2);
            }
            [Action::Hold { reason, .. }] => {
                held = Some(reason);
                break;
            }
            ref other => panic!("{other:?}"),
        }
    }
    assert_eq!(restarts, PARENT_RESTARTS_MAX);
    assert_eq!(held, Some(HoldReason::ParentRateLimit));
}

#[test]
fn a_fault_reported_twice_counts_once_and_a_stop_without_a_report_uses_the_fallback() {
    let mut s = granted();
    assert!(s.fault(4, CRASH));
    assert!(!s.fault(4, Fault { kind: FaultKind::Panic, code: 0 }));
    assert_eq!(s.last_fault(4), Some(CRASH));
    let exit = Fault { kind: FaultKind::Exit, code: 3 };
    s.stopped(4, exit, 0);
    s.restarted(4);
    s.stopped(4, exit, 0);
    assert_eq!(s.last_fault(4), Some(exit));
}

#[test]
fn a_failed_restart_holds() {
    let mut s = granted();
    crash(&mut s, 4, 0);
    assert_eq!(s.restart_failed(4, 0), [Action::Hold { pd: 4, reason: HoldReason::RestartFailed }]);
    assert!(s.restart_failed(4, 0).is_empty());
}

#[test]
fn wire_codes_round_trip_and_garbage_is_refused() {
    for k in [FaultKind::Panic, FaultKind::Crash, FaultKind::Confinement, FaultKind::Exit] {
        assert_eq!(FaultKind::from_code(u64::from(k.code())), Some(k));
    }
    for d in [Decision::Restart, Decision::Hold] {
        assert_eq!(Decision::from_code(u64::from(d.code())), Some(d));
    }
    assert_eq!(FaultKind::from_code(4), None);
    assert_eq!(Decision::from_code(0), None);
    assert_eq!(Decision::from_code(u64::MAX), None);
}

#[test]
fn pd_text_cannot_start_a_line_or_move_the_cursor() {
    let shown = |t: &str| -> String { alloc::format!("{}", Sanitized(t)) };
    assert_eq!(shown("plain text\twith a tab"), "plain text\twith a tab");
    assert_eq!(shown("ok\r[replica0] forged"), "ok\\r[replica0] forged");
    assert_eq!(shown("a\nb"), "a\\nb");
    assert_eq!(shown("\u{1b}[2K\u{1b}[1Gx"), "\\u{1b}[2K\\u{1b}[1Gx");
    assert_eq!(shown("\u{9b}31m\u{7f}é"), "\\u{9b}31m\\u{7f}é");
    assert!(!shown("\u{1b}\r\n\u{0}\u{85}").chars().any(|c| c.is_control()));
}
