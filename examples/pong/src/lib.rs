//! The pong side of the ping-pong: on the `doorbell` it reads the round from `buffer` (which it
//! may only read), and answers ping's protected calls on `rpc` with the last round it read.
#![no_std]

rampart_runtime::bindings!();

use rampart_runtime::{Channel, NoNotify, NoPpCall, Notify, ReadOnly, Region};

/// The region pong reads (typed read-only: the compiler refuses writes).
pub const BUFFER: Region<ReadOnly> = regions::BUFFER;
/// Notification channel to ping.
pub const DOORBELL: Channel<Notify, NoPpCall> = channels::DOORBELL;
/// Channel ping calls pong over; pong answers, it does not call.
pub const RPC: Channel<NoNotify, NoPpCall> = channels::RPC;

/// Label of ping's call: "what did you last read?" (as `ping::LABEL_LAST_READ`).
pub const LABEL_LAST_READ: u64 = 1;

/// Pong's state: the last round read from `buffer`.
#[derive(Clone, Debug, Default)]
pub struct Pong {
    last_read: Option<u64>,
}

impl Pong {
    /// The doorbell rang: `bytes` are the first 8 bytes of `buffer`.
    pub fn on_doorbell(&mut self, bytes: [u8; 8]) {
        self.last_read = Some(u64::from_le_bytes(bytes));
    }

    /// Answer to a call on `rpc`: the last round read, 0 if none.
    pub fn on_call(&self) -> u64 {
        self.last_read.unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pong_serves_calls_and_reads_a_read_only_buffer() {
        assert!(SERVES_PROTECTED_CALLS);
        assert!(RPC.accepts_calls());
        assert_eq!(BUFFER.vaddr(), 0x400_0000);
        let mut p = Pong::default();
        assert_eq!(p.on_call(), 0);
        p.on_doorbell(5u64.to_le_bytes());
        assert_eq!(p.on_call(), 5);
    }
}
