//! Messages go through the ring whole and in order, across wrap-around, and a full ring pushes
//! back instead of losing anything.

mod common;

use common::{payload, TestRegion};
use rampart_ring::{frame_span_bytes, Consumer, Fault, NoDoorbell, Producer, RegionProblem, RingError, HEADER_BYTES, MAX_FRAME_BYTES, MIN_CAPACITY_BYTES};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
enum Kind {
    Request { client: u32 },
    Reply(bool),
    Ping,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Msg {
    seq: u64,
    kind: Kind,
    digest: [u8; 32],
    note: Option<u16>,
}

fn msg(seq: u64) -> Msg {
    let kind = match seq % 3 {
        0 => Kind::Request { client: seq as u32 * 7 },
        1 => Kind::Reply(seq % 2 == 0),
        _ => Kind::Ping,
    };
    let mut digest = [0; 32];
    payload(seq, 32, &mut digest);
    Msg { seq, kind, digest, note: (seq % 5 == 0).then_some(seq as u16) }
}

#[test]
fn raw_frames_of_every_length_arrive_in_order_across_many_wraps() {
    let region = TestRegion::new(256);
    assert_eq!(region.init(), 256);
    let mut tx = region.producer(NoDoorbell);
    let mut rx = region.consumer();
    let mut sent = [0u8; 252];
    let mut got = [0u8; MAX_FRAME_BYTES];
    // Lengths 0..=252 (the largest frame a 256-byte ring takes), one at a time, so that every
    // wrap offset of length word and payload is exercised.
    for seq in 0..5_000u64 {
        let len = (seq as usize * 13) % 253;
        payload(seq, len, &mut sent);
        tx.try_send_frame(&sent[..len]).unwrap();
        assert_eq!(rx.try_recv_frame_into(&mut got).unwrap(), Some(len));
        assert_eq!(&got[..len], &sent[..len], "frame {seq}");
    }
    assert_eq!(rx.try_recv_frame_into(&mut got).unwrap(), None);
    assert!(region.guards_intact());
}

#[test]
fn batches_of_typed_messages_arrive_in_order_across_wraps() {
    let region = TestRegion::new(1024);
    region.init();
    let mut tx = region.producer(NoDoorbell);
    let mut rx = region.consumer();
    let mut next_sent = 0u64;
    let mut next_got = 0u64;
    while next_got < 10_000 {
        // Fill until full, then drain part of it: the ring wraps at ever-changing offsets.
        loop {
            match tx.try_send(&msg(next_sent)) {
                Ok(()) => next_sent += 1,
                Err(RingError::Full) => break,
                Err(e) => panic!("{e}"),
            }
        }
        for _ in 0..(next_sent % 7 + 1) {
            match rx.try_recv::<Msg>().unwrap() {
                Some(m) => {
                    assert_eq!(m, msg(next_got));
                    next_got += 1;
                }
                None => break,
            }
        }
    }
    assert!(region.guards_intact());
}

#[test]
fn full_ring_refuses_without_loss_and_accepts_again_after_draining() {
    let region = TestRegion::new(256);
    region.init();
    let mut tx = region.producer(NoDoorbell);
    let mut rx = region.consumer();
    let frame = [7u8; 60]; // 64 bytes with its length word: exactly four fit
    for _ in 0..4 {
        tx.try_send_frame(&frame).unwrap();
    }
    assert_eq!(tx.try_send_frame(&frame), Err(RingError::Full));
    assert_eq!(tx.try_send_frame(&[]), Err(RingError::Full), "even an empty frame needs its length word");
    assert_eq!(tx.try_send(&1u8), Err(RingError::Full));
    // The refused sends wrote nothing: exactly the four frames come out.
    let mut got = [0u8; 64];
    assert_eq!(rx.try_recv_frame_into(&mut got).unwrap(), Some(60));
    // One frame's room is back, and no more.
    tx.try_send_frame(&[9u8; 60]).unwrap();
    assert_eq!(tx.try_send_frame(&[1]), Err(RingError::Full));
    for expected in [7u8, 7, 7, 9] {
        assert_eq!(rx.try_recv_frame_into(&mut got).unwrap(), Some(60));
        assert!(got[..60].iter().all(|&b| b == expected));
    }
    assert_eq!(rx.try_recv_frame_into(&mut got).unwrap(), None);
}

#[test]
fn frames_that_can_never_fit_are_refused_as_too_large_not_full() {
    let region = TestRegion::new(1 << 16);
    region.init();
    let mut tx = region.producer(NoDoorbell);
    let big = vec![0u8; MAX_FRAME_BYTES + 1];
    assert_eq!(tx.try_send_frame(&big), Err(RingError::TooLarge { len_bytes: MAX_FRAME_BYTES + 1, max_bytes: MAX_FRAME_BYTES }));
    tx.try_send_frame(&big[..MAX_FRAME_BYTES]).unwrap();
    // A small ring caps frames at its capacity less the length word.
    let small = TestRegion::new(MIN_CAPACITY_BYTES);
    small.init();
    let mut tx = small.producer(NoDoorbell);
    assert_eq!(tx.max_frame_bytes(), MIN_CAPACITY_BYTES - 4);
    assert!(matches!(tx.try_send_frame(&[0; MIN_CAPACITY_BYTES]), Err(RingError::TooLarge { .. })));
    assert!(matches!(tx.try_send(&[0u8; 32][..]), Ok(())));
}

#[test]
fn a_frame_larger_than_the_buffer_stays_in_the_ring() {
    let region = TestRegion::new(256);
    region.init();
    let mut tx = region.producer(NoDoorbell);
    let mut rx = region.consumer();
    tx.try_send_frame(&[3u8; 100]).unwrap();
    let mut small = [0u8; 10];
    assert_eq!(rx.try_recv_frame_into(&mut small), Err(RingError::BufferTooSmall { needed_bytes: 100 }));
    let frame = rx.try_recv_frame().unwrap().unwrap();
    assert_eq!(&frame[..], &[3u8; 100][..]);
}

#[test]
fn a_frame_that_does_not_decode_is_consumed_and_the_ring_goes_on() {
    let region = TestRegion::new(256);
    region.init();
    let mut tx = region.producer(NoDoorbell);
    let mut rx = region.consumer();
    tx.try_send_frame(&[0xff, 0xff, 0xff]).unwrap(); // not a Msg
    tx.try_send(&msg(1)).unwrap();
    tx.try_send(&(5u8, 6u8)).unwrap(); // a valid u8 followed by a trailing byte
    assert_eq!(rx.try_recv::<Msg>(), Err(RingError::Decode));
    assert_eq!(rx.try_recv::<Msg>().unwrap(), Some(msg(1)));
    assert_eq!(rx.try_recv::<u8>(), Err(RingError::Decode));
    assert_eq!(rx.try_recv::<Msg>().unwrap(), None);
}

#[test]
fn typed_messages_take_the_space_of_their_encoding() {
    let region = TestRegion::new(256);
    region.init();
    let mut tx = region.producer(NoDoorbell);
    let encoded_len = 3; // postcard: u8, then varint 300 in two bytes
    let per_frame = frame_span_bytes(encoded_len);
    let fits = 256 / per_frame;
    for _ in 0..fits {
        tx.try_send(&(1u8, 300u16)).unwrap();
    }
    assert_eq!(tx.try_send(&(1u8, 300u16)), Err(RingError::Full));
}

#[test]
fn a_reattached_producer_and_consumer_resume_where_the_ring_stands() {
    let region = TestRegion::new(256);
    region.init();
    {
        let mut tx = region.producer(NoDoorbell);
        let mut rx = region.consumer();
        for seq in 0..10u64 {
            tx.try_send(&seq).unwrap();
            assert_eq!(rx.try_recv::<u64>().unwrap(), Some(seq));
        }
        tx.try_send(&10u64).unwrap();
    }
    // Both sides restart (as a PD would), attaching afresh to the same region.
    let mut tx = region.producer(NoDoorbell);
    let mut rx = region.consumer();
    tx.try_send(&11u64).unwrap();
    assert_eq!(rx.try_recv::<u64>().unwrap(), Some(10));
    assert_eq!(rx.try_recv::<u64>().unwrap(), Some(11));
    assert_eq!(rx.try_recv::<u64>().unwrap(), None);
}

#[test]
fn unusable_regions_are_refused() {
    let region = TestRegion::new(256);
    let err = |r: Result<Producer<NoDoorbell>, RingError>| r.err().unwrap();
    // SAFETY (all below): the pointers are null or inside `region`, which outlives the calls.
    unsafe {
        assert_eq!(rampart_ring::init(std::ptr::null_mut(), 4096), Err(RingError::BadRegion { problem: RegionProblem::Null }));
        assert_eq!(rampart_ring::init(region.ptr().add(8), 300), Err(RingError::BadRegion { problem: RegionProblem::Misaligned }));
        assert_eq!(
            rampart_ring::init(region.ptr(), HEADER_BYTES + 63),
            Err(RingError::BadRegion { problem: RegionProblem::TooSmall { len_bytes: HEADER_BYTES + 63, min_bytes: HEADER_BYTES + 64 } })
        );
        // Never formatted: all zeros.
        assert_eq!(err(Producer::attach(region.ptr(), region.len(), NoDoorbell)), RingError::Corrupt { fault: Fault::BadMagic { found: 0 } });
        assert!(Consumer::attach(region.ptr(), region.len()).is_err());
        // Formatted for a larger region than the one now given.
        let big = TestRegion::new(1024);
        big.init();
        assert_eq!(Consumer::attach(big.ptr(), HEADER_BYTES + 512).err().unwrap(), RingError::Corrupt { fault: Fault::BadCapacity { capacity_bytes: 1024 } });
    }
    // A region that is not a power of two long gets the largest power of two that fits.
    let odd = TestRegion::new(1000);
    assert_eq!(odd.init(), 512);
    assert!(odd.guards_intact());
}

#[test]
fn written_frames_stay_invisible_until_published_and_a_full_ring_publishes_them() {
    let region = TestRegion::new(256);
    region.init();
    let mut tx = region.producer(NoDoorbell);
    let mut rx = region.consumer();
    let mut got = [0u8; 64];
    tx.try_write_frame(&[1; 8]).unwrap();
    tx.try_write(&2u64).unwrap();
    assert_eq!(rx.try_recv_frame_into(&mut got).unwrap(), None, "staged, not yet published");
    tx.publish();
    assert_eq!(rx.try_recv_frame_into(&mut got).unwrap(), Some(8));
    assert_eq!(rx.try_recv::<u64>().unwrap(), Some(2));
    // Fill the ring with staged frames: the write that finds no room publishes them all.
    let mut written = 0;
    while tx.try_write_frame(&[3; 12]).is_ok() {
        written += 1;
    }
    assert_eq!(written, 256 / 16);
    for _ in 0..written {
        assert_eq!(rx.try_recv_frame_into(&mut got).unwrap(), Some(12));
    }
}

#[test]
fn staged_frames_are_published_once_a_batch_has_accumulated() {
    let region = TestRegion::new(1 << 16);
    region.init();
    let mut tx = region.producer(NoDoorbell);
    let mut rx = region.consumer();
    let per_frame = frame_span_bytes(60);
    let frames_per_batch = rampart_ring::PUBLISH_BATCH_BYTES.div_ceil(per_frame);
    for _ in 0..frames_per_batch - 1 {
        tx.try_write_frame(&[0; 60]).unwrap();
    }
    assert_eq!(rx.try_recv_frame().unwrap(), None);
    tx.try_write_frame(&[0; 60]).unwrap();
    for _ in 0..frames_per_batch {
        assert_eq!(rx.try_recv_frame().unwrap().map(|f| f.len()), Some(60));
    }
}

#[test]
fn dropping_the_producer_publishes_what_it_staged() {
    let region = TestRegion::new(256);
    region.init();
    let mut rx = region.consumer();
    {
        let mut tx = region.producer(NoDoorbell);
        tx.try_write(&7u16).unwrap();
    }
    assert_eq!(rx.try_recv::<u16>().unwrap(), Some(7));
}
