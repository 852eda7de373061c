//! Devices on seL4: interrupts and x86 I/O ports, through the capabilities the initializer put in
//! the PD's CSpace (`layout.rs`).
//!
//! An `<irq id=...>` is an IRQ handler capability in `SLOT_IRQ_BASE + id`, bound to the PD's
//! notification with badge `1 << id`: the interrupt arrives in [`crate::Handler::notified`] as
//! channel `id`, and [`irq_ack`] (`IRQHandler_Ack`) lets it come again. An `<ioport id=...>` is an
//! I/O port capability narrowed to the declared range in `SLOT_IOPORT_BASE + id`; the kernel
//! refuses a port outside it. `rampart_runtime::IoPorts` checks the range before it gets here.

use super::{abi, info, layout, syscalls, violation};

/// `seL4_Call` of `label` on `cap` with `args`: the reply, or the seL4 error (the reply's label).
fn invoke(cap: u64, label: u64, args: &[u64]) -> Result<u64, u64> {
    let mut mr = [0u64; 4];
    mr[..args.len()].copy_from_slice(args);
    let r = syscalls::call(cap, syscalls::message_info(label, 0, args.len() as u64), mr);
    match r.label() {
        0 => Ok(r.mr[0]),
        e => Err(e),
    }
}

pub(crate) fn irq_ack(id: u8) {
    if let Err(e) = invoke(layout::SLOT_IRQ_BASE + u64::from(id), abi::LABEL_IRQ_ACK_IRQ, &[]) {
        violation(format_args!("PD `{}` could not acknowledge IRQ {id}: seL4 error {e}", info().name()))
    }
}

pub(crate) fn ioport_in(id: u8, port: u16, width: u8) -> u32 {
    let label = match width {
        1 => abi::LABEL_X86_IOPORT_IN8,
        2 => abi::LABEL_X86_IOPORT_IN16,
        _ => abi::LABEL_X86_IOPORT_IN32,
    };
    match invoke(layout::SLOT_IOPORT_BASE + u64::from(id), label, &[port.into()]) {
        Ok(v) => v as u32,
        Err(e) => violation(format_args!("PD `{}` could not read I/O port {port:#x} (ioport {id}): seL4 error {e}", info().name())),
    }
}

pub(crate) fn ioport_out(id: u8, port: u16, width: u8, value: u32) {
    let label = match width {
        1 => abi::LABEL_X86_IOPORT_OUT8,
        2 => abi::LABEL_X86_IOPORT_OUT16,
        _ => abi::LABEL_X86_IOPORT_OUT32,
    };
    if let Err(e) = invoke(layout::SLOT_IOPORT_BASE + u64::from(id), label, &[port.into(), value.into()]) {
        violation(format_args!("PD `{}` could not write I/O port {port:#x} (ioport {id}): seL4 error {e}", info().name()))
    }
}
