//! Check the ABI constants of the root task and the PD runtime against the kernel they will run
//! on.
//!
//! `runtime/sel4-root/src/abi.rs` holds every kernel number both use (system call numbers,
//! invocation labels, initial capability slots, object types and sizes, structure offsets, bit
//! layouts, fault message layouts). Several
//! depend on the kernel configuration: a conditional method in the interface XML shifts every
//! later label. So after each kernel build this compiles a small host C program against the
//! headers that very build generated (`api/invocation.h`, `arch/api/invocation.h`,
//! `arch/api/syscall.h`, the bitfield headers) and the kernel's own `include/api/*.h`, runs it,
//! and compares every value with the one compiled into the root task. The few facts no header
//! states (the order `TCB_WriteRegisters` writes registers in, how it packs its flags, the width
//! of endpoint badges) are checked in the kernel's source text. A mismatch stops the build and
//! names the constant, both values and where the kernel's value comes from.

use super::kernel::Built;
use super::layout;
use super::root_abi as abi;
use super::{err, io_err, Error};
use std::process::{Command, Stdio};

/// (constant in abi.rs, C expression the kernel headers give it, value in abi.rs).
fn checks() -> Vec<(&'static str, String, i64)> {
    let capdata = abi::io_port_cap_data(0x1234, 0x5678);
    let guard = abi::cnode_cap_data(0x2a, 56);
    let prio = abi::prio_props(0x7b, 0xc8);
    let mut v: Vec<(&'static str, String, i64)> = Vec::new();
    macro_rules! c {
        ($name:ident, $expr:expr) => {
            v.push((stringify!($name), String::from($expr), abi::$name as i64))
        };
    }
    // System calls (include/api/syscall.xml -> <build>/arch/api/syscall.h).
    c!(SYS_CALL, "SysCall");
    c!(SYS_REPLY_RECV, "SysReplyRecv");
    c!(SYS_SEND, "SysSend");
    c!(SYS_RECV, "SysRecv");
    c!(SYS_REPLY, "SysReply");
    c!(SYS_DEBUG_PUT_CHAR, "SysDebugPutChar");
    c!(SYS_DEBUG_HALT, "SysDebugHalt");
    c!(SYS_DEBUG_NAME_THREAD, "SysDebugNameThread");
    // Invocation labels (the interface XML -> <build>/api/invocation.h, <build>/arch/api/*.h).
    c!(LABEL_UNTYPED_RETYPE, "UntypedRetype");
    c!(LABEL_TCB_WRITE_REGISTERS, "TCBWriteRegisters");
    c!(LABEL_TCB_CONFIGURE, "TCBConfigure");
    c!(LABEL_TCB_SET_PRIORITY, "TCBSetPriority");
    c!(LABEL_TCB_SUSPEND, "TCBSuspend");
    c!(LABEL_TCB_RESUME, "TCBResume");
    c!(LABEL_TCB_BIND_NOTIFICATION, "TCBBindNotification");
    c!(LABEL_CNODE_REVOKE, "CNodeRevoke");
    c!(LABEL_CNODE_DELETE, "CNodeDelete");
    c!(LABEL_CNODE_COPY, "CNodeCopy");
    c!(LABEL_CNODE_MINT, "CNodeMint");
    c!(LABEL_CNODE_SAVE_CALLER, "CNodeSaveCaller");
    c!(LABEL_IRQ_ACK_IRQ, "IRQAckIRQ");
    c!(LABEL_IRQ_SET_IRQ_HANDLER, "IRQSetIRQHandler");
    c!(LABEL_X86_IRQ_ISSUE_IRQ_HANDLER_IOAPIC, "X86IRQIssueIRQHandlerIOAPIC");
    c!(LABEL_X86_PDPT_MAP, "X86PDPTMap");
    c!(LABEL_X86_PAGE_DIRECTORY_MAP, "X86PageDirectoryMap");
    c!(LABEL_X86_PAGE_TABLE_MAP, "X86PageTableMap");
    c!(LABEL_X86_PAGE_MAP, "X86PageMap");
    c!(LABEL_X86_PAGE_UNMAP, "X86PageUnmap");
    c!(LABEL_X86_ASID_POOL_ASSIGN, "X86ASIDPoolAssign");
    c!(LABEL_X86_IOPORT_IN8, "X86IOPortIn8");
    c!(LABEL_X86_IOPORT_IN16, "X86IOPortIn16");
    c!(LABEL_X86_IOPORT_IN32, "X86IOPortIn32");
    c!(LABEL_X86_IOPORT_OUT8, "X86IOPortOut8");
    c!(LABEL_X86_IOPORT_OUT16, "X86IOPortOut16");
    c!(LABEL_X86_IOPORT_OUT32, "X86IOPortOut32");
    // Initial capabilities and errors.
    c!(CAP_INIT_THREAD_TCB, "seL4_CapInitThreadTCB");
    c!(CAP_INIT_THREAD_CNODE, "seL4_CapInitThreadCNode");
    c!(CAP_INIT_THREAD_VSPACE, "seL4_CapInitThreadVSpace");
    c!(CAP_INIT_THREAD_ASID_POOL, "seL4_CapInitThreadASIDPool");
    c!(CAP_IRQ_CONTROL, "seL4_CapIRQControl");
    c!(CAP_IO_PORT, "seL4_CapIOPort");
    c!(ERROR_ILLEGAL_OPERATION, "seL4_IllegalOperation");
    c!(ERROR_FAILED_LOOKUP, "seL4_FailedLookup");
    c!(ERROR_DELETE_FIRST, "seL4_DeleteFirst");
    c!(ERROR_NOT_ENOUGH_MEMORY, "seL4_NotEnoughMemory");
    // Object types and sizes.
    c!(OBJ_UNTYPED, "seL4_UntypedObject");
    c!(OBJ_TCB, "seL4_TCBObject");
    c!(OBJ_ENDPOINT, "seL4_EndpointObject");
    c!(OBJ_NOTIFICATION, "seL4_NotificationObject");
    c!(OBJ_CNODE, "seL4_CapTableObject");
    c!(OBJ_X86_PDPT, "seL4_X86_PDPTObject");
    c!(OBJ_X64_PML4, "seL4_X64_PML4Object");
    c!(OBJ_X86_4K, "seL4_X86_4K");
    c!(OBJ_X86_LARGE_PAGE, "seL4_X86_LargePageObject");
    c!(OBJ_X86_PAGE_TABLE, "seL4_X86_PageTableObject");
    c!(OBJ_X86_PAGE_DIRECTORY, "seL4_X86_PageDirectoryObject");
    c!(TCB_BITS, "seL4_TCBBits");
    c!(ENDPOINT_BITS, "seL4_EndpointBits");
    c!(NOTIFICATION_BITS, "seL4_NotificationBits");
    c!(SLOT_BITS, "seL4_SlotBits");
    c!(PAGE_BITS, "seL4_PageBits");
    c!(LARGE_PAGE_BITS, "seL4_LargePageBits");
    c!(PAGE_TABLE_BITS, "seL4_PageTableBits");
    c!(PAGE_DIR_BITS, "seL4_PageDirBits");
    c!(PDPT_BITS, "seL4_PDPTBits");
    c!(PML4_BITS, "seL4_PML4Bits");
    c!(MAX_PRIO, "seL4_MaxPrio");
    // Boot information.
    c!(BOOTINFO_NUM_NODES, "offsetof(seL4_BootInfo, numNodes)");
    c!(BOOTINFO_IPC_BUFFER, "offsetof(seL4_BootInfo, ipcBuffer)");
    c!(BOOTINFO_EMPTY, "offsetof(seL4_BootInfo, empty)");
    c!(BOOTINFO_CNODE_SIZE_BITS, "offsetof(seL4_BootInfo, initThreadCNodeSizeBits)");
    c!(BOOTINFO_ARCH_INFO, "offsetof(seL4_BootInfo, archInfo)");
    c!(BOOTINFO_UNTYPED, "offsetof(seL4_BootInfo, untyped)");
    c!(BOOTINFO_UNTYPED_LIST, "offsetof(seL4_BootInfo, untypedList)");
    c!(BOOTINFO_UNTYPED_LIST_LEN, "CONFIG_MAX_NUM_BOOTINFO_UNTYPED_CAPS");
    c!(UNTYPED_DESC_BYTES, "sizeof(seL4_UntypedDesc)");
    c!(UNTYPED_DESC_PADDR, "offsetof(seL4_UntypedDesc, paddr)");
    c!(UNTYPED_DESC_SIZE_BITS, "offsetof(seL4_UntypedDesc, sizeBits)");
    c!(UNTYPED_DESC_IS_DEVICE, "offsetof(seL4_UntypedDesc, isDevice)");
    // Messages.
    c!(IPC_BUFFER_MSG_WORD, "offsetof(seL4_IPCBuffer, msg) / sizeof(seL4_Word)");
    c!(IPC_BUFFER_CAPS_WORD, "offsetof(seL4_IPCBuffer, caps_or_badges) / sizeof(seL4_Word)");
    c!(IPC_BUFFER_BYTES, "sizeof(seL4_IPCBuffer)");
    c!(MSG_MAX_LENGTH, "seL4_MsgMaxLength");
    c!(WORD_BITS, "CONFIG_WORD_SIZE");
    c!(MSG_INFO_LABEL_SHIFT, "__builtin_ctzll(seL4_MessageInfo_new(1, 0, 0, 0).words[0])");
    c!(MSG_INFO_CAPS_UNWRAPPED_SHIFT, "__builtin_ctzll(seL4_MessageInfo_new(0, 1, 0, 0).words[0])");
    c!(MSG_INFO_EXTRA_CAPS_SHIFT, "__builtin_ctzll(seL4_MessageInfo_new(0, 0, 1, 0).words[0])");
    c!(MSG_INFO_LENGTH_MASK, "seL4_MessageInfo_new(0, 0, 0, 0x7f).words[0]");
    c!(CAP_RIGHTS_ALL, "seL4_CapRights_new(1, 1, 1).words[0]");
    c!(CAP_RIGHTS_READ, "seL4_CapRights_new(0, 1, 0).words[0]");
    c!(CAP_RIGHTS_WRITE, "seL4_CapRights_new(0, 0, 1).words[0]");
    c!(CAP_RIGHTS_WRITE_GRANT, "seL4_CapRights_new(1, 0, 1).words[0]");
    c!(VM_ATTRIBUTES_DEFAULT, "0");
    v.push(("VM_ATTRIBUTES_UNCACHED is only x86PCDBit", format!("vm_attributes_get_x86PCDBit((vm_attributes_t){{{{ {}ull }}}}) + 2 * vm_attributes_get_x86PATBit((vm_attributes_t){{{{ {0}ull }}}}) + 4 * vm_attributes_get_x86PWTBit((vm_attributes_t){{{{ {0}ull }}}})", abi::VM_ATTRIBUTES_UNCACHED), 1));
    v.push(("io_port_cap_data(first, _)", format!("io_port_capdata_get_firstPort((io_port_capdata_t){{{{ {capdata:#x}ull }}}})"), 0x1234));
    v.push(("io_port_cap_data(_, last)", format!("io_port_capdata_get_lastPort((io_port_capdata_t){{{{ {capdata:#x}ull }}}})"), 0x5678));
    v.push(("cnode_cap_data(guard, _)", format!("cnode_capdata_get_guard((cnode_capdata_t){{{{ {guard:#x}ull }}}})"), 0x2a));
    v.push(("cnode_cap_data(_, guard_size)", format!("cnode_capdata_get_guardSize((cnode_capdata_t){{{{ {guard:#x}ull }}}})"), 56));
    v.push(("prio_props(mcp, _)", format!("seL4_PrioProps_get_mcp((seL4_PrioProps_t){{{{ {prio:#x}ull }}}})"), 0x7b));
    v.push(("prio_props(_, prio)", format!("seL4_PrioProps_get_prio((seL4_PrioProps_t){{{{ {prio:#x}ull }}}})"), 0xc8));
    // Threads and faults.
    c!(FAULT_CAP, "seL4_Fault_CapFault");
    c!(FAULT_UNKNOWN_SYSCALL, "seL4_Fault_UnknownSyscall");
    c!(FAULT_USER_EXCEPTION, "seL4_Fault_UserException");
    c!(FAULT_VM, "seL4_Fault_VMFault");
    c!(VM_FAULT_IP, "seL4_VMFault_IP");
    c!(VM_FAULT_ADDR, "seL4_VMFault_Addr");
    c!(VM_FAULT_PREFETCH, "seL4_VMFault_PrefetchFault");
    c!(VM_FAULT_FSR, "seL4_VMFault_FSR");
    c!(CAP_FAULT_IP, "seL4_CapFault_IP");
    c!(CAP_FAULT_ADDR, "seL4_CapFault_Addr");
    c!(USER_EXCEPTION_IP, "seL4_UserException_FaultIP");
    c!(USER_EXCEPTION_NUMBER, "seL4_UserException_Number");
    c!(USER_EXCEPTION_CODE, "seL4_UserException_Code");
    c!(UNKNOWN_SYSCALL_IP, "seL4_UnknownSyscall_FaultIP");
    // Rampart's layout relies on these.
    v.push(("layout::PD_INFO_OFFSET is past the kernel's part of the IPC buffer", format!("sizeof(seL4_IPCBuffer) <= {}", layout::PD_INFO_OFFSET), 1));
    v.push((
        "layout::MONITOR_BADGE_FAULT fits an endpoint badge",
        format!("({:#x}ull >> 28) == 0 && seL4_MsgMaxLength == 120", layout::MONITOR_BADGE_FAULT),
        1,
    ));
    v
}

/// Facts the headers cannot give, checked in the kernel's source text: (what, file, text).
fn source_checks() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        (
            "USER_CONTEXT_RIP and USER_CONTEXT_RSP (TCB_WriteRegisters writes frameRegisters in order)",
            "src/arch/x86/64/machine/registerset.c",
            "frameRegisters[] = {\n    FaultIP, RSP,",
        ),
        (
            "tcb_write_registers packs the resume flag in bit 0 of message register 0 and the count in register 1",
            "src/object/tcb.c",
            "flags = getSyscallArg(0, buffer);\n    w     = getSyscallArg(1, buffer);",
        ),
        ("irq_control_get_ioapic's last argument counts from the first user vector", "src/arch/x86/object/interrupt.c", "irq = getSyscallArg(6, buffer);"),
        ("irq_control_get_ioapic's last argument counts from the first user vector", "src/arch/x86/object/interrupt.c", "irq += irq_user_min;"),
        ("layout::ENDPOINT_BADGE_BITS (endpoint badges are 28 bits)", "include/object/structures_64.bf", "field capEPBadge 28"),
    ]
}

/// The probe program: the kernel's headers, preceded by the few libsel4 base types they assume.
fn probe_source() -> String {
    let mut s = String::from(
        r#"/* Generated by rampart (src/sel4/abi_check.rs): prints the kernel's values of the root task's ABI constants. */
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
typedef uint64_t seL4_Word;
typedef seL4_Word seL4_CPtr;
typedef uint8_t seL4_Uint8;
typedef seL4_Word seL4_NodeId;
typedef seL4_Word seL4_Domain;
typedef unsigned long word_t;
#define UNUSED __attribute__((unused))
#include <autoconf.h>
#include <api/macros.h>
#include <api/invocation.h>
#include <arch/api/invocation.h>
#include <arch/api/syscall.h>
#include <api/constants.h>
#include <api/errors.h>
#include <64/mode/api/shared_types_gen.h>
#include <arch/object/structures_gen.h>
#include <api/shared_types.h>
#include <api/bootinfo_types.h>
#include <api/objecttype.h>
#include <arch/api/constants.h>
#include <mode/api/objecttype.h>
#include <arch/api/objecttype.h>
int main(void) {
"#,
    );
    for (name, expr, _) in checks() {
        s.push_str(&format!("    printf(\"%s %lld\\n\", \"{name}\", (long long)({expr}));\n"));
    }
    s.push_str("    return 0;\n}\n");
    s
}

/// Compile and run the probe against `built`, and compare. x86_64 only (the only root task).
pub fn check(built: &Built) -> Result<(), Error> {
    if built.sel4_arch != "x86_64" {
        return err(format!("the root task's ABI is only known for x86_64, not {}", built.sel4_arch));
    }
    let src = built.dir.join("abi-probe.c");
    let exe = built.dir.join("abi-probe");
    std::fs::write(&src, probe_source()).map_err(|e| io_err(&src, e))?;
    let inc = built.src.join("include");
    let out = Command::new("gcc")
        .arg("-w")
        .arg("-DHAVE_AUTOCONF")
        .arg(format!("-I{}", built.config.display()))
        .arg(format!("-I{}", built.build.display()))
        // After the system directories, so the kernel's own stdio.h/stdint.h do not shadow them.
        .args(
            [
                inc.clone(),
                inc.join(format!("arch/{}", built.arch)),
                inc.join(format!("plat/{}", built.plat)),
                inc.join(format!("arch/{}/arch/64", built.arch)),
                inc.join(format!("plat/{}/plat/64", built.plat)),
            ]
            .iter()
            .flat_map(|p| ["-idirafter".into(), p.display().to_string()]),
        )
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error(format!("cannot run gcc: {e}")))?;
    if !out.status.success() {
        return err(format!("the ABI probe {} does not compile against the kernel's headers:\n{}", src.display(), String::from_utf8_lossy(&out.stderr).trim()));
    }
    let out = Command::new(&exe).stdin(Stdio::null()).output().map_err(|e| io_err(&exe, e))?;
    if !out.status.success() {
        return err(format!("the ABI probe {} failed ({})", exe.display(), out.status));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut wrong = Vec::new();
    for (name, expr, ours) in checks() {
        let kernel: Option<i64> = text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')).and_then(|v| v.trim().parse().ok()));
        match kernel {
            Some(k) if k == ours => {}
            Some(k) => wrong.push(format!("{name} is {ours} in runtime/sel4-root/src/abi.rs but {k} in this kernel ({expr})")),
            None => wrong.push(format!("the probe printed no value for {name} ({expr})")),
        }
    }
    for (what, file, text) in source_checks() {
        let path = built.src.join(file);
        let source = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
        if !source.contains(text) {
            wrong.push(format!("{what}: {} no longer contains {text:?}", path.display()));
        }
    }
    if !wrong.is_empty() {
        return err(format!("the root task and the PD runtime do not match the kernel they would run on:\n  {}", wrong.join("\n  ")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_prints_every_checked_constant() {
        let src = probe_source();
        for (name, expr, _) in checks() {
            assert!(src.contains(&format!("\"{name}\", (long long)({expr})")), "{name}");
        }
    }
}
