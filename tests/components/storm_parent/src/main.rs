//! Hostile test component: the parent of `storm_child`, which faults at once in every life. It
//! asks for a restart after every fault, without end. Once no fault has come for [`QUIET_NS`]
//! (the monitor held the child), it ends the system with the number of faults it saw; at
//! [`FAULTS_MAX`] faults (no monitor held it) it ends the system with that number.
#![no_std]
#![no_main]

use rampart_runtime::{clock, exit_system, ChannelSet, Child, Fault, FaultAction, Handler, Unhandled};

/// How long without a fault before the parent takes its child as held, in nanoseconds.
const QUIET_NS: u64 = 1_000_000_000;
/// Faults after which the parent gives up (more than the per-parent rate limit allows).
const FAULTS_MAX: u8 = 40;

struct StormParent {
    faults: u8,
}

impl Handler for StormParent {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.alarm() {
            defmt::info!("no fault for a while after {} faults: the child is held", self.faults);
            exit_system(self.faults);
        }
    }

    fn fault(&mut self, child: Child, fault: &Fault) -> Result<FaultAction, Unhandled> {
        self.faults += 1;
        defmt::info!("child {} faulted ({}), fault {}: restart it", child.0, fault.kind, self.faults);
        if self.faults >= FAULTS_MAX {
            exit_system(self.faults);
        }
        clock::set_alarm(clock::now_ns() + QUIET_NS);
        Ok(FaultAction::Restart)
    }
}

fn init() -> StormParent {
    StormParent { faults: 0 }
}

rampart_runtime::pd_main!(init);
