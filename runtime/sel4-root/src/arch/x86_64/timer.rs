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

use crate::abi;
use crate::sys;
use crate::syscalls::{CPtr, IpcBuffer};
use alloc::format;
use alloc::string::String;
use rampart_spec::{IrqSource, Polarity, SystemSpec, Trigger};

/// The timer device, for messages.
pub const TIMER_DEVICE: &str = "the PIT";

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
        let _ = super::ioport_out8(ipc, self.ports, PIT_COMMAND, 0b0011_0000);
        let _ = super::ioport_out8(ipc, self.ports, PIT_CHANNEL0, count as u8);
        let _ = super::ioport_out8(ipc, self.ports, PIT_CHANNEL0, (count >> 8) as u8);
    }

    /// The interrupt was handled: let it come again.
    pub fn ack(&self, ipc: &IpcBuffer) {
        let _ = sys::irq_handler_ack(ipc, self.irq);
    }
}

/// The monitor's timer: an IRQ handler for the PIT's interrupt (ISA IRQ 0 on I/O APIC pin
/// [`PIT_IOAPIC_PIN`], edge-triggered, active high, as the ACPI tables describe it; the first user
/// vector) that signals `notification` (a badged capability to the monitor's bound
/// notification), and an I/O port capability for the PIT's ports. `slot` allocates root CNode
/// slots, naming what they are for.
pub fn make_timer(ipc: &IpcBuffer, notification: CPtr, slot: &mut dyn FnMut(&str) -> Result<CPtr, String>) -> Result<Timer, String> {
    let depth = abi::WORD_BITS as u8;
    let irq = slot("the timer's IRQ handler")?;
    let source = IrqSource::Ioapic { ioapic: 0, pin: PIT_IOAPIC_PIN as u8, vector: PIT_VECTOR as u8, trigger: Trigger::Edge, polarity: Polarity::ActiveHigh };
    super::irq_handler(ipc, &source, abi::CAP_INIT_THREAD_CNODE, irq, depth)
        .map_err(|e| format!("getting the timer's IRQ (I/O APIC pin {PIT_IOAPIC_PIN}) failed: {e}"))?;
    sys::irq_handler_set_notification(ipc, irq, notification).map_err(|e| format!("routing the timer's IRQ failed: seL4 error {e}"))?;
    let ports = slot("the timer's I/O ports")?;
    super::mint_ioports(ipc, abi::CAP_INIT_THREAD_CNODE, ports, depth, PIT_CHANNEL0, PIT_COMMAND)
        .map_err(|e| format!("minting the timer's I/O port capability failed: {e}"))?;
    Ok(Timer { ports, irq })
}

/// The PD that owns the PC's PIT, if one does: its `<irq>` is ISA IRQ 0 (I/O APIC 0, pin
/// [`PIT_IOAPIC_PIN`]) or one of its `<ioport>` ranges covers the PIT's ports. Such a PD is the
/// system's timer PD (`components/timer`), and the monitor then keeps no timer of its own.
pub fn timer_owner(spec: &SystemSpec) -> Option<&str> {
    spec.pds.iter().find_map(|pd| {
        let irq = pd.irqs.iter().any(|i| matches!(i.source, IrqSource::Ioapic { ioapic: 0, pin, .. } if u64::from(pin) == PIT_IOAPIC_PIN));
        let ports = pd.ioports.iter().any(|p| {
            let end = u32::from(p.addr) + p.size;
            u32::from(p.addr) <= u32::from(PIT_COMMAND) && end > u32::from(PIT_CHANNEL0)
        });
        (irq || ports).then_some(pd.name.as_str())
    })
}
