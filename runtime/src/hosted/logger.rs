//! Where a hosted PD's defmt frames go (the logger itself is `crate::logger`): one `write` per
//! frame to the PD's log pipe, which the supervisor decodes.

use core::sync::atomic::{AtomicI32, Ordering};

/// Largest encoded log frame, in bytes.
pub const LOG_FRAME_MAX_BYTES: usize = 1024;

/// The log pipe, once the PD has read its boot information (frames before that are dropped).
pub(crate) static LOG_FD: AtomicI32 = AtomicI32::new(-1);

/// Write one whole frame (at most [`LOG_FRAME_MAX_BYTES`], below PIPE_BUF, so never torn).
pub(crate) fn emit(frame: &[u8]) {
    let fd = LOG_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: one write of a live buffer to the log pipe.
        unsafe { libc::write(fd, frame.as_ptr().cast(), frame.len()) };
    }
}
