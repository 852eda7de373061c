//! Whole systems on seL4: the system initializer builds every PD from the spec and the programs
//! embedded in the root task, the PDs run on the seL4 5.0.0 kernel under QEMU (TCG), and the
//! monitor reports their logs, faults and the status they end the system with.
//!
//! Needs what tests/sel4_boot.rs needs (make, gcc, binutils, xmllint, python3 with venv, QEMU);
//! a missing tool fails with the one line that names the packages. Builds share `target/sel4`
//! (behind a lock) with `rampart build`, `rampart boot` and `rampart run`.

use rampart::sel4::qemu::BootEnd;
use rampart::sel4::system::{self, RestartPolicy, RunOptions};
use rampart::sel4::{self, Layout};
use rampart_sdf::{check_file, Backend, Board, Options};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Generous for a loaded CI machine: the default system runs in well under a second under TCG.
const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

fn rampart() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
}

fn board() -> Board {
    let board = Board::named("qemu-x86_64").unwrap();
    sel4::host::require(&sel4::host::boot_tools(&board)).unwrap_or_else(|e| panic!("{e}"));
    board
}

fn spec_of(file: &Path, board: &Board) -> rampart_spec::SystemSpec {
    let mut opts = Options::new(board.clone());
    opts.components = rampart_sdf::find_components(Path::new(env!("CARGO_MANIFEST_DIR")));
    opts.backend = Some(Backend::Sel4);
    match check_file(file, &opts) {
        Ok(c) => c.spec,
        Err(report) => panic!("{}", report.render(false)),
    }
}

/// Build `file` for seL4, boot it, and return the run (with the build for its sizes).
fn build_and_boot(file: &Path, timeout: Duration) -> (system::SystemBuild, system::Run) {
    build_and_boot_with(file, timeout, RestartPolicy::Restart)
}

/// As [`build_and_boot`], with the monitor's restart policy.
fn build_and_boot_with(file: &Path, timeout: Duration, policy: RestartPolicy) -> (system::SystemBuild, system::Run) {
    let board = board();
    let spec = spec_of(file, &board);
    let build = system::build_system_with_policy(&Layout::of_tool(), &board, &spec, file, Default::default(), policy).unwrap_or_else(|e| panic!("{e}"));
    let run = system::boot_system(&board, &spec, &build, &RunOptions { timeout: Some(timeout), verbose: false }, false).unwrap_or_else(|e| panic!("{e}"));
    (build, run)
}

#[test]
fn the_default_system_a_minbft_cluster_boots_on_sel4_and_answers_3000_checked_operations() {
    let started = Instant::now();
    let out = rampart()
        .args(["run", "--board", "qemu-x86_64", "--timeout", &BOOT_TIMEOUT.as_secs().to_string()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    for i in 0..3 {
        assert!(stdout.contains(&format!("[replica{i}] replica {i}: 3000 requests executed")), "{stdout}");
    }
    assert!(stdout.contains("[client0] 3000 checked key-value operations by 16 clients, every result checked: "), "{stdout}");
    assert!(stdout.contains(rampart::sel4::layout::ALL_INIT_DONE_LINE), "{stdout}");
    assert!(stdout.contains("rampart: PD `client0` ended the system with status 0"), "{stdout}");
    assert!(stderr.contains("the system exited with status 0"), "{stderr}");
    eprintln!("rampart run on seL4: {:.1} s in all; {}", started.elapsed().as_secs_f64(), stderr.lines().last().unwrap_or(""));
}

/// A generated 5-replica cluster (f = 2) with 2 client PDs, 13 PDs in all, boots on seL4 and
/// both client PDs check 3000 operations each; client PD 0 ends the system when both are done.
#[test]
fn a_generated_five_replica_two_client_pd_cluster_boots_on_sel4_and_checks_every_result() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-systems/sel4-cluster-5-2.xml");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let gen = rampart().args(["cluster", "--replicas", "5", "--client-pds", "2", "-o"]).arg(&file).output().unwrap();
    assert!(gen.status.success(), "{}", String::from_utf8_lossy(&gen.stderr));
    let (_, run) = build_and_boot(&file, BOOT_TIMEOUT);
    let stdout = run.output.join("\n");
    assert_eq!(run.end, BootEnd::Exited(0), "{stdout}");
    for i in 0..5 {
        assert!(stdout.contains(&format!("[replica{i}] replica {i}: 6000 requests executed")), "{stdout}");
    }
    for p in 0..2 {
        assert!(stdout.contains(&format!("[client{p}] 3000 checked key-value operations by 16 clients, every result checked: ")), "{stdout}");
    }
    assert!(stdout.contains("[client0] all 2 client PDs are done"), "{stdout}");
}

#[test]
fn the_ping_pong_plays_1000_rounds_on_sel4_and_ends_with_pings_verdict() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/systems/pingpong.xml");
    let (_, run) = build_and_boot(&file, BOOT_TIMEOUT);
    let stdout = run.output.join("\n");
    assert_eq!(run.end, BootEnd::Exited(0), "{stdout}");
    // ping's defmt frames left it through the monitor and were decoded with its ELF file.
    assert!(stdout.contains("[ping] playing 1000 rounds"), "{stdout}");
    assert!(stdout.contains("[ping] 1000 rounds played, every answer matched"), "{stdout}");
    // The monitor's own lines pass through as they are; the kernel's boot messages do not.
    assert!(stdout.contains("rampart: PD `ping` started") && stdout.contains("rampart: PD `pong` started"), "{stdout}");
    assert!(stdout.contains("rampart: PD `ping` ended the system with status 0"), "{stdout}");
    assert!(!stdout.contains("Booting all finished"), "{stdout}");
}

#[test]
fn every_pd_finishes_init_soon_after_boot_and_the_image_is_small() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/systems/pingpong.xml");
    let (build, run) = build_and_boot(&file, BOOT_TIMEOUT);
    assert_eq!(run.end, BootEnd::Exited(0), "{}", run.output.join("\n"));
    assert_eq!(run.status, 0);
    let up = run.root_task_up_after.expect("the root task's banner");
    let init = run.all_init_done_after.unwrap_or_else(|| panic!("no init-done line:\n{}", run.output.join("\n")));
    assert!(up <= init && init <= run.elapsed);
    let size = |p: &Path| std::fs::metadata(p).unwrap().len();
    let root = size(&build.images.root_task);
    assert!(root > build.image_bytes as u64, "the system image is inside the root task");
    eprintln!(
        "QEMU start to root task {:.3} s, to every PD's init done {:.3} s, whole run {:.3} s; kernel32.elf {} bytes, root task with the system {} bytes (system image {} bytes: spec and {} program(s))",
        up.as_secs_f64(),
        init.as_secs_f64(),
        run.elapsed.as_secs_f64(),
        size(&build.images.kernel),
        root,
        build.image_bytes,
        build.programs.len(),
    );
}

#[test]
fn protected_calls_carry_64_words_and_replies_come_back() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/systems/calc.xml");
    let (_, run) = build_and_boot(&file, BOOT_TIMEOUT);
    let output = run.output.join("\n");
    assert_eq!(run.status, 0, "{output}");
    for check in ["sum of 64 words", "sum of no words", "reverse of 3 words", "unknown label refused"] {
        assert!(output.contains(&format!("[calc_client] ok: {check}")), "{check}:\n{output}");
    }
}

#[test]
fn a_producer_and_a_consumer_move_100000_messages_over_a_ring_in_a_shared_region_on_sel4() {
    // The same components and system file as the hosted ring test: the region's frames are
    // mapped in both PDs, the channel is the doorbell both ways.
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/systems/ring.xml");
    let (_, run) = build_and_boot(&file, BOOT_TIMEOUT);
    let output = run.output.join("\n");
    assert_eq!(run.status, 0, "{output}");
    assert!(output.contains("[ring_consumer] received all 100000 messages in order, intact"), "{output}");
}

#[test]
fn alarms_arrive_on_sel4_and_never_early() {
    // The monitor's timer service: ticker sets, moves and cancels alarms and checks each one.
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/systems/timer.xml");
    let (_, run) = build_and_boot(&file, BOOT_TIMEOUT);
    let output = run.output.join("\n");
    assert_eq!(run.status, 0, "{output}");
    assert!(output.contains("[ticker] 5 alarms arrived, none early"), "{output}");
}

#[test]
fn a_panicking_pd_is_reported_by_name_and_when_every_pd_has_stopped_the_system_ends_with_1() {
    // Two PDs run the crasher program, which panics in its first two lives (it counts them in
    // the shared `lives` region). With the hold policy nothing restarts them: both stay stopped.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("crashers.xml");
    std::fs::write(
        &file,
        r#"<system xmlns:rampart="urn:rampart:sdf:1">
    <memory_region name="lives" size="0x1000" />
    <protection_domain name="first" priority="20">
        <program_image path="crasher.elf" />
        <map mr="lives" vaddr="0x5000000" perms="rw" />
    </protection_domain>
    <protection_domain name="second" priority="10">
        <program_image path="crasher.elf" />
        <map mr="lives" vaddr="0x5000000" perms="rw" />
    </protection_domain>
    <channel>
        <end pd="first" id="0" setvar_id="parent" />
        <end pd="second" id="0" setvar_id="parent" />
    </channel>
</system>
"#,
    )
    .unwrap();
    let (build, run) = build_and_boot_with(&file, BOOT_TIMEOUT, RestartPolicy::Hold);
    // The image of a system in a temporary directory is named after that directory: do not let
    // every test run leave one behind.
    let _ = std::fs::remove_file(&build.images.root_task);
    if let Some(dir) = build.programs.first().and_then(|p| p.parent()) {
        let _ = std::fs::remove_dir_all(dir);
    }
    let output = run.output.join("\n");
    assert_eq!(run.end, BootEnd::Exited(1), "{output}");
    assert!(output.contains("rampart: PD `first` panicked: panicked at tests/components/crasher/src/main.rs"), "{output}");
    assert!(output.contains("crashing on purpose in life 1"), "{output}");
    assert!(output.contains("rampart: PD `second` panicked:") && output.contains("crashing on purpose in life 2"), "{output}");
    assert!(output.contains("rampart: holding PD `first` (restart policy: hold)"), "{output}");
    assert!(output.contains("rampart: every PD has stopped; ending the system with status 1"), "{output}");
    assert!(!output.contains("restarted"), "{output}");
}

/// The monitor's line for a restart: how long rebuilding the PD took, in microseconds.
fn restart_times_us(output: &str) -> Vec<u64> {
    output
        .lines()
        .filter(|l| l.contains(" restarted (") && l.contains(" us ("))
        .filter_map(|l| l.split(" in ").nth(1)?.split(" us").next()?.parse().ok())
        .collect()
}

/// The monitor's line for a restart: (KiB of untyped memory in use, root slots in use) after it.
fn restart_memory_in_use(output: &str) -> Vec<(u64, u64)> {
    output
        .lines()
        .filter(|l| l.contains(" restarted (") && l.contains(" KiB of untyped memory in use, "))
        .filter_map(|l| {
            let (before, after) = l.split_once(" KiB of untyped memory in use, ")?;
            let kib = before.rsplit(' ').next()?.parse().ok()?;
            let slots = after.split(' ').next()?.parse().ok()?;
            Some((kib, slots))
        })
        .collect()
}

#[test]
fn a_parent_gets_its_childs_faults_and_restarts_it_from_a_pristine_image_on_sel4() {
    // tests/systems/restart.xml, as hosted: the crasher panics in its first two lives; each panic
    // reaches the nursery's Handler::fault, which asks for a restart; the monitor rebuilds the
    // crasher into fresh memory (the crasher asserts that its private memory is fresh), and in its
    // third life it notifies the nursery, which ends the system with 0.
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/systems/restart.xml");
    let (_, run) = build_and_boot(&file, BOOT_TIMEOUT);
    let output = run.output.join("\n");
    assert_eq!(run.end, BootEnd::Exited(0), "{output}");
    assert_eq!(output.matches("[nursery] child 7 faulted (Panic); restarting it").count(), 2, "{output}");
    assert!(output.contains("rampart: PD `crasher` restarted (its parent asked), life 2: rebuilt from its pristine program into fresh memory"), "{output}");
    assert!(output.contains("rampart: PD `crasher` restarted (its parent asked), life 3"), "{output}");
    assert!(output.contains("[crasher] life 3: staying up"), "{output}");
    assert!(!output.contains("private memory survived a restart"), "{output}");
    assert!(output.contains("[nursery] child is up after 2 faults, in life 3"), "{output}");
    let times = restart_times_us(&output);
    assert_eq!(times.len(), 2, "{output}");
    eprintln!("restarting the crasher on seL4 (TCG) took {times:?} us");
}

#[test]
fn a_top_level_pd_is_restarted_by_policy_then_held_and_its_callers_never_block_on_sel4() {
    // tests/systems/sel4_faults.xml: write_intruder faults on every call (an unmapped read, then
    // writes to a region it maps read-only); each fault is reported with its name, every call
    // fails with LABEL_CALL_FAILED, and the overseer (which maps the region read-write) keeps
    // running and ends the system with 10 + the intruder's lives: 1 + 5 restarts, then held.
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/systems/sel4_faults.xml");
    let (_, run) = build_and_boot(&file, BOOT_TIMEOUT);
    let output = run.output.join("\n");
    assert_eq!(run.end, BootEnd::Exited(16), "{output}");
    // Isolation on the real kernel: memory it was not given, and memory it may only read.
    assert!(output.contains("rampart: PD `write_intruder` faulted: memory fault, read at 0x6000000 (the low 32 bits of the address: this kernel reports no more), nothing is mapped there"), "{output}");
    assert_eq!(output.matches("rampart: PD `write_intruder` faulted: memory fault, write at 0x4000000 (the low 32 bits of the address: this kernel reports no more), not allowed by the mapping").count(), 5, "{output}");
    for life in 2..=6 {
        assert!(output.contains(&format!("rampart: PD `write_intruder` restarted (restart policy), life {life}: rebuilt")), "life {life}:\n{output}");
        assert!(output.contains(&format!("[write_intruder] life {life}")), "life {life}:\n{output}");
    }
    assert!(!output.contains("life 7"), "{output}");
    assert!(output.contains("rampart: holding PD `write_intruder`: it faulted again after 5 restarts within 10000 ms"), "{output}");
    assert!(output.contains("[overseer] 8 calls failed cleanly; the intruder had 6 lives"), "{output}");
    assert!(!output.contains("private memory survived a restart"), "{output}");
    let times = restart_times_us(&output);
    assert_eq!(times.len(), 5, "{output}");
    eprintln!("restarting write_intruder on seL4 (TCG) took {times:?} us");
    // Restarts reclaim: from the second restart on, each life reuses the previous one's memory
    // and slots (its restart arena), so the untyped memory and slots in use stop growing.
    let in_use = restart_memory_in_use(&output);
    assert_eq!(in_use.len(), 5, "{output}");
    assert!(in_use[1..].iter().all(|u| *u == in_use[1]), "memory in use grew across restarts: {in_use:?}\n{output}");
}

#[test]
fn with_the_hold_policy_a_faulted_pd_stays_stopped_and_its_calls_fail_on_sel4() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/systems/sel4_faults.xml");
    let (_, run) = build_and_boot_with(&file, BOOT_TIMEOUT, RestartPolicy::Hold);
    let output = run.output.join("\n");
    assert_eq!(run.end, BootEnd::Exited(11), "{output}");
    assert!(output.contains("rampart: PD `write_intruder` faulted: memory fault, read at 0x6000000"), "{output}");
    assert!(output.contains("rampart: holding PD `write_intruder` (restart policy: hold)"), "{output}");
    assert!(!output.contains("restarted"), "{output}");
    assert!(output.contains("[overseer] 8 calls failed cleanly; the intruder had 1 lives"), "{output}");
}

#[test]
fn rampart_run_passes_the_restart_policy_to_the_sel4_monitor() {
    let out = rampart()
        .args(["run", "--board", "qemu-x86_64", "--restart", "hold", "--timeout", &BOOT_TIMEOUT.as_secs().to_string(), "tests/systems/sel4_faults.xml"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(11), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    assert!(stdout.contains("rampart: holding PD `write_intruder` (restart policy: hold)"), "{stdout}");
}

#[test]
fn systems_the_sel4_backend_cannot_build_yet_are_refused_before_building() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.bin"), [1u8, 2, 3, 4]).unwrap();
    let file = dir.path().join("prefilled.xml");
    std::fs::write(
        &file,
        r#"<system xmlns:rampart="urn:rampart:sdf:1">
    <memory_region name="data" size="0x1000" prefill_path="data.bin" />
    <protection_domain name="reader" priority="20">
        <program_image path="pong.elf" />
        <map mr="data" vaddr="0x2000000" perms="r" />
    </protection_domain>
</system>
"#,
    )
    .unwrap();
    let started = Instant::now();
    let out = rampart().args(["run", "--board", "qemu-x86_64"]).arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("memory region `data` is prefilled from a file: the seL4 backend does not prefill regions yet"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30), "refused only after building");
}

#[test]
fn a_pd_reads_the_hpet_through_a_device_memory_region_mapped_uncached_on_sel4() {
    // hpet_reader maps QEMU pc's HPET (physical 0xfed00000, uncached): the root task retypes the
    // frame out of the device untyped that covers it, at exactly that address.
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/systems/sel4_hpet.xml");
    let (_, run) = build_and_boot(&file, BOOT_TIMEOUT);
    let output = run.output.join("\n");
    assert_eq!(run.end, BootEnd::Exited(0), "{output}");
    assert_eq!(run.status, 0, "{output}");
    // QEMU's HPET: Intel's vendor id, three comparators, a 10 ns period.
    assert!(output.contains("[hpet_reader] HPET: vendor 0x8086, revision 1, 3 comparators, counter period 10000000 fs"), "{output}");
    assert!(output.contains("[hpet_reader] HPET main counter "), "{output}");
    assert!(output.contains(": it counts ("), "{output}");
    assert!(output.contains("rampart: PD `hpet_reader` ended the system with status 0"), "{output}");
}

#[test]
fn a_device_region_that_is_ram_or_that_no_device_memory_covers_is_a_boot_time_error_naming_it() {
    // hpet_reader's region `hpet` at an address that is not the HPET's: 0x10000000 is RAM on a
    // 512 MiB machine; 0xfec00000 is the I/O APIC, which the kernel keeps for itself.
    for (phys, expected) in [
        ("0x10000000", "rampart: cannot build the system: memory region `hpet` at physical address 0x10000000 is RAM"),
        (
            "0xfec00000",
            "rampart: cannot build the system: memory region `hpet` at physical address 0xfec00000: no device untyped memory covers [0xfec00000, 0xfec01000)",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("device.xml");
        std::fs::write(
            &file,
            format!(
                r#"<system xmlns:rampart="urn:rampart:sdf:1">
    <memory_region name="hpet" size="0x1000" phys_addr="{phys}" />
    <protection_domain name="hpet_reader" priority="20" rampart:exit_system="true">
        <program_image path="hpet_reader.elf" />
        <map mr="hpet" vaddr="0x2000000" perms="rw" cached="false" />
    </protection_domain>
</system>
"#
            ),
        )
        .unwrap();
        let (_, run) = build_and_boot(&file, Duration::from_secs(60));
        let output = run.output.join("\n");
        assert_eq!(run.status, 5, "{output}");
        assert!(output.contains(expected), "{output}");
    }
}

#[test]
fn a_pd_drives_the_rtc_through_its_own_irq_and_io_ports_on_sel4() {
    // rtc_ticker owns I/O ports 0x70-0x71 and ISA IRQ 8 (I/O APIC pin 8, vector 1): it turns on
    // the RTC's periodic interrupt, and each one arrives as channel 1 until it has counted ten.
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/systems/sel4_rtc.xml");
    let (_, run) = build_and_boot(&file, BOOT_TIMEOUT);
    let output = run.output.join("\n");
    assert_eq!(run.end, BootEnd::Exited(0), "{output}");
    assert_eq!(run.status, 0, "{output}");
    assert!(output.contains("[rtc_ticker] RTC periodic interrupt on at 64 Hz"), "{output}");
    assert!(output.contains("[rtc_ticker] 10 RTC interrupts at 64 Hz in "), "{output}");
    assert!(output.contains("rampart: PD `rtc_ticker` ended the system with status 0"), "{output}");
}

#[test]
fn the_timer_pd_owns_the_pit_and_serves_timeouts_that_never_come_early() {
    // `timer` owns the PIT's ports and ISA IRQ 0 (I/O APIC pin 2); `fast` and `slow` set 40 and
    // 13 timeouts through it (one longer than a PIT shot), each after a cancelled decoy.
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/systems/sel4_timer.xml");
    let (_, run) = build_and_boot(&file, BOOT_TIMEOUT);
    let output = run.output.join("\n");
    assert_eq!(run.end, BootEnd::Exited(0), "{output}");
    assert!(output.contains("[timer] PIT timer serving 2 client channel(s)"), "{output}");
    assert!(output.contains("[fast] 40 timeouts, none early, latest by "), "{output}");
    assert!(output.contains("[slow] 13 timeouts, none early, latest by "), "{output}");
    assert!(output.contains("rampart: PD `slow` ended the system with status 0"), "{output}");
}

#[test]
fn with_a_timer_pd_owning_the_pit_the_monitors_alarms_are_refused_with_a_clear_error() {
    // rtc_ticker sets an alarm with clock::set_alarm; here the PIT belongs to `timer`.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pit_taken.xml");
    std::fs::write(
        &file,
        r#"<system xmlns:rampart="urn:rampart:sdf:1">
    <protection_domain name="timer" priority="100">
        <program_image path="timer.elf" />
        <ioport id="0" addr="0x40" size="4" />
        <irq id="62" pin="2" vector="0" trigger="edge" polarity="high" />
    </protection_domain>
    <protection_domain name="rtc_ticker" priority="20" rampart:exit_system="true">
        <program_image path="rtc_ticker.elf" />
        <ioport id="0" addr="0x70" size="2" />
        <irq id="1" pin="8" vector="1" trigger="edge" polarity="high" />
    </protection_domain>
</system>"#,
    )
    .unwrap();
    let (_, run) = build_and_boot(&file, Duration::from_secs(20));
    let output = run.output.join("\n");
    assert!(output.contains("clock::set_alarm: this system gives the PIT to a timer PD"), "{output}");
    assert!(output.contains("rtc_ticker"), "{output}");
}

#[test]
fn a_pd_with_a_heap_allocates_frees_and_is_refused_past_its_size_and_rdrand_gives_entropy_on_sel4() {
    // tests/systems/heap.xml: the heap is 1 MiB of the PD's own zeroed data; a request for 4 MiB
    // must fail cleanly (try_reserve), and RDRAND must give two different 32-byte draws.
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/systems/heap.xml");
    let (_, run) = build_and_boot(&file, BOOT_TIMEOUT);
    let output = run.output.join("\n");
    assert_eq!(run.end, BootEnd::Exited(0), "{output}");
    assert!(output.contains("[heap_user] 16 rounds through a 1024 KiB heap; entropy ok"), "{output}");
}

#[test]
fn rampart_build_with_a_system_file_writes_its_bootable_image_and_prints_the_sizes() {
    let ws = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = rampart().args(["build", "--board", "qemu-x86_64", "system.xml"]).current_dir(ws).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    for what in ["kernel", "root task"] {
        let line = stdout.lines().find(|l| l.starts_with(what)).unwrap_or_else(|| panic!("no {what} line: {stdout}"));
        let path = line.split_whitespace().find(|w| w.contains("target/images/qemu-x86_64/")).expect("a path");
        assert!(Path::new(path).is_file(), "{path}");
        assert!(line.contains(" bytes"), "{line}");
    }
}

#[test]
fn rampart_build_refuses_what_the_sel4_backend_cannot_honour() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-systems");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mcs-budget.xml");
    std::fs::write(&file, "<system>\n    <protection_domain name=\"ping\" budget=\"100\" period=\"1000\">\n        <program_image path=\"ping.elf\" />\n    </protection_domain>\n</system>\n").unwrap();
    let out = rampart().args(["build", "--board", "qemu-x86_64"]).arg(&file).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the sel4 backend cannot honour `budget`: budgets and periods need an MCS kernel"), "{stderr}");
}
