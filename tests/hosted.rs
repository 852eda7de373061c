//! Systems run end to end on the hosted backend: real processes, real shared memory, real
//! confinement. Each system judges itself and ends with an exit status (0: as expected); the
//! tests also check what the supervisor reported.
//!
//! Components are built in release mode into target/hosted, once per system (their bindings
//! depend on it); the builds share one cargo lock, so the tests take turns.

use std::path::PathBuf;
use std::process::{Command, Output};

fn run(system: &str, extra: &[&str]) -> Output {
    let ws = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["run", "--hosted", "--timeout", "120"])
        .args(extra)
        .arg(system)
        .current_dir(&ws)
        .output()
        .expect("run rampart")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn the_default_system_is_a_minbft_cluster_that_answers_3000_checked_operations() {
    // system.xml: three replicas, three USIGs, a client PD with 16 clients checking every result
    // against a model of their keys, and the supervisor.
    let o = run("system.xml", &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    for i in 0..3 {
        assert!(t.contains(&format!("[usig{i}] USIG {i} up in epoch ")), "{t}");
        assert!(t.contains(&format!("[replica{i}] replica {i} of 3 starting")), "{t}");
    }
    // f+1 = 2 matching replies complete a request, so one replica may still be catching up
    // when the client ends the system.
    let caught_up = (0..3).filter(|i| t.contains(&format!("[replica{i}] replica {i}: 3000 requests executed"))).count();
    assert!(caught_up >= 2, "{t}");
    assert!(t.contains("[client0] 3000 checked key-value operations by 16 clients, every result checked: "), "{t}");
    assert!(t.contains("rampart: PD `client0` ended the system with status 0"), "{t}");
}

#[test]
fn the_ping_pong_plays_every_round_over_notifications_a_call_and_a_shared_region() {
    let o = run("tests/systems/pingpong.xml", &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("[ping] 1000 rounds played, every answer matched"), "{t}");
    assert!(t.contains("rampart: all 2 PDs initialised"), "{t}");
}

#[test]
fn a_protected_call_carries_arguments_and_a_reply() {
    let o = run("tests/systems/calc.xml", &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    for line in ["ok: sum of 64 words", "ok: sum of no words", "ok: reverse of 3 words", "ok: unknown label refused"] {
        assert!(t.contains(&format!("[calc_client] {line}")), "{line}: {t}");
    }
}

#[test]
fn a_parent_restarts_its_crashing_child_with_fresh_private_memory() {
    let o = run("tests/systems/restart.xml", &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("rampart: fault in PD `crasher`: panicked"), "{t}");
    assert!(t.contains("crashing on purpose in life 2"), "{t}");
    assert_eq!(t.matches("restarting PD `crasher` (its parent `nursery` asked)").count(), 2, "{t}");
    assert!(t.contains("[nursery] child is up after 2 faults, in life 3"), "{t}");
    assert!(!t.contains("private memory survived a restart"), "{t}");
}

#[test]
fn intruders_are_stopped_and_reported_while_the_rest_keeps_running() {
    let o = run("tests/systems/isolation.xml", &["--restart", "hold"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    for (pd, report) in [
        ("notify_intruder", "capability violation: PD `notify_intruder` tried to notify channel 0, which it may not notify"),
        ("call_intruder", "capability violation: PD `call_intruder` tried a protected procedure call on channel 9, which it may not call"),
        ("write_intruder", "memory fault at 0x4000000 (SIGSEGV)"),
        ("open_intruder", "confinement violation: a forbidden system call (killed by SIGSYS)"),
        ("socket_intruder", "confinement violation: a forbidden system call (killed by SIGSYS)"),
    ] {
        assert!(t.contains(&format!("rampart: fault in PD `{pd}`: {report}")), "{pd}: {t}");
        assert!(!t.contains(&format!("{pd}: the attempt was not stopped")), "{pd}: {t}");
    }
    assert!(t.contains("[warden] all five intruders stopped; the warden kept running"), "{t}");
}

#[test]
fn a_top_level_pd_that_faults_is_restarted_by_the_supervisor_policy() {
    // The crasher as a top-level PD (no parent): the supervisor's policy restarts it.
    let ws = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let alone = r#"<system xmlns:rampart="urn:rampart:sdf:1">
    <memory_region name="lives" size="0x1000" />
    <protection_domain name="crasher" priority="20">
        <program_image path="crasher.elf" />
        <map mr="lives" vaddr="0x5000000" perms="rw" />
    </protection_domain>
    <protection_domain name="nursery" priority="50" rampart:exit_system="true">
        <program_image path="nursery.elf" />
        <map mr="lives" vaddr="0x5000000" perms="r" />
    </protection_domain>
    <channel>
        <end pd="crasher" id="0" setvar_id="parent" />
        <end pd="nursery" id="0" setvar_id="child" />
    </channel>
</system>
"#;
    // Inside the workspace (under target/), so that its components are found.
    let dir = ws.join("target/test-systems");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("restart-toplevel.xml");
    std::fs::write(&file, alone).unwrap();
    let o = run(file.to_str().unwrap(), &[]);
    let t = text(&o);
    // Lives 1 and 2 panic and are restarted by the supervisor's policy; life 3 reports in, and
    // the nursery (not the crasher's parent here, so it saw no faults) ends the system with 1.
    assert_eq!(t.matches("restarting PD `crasher` from a fresh process").count(), 2, "{t}");
    assert!(t.contains("[nursery] child is up after 0 faults, in life 3"), "{t}");
    assert_eq!(o.status.code(), Some(1), "{t}");
}

/// Write a system file inside the workspace (under target/), so that its components are found.
fn generated_system(name: &str, xml: &str) -> String {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-systems");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(name);
    std::fs::write(&file, xml).unwrap();
    file.to_str().unwrap().to_string()
}

#[test]
fn a_pd_that_faults_in_every_life_is_held_after_the_restart_limit() {
    let file = generated_system(
        "always-faulting.xml",
        r#"<system xmlns:rampart="urn:rampart:sdf:1">
    <protection_domain name="open_intruder" priority="10">
        <program_image path="intruder.elf" />
    </protection_domain>
</system>
"#,
    );
    let o = run(&file, &[]);
    let t = text(&o);
    assert_eq!(t.matches("restarting PD `open_intruder` from a fresh process").count(), 5, "{t}");
    assert!(t.contains("holding PD `open_intruder`: it faulted 5 times within 10000 ms"), "{t}");
    assert!(t.contains("rampart: every PD has stopped"), "{t}");
    assert_eq!(o.status.code(), Some(1), "{t}");
}

#[test]
fn ctrl_c_stops_every_pd_and_leaves_no_process_behind() {
    use std::io::{BufRead, BufReader};
    let file = generated_system(
        "idle.xml",
        r#"<system xmlns:rampart="urn:rampart:sdf:1">
    <protection_domain name="calc" priority="100">
        <program_image path="calc.elf" />
    </protection_domain>
    <protection_domain name="calc_client" priority="10">
        <program_image path="calc.elf" />
    </protection_domain>
    <channel>
        <end pd="calc_client" id="5" setvar_id="client" />
        <end pd="calc" id="5" setvar_id="client" />
    </channel>
</system>
"#,
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["run", "--hosted", "--verbose", "--timeout", "120", &file])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut pids = Vec::new();
    let mut reader = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap() > 0 {
        if let Some(rest) = line.split("(pid ").nth(1) {
            pids.push(rest.trim_end().trim_end_matches(')').parse::<i32>().unwrap());
        }
        if line.contains("all 2 PDs initialised") {
            break;
        }
        line.clear();
    }
    assert_eq!(pids.len(), 2, "{line}");
    // SAFETY: sends SIGINT to the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut reader, &mut rest);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{rest}");
    assert!(rest.contains("SIGINT: stopping the system"), "{rest}");
    for pid in pids {
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "PD process {pid} outlived the supervisor");
    }
}

#[test]
fn alarms_arrive_and_never_early() {
    let o = run("tests/systems/timer.xml", &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("[ticker] 5 alarms arrived, none early"), "{t}");
}

#[test]
fn calls_to_a_faulted_or_held_pd_fail_instead_of_hanging() {
    let o = run("tests/systems/dead_callee.xml", &["--restart", "hold"]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("does not handle calls (implement Handler::protected)"), "{t}");
    assert!(t.contains("[caller] call 1 failed, as it should"), "{t}");
    assert!(t.contains("[caller] call 2 failed, as it should"), "{t}");
}

#[test]
fn a_producer_and_a_consumer_move_100000_messages_over_a_shared_ring_with_back_pressure() {
    let o = run("tests/systems/ring.xml", &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("[ring_consumer] received all 100000 messages in order, intact"), "{t}");
    let full = t.split("the ring was full ").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse::<u64>().ok());
    // Whether the producer finished before the consumer ended the run is a race; when it did,
    // the ring must have been full at least once (100,000 messages do not fit in 64 KiB).
    if let Some(n) = full {
        assert!(n > 0, "{t}");
    }
}

#[test]
fn a_pd_with_a_heap_allocates_and_frees_and_draws_fresh_randomness() {
    // tests/systems/heap.xml: 16 rounds that together allocate several times the 1 MiB heap
    // (so freed memory is reused), then 32 random bytes twice.
    let o = run("tests/systems/heap.xml", &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("[heap_user] 16 rounds through a 1024 KiB heap; entropy ok"), "{t}");
}

#[test]
fn usig_pds_certify_with_increasing_counters_verify_each_other_and_refuse_tampering() {
    // tests/systems/usig.xml: the checks are in tests/components/usig_client; the timing it logs
    // afterwards is not judged here.
    let o = run("tests/systems/usig.xml", &[]);
    let t = text(&o);
    assert_eq!(o.status.code(), Some(0), "{t}");
    assert!(t.contains("[usig0] USIG 0 up in epoch "), "{t}");
    assert!(t.contains("[usig1] USIG 1 up in epoch "), "{t}");
    assert!(t.contains("[usig_client] USIG checks passed: announcements, counters 1..3, verification, 5 kinds of tampering, malformed requests"), "{t}");
    assert!(t.contains("[usig_client] bench HMAC-SHA256 create_ui: "), "{t}");
}

/// Run system.xml with 20,000 operations (RAMPART_CLIENT_OPS, read when the client is built: each
/// run builds its components under a lock and runs a copy of them, so a concurrent run with the
/// default 3,000 cannot swap the client under it), SIGKILL the PD whose argv0 is `victim` once
/// 2,000 are done, and return everything the run printed and its exit status.
fn kill_mid_run(victim: &str) -> (String, Option<i32>) {
    kill_mid_run_in("system.xml", 20_000, &[victim])
}

/// As [`kill_mid_run`], for any system file, operation count (per client PD) and victims (all
/// killed at once when client PD 0 has done 2,000).
fn kill_mid_run_in(system: &str, ops: u64, victims: &[&str]) -> (String, Option<i32>) {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    use std::sync::mpsc;
    let mut child = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["run", "--hosted", "--timeout", "120", system])
        .env("RAMPART_CLIENT_OPS", ops.to_string())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rampart");
    let (tx, lines) = mpsc::channel::<String>();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    let readers = [
        std::thread::spawn({
            let tx = tx.clone();
            move || BufReader::new(out).lines().map_while(Result::ok).for_each(|l| drop(tx.send(l)))
        }),
        std::thread::spawn(move || BufReader::new(err).lines().map_while(Result::ok).for_each(|l| drop(tx.send(l)))),
    ];
    let mut text = String::new();
    let mut killed = false;
    for line in lines.iter() {
        text.push_str(&line);
        text.push('\n');
        if !killed && line.contains("[client0] 2000 operations done") {
            for victim in victims {
                let pid = descendant_by_argv0(child.id(), victim).unwrap_or_else(|| panic!("no PD process `{victim}`: {text}"));
                // SAFETY: sends SIGKILL to a PD process of the system this test started.
                assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0, "kill {victim}");
            }
            killed = true;
        }
    }
    for r in readers {
        r.join().unwrap();
    }
    let status = child.wait().unwrap();
    assert!(killed, "the client never reported 2000 operations: {text}");
    (text, status.code())
}

/// The process among `root`'s descendants whose argv0 is `name` (the hosted runtime names each PD
/// process after its PD).
fn descendant_by_argv0(root: u32, name: &str) -> Option<i32> {
    let parent_of = |pid: i32| -> Option<i32> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
        stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()
    };
    std::fs::read_dir("/proc").ok()?.flatten().filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok()).find(|&pid| {
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { return false };
        if cmdline.split(|b| *b == 0).next() != Some(name.as_bytes()) {
            return false;
        }
        let mut p = pid;
        for _ in 0..64 {
            match parent_of(p) {
                Some(pp) if pp == root as i32 => return true,
                Some(pp) if pp > 1 => p = pp,
                _ => return false,
            }
        }
        false
    })
}

/// What every kill run of system.xml must show: the system was told of the fault, restarted the
/// PD, and the client checked all 20,000 results and ended the system with 0.
fn assert_survived(victim: &str, t: &str, code: Option<i32>) {
    assert_all_survived(&[victim], 20_000, 1, t, code);
}

/// As [`assert_survived`], for several victims and `client_pds` client PDs of `ops` operations.
fn assert_all_survived(victims: &[&str], ops: u64, client_pds: usize, t: &str, code: Option<i32>) {
    for victim in victims {
        assert!(t.contains(&format!("rampart: fault in PD `{victim}`: killed by SIGKILL")), "{t}");
        assert!(t.contains(&format!("rampart: restarting PD `{victim}` (its parent `supervisor` asked)")), "{t}");
    }
    for p in 0..client_pds {
        assert!(t.contains(&format!("[client{p}] {ops} checked key-value operations by 16 clients, every result checked: ")), "{t}");
    }
    assert!(t.contains("rampart: PD `client0` ended the system with status 0"), "{t}");
    assert_eq!(code, Some(0), "{t}");
}

#[test]
fn the_cluster_finishes_every_checked_operation_when_its_primary_is_killed_mid_run() {
    let (t, code) = kill_mid_run("replica0");
    assert_survived("replica0", &t, code);
    assert!(t.contains("[replica0] replica 0 of 3 starting (recovering: a restarted life)"), "{t}");
    // The others moved on without it: a view change away from the dead primary.
    assert!(t.contains("[replica1] replica 1: entered view 1"), "{t}");
}

#[test]
fn the_cluster_finishes_every_checked_operation_when_a_backup_is_killed_mid_run() {
    let (t, code) = kill_mid_run("replica2");
    assert_survived("replica2", &t, code);
    assert!(t.contains("[replica2] replica 2 of 3 starting (recovering: a restarted life)"), "{t}");
}

#[test]
fn a_replica_announces_its_usigs_new_epoch_when_the_usig_is_killed_mid_run() {
    let (t, code) = kill_mid_run("usig1");
    assert_survived("usig1", &t, code);
    let epochs: Vec<&str> = t.lines().filter_map(|l| l.strip_prefix("[usig1] USIG 1 up in epoch ")).collect();
    assert_eq!(epochs.len(), 2, "{t}");
    assert!(epochs[1].parse::<u64>().unwrap() > epochs[0].parse::<u64>().unwrap(), "{t}");
    // The replica kept its life and noticed the new epoch (and announced it to its peers).
    assert!(!t.contains("restarting PD `replica1`"), "{t}");
    assert!(t.contains(&format!("[replica1] replica 1: USIG epoch {}", epochs[1])), "{t}");
}

/// A 5-replica cluster (f = 2) with 2 client PDs, generated by `rampart cluster`, loses its
/// primary and a backup at the same moment: both are restarted, catch up, and every operation of
/// both client PDs is checked; client PD 0 ends the system only when client PD 1 is done too.
#[test]
fn a_five_replica_cluster_with_two_client_pds_survives_two_replicas_killed_at_once() {
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-systems/cluster-5-2.xml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_rampart")).args(["cluster", "--replicas", "5", "--client-pds", "2", "-o"]).arg(&file).output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let victims = ["replica0", "replica3"];
    let (t, code) = kill_mid_run_in(file.to_str().unwrap(), 10_000, &victims);
    assert_all_survived(&victims, 10_000, 2, &t, code);
    assert!(t.contains("[replica3] replica 3 of 5 starting (recovering: a restarted life)"), "{t}");
    assert!(t.contains("[client0] all 2 client PDs are done"), "{t}");
}

#[test]
fn rampart_cluster_refuses_an_even_replica_count_with_the_reason() {
    let o = Command::new(env!("CARGO_BIN_EXE_rampart")).args(["cluster", "--replicas", "4"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    let t = text(&o);
    assert!(t.contains("error: 4 replicas: a MinBFT cluster has n = 2f + 1 replicas, an odd number"), "{t}");
}
