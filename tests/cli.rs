//! The `rampart` command line: exit codes, diagnostics, formats, help.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn rampart(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart")).args(args).current_dir(dir).env_remove("NO_COLOR").output().expect("run rampart")
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

const BAD: &str = r#"<?xml version="1.0"?>
<system>
    <protection_domain name="a" priority="300">
        <program_image path="a.elf" />
    </protection_domain>
</system>
"#;

#[test]
fn check_accepts_the_default_system_with_a_one_line_summary() {
    let out = rampart(&["check"], &workspace());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.starts_with("ok: system.xml is a valid system for qemu-x86_64"), "{stdout}");
    assert!(stdout.contains("8 protection domain(s)"), "{stdout}");
}

#[test]
fn check_rejects_an_invalid_file_with_a_located_diagnostic_and_status_1() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.xml", BAD);
    let out = rampart(&["check", "bad.xml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("error: priority 300 is out of range"), "{err}");
    assert!(err.contains("--> bad.xml:3:43"), "{err}");
    assert!(err.contains(r#"3 |     <protection_domain name="a" priority="300">"#), "{err}");
    assert!(err.contains("= help: priority is the scheduling priority: an integer from 0 to 254"), "{err}");
    assert!(err.contains("bad.xml is not a valid system: 1 error"), "{err}");
    assert!(!err.contains('\x1b'), "no colours when stderr is not a terminal: {err}");
    assert!(text(&out.stdout).is_empty());
}

#[test]
fn colours_are_used_only_when_asked_or_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "bad.xml", BAD);
    let out = rampart(&["--color", "always", "check", "bad.xml"], dir.path());
    assert!(text(&out.stderr).contains("\x1b[1;31merror\x1b[0m"));
    let out = rampart(&["--color", "never", "check", "bad.xml"], dir.path());
    assert!(!text(&out.stderr).contains('\x1b'));
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = rampart(&["check", "nope.xml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read nope.xml"), "{}", text(&out.stderr));
}

#[test]
fn usage_errors_exit_with_status_2() {
    let ws = workspace();
    let out = rampart(&["check", "--board", "pdp11"], &ws);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown board 'pdp11': the boards are"), "{}", text(&out.stderr));
    assert_eq!(rampart(&["check", "--frobnicate"], &ws).status.code(), Some(2));
    assert_eq!(rampart(&["frobnicate"], &ws).status.code(), Some(2));
}

#[test]
fn every_command_has_help() {
    let ws = workspace();
    for args in [&["--help"][..], &["check", "--help"], &["describe", "--help"], &["boards", "--help"], &["setup", "--help"], &["help"]] {
        let out = rampart(args, &ws);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(text(&out.stdout).contains("Usage: rampart"), "{args:?}: {}", text(&out.stdout));
    }
    let out = rampart(&["--version"], &ws);
    assert!(text(&out.stdout).starts_with("rampart "));
}

#[test]
fn describe_prints_pds_regions_and_the_channel_graph() {
    let out = rampart(&["describe", "tests/systems/pingpong.xml"], &workspace());
    assert_eq!(out.status.code(), Some(0));
    let t = text(&out.stdout);
    assert!(t.contains("tests/systems/pingpong.xml: 2 protection domains, 1 memory region, 2 channels on board qemu-x86_64"), "{t}");
    let ping = t.lines().find(|l| l.starts_with("ping ")).expect("a row for ping");
    assert!(ping.contains("10") && ping.contains("ping (component)") && ping.contains("buffer @ 0x4000000 rw"), "{ping}");
    assert!(t.contains("1: pong (call)"), "{t}");
    assert!(t.contains("1: ping (called)"), "{t}");
    assert!(t.contains("ping:0 <-> pong:0"), "{t}");
    assert!(t.contains("ping => pong"), "{t}");
}

#[test]
fn describe_as_dot_is_a_graphviz_digraph_with_calls_and_notifications() {
    let out = rampart(&["describe", "--format", "dot", "tests/systems/pingpong.xml"], &workspace());
    let t = text(&out.stdout);
    assert!(t.starts_with("digraph system {") && t.trim_end().ends_with('}'), "{t}");
    assert!(t.contains(r#""ping" -> "pong" [dir=both, style=dashed, label="notify 0:0"];"#), "{t}");
    assert!(t.contains(r#""ping" -> "pong" [style=bold, label="call 1:1"];"#), "{t}");
    assert!(t.contains(r#""pong" -> "mr:buffer" [arrowhead=none, color=grey40, label="r"];"#), "{t}");
}

#[test]
fn describe_as_json_carries_the_compiled_spec_and_its_digest() {
    let out = rampart(&["describe", "--format", "json"], &workspace());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["spec"]["board"], "qemu-x86_64");
    assert_eq!(v["spec"]["pds"][0]["name"], "supervisor");
    let usig0 = v["spec"]["pds"].as_array().unwrap().iter().find(|p| p["name"] == "usig0").expect("usig0");
    assert_eq!(usig0["channels"][0]["peer_may_call"], true, "replica0 calls usig0");
    assert_eq!(v["spec_sha256"].as_str().unwrap().len(), 64);
    let embedded = rampart_spec::decode(rampart::DEFAULT_SYSTEM_SPEC).unwrap();
    let digest: String = embedded.digest().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(v["spec_sha256"], digest.as_str(), "the tool embeds the same default system");
}

#[test]
fn check_for_a_backend_reports_what_it_cannot_honour() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "mcs.xml",
        r#"<system>
    <protection_domain name="a" budget="100" period="1000">
        <program_image path="a.elf" />
    </protection_domain>
</system>"#,
    );
    assert_eq!(rampart(&["check", "mcs.xml"], dir.path()).status.code(), Some(0));
    let out = rampart(&["check", "--backend", "sel4", "mcs.xml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("the sel4 backend cannot honour `budget`: budgets and periods need an MCS kernel"), "{err}");
    assert!(err.contains("--> mcs.xml:2:41"), "{err}");
}

#[test]
fn the_board_decides_what_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "arm.xml",
        r#"<system>
    <protection_domain name="uart">
        <program_image path="uart.elf" />
        <irq irq="58" id="0" />
    </protection_domain>
</system>"#,
    );
    assert_eq!(rampart(&["check", "--board", "qemu-sabrelite", "arm.xml"], dir.path()).status.code(), Some(0));
    let out = rampart(&["check", "arm.xml"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("this is the ARM form of <irq>, but the board is x86_64"));
}

#[test]
fn boards_lists_the_default_and_what_sel4_can_do_with_each() {
    let out = rampart(&["boards"], &workspace());
    let t = text(&out.stdout);
    assert!(t.lines().any(|l| l.starts_with("qemu-x86_64") && l.contains("build, boot") && l.ends_with("(default)")), "{t}");
    assert!(t.lines().any(|l| l.starts_with("qemu-sabrelite") && l.contains("check only")), "{t}");
}

/// A directory of stand-ins for every program `rampart setup` looks for, except `hidden`; a
/// stand-in `python3` imports anything. Used as the whole `PATH`, so nothing can be installed
/// (there is no apt-get on it) and the test never depends on what this machine has.
fn path_without(hidden: &[&str]) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    for program in ["make", "gcc", "cpp", "ld", "objcopy", "strip", "xmllint", "python3", "qemu-system-x86_64"] {
        if !hidden.contains(&program) {
            let p = write(dir.path(), program, "#!/bin/sh\nexit 0\n");
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    dir
}

fn rampart_with_path(args: &[&str], path: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart")).args(args).current_dir(workspace()).env("PATH", path).output().expect("run rampart")
}

/// `sudo ` unless the tests run as root, as the one-line message says it.
fn sudo() -> &'static str {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        ""
    } else {
        "sudo "
    }
}

#[test]
fn setup_check_names_exactly_the_missing_tools_and_their_packages_in_one_line() {
    let path = path_without(&["qemu-system-x86_64", "xmllint"]);
    let out = rampart_with_path(&["setup", "--check", "--tests"], path.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), format!("missing: xmllint, qemu-system-x86_64: run '{}apt-get install libxml2-utils qemu-system-x86'\n", sudo()));
    assert_eq!(text(&out.stdout), "");

    let all = path_without(&[]);
    let out = rampart_with_path(&["setup", "--check", "--tests"], all.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "ok: this host has what the tests on qemu-x86_64 need\n");
}

#[test]
fn setup_check_on_a_bare_path_names_every_tool_python_module_and_package() {
    let empty = tempfile::tempdir().unwrap();
    let out = rampart_with_path(&["setup", "--check", "--tests"], empty.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stderr),
        format!(
            "missing: make, gcc, cpp, ld, objcopy, strip, xmllint, python3, python3 -m venv, qemu-system-x86_64, python3 -m pip: run '{}apt-get install make gcc cpp binutils libxml2-utils python3 python3-venv qemu-system-x86 python3-pip'\n",
            sudo()
        )
    );
}

#[test]
fn an_sel4_build_that_cannot_install_its_tools_stops_first_with_the_same_line() {
    // No apt-get on this PATH: the build cannot install, so it names the tools and exits 2
    // before building anything.
    let path = path_without(&["xmllint"]);
    let out = rampart_with_path(&["build"], path.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), format!("error: missing: xmllint: run '{}apt-get install libxml2-utils'\n", sudo()));
    assert_eq!(text(&out.stdout), "");
}
