//! The seL4 system calls and the IPC buffer: the lowest layer of both the root task and the PD
//! runtime (`runtime/src/sel4` includes this file by path). The architecture's syscall stubs,
//! where all of the `unsafe` that enters the kernel is, come from `arch/<arch>/syscalls.rs`
//! (included here by path, so both programs get them); this file holds what every architecture
//! shares: message info words, the receive sentinel and the IPC buffer.
#![allow(dead_code)]

use super::abi;

#[cfg(target_arch = "x86_64")]
#[path = "arch/x86_64/syscalls.rs"]
mod stubs;
// Each program that includes this file uses a different subset.
/// The name the PD runtime uses for [`timestamp`].
#[allow(unused_imports)]
pub use stubs::timestamp as rdtsc;
#[allow(unused_imports)]
pub use stubs::{call, debug_halt, debug_put_char, recv, reply, reply_recv, send, send_null, timestamp};

#[cfg(not(target_arch = "x86_64"))]
compile_error!("seL4 system calls exist for x86_64 only (see runtime/sel4-root/src/arch/mod.rs)");

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

/// `seL4_Signal`: set the badge bits of `cap` in its notification's word. Never blocks.
pub fn signal(cap: CPtr) {
    send(cap, 0, [0; 4])
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
