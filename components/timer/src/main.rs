//! The timer PD: owns a hardware timer and serves timeouts to the PDs that may call it
//! (protocol: `rampart_runtime::timeout`).
//!
//! The hardware is the PC's programmable interval timer (i8253/i8254), declared in system.xml as
//! the PD's I/O ports 0x40-0x43 (`<ioport id="0" addr="0x40" size="4"/>`) and its interrupt, ISA
//! IRQ 0, which QEMU's `pc` machine wires to I/O APIC pin 2 (`<irq id="62" pin="2" .../>`). The
//! PIT runs in mode 0 (interrupt on terminal count), one shot at a time, each at most
//! [`COUNT_MAX`] ticks of [`PIT_HZ`] (about 55 ms): a later deadline takes several shots. Time
//! itself is the system clock (`clock::now_ns`, the TSC), the same in every PD, so a client can
//! check that its timeout never comes early; a timeout comes late by the PIT's resolution (one
//! tick, 838 ns) plus scheduling.
//!
//! Each client channel (`channels::CALLERS`: peers that may call this PD and that it may notify)
//! holds one timeout. The PD keeps no other state, so a restart loses only pending timeouts.
//! While this PD owns the PIT, the monitor has no timer, and `clock::set_alarm` is refused on seL4.
#![no_std]
#![no_main]

use rampart_runtime::timeout::{LABEL_CANCEL, LABEL_OK, LABEL_SET};
use rampart_runtime::{clock, ChannelSet, Handler, IoPorts, Irq, Message, Unhandled, LABEL_MALFORMED};

rampart_runtime::bindings!();

/// The PIT's ports: channel 0's data port at offset 0, the mode/command register at offset 3.
const PIT: IoPorts = ioports::IOPORT_0;
const CHANNEL0: u16 = 0;
const COMMAND: u16 = 3;
/// Channel 0, low byte then high byte, mode 0 (interrupt on terminal count), binary counting.
const MODE0_CHANNEL0: u8 = 0b0011_0000;
/// The PIT's interrupt, on channel id 62 (client channels use the others).
const PIT_IRQ: Irq = irqs::IRQ_62;
/// The PIT's input clock, in Hz.
const PIT_HZ: u64 = 1_193_182;
/// Longest one-shot count (16 bits): about 54.9 ms.
const COUNT_MAX: u64 = 0xffff;
/// No timeout set on a channel.
const NONE: u64 = u64::MAX;
/// Channel ids run 0 to 62.
const CHANNELS_MAX: usize = 63;

struct Timer {
    /// Deadline on the system clock per client channel id, [`NONE`] when none.
    deadlines: [u64; CHANNELS_MAX],
}

impl Timer {
    /// Notify every client whose deadline passed, then arm the PIT for the earliest one left.
    fn service(&mut self) {
        let now = clock::now_ns();
        let mut next = NONE;
        for client in channels::CALLERS {
            let d = &mut self.deadlines[usize::from(client.id())];
            if *d == NONE {
                continue;
            }
            if *d <= now {
                *d = NONE;
                client.notify();
            } else {
                next = next.min(*d);
            }
        }
        if next != NONE {
            arm(next - now);
        }
    }
}

/// Interrupt in `delay_ns`, rounded up to a PIT tick and capped at one full count.
fn arm(delay_ns: u64) {
    let ticks = (u128::from(delay_ns) * u128::from(PIT_HZ)).div_ceil(1_000_000_000);
    let count = ticks.clamp(1, u128::from(COUNT_MAX)) as u16;
    let [low, high] = count.to_le_bytes();
    // In range by construction (the ports come from system.xml with size 4): a refusal would be a
    // system.xml without the PIT's ports, which the checks in `init` already caught.
    let _ = PIT.out8(COMMAND, MODE0_CHANNEL0);
    let _ = PIT.out8(CHANNEL0, low);
    let _ = PIT.out8(CHANNEL0, high);
}

impl Handler for Timer {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.contains(PIT_IRQ.id()) {
            PIT_IRQ.ack();
            self.service();
        }
    }

    fn protected(&mut self, channel: u8, m: &Message) -> Result<Message, Unhandled> {
        if !channels::CALLERS.iter().any(|c| c.id() == channel) {
            return Ok(Message::new(LABEL_MALFORMED));
        }
        let slot = usize::from(channel);
        match (m.label(), m.words()) {
            (LABEL_SET, [deadline_ns]) => self.deadlines[slot] = (*deadline_ns).min(NONE - 1),
            (LABEL_CANCEL, []) => self.deadlines[slot] = NONE,
            _ => return Ok(Message::new(LABEL_MALFORMED)),
        }
        self.service();
        Ok(Message::new(LABEL_OK))
    }
}

fn init() -> Timer {
    assert!(PIT.size() >= 4, "the timer PD needs the PIT's four I/O ports 0x40-0x43 as <ioport id=\"0\">");
    defmt::info!("PIT timer serving {} client channel(s)", channels::CALLERS.len());
    Timer { deadlines: [NONE; CHANNELS_MAX] }
}

rampart_runtime::pd_main!(init);
