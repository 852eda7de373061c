//! A bounded single-producer single-consumer message ring in a shared memory region.
//!
//! This is the transport between two protection domains that share a memory region and signal
//! each other through a channel. One PD holds the [`Producer`], the other the [`Consumer`]; each
//! attaches to the same region (a raw pointer and length, e.g. an mmap'd or Microkit-mapped shared
//! region). Messages are *frames*: byte strings of at most [`MAX_FRAME_BYTES`], sent either raw
//! ([`Producer::try_send_frame`]) or as the postcard encoding of a serde type
//! ([`Producer::try_send`], [`Consumer::try_recv`]).
//!
//! # What a caller can rely on
//!
//! - **Order and integrity against an honest peer.** Frames arrive whole, once, in the order sent.
//! - **Back-pressure, not loss.** When the ring has no room, a send returns [`RingError::Full`]
//!   and writes nothing; the caller still holds its message and retries after the consumer has
//!   made room. A frame that could never fit gives [`RingError::TooLarge`] instead.
//! - **No allocation, no blocking, no `std`.** Every call does a bounded amount of work: at most
//!   one frame, at most one load of each shared index. Buffers are fixed-size (`heapless`).
//! - **Restartable.** Each side keeps its index in the shared header, so a restarted PD
//!   re-attaches and carries on where the ring stands; frames the producer had staged but not
//!   published when it died are simply not sent.
//! - **No trust in the peer.** The peer is another address space and may write anything into the
//!   shared header and data at any time. Whatever it writes, this side never reads or writes
//!   outside the region, never panics, and never has undefined behaviour: an inconsistent header,
//!   index or frame length gives [`RingError::Corrupt`], after which every call on that handle
//!   returns the same error (the ring is abandoned; the usual answer is to restart the peer and
//!   re-[`init`] the region). Each shared index is read once per operation into a local, checked,
//!   then used; frame bytes are copied into private memory before they are decoded. What a
//!   Byzantine peer *can* do is send well-formed garbage, withhold messages, or ring the doorbell
//!   needlessly — the same as any peer on a channel.
//!
//! # Layout
//!
//! ```text
//! offset    line  written by        contents
//!      0    0     init              MAGIC (u32), VERSION (u32), capacity_bytes (u32)
//!     64    1     producer          tail: bytes ever written, free-running mod 2^32 (u32)
//!    128    2     consumer          head: bytes ever consumed, free-running mod 2^32 (u32)
//!    192    3     consumer/producer consumer_waiting: non-zero while the consumer sleeps (u32)
//!    256    -     producer          data area: capacity_bytes (a power of two) of frames
//! ```
//!
//! Header words are native-endian (both PDs run on the same machine). The region must be aligned
//! to [`CACHE_LINE_BYTES`] and at least [`HEADER_BYTES`] + [`MIN_CAPACITY_BYTES`] long. Each index
//! sits alone on its cache line, so the producer's stores never invalidate the line the consumer
//! writes and vice versa.
//!
//! A frame is a `u32` length `n` at an index that is a multiple of [`FRAME_ALIGN_BYTES`], then `n`
//! payload bytes, padded to the next multiple of [`FRAME_ALIGN_BYTES`]: it occupies
//! `FRAME_HEADER_BYTES + round_up(n, FRAME_ALIGN_BYTES)` bytes, and its payload may wrap from the
//! end of the data area to its start. The ring is full when `tail - head` would exceed the
//! capacity; no slot is kept empty, since the free-running indices tell full from empty.
//!
//! # Sending: write, publish, announce
//!
//! A frame goes through three steps. It is *written* into free space after the tail; it is
//! *published* when the shared tail is moved past it (only then can the consumer see it); it is
//! *announced* when the producer checks whether the consumer sleeps and rings the doorbell if so.
//!
//! - [`Producer::try_send_frame`] / [`Producer::try_send`] do all three for each frame: simplest,
//!   lowest latency, one SeqCst fence per frame.
//! - [`Producer::try_write_frame`] / [`Producer::try_write`] only write and *stage* the frame.
//!   Staged frames are published together once [`PUBLISH_BATCH_BYTES`] have accumulated, by
//!   [`Producer::publish`], and by [`Producer::flush`], which publishes and announces. A burst ends
//!   with one `flush`: one tail store per batch and one fence per burst instead of one each per
//!   frame. A send that finds the ring full flushes by itself before it returns
//!   [`RingError::Full`], so staged frames can never be hidden from the consumer that has to make
//!   room; dropping the producer flushes too.
//!
//! # Memory ordering
//!
//! Two Release/Acquire pairs carry the data; each side also caches the other's index and reloads
//! it only when the cached value says "no room" or "nothing to read", so in steady state the
//! producer and consumer touch each other's index line once per batch, not once per message.
//!
//! - *Frame publication.* The producer writes the length words and payloads (Relaxed / plain
//!   copies), then stores `tail` with **Release**. The consumer loads `tail` with **Acquire**;
//!   everything the producer wrote before that store — every byte of every frame below the new
//!   tail — is then visible to it.
//! - *Space release.* The consumer copies a frame out of the ring into private memory, then stores
//!   `head` with **Release**. The producer loads `head` with **Acquire** before it reuses that
//!   space, so the consumer's reads of the old bytes happen before the producer's overwrite.
//!
//! # Doorbell: waking a sleeping consumer
//!
//! The ring knows nothing of channels: the producer is given a [`Doorbell`] (on seL4, a
//! `microkit_notify` on the channel to the consumer) and rings it only when the consumer has said
//! it is going to sleep. The protocol, on the `consumer_waiting` word:
//!
//! ```text
//! consumer (Consumer::prepare_wait)            producer (Producer::flush)
//!   waiting := 1           (Relaxed)             tail := t        (Release: publication)
//!   fence(SeqCst)                   F_c          fence(SeqCst)                          F_p
//!   t' := tail             (Acquire)             if waiting != 0 and swap(waiting, 0) != 0:
//!   if t' == head: sleep on the channel               ring the doorbell
//!   else: waiting := 0, go on reading
//! ```
//!
//! *No lost wake-up.* The two SeqCst fences are totally ordered. If `F_c` comes first, the
//! producer's load of `waiting` after `F_p` sees the consumer's `1` (the store is sequenced before
//! `F_c`), so it rings. If `F_p` comes first, the consumer's load of `tail` after `F_c` sees the
//! producer's store of `t` (sequenced before `F_p`), so it does not sleep. Either way a frame
//! published before the producer's check is never left unread by a sleeping consumer. (This is
//! the store-buffering pattern; Release/Acquire alone would allow both loads to read old values.)
//! A `flush` with nothing published since the previous check skips the fence: a consumer that
//! went to sleep after that check saw every frame published before it, so it has nothing to miss.
//!
//! *Few rings.* The producer clears the flag when it rings, so one sleep costs at most one ring;
//! while the consumer is awake no doorbell is rung at all. A stale flag (the consumer woke for
//! another reason and did not clear it) costs one extra, harmless ring.
//!
//! *What the doorbell must do.* A ring that arrives before the consumer sleeps must wake that
//! sleep (seL4 notifications, eventfd, a semaphore all latch), and a ring must happen-before the
//! wake it causes (true of a system call). Consumers must tolerate spurious wake-ups: after any
//! wake they read until empty and call [`Consumer::prepare_wait`] again.
//!
//! *What the producer must do.* End every burst of `try_write*` with [`Producer::flush`], and
//! flush before it stops producing, blocks or waits for room (a full ring does this itself).
//! Frames that are staged or published but not yet flushed may not wake a sleeping consumer.
//!
//! # Refused
//!
//! Frames over [`MAX_FRAME_BYTES`] (or over the capacity less [`FRAME_HEADER_BYTES`]); rings of
//! other capacities than powers of two between [`MIN_CAPACITY_BYTES`] and
//! [`MAX_CAPACITY_BYTES`]; regions that are null, misaligned or too small; headers with another
//! [`MAGIC`] or [`VERSION`]. The producer is never told that space is free unless `head` lies
//! between the last head it saw and its own tail; the consumer never reads a frame unless `tail`
//! is aligned, not behind the last tail it saw and at most the capacity ahead of `head`, and the
//! frame's length is at most [`MAX_FRAME_BYTES`] and within the published bytes.
//!
//! # Safety contract of the constructors
//!
//! [`init`], [`Producer::attach`] and [`Consumer::attach`] are `unsafe`: the caller promises that
//! the region is valid for reads and writes of `len_bytes` bytes for as long as the handle lives
//! (it stays mapped, at the same address), that nothing *in this process* holds a Rust reference
//! (`&[u8]`, `&mut [u8]`) into it, and that at most one `Producer` and one `Consumer` are attached
//! to it at a time. What another process does to the region is not part of the contract: that is
//! what the checks above are for. Alignment and size are checked, not assumed.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod consumer;
mod doorbell;
mod error;
mod producer;
mod region;

pub use consumer::{Consumer, Frame, Wait};
pub use doorbell::{Doorbell, NoDoorbell};
pub use error::{Fault, RegionProblem, RingError};
pub use producer::Producer;

/// The cache-line size the layout is built for: each shared index has a line of its own.
pub const CACHE_LINE_BYTES: usize = 64;
/// Size of the shared header: four cache lines (config, tail, head, consumer-waiting flag).
pub const HEADER_BYTES: usize = 4 * CACHE_LINE_BYTES;
/// Offset of the magic number in the header (config line).
pub const MAGIC_OFFSET_BYTES: usize = 0;
/// Offset of the format version in the header (config line).
pub const VERSION_OFFSET_BYTES: usize = 4;
/// Offset of the data-area capacity in the header (config line).
pub const CAPACITY_OFFSET_BYTES: usize = 8;
/// Offset of the producer's index, alone on its cache line.
pub const TAIL_OFFSET_BYTES: usize = CACHE_LINE_BYTES;
/// Offset of the consumer's index, alone on its cache line.
pub const HEAD_OFFSET_BYTES: usize = 2 * CACHE_LINE_BYTES;
/// Offset of the consumer-waiting flag, alone on its cache line (written only around sleeps, so
/// the producer's per-burst read of it stays a cache hit).
pub const WAITING_OFFSET_BYTES: usize = 3 * CACHE_LINE_BYTES;

/// The first header word of every ring: `"RRNG"` read as a little-endian `u32`.
pub const MAGIC: u32 = u32::from_le_bytes(*b"RRNG");
/// The layout version; bumped on any change to the layout or frame format.
pub const VERSION: u32 = 1;

/// Staged bytes after which [`Producer::try_write_frame`] and [`Producer::try_write`] publish on
/// their own (a quarter of the capacity for rings smaller than four times this): one tail store,
/// and one run of cache-line transfers, per batch instead of per frame.
pub const PUBLISH_BATCH_BYTES: usize = 2048;

/// Largest frame payload, in bytes: one 4 KiB page.
pub const MAX_FRAME_BYTES: usize = 4096;
/// Size of the length word in front of every frame.
pub const FRAME_HEADER_BYTES: usize = 4;
/// Frames start at indices that are multiples of this, so a length word never wraps.
pub const FRAME_ALIGN_BYTES: usize = 4;
/// Smallest data area.
pub const MIN_CAPACITY_BYTES: usize = 64;
/// Largest data area (1 GiB): keeps `tail - head` unambiguous in 32-bit free-running indices.
pub const MAX_CAPACITY_BYTES: usize = 1 << 30;

/// Bytes a frame of `len_bytes` payload occupies in the data area (length word and padding
/// included).
pub const fn frame_span_bytes(len_bytes: usize) -> usize {
    FRAME_HEADER_BYTES + len_bytes.div_ceil(FRAME_ALIGN_BYTES) * FRAME_ALIGN_BYTES
}

/// Region size needed for a data area of `capacity_bytes` (a power of two).
pub const fn region_bytes(capacity_bytes: usize) -> usize {
    HEADER_BYTES + capacity_bytes
}

/// Formats a region as an empty ring and returns its capacity in bytes: the largest power of two
/// that fits after the header, at most [`MAX_CAPACITY_BYTES`].
///
/// Done once, by whoever sets the region up (the system initializer, or one of the two PDs before
/// the other attaches), while no [`Producer`] or [`Consumer`] is attached. Re-initializing a
/// region discards whatever it held.
///
/// # Safety
///
/// `region` is valid for reads and writes of `len_bytes` bytes for the duration of the call, and
/// nothing in this process holds a Rust reference into those bytes.
pub unsafe fn init(region: *mut u8, len_bytes: usize) -> Result<usize, RingError> {
    // SAFETY: the caller's contract is the one `RawRegion::new` asks for.
    let raw = unsafe { region::RawRegion::new(region, len_bytes) }?;
    let capacity_bytes = raw.largest_capacity();
    raw.format(capacity_bytes);
    Ok(capacity_bytes as usize)
}
