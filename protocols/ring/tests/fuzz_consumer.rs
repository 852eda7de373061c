//! Fuzz-style test of the consumer's parsing: thousands of rings filled with seeded random and
//! half-plausible contents. On each, the consumer must agree with a simple reference parser about
//! every frame it hands out and about where the ring stops being trustworthy, and must never
//! panic or touch a byte outside the region. Deterministic: a failure names its seed.

mod common;

use common::{Rng, TestRegion};
use rampart_ring::{
    Consumer, RingError, CAPACITY_OFFSET_BYTES, HEADER_BYTES, HEAD_OFFSET_BYTES, MAGIC, MAGIC_OFFSET_BYTES, MAX_FRAME_BYTES, TAIL_OFFSET_BYTES, VERSION,
    VERSION_OFFSET_BYTES,
};

const CASES: u64 = 3_000;

/// What the consumer should see, computed from a private snapshot of the region in the most
/// direct way.
struct Model {
    data: Vec<u8>,
    head: u32,
    tail: u32,
}

#[derive(Debug, PartialEq)]
enum Step {
    Frame(Vec<u8>),
    Empty,
    TooSmall(usize),
    Corrupt,
}

impl Model {
    fn word(&self, index: u32) -> u32 {
        let cap = self.data.len() as u32;
        let at = |k: u32| self.data[(index.wrapping_add(k) % cap) as usize];
        u32::from_ne_bytes([at(0), at(1), at(2), at(3)])
    }

    fn next(&mut self, buf_len: usize) -> Step {
        let cap = self.data.len() as u32;
        let available = self.tail.wrapping_sub(self.head);
        if available == 0 {
            return Step::Empty;
        }
        let len = self.word(self.head);
        if len as usize > MAX_FRAME_BYTES {
            return Step::Corrupt;
        }
        let span = 4 + len.div_ceil(4) * 4;
        if span > available {
            return Step::Corrupt;
        }
        if len as usize > buf_len {
            return Step::TooSmall(len as usize);
        }
        let frame = (0..len).map(|i| self.data[(self.head.wrapping_add(4 + i) % cap) as usize]).collect();
        self.head = self.head.wrapping_add(span);
        Step::Frame(frame)
    }
}

/// Fills a region with a ring that is valid, nearly valid, or garbage, depending on the dice.
fn scribble(rng: &mut Rng, region: &TestRegion, capacity: u32) {
    let mut bytes = vec![0u8; region.len()];
    rng.fill(&mut bytes);
    for (i, b) in bytes.iter().enumerate() {
        region.write_u8(i, *b);
    }
    if rng.below(10) > 0 {
        region.write_u32(MAGIC_OFFSET_BYTES, MAGIC);
    }
    if rng.below(10) > 0 {
        region.write_u32(VERSION_OFFSET_BYTES, VERSION);
    }
    if rng.below(10) > 0 {
        region.write_u32(CAPACITY_OFFSET_BYTES, capacity);
    }
    let align = |rng: &mut Rng, v: u32| if rng.below(10) > 0 { v & !3 } else { v };
    let head = rng.next_u64() as u32;
    let head = align(rng, head);
    let tail = match rng.below(20) {
        0 => rng.next_u64() as u32,
        _ => {
            let ahead = rng.below(capacity as u64 + 9) as u32;
            align(rng, head.wrapping_add(ahead))
        }
    };
    region.write_u32(HEAD_OFFSET_BYTES, head);
    region.write_u32(TAIL_OFFSET_BYTES, tail);
    // Lay plausible length words along the published bytes, so the parser gets past the first
    // frame; now and then one is off.
    if head % 4 == 0 && rng.below(4) > 0 {
        let mut at = head;
        while tail.wrapping_sub(at) >= 4 && tail.wrapping_sub(at) <= capacity {
            let room = tail.wrapping_sub(at) - 4;
            let len = match rng.below(30) {
                0 => rng.next_u64() as u32,
                1 => room + 1 + rng.below(8) as u32,
                2..=5 => rng.below(room.min(MAX_FRAME_BYTES as u32) as u64 + 1) as u32,
                _ => rng.below(room.min(48) as u64 + 1) as u32,
            };
            region.write_u32(HEADER_BYTES + (at % capacity) as usize, len);
            at = at.wrapping_add(4 + len.div_ceil(4).wrapping_mul(4));
        }
    }
}

#[test]
fn the_consumer_agrees_with_a_reference_parser_on_random_rings() {
    let mut frames_checked = 0usize;
    let mut corrupt_found = 0usize;
    for seed in 1..=CASES {
        let mut rng = Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let capacity = 64u32 << rng.below(7); // 64 B to 4 KiB
        let region = TestRegion::new(capacity as usize);
        scribble(&mut rng, &region, capacity);

        let head = region.read_u32(HEAD_OFFSET_BYTES);
        let tail = region.read_u32(TAIL_OFFSET_BYTES);
        let header_ok = region.read_u32(MAGIC_OFFSET_BYTES) == MAGIC
            && region.read_u32(VERSION_OFFSET_BYTES) == VERSION
            && region.read_u32(CAPACITY_OFFSET_BYTES) == capacity;
        let indices_ok = head % 4 == 0 && tail % 4 == 0 && tail.wrapping_sub(head) <= capacity;
        let data = (0..capacity as usize).map(|i| {
            let word = region.read_u32(HEADER_BYTES + i / 4 * 4);
            word.to_ne_bytes()[i % 4]
        });
        let mut model = Model { data: data.collect(), head, tail };

        // SAFETY: the region outlives the consumer, which is dropped in this iteration.
        let attached = unsafe { Consumer::attach(region.ptr(), region.len()) };
        let mut rx = match attached {
            Ok(rx) => {
                assert!(header_ok && indices_ok, "seed {seed}: accepted a bad header");
                Box::new(rx)
            }
            Err(RingError::Corrupt { .. }) => {
                assert!(!(header_ok && indices_ok), "seed {seed}: refused a good header");
                corrupt_found += 1;
                continue;
            }
            Err(e) => panic!("seed {seed}: {e:?}"),
        };

        let mut buf = vec![0u8; MAX_FRAME_BYTES];
        // Each call consumes at least 4 bytes or ends the loop: capacity / 4 + 2 calls suffice.
        for call in 0..capacity / 4 + 2 {
            // Half the calls give a buffer (sometimes too small), half take an owned frame.
            let owned = rng.below(2) == 0;
            let buf_len = if !owned && rng.below(8) == 0 { rng.below(64) as usize } else { MAX_FRAME_BYTES };
            let expected = model.next(buf_len);
            let got = if owned {
                match rx.try_recv_frame() {
                    Ok(Some(frame)) => Step::Frame(frame.to_vec()),
                    Ok(None) => Step::Empty,
                    Err(RingError::Corrupt { .. }) => Step::Corrupt,
                    Err(e) => panic!("seed {seed}: {e:?}"),
                }
            } else {
                match rx.try_recv_frame_into(&mut buf[..buf_len]) {
                    Ok(Some(len)) => Step::Frame(buf[..len].to_vec()),
                    Ok(None) => Step::Empty,
                    Err(RingError::BufferTooSmall { needed_bytes }) => Step::TooSmall(needed_bytes),
                    Err(RingError::Corrupt { .. }) => Step::Corrupt,
                    Err(e) => panic!("seed {seed}: {e:?}"),
                }
            };
            assert_eq!(expected, got, "seed {seed}, call {call}");
            if let Step::Frame(_) = got {
                frames_checked += 1;
            }
            if matches!(got, Step::Empty | Step::Corrupt) {
                corrupt_found += usize::from(got == Step::Corrupt);
                break;
            }
        }
        assert!(region.guards_intact(), "seed {seed}: a write escaped the region");
    }
    // The dice must reach deep parsing as well as refusals.
    println!("{frames_checked} frames checked, {corrupt_found} refusals");
    assert!(frames_checked > 4_000, "only {frames_checked} frames checked");
    assert!(corrupt_found > CASES as usize / 4, "only {corrupt_found} refusals");
}
