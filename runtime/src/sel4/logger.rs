//! defmt logging for PDs on seL4.
//!
//! A log call encodes a compact defmt frame (interned format string index plus arguments,
//! rzcobs-framed) into a buffer of [`LOG_FRAME_MAX_BYTES`]; `release` hands the whole frame to the
//! monitor in one call (label `Log`), and the monitor prints it as one `rampart-log <pd> <hex>`
//! line on the console. The monitor runs above every PD, so lines never interleave or tear; the
//! tool decodes them with the format strings in this PD's ELF file and prints `[pd_name] message`.
//! A frame longer than one message is dropped, not cut (a cut frame would not decode).

use super::layout;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

/// Largest encoded log frame, in bytes: what one message to the monitor carries.
pub const LOG_FRAME_MAX_BYTES: usize = layout::MONITOR_BYTES_MAX;

/// Whether the PD has started (logging before that is dropped).
static STARTED: AtomicBool = AtomicBool::new(false);

/// Called once the PD knows who it is: from then on frames go to the monitor.
pub(crate) fn start() {
    STARTED.store(true, Ordering::Relaxed);
}

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
            if STARTED.load(Ordering::Relaxed) && !buf.overflow {
                super::monitor_bytes(layout::MonitorLabel::Log, &buf.bytes[..buf.len]);
            }
        });
        TAKEN.store(false, Ordering::Release);
    }

    unsafe fn write(bytes: &[u8]) {
        with_frame(|enc, buf| enc.write(bytes, |b| buf.append(b)));
    }
}

defmt::timestamp!("{=u64:us}", super::now_us_or_zero());
