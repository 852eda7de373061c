//! The ping side of the ping-pong: writes a round number into the shared `buffer`, rings the
//! `doorbell`, and asks pong over `rpc` what it read.
//!
//! The protocol logic is a pure state machine ([`Ping`]) so that it is tested here and driven
//! unchanged by either backend.
#![no_std]

rampart_runtime::bindings!();

use rampart_runtime::{Channel, NoNotify, NoPpCall, Notify, PpCall, ReadWrite, Region};

/// The region ping writes rounds into (typed read-write: ping may write it).
pub const BUFFER: Region<ReadWrite> = regions::BUFFER;
/// Notification channel to pong.
pub const DOORBELL: Channel<Notify, NoPpCall> = channels::DOORBELL;
/// Protected procedure channel to pong (ping may call, not notify).
pub const RPC: Channel<NoNotify, PpCall> = channels::RPC;

/// Rounds the default system plays before it ends itself.
pub const ROUNDS: u64 = 1000;
/// Label of ping's call to pong: "what did you last read?".
pub const LABEL_LAST_READ: u64 = 1;

/// Bytes of `buffer` a round takes: one little-endian u64.
pub const ROUND_BYTES: usize = 8;
const _: () = assert!(BUFFER.size_bytes() >= ROUND_BYTES as u64);

/// What went wrong in a round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PingError {
    /// Pong's answer was not the round ping wrote.
    Mismatch { expected: u64, got: u64 },
    /// All rounds are done.
    Finished,
}

/// Ping's state: the round in flight and how many to play.
#[derive(Clone, Debug)]
pub struct Ping {
    round: u64,
    rounds_max: u64,
    awaiting_reply: bool,
}

impl Ping {
    pub fn new(rounds_max: u64) -> Self {
        Ping { round: 0, rounds_max, awaiting_reply: false }
    }

    /// Start the next round: the bytes to write into `buffer` before ringing the doorbell.
    pub fn start_round(&mut self) -> Result<[u8; ROUND_BYTES], PingError> {
        if self.round >= self.rounds_max {
            return Err(PingError::Finished);
        }
        self.round += 1;
        self.awaiting_reply = true;
        Ok(self.round.to_le_bytes())
    }

    /// Pong's reply over `rpc`: the round it read.
    pub fn on_reply(&mut self, read: u64) -> Result<(), PingError> {
        self.awaiting_reply = false;
        if read != self.round {
            return Err(PingError::Mismatch { expected: self.round, got: read });
        }
        Ok(())
    }

    pub fn rounds_done(&self) -> u64 {
        if self.awaiting_reply {
            self.round - 1
        } else {
            self.round
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_carry_the_ids_and_layout_of_system_xml() {
        assert_eq!(DOORBELL.id(), 0);
        assert_eq!(RPC.id(), 1);
        assert_eq!(BUFFER.vaddr(), 0x400_0000);
        assert_eq!(BUFFER.size_bytes(), 0x1000);
        assert_eq!(PD_NAMES, &["ping"]);
        assert!(!SERVES_PROTECTED_CALLS);
    }

    #[test]
    fn rounds_count_up_and_stop_at_the_limit() {
        let mut p = Ping::new(2);
        assert_eq!(p.start_round(), Ok(1u64.to_le_bytes()));
        assert_eq!(p.on_reply(1), Ok(()));
        assert_eq!(p.start_round(), Ok(2u64.to_le_bytes()));
        assert_eq!(p.on_reply(7), Err(PingError::Mismatch { expected: 2, got: 7 }));
        assert_eq!(p.start_round(), Err(PingError::Finished));
        assert_eq!(p.rounds_done(), 2);
    }
}
