//! Test component (hosted only): the bystander next to hostile PDs. It counts its lives in the
//! shared region `lives` (which survives restarts), says in each life that its own program runs,
//! crashes on purpose in its first life so that the supervisor restarts it (from the program the
//! supervisor holds, which no PD can have replaced), and ends the system in its second.
#![no_std]
#![no_main]

rampart_runtime::bindings!();

use rampart_runtime::{clock, exit_system, ChannelSet, Handler};

/// How long the first life lasts: time for the hostile PDs next to it to try everything
/// (sequencing only; no test asserts on time).
const FIRST_LIFE_NS: u64 = 1_500_000_000;
/// How long the second life lasts before it ends the system.
const SECOND_LIFE_NS: u64 = 500_000_000;

struct Bystander {
    life: u64,
}

impl Handler for Bystander {
    fn notified(&mut self, channels: ChannelSet) {
        if !channels.alarm() {
            return;
        }
        if self.life == 1 {
            panic!("bystander: crashing on purpose in life 1, to be restarted");
        }
        defmt::info!("bystander: life {} still running its own program; ending the system", self.life);
        exit_system(0);
    }
}

fn init() -> Bystander {
    let lives = regions::LIVES;
    let life = lives.read_u64(0).unwrap_or(0) + 1;
    let _ = lives.write_u64(0, life);
    defmt::info!("bystander: life {}, running its own program", life);
    clock::set_alarm_after(if life == 1 { FIRST_LIFE_NS } else { SECOND_LIFE_NS });
    Bystander { life }
}

rampart_runtime::pd_main!(init);
