//! The producer rings the doorbell when, and only when, the consumer has said it will sleep, and
//! a sleeping consumer is never left with unread frames.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use common::{backoff, payload_of, TestRegion};
use rampart_ring::{Doorbell, Wait};

/// Counts rings.
#[derive(Default)]
struct Counter(AtomicUsize);

impl Doorbell for Counter {
    fn ring(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

impl Counter {
    fn rings(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

#[test]
fn an_awake_consumer_costs_the_producer_no_rings() {
    let region = TestRegion::new(4096);
    region.init();
    let bell = Counter::default();
    let mut tx = region.producer(&bell);
    let mut rx = region.consumer();
    for seq in 0..1000u64 {
        tx.try_send(&seq).unwrap();
        assert_eq!(rx.try_recv::<u64>().unwrap(), Some(seq));
    }
    assert_eq!(bell.rings(), 0);
}

#[test]
fn a_waiting_consumer_is_rung_once_per_sleep_not_once_per_message() {
    let region = TestRegion::new(4096);
    region.init();
    let bell = Counter::default();
    let mut tx = region.producer(&bell);
    let mut rx = region.consumer();
    for round in 1..=3 {
        assert_eq!(rx.prepare_wait().unwrap(), Wait::Sleep);
        for seq in 0..10u64 {
            tx.try_send(&seq).unwrap();
        }
        assert_eq!(bell.rings(), round, "ten sends to one sleep ring once");
        while rx.try_recv::<u64>().unwrap().is_some() {}
    }
}

#[test]
fn writes_without_the_wake_check_ring_once_at_the_end_of_the_burst() {
    let region = TestRegion::new(4096);
    region.init();
    let bell = Counter::default();
    let mut tx = region.producer(&bell);
    let mut rx = region.consumer();
    assert_eq!(rx.prepare_wait().unwrap(), Wait::Sleep);
    for seq in 0..20u64 {
        tx.try_write(&seq).unwrap();
    }
    assert_eq!(bell.rings(), 0);
    assert!(tx.flush());
    assert!(!tx.flush(), "the flag is cleared by the ring");
    assert_eq!(bell.rings(), 1);
    for seq in 0..20u64 {
        assert_eq!(rx.try_recv::<u64>().unwrap(), Some(seq));
    }
}

#[test]
fn a_consumer_that_finds_frames_while_preparing_to_wait_does_not_sleep_or_get_rung() {
    let region = TestRegion::new(4096);
    region.init();
    let bell = Counter::default();
    let mut tx = region.producer(&bell);
    let mut rx = region.consumer();
    tx.try_write(&1u32).unwrap();
    tx.publish();
    assert_eq!(rx.prepare_wait().unwrap(), Wait::Ready);
    assert!(!tx.flush());
    assert_eq!(rx.try_recv::<u32>().unwrap(), Some(1));
    // A cancelled announcement rings nothing either.
    assert_eq!(rx.prepare_wait().unwrap(), Wait::Sleep);
    rx.cancel_wait();
    tx.try_send(&2u32).unwrap();
    assert_eq!(bell.rings(), 0);
}

#[test]
fn a_flush_with_nothing_new_rings_nobody() {
    let region = TestRegion::new(4096);
    region.init();
    let bell = Counter::default();
    let mut tx = region.producer(&bell);
    let mut rx = region.consumer();
    tx.try_send(&1u8).unwrap();
    assert_eq!(rx.try_recv::<u8>().unwrap(), Some(1));
    // The consumer sleeps after the producer's last check: it saw frame 1, so a flush that
    // publishes nothing has nothing to wake it for.
    assert_eq!(rx.prepare_wait().unwrap(), Wait::Sleep);
    assert!(!tx.flush());
    assert_eq!(bell.rings(), 0);
    tx.try_send(&2u8).unwrap();
    assert_eq!(bell.rings(), 1);
}

/// A latching doorbell, like a seL4 notification: a ring sets a bit, a wait takes it.
#[derive(Default)]
struct Latch {
    pending: Mutex<bool>,
    cond: Condvar,
    rings: AtomicUsize,
}

impl Doorbell for Latch {
    fn ring(&self) {
        self.rings.fetch_add(1, Ordering::Relaxed);
        *self.pending.lock().unwrap() = true;
        self.cond.notify_one();
    }
}

impl Latch {
    /// Sleeps until rung. A lost wake-up would leave the consumer here forever; the timeout turns
    /// that into a test failure.
    fn wait(&self) {
        let guard = self.pending.lock().unwrap();
        let (mut guard, timeout) = self.cond.wait_timeout_while(guard, Duration::from_secs(20), |pending| !*pending).unwrap();
        assert!(!timeout.timed_out(), "lost wake-up: the consumer slept with frames unread");
        *guard = false;
    }
}

#[test]
fn a_consumer_that_sleeps_whenever_the_ring_is_empty_never_misses_a_frame() {
    const MESSAGES: u64 = 200_000;
    let region = TestRegion::new(1 << 12);
    region.init();
    let bell = Latch::default();
    let mut tx = region.producer(&bell);
    let mut rx = region.consumer();
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut spins = 0;
            for seq in 0..MESSAGES {
                let len = (seq % 61) as usize;
                // Sends in bursts of up to 16, with one flush per burst; when full, spins.
                loop {
                    match tx.try_write_frame(payload_of(seq, len)) {
                        Ok(()) => break,
                        // A full ring flushes by itself.
                        Err(rampart_ring::RingError::Full) => backoff(&mut spins),
                        Err(e) => panic!("{e}"),
                    }
                }
                if seq % 16 == 15 {
                    tx.flush();
                }
                if seq % 1000 == 0 {
                    // Let the consumer fall asleep now and then.
                    std::thread::yield_now();
                }
            }
            tx.flush();
        });
        s.spawn(|| {
            let mut got = [0u8; 64];
            let mut seq = 0;
            let mut sleeps = 0;
            while seq < MESSAGES {
                match rx.try_recv_frame_into(&mut got).unwrap() {
                    Some(len) => {
                        let want = (seq % 61) as usize;
                        assert_eq!(len, want, "frame {seq}");
                        assert!(got[..len] == *payload_of(seq, len), "frame {seq}");
                        seq += 1;
                    }
                    None => {
                        if rx.prepare_wait().unwrap() == Wait::Sleep {
                            sleeps += 1;
                            bell.wait();
                        }
                    }
                }
            }
            assert!(sleeps > 0, "the test should exercise sleeping");
            println!("{sleeps} sleeps, {} rings", bell.rings.load(Ordering::Relaxed));
        });
    });
    assert!(region.guards_intact());
}
