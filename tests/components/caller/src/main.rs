//! Test component: calls a PD that faults on the call, then calls it again while it is stopped.
//! Both calls must come back failed (`Message::is_call_failure`) instead of hanging; ends the
//! system with 0 if so.
#![no_std]
#![no_main]

rampart_runtime::bindings!();

use rampart_runtime::{exit_system, ChannelSet, Handler, Message};

struct Caller;

impl Handler for Caller {
    fn notified(&mut self, _channels: ChannelSet) {}
}

fn init() -> Caller {
    for attempt in 1..=2u32 {
        let reply = channels::CALLEE.pp_call(&Message::new(1));
        if !reply.is_call_failure() {
            defmt::error!("call {} was answered with label {}", attempt, reply.label());
            exit_system(1);
        }
        defmt::info!("call {} failed, as it should", attempt);
    }
    exit_system(0)
}

rampart_runtime::pd_main!(init);
