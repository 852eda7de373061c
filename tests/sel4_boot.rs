//! The seL4 backend's foundation, end to end: the seL4 5.0.0 kernel built from source and the
//! Rust root task boot under QEMU (TCG); the root task reports the boot information, holds an
//! I/O port capability narrowed to QEMU's exit port that the kernel refuses to use for any other
//! port, and ends QEMU with its status through it.
//!
//! Needs make, gcc, binutils, xmllint (libxml2-utils), python3 with venv and pip (PyPI reachable
//! the first time) and qemu-system-x86_64 (qemu-system-x86); `cargo xtask test` installs them
//! (`rampart setup --tests`). A missing tool fails these tests with the one line that names the
//! packages (`missing: xmllint: run 'apt-get install libxml2-utils'`): nothing is skipped.
//! The builds share `target/sel4` (behind a lock) with `rampart build`.

use rampart::sel4::qemu::{BootEnd, BootOptions};
use rampart::sel4::{self, Layout, ROOT_TASK_BANNER};
use rampart_sdf::Board;
use std::process::Command;
use std::time::{Duration, Instant};

/// Generous for a loaded CI machine: a boot takes about half a second under TCG here.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

fn rampart() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
}

#[test]
fn the_root_task_boots_reports_bootinfo_and_exits_through_its_narrowed_io_port() {
    let board = Board::named("qemu-x86_64").unwrap();
    sel4::host::require(&sel4::host::boot_tools(&board)).unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let images = sel4::build_images(&Layout::of_tool(), &board, Default::default()).unwrap_or_else(|e| panic!("{e}"));
    let build_time = started.elapsed();
    assert!(images.kernel.is_file() && images.root_task.is_file());

    let boot = sel4::qemu::boot(&board, &images, BootOptions { timeout: BOOT_TIMEOUT, echo: false }).unwrap_or_else(|e| panic!("{e}"));
    let console = &boot.console;
    assert_eq!(boot.end, BootEnd::Exited(0), "console:\n{console}\nQEMU stderr:\n{}", boot.qemu_stderr);
    // The kernel booted and started the root task, which printed through SysDebugPutChar.
    assert!(console.contains("Booting all finished, dropped to user space"), "{console}");
    assert!(console.contains(&format!("{ROOT_TASK_BANNER}\n")), "{console}");
    // Facts from the boot information: there is untyped memory, and the empty slots are a range.
    let facts = console.lines().find(|l| l.starts_with("rampart: bootinfo: ")).unwrap_or_else(|| panic!("no bootinfo line:\n{console}"));
    let untyped: u64 = facts["rampart: bootinfo: ".len()..].split(' ').next().unwrap().parse().unwrap();
    assert!(untyped > 0, "{facts}");
    assert!(facts.contains("empty slots ") && facts.contains("1 node(s)"), "{facts}");
    // The capability it minted covers port 0xf4 and nothing else: the kernel refused port 0x80.
    assert!(console.contains("rampart: minted an I/O port capability for port 0xf4 only"), "{console}");
    assert!(console.contains("fall outside permitted range 244--244"), "{console}");
    assert!(console.contains("rampart: port 0x80 refused through it, as it must be"), "{console}");
    let up = boot.root_task_up_after.expect("the banner was seen");
    assert!(up <= boot.elapsed);
    eprintln!(
        "build {:.1} s (kernel {}), boot {:.2} s, root task up after {:.2} s; kernel32.elf {} bytes, rootserver.elf {} bytes",
        build_time.as_secs_f64(),
        images.kernel_build_time.map_or("up to date".to_string(), |t| format!("built in {:.1} s", t.as_secs_f64())),
        boot.elapsed.as_secs_f64(),
        up.as_secs_f64(),
        std::fs::metadata(&images.kernel).unwrap().len(),
        std::fs::metadata(&images.root_task).unwrap().len(),
    );
}

#[test]
fn rampart_build_puts_both_images_in_target_images_and_prints_their_sizes() {
    let out = rampart().args(["build", "--board", "qemu-x86_64"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let dir = Layout::of_tool().images_dir("qemu-x86_64");
    for name in ["kernel32.elf", "rootserver.elf"] {
        let size = std::fs::metadata(dir.join(name)).unwrap().len();
        let line = stdout.lines().find(|l| l.contains(name)).unwrap_or_else(|| panic!("{name} not listed:\n{stdout}"));
        assert!(line.contains(&format!("({size} bytes")), "{line}");
    }
}

#[test]
fn rampart_boot_exits_with_the_root_tasks_status_and_shows_the_console() {
    let out = rampart().args(["boot", "--board", "qemu-x86_64", "--timeout", &BOOT_TIMEOUT.as_secs().to_string()]).output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains(ROOT_TASK_BANNER), "{stdout}");
    assert!(stderr.contains("the root task exited with status 0"), "{stderr}");
}

#[test]
fn rampart_boot_stops_qemu_at_the_timeout() {
    // Far shorter than the firmware alone takes: QEMU is killed, the status is 124.
    let out = rampart().args(["boot", "--timeout", "0.05"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(124), "{stderr}");
    assert!(stderr.contains("timed out after 0.05 s"), "{stderr}");
}

#[test]
fn boards_without_a_kernel_cannot_be_built() {
    let out = rampart().args(["build", "--board", "qemu-sabrelite"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("has no [kernel] table"), "{stderr}");
}
