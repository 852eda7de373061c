//! How the producer wakes a sleeping consumer, without the ring knowing what a channel is.
//!
//! See the crate docs ("Doorbell") for when the producer rings and what a doorbell must do.

/// Something that wakes the consumer: on seL4 a notification on the channel to the consumer PD,
/// on a host an eventfd, a futex or a condition variable.
///
/// Requirements: a ring that arrives before the consumer sleeps must still wake that sleep
/// (latching, like a seL4 notification or a semaphore), and a ring must happen-before the wake it
/// causes. `ring` should not block for long: the producer calls it on its send path.
pub trait Doorbell {
    /// Wakes the consumer.
    fn ring(&self);
}

/// A doorbell that does nothing, for a consumer that polls and never sleeps.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoDoorbell;

impl Doorbell for NoDoorbell {
    fn ring(&self) {}
}

impl<D: Doorbell + ?Sized> Doorbell for &D {
    fn ring(&self) {
        (**self).ring()
    }
}
