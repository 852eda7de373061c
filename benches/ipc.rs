//! Hosted IPC benchmark: Rampart's notification and protected procedure call round trips between
//! two PDs, each against a raw eventfd ping-pong between two plain processes, measured in the same
//! run.
//!
//! `cargo bench --bench ipc`
//!
//! - Rampart: `rampart run --hosted benches/systems/ipc.xml`. bench_a times notification round
//!   trips with bench_b, then one-word protected calls to it, and logs
//!   `BENCH notify_rtt_ns=.. ppcall_rtt_ns=.. iterations=..`.
//! - Baseline: two processes (this one and a fork), one eventfd each; each blocks in read(2) on
//!   its own and writes the other's: the least a cross-process wake-up round trip costs, and what
//!   the hosted backend does underneath (one write to wake the peer, one read to sleep, per side).
//!   Same iteration count and warm-up, no pinning, default scheduling, like the PDs.
//!
//! Each is run [`RUNS`] times, interleaved, and the medians are compared. The aims: notification
//! round trip at most 1.3x the baseline, protected call at most 1.5x.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// Runs of each measurement; the median is reported.
const RUNS: usize = 5;
/// Untimed round trips before timing (as in bench_a).
const WARMUP: u64 = 10_000;
const NOTIFY_AIM: f64 = 1.3;
const PPCALL_AIM: f64 = 1.5;

struct Rampart {
    notify_ns: f64,
    ppcall_ns: f64,
    iterations: u64,
}

fn eventfd() -> i32 {
    // SAFETY: creates an eventfd; no memory is passed.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    assert!(fd >= 0, "eventfd: {}", std::io::Error::last_os_error());
    fd
}

fn wait(fd: i32) {
    let mut v: u64 = 0;
    // SAFETY: reads 8 bytes into a live u64.
    let n = unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
    if n != 8 {
        panic!("read(eventfd): {}", std::io::Error::last_os_error());
    }
}

fn wake(fd: i32) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64.
    let n = unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    if n != 8 {
        panic!("write(eventfd): {}", std::io::Error::last_os_error());
    }
}

/// The raw baseline: ns per eventfd ping-pong round trip between this process and a forked one.
fn raw_eventfd_rtt_ns(iterations: u64) -> f64 {
    let to_child = eventfd();
    let to_parent = eventfd();
    // SAFETY: this process is single-threaded here (the harness starts no threads); the child
    // only reads, writes and _exits.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        for _ in 0..WARMUP + iterations {
            let mut v: u64 = 0;
            // SAFETY: as in `wait` and `wake`; no panics in the forked child.
            unsafe {
                if libc::read(to_child, (&mut v as *mut u64).cast(), 8) != 8 {
                    libc::_exit(1);
                }
                v = 1;
                libc::write(to_parent, (&v as *const u64).cast(), 8);
            }
        }
        // SAFETY: ends the forked child without running the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    for _ in 0..WARMUP {
        wake(to_child);
        wait(to_parent);
    }
    let start = Instant::now();
    for _ in 0..iterations {
        wake(to_child);
        wait(to_parent);
    }
    let elapsed = start.elapsed();
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "baseline child failed: status {status:#x}");
    // SAFETY: closes the two eventfds created above.
    unsafe {
        libc::close(to_child);
        libc::close(to_parent);
    }
    elapsed.as_nanos() as f64 / iterations as f64
}

fn field(line: &str, key: &str) -> Option<String> {
    line.split_whitespace().find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=').map(str::to_string))
}

/// One run of the benchmark system; the figures bench_a logged.
fn rampart_run(workspace: &Path) -> Rampart {
    let out = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["run", "--hosted", "--timeout", "300", "benches/systems/ipc.xml"])
        .current_dir(workspace)
        .output()
        .expect("run rampart");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let all = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "rampart run failed ({}):\n{all}", out.status);
    let line = stdout
        .lines()
        .filter(|l| l.starts_with("[bench_a] "))
        .find_map(|l| l.find("BENCH ").map(|at| &l[at..]))
        .unwrap_or_else(|| panic!("no BENCH line from bench_a:\n{all}"));
    let num = |k: &str| field(line, k).and_then(|v| v.parse::<f64>().ok()).unwrap_or_else(|| panic!("no `{k}` in: {line}"));
    Rampart { notify_ns: num("notify_rtt_ns"), ppcall_ns: num("ppcall_rtt_ns"), iterations: num("iterations") as u64 }
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

fn show(v: &[f64]) -> String {
    v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(" ")
}

fn main() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The first run also builds the components; its figures count like any other.
    let (mut notify, mut ppcall, mut raw) = (Vec::new(), Vec::new(), Vec::new());
    let mut iterations = 0;
    for run in 0..RUNS {
        let r = rampart_run(workspace);
        if run > 0 {
            assert_eq!(r.iterations, iterations, "bench_a changed its iteration count between runs");
        }
        iterations = r.iterations;
        notify.push(r.notify_ns);
        ppcall.push(r.ppcall_ns);
        raw.push(raw_eventfd_rtt_ns(iterations));
        eprintln!("run {}/{RUNS}: notify {:.0} ns, pp call {:.0} ns, raw eventfd {:.0} ns", run + 1, r.notify_ns, r.ppcall_ns, raw[run]);
    }
    let (n, p, b) = (median(notify.clone()), median(ppcall.clone()), median(raw.clone()));
    println!();
    println!("hosted IPC round trips: {iterations} per run after {WARMUP} warm-up, median of {RUNS} runs, ns per round trip");
    println!("{:<34} {:>10} {:>8} {:>6}   runs", "", "ns", "ratio", "aim");
    println!("{:<34} {:>10.0} {:>8} {:>6}   {}", "raw eventfd ping-pong (baseline)", b, "1.00x", "", show(&raw));
    println!("{:<34} {:>10.0} {:>7.2}x {:>5.1}x   {}", "rampart notification round trip", n, n / b, NOTIFY_AIM, show(&notify));
    println!("{:<34} {:>10.0} {:>7.2}x {:>5.1}x   {}", "rampart pp call round trip", p, p / b, PPCALL_AIM, show(&ppcall));
    println!("BENCH_SUMMARY raw_ns={b:.0} notify_ns={n:.0} ppcall_ns={p:.0} notify_ratio={:.3} ppcall_ratio={:.3}", n / b, p / b);
}
