//! The sending side.
//!
//! Frames are written, then *published* (the shared tail is moved past them, so the consumer can
//! see them), then *announced* (the doorbell is rung if the consumer sleeps). `try_send*` does all
//! three per frame. `try_write*` only writes and stages the frame; staged frames are published
//! together — when [`PUBLISH_BATCH_BYTES`](crate::PUBLISH_BATCH_BYTES) have accumulated, on
//! [`Producer::publish`], on [`Producer::flush`], and whenever the ring is full — so that a burst
//! costs one tail store per batch and one wake check in all, not one per frame.
//!
//! The producer's own index (`tail`) lives in a private field and is only ever *written* to shared
//! memory; the only shared words it reads are the consumer's `head` (at most once per send, and
//! only when its cached copy shows too little room) and the consumer-waiting flag (once per wake
//! check). It never reads the data area. So the consumer can lie about how much room there is —
//! which is refused when the lie is inconsistent — but cannot make the producer write outside the
//! region or overwrite frames the consumer has not released.

use core::sync::atomic::{fence, Ordering};

use postcard::ser_flavors::{Flavor, Size};
use serde::Serialize;

use crate::region::{RawRegion, Region};
use crate::{frame_span_bytes, Doorbell, Fault, RingError, FRAME_ALIGN_BYTES, FRAME_HEADER_BYTES, MAX_FRAME_BYTES, PUBLISH_BATCH_BYTES};

/// The sending side of a ring. One per ring; `Send` so it may move to another thread.
pub struct Producer<D: Doorbell> {
    region: Region,
    /// Bytes ever written (free-running), staged frames included. Authoritative here; the shared
    /// copy is only written.
    tail: u32,
    /// The tail as last stored to shared memory; `published_tail..tail` is staged.
    published_tail: u32,
    /// Staged bytes that trigger publication: `PUBLISH_BATCH_BYTES`, or a quarter of a small ring.
    publish_batch_bytes: u32,
    /// Frames were published since the last wake check, so a sleeping consumer may need a ring.
    unannounced: bool,
    /// The consumer's head as last loaded and checked: the producer may write up to
    /// `cached_head + capacity`. Never beyond `published_tail`.
    cached_head: u32,
    /// Set on the first inconsistency; every later call returns it.
    fault: Option<Fault>,
    doorbell: D,
}

// SAFETY: a `Producer` is the only user of its side of the region in this process (contract of
// `attach`), and every access it makes is an atomic or a copy through a raw pointer that is valid
// from any thread, so moving it to another thread is sound if its doorbell may move too.
unsafe impl<D: Doorbell + Send> Send for Producer<D> {}

impl<D: Doorbell> Producer<D> {
    /// Attaches the producer to a ring that [`init`](crate::init) formatted, resuming at the tail
    /// stored in the header (so a restarted producer carries on where it left off).
    ///
    /// Refuses a region that is null, misaligned or too small ([`RingError::BadRegion`]) and a
    /// header with a bad magic, version, capacity or indices ([`RingError::Corrupt`]).
    ///
    /// # Safety
    ///
    /// `region` is valid for reads and writes of `len_bytes` bytes for as long as the producer
    /// lives; nothing in this process holds a Rust reference into it; no other `Producer` is
    /// attached to it. (The crate docs give the full contract.)
    pub unsafe fn attach(region: *mut u8, len_bytes: usize, doorbell: D) -> Result<Self, RingError> {
        // SAFETY: forwarded from the caller.
        let raw = unsafe { RawRegion::new(region, len_bytes) }?;
        let region = raw.open().map_err(|fault| RingError::Corrupt { fault })?;
        let tail = region.tail().load(Ordering::Relaxed);
        let head = region.head().load(Ordering::Acquire);
        if tail % FRAME_ALIGN_BYTES as u32 != 0 || tail.wrapping_sub(head) > region.capacity_bytes() {
            return Err(RingError::Corrupt { fault: Fault::TailOutOfRange { tail, head } });
        }
        let publish_batch_bytes = (PUBLISH_BATCH_BYTES as u32).min(region.capacity_bytes() / 4);
        Ok(Producer { region, tail, published_tail: tail, publish_batch_bytes, unannounced: false, cached_head: head, fault: None, doorbell })
    }

    /// Capacity of the data area, in bytes.
    #[inline]
    pub fn capacity_bytes(&self) -> usize {
        self.region.capacity_bytes() as usize
    }

    /// The longest frame this ring accepts: [`MAX_FRAME_BYTES`], or less for a small ring.
    #[inline]
    pub fn max_frame_bytes(&self) -> usize {
        MAX_FRAME_BYTES.min(self.capacity_bytes() - FRAME_HEADER_BYTES)
    }

    /// The doorbell this producer rings.
    pub fn doorbell(&self) -> &D {
        &self.doorbell
    }

    /// Sends one raw frame: writes it, publishes it (with any staged frames) and wakes the
    /// consumer if it is waiting.
    ///
    /// `Err(Full)`: nothing was written; the caller keeps its frame and retries later. The wake
    /// check costs a full fence; to send a burst, use [`try_write_frame`](Self::try_write_frame)
    /// and one [`flush`](Self::flush).
    #[inline]
    pub fn try_send_frame(&mut self, frame: &[u8]) -> Result<(), RingError> {
        self.try_write_frame(frame)?;
        self.flush();
        Ok(())
    }

    /// Sends the postcard encoding of `msg`: as [`try_send_frame`](Self::try_send_frame).
    pub fn try_send<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<(), RingError> {
        self.try_write(msg)?;
        self.flush();
        Ok(())
    }

    /// Writes one raw frame and stages it. The consumer sees it once it is published: after
    /// [`PUBLISH_BATCH_BYTES`](crate::PUBLISH_BATCH_BYTES) of staged frames, at the next
    /// [`publish`](Self::publish) or [`flush`](Self::flush), or when a write finds the ring full.
    /// A sleeping consumer is woken only by a [`flush`](Self::flush) (or a full ring): end every
    /// burst with one.
    ///
    /// `Err(Full)`: nothing was written; the caller keeps its frame. Before returning it, the
    /// producer flushes, so a full ring never hides staged frames from a sleeping consumer.
    #[inline]
    pub fn try_write_frame(&mut self, frame: &[u8]) -> Result<(), RingError> {
        self.check()?;
        let len_bytes = frame.len();
        if len_bytes > self.max_frame_bytes() {
            return Err(RingError::TooLarge { len_bytes, max_bytes: self.max_frame_bytes() });
        }
        // Both fit in u32: len_bytes <= MAX_FRAME_BYTES.
        let span = frame_span_bytes(len_bytes) as u32;
        self.reserve(span)?;
        self.region.write_bytes(self.tail.wrapping_add(FRAME_HEADER_BYTES as u32), frame);
        self.region.store_frame_len(self.tail, len_bytes as u32);
        self.stage(span);
        Ok(())
    }

    /// Writes and stages the postcard encoding of `msg`: as [`try_write_frame`](Self::try_write_frame).
    ///
    /// The message is encoded straight into the ring (measured first, then written), so no buffer
    /// of [`MAX_FRAME_BYTES`] is needed on the stack.
    pub fn try_write<T: Serialize + ?Sized>(&mut self, msg: &T) -> Result<(), RingError> {
        self.check()?;
        let len_bytes = postcard::serialize_with_flavor(msg, Size::default()).map_err(|_| RingError::Encode)?;
        if len_bytes > self.max_frame_bytes() {
            return Err(RingError::TooLarge { len_bytes, max_bytes: self.max_frame_bytes() });
        }
        let span = frame_span_bytes(len_bytes) as u32;
        self.reserve(span)?;
        let writer = RingWriter { region: &self.region, index: self.tail.wrapping_add(FRAME_HEADER_BYTES as u32), written_bytes: 0, limit_bytes: len_bytes };
        // A serializer that produced more bytes the second time is stopped at the limit; one that
        // produced fewer is caught here. Either way nothing is published.
        let written = postcard::serialize_with_flavor(msg, writer).map_err(|_| RingError::Encode)?;
        if written != len_bytes {
            return Err(RingError::Encode);
        }
        self.region.store_frame_len(self.tail, len_bytes as u32);
        self.stage(span);
        Ok(())
    }

    /// Makes every staged frame visible to the consumer (one Release store), without the wake
    /// check: a polling consumer sees them at once, a sleeping one only after a
    /// [`flush`](Self::flush).
    #[inline]
    pub fn publish(&mut self) {
        if self.published_tail != self.tail {
            self.published_tail = self.tail;
            // Release: the frames' length words and payloads, written before, are visible to a
            // consumer that loads this tail with Acquire.
            self.region.tail().store(self.tail, Ordering::Release);
            self.unannounced = true;
        }
    }

    /// Publishes every staged frame and, if frames were published since the last check, rings
    /// the doorbell when the consumer has announced that it is going to sleep (clearing that
    /// announcement). Returns whether it rang. Call at the end of every burst of `try_write*`, and
    /// always before the producer stops sending, blocks, or waits for room.
    ///
    /// Ordering: the SeqCst fence orders every tail store before it against the load of the flag
    /// after it; paired with the consumer's fence in
    /// [`Consumer::prepare_wait`](crate::Consumer::prepare_wait), either this load sees the
    /// consumer's flag or the consumer sees the published tail (see the crate docs). With nothing
    /// published since the last check there is nothing a sleeping consumer could miss, so the
    /// fence is skipped: a producer spinning on a full ring pays it once.
    #[inline]
    pub fn flush(&mut self) -> bool {
        self.publish();
        if !self.unannounced {
            return false;
        }
        self.unannounced = false;
        fence(Ordering::SeqCst);
        let waiting = self.region.waiting();
        // The plain load keeps the common case (consumer awake) a shared-line read; the swap
        // makes one sleep cost at most one ring even if the consumer clears the flag meanwhile.
        if waiting.load(Ordering::Relaxed) != 0 && waiting.swap(0, Ordering::Relaxed) != 0 {
            self.doorbell.ring();
            true
        } else {
            false
        }
    }

    #[inline]
    fn check(&self) -> Result<(), RingError> {
        match self.fault {
            None => Ok(()),
            Some(fault) => Err(RingError::Corrupt { fault }),
        }
    }

    #[cold]
    fn poison(&mut self, fault: Fault) -> RingError {
        self.fault = Some(fault);
        RingError::Corrupt { fault }
    }

    /// Makes sure `span` bytes are free after `tail`, loading the consumer's head (once) only if
    /// the cached value says they are not.
    #[inline]
    fn reserve(&mut self, span: u32) -> Result<(), RingError> {
        let capacity = self.region.capacity_bytes();
        // Invariant: cached_head <= published_tail <= tail <= cached_head + capacity (wrapping), so
        // `used` is exact.
        let used = self.tail.wrapping_sub(self.cached_head);
        if capacity - used >= span {
            return Ok(());
        }
        // Acquire: pairs with the consumer's Release store of head, so its reads of the bytes
        // below head happen before we overwrite them.
        let head = self.region.head().load(Ordering::Acquire);
        // The consumer may only have moved forward, and not past what we published.
        let advanced = head.wrapping_sub(self.cached_head);
        if advanced > self.published_tail.wrapping_sub(self.cached_head) {
            return Err(self.poison(Fault::HeadOutOfRange { head, tail: self.tail }));
        }
        self.cached_head = head;
        if capacity - (used - advanced) >= span {
            Ok(())
        } else {
            // The consumer must be able to see, and be woken for, everything staged, or it might
            // never make room.
            self.flush();
            Err(RingError::Full)
        }
    }

    /// Stages the frame of `span` bytes just written at `tail`, publishing once enough is staged.
    #[inline]
    fn stage(&mut self, span: u32) {
        self.tail = self.tail.wrapping_add(span);
        if self.tail.wrapping_sub(self.published_tail) >= self.publish_batch_bytes {
            self.publish();
        }
    }
}

impl<D: Doorbell> Drop for Producer<D> {
    /// Publishes and announces staged frames, so that none is lost when the producer goes away.
    fn drop(&mut self) {
        self.flush();
    }
}

/// A postcard output that writes into the ring's data area (through `Region`, never through a
/// reference into shared memory), stopping at `limit_bytes`.
struct RingWriter<'r> {
    region: &'r Region,
    index: u32,
    written_bytes: usize,
    limit_bytes: usize,
}

impl Flavor for RingWriter<'_> {
    type Output = usize;

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.try_extend(&[byte])
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        if bytes.len() > self.limit_bytes - self.written_bytes {
            return Err(postcard::Error::SerializeBufferFull);
        }
        // written_bytes + len <= limit_bytes <= MAX_FRAME_BYTES: fits in u32.
        self.region.write_bytes(self.index.wrapping_add(self.written_bytes as u32), bytes);
        self.written_bytes += bytes.len();
        Ok(())
    }

    fn finalize(self) -> postcard::Result<usize> {
        Ok(self.written_bytes)
    }
}
