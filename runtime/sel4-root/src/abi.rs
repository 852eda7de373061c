//! The few seL4 5.0.0 ABI constants the root task uses, for x86_64 with the configuration in
//! `images/qemu-x86_64/autoconf.h` (debug build, no VT-x, one node, no hardware debug API).
//!
//! Each constant names the file of the kernel tree (`seL4/` in the `sel4-sys` 0.0.28 crate) it
//! comes from. Labels and syscall numbers depend on the configuration (conditional entries in the
//! XML shift the numbering), so `rampart build` does not trust this file: after building the
//! kernel it compiles a probe against the headers that build generated and refuses to build the
//! root task if any value marked "probed" here differs (src/sel4/abi_check.rs). The rest are
//! bit layouts from `.bf` files, which do not depend on the configuration. A later task generates
//! all of them from the XML instead.
//!
//! This file is also compiled into the `rampart` tool (by path), so the check compares the values
//! the root task is built with, not a copy.

/// The word size; a full-depth capability pointer resolves this many bits.
/// `libsel4/sel4_arch_include/x86_64/sel4/sel4_arch/constants.h`: `seL4_WordBits`.
pub const WORD_BITS: u64 = 64;

// --- System call numbers (probed) -------------------------------------------------------------
// `include/api/syscall.xml`, generated into `<build>/arch/api/syscall.h` (`enum syscall`).

/// `SysCall`: send a message and wait for the reply.
pub const SYS_CALL: i64 = -1;
/// `SysDebugPutChar`: print one character on the kernel console (only with CONFIG_DEBUG_BUILD).
pub const SYS_DEBUG_PUT_CHAR: i64 = -9;
/// `SysDebugHalt`: stop the machine (only with CONFIG_DEBUG_BUILD).
pub const SYS_DEBUG_HALT: i64 = -10;

// --- Invocation labels (probed) ---------------------------------------------------------------

/// `CNodeMint`: `libsel4/include/interfaces/sel4.xml`, interface `seL4_CNode`, generated into
/// `<build>/api/invocation.h` (`enum invocation_label`).
pub const LABEL_CNODE_MINT: u64 = 18;
/// `X86IOPortOut8`: `libsel4/arch_include/x86/interfaces/sel4arch.xml`, interface
/// `seL4_X86_IOPort`, generated into `<build>/arch/api/invocation.h` (`enum
/// arch_invocation_label`, which continues `<build>/arch/api/sel4_invocation.h`).
pub const LABEL_X86_IOPORT_OUT8: u64 = 47;

// --- Initial capabilities (probed) ------------------------------------------------------------
// `include/api/bootinfo_types.h` (the same as `libsel4/include/sel4/bootinfo_types.h`).

/// `seL4_CapInitThreadCNode`: the root task's own CNode.
pub const CAP_INIT_THREAD_CNODE: u64 = 2;
/// `seL4_CapIOPort`: the capability to every I/O port. seL4 5.0.0 has no `IOPortControl`
/// (later releases do); a narrower I/O port capability is made from this one with `CNode_Mint`.
pub const CAP_IO_PORT: u64 = 7;

// --- Errors (probed) --------------------------------------------------------------------------

/// `seL4_IllegalOperation`: `include/api/errors.h` (`seL4_Error`), the label of the reply.
pub const ERROR_ILLEGAL_OPERATION: u64 = 3;

// --- seL4_BootInfo (probed) -------------------------------------------------------------------
// `include/api/bootinfo_types.h`: a packed struct, so fields after the u8
// `initThreadCNodeSizeBits` are unaligned. Offsets in bytes.

/// `numNodes` (seL4_Word).
pub const BOOTINFO_NUM_NODES: usize = 16;
/// `ipcBuffer` (pointer to the root task's IPC buffer).
pub const BOOTINFO_IPC_BUFFER: usize = 32;
/// `empty` (seL4_SlotRegion: `start`, then `end` one past the last empty slot).
pub const BOOTINFO_EMPTY: usize = 40;
/// `untyped` (seL4_SlotRegion of the untyped memory capabilities).
pub const BOOTINFO_UNTYPED: usize = 153;

// --- Message layout (probed: the IPC buffer word index) ---------------------------------------

/// Word index of `caps_or_badges[0]` in `seL4_IPCBuffer` (`include/api/shared_types.h`): the tag,
/// `msg[seL4_MsgMaxLength = 120]` (`include/api/constants.h`), `userData`, then the extra caps.
pub const IPC_BUFFER_CAPS_WORD: usize = 122;
/// Word index of `msg[0]`; message register `i` of a message longer than the four passed in
/// registers is at word `1 + i` (`getSyscallArg` in `src/api/syscall.c` reads `buffer[i + 1]`).
pub const IPC_BUFFER_MSG_WORD: usize = 1;
/// Message registers passed in CPU registers (R10, R8, R9, R15 in that order):
/// `libsel4/sel4_arch_include/x86_64/sel4/sel4_arch/syscalls_syscall.h`.
pub const MSG_REGISTERS_IN_CPU: usize = 4;

/// `seL4_MessageInfo` bit layout: `libsel4/include/sel4/shared_types_64.bf`
/// (`label` 20 bits, `capsUnwrapped` 3, `extraCaps` 2, `length` 7, from the top down).
pub const MSG_INFO_LABEL_SHIFT: u32 = 12;
pub const MSG_INFO_EXTRA_CAPS_SHIFT: u32 = 7;
pub const MSG_INFO_LENGTH_MASK: u64 = 0x7f;

/// `seL4_AllRights` = `seL4_CapRights_new(1, 1, 1)`: `libsel4/include/sel4/shared_types.h`, bit
/// layout (`capAllowGrant`, `capAllowRead`, `capAllowWrite`, low bits) in `shared_types_64.bf`.
pub const CAP_RIGHTS_ALL: u64 = 0b111;

/// The capability data that narrows an I/O port capability to `first..=last` when minting:
/// `include/arch/x86/arch/64/mode/object/structures.bf`, block `io_port_capdata`
/// (`firstPort` 16 bits above `lastPort` 16 bits); applied by `Arch_updateCapData` in
/// `src/arch/x86/object/objecttype.c`, which refuses to widen the range.
pub const fn io_port_cap_data(first: u16, last: u16) -> u64 {
    ((first as u64) << 16) | last as u64
}
