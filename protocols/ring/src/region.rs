//! The lowest layer: every access to the shared region goes through this module.
//!
//! The peer may write any byte of the region at any moment (it is another PD, possibly
//! Byzantine), so this module never creates a Rust reference to region memory except
//! `&AtomicU32` (an atomic may be written concurrently by others), and moves frame bytes only with
//! `ptr::copy_nonoverlapping` between the region and a private buffer. Every data-area index is
//! reduced modulo the capacity here, and every length is checked against the capacity here, so no
//! caller — whatever the peer wrote into the indices it handed us — can make it touch a byte
//! outside the region.
//!
//! All `unsafe` of the crate is in this file.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::{
    Fault, RegionProblem, RingError, CACHE_LINE_BYTES, CAPACITY_OFFSET_BYTES, FRAME_HEADER_BYTES, HEADER_BYTES, HEAD_OFFSET_BYTES, MAGIC, MAGIC_OFFSET_BYTES,
    MAX_CAPACITY_BYTES, MIN_CAPACITY_BYTES, TAIL_OFFSET_BYTES, VERSION, VERSION_OFFSET_BYTES, WAITING_OFFSET_BYTES,
};

/// A caller-provided region whose address and length have been checked, but whose header has not.
#[derive(Clone, Copy)]
pub(crate) struct RawRegion {
    base: NonNull<u8>,
    len_bytes: usize,
}

impl RawRegion {
    /// Checks the address and length of a region handed in by the caller.
    ///
    /// # Safety
    ///
    /// `base` is valid for reads and writes of `len_bytes` bytes for as long as the returned value
    /// or anything built from it is used, and nothing in this process holds a Rust reference into
    /// those bytes (see the crate docs for the full contract).
    pub(crate) unsafe fn new(base: *mut u8, len_bytes: usize) -> Result<Self, RingError> {
        let Some(base) = NonNull::new(base) else {
            return Err(RingError::BadRegion { problem: RegionProblem::Null });
        };
        if base.as_ptr() as usize % CACHE_LINE_BYTES != 0 {
            return Err(RingError::BadRegion { problem: RegionProblem::Misaligned });
        }
        let min_bytes = HEADER_BYTES + MIN_CAPACITY_BYTES;
        if len_bytes < min_bytes {
            return Err(RingError::BadRegion { problem: RegionProblem::TooSmall { len_bytes, min_bytes } });
        }
        Ok(RawRegion { base, len_bytes })
    }

    /// The header word at `offset` (one of the `*_OFFSET_BYTES` constants).
    #[inline]
    fn word(&self, offset: usize) -> &AtomicU32 {
        // Offsets are crate constants; this holds for every call site.
        assert!(offset % 4 == 0 && offset + 4 <= HEADER_BYTES, "header offset {offset}");
        // SAFETY: `offset + 4 <= HEADER_BYTES <= len_bytes`, so the word lies in the region, which
        // is valid for reads and writes for as long as `self` is used (contract of `new`). The
        // base is 64-byte aligned and `offset` a multiple of 4, so the word is aligned for
        // `AtomicU32`. An `AtomicU32` may be read and written concurrently by the peer; we only
        // ever access it atomically.
        unsafe { &*self.base.as_ptr().add(offset).cast::<AtomicU32>() }
    }

    /// Writes a fresh header for a ring of `capacity_bytes` (already checked by the caller).
    pub(crate) fn format(&self, capacity_bytes: u32) {
        self.word(TAIL_OFFSET_BYTES).store(0, Ordering::Relaxed);
        self.word(HEAD_OFFSET_BYTES).store(0, Ordering::Relaxed);
        self.word(WAITING_OFFSET_BYTES).store(0, Ordering::Relaxed);
        self.word(VERSION_OFFSET_BYTES).store(VERSION, Ordering::Relaxed);
        self.word(CAPACITY_OFFSET_BYTES).store(capacity_bytes, Ordering::Relaxed);
        // Release: a side that reads the magic with Acquire also sees the fields above. (Handing
        // the region to the peer — spawning it, mapping the region — usually orders this anyway.)
        self.word(MAGIC_OFFSET_BYTES).store(MAGIC, Ordering::Release);
    }

    /// The largest capacity this region can hold: a power of two, at most
    /// [`MAX_CAPACITY_BYTES`].
    pub(crate) fn largest_capacity(&self) -> u32 {
        let data_bytes = (self.len_bytes - HEADER_BYTES).min(MAX_CAPACITY_BYTES);
        // `data_bytes >= MIN_CAPACITY_BYTES > 0` (checked in `new`); the result fits in u32
        // because `MAX_CAPACITY_BYTES <= 2^31`.
        (1usize << (usize::BITS - 1 - data_bytes.leading_zeros())) as u32
    }

    /// Reads the header (magic, version and capacity, each exactly once) and opens the ring it
    /// describes, refusing a header the peer may have corrupted.
    pub(crate) fn open(self) -> Result<Region, Fault> {
        let magic = self.word(MAGIC_OFFSET_BYTES).load(Ordering::Acquire);
        if magic != MAGIC {
            return Err(Fault::BadMagic { found: magic });
        }
        let version = self.word(VERSION_OFFSET_BYTES).load(Ordering::Relaxed);
        if version != VERSION {
            return Err(Fault::BadVersion { found: version });
        }
        let capacity_bytes = self.word(CAPACITY_OFFSET_BYTES).load(Ordering::Relaxed);
        let capacity = capacity_bytes as usize;
        if !capacity.is_power_of_two() || !(MIN_CAPACITY_BYTES..=MAX_CAPACITY_BYTES).contains(&capacity) || capacity > self.len_bytes - HEADER_BYTES {
            return Err(Fault::BadCapacity { capacity_bytes });
        }
        Ok(Region { raw: self, capacity_bytes, mask: capacity_bytes - 1 })
    }
}

/// An open ring: header words and a data area of `capacity_bytes` (a power of two, checked
/// against the region length once, at open, and never re-read from shared memory).
pub(crate) struct Region {
    raw: RawRegion,
    capacity_bytes: u32,
    mask: u32,
}

impl Region {
    #[inline]
    pub(crate) fn capacity_bytes(&self) -> u32 {
        self.capacity_bytes
    }

    /// The producer's index (bytes written, free-running modulo 2^32).
    #[inline]
    pub(crate) fn tail(&self) -> &AtomicU32 {
        self.raw.word(TAIL_OFFSET_BYTES)
    }

    /// The consumer's index (bytes consumed, free-running modulo 2^32).
    #[inline]
    pub(crate) fn head(&self) -> &AtomicU32 {
        self.raw.word(HEAD_OFFSET_BYTES)
    }

    /// Non-zero while the consumer is asleep or about to sleep.
    #[inline]
    pub(crate) fn waiting(&self) -> &AtomicU32 {
        self.raw.word(WAITING_OFFSET_BYTES)
    }

    #[inline]
    fn data(&self) -> *mut u8 {
        // SAFETY: `HEADER_BYTES < len_bytes` (checked in `RawRegion::new`), so the result points
        // into the region.
        unsafe { self.raw.base.as_ptr().add(HEADER_BYTES) }
    }

    /// The data-area word that holds a frame length at `index` (rounded down to a multiple of
    /// [`FRAME_HEADER_BYTES`]; callers keep indices aligned anyway).
    #[inline]
    fn length_word(&self, index: u32) -> &AtomicU32 {
        let pos = (index & self.mask & !(FRAME_HEADER_BYTES as u32 - 1)) as usize;
        // SAFETY: `pos` is a multiple of 4 below the capacity, which is a multiple of 4, so
        // `pos + 4 <= capacity` and the word lies in the data area (`HEADER_BYTES + capacity <=
        // len_bytes`, checked in `open`). The data area starts `HEADER_BYTES` (a multiple of 64)
        // after a 64-byte-aligned base, so the word is 4-byte aligned. We access it only
        // atomically; the peer may write it concurrently, which an atomic tolerates.
        unsafe { AtomicU32::from_ptr(self.data().add(pos).cast::<u32>()) }
    }

    /// Writes the length word of the frame starting at `index`.
    #[inline]
    pub(crate) fn store_frame_len(&self, index: u32, len_bytes: u32) {
        // Relaxed: published by the Release store of the tail that follows.
        self.length_word(index).store(len_bytes, Ordering::Relaxed);
    }

    /// Reads the length word of the frame starting at `index`, once.
    #[inline]
    pub(crate) fn load_frame_len(&self, index: u32) -> u32 {
        // Relaxed: the caller loaded the tail that covers this frame with Acquire.
        self.length_word(index).load(Ordering::Relaxed)
    }

    /// Splits `len` bytes starting at `index` into the part before the end of the data area and
    /// the part that wraps to its start: `(pos, first, rest)`.
    #[inline]
    fn span(&self, index: u32, len: usize) -> (usize, usize, usize) {
        // An internal invariant (frames are at most MAX_FRAME_BYTES and fit the capacity), not
        // something the peer controls.
        assert!(len <= self.capacity_bytes as usize, "copy of {len} bytes exceeds the ring");
        let pos = (index & self.mask) as usize;
        let first = len.min(self.capacity_bytes as usize - pos);
        (pos, first, len - first)
    }

    /// Copies `src` (private memory) into the data area at `index`, wrapping at the end.
    #[inline]
    pub(crate) fn write_bytes(&self, index: u32, src: &[u8]) {
        let (pos, first, rest) = self.span(index, src.len());
        // SAFETY: `pos < capacity` and `pos + first <= capacity`; `rest = len - first`, and when
        // `rest > 0` then `first = capacity - pos`, so `rest = len - capacity + pos <= pos`. Both
        // destination ranges therefore lie in the data area, which is valid for writes. `src` is
        // private memory (no reference into the region exists, crate contract), so the ranges do
        // not overlap.
        unsafe {
            copy_bytes(src.as_ptr(), self.data().add(pos), first);
            if rest != 0 {
                copy_bytes(src.as_ptr().add(first), self.data(), rest);
            }
        }
    }

    /// Copies bytes at `index` of the data area (wrapping at the end) into `dst` (private memory).
    /// The peer may change them meanwhile; `dst` then holds some mixture, never anything from
    /// outside the region.
    #[inline]
    pub(crate) fn read_bytes(&self, index: u32, dst: &mut [u8]) {
        let (pos, first, rest) = self.span(index, dst.len());
        // SAFETY: as in `write_bytes`, both source ranges lie in the data area, valid for reads;
        // `dst` is private memory, so the ranges do not overlap.
        unsafe {
            copy_bytes(self.data().add(pos), dst.as_mut_ptr(), first);
            if rest != 0 {
                copy_bytes(self.data(), dst.as_mut_ptr().add(first), rest);
            }
        }
    }
}

/// Largest copy done inline rather than by a call to `memcpy`.
const INLINE_COPY_MAX_BYTES: usize = 64;

/// `copy_nonoverlapping`, with copies of up to [`INLINE_COPY_MAX_BYTES`] done inline as a few
/// fixed-size (possibly overlapping) moves, as `memcpy` does for small sizes but without the call:
/// small frames are the common case.
///
/// # Safety
///
/// As `core::ptr::copy_nonoverlapping(src, dst, len)`.
#[inline(always)]
unsafe fn copy_bytes(src: *const u8, dst: *mut u8, len: usize) {
    use core::ptr::copy_nonoverlapping as copy;
    // SAFETY (whole body): every move below reads `src[a..a + n]` and writes `dst[a..a + n]` with
    // `a + n <= len`, which the caller guarantees valid and non-overlapping.
    unsafe {
        if len > INLINE_COPY_MAX_BYTES {
            copy(src, dst, len);
        } else if len >= 32 {
            copy(src, dst, 32);
            copy(src.add(len - 32), dst.add(len - 32), 32);
        } else if len >= 16 {
            copy(src, dst, 16);
            copy(src.add(len - 16), dst.add(len - 16), 16);
        } else if len >= 8 {
            copy(src, dst, 8);
            copy(src.add(len - 8), dst.add(len - 8), 8);
        } else if len >= 4 {
            copy(src, dst, 4);
            copy(src.add(len - 4), dst.add(len - 4), 4);
        } else {
            for at in 0..len {
                copy(src.add(at), dst.add(at), 1);
            }
        }
    }
}
