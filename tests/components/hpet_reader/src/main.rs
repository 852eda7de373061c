//! Test component, device memory: maps the registers of the PC's High Precision Event Timer
//! (IA-PC HPET specification 1.0a; QEMU's `pc` machine has one at physical 0xfed00000) through a
//! `<memory_region phys_addr=...>` mapped uncached, reads its general capabilities (vendor id,
//! number of comparators, the main counter's period in femtoseconds), enables the main counter
//! and checks that it counts. Ends the system with 0, or with 1 (after an error line) when the
//! registers do not read as an HPET's or the counter stands still.
//!
//! The registers are read and written 32 bits at a time through the region's address: an HPET
//! answers only 32- and 64-bit accesses, and `Region::read_bytes` reads a byte at a time.
#![no_std]
#![no_main]

use rampart_runtime::{exit_system, ChannelSet, Handler};

rampart_runtime::bindings!();

/// General capabilities and ID: bits 7:0 revision, 12:8 comparators - 1, 13 the counter is 64
/// bits wide, 15 legacy replacement routing, 31:16 vendor id; bits 63:32 (the next 32-bit word)
/// the main counter's period in femtoseconds.
const CAPABILITIES: u64 = 0x000;
const PERIOD: u64 = 0x004;
/// General configuration: bit 0 enables the main counter.
const CONFIGURATION: u64 = 0x010;
const ENABLE: u32 = 1;
/// The main counter, low word then high word.
const COUNTER_LOW: u64 = 0x0f0;
const COUNTER_HIGH: u64 = 0x0f4;
/// The specification's limit on the period: at most 100 ns.
const PERIOD_FS_MAX: u32 = 100_000_000;
/// How many times to read the counter before concluding that it stands still.
const READS_MAX: u32 = 1_000_000;

/// The register at byte `offset`.
fn register(offset: u64) -> *mut u32 {
    let hpet = regions::HPET;
    assert!(offset & 3 == 0 && offset + 4 <= hpet.size_bytes());
    (hpet.vaddr() + offset) as usize as *mut u32
}

fn read(offset: u64) -> u32 {
    // SAFETY: an aligned word inside the region `hpet`, which the backend mapped read-write
    // (uncached) at its address before init and never unmaps; volatile, because it is a device
    // register.
    unsafe { register(offset).read_volatile() }
}

fn write(offset: u64, value: u32) {
    // SAFETY: as `read`; the region is mapped writable (perms="rw").
    unsafe { register(offset).write_volatile(value) }
}

/// The 64-bit main counter, read as two words (high, low, high again until it is stable).
fn counter() -> u64 {
    loop {
        let high = read(COUNTER_HIGH);
        let low = read(COUNTER_LOW);
        if read(COUNTER_HIGH) == high {
            return (u64::from(high) << 32) | u64::from(low);
        }
    }
}

struct HpetReader;

impl Handler for HpetReader {
    fn notified(&mut self, _channels: ChannelSet) {}
}

fn init() -> HpetReader {
    let caps = read(CAPABILITIES);
    let period_fs = read(PERIOD);
    let vendor = caps >> 16;
    let comparators = ((caps >> 8) & 0x1f) + 1;
    defmt::info!("HPET: vendor {=u32:#x}, revision {=u32}, {=u32} comparators, counter period {=u32} fs", vendor, caps & 0xff, comparators, period_fs);
    if vendor == 0 || vendor == 0xffff || period_fs == 0 || period_fs > PERIOD_FS_MAX {
        defmt::error!("these registers are not an HPET's (capabilities {=u32:#x}, period {=u32} fs)", caps, period_fs);
        exit_system(1);
    }
    write(CONFIGURATION, read(CONFIGURATION) | ENABLE);
    let first = counter();
    let mut second = first;
    let mut reads = 0;
    while second == first && reads < READS_MAX {
        second = counter();
        reads += 1;
    }
    if second <= first {
        defmt::error!("the HPET main counter stands still at {=u64} after {=u32} reads", first, reads);
        exit_system(1);
    }
    let ns = (second - first) * u64::from(period_fs) / 1_000_000;
    defmt::info!("HPET main counter {=u64}, then {=u64}: it counts ({=u64} ns apart)", first, second, ns);
    exit_system(0);
}

rampart_runtime::pd_main!(init);
