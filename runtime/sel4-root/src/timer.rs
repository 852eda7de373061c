//! The monitor's timer, which serves PD alarms: channel 0 of the PC's programmable interval timer
//! (i8253/i8254, I/O ports 0x40-0x43), in one-shot mode ("interrupt on terminal count"). Its
//! interrupt, ISA IRQ 0, reaches I/O APIC pin 2 on QEMU's `pc` machine (the ACPI interrupt source
//! override the kernel prints at boot: `source=0 gsi=2`), edge-triggered, active high; the kernel
//! delivers it as a signal on the monitor's notification, which is bound to the monitor's thread,
//! so it ends the monitor's receive like a message does. The kernel keeps its own tick on the
//! local APIC timer and touches the PIT only to measure the TSC at boot.
//!
//! One shot lasts at most 65535 PIT ticks (about 55 ms); a later deadline takes several shots.
//! Time itself is the TSC, as in every PD.

use crate::sys;
use crate::syscalls::{CPtr, IpcBuffer};

/// The PIT's input clock, in Hz.
pub const PIT_HZ: u64 = 1_193_182;
/// The PIT's ports: channel 0 data, then (three later) the mode/command register.
pub const PIT_CHANNEL0: u16 = 0x40;
pub const PIT_COMMAND: u16 = 0x43;
/// The I/O APIC pin ISA IRQ 0 arrives on.
pub const PIT_IOAPIC_PIN: u64 = 2;
/// The vector the PIT's interrupt is delivered on, counted from the first user vector (as
/// `<irq vector=...>` counts): a PD's IRQ must use another.
pub const PIT_VECTOR: u64 = 0;
/// Longest one-shot count (16 bits).
const COUNT_MAX: u64 = 0xffff;

/// The PIT, through an I/O port capability for ports 0x40-0x43 and an IRQ handler capability.
pub struct Timer {
    pub ports: CPtr,
    pub irq: CPtr,
}

impl Timer {
    /// Interrupt in `delay_ns` (rounded up to a PIT tick; at most one full count, about 55 ms:
    /// the caller re-arms for later deadlines).
    pub fn arm(&self, ipc: &IpcBuffer, delay_ns: u64) {
        let count = (u128::from(delay_ns) * u128::from(PIT_HZ)).div_ceil(1_000_000_000).clamp(1, u128::from(COUNT_MAX)) as u16;
        // Channel 0, low byte then high byte, mode 0 (interrupt on terminal count), binary.
        let _ = sys::ioport_out8(ipc, self.ports, PIT_COMMAND, 0b0011_0000);
        let _ = sys::ioport_out8(ipc, self.ports, PIT_CHANNEL0, count as u8);
        let _ = sys::ioport_out8(ipc, self.ports, PIT_CHANNEL0, (count >> 8) as u8);
    }

    /// The interrupt was handled: let it come again.
    pub fn ack(&self, ipc: &IpcBuffer) {
        let _ = sys::irq_handler_ack(ipc, self.irq);
    }
}
