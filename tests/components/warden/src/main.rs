//! Test component: the parent of five intruders. Each must fault in the expected way; the warden
//! stays up throughout, records each report in `evidence`, and ends the system with 0 when all
//! five are in as expected (1 at the first surprise).
#![no_std]
#![no_main]

rampart_runtime::bindings!();

use rampart_runtime::{exit_system, ChannelSet, Child, Fault, FaultAction, FaultKind, Handler, Unhandled};

/// Expected fault kind of each child id (see tests/systems/isolation.xml).
const EXPECTED: [FaultKind; 5] = [
    FaultKind::Confinement, // notify_intruder: notify without the right
    FaultKind::Confinement, // call_intruder: call a channel it does not have
    FaultKind::Crash,       // write_intruder: write a read-only region
    FaultKind::Confinement, // open_intruder: open(2) after init
    FaultKind::Confinement, // socket_intruder: socket(2) after init
];

struct Warden {
    seen: u8,
}

impl Handler for Warden {
    fn notified(&mut self, _channels: ChannelSet) {}

    fn fault(&mut self, child: Child, fault: &Fault) -> Result<FaultAction, Unhandled> {
        let id = usize::from(child.0);
        match EXPECTED.get(id) {
            Some(kind) if *kind == fault.kind && self.seen & (1 << id) == 0 => {
                self.seen |= 1 << id;
                let _ = regions::EVIDENCE.write_u64(8 * id as u64, fault.code);
                defmt::info!("intruder {} stopped as expected: {} (code {})", id, fault.kind, fault.code);
            }
            _ => {
                defmt::error!("unexpected fault from child {}: {}", id, fault);
                exit_system(1);
            }
        }
        if self.seen == 0b1_1111 {
            defmt::info!("all five intruders stopped; the warden kept running");
            exit_system(0);
        }
        Ok(FaultAction::Stop)
    }
}

fn init() -> Warden {
    Warden { seen: 0 }
}

rampart_runtime::pd_main!(init);
