//! Where a PD's defmt frames go on seL4 (the logger itself is `crate::logger`): one call to the
//! monitor per frame (label `Log`); the monitor runs above every PD and prints it as one
//! `rampart-log <pd> <hex>` console line, which the tool decodes.

use super::layout;
use core::sync::atomic::{AtomicBool, Ordering};

/// Largest encoded log frame, in bytes: what one message to the monitor carries.
pub const LOG_FRAME_MAX_BYTES: usize = layout::MONITOR_BYTES_MAX;

/// Whether the PD has started (logging before that is dropped).
static STARTED: AtomicBool = AtomicBool::new(false);

/// Called once the PD knows who it is: from then on frames go to the monitor.
pub(crate) fn start() {
    STARTED.store(true, Ordering::Relaxed);
}

/// Hand one whole frame to the monitor.
pub(crate) fn emit(frame: &[u8]) {
    if STARTED.load(Ordering::Relaxed) {
        super::monitor_bytes(layout::MonitorLabel::Log, frame);
    }
}
