//! The cluster's supervisor: the parent of every replica and USIG PD (system.xml nests them in
//! it), so each of their faults arrives here. Its policy: restart the child from its pristine
//! image, at most [`RESTARTS_MAX`] times per child; after that, leave it stopped (a cluster of
//! 2f+1 keeps serving with f stopped replicas). A restarted replica catches up by state
//! transfer; a restarted USIG comes back in a new epoch that its replica announces to the
//! others. Every decision is logged with the child's id (system.xml: replicas 0..n-1, USIGs
//! n..2n-1).
#![no_std]
#![no_main]

use rampart_runtime::{ChannelSet, Child, Fault, FaultAction, Handler, Unhandled};

rampart_runtime::bindings!();

/// Restarts per child before it is left stopped.
const RESTARTS_MAX: u32 = 8;
/// Children ids run below this.
const CHILDREN_MAX: usize = 64;

struct Supervisor {
    restarts: [u32; CHILDREN_MAX],
}

impl Handler for Supervisor {
    fn notified(&mut self, _channels: ChannelSet) {}

    fn fault(&mut self, child: Child, fault: &Fault) -> Result<FaultAction, Unhandled> {
        let Some(count) = self.restarts.get_mut(usize::from(child.0)) else {
            return Ok(FaultAction::Stop);
        };
        if *count >= RESTARTS_MAX {
            defmt::warn!("child {} faulted ({}, code {=u64:#x}) after {} restarts: leaving it stopped", child.0, fault.kind, fault.code, *count);
            return Ok(FaultAction::Stop);
        }
        *count += 1;
        defmt::warn!("child {} faulted ({}, code {=u64:#x}): restart {} of {}", child.0, fault.kind, fault.code, *count, RESTARTS_MAX);
        Ok(FaultAction::Restart)
    }
}

fn init() -> Supervisor {
    Supervisor { restarts: [0; CHILDREN_MAX] }
}

rampart_runtime::pd_main!(init);
