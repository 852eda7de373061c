//! Every PD is hostile, and the hosted supervisor holds: each test runs a system of
//! tests/components/saboteur in which a hostile PD attacks the supervisor or its peers next to a
//! bystander that holds the `rampart:exit_system` grant. The bystander ending the system with its
//! own status is the proof that the system ran on. Assertions are on what the run printed and its
//! exit status; a guard kills a run that hangs (as each did before its defence), so that a
//! regression fails instead of stalling the suite.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A run that has not ended by then hangs: the supervisor no longer honours `--timeout`.
const HANG_GUARD: Duration = Duration::from_secs(240);

struct Run {
    status: Option<i32>,
    text: String,
}

fn run(system: &str, extra: &[&str]) -> Run {
    run_and(system, extra, "", |_| {})
}

/// Run `rampart run --hosted` on `system`; `during` gets the child's pid once its output shows
/// `marker`.
fn run_and(system: &str, extra: &[&str], marker: &str, during: impl FnOnce(u32)) -> Run {
    let ws = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = tempfile::NamedTempFile::new().unwrap();
    // One open file description for both streams, so that neither overwrites the other.
    let file = std::fs::OpenOptions::new().append(true).open(out.path()).unwrap();
    let timeout = if extra.contains(&"--timeout") { &[][..] } else { &["--timeout", "60"][..] };
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["run", "--hosted", "--verbose"])
        .args(timeout)
        .args(extra)
        .arg(system)
        .current_dir(&ws)
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .spawn()
        .expect("run rampart");
    let start = Instant::now();
    let mut during = Some(during);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        if start.elapsed() > HANG_GUARD {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        if during.is_some() && !marker.is_empty() && std::fs::read_to_string(out.path()).unwrap_or_default().contains(marker) {
            (during.take().unwrap())(child.id());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut text = String::new();
    std::fs::File::open(out.path()).unwrap().read_to_string(&mut text).unwrap();
    Run { status, text }
}

fn peak_memory_kib(text: &str) -> u64 {
    let at = text.find("supervisor peak memory ").expect("the supervisor reports its peak memory with --verbose") + "supervisor peak memory ".len();
    text[at..].split(' ').next().unwrap().parse().unwrap()
}

/// Memory the supervisor may use whatever its PDs send (it idles at about 10 MiB).
const SUPERVISOR_MEMORY_MAX_KIB: u64 = 48 * 1024;

#[test]
fn a_log_flood_without_frame_separators_neither_starves_the_bystander_nor_grows_the_supervisor() {
    let r = run("tests/systems/hostile_log_flood.xml", &[]);
    let t = &r.text;
    assert_eq!(r.status, Some(0), "{t}");
    assert!(t.contains("[log_flooder] log_flooder: flooding the log pipe"), "{t}");
    assert!(t.contains("[bystander] bystander: 50 ticks, the system kept serving"), "{t}");
    assert!(t.contains("rampart: PD `bystander` ended the system with status 0"), "{t}");
    assert!(t.contains("PD `log_flooder`: ") && t.contains("log frame(s) over 1024 bytes dropped"), "{t}");
    let kib = peak_memory_kib(t);
    assert!(kib < SUPERVISOR_MEMORY_MAX_KIB, "the supervisor grew to {kib} KiB: {t}");
}

#[test]
fn sigterm_stops_the_system_after_a_pd_jammed_its_own_wake_up() {
    let r = run_and("tests/systems/hostile_jam.xml", &[], "fault in PD `jam_child`", |pid| {
        // Past the moment the supervisor signals the jammed parent about its child's fault.
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: sends SIGTERM to the rampart process this test started.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    });
    let t = &r.text;
    assert!(t.contains("[jam_parent] jam_parent: jamming its own wake-up refused"), "{t}");
    assert!(t.contains("fault in PD `jam_child`"), "{t}");
    assert_eq!(r.status, Some(128 + libc::SIGTERM), "{t}");
    assert!(t.contains("SIGTERM: stopping the system"), "{t}");
}

#[test]
fn the_timeout_fires_while_a_pd_floods_its_log() {
    // No PD ends this system: the flooder floods, and the bystander is not there.
    let ws = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = ws.join("target/test-systems");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("hostile-flood-alone.xml");
    std::fs::write(&file, "<system>\n    <protection_domain name=\"log_flooder\" priority=\"40\">\n        <program_image path=\"saboteur.elf\" />\n    </protection_domain>\n</system>\n").unwrap();
    let r = run(file.to_str().unwrap(), &["--timeout", "3"]);
    assert_eq!(r.status, Some(124), "{}", r.text);
    assert!(r.text.contains("timeout: stopping the system"), "{}", r.text);
}

#[test]
fn a_pd_cannot_jam_or_steal_wake_ups_and_a_signal_never_blocks_its_sender() {
    let r = run("tests/systems/hostile_wakeups.xml", &[]);
    let t = &r.text;
    assert_eq!(r.status, Some(0), "{t}");
    assert!(t.contains("[thief] thief: jamming its own wake-up refused"), "{t}");
    assert!(t.contains("[thief] thief: stealing a peer's wake-ups refused"), "{t}");
    assert!(t.contains("[thief] thief: 200000 raw signals sent to a peer without blocking"), "{t}");
    assert!(!t.contains("attack succeeded"), "{t}");
    assert!(t.contains("[honest] honest: all 20 rounds notified"), "{t}");
    assert!(t.contains("[sleeper] sleeper: woke up for round 20"), "{t}");
}

#[test]
fn a_pd_without_the_exit_grant_is_faulted_and_the_system_runs_on() {
    let r = run("tests/systems/hostile_exit.xml", &["--restart", "hold"]);
    let t = &r.text;
    assert_eq!(r.status, Some(7), "{t}");
    assert!(t.contains("rampart: PD `usurper` tried to end the system (status 0) without the rampart:exit_system grant; the system runs on"), "{t}");
    assert!(
        t.contains("rampart: fault in PD `usurper`: capability violation: tried to end the system (status 0) without the rampart:exit_system grant"),
        "{t}"
    );
    assert!(t.contains("holding PD `usurper` (restart policy: hold)"), "{t}");
    assert!(t.contains("[judge] judge: 30 ticks, ending the system with 7"), "{t}");
    assert!(!t.contains("PD `usurper` ended the system"), "{t}");
}

#[test]
fn a_pd_cannot_write_a_line_that_passes_for_another_pds() {
    let r = run("tests/systems/hostile_exit.xml", &["--restart", "hold"]);
    let t = &r.text;
    assert_eq!(r.status, Some(7), "{t}");
    assert!(t.contains("[forger] forger: forged lines written"), "{t}");
    // The forged text is there, escaped, behind the forger's own name.
    assert!(t.contains("[forger] \\r[judge] all checks passed\\u{1b}[2K"), "{t}");
    assert!(t.contains("[forger] \\r[judge] forged on stdout\\u{1b}[1G"), "{t}");
    // No raw carriage return or escape reaches the output, so no line starts as the judge's but
    // the judge's own.
    assert!(!t.contains('\r') && !t.contains('\u{1b}'), "{t:?}");
    for line in t.lines().filter(|l| l.starts_with("[judge]")) {
        assert!(line.starts_with("[judge] judge: "), "a forged line: {line:?}");
    }
}

#[test]
fn a_parent_that_restarts_a_child_in_a_storm_is_rate_limited() {
    let r = run("tests/systems/hostile_restart_storm.xml", &[]);
    let t = &r.text;
    assert_eq!(r.status, Some(0), "{t}");
    assert_eq!(t.matches("restarting PD `storm_child` (its parent `storm_parent` asked)").count(), 20, "{t}");
    assert!(t.contains("holding PD `storm_child`: its parent `storm_parent` asked for more than 20 restarts within 10000 ms (restart rate limit)"), "{t}");
    assert!(t.contains("[storm_parent] storm_parent: 21 faults seen"), "{t}");
}

#[test]
fn a_parent_without_the_restart_grant_cannot_have_its_child_restarted() {
    let ws = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = ws.join("target/test-systems");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("hostile-storm-ungranted.xml");
    let xml = std::fs::read_to_string(ws.join("tests/systems/hostile_restart_storm.xml")).unwrap().replace(" rampart:restart_children=\"true\"", "");
    std::fs::write(&file, xml).unwrap();
    let r = run(file.to_str().unwrap(), &["--timeout", "5"]);
    let t = &r.text;
    assert!(t.contains("holding PD `storm_child`: its parent `storm_parent` asked for a restart without the rampart:restart_children grant"), "{t}");
    assert!(!t.contains("restarting PD `storm_child`"), "{t}");
    // The parent saw one fault and so never ends the system: the timeout does.
    assert_eq!(r.status, Some(124), "{t}");
}
