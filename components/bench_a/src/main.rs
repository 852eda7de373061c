//! Benchmark component (benches/ipc.rs): times [`ITERATIONS`] notification round trips with
//! bench_b (notify it, wait to be notified back), then [`ITERATIONS`] protected procedure call
//! round trips (a one-word call, a one-word reply), each after [`WARMUP`] untimed ones. Logs
//!
//! `BENCH notify_rtt_ns=<ns per round trip> ppcall_rtt_ns=<ns per call> iterations=<N>`
//!
//! and ends the system with 0 (1 if a reply was wrong).
#![no_std]
#![no_main]

rampart_runtime::bindings!();

use rampart_runtime::clock::now_ns;
use rampart_runtime::{exit_system, ChannelSet, Handler, Message};

/// Timed round trips of each kind. benches/ipc.rs runs its baseline with the count it reads back.
const ITERATIONS: u64 = 100_000;
/// Untimed round trips of each kind before timing starts.
const WARMUP: u64 = 10_000;
/// Label of the benchmark call: the reply is the word plus one.
const INCREMENT: u64 = 1;

struct BenchA {
    /// Notification round trips completed.
    round_trips: u64,
    started_ns: u64,
}

/// One call; a wrong reply ends the system with 1.
fn call(i: u64) {
    let reply = channels::CALL.pp_call(&Message::with_words(INCREMENT, &[i]).unwrap_or(Message::new(0)));
    if reply.label() != INCREMENT || reply.word(0) != i.wrapping_add(1) {
        defmt::error!("FAILED: call {} was answered with label {} word {}", i, reply.label(), reply.word(0));
        exit_system(1);
    }
}

/// Nanoseconds per round trip, with one decimal, as `whole.tenth`.
struct PerRoundTrip(u64);

impl defmt::Format for PerRoundTrip {
    fn format(&self, f: defmt::Formatter<'_>) {
        let tenths = (self.0 * 10 + ITERATIONS / 2) / ITERATIONS;
        defmt::write!(f, "{}.{}", tenths / 10, tenths % 10)
    }
}

impl Handler for BenchA {
    fn notified(&mut self, set: ChannelSet) {
        if !set.contains(channels::NOTIFY.id()) {
            return;
        }
        self.round_trips += 1;
        if self.round_trips == WARMUP {
            self.started_ns = now_ns();
        }
        if self.round_trips < WARMUP + ITERATIONS {
            channels::NOTIFY.notify();
            return;
        }
        let notify_ns = now_ns() - self.started_ns;

        for i in 0..WARMUP {
            call(i);
        }
        let started_ns = now_ns();
        for i in 0..ITERATIONS {
            call(i);
        }
        let call_ns = now_ns() - started_ns;

        defmt::info!("BENCH notify_rtt_ns={} ppcall_rtt_ns={} iterations={}", PerRoundTrip(notify_ns), PerRoundTrip(call_ns), ITERATIONS);
        exit_system(0)
    }
}

fn init() -> BenchA {
    // The first notification of the warm-up; bench_b answers each one, and `notified` sends the next.
    channels::NOTIFY.notify();
    BenchA { round_trips: 0, started_ns: 0 }
}

rampart_runtime::pd_main!(init);
