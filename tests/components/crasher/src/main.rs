//! Test component: counts its lives in the shared region `lives` (which survives restarts) and
//! panics in its first two; its private memory must be fresh in every life. In its third life it
//! tells its parent.
#![no_std]
#![no_main]

rampart_runtime::bindings!();

use core::sync::atomic::{AtomicU64, Ordering};
use rampart_runtime::{ChannelSet, Handler};

/// Private state: a fresh process starts it at zero, whatever the previous life did.
static PRIVATE_MARK: AtomicU64 = AtomicU64::new(0);

struct Crasher;

impl Handler for Crasher {
    fn notified(&mut self, _channels: ChannelSet) {}
}

fn init() -> Crasher {
    let lives = regions::LIVES;
    let previous = PRIVATE_MARK.swap(0xdead, Ordering::Relaxed);
    assert_eq!(previous, 0, "private memory survived a restart");
    let life = lives.read_u64(0).unwrap_or(0) + 1;
    let _ = lives.write_u64(0, life);
    if life < 3 {
        panic!("crashing on purpose in life {life}");
    }
    defmt::info!("life {}: staying up", life);
    channels::PARENT.notify();
    Crasher
}

rampart_runtime::pd_main!(init);
