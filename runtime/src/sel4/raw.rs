//! Raw seL4 IPC on this PD's own capabilities, bypassing the runtime's event loop and dispatch:
//! a benchmark and expert API (seL4 backend only, `#[cfg(rampart_sel4)]`). `benches/sel4_ipc.rs`
//! uses it to measure the runtime's `Channel::notify` / `Channel::pp_call` round trips against
//! bare `seL4_Signal` / `seL4_Wait` and `seL4_Call` / `seL4_ReplyRecv` between the same two
//! threads, through the same kernel objects (the CSpace layout of `runtime/sel4-root/src/layout.rs`).
//!
//! Each function is one system call on one capability slot, with no checks and no message
//! framing: the seL4 label and message registers are the caller's (a runtime `pp_call` puts its
//! own label in message register 0 and uses the seL4 label [`LABEL_PPC`]; raw messages need not).
//! Using a channel the PD was not given is a capability fault, which the monitor reports; the PD
//! stays stopped.
//!
//! Rules, because the runtime does not know about raw traffic:
//! - Use it from `init` or [`crate::Handler::notified`], never while serving a call (the raw
//!   calls would overwrite the reply capability the runtime answers through).
//! - Before returning to the runtime, answer every raw call received ([`reply`]): the runtime's
//!   next receive does not reply.
//! - A raw [`wait`] consumes signals and calls the runtime would otherwise have dispatched.

pub use super::syscalls::Received;
use super::{layout, syscalls};

/// The seL4 label of the runtime's protected procedure calls (Rampart's label is in register 0).
pub const LABEL_PPC: u64 = layout::LABEL_PPC;

/// `seL4_Signal` on the notification of channel `channel`'s peer (the capability `notify` uses).
#[inline(always)]
pub fn signal(channel: u8) {
    syscalls::signal(layout::SLOT_NOTIFY_BASE + u64::from(channel))
}

/// `seL4_Wait` / `seL4_Recv` on this PD's input: its notification, or, when some PD may call it,
/// its endpoint with the notification bound (both signals and calls end it then; tell them
/// apart with [`is_signal`]). For a signal, `badge` is the set of channel bits, as in
/// [`crate::ChannelSet`]; for a call, the caller's channel id.
#[inline(always)]
pub fn wait() -> Received {
    syscalls::recv(layout::SLOT_INPUT, syscalls::RECV_SENTINEL_INFO)
}

/// Whether what [`wait`] or [`reply_recv`] received is a signal rather than a call.
#[inline(always)]
pub fn is_signal(r: &Received) -> bool {
    syscalls::is_sentinel(r.info)
}

/// `seL4_Call` on channel `channel`'s peer endpoint (the capability `pp_call` uses): `length`
/// message registers (at most 4, all in CPU registers), seL4 label `label`. The reply.
#[inline(always)]
pub fn call(channel: u8, label: u64, length: u64, mr: [u64; 4]) -> Received {
    syscalls::call(layout::SLOT_CALL_BASE + u64::from(channel), syscalls::message_info(label, 0, length.min(4)), mr)
}

/// `seL4_ReplyRecv`: answer the call last received with `label` and `length` (at most 4)
/// registers, then wait as [`wait`] does.
#[inline(always)]
pub fn reply_recv(label: u64, length: u64, mr: [u64; 4]) -> Received {
    syscalls::reply_recv(layout::SLOT_INPUT, syscalls::message_info(label, 0, length.min(4)) | syscalls::RECV_SENTINEL_INFO, mr)
}

/// `seL4_Reply`: answer the call last received, without waiting.
#[inline(always)]
pub fn reply(label: u64, length: u64, mr: [u64; 4]) {
    syscalls::reply(syscalls::message_info(label, 0, length.min(4)), mr)
}
