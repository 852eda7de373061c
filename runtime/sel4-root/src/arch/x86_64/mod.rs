//! The x86_64 side of the architecture interface ([`crate::arch`]): the `_start` hand-off, the
//! four-level VSpace (PML4, PDPT, page directory, page table; 4 KiB and 2 MiB frames), I/O APIC
//! interrupts, I/O ports, QEMU's `isa-debug-exit` port as the exit device and the PC's PIT as the
//! monitor's timer. The system call stubs are in `syscalls.rs` next to this file (the PD runtime
//! compiles them too). The invocation labels, object types and attribute bits are the marked
//! x86_64 sections of `abi.rs`, checked against the kernel's headers.

mod timer;

use super::{ObjectKind, PageSize, PagingLevel, Refused};
use crate::abi;
use crate::sys::{invoke, Error};
use crate::syscalls::{CPtr, IpcBuffer};
use alloc::format;
use alloc::string::String;
use rampart_spec::{IrqSource, Polarity, Trigger};

pub use crate::abi::{LARGE_PAGE_BITS, PAGE_BITS};
pub use timer::{make_timer, timer_owner, Timer, TIMER_DEVICE};

// --- Boot hand-off --------------------------------------------------------------------------------

// The entry point. The kernel starts the root task with RDI = the boot information's address and
// no stack; set one up (16-byte aligned, as the System V ABI wants at a call) and call Rust.
core::arch::global_asm!(
    ".section .bss.rampart_stack,\"aw\",@nobits",
    ".p2align 4",
    "rampart_stack_bottom:",
    ".skip {stack_size}",
    "rampart_stack_top:",
    ".text",
    ".globl _start",
    ".type _start,@function",
    "_start:",
    "    lea rsp, [rip + rampart_stack_top]",
    "    xor ebp, ebp",
    "    call {main}",
    "    ud2",
    stack_size = const crate::STACK_SIZE_BYTES,
    main = sym crate::rampart_root_main,
);

/// The architecture of the PDs this root task builds.
pub const SPEC_ARCH: rampart_spec::Arch = rampart_spec::Arch::X86_64;

// --- Virtual memory -------------------------------------------------------------------------------

/// A VSpace's root: a PML4.
pub const VSPACE_ROOT: ObjectKind = ObjectKind { object_type: abi::OBJ_X64_PML4, size_bits: abi::PML4_BITS };

/// Below the PML4, top down: a PDPT covers 512 GiB, a page directory 1 GiB, a page table 2 MiB.
pub const PAGING_LEVELS: &[PagingLevel] = &[
    PagingLevel { level: 3, shift: 39, object: ObjectKind { object_type: abi::OBJ_X86_PDPT, size_bits: abi::PDPT_BITS } },
    PagingLevel { level: 2, shift: 30, object: ObjectKind { object_type: abi::OBJ_X86_PAGE_DIRECTORY, size_bits: abi::PAGE_DIR_BITS } },
    PagingLevel { level: 1, shift: 21, object: ObjectKind { object_type: abi::OBJ_X86_PAGE_TABLE, size_bits: abi::PAGE_TABLE_BITS } },
];

/// The frame object of `size`: `seL4_X86_4K` or `seL4_X86_LargePageObject`.
pub const fn frame_object(size: PageSize) -> ObjectKind {
    match size {
        PageSize::Small => ObjectKind { object_type: abi::OBJ_X86_4K, size_bits: abi::PAGE_BITS },
        PageSize::Large => ObjectKind { object_type: abi::OBJ_X86_LARGE_PAGE, size_bits: abi::LARGE_PAGE_BITS },
    }
}

/// Map the paging structure `table` of `level` (one of [`PAGING_LEVELS`]) into `vroot` so that it
/// covers `vaddr`: `X86_PDPT_Map`, `X86_PageDirectory_Map` or `X86_PageTable_Map`.
/// `seL4_DeleteFirst` means one is there already (the kernel made it at boot).
pub fn map_table(ipc: &IpcBuffer, level: &PagingLevel, table: CPtr, vroot: CPtr, vaddr: u64) -> Result<(), Error> {
    let label = match level.level {
        3 => abi::LABEL_X86_PDPT_MAP,
        2 => abi::LABEL_X86_PAGE_DIRECTORY_MAP,
        _ => abi::LABEL_X86_PAGE_TABLE_MAP,
    };
    invoke(ipc, table, label, &[vroot], &[vaddr, abi::VM_ATTRIBUTES_DEFAULT])
}

/// `X86_Page_Map`: map `frame` (4 KiB or 2 MiB) at `vaddr` in `vroot` with `rights`
/// (`abi::CAP_RIGHTS_*`), write-back cached or, when `cached` is false, with the page-level
/// cache disable bit (device memory). Execute permission cannot be withheld on this kernel.
pub fn map_frame(ipc: &IpcBuffer, frame: CPtr, vroot: CPtr, vaddr: u64, rights: u64, cached: bool) -> Result<(), Error> {
    let attr = if cached { abi::VM_ATTRIBUTES_DEFAULT } else { abi::VM_ATTRIBUTES_UNCACHED };
    invoke(ipc, frame, abi::LABEL_X86_PAGE_MAP, &[vroot], &[vaddr, rights, attr])
}

/// `X86_Page_Unmap`.
pub fn unmap_frame(ipc: &IpcBuffer, frame: CPtr) -> Result<(), Error> {
    invoke(ipc, frame, abi::LABEL_X86_PAGE_UNMAP, &[], &[])
}

/// `X86_ASIDPool_Assign` from the root task's pool: give a new VSpace root an address space id.
pub fn assign_asid(ipc: &IpcBuffer, vroot: CPtr) -> Result<(), Error> {
    invoke(ipc, abi::CAP_INIT_THREAD_ASID_POOL, abi::LABEL_X86_ASID_POOL_ASSIGN, &[vroot], &[])
}

/// Where the root task maps a frame it fills (a program page, a PD's IPC buffer): the first
/// address of the second PML4 slot, far from everything the kernel mapped for the root task
/// (its image, boot information and IPC buffer lie in the first 512 GiB).
pub const SCRATCH_VADDR: u64 = 0x80_0000_0000;

// --- Threads --------------------------------------------------------------------------------------

/// The registers `TCB_WriteRegisters` sets to start a thread at `pc` with stack pointer `sp`:
/// RIP, then RSP (`frameRegisters` in `src/arch/x86/64/machine/registerset.c`).
pub fn start_registers(pc: u64, sp: u64) -> [u64; 2] {
    let mut regs = [0u64; 2];
    regs[abi::USER_CONTEXT_RIP] = pc;
    regs[abi::USER_CONTEXT_RSP] = sp;
    regs
}

/// The stack pointer a function sees on entry as if called with a fresh stack ending at
/// `stack_top` (System V: RSP = 8 mod 16, the return address's slot).
pub const fn call_frame_sp(stack_top: u64) -> u64 {
    stack_top - 8
}

// --- Faults ---------------------------------------------------------------------------------------

/// What a VM fault was, from its status word (the x86 page-fault error code: bit 0 the page was
/// present, 1 a write, 4 an instruction fetch) and the prefetch flag: (access, why).
pub fn describe_vm_fault(fsr: u64, prefetch: u64) -> (&'static str, &'static str) {
    let access = if fsr & 0x10 != 0 || prefetch != 0 {
        "instruction fetch"
    } else if fsr & 0x2 != 0 {
        "write"
    } else {
        "read"
    };
    let why = if fsr & 0x1 != 0 { "not allowed by the mapping" } else { "nothing is mapped there" };
    (access, why)
}

/// The bits of a fault address the kernel reports: this kernel keeps only the low 32 (`handleVMFault`
/// in `src/arch/x86/kernel/vspace.c` stores CR2 in a uint32_t), so compare those.
pub const VM_FAULT_ADDR_MASK: u64 = 0xffff_ffff;
/// Said after a reported fault address.
pub const VM_FAULT_ADDR_NOTE: &str = " (the low 32 bits of the address: this kernel reports no more)";

// --- Devices --------------------------------------------------------------------------------------

/// An IRQ handler capability for `source`, into `index`/`depth` of the CNode `root`:
/// `IRQControl_GetIOAPIC` (I/O APIC, pin, level or edge, polarity, and the vector counted from
/// the first user vector). An ARM GIC interrupt is refused.
pub fn irq_handler(ipc: &IpcBuffer, source: &IrqSource, root: CPtr, index: u64, depth: u8) -> Result<(), Refused> {
    let IrqSource::Ioapic { ioapic, pin, vector, trigger, polarity } = *source else {
        return Err(Refused::NotOnThisArch("it is an ARM interrupt, and this root task builds x86_64 systems (I/O APIC interrupts only)"));
    };
    let level = u64::from(trigger == Trigger::Level);
    let low = u64::from(polarity == Polarity::ActiveLow);
    let args = [index, depth.into(), ioapic.into(), pin.into(), level, low, vector.into()];
    Ok(invoke(ipc, abi::CAP_IRQ_CONTROL, abi::LABEL_X86_IRQ_ISSUE_IRQ_HANDLER_IOAPIC, &[root], &args)?)
}

/// `source` for messages: `I/O APIC 0 pin 8, vector 1`.
pub fn describe_irq(source: &IrqSource) -> String {
    match *source {
        IrqSource::Ioapic { ioapic, pin, vector, .. } => format!("I/O APIC {ioapic} pin {pin}, vector {vector}"),
        IrqSource::Arm { irq, .. } => format!("ARM interrupt {irq}"),
    }
}

/// Why the kernel may have refused a handler for `source`, if a likely reason is known.
pub fn irq_refusal_hint(source: &IrqSource) -> &'static str {
    match *source {
        IrqSource::Ioapic { vector, .. } if u64::from(vector) == timer::PIT_VECTOR => " (the monitor's timer uses vector 0 unless a timer PD owns the PIT)",
        _ => "",
    }
}

/// An I/O port capability for ports `first..=last`, minted from `seL4_CapIOPort` into
/// `index`/`depth` of `cnode` (seL4 5.0.0 has no `IOPortControl`: `CNode_Mint` with I/O port
/// capability data narrows it, and the kernel refuses to widen it).
pub fn mint_ioports(ipc: &IpcBuffer, cnode: CPtr, index: u64, depth: u8, first: u16, last: u16) -> Result<(), Refused> {
    let full = abi::WORD_BITS as u8;
    Ok(crate::sys::cnode_mint(
        ipc,
        cnode,
        index,
        depth,
        abi::CAP_INIT_THREAD_CNODE,
        abi::CAP_IO_PORT,
        full,
        abi::CAP_RIGHTS_ALL,
        abi::io_port_cap_data(first, last),
    )?)
}

/// `X86_IOPort_Out8`: write `value` to `port` if the capability covers it.
pub fn ioport_out8(ipc: &IpcBuffer, cap: CPtr, port: u16, value: u8) -> Result<(), Error> {
    invoke(ipc, cap, abi::LABEL_X86_IOPORT_OUT8, &[], &[port.into(), value.into()])
}

// --- The exit device ------------------------------------------------------------------------------

/// The I/O port of QEMU's `isa-debug-exit` device (images/boards/qemu-x86_64.toml): writing `v`
/// ends QEMU with status `2 * v + 1`.
const EXIT_PORT: u16 = 0xf4;
/// A port the narrowed capability must not reach (the POST diagnostic port, harmless if written).
const OTHER_PORT: u16 = 0x80;

/// The exit device, for messages.
pub const EXIT_DEVICE: &str = "port 0xf4";
/// The capability the root task can exit through before [`make_exit_cap`] ran: every I/O port.
pub const EXIT_CAP_INITIAL: CPtr = abi::CAP_IO_PORT;

/// A capability to the exit device only, into root CNode `slot`; what it is, for the console.
pub fn make_exit_cap(ipc: &IpcBuffer, slot: u64) -> Result<String, String> {
    match mint_ioports(ipc, abi::CAP_INIT_THREAD_CNODE, slot, abi::WORD_BITS as u8, EXIT_PORT, EXIT_PORT) {
        Ok(()) => Ok(format!("an I/O port capability for port {EXIT_PORT:#x} only")),
        Err(e) => Err(format!("CNode_Mint of the I/O port capability failed: {e}")),
    }
}

/// The self-test of `rampart boot`: the capability [`make_exit_cap`] made must refuse any other
/// port. Ok: what was checked.
pub fn exit_cap_self_test(ipc: &IpcBuffer, cap: CPtr) -> Result<String, String> {
    match ioport_out8(ipc, cap, OTHER_PORT, 0) {
        Err(abi::ERROR_ILLEGAL_OPERATION) => Ok(format!("port {OTHER_PORT:#x} refused through it, as it must be")),
        other => Err(format!("writing port {OTHER_PORT:#x} through it gave {other:?}, expected seL4_IllegalOperation")),
    }
}

/// Write `status` to the exit device through `cap`: QEMU ends.
pub fn exit_machine(ipc: &IpcBuffer, cap: CPtr, status: u8) -> Result<(), Error> {
    ioport_out8(ipc, cap, EXIT_PORT, status)
}
