//! Untrusted chunk sequences from a peer PD: `rampart_transport::Inbox` must never panic and
//! never deliver an empty message or one over its limit (the exact reassembly of well-formed
//! sequences is tested in protocols/transport/tests).
//!
//! The input is cut into frames (each prefixed by one length byte, so a frame is at most 255
//! bytes) that a raw producer writes into a real ring in heap memory; the inbox reassembles them
//! with a 600-byte limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_ring::{Consumer, Doorbell, Producer, CACHE_LINE_BYTES, HEADER_BYTES};
use rampart_transport::Inbox;
use std::alloc::{alloc_zeroed, dealloc, Layout};

const MESSAGE_BYTES_MAX: usize = 600;

struct NoBell;
impl Doorbell for NoBell {
    fn ring(&self) {}
}

fuzz_target!(|data: &[u8]| {
    let layout = Layout::from_size_align(HEADER_BYTES + (1 << 16), CACHE_LINE_BYTES).unwrap();
    // SAFETY: non-zero size; freed below.
    let base = unsafe { alloc_zeroed(layout) };
    // SAFETY: the allocation is valid for its length and only used through the ring.
    unsafe { rampart_ring::init(base, layout.size()) }.unwrap();
    // SAFETY: as above; one producer and one consumer.
    let mut producer = unsafe { Producer::attach(base, layout.size(), NoBell) }.unwrap();
    let consumer = unsafe { Consumer::attach(base, layout.size()) }.unwrap();
    let mut inbox = Inbox::new(consumer, MESSAGE_BYTES_MAX);
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        let (frame, tail) = tail.split_at(len);
        rest = tail;
        if producer.try_send_frame(frame).is_err() {
            break;
        }
        let _ = inbox.poll(64, |m| {
            assert!(!m.is_empty() && m.len() <= MESSAGE_BYTES_MAX, "delivered {} bytes", m.len());
        });
    }
    while inbox.poll(64, |m| assert!(!m.is_empty() && m.len() <= MESSAGE_BYTES_MAX)).unwrap_or(0) > 0 {}
    drop(producer);
    drop(inbox);
    // SAFETY: allocated above with this layout; nothing uses it any more.
    unsafe { dealloc(base, layout) };
});
