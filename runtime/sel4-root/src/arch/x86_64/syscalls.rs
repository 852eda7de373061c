//! The seL4 system calls in the x86_64 `syscall` convention: the architecture half of
//! `syscalls.rs`, which includes this file by path (so the root task and the PD runtime compile
//! the same stubs). All of the `unsafe` that enters the kernel is here.
//!
//! Convention of seL4 5.0.0 (`libsel4/sel4_arch_include/x86_64/sel4/sel4_arch/
//! syscalls_syscall.h`): RDX = system call number, RDI = capability, RSI = message info, R10, R8,
//! R9, R15 = message registers 0-3; results come back in RDI (badge), RSI (info) and the same
//! four registers. The kernel returns with `sysret`, which clobbers RCX and R11 and leaves
//! RSP = 0, so every stub keeps RSP in R12 (callee-saved, declared clobbered) across it. The kernel
//! restores every other register from the thread's saved context, so a register the kernel does
//! not write on a given path (RSI when a bound notification, not a message, ends a receive)
//! comes back as it went in.

use super::abi;
use super::{CPtr, Received};
use core::arch::asm;

/// A system call that sends `info` and four message registers on `cap` and receives a message
/// back in the same registers: `seL4_Call` and `seL4_ReplyRecv` differ only in the number.
#[inline(always)]
fn exchange(sys: i64, cap: CPtr, info: u64, mr: [u64; 4]) -> Received {
    let (badge, out_info, m0, m1, m2, m3);
    // SAFETY: the system call reads the capability, the message info and the four message
    // registers (and, for longer messages or extra caps, the IPC buffer, written before this
    // call: the asm is not `nomem`, so those writes are not moved past it). It writes the message
    // it receives into the same registers and possibly the IPC buffer, which no Rust reference
    // points into. RSP is kept in R12 across `sysret`.
    unsafe {
        asm!(
            "mov r12, rsp",
            "syscall",
            "mov rsp, r12",
            inout("rdx") sys => _,
            inout("rdi") cap => badge,
            inout("rsi") info => out_info,
            inout("r10") mr[0] => m0,
            inout("r8") mr[1] => m1,
            inout("r9") mr[2] => m2,
            inout("r15") mr[3] => m3,
            out("rcx") _, out("r11") _, out("r12") _,
            options(nostack),
        );
    }
    Received { badge, info: out_info, mr: [m0, m1, m2, m3] }
}

/// `seL4_Call`: send on `cap` and wait for the reply.
#[inline]
pub fn call(cap: CPtr, info: u64, mr: [u64; 4]) -> Received {
    exchange(abi::SYS_CALL, cap, info, mr)
}

/// `seL4_Send` (blocking until received) on an endpoint; on a notification, `seL4_Signal`.
pub fn send(cap: CPtr, info: u64, mr: [u64; 4]) {
    // SAFETY: SysSend reads the registers below (and the IPC buffer for longer messages) and
    // writes no user memory; RSP is kept in R12.
    unsafe {
        asm!(
            "mov r12, rsp",
            "syscall",
            "mov rsp, r12",
            inout("rdx") abi::SYS_SEND => _,
            inout("rdi") cap => _,
            inout("rsi") info => _,
            inout("r10") mr[0] => _,
            inout("r8") mr[1] => _,
            inout("r9") mr[2] => _,
            inout("r15") mr[3] => _,
            out("rcx") _, out("r11") _, out("r12") _,
            options(nostack),
        );
    }
}

/// `seL4_Recv` on an endpoint or notification. `info_in` stays in RSI unless a message arrives
/// (see [`RECV_SENTINEL_INFO`]).
pub fn recv(cap: CPtr, info_in: u64) -> Received {
    let (badge, info, m0, m1, m2, m3);
    // SAFETY: SysRecv blocks, then writes the badge, info and message registers into the
    // registers below and possibly the IPC buffer (no Rust reference points into it); RSP is kept
    // in R12.
    unsafe {
        asm!(
            "mov r12, rsp",
            "syscall",
            "mov rsp, r12",
            inout("rdx") abi::SYS_RECV => _,
            inout("rdi") cap => badge,
            inout("rsi") info_in => info,
            out("r10") m0, out("r8") m1, out("r9") m2, out("r15") m3,
            out("rcx") _, out("r11") _, out("r12") _,
            options(nostack),
        );
    }
    Received { badge, info, mr: [m0, m1, m2, m3] }
}

/// `seL4_ReplyRecv`: reply to the last caller with `info` and `mr`, then receive on `cap`.
#[inline]
pub fn reply_recv(cap: CPtr, info: u64, mr: [u64; 4]) -> Received {
    exchange(abi::SYS_REPLY_RECV, cap, info, mr)
}

/// `seL4_Reply`: reply to the last caller (a no-op if there is none).
pub fn reply(info: u64, mr: [u64; 4]) {
    // SAFETY: SysReply reads the registers below (and the IPC buffer for longer replies);
    // RSP is kept in R12.
    unsafe {
        asm!(
            "mov r12, rsp",
            "syscall",
            "mov rsp, r12",
            inout("rdx") abi::SYS_REPLY => _,
            inout("rsi") info => _,
            inout("r10") mr[0] => _,
            inout("r8") mr[1] => _,
            inout("r9") mr[2] => _,
            inout("r15") mr[3] => _,
            out("rdi") _, out("rcx") _, out("r11") _, out("r12") _,
            options(nostack),
        );
    }
}

/// Print one byte on the kernel's console (serial port). Debug kernels only.
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

/// A system call that takes only a capability (the debug calls: `SysDebugNameThread`, ...).
pub fn send_null(syscall: i64, cap: CPtr) {
    // SAFETY: the debug system calls read RDI and the caller's IPC buffer and write no user
    // memory; RSP is kept in R12.
    unsafe {
        asm!(
            "mov r12, rsp",
            "syscall",
            "mov rsp, r12",
            inout("rdx") syscall => _,
            inout("rdi") cap => _,
            inout("rsi") 0u64 => _,
            out("rcx") _, out("r11") _, out("r12") _,
            out("r8") _, out("r9") _, out("r10") _, out("r15") _,
            options(nostack),
        );
    }
}

/// The free-running counter the system clock is built on: the time-stamp counter, at the
/// frequency the kernel measured at boot (the boot information's `tsc_mhz`).
pub fn timestamp() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc reads a counter into EDX:EAX and touches nothing else (CR4.TSD is clear under
    // seL4, so user mode may execute it).
    unsafe { asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) };
    (u64::from(hi) << 32) | u64::from(lo)
}
