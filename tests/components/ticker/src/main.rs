//! Test component: sets [`ALARMS`] alarms one after another, [`PERIOD_NS`] apart, and checks that
//! each arrives and none arrives before its deadline; moves and cancels one on the way. Ends the
//! system with 0 when all is as expected.
#![no_std]
#![no_main]

use rampart_runtime::{clock, exit_system, ChannelSet, Handler};

const ALARMS: u32 = 5;
const PERIOD_NS: u64 = 2_000_000;

struct Ticker {
    fired: u32,
    deadline_ns: u64,
}

impl Handler for Ticker {
    fn notified(&mut self, channels: ChannelSet) {
        if !channels.alarm() {
            return;
        }
        let now = clock::now_ns();
        if now < self.deadline_ns {
            defmt::error!("alarm {} came {} ns early", self.fired, self.deadline_ns - now);
            exit_system(1);
        }
        self.fired += 1;
        if self.fired == ALARMS {
            defmt::info!("{} alarms arrived, none early", ALARMS);
            exit_system(0);
        }
        self.deadline_ns = now + PERIOD_NS;
        clock::set_alarm(self.deadline_ns);
    }
}

fn init() -> Ticker {
    let start = clock::now_ns();
    // An alarm set and cancelled must not fire; one moved later fires at the later time.
    clock::set_alarm(start);
    clock::cancel_alarm();
    clock::set_alarm(start + 1);
    let deadline_ns = start + PERIOD_NS;
    clock::set_alarm(deadline_ns);
    Ticker { fired: 0, deadline_ns }
}

rampart_runtime::pd_main!(init);
