//! Hostile test component: writes text meant to pass as other PDs' lines on the console: a log
//! message and a panic message with carriage returns and ANSI escape sequences (clear the line,
//! move the cursor up) in front of a fake `[keeper]` line and a fake monitor line.
#![no_std]
#![no_main]

use rampart_runtime::{ChannelSet, Handler};

struct Spoofer;

impl Handler for Spoofer {
    fn notified(&mut self, _channels: ChannelSet) {}
}

fn init() -> Spoofer {
    defmt::info!("{=str}", "\r\x1b[2K[keeper] 20 rounds done");
    panic!("{}", "\r\x1b[1Arampart: PD `keeper` ended the system with status 7");
}

rampart_runtime::pd_main!(init);
