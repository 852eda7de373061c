//! The seL4 system calls, x86_64 `syscall` convention, and the IPC buffer: the lowest layer of
//! both the root task and the PD runtime (`runtime/src/sel4` includes this file by path). All of
//! the `unsafe` that enters the kernel is here.
//!
//! Convention of seL4 5.0.0 (`libsel4/sel4_arch_include/x86_64/sel4/sel4_arch/
//! syscalls_syscall.h`): RDX = system call number, RDI = capability, RSI = message info, R10, R8,
//! R9, R15 = message registers 0-3; results come back in RDI (badge), RSI (info) and the same
//! four registers. The kernel returns with `sysret`, which clobbers RCX and R11 and leaves
//! RSP = 0, so every stub keeps RSP in R12 (callee-saved, declared clobbered) across it. The kernel
//! restores every other register from the thread's saved context, so a register the kernel does
//! not write on a given path (RSI when a bound notification, not a message, ends a receive)
//! comes back as it went in.
#![allow(dead_code)]

use super::abi;
use core::arch::asm;

/// A capability pointer, resolved at full depth in the caller's CSpace.
pub type CPtr = u64;

/// What a receive (or a call's reply) delivered.
#[derive(Clone, Copy, Debug)]
pub struct Received {
    /// The badge of the capability the message or signal came through.
    pub badge: u64,
    /// The message info word.
    pub info: u64,
    /// Message registers 0-3 (the rest are in the IPC buffer).
    pub mr: [u64; 4],
}

impl Received {
    /// The seL4 label of the message.
    pub fn label(&self) -> u64 {
        self.info >> abi::MSG_INFO_LABEL_SHIFT
    }

    /// The number of message registers.
    pub fn length(&self) -> usize {
        (self.info & abi::MSG_INFO_LENGTH_MASK) as usize
    }
}

/// A message info word: `label`, `extra_caps` capabilities in the IPC buffer, `length` message
/// registers.
pub const fn message_info(label: u64, extra_caps: u64, length: u64) -> u64 {
    (label << abi::MSG_INFO_LABEL_SHIFT) | (extra_caps << abi::MSG_INFO_EXTRA_CAPS_SHIFT) | (length & abi::MSG_INFO_LENGTH_MASK)
}

/// A message info word the kernel never delivers: `capsUnwrapped` bits set with `extraCaps` 0.
/// The kernel builds the info of every message it delivers afresh: `transferCaps`
/// (`src/kernel/thread.c`) clears both fields and sets bit `i` of `capsUnwrapped` only for an
/// extra capability `i` it processed, then sets `extraCaps` to the number processed, so a set
/// bit always comes with a larger `extraCaps`; the fastpath and fault messages clear
/// `capsUnwrapped`. Passed in RSI to a receive (alone, or in the info of a `ReplyRecv`'s reply,
/// where the kernel ignores `capsUnwrapped`), it is still there afterwards exactly when a bound
/// notification, not a message, ended the receive, whatever a sender puts in its own info.
pub const RECV_SENTINEL_INFO: u64 = 0b111 << abi::MSG_INFO_CAPS_UNWRAPPED_SHIFT;

/// Whether `info` still carries [`RECV_SENTINEL_INFO`] (see there).
pub const fn is_sentinel(info: u64) -> bool {
    let unwrapped = (info >> abi::MSG_INFO_CAPS_UNWRAPPED_SHIFT) & 0b111;
    let extra_caps = (info >> abi::MSG_INFO_EXTRA_CAPS_SHIFT) & 0b11;
    unwrapped != 0 && extra_caps == 0
}

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

/// `seL4_Signal`: set the badge bits of `cap` in its notification's word. Never blocks.
pub fn signal(cap: CPtr) {
    send(cap, 0, [0; 4])
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

/// Read the time-stamp counter.
pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc reads a counter into EDX:EAX and touches nothing else (CR4.TSD is clear under
    // seL4, so user mode may execute it).
    unsafe { asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) };
    (u64::from(hi) << 32) | u64::from(lo)
}

/// A thread's IPC buffer: message registers beyond the fourth and extra capabilities.
#[derive(Clone, Copy)]
pub struct IpcBuffer {
    base: *mut u64,
}

impl IpcBuffer {
    /// # Safety
    /// `base` must be the address of the calling thread's IPC buffer: a mapped, writable 4 KiB
    /// frame that the kernel registered as this thread's buffer and that nothing else aliases as
    /// a Rust reference.
    pub const unsafe fn new(base: *mut u64) -> IpcBuffer {
        IpcBuffer { base }
    }

    pub fn base(&self) -> *mut u8 {
        self.base.cast()
    }

    fn set_word(&self, index: usize, value: u64) {
        assert!(index < abi::IPC_BUFFER_BYTES / 8);
        // SAFETY: within the kernel-used part of the buffer frame (`new`'s contract); volatile,
        // because the kernel reads it during the next system call.
        unsafe { self.base.add(index).write_volatile(value) }
    }

    fn word(&self, index: usize) -> u64 {
        assert!(index < abi::IPC_BUFFER_BYTES / 8);
        // SAFETY: as `set_word`; volatile, because the kernel wrote it during the last call.
        unsafe { self.base.add(index).read_volatile() }
    }

    /// Set message register `i` (for `i` at least 4: the first four travel in CPU registers).
    pub fn set_mr(&self, i: usize, value: u64) {
        debug_assert!((abi::MSG_REGISTERS_IN_CPU..abi::MSG_MAX_LENGTH).contains(&i));
        self.set_word(abi::IPC_BUFFER_MSG_WORD + i, value);
    }

    /// Word `i` of the buffer's message area, whatever travels in CPU registers (the debug calls
    /// read strings from there).
    pub fn set_word_at_msg(&self, i: usize, value: u64) {
        self.set_word(abi::IPC_BUFFER_MSG_WORD + i, value);
    }

    /// Message register `i` of the last message received (`i` at least 4).
    pub fn mr(&self, i: usize) -> u64 {
        debug_assert!((abi::MSG_REGISTERS_IN_CPU..abi::MSG_MAX_LENGTH).contains(&i));
        self.word(abi::IPC_BUFFER_MSG_WORD + i)
    }

    /// Set extra capability `i` of the next message.
    pub fn set_cap(&self, i: usize, cap: CPtr) {
        self.set_word(abi::IPC_BUFFER_CAPS_WORD + i, cap);
    }

    /// Write `words` as the message registers of the next message: the first four are returned
    /// (they travel in CPU registers), the rest are written into the buffer.
    pub fn load(&self, words: &[u64]) -> [u64; 4] {
        let mut mr = [0u64; 4];
        for (i, w) in words.iter().enumerate().take(abi::MSG_MAX_LENGTH) {
            if i < abi::MSG_REGISTERS_IN_CPU {
                mr[i] = *w;
            } else {
                self.set_mr(i, *w);
            }
        }
        mr
    }

    /// Message register `i` of `received` (registers 0-3 from the CPU, the rest from the buffer).
    pub fn received_mr(&self, received: &Received, i: usize) -> u64 {
        if i < abi::MSG_REGISTERS_IN_CPU {
            received.mr[i]
        } else {
            self.mr(i)
        }
    }
}
