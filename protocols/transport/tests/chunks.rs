//! Messages over a real ring in (heap) memory: large ones in many chunks, a full ring resumed,
//! and chunk sequences from a peer that do not add up, dropped and counted.

use rampart_ring::{Consumer, Doorbell, Producer, CACHE_LINE_BYTES, HEADER_BYTES};
use rampart_transport::{Inbox, Outbox, OutboxError, FLAG_FIRST, FLAG_LAST};
use std::alloc::{alloc_zeroed, dealloc, Layout};

struct Region {
    base: *mut u8,
    layout: Layout,
}

impl Region {
    fn new(capacity_bytes: usize) -> Region {
        let layout = Layout::from_size_align(HEADER_BYTES + capacity_bytes, CACHE_LINE_BYTES).unwrap();
        // SAFETY: non-zero size.
        let base = unsafe { alloc_zeroed(layout) };
        assert!(!base.is_null());
        // SAFETY: the allocation is ours, valid for its length.
        unsafe { rampart_ring::init(base, layout.size()) }.unwrap();
        Region { base, layout }
    }
    fn producer(&self) -> Producer<NoBell> {
        // SAFETY: valid for the region's life; one producer.
        unsafe { Producer::attach(self.base, self.layout.size(), NoBell) }.unwrap()
    }
    fn consumer(&self) -> Consumer {
        // SAFETY: valid for the region's life; one consumer.
        unsafe { Consumer::attach(self.base, self.layout.size()) }.unwrap()
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.base, self.layout) }
    }
}

struct NoBell;
impl Doorbell for NoBell {
    fn ring(&self) {}
}

fn message(seed: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

fn drain(inbox: &mut Inbox) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    while inbox.poll(64, |m| got.push(m.to_vec())).unwrap() > 0 {}
    got
}

#[test]
fn messages_of_every_size_arrive_whole_and_in_order() {
    let region = Region::new(1 << 16);
    let mut out = Outbox::new(region.producer(), 64, 1 << 20);
    let mut inbox = Inbox::new(region.consumer(), 1 << 20);
    let sizes = [1usize, 3, 4090, 4091, 4092, 4096, 8192, 20_000, 40_000];
    let mut want = Vec::new();
    let mut got = Vec::new();
    for (k, &n) in sizes.iter().enumerate() {
        let m = message(k as u8, n);
        want.push(m.clone());
        out.push(m).unwrap();
        while !out.pump().unwrap() {
            got.extend(drain(&mut inbox));
        }
    }
    got.extend(drain(&mut inbox));
    assert_eq!(got, want);
    assert_eq!(inbox.malformed(), 0);
}

#[test]
fn a_message_larger_than_the_ring_goes_through_as_the_consumer_makes_room() {
    let region = Region::new(1 << 12); // 4 KiB of ring, a 100 KiB message
    let mut out = Outbox::new(region.producer(), 4, 1 << 20);
    let mut inbox = Inbox::new(region.consumer(), 1 << 20);
    let m = message(9, 100_000);
    out.push(m.clone()).unwrap();
    let mut got = Vec::new();
    let mut rounds = 0;
    while !out.pump().unwrap() {
        got.extend(drain(&mut inbox));
        rounds += 1;
        assert!(rounds < 10_000);
    }
    got.extend(drain(&mut inbox));
    assert_eq!(got, vec![m]);
    assert!(rounds > 10, "the ring filled many times ({rounds})");
}

#[test]
fn the_outbox_is_bounded_and_refuses_empty_and_oversized_messages() {
    let region = Region::new(1 << 12);
    let mut out = Outbox::new(region.producer(), 2, 1000);
    assert_eq!(out.push(vec![]), Err(OutboxError::BadSize { len_bytes: 0, max_bytes: 1000 }));
    assert_eq!(out.push(vec![0; 1001]), Err(OutboxError::BadSize { len_bytes: 1001, max_bytes: 1000 }));
    out.push(vec![1; 10]).unwrap();
    out.push(vec![2; 10]).unwrap();
    assert_eq!(out.push(vec![3; 10]), Err(OutboxError::Full));
    assert!(out.pump().unwrap());
    assert_eq!(out.queued(), 0);
    out.push(vec![3; 10]).unwrap();
}

#[test]
fn chunk_sequences_that_do_not_add_up_are_dropped_and_counted_and_the_next_message_arrives() {
    let region = Region::new(1 << 14);
    let mut raw = region.producer();
    let mut inbox = Inbox::new(region.consumer(), 1000);
    let first = |total: u32, body: &[u8], last: bool| {
        let mut f = vec![FLAG_FIRST | if last { FLAG_LAST } else { 0 }];
        f.extend_from_slice(&total.to_le_bytes());
        f.extend_from_slice(body);
        f
    };
    let frames: Vec<Vec<u8>> = vec![
        vec![FLAG_LAST, 1, 2, 3],            // a last chunk with no first
        vec![],                              // an empty frame
        first(2000, &[0; 10], false),        // over the inbox's limit
        first(0, &[], true),                 // empty message
        first(5, &[1, 2, 3, 4, 5, 6], true), // more bytes than announced
        first(5, &[1, 2], true),             // fewer
        first(6, &[1, 2, 3], false),         // never finished: the next first chunk drops it
        first(4, &[7, 7, 7, 7], true),       // a good one
        vec![FLAG_FIRST],                    // a first chunk with no length
    ];
    for f in &frames {
        raw.try_send_frame(f).unwrap();
    }
    let got = drain(&mut inbox);
    assert_eq!(got, vec![vec![7, 7, 7, 7]]);
    assert_eq!(inbox.malformed(), 8);
}
