//! seL4 IPC benchmark under QEMU: Rampart's notification and protected procedure call round trips
//! between two PDs, each against raw seL4 system calls between the same two PDs, in the same
//! image and the same run.
//!
//! `cargo bench --bench sel4_ipc` (needs the seL4 build tools and `qemu-system-x86_64`, as
//! `rampart run` does)
//!
//! Each run is `rampart run --board qemu-x86_64 benches/systems/ipc.xml`. bench_a does rounds of
//! four measurements, interleaved (see `benches/components/bench_a`): runtime notifications
//! (`Channel::notify` / `Handler::notified` both ways), raw `seL4_Signal` + `seL4_Wait`, raw
//! `seL4_Call` answered with `seL4_ReplyRecv`, and runtime one-word protected calls
//! (`Channel::pp_call` / `Handler::protected`). The raw ones use the same capabilities and kernel
//! objects (bench_b's endpoint with its notification bound, bench_a's notification), through
//! `rampart_runtime::sel4::raw`, without the runtime's event loop and dispatch. It logs cycles
//! (`clock::cycles`, the TSC) and ns per round trip over all rounds as
//! `BENCH_SEL4 round=all notify_cycles=.. raw_notify_cycles=.. ppcall_cycles=.. raw_call_cycles=.. ..`.
//!
//! The harness runs it [`RUNS`] times and prints the medians, the runtime/raw ratios (aim: at
//! most 1.2x), the time from QEMU's start to every PD's `init` done, and the image sizes.
//!
//! QEMU runs without KVM here (TCG): the guest's TSC follows the host's clock, so cycles are
//! emulation time scaled to the guest's TSC frequency, not what the code would take on hardware.

use std::path::Path;
use std::process::Command;

/// Runs; the median is reported.
const RUNS: usize = 3;
const AIM: f64 = 1.2;
const SYSTEM: &str = "benches/systems/ipc.xml";

#[derive(Default)]
struct Run {
    notify: f64,
    raw_notify: f64,
    ppcall: f64,
    raw_call: f64,
    notify_ns: f64,
    raw_notify_ns: f64,
    ppcall_ns: f64,
    raw_call_ns: f64,
    iterations: u64,
    /// Per round: runtime/raw ratios (notification, call).
    round_ratios: Vec<(f64, f64)>,
    /// From QEMU's start to the monitor's "every PD has finished init" line (the tool's measure).
    init_done_after_qemu_s: Option<f64>,
    /// The monitor's own measure, from the root task's start.
    init_done_after_root_us: Option<f64>,
    tsc_mhz: Option<f64>,
    kernel_bytes: Option<u64>,
    root_task_bytes: Option<u64>,
    system_image_bytes: Option<u64>,
}

fn field(line: &str, key: &str) -> Option<String> {
    line.split_whitespace().find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=').map(str::to_string))
}

/// The number right after `before` in `text` (digits and one dot).
fn number_after(text: &str, before: &str) -> Option<f64> {
    let at = text.find(before)? + before.len();
    let digits: String = text[at..].chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    digits.parse().ok()
}

fn rampart_run(workspace: &Path) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["run", "--board", "qemu-x86_64", "--timeout", "600", SYSTEM])
        .current_dir(workspace)
        .output()
        .expect("run rampart");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all = format!("{stdout}{stderr}");
    assert!(out.status.success(), "rampart run failed ({}):\n{all}", out.status);
    let bench = |round: &str| {
        stdout
            .lines()
            .filter(|l| l.starts_with("[bench_a] "))
            .filter_map(|l| l.find("BENCH_SEL4 ").map(|at| &l[at..]))
            .filter(|l| field(l, "round").as_deref() == Some(round) || (round == "*" && field(l, "round").as_deref() != Some("all")))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let line = bench("all").pop().unwrap_or_else(|| panic!("no `BENCH_SEL4 round=all` line from bench_a:\n{all}"));
    let num = |l: &str, k: &str| field(l, k).and_then(|v| v.parse::<f64>().ok()).unwrap_or_else(|| panic!("no `{k}` in: {l}"));
    let round_ratios =
        bench("*").iter().map(|l| (num(l, "notify_cycles") / num(l, "raw_notify_cycles"), num(l, "ppcall_cycles") / num(l, "raw_call_cycles"))).collect();
    // "rampart: kernel PATH (N bytes, ...), root task with the system PATH (N bytes, system image N bytes)"
    let sizes = stderr.lines().find(|l| l.starts_with("rampart: kernel ")).unwrap_or("");
    let bytes_after = |what: &str| sizes.find(what).and_then(|at| number_after(&sizes[at..], " (")).map(|v| v as u64);
    Run {
        notify: num(&line, "notify_cycles"),
        raw_notify: num(&line, "raw_notify_cycles"),
        ppcall: num(&line, "ppcall_cycles"),
        raw_call: num(&line, "raw_call_cycles"),
        notify_ns: num(&line, "notify_ns"),
        raw_notify_ns: num(&line, "raw_notify_ns"),
        ppcall_ns: num(&line, "ppcall_ns"),
        raw_call_ns: num(&line, "raw_call_ns"),
        iterations: num(&line, "iterations") as u64,
        round_ratios,
        init_done_after_qemu_s: number_after(&stderr, "every PD finished init "),
        init_done_after_root_us: number_after(&stdout, "every PD has finished init ("),
        tsc_mhz: number_after(&stdout, "TSC "),
        kernel_bytes: bytes_after("rampart: kernel "),
        root_task_bytes: bytes_after("root task with the system "),
        system_image_bytes: number_after(sizes, "system image ").map(|v| v as u64),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn show(v: &[f64], decimals: usize) -> String {
    v.iter().map(|x| format!("{x:.decimals$}")).collect::<Vec<_>>().join(" ")
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("?".to_string(), |v| v.to_string())
}

fn main() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The first run also builds the kernel (once), the components and the root task.
    let mut runs = Vec::new();
    for run in 0..RUNS {
        let r = rampart_run(workspace);
        eprintln!(
            "run {}/{RUNS}: cycles per round trip: notify {:.0} (raw {:.0}), pp call {:.0} (raw {:.0}); init done {} s after QEMU started",
            run + 1,
            r.notify,
            r.raw_notify,
            r.ppcall,
            r.raw_call,
            opt(r.init_done_after_qemu_s)
        );
        runs.push(r);
    }
    let col = |f: fn(&Run) -> f64| runs.iter().map(f).collect::<Vec<_>>();
    let (n, rn, p, rp) = (median(col(|r| r.notify)), median(col(|r| r.raw_notify)), median(col(|r| r.ppcall)), median(col(|r| r.raw_call)));
    let ns = |f: fn(&Run) -> f64| median(col(f));
    let last = runs.last().expect("at least one run");
    let rounds = last.round_ratios.len();

    println!();
    println!("seL4 IPC round trips under QEMU (TCG: emulated TSC): {} per run ({rounds} interleaved rounds), median of {RUNS} runs", last.iterations);
    println!("{:<40} {:>10} {:>9} {:>8} {:>6}   runs (cycles)", "", "cycles", "ns", "ratio", "aim");
    println!(
        "{:<40} {:>10.0} {:>9.0} {:>8} {:>6}   {}",
        "raw seL4_Signal + seL4_Wait",
        rn,
        ns(|r| r.raw_notify_ns),
        "1.00x",
        "",
        show(&col(|r| r.raw_notify), 0)
    );
    println!(
        "{:<40} {:>10.0} {:>9.0} {:>7.2}x {:>5.1}x   {}",
        "rampart notification round trip",
        n,
        ns(|r| r.notify_ns),
        n / rn,
        AIM,
        show(&col(|r| r.notify), 0)
    );
    println!(
        "{:<40} {:>10.0} {:>9.0} {:>8} {:>6}   {}",
        "raw seL4_Call + seL4_ReplyRecv",
        rp,
        ns(|r| r.raw_call_ns),
        "1.00x",
        "",
        show(&col(|r| r.raw_call), 0)
    );
    println!("{:<40} {:>10.0} {:>9.0} {:>7.2}x {:>5.1}x   {}", "rampart pp call round trip", p, ns(|r| r.ppcall_ns), p / rp, AIM, show(&col(|r| r.ppcall), 0));
    let per_round = |f: fn(&(f64, f64)) -> f64| runs.iter().flat_map(|r| r.round_ratios.iter().map(f)).collect::<Vec<_>>();
    let (nr, pr) = (per_round(|x| x.0), per_round(|x| x.1));
    let range = |v: &[f64]| format!("{:.2}-{:.2}", v.iter().copied().fold(f64::INFINITY, f64::min), v.iter().copied().fold(0.0, f64::max));
    println!("per-round ratios: notification {}, pp call {}", range(&nr), range(&pr));
    println!(
        "every PD's init done: {} s after QEMU started (runs: {}); {} us after the root task started (monitor)",
        {
            let v: Vec<f64> = runs.iter().filter_map(|r| r.init_done_after_qemu_s).collect();
            if v.is_empty() {
                "?".to_string()
            } else {
                format!("{:.2}", median(v))
            }
        },
        runs.iter().map(|r| opt(r.init_done_after_qemu_s)).collect::<Vec<_>>().join(" "),
        runs.iter().map(|r| opt(r.init_done_after_root_us)).collect::<Vec<_>>().join(" ")
    );
    println!(
        "image: kernel {} bytes, root task with the system {} bytes (system image {} bytes); TSC {} MHz",
        opt(last.kernel_bytes),
        opt(last.root_task_bytes),
        opt(last.system_image_bytes),
        opt(last.tsc_mhz)
    );
    println!(
        "BENCH_SUMMARY raw_notify_cycles={rn:.0} notify_cycles={n:.0} raw_call_cycles={rp:.0} ppcall_cycles={p:.0} notify_ratio={:.3} ppcall_ratio={:.3}",
        n / rn,
        p / rp
    );
}
