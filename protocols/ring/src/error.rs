//! What can go wrong, for the caller and for the peer.
//!
//! [`RingError::Corrupt`] is the peer's fault and is sticky: after it, the handle refuses every
//! call with the same error. The other variants describe one call and leave the ring usable.

use core::fmt;

/// The error of every ring operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// The ring has no room for this frame now. Nothing was written; the caller still has its
    /// message and may retry once the consumer has made room.
    Full,
    /// The frame can never fit: longer than [`MAX_FRAME_BYTES`](crate::MAX_FRAME_BYTES) or than
    /// this ring's capacity allows. Nothing was written.
    TooLarge {
        /// Length of the refused frame (the encoded message, for typed sends).
        len_bytes: usize,
        /// The longest frame this ring accepts.
        max_bytes: usize,
    },
    /// The message could not be encoded with postcard (a serde `Serialize` impl failed or was
    /// not deterministic). Nothing was written.
    Encode,
    /// A frame arrived but is not the postcard encoding of the requested type (or has trailing
    /// bytes). The frame has been consumed; the ring is still usable.
    Decode,
    /// The next frame is longer than the buffer given to receive it. Nothing was consumed: retry
    /// with a buffer of at least `needed_bytes`.
    BufferTooSmall {
        /// Length of the waiting frame.
        needed_bytes: usize,
    },
    /// The region handed to `init`/`attach` cannot hold a ring.
    BadRegion {
        /// What is wrong with it.
        problem: RegionProblem,
    },
    /// The shared state is inconsistent: the peer is faulty or hostile. Sticky.
    Corrupt {
        /// What was found.
        fault: Fault,
    },
}

/// Why a region was refused (a mistake of the caller, not of the peer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionProblem {
    /// The pointer is null.
    Null,
    /// The pointer is not aligned to [`CACHE_LINE_BYTES`](crate::CACHE_LINE_BYTES).
    Misaligned,
    /// The region is shorter than a header and the smallest data area.
    TooSmall {
        /// Length given.
        len_bytes: usize,
        /// Length needed.
        min_bytes: usize,
    },
}

/// An inconsistency in shared memory, found by the side that reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The header does not start with [`MAGIC`](crate::MAGIC).
    BadMagic {
        /// The word found instead.
        found: u32,
    },
    /// The header has another layout [`VERSION`](crate::VERSION).
    BadVersion {
        /// The version found.
        found: u32,
    },
    /// The capacity in the header is not a power of two in the accepted range, or does not fit
    /// in the region.
    BadCapacity {
        /// The capacity found.
        capacity_bytes: u32,
    },
    /// The consumer's index is misaligned, moved backwards, or is ahead of the producer's.
    HeadOutOfRange {
        /// The head read.
        head: u32,
        /// The tail it was checked against.
        tail: u32,
    },
    /// The producer's index is misaligned, moved backwards, or is more than the capacity ahead
    /// of the consumer's.
    TailOutOfRange {
        /// The tail read.
        tail: u32,
        /// The head it was checked against.
        head: u32,
    },
    /// A frame length word exceeds [`MAX_FRAME_BYTES`](crate::MAX_FRAME_BYTES).
    FrameTooLong {
        /// The length found.
        len_bytes: u32,
    },
    /// A frame extends beyond the bytes the producer has published.
    FrameOverrun {
        /// The length found.
        len_bytes: u32,
        /// Bytes published between head and tail.
        available_bytes: u32,
    },
}

impl fmt::Display for RingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RingError::Full => f.write_str("the ring is full; retry after the consumer makes room"),
            RingError::TooLarge { len_bytes, max_bytes } => {
                write!(f, "a frame of {len_bytes} bytes exceeds this ring's limit of {max_bytes}")
            }
            RingError::Encode => f.write_str("the message could not be encoded"),
            RingError::Decode => f.write_str("a frame is not a valid encoding of the expected type"),
            RingError::BufferTooSmall { needed_bytes } => {
                write!(f, "the next frame needs a buffer of {needed_bytes} bytes")
            }
            RingError::BadRegion { problem } => write!(f, "unusable region: {problem}"),
            RingError::Corrupt { fault } => write!(f, "the peer corrupted the ring: {fault}"),
        }
    }
}

impl fmt::Display for RegionProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegionProblem::Null => f.write_str("null pointer"),
            RegionProblem::Misaligned => {
                write!(f, "not aligned to {} bytes", crate::CACHE_LINE_BYTES)
            }
            RegionProblem::TooSmall { len_bytes, min_bytes } => {
                write!(f, "{len_bytes} bytes, at least {min_bytes} needed")
            }
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::BadMagic { found } => write!(f, "bad magic {found:#010x}"),
            Fault::BadVersion { found } => {
                write!(f, "layout version {found}, expected {}", crate::VERSION)
            }
            Fault::BadCapacity { capacity_bytes } => {
                write!(f, "capacity {capacity_bytes} is not a usable power of two")
            }
            Fault::HeadOutOfRange { head, tail } => {
                write!(f, "consumer index {head} is out of range (tail {tail})")
            }
            Fault::TailOutOfRange { tail, head } => {
                write!(f, "producer index {tail} is out of range (head {head})")
            }
            Fault::FrameTooLong { len_bytes } => write!(f, "frame length {len_bytes} exceeds the limit of {}", crate::MAX_FRAME_BYTES),
            Fault::FrameOverrun { len_bytes, available_bytes } => write!(f, "frame length {len_bytes} overruns the {available_bytes} published bytes"),
        }
    }
}

impl core::error::Error for RingError {}
