//! Test support: a heap-allocated, cache-line-aligned region with guard bytes around it, standing
//! in for a shared memory region, and a small deterministic PRNG.
#![allow(dead_code)]

use std::alloc::{alloc_zeroed, dealloc, Layout};

use rampart_ring::{Consumer, Doorbell, Producer, CACHE_LINE_BYTES, HEADER_BYTES};

/// Bytes of guard on each side of the region; any change to them is an out-of-bounds write.
pub const GUARD_BYTES: usize = 256;
/// What the guards hold.
pub const GUARD_BYTE: u8 = 0xA5;

/// A region of `HEADER_BYTES + capacity` bytes, accessed only through raw pointers (as shared
/// memory must be), between two guard areas.
pub struct TestRegion {
    alloc: *mut u8,
    layout: Layout,
    len_bytes: usize,
}

// SAFETY (test support): the allocation is only accessed through raw pointers and the ring, which
// may be used from any thread.
unsafe impl Send for TestRegion {}
unsafe impl Sync for TestRegion {}

impl TestRegion {
    pub fn new(capacity_bytes: usize) -> Self {
        let len_bytes = HEADER_BYTES + capacity_bytes;
        let layout = Layout::from_size_align(len_bytes + 2 * GUARD_BYTES, CACHE_LINE_BYTES).unwrap();
        // SAFETY: the layout has non-zero size.
        let alloc = unsafe { alloc_zeroed(layout) };
        assert!(!alloc.is_null());
        let region = TestRegion { alloc, layout, len_bytes };
        for i in 0..GUARD_BYTES {
            // SAFETY: both guard areas lie inside the allocation.
            unsafe {
                alloc.add(i).write_volatile(GUARD_BYTE);
                alloc.add(GUARD_BYTES + len_bytes + i).write_volatile(GUARD_BYTE);
            }
        }
        region
    }

    /// Start of the region proper (64-byte aligned).
    pub fn ptr(&self) -> *mut u8 {
        // SAFETY: inside the allocation.
        unsafe { self.alloc.add(GUARD_BYTES) }
    }

    pub fn len(&self) -> usize {
        self.len_bytes
    }

    /// Formats the region as an empty ring; returns the capacity.
    pub fn init(&self) -> usize {
        // SAFETY: the region is valid while `self` lives; no references into it exist.
        unsafe { rampart_ring::init(self.ptr(), self.len()) }.unwrap()
    }

    pub fn producer<D: Doorbell>(&self, doorbell: D) -> Producer<D> {
        // SAFETY: as in `init`; each test attaches one producer per region.
        unsafe { Producer::attach(self.ptr(), self.len(), doorbell) }.unwrap()
    }

    pub fn consumer(&self) -> Box<Consumer> {
        // SAFETY: as in `init`; each test attaches one consumer per region.
        Box::new(unsafe { Consumer::attach(self.ptr(), self.len()) }.unwrap())
    }

    pub fn write_u32(&self, offset: usize, value: u32) {
        assert!(offset + 4 <= self.len_bytes && offset % 4 == 0);
        // SAFETY: in bounds and aligned; tests corrupt the ring only while no other thread uses it.
        unsafe { self.ptr().add(offset).cast::<u32>().write_volatile(value) }
    }

    pub fn read_u32(&self, offset: usize) -> u32 {
        assert!(offset + 4 <= self.len_bytes && offset % 4 == 0);
        // SAFETY: as in `write_u32`.
        unsafe { self.ptr().add(offset).cast::<u32>().read_volatile() }
    }

    pub fn write_u8(&self, offset: usize, value: u8) {
        assert!(offset < self.len_bytes);
        // SAFETY: as in `write_u32`.
        unsafe { self.ptr().add(offset).write_volatile(value) }
    }

    /// Whether both guard areas are untouched.
    pub fn guards_intact(&self) -> bool {
        (0..GUARD_BYTES).all(|i| {
            // SAFETY: both guard areas lie inside the allocation.
            unsafe { self.alloc.add(i).read_volatile() == GUARD_BYTE && self.alloc.add(GUARD_BYTES + self.len_bytes + i).read_volatile() == GUARD_BYTE }
        })
    }
}

impl Drop for TestRegion {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.alloc, self.layout) }
    }
}

/// xorshift64*: deterministic, seedable, no dependencies.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn fill(&mut self, bytes: &mut [u8]) {
        for b in bytes {
            *b = self.next_u64() as u8;
        }
    }
}

/// A byte pattern that messages are cut from (period 251, a prime, so neighbouring messages
/// differ).
static PATTERN: [u8; 251 + 4096] = {
    let mut p = [0u8; 251 + 4096];
    let mut i = 0;
    while i < p.len() {
        p[i] = ((i % 251) * 7 + 3) as u8;
        i += 1;
    }
    p
};

/// The payload the tests send as message `seq`: `len` (at most 4096) bytes derived from `seq`.
pub fn payload_of(seq: u64, len: usize) -> &'static [u8] {
    let start = (seq % 251) as usize;
    &PATTERN[start..start + len]
}

/// Copies the payload of message `seq` into `out`.
pub fn payload(seq: u64, len: usize, out: &mut [u8]) {
    out[..len].copy_from_slice(payload_of(seq, len));
}

/// Waits a little for the other thread: spins, and yields now and then so that a test does not
/// burn a core that the other thread needs (the machine has two, often shared).
pub fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins % 64 == 0 {
        std::thread::yield_now();
    } else {
        std::hint::spin_loop();
    }
}
