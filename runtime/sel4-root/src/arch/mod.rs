//! The architecture interface of the root task: everything the system initializer, the monitor
//! and the boot path need that differs between seL4's architectures, behind one narrow set of
//! names. `builder.rs`, `monitor.rs` and `main.rs` use only these; the implementation for the
//! target the root task is compiled for is selected here with `#[cfg(target_arch = ...)]`.
//!
//! An architecture module must provide:
//!
//! - **Boot hand-off**: the `_start` symbol. The kernel starts the root task with no stack and the
//!   boot information's address in an architecture register; `_start` sets up a stack of
//!   `crate::STACK_SIZE_BYTES` and calls `crate::rampart_root_main(bootinfo: *const u8) -> !`.
//! - **System calls** (`syscalls.rs` pulls them in by path, because the PD runtime includes that
//!   file too): `call`, `send`, `recv`, `reply_recv`, `reply`, `debug_put_char`, `debug_halt`,
//!   `send_null` in the architecture's syscall convention, and `timestamp`, the free-running
//!   counter the system clock is built on (its frequency is the boot information's `tsc_mhz`).
//! - **Which specs it builds**: [`SPEC_ARCH`], the `rampart_spec::Arch` of the PDs.
//! - **Virtual memory**: [`VSPACE_ROOT`] (the object type and size of a VSpace's root),
//!   [`PAGING_LEVELS`] (every paging structure between the root and a page, top down, with the
//!   virtual address bits one of them covers), [`frame_object`] for each [`PageSize`],
//!   [`map_table`], [`map_frame`] (with the mapping's rights and caching), [`unmap_frame`],
//!   [`assign_asid`], and [`SCRATCH_VADDR`] (a page-sized hole in the root task's own VSpace).
//! - **Threads**: [`start_registers`] (the registers `TCB_WriteRegisters` sets to start a thread
//!   at an entry point with a stack) and [`call_frame_sp`] (the stack pointer a function sees on
//!   entry when it was called with a fresh stack: the monitor starts tombstones that way).
//! - **Faults**: [`describe_vm_fault`] (what a VM fault's status word means) and
//!   [`VM_FAULT_ADDR_MASK`]/[`VM_FAULT_ADDR_NOTE`] (how much of the fault address the kernel keeps).
//! - **Devices**: [`irq_handler`] (an IRQ handler capability for an `rampart_spec::IrqSource`;
//!   [`Refused::NotOnThisArch`] for a source the architecture cannot have, such as an I/O APIC
//!   pin on ARM or a GIC interrupt on x86) with [`describe_irq`], [`mint_ioports`] (x86 I/O
//!   ports; refused elsewhere), the machine's exit device ([`EXIT_CAP_INITIAL`],
//!   [`make_exit_cap`], [`exit_cap_self_test`], [`exit_machine`], [`EXIT_DEVICE`]) and the
//!   monitor's alarm timer ([`Timer`], [`make_timer`], [`timer_owner`]: the PD that owns the
//!   timer device, which then serves timeouts itself).
//!
//! What an ARM port (i.MX6 on QEMU's `sabrelite`) adds: an `arm.rs` with the `svc` syscall
//! convention and a `_start` that takes the boot information from `r0`; the ARMv7 VSpace (a
//! page directory as the root, page tables covering 1 MiB, 4 KiB and 1 MiB frames, the
//! `ARM_*_Map` invocations and `ARM_ASIDPool_Assign`); GIC interrupts (`IRQControl_Get`); no I/O
//! ports; an exit device (QEMU's semihosting or a board reset register) and a timer (the i.MX6
//! EPIT or GPT, as device memory). The ABI constants it uses go into `abi.rs` under their own
//! marked section, and `src/sel4/abi_check.rs` checks them against that kernel build; the memory
//! functions (`mem.rs`, x86 string instructions) need an ARM version too.

use crate::sys::Error;

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(not(target_arch = "x86_64"))]
compile_error!("rampart-sel4-root: only the x86_64 architecture is implemented (see src/arch/mod.rs for what a port provides)");

/// A kernel object type and the log2 of its size in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ObjectKind {
    pub object_type: u64,
    pub size_bits: u32,
}

/// One level of paging structure between a VSpace's root and a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PagingLevel {
    /// A name for messages and the index [`map_table`] dispatches on (1 is the lowest).
    pub level: u8,
    /// One structure of this level covers the virtual addresses with equal `vaddr >> shift`.
    pub shift: u32,
    pub object: ObjectKind,
}

impl PagingLevel {
    /// Whether a frame of `size` needs a structure of this level: the frame is smaller than what
    /// one structure covers (a 2 MiB frame sits directly in a page directory on x86_64, without
    /// a page table).
    pub const fn needed_for(&self, size: PageSize) -> bool {
        self.shift > size.bits()
    }
}

/// The frame sizes the builder uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageSize {
    /// The base page ([`PAGE_BITS`]).
    Small,
    /// The next size up ([`LARGE_PAGE_BITS`]): 2 MiB on x86_64.
    Large,
}

impl PageSize {
    pub const fn bits(self) -> u32 {
        match self {
            PageSize::Small => PAGE_BITS,
            PageSize::Large => LARGE_PAGE_BITS,
        }
    }

    pub const fn bytes(self) -> u64 {
        1 << self.bits()
    }

    /// The size of `bytes`, if it is one of the two.
    pub const fn of_bytes(bytes: u64) -> Option<PageSize> {
        if bytes == PageSize::Small.bytes() {
            Some(PageSize::Small)
        } else if bytes == PageSize::Large.bytes() {
            Some(PageSize::Large)
        } else {
            None
        }
    }
}

/// Why a device capability could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The kernel refused the invocation with this error.
    Kernel(Error),
    /// This architecture has no such thing (an I/O APIC pin on ARM, I/O ports on ARM, a GIC
    /// interrupt on x86): what it is and what the architecture has instead.
    NotOnThisArch(&'static str),
}

impl core::fmt::Display for Refused {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Refused::Kernel(e) => write!(f, "seL4 error {e}"),
            Refused::NotOnThisArch(why) => f.write_str(why),
        }
    }
}

impl From<Error> for Refused {
    fn from(e: Error) -> Refused {
        Refused::Kernel(e)
    }
}
