//! The seL4 5.0.0 ABI constants Rampart uses, for x86_64 with the configuration in
//! `images/qemu-x86_64/autoconf.h` (debug build, no VT-x, no IOMMU, one node, huge pages, no
//! hardware debug API).
//!
//! Each constant names the file of the kernel tree (`seL4/` in the `sel4-sys` 0.0.28 crate) it
//! comes from. Labels and syscall numbers depend on the configuration (conditional entries in the
//! interface XML shift the numbering), so `rampart build` does not trust this file: after building
//! the kernel it compiles a probe against the headers that build generated from the XML and
//! refuses to build anything if any value here differs (src/sel4/abi_check.rs checks every
//! constant in this file, and the bit layouts through the generated bitfield accessors).
//!
//! Two parts: first what every seL4 architecture has (system calls, the generic invocations,
//! initial capabilities, errors, the generic object types, the boot information, message and fault
//! layouts), with the values of this x86_64 build (some, such as the word size, the boot
//! information's offsets and the fault message layout, differ on 32-bit ARM); then, in the
//! section marked "x86_64 only" at the end, what only x86_64 has (its invocations, object types,
//! I/O ports, mapping attributes, register order), used only by the root task's `arch/x86_64/`.
//!
//! This file is compiled into three programs by path: the root task (system initializer and
//! monitor), the PD runtime's seL4 backend (`runtime/src/sel4`) and the `rampart` tool, so the
//! check compares the very values the programs are built with, not a copy.
//!
//! Note: this is the 2017 release 5.0.0, whose API predates several later changes: `TCB_Configure`
//! takes the priority and maximum controlled priority packed in one word (`seL4_PrioProps`),
//! `TCB_SetPriority` takes no authority (the invoker's own MCP bounds it), endpoint badges are 28
//! bits (notification badges 64), there is no `IOPortControl`, and user mappings are always
//! executable (the kernel never sets the XD bit).
#![allow(dead_code)]

/// The word size; a full-depth capability pointer resolves this many bits.
/// `libsel4/sel4_arch_include/x86_64/sel4/sel4_arch/constants.h`: `seL4_WordBits`.
pub const WORD_BITS: u64 = 64;

// --- System call numbers ----------------------------------------------------------------------
// `include/api/syscall.xml`, generated into `<build>/arch/api/syscall.h` (`enum syscall`).

/// `SysCall`: send a message and wait for the reply.
pub const SYS_CALL: i64 = -1;
/// `SysReplyRecv`: reply to the last caller, then wait on an endpoint.
pub const SYS_REPLY_RECV: i64 = -2;
/// `SysSend`: send on an endpoint (blocking) or signal a notification.
pub const SYS_SEND: i64 = -3;
/// `SysRecv`: wait on an endpoint or a notification.
pub const SYS_RECV: i64 = -5;
/// `SysReply`: reply to the last caller.
pub const SYS_REPLY: i64 = -6;
/// `SysDebugPutChar`: print one character on the kernel console (only with CONFIG_DEBUG_BUILD).
pub const SYS_DEBUG_PUT_CHAR: i64 = -9;
/// `SysDebugHalt`: stop the machine (only with CONFIG_DEBUG_BUILD).
pub const SYS_DEBUG_HALT: i64 = -10;
/// `SysDebugNameThread`: name a thread in the kernel's messages (only with CONFIG_DEBUG_BUILD).
pub const SYS_DEBUG_NAME_THREAD: i64 = -13;

// --- Invocation labels ------------------------------------------------------------------------
// `libsel4/include/interfaces/sel4.xml`, generated into `<build>/api/invocation.h`
// (`enum invocation_label`). The architecture's own labels continue the numbering: the x86_64
// ones are in the x86_64 section at the end.

/// `seL4_Untyped_Retype`.
pub const LABEL_UNTYPED_RETYPE: u64 = 1;
/// `seL4_TCB_WriteRegisters`.
pub const LABEL_TCB_WRITE_REGISTERS: u64 = 3;
/// `seL4_TCB_Configure`.
pub const LABEL_TCB_CONFIGURE: u64 = 5;
/// `seL4_TCB_SetPriority`.
pub const LABEL_TCB_SET_PRIORITY: u64 = 6;
/// `seL4_TCB_Suspend`.
pub const LABEL_TCB_SUSPEND: u64 = 10;
/// `seL4_TCB_Resume`.
pub const LABEL_TCB_RESUME: u64 = 11;
/// `seL4_TCB_BindNotification`.
pub const LABEL_TCB_BIND_NOTIFICATION: u64 = 12;
/// `seL4_CNode_Delete`.
pub const LABEL_CNODE_REVOKE: u64 = 14;
pub const LABEL_CNODE_DELETE: u64 = 15;
/// `seL4_CNode_Copy`.
pub const LABEL_CNODE_COPY: u64 = 17;
/// `seL4_CNode_Mint`.
pub const LABEL_CNODE_MINT: u64 = 18;
/// `seL4_CNode_SaveCaller`: move the implicit reply capability into a slot.
pub const LABEL_CNODE_SAVE_CALLER: u64 = 22;
/// `seL4_IRQHandler_Ack`.
pub const LABEL_IRQ_ACK_IRQ: u64 = 24;
/// `seL4_IRQHandler_SetNotification`.
pub const LABEL_IRQ_SET_IRQ_HANDLER: u64 = 25;
// --- Initial capabilities ---------------------------------------------------------------------
// `include/api/bootinfo_types.h` (the same as `libsel4/include/sel4/bootinfo_types.h`).

/// `seL4_CapInitThreadTCB`: the root task's own TCB.
pub const CAP_INIT_THREAD_TCB: u64 = 1;
/// `seL4_CapInitThreadCNode`: the root task's own CNode.
pub const CAP_INIT_THREAD_CNODE: u64 = 2;
/// `seL4_CapInitThreadVSpace`: the root task's own PML4.
pub const CAP_INIT_THREAD_VSPACE: u64 = 3;
/// `seL4_CapIRQControl`: the right to create IRQ handler capabilities.
pub const CAP_IRQ_CONTROL: u64 = 4;
/// `seL4_CapInitThreadASIDPool`: the ASID pool every new VSpace is assigned from.
pub const CAP_INIT_THREAD_ASID_POOL: u64 = 6;
// --- Errors -----------------------------------------------------------------------------------
// `include/api/errors.h` (`seL4_Error`): the label of a failed invocation's reply.

/// `seL4_IllegalOperation`.
pub const ERROR_ILLEGAL_OPERATION: u64 = 3;
/// `seL4_FailedLookup`: e.g. a mapping whose page table is missing.
pub const ERROR_FAILED_LOOKUP: u64 = 6;
/// `seL4_DeleteFirst`: the destination slot or mapping is occupied.
pub const ERROR_DELETE_FIRST: u64 = 8;
/// `seL4_NotEnoughMemory`: an untyped capability has no room for the objects.
pub const ERROR_NOT_ENOUGH_MEMORY: u64 = 10;

// --- Object types and sizes -------------------------------------------------------------------
// Types: `include/api/objecttype.h` (the architecture's own types continue the numbering: the
// x86_64 ones are in the x86_64 section at the end). Sizes (log2 bytes) on x86_64:
// `include/arch/x86/arch/64/mode/api/constants.h`.

pub const OBJ_UNTYPED: u64 = 0;
pub const OBJ_TCB: u64 = 1;
pub const OBJ_ENDPOINT: u64 = 2;
pub const OBJ_NOTIFICATION: u64 = 3;
/// A CNode (`seL4_CapTableObject`); its size argument is the number of slots, log2.
pub const OBJ_CNODE: u64 = 4;
pub const TCB_BITS: u32 = 11;
pub const ENDPOINT_BITS: u32 = 4;
pub const NOTIFICATION_BITS: u32 = 5;
/// One CNode slot.
pub const SLOT_BITS: u32 = 5;
/// The base page (4 KiB on every architecture seL4 supports).
pub const PAGE_BITS: u32 = 12;
/// `seL4_MaxPrio`: `include/api/constants.h` (CONFIG_NUM_PRIORITIES - 1).
pub const MAX_PRIO: u64 = 255;

// --- seL4_BootInfo ----------------------------------------------------------------------------
// `include/api/bootinfo_types.h`: a packed struct, so fields after the u8
// `initThreadCNodeSizeBits` are unaligned. Offsets in bytes.

/// `numNodes` (seL4_Word).
pub const BOOTINFO_NUM_NODES: usize = 16;
/// `ipcBuffer` (pointer to the root task's IPC buffer).
pub const BOOTINFO_IPC_BUFFER: usize = 32;
/// `empty` (seL4_SlotRegion: `start`, then `end` one past the last empty slot).
pub const BOOTINFO_EMPTY: usize = 40;
/// `initThreadCNodeSizeBits` (u8): the root CNode has 2^this slots.
pub const BOOTINFO_CNODE_SIZE_BITS: usize = 136;
/// `archInfo`: on x86, the TSC frequency in MHz (`tsc_init` in `src/plat/pc99/machine/hardware.c`).
pub const BOOTINFO_ARCH_INFO: usize = 145;
/// `untyped` (seL4_SlotRegion of the untyped memory capabilities).
pub const BOOTINFO_UNTYPED: usize = 153;
/// `untypedList`: one `seL4_UntypedDesc` per untyped capability, in slot order.
pub const BOOTINFO_UNTYPED_LIST: usize = 169;
/// `CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS`: the length of `untypedList`.
pub const BOOTINFO_UNTYPED_LIST_LEN: usize = 166;
/// `sizeof(seL4_UntypedDesc)` (packed): `paddr` (word), two padding bytes, `sizeBits`, `isDevice`.
pub const UNTYPED_DESC_BYTES: usize = 12;
pub const UNTYPED_DESC_PADDR: usize = 0;
pub const UNTYPED_DESC_SIZE_BITS: usize = 10;
pub const UNTYPED_DESC_IS_DEVICE: usize = 11;

// --- Message layout ---------------------------------------------------------------------------

/// Word index of `caps_or_badges[0]` in `seL4_IPCBuffer` (`include/api/shared_types.h`): the tag,
/// `msg[seL4_MsgMaxLength = 120]` (`include/api/constants.h`), `userData`, then the extra caps.
pub const IPC_BUFFER_CAPS_WORD: usize = 122;
/// Word index of `msg[0]`; message register `i` of a message longer than the four passed in
/// registers is at word `1 + i` (`getSyscallArg` in `src/api/syscall.c` reads `buffer[i + 1]`).
pub const IPC_BUFFER_MSG_WORD: usize = 1;
/// `sizeof(seL4_IPCBuffer)`: the bytes of an IPC buffer frame the kernel reads and writes; the
/// rest of the frame is the thread's own.
pub const IPC_BUFFER_BYTES: usize = 1024;
/// `seL4_MsgMaxLength`: most message registers in one message.
pub const MSG_MAX_LENGTH: usize = 120;
/// Message registers passed in CPU registers (R10, R8, R9, R15 in that order):
/// `libsel4/sel4_arch_include/x86_64/sel4/sel4_arch/syscalls_syscall.h`.
pub const MSG_REGISTERS_IN_CPU: usize = 4;

/// `seL4_MessageInfo` bit layout: `include/64/mode/api/shared_types.bf`
/// (`label` 20 bits, `capsUnwrapped` 3, `extraCaps` 2, `length` 7, from the top down).
pub const MSG_INFO_LABEL_SHIFT: u32 = 12;
pub const MSG_INFO_CAPS_UNWRAPPED_SHIFT: u32 = 9;
pub const MSG_INFO_EXTRA_CAPS_SHIFT: u32 = 7;
pub const MSG_INFO_LENGTH_MASK: u64 = 0x7f;

/// `seL4_AllRights` = `seL4_CapRights_new(1, 1, 1)`: `libsel4/include/sel4/shared_types.h`, bit
/// layout (`capAllowGrant`, `capAllowRead`, `capAllowWrite`, low bits) in `shared_types.bf`.
pub const CAP_RIGHTS_ALL: u64 = 0b111;
/// `seL4_CanRead` = `seL4_CapRights_new(0, 1, 0)`.
pub const CAP_RIGHTS_READ: u64 = 0b010;
/// `seL4_CanWrite` = `seL4_CapRights_new(0, 0, 1)`: on a notification, the right to signal.
pub const CAP_RIGHTS_WRITE: u64 = 0b001;
/// `seL4_CapRights_new(1, 0, 1)`: send and grant. In this release a `seL4_Call` (or a fault)
/// through an endpoint capability without the grant right leaves the caller inactive instead of
/// waiting for the reply (`sendIPC` in `src/object/endpoint.c`), so calling capabilities need it.
pub const CAP_RIGHTS_WRITE_GRANT: u64 = 0b101;

/// The capability data that gives a CNode capability a guard: `include/object/structures_64.bf`,
/// block `cnode_capdata` (`guard` 18 bits, `guardSize` 6 bits, 2 bits of padding at the bottom).
pub const fn cnode_cap_data(guard: u64, guard_size: u64) -> u64 {
    (guard << 8) | (guard_size << 2)
}

/// The `seL4_PrioProps` word `TCB_Configure` takes: `include/64/mode/api/shared_types.bf`
/// (`mcp` 8 bits above `prio` 8 bits).
pub const fn prio_props(mcp: u8, prio: u8) -> u64 {
    ((mcp as u64) << 8) | prio as u64
}

// --- Faults -----------------------------------------------------------------------------------
// A fault arrives at the fault endpoint as a message whose label is the fault type
// (`include/arch/x86/arch/api/shared_types.bf`, `seL4_Fault` tags) and whose message registers
// are laid out by `include/api/shared_types.h` and `include/arch/x86/arch/64/mode/api/constants.h`.

pub const FAULT_CAP: u64 = 1;
pub const FAULT_UNKNOWN_SYSCALL: u64 = 2;
pub const FAULT_USER_EXCEPTION: u64 = 3;
pub const FAULT_VM: u64 = 5;

/// `seL4_VMFault_IP`, `seL4_VMFault_Addr`, `seL4_VMFault_PrefetchFault`, `seL4_VMFault_FSR`.
pub const VM_FAULT_IP: usize = 0;
pub const VM_FAULT_ADDR: usize = 1;
pub const VM_FAULT_PREFETCH: usize = 2;
pub const VM_FAULT_FSR: usize = 3;
/// `seL4_CapFault_IP`, `seL4_CapFault_Addr`.
pub const CAP_FAULT_IP: usize = 0;
pub const CAP_FAULT_ADDR: usize = 1;
/// `seL4_UserException_FaultIP`, `seL4_UserException_Number`, `seL4_UserException_Code`.
pub const USER_EXCEPTION_IP: usize = 0;
pub const USER_EXCEPTION_NUMBER: usize = 3;
pub const USER_EXCEPTION_CODE: usize = 4;
/// `seL4_UnknownSyscall_FaultIP`.
pub const UNKNOWN_SYSCALL_IP: usize = 15;

// ==============================================================================================
// x86_64 only. Everything below exists on x86_64 alone (an ARM port brings its own section, with
// the `ARM_*` invocations, its object types and its `vm_attributes`); the root task uses it only
// in `arch/x86_64/`, the PD runtime only in its I/O port calls (`runtime/src/sel4/io.rs`).
// ==============================================================================================

// --- x86_64 invocation labels -------------------------------------------------------------------
// `libsel4/sel4_arch_include/x86_64/interfaces/sel4arch.xml` (`<build>/arch/api/sel4_invocation.h`)
// and `libsel4/arch_include/x86/interfaces/sel4arch.xml` (`<build>/arch/api/invocation.h`), which
// continue the generic numbering in that order.

/// `seL4_X86_PDPT_Map`.
pub const LABEL_X86_PDPT_MAP: u64 = 28;
/// `seL4_X86_PageDirectory_Map`.
pub const LABEL_X86_PAGE_DIRECTORY_MAP: u64 = 30;
/// `seL4_X86_PageTable_Map`.
pub const LABEL_X86_PAGE_TABLE_MAP: u64 = 33;
/// `seL4_X86_Page_Map`.
pub const LABEL_X86_PAGE_MAP: u64 = 37;
/// `seL4_X86_Page_Unmap`.
pub const LABEL_X86_PAGE_UNMAP: u64 = 39;
/// `seL4_X86_ASIDPool_Assign`.
pub const LABEL_X86_ASID_POOL_ASSIGN: u64 = 43;
/// `seL4_X86_IOPort_In8`: the byte read comes back in message register 0.
pub const LABEL_X86_IOPORT_IN8: u64 = 44;
/// `seL4_X86_IOPort_In16`.
pub const LABEL_X86_IOPORT_IN16: u64 = 45;
/// `seL4_X86_IOPort_In32`.
pub const LABEL_X86_IOPORT_IN32: u64 = 46;
/// `seL4_X86_IOPort_Out8`.
pub const LABEL_X86_IOPORT_OUT8: u64 = 47;
/// `seL4_X86_IOPort_Out16`.
pub const LABEL_X86_IOPORT_OUT16: u64 = 48;
/// `seL4_X86_IOPort_Out32`.
pub const LABEL_X86_IOPORT_OUT32: u64 = 49;
/// `seL4_IRQControl_GetIOAPIC`. Its last argument is not a CPU vector but an offset from the
/// first user vector (`decodeIRQControlInvocation` in `src/arch/x86/object/interrupt.c` adds
/// `irq_user_min`).
pub const LABEL_X86_IRQ_ISSUE_IRQ_HANDLER_IOAPIC: u64 = 50;

// --- x86_64 initial capabilities ----------------------------------------------------------------

/// `seL4_CapIOPort`: the capability to every I/O port. seL4 5.0.0 has no `IOPortControl`
/// (later releases do); a narrower I/O port capability is made from this one with `CNode_Mint`.
pub const CAP_IO_PORT: u64 = 7;

// --- x86_64 object types and sizes --------------------------------------------------------------
// `include/arch/x86/arch/64/mode/api/objecttype.h` (shifted by CONFIG_HUGE_PAGE), then
// `include/arch/x86/arch/api/objecttype.h`; sizes in `include/arch/x86/arch/64/mode/api/constants.h`.

pub const OBJ_X86_PDPT: u64 = 5;
pub const OBJ_X64_PML4: u64 = 6;
/// A 4 KiB frame (`seL4_X86_4K`).
pub const OBJ_X86_4K: u64 = 8;
/// A 2 MiB frame (`seL4_X86_LargePageObject`).
pub const OBJ_X86_LARGE_PAGE: u64 = 9;
pub const OBJ_X86_PAGE_TABLE: u64 = 10;
pub const OBJ_X86_PAGE_DIRECTORY: u64 = 11;
pub const LARGE_PAGE_BITS: u32 = 21;
pub const PAGE_TABLE_BITS: u32 = 12;
pub const PAGE_DIR_BITS: u32 = 12;
pub const PDPT_BITS: u32 = 12;
pub const PML4_BITS: u32 = 12;

// --- x86_64 capability data, mapping attributes, registers ----------------------------------------

/// The capability data that narrows an I/O port capability to `first..=last` when minting:
/// `include/arch/x86/arch/64/mode/object/structures.bf`, block `io_port_capdata`
/// (`firstPort` 16 bits above `lastPort` 16 bits); applied by `Arch_updateCapData` in
/// `src/arch/x86/object/objecttype.c`, which refuses to widen the range.
pub const fn io_port_cap_data(first: u16, last: u16) -> u64 {
    ((first as u64) << 16) | last as u64
}

/// `vm_attributes` of a mapping (`include/arch/x86/arch/object/structures.bf`): 0 is write-back
/// cached; this one sets the page-level cache disable bit (`x86PCDBit`, bit 1).
pub const VM_ATTRIBUTES_DEFAULT: u64 = 0;
pub const VM_ATTRIBUTES_UNCACHED: u64 = 1 << 1;

/// `TCB_WriteRegisters` writes the first `count` registers of `frameRegisters`
/// (`src/arch/x86/64/machine/registerset.c`): the instruction pointer, then the stack pointer.
pub const USER_CONTEXT_RIP: usize = 0;
pub const USER_CONTEXT_RSP: usize = 1;
