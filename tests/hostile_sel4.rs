//! Hostile PDs on seL4: each system has a PD that attacks the system through the monitor (ending
//! it without authority, flooding the console, spoofing other PDs' lines, a restart storm) and a
//! PD that must go on regardless. Each test asserts on the QEMU run's output and exit status.
//!
//! Needs what tests/sel4_systems.rs needs (make, gcc, binutils, xmllint, python3 with venv, QEMU).

use rampart::sel4::qemu::BootEnd;
use rampart::sel4::system::{self, RestartPolicy, RunOptions};
use rampart::sel4::{self, Layout};
use rampart_sdf::{check_file, Backend, Board, Options};
use std::path::Path;
use std::time::Duration;

/// A bound on a run that should take seconds: a hung system fails the test instead of hanging it.
const BOOT_TIMEOUT: Duration = Duration::from_secs(90);

fn board() -> Board {
    let board = Board::named("qemu-x86_64").unwrap();
    sel4::host::require(&sel4::host::boot_tools(&board)).unwrap_or_else(|e| panic!("{e}"));
    board
}

/// Build `tests/systems/<name>` for seL4 and boot it: its output lines and how it ended.
fn boot(name: &str) -> (String, BootEnd, u8) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/systems").join(name);
    let board = board();
    let mut opts = Options::new(board.clone());
    opts.components = rampart_sdf::find_components(Path::new(env!("CARGO_MANIFEST_DIR")));
    opts.backend = Some(Backend::Sel4);
    let spec = match check_file(&file, &opts) {
        Ok(c) => c.spec,
        Err(report) => panic!("{}", report.render(false)),
    };
    let build = system::build_system_with_policy(&Layout::of_tool(), &board, &spec, &file, Default::default(), RestartPolicy::Restart)
        .unwrap_or_else(|e| panic!("{e}"));
    let run = system::boot_system(&board, &spec, &build, &RunOptions { timeout: Some(BOOT_TIMEOUT), verbose: false }, false).unwrap_or_else(|e| panic!("{e}"));
    (run.output.join("\n"), run.end, run.status)
}

#[test]
fn a_pd_without_the_exit_grant_cannot_end_the_system_and_the_system_runs_on_on_sel4() {
    let (output, end, status) = boot("sel4_hostile_exit.xml");
    // The bystander, which holds the grant, ended the system with its own status.
    assert_eq!(end, BootEnd::Exited(42), "{output}");
    assert_eq!(status, 42, "{output}");
    assert!(output.contains("[keeper] 20 rounds done"), "{output}");
    assert!(output.contains("rampart: PD `keeper` ended the system with status 42"), "{output}");
    // The exiter asked in each of its lives, was refused and stopped as a confinement fault, and
    // the restart policy then held it.
    let refused = "rampart: PD `exiter` tried to end the system (status 0) without the rampart:exit_system grant; stopping it";
    assert_eq!(output.matches(refused).count(), 6, "{output}");
    assert!(output.contains("rampart: PD `exiter` restarted (restart policy), life 6"), "{output}");
    assert!(output.contains("rampart: holding PD `exiter`: it faulted again after 5 restarts within 10000 ms"), "{output}");
    assert!(!output.contains("rampart: PD `exiter` ended the system"), "{output}");
}

#[test]
fn a_pd_that_logs_without_pause_neither_starves_its_peer_nor_floods_the_console_on_sel4() {
    let (output, end, status) = boot("sel4_hostile_flood.xml");
    assert_eq!(end, BootEnd::Exited(42), "{output}");
    assert_eq!(status, 42, "{output}");
    assert!(output.contains("[keeper] 20 rounds done"), "{output}");
    // The monitor printed some of the flood, dropped the rest and said so.
    assert!(output.contains("[flooder] flood frame 0"), "{output}");
    let dropped: Vec<u64> = output
        .lines()
        .filter_map(|l| l.strip_prefix("rampart: PD `flooder`: ")?.split_once(" log frames dropped (over its log budget")?.0.parse().ok())
        .collect();
    assert!(!dropped.is_empty() && dropped.iter().all(|&n| n > 0), "{output}");
    // Every frame is printed or counted, once: the printed and dropped frames account for the
    // frame numbers up to the last printed one, at most (the flood goes on while the system ends).
    let printed = output.lines().filter(|l| l.starts_with("[flooder] flood frame ")).count() as u64;
    let last: u64 = output.lines().filter_map(|l| l.strip_prefix("[flooder] flood frame ")?.parse().ok()).max().unwrap();
    assert!(printed + dropped.iter().sum::<u64>() > last, "printed {printed}, dropped {dropped:?}, last frame {last}");
    // The budget bounds what the flood costs the console: far fewer lines than frames, and no
    // more than the budget per window (as the monitor states it) over the run, measured on the
    // system clock, which the monitor's windows also use (the keeper's last line; one window
    // more for the partial ones at either end, one for the frames after that line).
    assert!(printed * 2 < printed + dropped.iter().sum::<u64>(), "printed {printed}, dropped {dropped:?}");
    let budget = output.lines().find_map(|l| l.split_once("(over its log budget of ")?.1.strip_suffix(" ms)")).unwrap();
    let words: Vec<&str> = budget.split(' ').collect();
    let (frames_max, window_ms): (u64, u64) = (words[0].parse().unwrap(), words.last().unwrap().parse().unwrap());
    assert_eq!(budget, format!("{frames_max} frames and 8192 bytes per {window_ms}"), "{budget}");
    let at_ms: u64 =
        output.lines().find_map(|l| l.strip_prefix("[keeper] 20 rounds done, at ")?.strip_suffix(" ms on the system clock")?.parse().ok()).unwrap();
    assert!(printed <= frames_max * (at_ms / window_ms + 3), "{printed} frames printed in {at_ms} ms at {frames_max} per {window_ms} ms");
}

#[test]
fn a_pd_cannot_pass_as_another_with_carriage_returns_or_escape_sequences_on_sel4() {
    let (output, end, status) = boot("sel4_hostile_spoof.xml");
    assert_eq!(end, BootEnd::Exited(42), "{output}");
    assert_eq!(status, 42, "{output}");
    // Its log text and its panic message show their control characters escaped, on its own line.
    assert!(output.contains("[spoofer] \\r\\u{1b}[2K[keeper] 20 rounds done"), "{output}");
    assert!(
        output.contains("rampart: PD `spoofer` panicked: ") && output.contains(" \\r\\u{1b}[1Arampart: PD `keeper` ended the system with status 7"),
        "{output}"
    );
    for line in output.lines() {
        assert!(!line.contains('\r') && !line.contains('\x1b'), "a raw control character on the console: {line:?}");
        assert!(!line.starts_with("rampart: PD `keeper` ended the system with status 7"), "{output}");
    }
    assert_eq!(output.lines().filter(|l| l.starts_with("[keeper] 20 rounds done")).count(), 1, "{output}");
}

#[test]
fn a_parent_that_restarts_a_child_without_end_is_stopped_by_the_per_parent_rate_limit_on_sel4() {
    let (output, end, status) = boot("sel4_hostile_storm.xml");
    let limit = rampart_supervision::PARENT_RESTARTS_MAX;
    // The child was restarted at its parent's request up to the limit, then held; the parent
    // went on and ended the system with the number of faults it saw: one more than the restarts.
    assert_eq!(output.matches("rampart: PD `storm_child` restarted (its parent asked)").count(), limit, "{output}");
    assert!(output.contains(&format!("rampart: PD `storm_child` restarted (its parent asked), life {}", limit + 1)), "{output}");
    assert!(
        output.contains(&format!(
            "rampart: holding PD `storm_child`: its parent `storm_parent` asked for more than {limit} restarts within 10000 ms (the per-parent restart rate limit)"
        )),
        "{output}"
    );
    assert!(output.contains(&format!("[storm_parent] no fault for a while after {} faults: the child is held", limit + 1)), "{output}");
    assert_eq!(end, BootEnd::Exited(limit as u8 + 1), "{output}");
    assert_eq!(status, limit as u8 + 1, "{output}");
}
