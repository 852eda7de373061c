//! Test component: a client of the timer PD. Run as `fast` ([`FAST_ROUNDS`] timeouts of
//! [`FAST_PERIOD_NS`]) or `slow` ([`SLOW_ROUNDS`] of [`SLOW_PERIOD_NS`], then one of
//! [`LONG_NS`], longer than a PIT shot). Before its first real timeout each sets one that it
//! cancels at once: if that one still came, a notification would arrive before the real
//! deadline, and an early notification fails the system (status 1). `fast` notifies `slow` when
//! done; `slow` ends the system with 0 once both are done.
#![no_std]
#![no_main]

use rampart_runtime::timeout::{cancel_timeout, set_timeout, set_timeout_after};
use rampart_runtime::{clock, exit_system, pd_name, ChannelSet, Handler};

rampart_runtime::bindings!();

const FAST_ROUNDS: u32 = 40;
const FAST_PERIOD_NS: u64 = 2_000_000;
const SLOW_ROUNDS: u32 = 12;
const SLOW_PERIOD_NS: u64 = 7_000_000;
/// Longer than one PIT shot (about 55 ms): the timer PD must re-arm.
const LONG_NS: u64 = 120_000_000;
/// The decoy timeout, set and cancelled at once: were it delivered, it would land while a real
/// timeout is pending, before its deadline.
const DECOY_NS: u64 = 30_000_000;

struct Client {
    fast: bool,
    rounds: u32,
    deadline_ns: u64,
    late_max_ns: u64,
    done: bool,
    peer_done: bool,
}

impl Client {
    fn rounds_max(&self) -> u32 {
        if self.fast {
            FAST_ROUNDS
        } else {
            SLOW_ROUNDS + 1
        }
    }

    fn next(&mut self) {
        let after = if self.fast {
            FAST_PERIOD_NS
        } else if self.rounds < SLOW_ROUNDS {
            SLOW_PERIOD_NS
        } else {
            LONG_NS
        };
        self.deadline_ns = clock::now_ns() + after;
        set_timeout(&channels::TIMER, self.deadline_ns).expect("the timer PD takes the timeout");
    }

    fn finish_if_done(&self) {
        if !self.fast && self.done && self.peer_done {
            defmt::info!("both clients done");
            exit_system(0);
        }
    }
}

impl Handler for Client {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.contains(channels::PEER.id()) {
            self.peer_done = true;
            self.finish_if_done();
        }
        if channels.contains(channels::TIMER.id()) && !self.done {
            let now = clock::now_ns();
            if now < self.deadline_ns {
                defmt::error!("timeout {} came {} ns early", self.rounds, self.deadline_ns - now);
                exit_system(1);
            }
            self.late_max_ns = self.late_max_ns.max(now - self.deadline_ns);
            self.rounds += 1;
            if self.rounds < self.rounds_max() {
                self.next();
            } else {
                self.done = true;
                defmt::info!("{} timeouts, none early, latest by {} us", self.rounds, self.late_max_ns / 1000);
                if self.fast {
                    channels::PEER.notify();
                }
                self.finish_if_done();
            }
        }
    }
}

fn init() -> Client {
    let fast = pd_name() == "fast";
    let mut c = Client { fast, rounds: 0, deadline_ns: 0, late_max_ns: 0, done: false, peer_done: false };
    set_timeout_after(&channels::TIMER, DECOY_NS).expect("the timer PD takes the decoy");
    cancel_timeout(&channels::TIMER).expect("the timer PD cancels the decoy");
    c.next();
    c
}

rampart_runtime::pd_main!(init);
