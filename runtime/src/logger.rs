//! The defmt global logger, for both backends.
//!
//! A log call encodes a compact defmt frame (interned format string index plus arguments,
//! rzcobs-framed) into a buffer of the backend's `LOG_FRAME_MAX_BYTES`; `release` hands the whole
//! frame to the backend's `emit` in one piece (hosted: one write to the PD's log pipe; seL4: one
//! call to the monitor, which prints it as one console line), so frames never interleave or tear.
//! The host decodes them with the format strings in the PD's ELF file and prints
//! `[pd_name] message`. A frame longer than the buffer is dropped, not cut (a cut frame would not
//! decode); frames logged before the PD has started are dropped by the backend.

use crate::sys::logger::{emit, LOG_FRAME_MAX_BYTES};
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

struct Buffer {
    bytes: [u8; LOG_FRAME_MAX_BYTES],
    len: usize,
    overflow: bool,
}

impl Buffer {
    fn append(&mut self, bytes: &[u8]) {
        if self.overflow || self.len + bytes.len() > LOG_FRAME_MAX_BYTES {
            self.overflow = true;
            return;
        }
        self.bytes[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

/// A static that only the logger's holder touches.
struct Held<T>(UnsafeCell<T>);

// SAFETY: every access happens between acquire and release, which `TAKEN` makes exclusive.
unsafe impl<T> Sync for Held<T> {}

static TAKEN: AtomicBool = AtomicBool::new(false);
static ENCODER: Held<defmt::Encoder> = Held(UnsafeCell::new(defmt::Encoder::new()));
static BUFFER: Held<Buffer> = Held(UnsafeCell::new(Buffer { bytes: [0; LOG_FRAME_MAX_BYTES], len: 0, overflow: false }));

/// Run `f` on the encoder and the buffer. Only the holder of the logger may call this.
fn with_frame(f: impl FnOnce(&mut defmt::Encoder, &mut Buffer)) {
    // SAFETY: the caller holds the logger (TAKEN), so these are the only references; the
    // encoder and the buffer are distinct statics, so the two &mut do not alias.
    unsafe { f(&mut *ENCODER.0.get(), &mut *BUFFER.0.get()) }
}

#[defmt::global_logger]
struct Logger;

// SAFETY: defmt's contract: acquire and release bracket every frame. A PD is single-threaded; a
// re-entrant log (a log inside a Format impl) panics instead of corrupting the frame.
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        if TAKEN.swap(true, Ordering::Acquire) {
            panic!("defmt logger re-entered");
        }
        with_frame(|enc, buf| {
            buf.len = 0;
            buf.overflow = false;
            enc.start_frame(|b| buf.append(b));
        });
    }

    unsafe fn flush() {}

    unsafe fn release() {
        with_frame(|enc, buf| {
            enc.end_frame(|b| buf.append(b));
            if !buf.overflow {
                emit(&buf.bytes[..buf.len]);
            }
        });
        TAKEN.store(false, Ordering::Release);
    }

    unsafe fn write(bytes: &[u8]) {
        with_frame(|enc, buf| enc.write(bytes, |b| buf.append(b)));
    }
}

defmt::timestamp!("{=u64:us}", crate::sys::now_us_or_zero());
