//! Test component: the bystander of the hostile-PD tests. It does [`ROUNDS`] rounds of work, each
//! an alarm [`PERIOD_NS`] after the last, and then ends the system with [`STATUS`]: the status
//! proves that the system ran on past whatever the hostile PD did, and that this PD got its turns.
#![no_std]
#![no_main]

use rampart_runtime::{clock, exit_system, ChannelSet, Handler};

const ROUNDS: u32 = 20;
const PERIOD_NS: u64 = 10_000_000;
/// Its own status, which no hostile PD uses.
const STATUS: u8 = 42;

struct Keeper {
    rounds: u32,
}

impl Handler for Keeper {
    fn notified(&mut self, channels: ChannelSet) {
        if !channels.alarm() {
            return;
        }
        self.rounds += 1;
        if self.rounds == ROUNDS {
            defmt::info!("{} rounds done, at {} ms on the system clock", ROUNDS, clock::now_ns() / 1_000_000);
            exit_system(STATUS);
        }
        clock::set_alarm(clock::now_ns() + PERIOD_NS);
    }
}

fn init() -> Keeper {
    clock::set_alarm(clock::now_ns() + PERIOD_NS);
    Keeper { rounds: 0 }
}

rampart_runtime::pd_main!(init);
