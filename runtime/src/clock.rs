//! Time: read a monotonic clock, and set an alarm that arrives as a notification.
//!
//! One API on both backends. Hosted, the clock is the host's `CLOCK_MONOTONIC` and the alarm is
//! part of the PD's event loop. The alarm arrives in [`crate::Handler::notified`] with
//! [`crate::ChannelSet::alarm`] set. A PD has one alarm; setting it again moves it.

/// Nanoseconds since an arbitrary fixed point (boot of the system), never decreasing.
pub fn now_ns() -> u64 {
    crate::sys::now_ns()
}

/// A cycle counter for benchmarks: on x86_64 the time-stamp counter (`rdtsc`), on both backends;
/// elsewhere (hosted only) [`now_ns`]. Not serialising, not scaled, and not comparable between
/// machines: take differences within one PD. Under QEMU's TCG the guest's TSC is emulated (it
/// follows the host's clock), so its cycles are host time, not instructions executed.
pub fn cycles() -> u64 {
    crate::sys::cycles()
}

/// Deliver an alarm once the clock reaches `deadline_ns` (at once if it already has).
pub fn set_alarm(deadline_ns: u64) {
    crate::sys::set_alarm(Some(deadline_ns))
}

/// Deliver an alarm `after_ns` nanoseconds from now.
pub fn set_alarm_after(after_ns: u64) {
    set_alarm(now_ns().saturating_add(after_ns))
}

/// Cancel the alarm, if one is set.
pub fn cancel_alarm() {
    crate::sys::set_alarm(None)
}
