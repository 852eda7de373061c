//! Hostile PDs on the hosted backend: no PD code runs unconfined, `init` and constructors that
//! run before `main` included, on any thread.
//!
//! Each system (tests/systems/hostile_*.xml) runs hostile PDs (tests/components/hostile) next to
//! a bystander (tests/components/bystander). A hostile PD named `init_<attempt>` tries in its
//! `init`, one named `ctor_<attempt>` in a constructor (`.init_array`) before `main`. Every attempt
//! must fail: the PD is killed by SIGSYS and reported as a confinement violation, or the attempt
//! returns an error and the PD says `refused`; none may say `NOT REFUSED`. The bystander must keep
//! running and, restarted by the supervisor after it crashes on purpose, still run its own program.

use std::path::PathBuf;
use std::process::{Command, Output};

fn run(system: &str) -> Output {
    let ws = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    Command::new(env!("CARGO_BIN_EXE_rampart")).args(["run", "--hosted", "--timeout", "120"]).arg(system).current_dir(&ws).output().expect("run rampart")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Every hostile PD in `pds` tried and was stopped or refused; the bystander lived on, running
/// its own program after a restart, and ended the system with 0.
fn assert_contained(system: &str, pds: &[&str]) {
    let o = run(system);
    assert_output_contained(&o, pds);
    // Each PD is process 1 of its own PID namespace: it can see no other process.
    for pd in pds {
        assert!(text(&o).contains(&format!("[{pd}] hostile {pd}: trying, as process 1\n")), "`{pd}` is not alone in a PID namespace: {}", text(&o));
    }
}

fn assert_output_contained(o: &Output, pds: &[&str]) {
    let t = text(o);
    for pd in pds {
        assert!(t.contains(&format!("[{pd}] hostile {pd}: trying, as process ")), "`{pd}` never tried: {t}");
        let killed = t.contains(&format!("rampart: fault in PD `{pd}`: confinement violation: a forbidden system call (killed by SIGSYS)"));
        let refused = t.contains(&format!("[{pd}] hostile {pd}: refused: "));
        assert!(killed || refused, "`{pd}` was neither killed by SIGSYS nor refused: {t}");
    }
    assert!(!t.contains("NOT REFUSED"), "an attempt got through: {t}");
    assert!(t.contains("[bystander] bystander: life 1, running its own program"), "{t}");
    assert!(t.contains("rampart: restarting PD `bystander` from a fresh process"), "{t}");
    assert!(t.contains("[bystander] bystander: life 2, running its own program"), "{t}");
    assert!(!t.contains("the hostile program is running as"), "a PD's program was replaced: {t}");
    assert!(t.contains("rampart: PD `bystander` ended the system with status 0"), "{t}");
    assert_eq!(o.status.code(), Some(0), "{t}");
}

#[test]
fn a_hostile_pd_cannot_read_a_host_file_in_init_or_before_main() {
    assert_contained("tests/systems/hostile_read.xml", &["init_read_passwd", "ctor_read_passwd"]);
}

#[test]
fn a_hostile_pd_cannot_signal_other_processes_in_init_or_before_main() {
    assert_contained("tests/systems/hostile_kill.xml", &["init_kill_all", "ctor_kill_all", "init_kill_scan", "ctor_kill_scan"]);
}

#[test]
fn a_hostile_pd_cannot_reach_or_replace_the_program_a_restart_runs() {
    assert_contained("tests/systems/hostile_overwrite.xml", &["init_overwrite_programs", "ctor_overwrite_programs"]);
}

#[test]
fn a_thread_started_before_confinement_cannot_open_a_socket_after_init() {
    assert_contained("tests/systems/hostile_thread.xml", &["init_thread_socket", "ctor_thread_socket"]);
}

#[test]
fn where_the_host_refuses_namespaces_the_supervisor_says_so_once_and_seccomp_still_contains_pds() {
    // A user namespace (as root inside it) whose limits allow no further namespace of any kind:
    // the supervisor inside must fall back to none, say what is missing once, and still hold.
    let deny = "for n in user pid mnt net ipc uts; do echo 0 > /proc/sys/user/max_${n}_namespaces || exit 97; done; \
                exec \"$0\" run --hosted --timeout 120 tests/systems/hostile_kill.xml";
    let o = Command::new("unshare")
        .args(["--user", "--map-root-user", "--fork", "sh", "-c", deny, env!("CARGO_BIN_EXE_rampart")])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    let o = match o {
        Ok(o) if o.status.code() != Some(97) && !String::from_utf8_lossy(&o.stderr).starts_with("unshare:") => o,
        other => {
            eprintln!("skipped: this host cannot make a user namespace with limits ({other:?})");
            return;
        }
    };
    let t = text(&o);
    assert_eq!(t.matches("rampart: confinement:").count(), 1, "{t}");
    for missing in ["no user namespace", "no PID namespace", "no mount namespace", "no network namespace", "no IPC namespace", "no UTS namespace"] {
        assert!(t.contains(missing), "{missing}: {t}");
    }
    assert_output_contained(&o, &["init_kill_all", "ctor_kill_all", "init_kill_scan", "ctor_kill_scan"]);
}
