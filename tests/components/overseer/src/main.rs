//! Test component: calls `write_intruder` (which faults on every call) every 10 ms, eight times,
//! and checks that each call fails with LABEL_CALL_FAILED rather than blocking, and that the
//! region `evidence`, which the intruder maps read-only, is intact. Then it ends the system with
//! 10 + the intruder's lives (from the region `lives`), or 100 if something was wrong.
#![no_std]
#![no_main]

rampart_runtime::bindings!();

use rampart_runtime::{clock, exit_system, ChannelSet, Handler, Message, LABEL_CALL_FAILED};

const CALLS: u32 = 8;
const PERIOD_NS: u64 = 10_000_000;
const MARK: u64 = 0x600d_600d;

struct Overseer {
    calls: u32,
    wrong: bool,
}

impl Handler for Overseer {
    fn notified(&mut self, channels: ChannelSet) {
        if !channels.alarm() {
            return;
        }
        self.calls += 1;
        let label = if self.calls == 1 { 2 } else { 1 };
        let answer = channels::INTRUDER.pp_call(&Message::new(label));
        if answer.label() != LABEL_CALL_FAILED {
            defmt::error!("call {} answered with label {}, not LABEL_CALL_FAILED", self.calls, answer.label());
            self.wrong = true;
        }
        if regions::EVIDENCE.read_u64(0).ok() != Some(MARK) {
            defmt::error!("the evidence was changed");
            self.wrong = true;
        }
        if self.calls < CALLS {
            clock::set_alarm(clock::now_ns() + PERIOD_NS);
            return;
        }
        let lives = regions::LIVES.read_u64(0).unwrap_or(0);
        defmt::info!("{} calls failed cleanly; the intruder had {} lives", CALLS, lives);
        exit_system(if self.wrong { 100 } else { 10 + lives.min(50) as u8 });
    }
}

fn init() -> Overseer {
    let _ = regions::EVIDENCE.write_u64(0, MARK);
    clock::set_alarm(clock::now_ns() + PERIOD_NS);
    Overseer { calls: 0, wrong: false }
}

rampart_runtime::pd_main!(init);
