//! Hostile test component: asks to end the whole system with status 0 as soon as it starts,
//! though its system file gives it no `rampart:exit_system` grant.
#![no_std]
#![no_main]

use rampart_runtime::{exit_system, ChannelSet, Handler};

struct Exiter;

impl Handler for Exiter {
    fn notified(&mut self, _channels: ChannelSet) {}
}

fn init() -> Exiter {
    defmt::info!("asking to end the system with status 0");
    exit_system(0)
}

rampart_runtime::pd_main!(init);
