//! The root task's heap: a bump allocator over a static array. The root task allocates while it
//! decodes the spec and builds the system, once, at boot; freed memory is not reused (except the
//! most recent allocation, which is what a growing `Vec` frees). Running out is a panic
//! ("memory allocation of N bytes failed"), which the panic handler reports.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicUsize, Ordering};

/// Bytes of the heap (in .bss, which the kernel's loader zeroes).
/// 4 MiB: a 13-PD cluster (5 replicas with 16 MiB heaps each, 2 client PDs) used about
/// 620 KiB (and the default 8-PD cluster 345 KiB); 512 KiB ran out at 13 PDs. The next limit
/// for larger systems is the root CNode (2^16 slots; that cluster used 34,020).
pub const HEAP_BYTES: usize = 4 << 20;

#[repr(C, align(4096))]
struct Heap(UnsafeCell<[u8; HEAP_BYTES]>);

// SAFETY: the root task is single-threaded; the allocator hands out disjoint ranges.
unsafe impl Sync for Heap {}

static HEAP: Heap = Heap(UnsafeCell::new([0; HEAP_BYTES]));
/// Offset of the first free byte.
static NEXT: AtomicUsize = AtomicUsize::new(0);

struct Bump;

// SAFETY: `alloc` returns ranges of HEAP that do not overlap any live allocation (the offset
// only moves forward, except that freeing the newest allocation moves it back to that
// allocation's start), aligned as asked, or null when the heap is full.
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = HEAP.0.get() as usize;
        let next = NEXT.load(Ordering::Relaxed);
        let start = (base + next).next_multiple_of(layout.align()) - base;
        match start.checked_add(layout.size()) {
            Some(end) if end <= HEAP_BYTES => {
                NEXT.store(end, Ordering::Relaxed);
                (base + start) as *mut u8
            }
            _ => core::ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let base = HEAP.0.get() as usize;
        if ptr as usize + layout.size() == base + NEXT.load(Ordering::Relaxed) {
            NEXT.store(ptr as usize - base, Ordering::Relaxed);
        }
    }
}

#[global_allocator]
static ALLOCATOR: Bump = Bump;

/// Bytes of the heap in use (including what was freed but not reclaimed).
pub fn used_bytes() -> usize {
    NEXT.load(Ordering::Relaxed)
}
