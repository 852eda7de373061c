//! The receiving side.
//!
//! The consumer's own index (`head`) lives in a private field and is only ever *written* to shared
//! memory. It reads the producer's `tail` at most once per call (only when its cached copy shows
//! nothing to read), checks it, and reads each frame's length word once, checks it against
//! [`MAX_FRAME_BYTES`] and the published bytes, then copies the payload into private memory before
//! anything looks at it. So whatever the producer writes, the consumer reads only inside the data
//! area, and hands out only frames it has copied.

use core::sync::atomic::{fence, Ordering};

use serde::de::DeserializeOwned;

use crate::region::{RawRegion, Region};
use crate::{Fault, RingError, FRAME_ALIGN_BYTES, FRAME_HEADER_BYTES, MAX_FRAME_BYTES};

/// A frame copied out of the ring.
pub type Frame = heapless::Vec<u8, MAX_FRAME_BYTES>;

/// What [`Consumer::prepare_wait`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// The ring is empty and the producer has been told to ring: sleep on the doorbell.
    Sleep,
    /// Frames arrived meanwhile: do not sleep, read them.
    Ready,
}

/// The receiving side of a ring. One per ring; `Send` so it may move to another thread.
///
/// It owns the buffer typed messages are decoded from, so it is about [`MAX_FRAME_BYTES`] large:
/// keep it in a static or on the heap rather than on a small PD stack.
pub struct Consumer {
    region: Region,
    /// Bytes ever consumed (free-running). Authoritative here; the shared copy is only written.
    head: u32,
    /// The producer's tail as last loaded and checked: frames up to here are published. Always
    /// within `[head, head + capacity]`.
    cached_tail: u32,
    /// Set on the first inconsistency; every later call returns it.
    fault: Option<Fault>,
    /// Private copy of the frame being decoded.
    scratch: [u8; MAX_FRAME_BYTES],
}

// SAFETY: a `Consumer` is the only user of its side of the region in this process (contract of
// `attach`), and every access it makes is an atomic or a copy through a raw pointer that is valid
// from any thread, so moving it to another thread is sound.
unsafe impl Send for Consumer {}

impl Consumer {
    /// Attaches the consumer to a ring that [`init`](crate::init) formatted, resuming at the head
    /// stored in the header (so a restarted consumer carries on where it left off).
    ///
    /// Refuses a region that is null, misaligned or too small ([`RingError::BadRegion`]) and a
    /// header with a bad magic, version, capacity or indices ([`RingError::Corrupt`]).
    ///
    /// # Safety
    ///
    /// `region` is valid for reads and writes of `len_bytes` bytes for as long as the consumer
    /// lives; nothing in this process holds a Rust reference into it; no other `Consumer` is
    /// attached to it. (The crate docs give the full contract.)
    pub unsafe fn attach(region: *mut u8, len_bytes: usize) -> Result<Self, RingError> {
        // SAFETY: forwarded from the caller.
        let raw = unsafe { RawRegion::new(region, len_bytes) }?;
        let region = raw.open().map_err(|fault| RingError::Corrupt { fault })?;
        let head = region.head().load(Ordering::Relaxed);
        let tail = region.tail().load(Ordering::Acquire);
        let align = FRAME_ALIGN_BYTES as u32;
        if head % align != 0 {
            return Err(RingError::Corrupt { fault: Fault::HeadOutOfRange { head, tail } });
        }
        if tail % align != 0 || tail.wrapping_sub(head) > region.capacity_bytes() {
            return Err(RingError::Corrupt { fault: Fault::TailOutOfRange { tail, head } });
        }
        Ok(Consumer { region, head, cached_tail: tail, fault: None, scratch: [0; MAX_FRAME_BYTES] })
    }

    /// Capacity of the data area, in bytes.
    pub fn capacity_bytes(&self) -> usize {
        self.region.capacity_bytes() as usize
    }

    /// Receives the next raw frame into `out` and returns its length, or `None` if the ring is
    /// empty. `Err(BufferTooSmall)` leaves the frame in the ring.
    #[inline]
    pub fn try_recv_frame_into(&mut self, out: &mut [u8]) -> Result<Option<usize>, RingError> {
        let Some((len_bytes, span)) = self.next_frame()? else {
            return Ok(None);
        };
        let len_bytes = len_bytes as usize;
        let Some(dst) = out.get_mut(..len_bytes) else {
            return Err(RingError::BufferTooSmall { needed_bytes: len_bytes });
        };
        self.region.read_bytes(self.head.wrapping_add(FRAME_HEADER_BYTES as u32), dst);
        self.consume(span);
        Ok(Some(len_bytes))
    }

    /// Receives the next raw frame as an owned, fixed-capacity buffer, or `None` if the ring is
    /// empty. (The result is [`MAX_FRAME_BYTES`] large; on a small stack prefer
    /// [`try_recv_frame_into`](Self::try_recv_frame_into).)
    #[inline]
    pub fn try_recv_frame(&mut self) -> Result<Option<Frame>, RingError> {
        let Some((len_bytes, span)) = self.next_frame()? else {
            return Ok(None);
        };
        let mut frame = Frame::new();
        // Cannot fail: len_bytes <= MAX_FRAME_BYTES, checked in `next_frame`.
        let _ = frame.resize(len_bytes as usize, 0);
        self.region.read_bytes(self.head.wrapping_add(FRAME_HEADER_BYTES as u32), &mut frame);
        self.consume(span);
        Ok(Some(frame))
    }

    /// Receives and decodes the next message, or `None` if the ring is empty.
    ///
    /// The frame is copied out of shared memory first, then decoded from the copy; it is consumed
    /// whether or not it decodes. A frame that is not exactly one postcard-encoded `T` (trailing
    /// bytes included) gives [`RingError::Decode`], and the ring stays usable.
    #[inline]
    pub fn try_recv<T: DeserializeOwned>(&mut self) -> Result<Option<T>, RingError> {
        let Some((len_bytes, span)) = self.next_frame()? else {
            return Ok(None);
        };
        let copy = &mut self.scratch[..len_bytes as usize];
        self.region.read_bytes(self.head.wrapping_add(FRAME_HEADER_BYTES as u32), copy);
        self.consume(span);
        match postcard::take_from_bytes::<T>(&self.scratch[..len_bytes as usize]) {
            Ok((msg, [])) => Ok(Some(msg)),
            _ => Err(RingError::Decode),
        }
    }

    /// Announces that the consumer is about to sleep, then looks once more for frames.
    ///
    /// [`Wait::Sleep`]: the ring is empty and the producer will ring the doorbell at its next
    /// [`flush`](crate::Producer::flush) after publishing a frame: sleep on the doorbell now.
    /// [`Wait::Ready`]: frames are there (the announcement is withdrawn): read them instead.
    ///
    /// Ordering: the flag store and the tail load are separated by a SeqCst fence that pairs with
    /// the one in [`Producer::flush`](crate::Producer::flush); see the crate
    /// docs for why no wake-up is lost.
    #[inline]
    pub fn prepare_wait(&mut self) -> Result<Wait, RingError> {
        self.check()?;
        if self.cached_tail != self.head {
            return Ok(Wait::Ready);
        }
        let waiting = self.region.waiting();
        waiting.store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let tail = self.region.tail().load(Ordering::Acquire);
        if self.accept_tail(tail)? == 0 {
            Ok(Wait::Sleep)
        } else {
            self.region.waiting().store(0, Ordering::Relaxed);
            Ok(Wait::Ready)
        }
    }

    /// Withdraws an announcement made by [`prepare_wait`](Self::prepare_wait), for a consumer that
    /// was woken by something else and will not sleep on this ring for now. Optional: a stale
    /// announcement costs one needless ring, nothing more.
    pub fn cancel_wait(&mut self) {
        self.region.waiting().store(0, Ordering::Relaxed);
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

    /// Checks a tail just loaded from shared memory and caches it; returns the bytes published
    /// after head.
    #[inline]
    fn accept_tail(&mut self, tail: u32) -> Result<u32, RingError> {
        let available = tail.wrapping_sub(self.head);
        let known = self.cached_tail.wrapping_sub(self.head);
        // Aligned, not behind the tail we already accepted, at most one capacity ahead of head.
        if tail % FRAME_ALIGN_BYTES as u32 != 0 || available > self.region.capacity_bytes() || available < known {
            return Err(self.poison(Fault::TailOutOfRange { tail, head: self.head }));
        }
        self.cached_tail = tail;
        Ok(available)
    }

    /// Finds the next frame: `(length, span)`, checked against the limits and the published
    /// bytes; `None` if the ring is empty.
    #[inline]
    fn next_frame(&mut self) -> Result<Option<(u32, u32)>, RingError> {
        self.check()?;
        let mut available = self.cached_tail.wrapping_sub(self.head);
        if available == 0 {
            // Acquire: pairs with the producer's Release store of tail, so every frame below it
            // (length words and payload) is visible.
            let tail = self.region.tail().load(Ordering::Acquire);
            available = self.accept_tail(tail)?;
            if available == 0 {
                return Ok(None);
            }
        }
        // Read once; everything below uses this copy.
        let len_bytes = self.region.load_frame_len(self.head);
        if len_bytes as usize > MAX_FRAME_BYTES {
            return Err(self.poison(Fault::FrameTooLong { len_bytes }));
        }
        let span = crate::frame_span_bytes(len_bytes as usize) as u32;
        if span > available {
            return Err(self.poison(Fault::FrameOverrun { len_bytes, available_bytes: available }));
        }
        Ok(Some((len_bytes, span)))
    }

    /// Releases the frame of `span` bytes at head back to the producer.
    #[inline]
    fn consume(&mut self, span: u32) {
        self.head = self.head.wrapping_add(span);
        // Release: our copy of the frame, made above, happens before the producer (which loads
        // head with Acquire) reuses the space.
        self.region.head().store(self.head, Ordering::Release);
    }
}
