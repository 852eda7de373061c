//! Throughput of the shared-memory ring between two threads, against `rtrb` in the same run.
//!
//! Baseline: `rtrb` (a widely used lock-free SPSC ring with cached indices), sending the same
//! bytes: a `[u8; 64]` value per message for the 64-byte case, `push_entire_slice` /
//! `pop_entire_slice` of 4096 bytes of a `RingBuffer<u8>` for the 4 KiB case. Both rings get the
//! same number of data bytes. Every consumer copies each message out and checks its sequence
//! number, so neither side can skip work.
//!
//! Rampart is measured three ways (see `Mode`): `try_write_frame` with staged, batched publication
//! and one flush per burst (the intended bulk use); `try_write_frame` + `publish`, one tail store
//! per message exactly like rtrb's `push`; and `try_send_frame`, which also runs the doorbell check
//! (a SeqCst fence) per message. The doorbell is `NoDoorbell`: the consumer polls, as rtrb's does.
//!
//! Each case runs `ROUNDS` times, the contenders interleaved, and prints each one's median rate and
//! the median of its per-round ratio to the rtrb round next to it (above 1: rampart is faster).
//! Run: `cargo bench -p rampart-ring` (`RING_BENCH=small` or `=large` for one case). On a machine
//! with two cores the numbers depend on what else runs: a third busy thread makes both rings
//! share one core, which measures per-message CPU cost instead of cache-line transfer.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use rampart_ring::{Consumer, NoDoorbell, Producer, RingError, CACHE_LINE_BYTES};

/// Data bytes of every ring under test.
const RING_BYTES: usize = 64 * 1024;
/// Messages per round in the 64-byte case.
const SMALL_MESSAGES: u64 = 4_000_000;
/// Messages per round in the 4 KiB case (800 MiB per round).
const LARGE_MESSAGES: u64 = 200_000;
/// Rounds per case; medians are reported.
const ROUNDS: usize = 21;

/// The region a rampart ring lives in: heap memory aligned like a mapped page.
struct Region {
    ptr: *mut u8,
    layout: Layout,
}

impl Region {
    fn new() -> Self {
        let len = rampart_ring::region_bytes(RING_BYTES);
        let layout = Layout::from_size_align(len, 4096).unwrap();
        // SAFETY: non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        assert!(!ptr.is_null() && ptr as usize % CACHE_LINE_BYTES == 0);
        Region { ptr, layout }
    }

    fn split(&self) -> (Producer<NoDoorbell>, Box<Consumer>) {
        // SAFETY: the region outlives both handles (they are dropped before `self`), nothing
        // else references it, and exactly one producer and one consumer attach.
        unsafe {
            let len = self.layout.size();
            assert_eq!(rampart_ring::init(self.ptr, len).unwrap(), RING_BYTES);
            let tx = Producer::attach(self.ptr, len, NoDoorbell).unwrap();
            let rx = Box::new(Consumer::attach(self.ptr, len).unwrap());
            (tx, rx)
        }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr, self.layout) }
    }
}

/// Waits for the other thread: spin, and yield now and then (the machine may be shared).
#[inline]
fn backoff(spins: &mut u32) {
    *spins = spins.wrapping_add(1);
    if *spins % 64 == 0 {
        std::thread::yield_now();
    } else {
        std::hint::spin_loop();
    }
}

/// Runs `produce` and `consume` on two threads, released together; returns the time until both
/// are done.
fn run_pair(produce: impl FnOnce() + Send, consume: impl FnOnce() + Send) -> Duration {
    let start = Barrier::new(3);
    std::thread::scope(|s| {
        s.spawn(|| {
            start.wait();
            produce();
        });
        s.spawn(|| {
            start.wait();
            consume();
        });
        start.wait();
        let t0 = Instant::now();
        // Scope end joins both threads.
        t0
    })
    .elapsed()
}

/// How the rampart producer sends.
#[derive(Clone, Copy)]
enum Mode {
    /// `try_write_frame`: staged, published every `PUBLISH_BATCH_BYTES`, flushed when full.
    Batched,
    /// `try_write_frame` then `publish`: one tail store per message, like rtrb's `push`.
    PublishEach,
    /// `try_send_frame`: publish and wake check (a SeqCst fence) per message.
    SendEach,
}

fn rampart(message_bytes: usize, messages: u64, mode: Mode) -> Duration {
    let region = Region::new();
    let (mut tx, mut rx) = region.split();
    run_pair(
        move || {
            let mut msg = vec![0xabu8; message_bytes];
            let mut spins = 0;
            for seq in 0..messages {
                msg[..8].copy_from_slice(&seq.to_le_bytes());
                loop {
                    let sent = match mode {
                        Mode::Batched => tx.try_write_frame(&msg),
                        Mode::PublishEach => tx.try_write_frame(&msg).map(|()| tx.publish()),
                        Mode::SendEach => tx.try_send_frame(&msg),
                    };
                    match sent {
                        Ok(()) => break,
                        // A full ring has flushed itself; wait for room.
                        Err(RingError::Full) => backoff(&mut spins),
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            tx.flush();
        },
        move || {
            let mut buf = vec![0u8; message_bytes];
            let mut spins = 0;
            let mut seq = 0u64;
            while seq < messages {
                match rx.try_recv_frame_into(&mut buf) {
                    Ok(Some(len)) => {
                        assert_eq!(len, message_bytes);
                        assert_eq!(u64::from_le_bytes(buf[..8].try_into().unwrap()), seq);
                        black_box(&buf);
                        seq += 1;
                    }
                    Ok(None) => backoff(&mut spins),
                    Err(e) => panic!("{e}"),
                }
            }
        },
    )
}

fn rtrb_small(messages: u64) -> Duration {
    let (mut tx, mut rx) = rtrb::RingBuffer::<[u8; 64]>::new(RING_BYTES / 64);
    run_pair(
        move || {
            let mut msg = [0xabu8; 64];
            let mut spins = 0;
            for seq in 0..messages {
                msg[..8].copy_from_slice(&seq.to_le_bytes());
                while tx.push(msg).is_err() {
                    backoff(&mut spins);
                }
            }
        },
        move || {
            let mut spins = 0;
            let mut seq = 0u64;
            while seq < messages {
                match rx.pop() {
                    Ok(buf) => {
                        assert_eq!(u64::from_le_bytes(buf[..8].try_into().unwrap()), seq);
                        black_box(&buf);
                        seq += 1;
                    }
                    Err(_) => backoff(&mut spins),
                }
            }
        },
    )
}

fn rtrb_large(messages: u64) -> Duration {
    const LEN: usize = 4096;
    let (mut tx, mut rx) = rtrb::RingBuffer::<u8>::new(RING_BYTES);
    run_pair(
        move || {
            let mut msg = vec![0xabu8; LEN];
            let mut spins = 0;
            for seq in 0..messages {
                msg[..8].copy_from_slice(&seq.to_le_bytes());
                while tx.push_entire_slice(&msg).is_err() {
                    backoff(&mut spins);
                }
            }
        },
        move || {
            let mut buf = vec![0u8; LEN];
            let mut spins = 0;
            let mut seq = 0u64;
            while seq < messages {
                match rx.pop_entire_slice(&mut buf) {
                    Ok(()) => {
                        assert_eq!(u64::from_le_bytes(buf[..8].try_into().unwrap()), seq);
                        black_box(&buf);
                        seq += 1;
                    }
                    Err(_) => backoff(&mut spins),
                }
            }
        },
    )
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

/// A ring under test: its label and one timed round.
type Contender<'a> = (&'a str, &'a dyn Fn() -> Duration);

/// Runs the baseline and each contender `ROUNDS` times, interleaved (the order rotates every
/// round), and prints for each the median rate and the median of its per-round ratio to the
/// baseline run next to it in time — which cancels most of the drift of a shared machine.
fn compare(title: &str, units: f64, unit: &str, scale: f64, baseline: Contender, contenders: &[Contender]) {
    let all: Vec<&Contender> = std::iter::once(&baseline).chain(contenders).collect();
    let mut rates = vec![Vec::new(); all.len()];
    for round in 0..ROUNDS {
        for k in 0..all.len() {
            let i = (round + k) % all.len();
            rates[i].push(units / (all[i].1)().as_secs_f64());
        }
    }
    println!("{title}");
    let base = &rates[0];
    println!("  {:<40} {:8.2} {unit}", baseline.0, median(base.clone()) / scale);
    for (i, (label, _)) in contenders.iter().enumerate() {
        let ratios = rates[i + 1].iter().zip(base).map(|(r, b)| r / b).collect();
        println!("  {:<40} {:8.2} {unit}   ratio rampart/rtrb {:.2}", label, median(rates[i + 1].clone()) / scale, median(ratios));
    }
}

fn main() {
    // `cargo bench` passes `--bench`; anything else (e.g. `cargo test --benches`) gets one short
    // round, to check that the benchmark runs.
    let quick = !std::env::args().any(|a| a == "--bench");
    let scale = if quick { 100 } else { 1 };
    let (small, large) = (SMALL_MESSAGES / scale, LARGE_MESSAGES / scale);
    println!("rampart-ring vs rtrb, two threads, {} KiB rings, medians of {ROUNDS} interleaved rounds", RING_BYTES / 1024);
    // `RING_BENCH=small` or `RING_BENCH=large` runs one case only (for profiling).
    let only = std::env::var("RING_BENCH").unwrap_or_default();
    if only != "large" {
        compare(
            &format!("64 B messages ({small} per round):"),
            small as f64,
            "M msg/s",
            1e6,
            ("rtrb push/pop of [u8; 64]", &|| rtrb_small(small)),
            &[
                ("rampart try_write_frame, batched", &|| rampart(64, small, Mode::Batched)),
                ("rampart try_write_frame + publish", &|| rampart(64, small, Mode::PublishEach)),
                ("rampart try_send_frame", &|| rampart(64, small, Mode::SendEach)),
            ],
        );
    }
    if only != "small" {
        compare(
            &format!("4 KiB messages ({large} per round):"),
            large as f64 * 4096.0,
            "GiB/s",
            (1u64 << 30) as f64,
            ("rtrb push/pop_entire_slice of 4096 u8", &|| rtrb_large(large)),
            &[
                ("rampart try_write_frame, batched", &|| rampart(4096, large, Mode::Batched)),
                ("rampart try_write_frame + publish", &|| rampart(4096, large, Mode::PublishEach)),
                ("rampart try_send_frame", &|| rampart(4096, large, Mode::SendEach)),
            ],
        );
    }
}
