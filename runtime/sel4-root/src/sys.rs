//! The kernel objects the root task invokes, over the boot information and the root task's IPC
//! buffer. Each invocation is a `seL4_Call` on the object's capability with the invocation label
//! and arguments laid out as libsel4's generated stubs lay them out (capability arguments as
//! extra capabilities in the IPC buffer, the others in message registers in XML order, small ones
//! packed into one word where the kernel's decoder reads them so: see `tcb_write_registers`).
//!
//! These are the invocations every architecture has; the architecture's own (paging structures,
//! frames, ASIDs, interrupt sources, I/O ports) are in `arch/`. The system calls themselves and
//! all `unsafe` that enters the kernel are in `syscalls.rs` and the stubs it includes.

use crate::abi;
use crate::arch;
use crate::syscalls::{self, message_info, CPtr, IpcBuffer};

/// An seL4 error code (`seL4_Error`), the label of a failed invocation's reply.
pub type Error = u64;

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

/// One untyped memory capability, as the boot information describes it.
#[derive(Clone, Copy, Debug)]
pub struct UntypedDesc {
    pub cap: CPtr,
    /// The physical address of its first byte (aligned to its size).
    pub paddr: u64,
    pub size_bits: u8,
    pub is_device: bool,
}

impl BootInfo {
    /// # Safety
    /// `base` must be the pointer the kernel passed to `_start`: a mapped, readable frame holding
    /// an `seL4_BootInfo` that nothing writes while the root task runs.
    pub unsafe fn from_ptr(base: *const u8) -> BootInfo {
        BootInfo { base }
    }

    fn byte(&self, offset: usize) -> u8 {
        // SAFETY: offsets are those of fields inside seL4_BootInfo (abi.rs), within the frame
        // `from_ptr`'s contract guarantees.
        unsafe { self.base.add(offset).read() }
    }

    fn word(&self, offset: usize) -> u64 {
        // SAFETY: as `byte`; the struct is packed, hence the unaligned read.
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

    /// The TSC frequency in MHz (0 if the kernel could not tell).
    pub fn tsc_mhz(&self) -> u64 {
        self.word(abi::BOOTINFO_ARCH_INFO)
    }

    /// The `i`th untyped capability of [`BootInfo::untyped`].
    pub fn untyped_desc(&self, i: usize) -> Option<UntypedDesc> {
        let region = self.untyped();
        if i >= abi::BOOTINFO_UNTYPED_LIST_LEN || i as u64 >= region.end.saturating_sub(region.start) {
            return None;
        }
        let at = abi::BOOTINFO_UNTYPED_LIST + i * abi::UNTYPED_DESC_BYTES;
        Some(UntypedDesc {
            cap: region.start + i as u64,
            paddr: self.word(at + abi::UNTYPED_DESC_PADDR),
            size_bits: self.byte(at + abi::UNTYPED_DESC_SIZE_BITS),
            is_device: self.byte(at + abi::UNTYPED_DESC_IS_DEVICE) != 0,
        })
    }

    pub fn ipc_buffer(&self) -> IpcBuffer {
        // SAFETY: the kernel maps the root task's IPC buffer at this address and registers it as
        // the root task's buffer; the root task keeps no reference into it.
        unsafe { IpcBuffer::new(self.word(abi::BOOTINFO_IPC_BUFFER) as *mut u64) }
    }
}

/// Invoke `cap` with `label`, `caps` extra capabilities and `args` message registers.
pub(crate) fn invoke(ipc: &IpcBuffer, cap: CPtr, label: u64, caps: &[CPtr], args: &[u64]) -> Result<(), Error> {
    for (i, c) in caps.iter().enumerate() {
        ipc.set_cap(i, *c);
    }
    let mr = ipc.load(args);
    let reply = syscalls::call(cap, message_info(label, caps.len() as u64, args.len() as u64), mr);
    match reply.label() {
        0 => Ok(()),
        e => Err(e),
    }
}

/// `seL4_Untyped_Retype`: `count` objects of `object_type` (`size_bits` for variable-sized ones)
/// into slots `offset..offset+count` of the CNode at `node_index`/`node_depth` in `root` (depth
/// 0: `root` itself).
#[allow(clippy::too_many_arguments)]
pub fn untyped_retype(
    ipc: &IpcBuffer,
    untyped: CPtr,
    object_type: u64,
    size_bits: u64,
    root: CPtr,
    node_index: u64,
    node_depth: u64,
    offset: u64,
    count: u64,
) -> Result<(), Error> {
    invoke(ipc, untyped, abi::LABEL_UNTYPED_RETYPE, &[root], &[object_type, size_bits, node_index, node_depth, offset, count])
}

/// `seL4_CNode_Mint`: copy the capability at `src_index` (in the CSpace rooted at `src_root`)
/// into the empty slot `dest_index` of `service`, with `rights` and capability `data` applied.
#[allow(clippy::too_many_arguments)]
pub fn cnode_mint(
    ipc: &IpcBuffer,
    service: CPtr,
    dest_index: u64,
    dest_depth: u8,
    src_root: CPtr,
    src_index: u64,
    src_depth: u8,
    rights: u64,
    data: u64,
) -> Result<(), Error> {
    invoke(ipc, service, abi::LABEL_CNODE_MINT, &[src_root], &[dest_index, dest_depth.into(), src_index, src_depth.into(), rights, data])
}

/// `seL4_CNode_Delete`: empty slot `index` of `service` (the object goes with its last
/// capability: a TCB is unbound and stops, a VSpace gives back its ASID).
pub fn cnode_delete(ipc: &IpcBuffer, service: CPtr, index: u64, depth: u8) -> Result<(), Error> {
    invoke(ipc, service, abi::LABEL_CNODE_DELETE, &[], &[index, depth.into()])
}

/// `seL4_CNode_Revoke`: delete every capability derived from the one in slot `index` (for an
/// untyped: every object retyped from it goes, and its next retype starts from its beginning).
pub fn cnode_revoke(ipc: &IpcBuffer, service: CPtr, index: u64, depth: u8) -> Result<(), Error> {
    invoke(ipc, service, abi::LABEL_CNODE_REVOKE, &[], &[index, depth.into()])
}

/// `seL4_CNode_Copy`: as `cnode_mint` without capability data.
#[allow(clippy::too_many_arguments)]
pub fn cnode_copy(
    ipc: &IpcBuffer,
    service: CPtr,
    dest_index: u64,
    dest_depth: u8,
    src_root: CPtr,
    src_index: u64,
    src_depth: u8,
    rights: u64,
) -> Result<(), Error> {
    invoke(ipc, service, abi::LABEL_CNODE_COPY, &[src_root], &[dest_index, dest_depth.into(), src_index, src_depth.into(), rights])
}

/// `seL4_TCB_Configure` (5.0.0 form: priority and MCP in one `seL4_PrioProps` word).
#[allow(clippy::too_many_arguments)]
pub fn tcb_configure(
    ipc: &IpcBuffer,
    tcb: CPtr,
    fault_ep: CPtr,
    prio_props: u64,
    cspace_root: CPtr,
    cspace_root_data: u64,
    vspace_root: CPtr,
    vspace_root_data: u64,
    buffer: u64,
    buffer_frame: CPtr,
) -> Result<(), Error> {
    invoke(ipc, tcb, abi::LABEL_TCB_CONFIGURE, &[cspace_root, vspace_root, buffer_frame], &[fault_ep, prio_props, cspace_root_data, vspace_root_data, buffer])
}

/// `seL4_TCB_WriteRegisters`: the first `regs.len()` registers of the thread's user context
/// (instruction pointer, stack pointer, flags, ...: `abi::USER_CONTEXT_*`). The kernel reads the
/// resume flag and the architecture flags packed in message register 0 (`decodeWriteRegisters`
/// in `src/object/tcb.c`: bit 0 resume, arch flags from bit 8), the count in register 1.
pub fn tcb_write_registers(ipc: &IpcBuffer, tcb: CPtr, resume: bool, regs: &[u64]) -> Result<(), Error> {
    let mut args = [0u64; 2 + 20];
    let n = regs.len().min(20);
    args[0] = u64::from(resume);
    args[1] = n as u64;
    args[2..2 + n].copy_from_slice(&regs[..n]);
    invoke(ipc, tcb, abi::LABEL_TCB_WRITE_REGISTERS, &[], &args[..2 + n])
}

/// `seL4_TCB_Resume`.
pub fn tcb_resume(ipc: &IpcBuffer, tcb: CPtr) -> Result<(), Error> {
    invoke(ipc, tcb, abi::LABEL_TCB_RESUME, &[], &[])
}

/// `seL4_TCB_Suspend`.
pub fn tcb_suspend(ipc: &IpcBuffer, tcb: CPtr) -> Result<(), Error> {
    invoke(ipc, tcb, abi::LABEL_TCB_SUSPEND, &[], &[])
}

/// `seL4_TCB_BindNotification`: signals on `notification` also end the thread's receives.
pub fn tcb_bind_notification(ipc: &IpcBuffer, tcb: CPtr, notification: CPtr) -> Result<(), Error> {
    invoke(ipc, tcb, abi::LABEL_TCB_BIND_NOTIFICATION, &[notification], &[])
}

/// `seL4_IRQHandler_SetNotification`: the interrupt signals `notification` (with its badge).
pub fn irq_handler_set_notification(ipc: &IpcBuffer, handler: CPtr, notification: CPtr) -> Result<(), Error> {
    invoke(ipc, handler, abi::LABEL_IRQ_SET_IRQ_HANDLER, &[notification], &[])
}

/// `seL4_IRQHandler_Ack`: the interrupt may be delivered again.
pub fn irq_handler_ack(ipc: &IpcBuffer, handler: CPtr) -> Result<(), Error> {
    invoke(ipc, handler, abi::LABEL_IRQ_ACK_IRQ, &[], &[])
}

/// `seL4_DebugNameThread`: the name the kernel uses for `tcb` in its messages. The name goes,
/// NUL-terminated, where the message registers are (as libsel4 does it).
pub fn debug_name_thread(ipc: &IpcBuffer, tcb: CPtr, name: &[u8]) {
    let n = name.len().min(abi::MSG_MAX_LENGTH * 8 - 1);
    let mut words = [0u64; abi::MSG_MAX_LENGTH];
    for (i, b) in name[..n].iter().enumerate() {
        words[i / 8] |= u64::from(*b) << ((i % 8) * 8);
    }
    for (i, w) in words.iter().enumerate().take(n / 8 + 1) {
        ipc.set_word_at_msg(i, *w);
    }
    syscalls::send_null(abi::SYS_DEBUG_NAME_THREAD, tcb);
}

/// Bytes of a 4 KiB frame.
pub const FRAME_BYTES: usize = 1 << abi::PAGE_BITS;

/// A 4 KiB frame mapped read-write at [`arch::SCRATCH_VADDR`] in the root task's VSpace, unmapped when
/// dropped. At most one exists at a time (it borrows the IPC buffer mutably).
pub struct ScratchMapping<'a> {
    ipc: &'a mut IpcBuffer,
    frame: CPtr,
}

impl<'a> ScratchMapping<'a> {
    /// Map `frame` at the scratch address. Its page table must exist already.
    pub fn map(ipc: &'a mut IpcBuffer, frame: CPtr) -> Result<ScratchMapping<'a>, Error> {
        arch::map_frame(ipc, frame, abi::CAP_INIT_THREAD_VSPACE, arch::SCRATCH_VADDR, abi::CAP_RIGHTS_READ | abi::CAP_RIGHTS_WRITE, true)?;
        Ok(ScratchMapping { ipc, frame })
    }

    /// Copy `bytes` into the frame at byte offset `at`.
    pub fn write(&mut self, at: usize, bytes: &[u8]) {
        assert!(at.checked_add(bytes.len()).is_some_and(|end| end <= FRAME_BYTES));
        // SAFETY: while `self` lives the frame is mapped read-write at arch::SCRATCH_VADDR (`map`
        // succeeded and only `drop` unmaps it), the range is inside it (asserted), and nothing
        // else refers to that address: only one ScratchMapping exists at a time, as it holds
        // the IPC buffer mutably.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), (arch::SCRATCH_VADDR as *mut u8).add(at), bytes.len()) };
    }
}

impl Drop for ScratchMapping<'_> {
    fn drop(&mut self) {
        // Unmapping a frame this mapping mapped cannot fail; if it ever did, the next `map`
        // reports the occupied address.
        let _ = arch::unmap_frame(self.ipc, self.frame);
    }
}
