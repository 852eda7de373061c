//! Test component: the parent of `crasher`. It restarts the child on each fault and ends the
//! system with 0 once the child, in its third life, reports in after exactly two faults.
#![no_std]
#![no_main]

rampart_runtime::bindings!();

use rampart_runtime::{exit_system, ChannelSet, Child, Fault, FaultAction, FaultKind, Handler, Unhandled};

struct Nursery {
    faults: u64,
}

impl Handler for Nursery {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.contains(channels::CHILD.id()) {
            let lives = regions::LIVES.read_u64(0).unwrap_or(0);
            defmt::info!("child is up after {} faults, in life {}", self.faults, lives);
            exit_system(if self.faults == 2 && lives == 3 { 0 } else { 1 });
        }
    }

    fn fault(&mut self, child: Child, fault: &Fault) -> Result<FaultAction, Unhandled> {
        self.faults += 1;
        defmt::info!("child {} faulted ({}); restarting it", child.0, fault.kind);
        if fault.kind != FaultKind::Panic || child.0 != 7 {
            exit_system(1);
        }
        Ok(FaultAction::Restart)
    }
}

fn init() -> Nursery {
    Nursery { faults: 0 }
}

rampart_runtime::pd_main!(init);
