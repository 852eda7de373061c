//! Test component: a PD that uses `alloc` through the runtime's heap ([`HEAP_BYTES`]) and draws
//! fresh randomness. It builds a Vec, a BTreeMap and Boxes, frees and rebuilds them (so freed
//! memory is reused: the rounds together allocate several times the heap), checks that a request
//! larger than the heap fails cleanly (`try_reserve`), draws 32 random bytes twice and checks
//! they differ, then ends the system with 0 (1 on any failure, after a defmt error).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use rampart_runtime::{entropy, exit_system, ChannelSet, Handler};

rampart_runtime::bindings!();

const HEAP_BYTES: usize = 1 << 20;

/// Rounds of fill-and-drop, each about a quarter of the heap.
const ROUNDS: usize = 16;

struct HeapUser;

impl Handler for HeapUser {
    fn notified(&mut self, _channels: ChannelSet) {}
}

fn fail(what: &str) -> ! {
    defmt::error!("heap_user: {=str}", what);
    exit_system(1)
}

fn init() -> HeapUser {
    for round in 0..ROUNDS {
        let mut v: Vec<u64> = Vec::new();
        for i in 0..(HEAP_BYTES / 4 / 16) as u64 {
            v.push(i * round as u64);
        }
        let mut m: BTreeMap<u64, Box<[u8; 32]>> = BTreeMap::new();
        for i in 0..256u64 {
            m.insert(i, Box::new([i as u8; 32]));
        }
        if v.iter().enumerate().any(|(i, x)| *x != i as u64 * round as u64) || m.values().enumerate().any(|(i, b)| b[31] != i as u8) {
            fail("memory did not keep what was written");
        }
    }
    let mut huge: Vec<u8> = Vec::new();
    if huge.try_reserve(HEAP_BYTES * 4).is_ok() && rampart_runtime::heap::BOUNDED {
        fail("a request four times the heap succeeded");
    }
    let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
    if entropy::fill(&mut a).is_err() || entropy::fill(&mut b).is_err() {
        fail("no entropy");
    }
    if a == b || a == [0; 32] {
        fail("entropy repeated itself");
    }
    defmt::info!("{} rounds through a {} KiB heap; entropy ok", ROUNDS, HEAP_BYTES / 1024);
    exit_system(0)
}

rampart_runtime::pd_main!(init, heap_bytes = HEAP_BYTES);
