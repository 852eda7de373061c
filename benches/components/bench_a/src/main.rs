//! Benchmark component (benches/ipc.rs hosted, benches/sel4_ipc.rs on seL4): times
//! [`ITERATIONS`] notification round trips with bench_b (notify it, wait to be notified back),
//! then [`ITERATIONS`] protected procedure call round trips (a one-word call, a one-word reply),
//! each after [`WARMUP`] untimed ones, [`ROUNDS`] times. Logs, over all rounds,
//!
//! `BENCH notify_rtt_ns=<ns per round trip> ppcall_rtt_ns=<ns per call> iterations=<N> ..`
//!
//! and ends the system with 0 (1 if a reply was wrong).
//!
//! On seL4 each round also times the same round trips without the runtime, between the same two
//! threads through the same kernel objects (`rampart_runtime::sel4::raw`): bench_a notifies
//! bench_b over `raw`, which makes bench_b leave the runtime's event loop for a raw echo loop;
//! bench_a then times raw `seL4_Signal` + `seL4_Wait` round trips and raw `seL4_Call`s (answered
//! with `seL4_ReplyRecv`), and a last raw call (label [`LEAVE`]) sends bench_b back to the
//! runtime. Rounds interleave the four measurements (runtime notification, raw notification, raw
//! call, runtime call); after each round it logs a `BENCH_SEL4 round=<r> ..` line of cycles
//! (`clock::cycles`, the TSC) and ns per round trip, and at the end one with `round=all`.
#![no_std]
#![no_main]

rampart_runtime::bindings!();

use rampart_runtime::clock::{cycles, now_ns};
use rampart_runtime::{exit_system, ChannelSet, Handler, Message};

/// Timed round trips of each kind per round. benches/ipc.rs runs its baseline with the count it
/// reads back.
#[cfg(not(rampart_sel4))]
const ITERATIONS: u64 = 100_000;
/// Untimed round trips of each kind before timing starts, in every round.
#[cfg(not(rampart_sel4))]
const WARMUP: u64 = 10_000;
/// Rounds of measurements.
#[cfg(not(rampart_sel4))]
const ROUNDS: u64 = 1;
// Under QEMU (TCG) a round trip takes tens of microseconds: fewer of them, in interleaved rounds.
#[cfg(rampart_sel4)]
const ITERATIONS: u64 = 10_000;
#[cfg(rampart_sel4)]
const WARMUP: u64 = 1_000;
#[cfg(rampart_sel4)]
const ROUNDS: u64 = 5;
/// Label of the benchmark call: the reply is the word plus one.
const INCREMENT: u64 = 1;
/// seL4 label of the raw call that sends bench_b back to the runtime's event loop.
#[cfg(rampart_sel4)]
const LEAVE: u64 = 2;

/// Time and cycles taken by some round trips.
#[derive(Clone, Copy, Default)]
struct Span {
    ns: u64,
    cycles: u64,
}

impl Span {
    fn since(ns: u64, cycles_then: u64) -> Span {
        Span { ns: now_ns() - ns, cycles: cycles().wrapping_sub(cycles_then) }
    }

    fn add(&mut self, other: Span) {
        self.ns += other.ns;
        self.cycles += other.cycles;
    }
}

/// Spans of one round, or totals over all rounds.
#[derive(Clone, Copy, Default)]
struct Spans {
    notify: Span,
    ppcall: Span,
    raw_notify: Span,
    raw_call: Span,
}

impl Spans {
    fn add(&mut self, o: &Spans) {
        self.notify.add(o.notify);
        self.ppcall.add(o.ppcall);
        self.raw_notify.add(o.raw_notify);
        self.raw_call.add(o.raw_call);
    }
}

struct BenchA {
    round: u64,
    /// Notification round trips completed in this round.
    round_trips: u64,
    started_ns: u64,
    started_cycles: u64,
    totals: Spans,
}

/// Run `f(i)` for [`WARMUP`] untimed and then [`ITERATIONS`] timed values of `i`.
#[inline(always)]
fn measure(mut f: impl FnMut(u64)) -> Span {
    for i in 0..WARMUP {
        f(i);
    }
    let (ns, c) = (now_ns(), cycles());
    for i in 0..ITERATIONS {
        f(i);
    }
    Span::since(ns, c)
}

/// One call; a wrong reply ends the system with 1.
fn call(i: u64) {
    let mut m = Message::new(INCREMENT);
    // One word into an empty message: cannot fail.
    let _ = m.push(i);
    let reply = channels::CALL.pp_call(&m);
    if reply.label() != INCREMENT || reply.word(0) != i.wrapping_add(1) {
        wrong_reply(i, reply.label(), reply.word(0));
    }
}

#[cold]
#[inline(never)]
fn wrong_reply(i: u64, label: u64, word: u64) -> ! {
    defmt::error!("FAILED: call {} was answered with label {} word {}", i, label, word);
    exit_system(1)
}

/// The raw seL4 round trips of one round (see the crate documentation): notifications, calls.
#[cfg(rampart_sel4)]
fn raw_round() -> (Span, Span) {
    use rampart_runtime::sel4::raw;
    channels::RAW.notify();
    let notify_id = channels::NOTIFY.id();
    let notify = measure(|_| {
        raw::signal(notify_id);
        raw::wait();
    });
    let call_id = channels::CALL.id();
    let call = measure(|i| {
        let r = raw::call(call_id, INCREMENT, 1, [i, 0, 0, 0]);
        if r.label() != INCREMENT || r.mr[0] != i.wrapping_add(1) {
            wrong_reply(i, r.label(), r.mr[0]);
        }
    });
    raw::call(call_id, LEAVE, 0, [0; 4]);
    (notify, call)
}

/// `total` per round trip of `count`, with one decimal, as `whole.tenth`.
struct Per(u64, u64);

impl defmt::Format for Per {
    fn format(&self, f: defmt::Formatter<'_>) {
        let tenths = (self.0 * 10 + self.1 / 2) / self.1;
        defmt::write!(f, "{}.{}", tenths / 10, tenths % 10)
    }
}

/// A round's number, or `all` (0) for the totals.
#[cfg(rampart_sel4)]
struct Round(u64);

#[cfg(rampart_sel4)]
impl defmt::Format for Round {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self.0 {
            0 => defmt::write!(f, "all"),
            r => defmt::write!(f, "{}", r),
        }
    }
}

#[cfg(rampart_sel4)]
fn log_sel4(round: Round, s: &Spans, n: u64) {
    defmt::info!(
        "BENCH_SEL4 round={} notify_cycles={} raw_notify_cycles={} ppcall_cycles={} raw_call_cycles={} notify_ns={} raw_notify_ns={} ppcall_ns={} raw_call_ns={} iterations={}",
        round,
        Per(s.notify.cycles, n),
        Per(s.raw_notify.cycles, n),
        Per(s.ppcall.cycles, n),
        Per(s.raw_call.cycles, n),
        Per(s.notify.ns, n),
        Per(s.raw_notify.ns, n),
        Per(s.ppcall.ns, n),
        Per(s.raw_call.ns, n),
        n
    );
}

impl Handler for BenchA {
    fn notified(&mut self, set: ChannelSet) {
        if !set.contains(channels::NOTIFY.id()) {
            return;
        }
        self.round_trips += 1;
        if self.round_trips == WARMUP {
            self.started_ns = now_ns();
            self.started_cycles = cycles();
        }
        if self.round_trips < WARMUP + ITERATIONS {
            channels::NOTIFY.notify();
            return;
        }
        let mut round = Spans { notify: Span::since(self.started_ns, self.started_cycles), ..Spans::default() };
        #[cfg(rampart_sel4)]
        {
            (round.raw_notify, round.raw_call) = raw_round();
        }
        round.ppcall = measure(call);
        self.totals.add(&round);
        self.round += 1;
        #[cfg(rampart_sel4)]
        log_sel4(Round(self.round), &round, ITERATIONS);
        if self.round < ROUNDS {
            self.round_trips = 0;
            channels::NOTIFY.notify();
            return;
        }

        let (t, n) = (&self.totals, ITERATIONS * ROUNDS);
        #[cfg(rampart_sel4)]
        log_sel4(Round(0), t, n);
        defmt::info!(
            "BENCH notify_rtt_ns={} ppcall_rtt_ns={} iterations={} rounds={} notify_rtt_cycles={} ppcall_rtt_cycles={}",
            Per(t.notify.ns, n),
            Per(t.ppcall.ns, n),
            ITERATIONS,
            ROUNDS,
            Per(t.notify.cycles, n),
            Per(t.ppcall.cycles, n)
        );
        exit_system(0)
    }
}

fn init() -> BenchA {
    // The first notification of the warm-up; bench_b answers each one, and `notified` sends the next.
    channels::NOTIFY.notify();
    BenchA { round: 0, round_trips: 0, started_ns: 0, started_cycles: 0, totals: Spans::default() }
}

rampart_runtime::pd_main!(init);
