//! The kernel interface: system calls and the two invocations the root task makes, over the
//! memory the kernel hands it (boot information and IPC buffer). All of the root task's `unsafe`
//! that touches the kernel is here.
//!
//! x86_64 `syscall` convention of seL4 5.0.0 (`libsel4/sel4_arch_include/x86_64/sel4/sel4_arch/
//! syscalls_syscall.h`): RDX = system call number, RDI = capability (or argument), RSI = message
//! info, R10, R8, R9, R15 = message registers 0-3; the reply comes back in RDI (badge), RSI (info)
//! and the same four registers. The kernel returns with `sysret`, which clobbers RCX and R11 and
//! leaves RSP = 0, so every stub keeps RSP in R12 (callee-saved, declared clobbered) across it.

use crate::abi;
use core::arch::asm;

/// A capability pointer in the root task's CSpace, resolved at full depth.
pub type CPtr = u64;

/// An seL4 error code (`seL4_Error`), the label of a failed invocation's reply.
pub type Error = u64;

/// Print one byte on the kernel's console (serial port).
pub fn debug_put_char(c: u8) {
    // SAFETY: SysDebugPutChar reads RDI and writes no user memory; RSP is restored from R12 and
    // the registers the kernel or `sysret` may change are declared.
    unsafe {
        asm!(
            "mov r12, rsp",
            "syscall",
            "mov rsp, r12",
            inout("rdx") abi::SYS_DEBUG_PUT_CHAR => _,
            inout("rdi") c as u64 => _,
            out("rsi") _, out("rcx") _, out("r11") _, out("r12") _,
            out("r8") _, out("r9") _, out("r10") _, out("r15") _,
            options(nostack),
        );
    }
}

/// Stop the whole machine (debug kernels only). QEMU then idles until its timeout.
pub fn debug_halt() -> ! {
    // SAFETY: as for `debug_put_char`; SysDebugHalt does not return, and if it ever did, the
    // loop below keeps the promise of `!`.
    unsafe {
        asm!(
            "mov r12, rsp",
            "syscall",
            "mov rsp, r12",
            inout("rdx") abi::SYS_DEBUG_HALT => _,
            out("rdi") _, out("rsi") _, out("rcx") _, out("r11") _, out("r12") _,
            out("r8") _, out("r9") _, out("r10") _, out("r15") _,
            options(nostack),
        );
    }
    #[allow(clippy::empty_loop)]
    loop {}
}

/// `seL4_Call` with up to four message registers in CPU registers; the reply's message info.
fn call(cap: CPtr, info: u64, mr: [u64; 4]) -> u64 {
    let reply_info: u64;
    // SAFETY: SysCall reads the capability, the message info and the four message registers
    // (and, for longer messages or extra caps, the IPC buffer, written before this call: the asm
    // is not `nomem`, so those writes are not moved past it). It writes the reply into the same
    // registers and possibly the IPC buffer, which no Rust reference points into.
    unsafe {
        asm!(
            "mov r12, rsp",
            "syscall",
            "mov rsp, r12",
            inout("rdx") abi::SYS_CALL => _,
            inout("rdi") cap => _,
            inout("rsi") info => reply_info,
            inout("r10") mr[0] => _,
            inout("r8") mr[1] => _,
            inout("r9") mr[2] => _,
            inout("r15") mr[3] => _,
            out("rcx") _, out("r11") _, out("r12") _,
            options(nostack),
        );
    }
    reply_info
}

fn message_info(label: u64, extra_caps: u64, length: u64) -> u64 {
    debug_assert!(length <= abi::MSG_INFO_LENGTH_MASK && extra_caps <= 3);
    (label << abi::MSG_INFO_LABEL_SHIFT) | (extra_caps << abi::MSG_INFO_EXTRA_CAPS_SHIFT) | length
}

fn result_of(reply_info: u64) -> Result<(), Error> {
    match reply_info >> abi::MSG_INFO_LABEL_SHIFT {
        0 => Ok(()),
        e => Err(e),
    }
}

/// The boot information frame the kernel maps for the root task (`seL4_BootInfo`, packed).
pub struct BootInfo {
    base: *const u8,
}

/// A range of CNode slots, `start..end`.
#[derive(Clone, Copy)]
pub struct SlotRegion {
    pub start: u64,
    pub end: u64,
}

impl BootInfo {
    /// # Safety
    /// `base` must be the pointer the kernel passed to `_start`: a mapped, readable frame holding
    /// an `seL4_BootInfo` that nothing writes while the root task runs.
    pub unsafe fn from_ptr(base: *const u8) -> BootInfo {
        BootInfo { base }
    }

    fn word(&self, offset: usize) -> u64 {
        // SAFETY: offsets are those of fields inside seL4_BootInfo (abi.rs), within the frame
        // `from_ptr`'s contract guarantees; the struct is packed, hence the unaligned read.
        unsafe { self.base.add(offset).cast::<u64>().read_unaligned() }
    }

    fn region(&self, offset: usize) -> SlotRegion {
        SlotRegion { start: self.word(offset), end: self.word(offset + 8) }
    }

    pub fn num_nodes(&self) -> u64 {
        self.word(abi::BOOTINFO_NUM_NODES)
    }

    pub fn empty(&self) -> SlotRegion {
        self.region(abi::BOOTINFO_EMPTY)
    }

    pub fn untyped(&self) -> SlotRegion {
        self.region(abi::BOOTINFO_UNTYPED)
    }

    pub fn ipc_buffer(&self) -> IpcBuffer {
        IpcBuffer { base: self.word(abi::BOOTINFO_IPC_BUFFER) as *mut u64 }
    }
}

/// The root task's IPC buffer: message registers beyond the fourth and extra capabilities.
pub struct IpcBuffer {
    base: *mut u64,
}

impl IpcBuffer {
    fn set_word(&self, index: usize, value: u64) {
        debug_assert!(index < 512);
        // SAFETY: the kernel maps the root task's IPC buffer (one 4 KiB frame, 512 words) at the
        // address in the boot information; indices come from abi.rs and stay inside it. Volatile:
        // the kernel reads it during the next system call.
        unsafe { self.base.add(index).write_volatile(value) }
    }

    /// Message register `i`, for the registers that do not travel in CPU registers.
    fn set_mr(&self, i: usize, value: u64) {
        debug_assert!(i >= abi::MSG_REGISTERS_IN_CPU);
        self.set_word(abi::IPC_BUFFER_MSG_WORD + i, value);
    }

    fn set_cap(&self, i: usize, cap: CPtr) {
        self.set_word(abi::IPC_BUFFER_CAPS_WORD + i, cap);
    }
}

/// `seL4_CNode_Mint`: copy the capability at `src_index` (in the CSpace rooted at `src_root`)
/// into the empty slot `dest_index` of `service`, with `rights` and capability `data` applied.
/// Six message registers (two in the IPC buffer) and one extra capability (`src_root`), as in
/// libsel4's generated stub.
#[allow(clippy::too_many_arguments)]
pub fn cnode_mint(ipc: &IpcBuffer, service: CPtr, dest_index: u64, dest_depth: u8, src_root: CPtr, src_index: u64, src_depth: u8, rights: u64, data: u64) -> Result<(), Error> {
    ipc.set_cap(0, src_root);
    ipc.set_mr(4, rights);
    ipc.set_mr(5, data);
    let info = message_info(abi::LABEL_CNODE_MINT, 1, 6);
    result_of(call(service, info, [dest_index, dest_depth as u64, src_index, src_depth as u64]))
}

/// `seL4_X86_IOPort_Out8`: write `value` to `port` if the capability covers it.
pub fn ioport_out8(cap: CPtr, port: u16, value: u8) -> Result<(), Error> {
    let info = message_info(abi::LABEL_X86_IOPORT_OUT8, 0, 2);
    result_of(call(cap, info, [port as u64, value as u64, 0, 0]))
}
