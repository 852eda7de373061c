//! Hostile test component: logs in a tight loop for ever, from `init`, without pausing.
#![no_std]
#![no_main]

use rampart_runtime::{ChannelSet, Handler};

struct Flooder;

impl Handler for Flooder {
    fn notified(&mut self, _channels: ChannelSet) {}
}

fn init() -> Flooder {
    let mut n: u64 = 0;
    loop {
        defmt::info!("flood frame {}", n);
        n = n.wrapping_add(1);
    }
}

rampart_runtime::pd_main!(init);
