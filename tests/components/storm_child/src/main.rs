//! Hostile test component: panics at once, in every life.
#![no_std]
#![no_main]

use rampart_runtime::{ChannelSet, Handler};

struct StormChild;

impl Handler for StormChild {
    fn notified(&mut self, _channels: ChannelSet) {}
}

fn init() -> StormChild {
    panic!("faulting at once, as in every life");
}

rampart_runtime::pd_main!(init);
