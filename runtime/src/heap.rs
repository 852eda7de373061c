//! A PD's heap, for components that use `alloc` (Vec, BTreeMap, Box).
//!
//! A component asks for one in its entry: `rampart_runtime::pd_main!(init, heap_bytes = 8 << 20)`.
//! Hosted, a PD is a process and the C library's allocator serves `alloc` (the size is not a
//! bound). On seL4 the heap is an array of that many bytes in the PD's zero-initialised data
//! (frames the system initializer creates with the rest of the program, so the boot-time memory
//! accounting covers it), managed by a first-fit free list (`linked_list_allocator`). Without
//! `heap_bytes` the heap is empty. Running out is an allocation failure, which panics the PD:
//! the monitor reports it and applies the restart policy.

/// Whether `heap_bytes` bounds this PD's allocations (seL4), or the process allocator serves
/// them (hosted).
pub const BOUNDED: bool = cfg!(rampart_sel4);

/// The arena `pd_main!` reserves: `N` bytes, handed to the runtime's allocator at the first
/// allocation.
#[doc(hidden)]
pub struct Arena<const N: usize>(pub core::cell::UnsafeCell<[u8; N]>);

// SAFETY: only the runtime's allocator touches the arena, on the PD's one thread.
unsafe impl<const N: usize> Sync for Arena<N> {}

impl<const N: usize> Arena<N> {
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Arena(core::cell::UnsafeCell::new([0; N]))
    }

    pub fn raw(&'static self) -> (*mut u8, usize) {
        (self.0.get().cast(), N)
    }
}

#[cfg(rampart_sel4)]
pub(crate) use sel4_heap::PdHeap;

#[cfg(rampart_sel4)]
mod sel4_heap {
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::{Cell, UnsafeCell};
    use core::ptr::NonNull;

    extern "Rust" {
        /// Defined by `pd_main!` in the component: its arena.
        fn __rampart_heap_arena() -> (*mut u8, usize);
    }

    /// The PD's allocator over the arena `pd_main!` reserved. A PD is one thread and the
    /// runtime never allocates in a path of its own, so no lock is needed.
    pub(crate) struct PdHeap {
        heap: UnsafeCell<linked_list_allocator::Heap>,
        ready: Cell<bool>,
    }

    // SAFETY: a PD's handler runs on its one thread; nothing else touches the heap.
    unsafe impl Sync for PdHeap {}

    impl PdHeap {
        pub(crate) const fn new() -> Self {
            PdHeap { heap: UnsafeCell::new(linked_list_allocator::Heap::empty()), ready: Cell::new(false) }
        }

        /// The free list, set up over the arena at the first use.
        #[allow(clippy::mut_from_ref)]
        fn heap(&self) -> &mut linked_list_allocator::Heap {
            // SAFETY: one thread (see `Sync`), and no caller holds the reference across another
            // call into the allocator.
            let heap = unsafe { &mut *self.heap.get() };
            if !self.ready.get() {
                // SAFETY: `pd_main!` defines the symbol in every component; the arena is that
                // component's static, used by nothing else, for the life of the program.
                let (base, size) = unsafe { __rampart_heap_arena() };
                if size > 0 {
                    // SAFETY: as above: [base, base + size) is the arena's own memory.
                    unsafe { heap.init(base, size) };
                }
                self.ready.set(true);
            }
            heap
        }
    }

    // SAFETY: allocations come from the arena through the free list, which hands out disjoint
    // blocks of at least the layout's size and alignment and takes back only what it handed out.
    unsafe impl GlobalAlloc for PdHeap {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            self.heap().allocate_first_fit(layout).map_or(core::ptr::null_mut(), NonNull::as_ptr)
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            if let Some(p) = NonNull::new(ptr) {
                // SAFETY: `ptr` came from `alloc` with this layout (GlobalAlloc's contract).
                unsafe { self.heap().deallocate(p, layout) };
            }
        }
    }
}
