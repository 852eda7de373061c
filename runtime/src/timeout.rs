//! Timeouts served by a timer PD: the client side of its protocol.
//!
//! A timer PD (`components/timer`) owns a hardware timer declared in system.xml (on x86_64 the
//! PIT, through an I/O APIC `<irq>` and its `<ioport>`s) and serves timeouts to the PDs that have
//! a protected procedure channel to it. Each client channel holds one timeout: setting it again
//! moves it, and when the clock reaches it the timer PD notifies the client on that channel. The
//! clock is the system clock every PD reads with [`crate::clock::now_ns`], so a client can check
//! that a timeout never arrives early.
//!
//! The protocol (a label and at most one word each way):
//! - [`LABEL_SET`] `[deadline_ns]` → [`LABEL_OK`]: notify this channel once `now_ns() >= deadline_ns`
//!   (at once if it already is).
//! - [`LABEL_CANCEL`] `[]` → [`LABEL_OK`]: forget this channel's timeout; no notification follows
//!   for it (one already sent may still be pending).
//! - anything else → [`crate::LABEL_MALFORMED`].

use crate::{Channel, Message, PpCall};

/// Set the channel's timeout to an absolute deadline on the system clock (nanoseconds).
pub const LABEL_SET: u64 = 0x7401;
/// Cancel the channel's timeout.
pub const LABEL_CANCEL: u64 = 0x7402;
/// The timer PD did what was asked.
pub const LABEL_OK: u64 = 0;

/// The timer PD refused or could not answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutError {
    /// The timer PD faulted or is held (the runtime answered for it).
    TimerFailed,
    /// The timer PD did not understand the request (not a timer PD?).
    Refused(u64),
}

fn expect_ok(reply: Message) -> Result<(), TimeoutError> {
    match reply.label() {
        LABEL_OK => Ok(()),
        crate::LABEL_CALL_FAILED => Err(TimeoutError::TimerFailed),
        other => Err(TimeoutError::Refused(other)),
    }
}

/// Ask the timer PD behind `timer` to notify that channel once the clock reaches `deadline_ns`.
pub fn set_timeout<N>(timer: &Channel<N, PpCall>, deadline_ns: u64) -> Result<(), TimeoutError> {
    let m = Message::with_words(LABEL_SET, &[deadline_ns]).expect("one word fits a message");
    expect_ok(timer.pp_call(&m))
}

/// [`set_timeout`] `after_ns` nanoseconds from now.
pub fn set_timeout_after<N>(timer: &Channel<N, PpCall>, after_ns: u64) -> Result<(), TimeoutError> {
    set_timeout(timer, crate::clock::now_ns().saturating_add(after_ns))
}

/// Cancel the timeout of `timer`'s channel.
pub fn cancel_timeout<N>(timer: &Channel<N, PpCall>) -> Result<(), TimeoutError> {
    expect_ok(timer.pp_call(&Message::new(LABEL_CANCEL)))
}
