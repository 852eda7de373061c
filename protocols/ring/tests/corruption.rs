//! A peer that writes garbage into the shared header or data gets `Corrupt`, never a panic, never
//! an access outside the region; and the side that saw it refuses to go on.

mod common;

use common::{Rng, TestRegion};
use rampart_ring::{
    Consumer, Fault, NoDoorbell, Producer, RingError, Wait, CAPACITY_OFFSET_BYTES, HEADER_BYTES, HEAD_OFFSET_BYTES, MAGIC_OFFSET_BYTES, MAX_FRAME_BYTES,
    TAIL_OFFSET_BYTES, VERSION_OFFSET_BYTES, WAITING_OFFSET_BYTES,
};

const CAPACITY: usize = 256;

fn ring() -> (TestRegion, Producer<NoDoorbell>, Box<Consumer>) {
    let region = TestRegion::new(CAPACITY);
    region.init();
    let tx = region.producer(NoDoorbell);
    let rx = region.consumer();
    (region, tx, rx)
}

fn corrupt(r: Result<Option<usize>, RingError>) -> Fault {
    match r {
        Err(RingError::Corrupt { fault }) => fault,
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn a_producer_index_more_than_the_capacity_ahead_is_refused_and_the_refusal_sticks() {
    let (region, _tx, mut rx) = ring();
    region.write_u32(TAIL_OFFSET_BYTES, CAPACITY as u32 + 4);
    let mut buf = [0u8; 64];
    let fault = corrupt(rx.try_recv_frame_into(&mut buf));
    assert_eq!(fault, Fault::TailOutOfRange { tail: CAPACITY as u32 + 4, head: 0 });
    // Repairing the index does not make the consumer trust the ring again.
    region.write_u32(TAIL_OFFSET_BYTES, 0);
    assert_eq!(corrupt(rx.try_recv_frame_into(&mut buf)), fault);
    assert_eq!(rx.prepare_wait(), Err(RingError::Corrupt { fault }));
    assert_eq!(rx.try_recv::<u8>(), Err(RingError::Corrupt { fault }));
}

#[test]
fn a_producer_index_that_moves_backwards_or_is_misaligned_is_refused() {
    let (region, mut tx, mut rx) = ring();
    let mut buf = [0u8; 64];
    tx.try_send_frame(&[1; 12]).unwrap();
    assert_eq!(rx.try_recv_frame_into(&mut buf).unwrap(), Some(12));
    // Behind the consumer: the consumer would be "ahead of the producer".
    region.write_u32(TAIL_OFFSET_BYTES, 8);
    assert!(matches!(corrupt(rx.try_recv_frame_into(&mut buf)), Fault::TailOutOfRange { tail: 8, .. }));

    let (region, mut tx, mut rx) = ring();
    tx.try_send_frame(&[1; 12]).unwrap();
    region.write_u32(TAIL_OFFSET_BYTES, 17);
    assert!(matches!(corrupt(rx.try_recv_frame_into(&mut buf)), Fault::TailOutOfRange { tail: 17, .. }));

    // Backwards, but still ahead of head: the consumer already saw frames up to the old tail.
    let (region, mut tx, mut rx) = ring();
    tx.try_send_frame(&[1; 12]).unwrap();
    assert_eq!(rx.prepare_wait().unwrap(), Wait::Ready); // loads and accepts tail = 16
    region.write_u32(TAIL_OFFSET_BYTES, 16);
    assert_eq!(rx.try_recv_frame_into(&mut buf).unwrap(), Some(12));
    region.write_u32(TAIL_OFFSET_BYTES, 4);
    assert!(matches!(rx.prepare_wait(), Err(RingError::Corrupt { fault: Fault::TailOutOfRange { .. } })));
}

#[test]
fn frame_lengths_beyond_the_limit_or_the_published_bytes_are_refused() {
    let mut buf = vec![0u8; MAX_FRAME_BYTES];
    // Longer than any frame may be.
    let (region, mut tx, mut rx) = ring();
    tx.try_send_frame(&[0; 8]).unwrap();
    region.write_u32(HEADER_BYTES, MAX_FRAME_BYTES as u32 + 1);
    assert_eq!(corrupt(rx.try_recv_frame_into(&mut buf)), Fault::FrameTooLong { len_bytes: MAX_FRAME_BYTES as u32 + 1 });
    // Huge.
    let (region, mut tx, mut rx) = ring();
    tx.try_send_frame(&[0; 8]).unwrap();
    region.write_u32(HEADER_BYTES, u32::MAX);
    assert_eq!(rx.try_recv::<u64>(), Err(RingError::Corrupt { fault: Fault::FrameTooLong { len_bytes: u32::MAX } }));
    // Within the limit but past the tail.
    let (region, mut tx, mut rx) = ring();
    tx.try_send_frame(&[0; 8]).unwrap();
    region.write_u32(HEADER_BYTES, 9);
    assert_eq!(corrupt(rx.try_recv_frame_into(&mut buf)), Fault::FrameOverrun { len_bytes: 9, available_bytes: 12 });
    // The second frame of a batch.
    let (region, mut tx, mut rx) = ring();
    tx.try_send_frame(&[0; 8]).unwrap();
    tx.try_send_frame(&[0; 8]).unwrap();
    region.write_u32(HEADER_BYTES + 12, 200);
    assert_eq!(rx.try_recv_frame().unwrap().unwrap().len(), 8);
    assert!(matches!(rx.try_recv_frame(), Err(RingError::Corrupt { fault: Fault::FrameOverrun { .. } })));
    assert!(region.guards_intact());
}

#[test]
fn a_consumer_index_ahead_of_the_producer_or_moving_backwards_is_refused() {
    // Ahead of the producer: claims to have consumed frames never written.
    let (region, mut tx, _rx) = ring();
    region.write_u32(HEAD_OFFSET_BYTES, 260);
    let frame = [0u8; 60];
    let result = (0..10).map(|_| tx.try_send_frame(&frame)).find(|r| r.is_err()).unwrap();
    assert_eq!(result, Err(RingError::Corrupt { fault: Fault::HeadOutOfRange { head: 260, tail: 256 } }));
    assert_eq!(tx.try_send_frame(&[]), result, "the refusal sticks");

    // Backwards.
    let (region, mut tx, mut rx) = ring();
    for _ in 0..4 {
        tx.try_send_frame(&frame).unwrap();
    }
    let mut buf = [0u8; 64];
    rx.try_recv_frame_into(&mut buf).unwrap();
    rx.try_recv_frame_into(&mut buf).unwrap();
    tx.try_send_frame(&frame).unwrap(); // the producer now caches head = 128
    region.write_u32(HEAD_OFFSET_BYTES, 64);
    // The producer reads head again once its cached room (one frame) is used up.
    tx.try_send_frame(&frame).unwrap();
    assert!(matches!(tx.try_send_frame(&frame), Err(RingError::Corrupt { fault: Fault::HeadOutOfRange { head: 64, .. } })));
}

#[test]
fn a_header_with_bad_magic_version_capacity_or_indices_is_refused_at_attach() {
    let attach_both = |region: &TestRegion| unsafe {
        // SAFETY: the region outlives the handles, which are dropped at once.
        (Producer::attach(region.ptr(), region.len(), NoDoorbell).err(), Consumer::attach(region.ptr(), region.len()).err())
    };
    let cases: [(usize, u32, Fault); 6] = [
        (MAGIC_OFFSET_BYTES, 0x4c45_4946, Fault::BadMagic { found: 0x4c45_4946 }),
        (VERSION_OFFSET_BYTES, 2, Fault::BadVersion { found: 2 }),
        (CAPACITY_OFFSET_BYTES, 200, Fault::BadCapacity { capacity_bytes: 200 }),
        (CAPACITY_OFFSET_BYTES, 512, Fault::BadCapacity { capacity_bytes: 512 }),
        (CAPACITY_OFFSET_BYTES, 0, Fault::BadCapacity { capacity_bytes: 0 }),
        (CAPACITY_OFFSET_BYTES, 1 << 31, Fault::BadCapacity { capacity_bytes: 1 << 31 }),
    ];
    for (offset, value, fault) in cases {
        let region = TestRegion::new(CAPACITY);
        region.init();
        region.write_u32(offset, value);
        let expected = Some(RingError::Corrupt { fault });
        assert_eq!(attach_both(&region), (expected, expected), "word at {offset} = {value}");
    }
    let region = TestRegion::new(CAPACITY);
    region.init();
    region.write_u32(TAIL_OFFSET_BYTES, CAPACITY as u32 + 4);
    let (p, c) = attach_both(&region);
    assert!(matches!(p, Some(RingError::Corrupt { fault: Fault::TailOutOfRange { .. } })));
    assert!(matches!(c, Some(RingError::Corrupt { fault: Fault::TailOutOfRange { .. } })));
    region.write_u32(TAIL_OFFSET_BYTES, 0);
    region.write_u32(HEAD_OFFSET_BYTES, 2);
    let (_, c) = attach_both(&region);
    assert!(matches!(c, Some(RingError::Corrupt { fault: Fault::HeadOutOfRange { head: 2, .. } })));
}

#[test]
fn a_garbage_waiting_flag_costs_at_most_one_ring_per_check() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    struct Count(AtomicUsize);
    impl rampart_ring::Doorbell for Count {
        fn ring(&self) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
    let region = TestRegion::new(CAPACITY);
    region.init();
    let bell = Count(AtomicUsize::new(0));
    let mut tx = region.producer(&bell);
    region.write_u32(WAITING_OFFSET_BYTES, 0xdead_beef);
    tx.try_send(&1u8).unwrap();
    tx.try_send(&2u8).unwrap();
    assert_eq!(bell.0.load(Ordering::Relaxed), 1);
}

/// What one side's call may return when the peer is hostile: anything but a panic, with any frame
/// it hands out within the limits.
fn check_recv(result: Result<Option<usize>, RingError>, capacity: usize) {
    match result {
        Ok(Some(len)) => assert!(len <= MAX_FRAME_BYTES && len + 4 <= capacity),
        Ok(None) | Err(RingError::Corrupt { .. }) | Err(RingError::BufferTooSmall { .. }) | Err(RingError::Decode) => {}
        Err(e) => panic!("unexpected {e:?}"),
    }
}

#[test]
fn seeded_random_corruption_of_a_live_ring_never_panics_or_escapes_the_region() {
    const SEEDS: u64 = 400;
    const STEPS: usize = 300;
    let mut corrupt_seen = 0;
    for seed in 1..=SEEDS {
        let mut rng = Rng::new(seed);
        let capacity = 64 << rng.below(6); // 64 B to 2 KiB
        let region = TestRegion::new(capacity);
        region.init();
        let mut tx = region.producer(NoDoorbell);
        let mut rx = region.consumer();
        let mut frame = [0u8; 300];
        let mut buf = vec![0u8; rng.below(400) as usize];
        let mut tx_fault = None;
        let mut rx_fault = None;
        for _ in 0..STEPS {
            match rng.below(10) {
                0..=2 => {
                    let len = rng.below(frame.len() as u64) as usize;
                    rng.fill(&mut frame[..len]);
                    let r = tx.try_send_frame(&frame[..len]);
                    match r {
                        Ok(()) | Err(RingError::Full) | Err(RingError::TooLarge { .. }) => {}
                        Err(RingError::Corrupt { fault }) => {
                            assert!(tx_fault.is_none() || tx_fault == Some(fault), "faults stick");
                            tx_fault = Some(fault);
                        }
                        Err(e) => panic!("seed {seed}: unexpected {e:?}"),
                    }
                    if tx_fault.is_some() {
                        assert!(r.is_err(), "seed {seed}: a faulted producer must refuse");
                    }
                }
                3 => {
                    let _ = tx.try_send(&(rng.next_u64(), [rng.next_u64() as u8; 9]));
                }
                4..=6 => {
                    let r = rx.try_recv_frame_into(&mut buf);
                    if let Err(RingError::Corrupt { fault }) = r {
                        assert!(rx_fault.is_none() || rx_fault == Some(fault), "faults stick");
                        rx_fault = Some(fault);
                    } else if rx_fault.is_some() {
                        panic!("seed {seed}: a faulted consumer must refuse, got {r:?}");
                    }
                    check_recv(r, capacity);
                }
                7 => {
                    let r = rx.try_recv::<(u64, [u8; 9])>().map(|m| m.map(|_| 0));
                    check_recv(r, capacity);
                    let _ = rx.prepare_wait();
                }
                _ => {
                    // The peer scribbles: an index nudged or replaced, a length word, a data byte.
                    let value = match rng.below(3) {
                        0 => rng.next_u64() as u32,
                        1 => region.read_u32(TAIL_OFFSET_BYTES).wrapping_add(rng.below(2 * capacity as u64) as u32).wrapping_sub(capacity as u32),
                        _ => rng.below(MAX_FRAME_BYTES as u64 + 8) as u32,
                    };
                    match rng.below(5) {
                        0 => region.write_u32(TAIL_OFFSET_BYTES, value),
                        1 => region.write_u32(HEAD_OFFSET_BYTES, value),
                        2 => region.write_u32(WAITING_OFFSET_BYTES, value),
                        3 => region.write_u32(HEADER_BYTES + 4 * rng.below(capacity as u64 / 4) as usize, value),
                        _ => region.write_u8(HEADER_BYTES + rng.below(capacity as u64) as usize, value as u8),
                    }
                }
            }
        }
        assert!(region.guards_intact(), "seed {seed}: a write escaped the region");
        corrupt_seen += usize::from(tx_fault.is_some() || rx_fault.is_some());
    }
    // The loop is only worth something if it reaches the checks.
    assert!(corrupt_seen > SEEDS as usize / 2, "only {corrupt_seen} of {SEEDS} runs saw corruption");
}

#[test]
fn a_peer_scribbling_concurrently_never_makes_the_consumer_panic_or_escape_the_region() {
    use std::sync::atomic::{AtomicBool, Ordering};
    const CALLS: usize = 50_000;
    let capacity = 512;
    let region = TestRegion::new(capacity);
    region.init();
    // Some honest frames to start from, so that there is something to parse.
    let mut tx = region.producer(NoDoorbell);
    while tx.try_send_frame(&[0x5a; 20]).is_ok() {}
    drop(tx);
    let stop = AtomicBool::new(false);
    let (mut frames, mut refusals) = (0usize, 0usize);
    std::thread::scope(|s| {
        // The "producer": rewrites indices, length words and bytes while the consumer reads.
        s.spawn(|| {
            let mut rng = Rng::new(7);
            while !stop.load(Ordering::Relaxed) {
                let value = rng.below(capacity as u64 + 64) as u32 & !3;
                match rng.below(4) {
                    0 => region.write_u32(TAIL_OFFSET_BYTES, value),
                    1 => region.write_u32(HEAD_OFFSET_BYTES, value),
                    2 => region.write_u32(HEADER_BYTES + 4 * rng.below(capacity as u64 / 4) as usize, value),
                    _ => region.write_u8(HEADER_BYTES + rng.below(capacity as u64) as usize, value as u8),
                }
            }
        });
        let mut buf = [0u8; MAX_FRAME_BYTES];
        let mut rx = None;
        for _ in 0..CALLS {
            let consumer = match &mut rx {
                Some(c) => c,
                // SAFETY: the region outlives the consumer; one consumer at a time.
                None => match unsafe { Consumer::attach(region.ptr(), region.len()) } {
                    Ok(c) => rx.insert(Box::new(c)),
                    Err(_) => continue,
                },
            };
            match consumer.try_recv_frame_into(&mut buf) {
                Ok(Some(len)) => {
                    assert!(len + 4 <= capacity);
                    frames += 1;
                }
                Ok(None) => {}
                Err(RingError::Corrupt { .. }) => {
                    refusals += 1;
                    rx = None; // restart, as a PD would
                }
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert!(region.guards_intact(), "a write escaped the region");
    println!("{frames} frames read, {refusals} refusals");
}
