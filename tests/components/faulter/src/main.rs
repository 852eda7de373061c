//! Test component: counts its lives in the shared region `lives` (which survives restarts),
//! checks that its private memory is fresh in each, and faults whenever it is called: label 2
//! reads memory it was not given at all, any other label writes the region `evidence`, which it
//! maps read-only. Uses nothing but the runtime, so it runs on both backends.
#![no_std]
#![no_main]

rampart_runtime::bindings!();

use core::sync::atomic::{AtomicU64, Ordering};
use rampart_runtime::{ChannelSet, Handler, Message, Unhandled};

/// Where system.xml maps `evidence` (read-only here).
const EVIDENCE_VADDR: usize = 0x400_0000;
/// An address nothing is mapped at in this PD.
const UNMAPPED_VADDR: usize = 0x600_0000;

/// Private state: zero at the start of every life, whatever the previous life did.
static PRIVATE_MARK: AtomicU64 = AtomicU64::new(0);

struct Faulter;

impl Handler for Faulter {
    fn notified(&mut self, _channels: ChannelSet) {}

    fn protected(&mut self, _channel: u8, m: &Message) -> Result<Message, Unhandled> {
        if m.label() == 2 {
            // SAFETY: none; this is the point: the read must fault (nothing is mapped there).
            let v = unsafe { core::ptr::read_volatile(UNMAPPED_VADDR as *const u64) };
            return Ok(Message::new(v));
        }
        // SAFETY: none; this is the point: the mapping is read-only, so the write must fault.
        unsafe { core::ptr::write_volatile(EVIDENCE_VADDR as *mut u64, 0xbad) };
        Ok(Message::new(0))
    }
}

fn init() -> Faulter {
    let previous = PRIVATE_MARK.swap(0xdead, Ordering::Relaxed);
    assert_eq!(previous, 0, "private memory survived a restart");
    let life = regions::LIVES.read_u64(0).unwrap_or(0) + 1;
    let _ = regions::LIVES.write_u64(0, life);
    defmt::info!("life {}", life);
    Faulter
}

rampart_runtime::pd_main!(init);
