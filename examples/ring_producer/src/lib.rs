//! What the ring test sends: message `seq` is a postcard `(seq, check(seq))` pair, except every
//! [`RAW_EVERY`]th, which is a raw frame of `seq % RAW_MAX_BYTES + 1` bytes of [`raw_byte`]s.
//! Shared by the producer and the consumer (which depends on this crate's library).
#![no_std]

/// Messages the producer sends.
pub const MESSAGES: u64 = 100_000;
/// Every this many messages is a raw frame.
pub const RAW_EVERY: u64 = 7;
/// Longest raw frame, in bytes.
pub const RAW_MAX_BYTES: u64 = 300;

/// The check value paired with `seq`.
pub const fn check(seq: u64) -> u64 {
    seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xA5A5
}

/// Whether message `seq` is a raw frame.
pub const fn is_raw(seq: u64) -> bool {
    seq % RAW_EVERY == 0
}

/// Length of raw message `seq`.
pub const fn raw_len(seq: u64) -> usize {
    (seq % RAW_MAX_BYTES + 1) as usize
}

/// Byte `i` of raw message `seq`.
pub const fn raw_byte(seq: u64, i: usize) -> u8 {
    (seq as u8).wrapping_add(i as u8).wrapping_mul(31)
}
