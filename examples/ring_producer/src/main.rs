//! Test component: formats the shared region as a ring and sends [`ring_producer::MESSAGES`]
//! messages through it, waiting for the consumer's notification whenever the ring is full.
#![no_std]
#![no_main]

rampart_runtime::bindings!();

use rampart_ring::{Producer, RingError};
use rampart_runtime::{exit_system, ChannelSet, Handler};
use ring_producer::{check, is_raw, raw_byte, raw_len, MESSAGES, RAW_MAX_BYTES};

/// The ring's doorbell: a notification to the consumer.
struct PeerBell;

impl rampart_ring::Doorbell for PeerBell {
    fn ring(&self) {
        channels::PEER.notify();
    }
}

struct Sender {
    producer: Producer<PeerBell>,
    next: u64,
    full_waits: u64,
}

impl Sender {
    /// Send until the ring is full or everything is sent.
    fn pump(&mut self) {
        let mut raw = [0u8; RAW_MAX_BYTES as usize];
        while self.next < MESSAGES {
            let seq = self.next;
            let sent = if is_raw(seq) {
                let n = raw_len(seq);
                for (i, b) in raw[..n].iter_mut().enumerate() {
                    *b = raw_byte(seq, i);
                }
                self.producer.try_write_frame(&raw[..n])
            } else {
                self.producer.try_write(&(seq, check(seq)))
            };
            match sent {
                Ok(()) => self.next += 1,
                // The send flushed what was staged; wait for the consumer to make room.
                Err(RingError::Full) => {
                    self.full_waits += 1;
                    return;
                }
                Err(e) => {
                    defmt::error!("send {} failed: {}", seq, defmt::Debug2Format(&e));
                    exit_system(1);
                }
            }
        }
        self.producer.flush();
        if self.next == MESSAGES {
            defmt::info!("sent {} messages; the ring was full {} times", MESSAGES, self.full_waits);
            self.next += 1; // report once
        }
    }
}

impl Handler for Sender {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.contains(channels::PEER.id()) {
            self.pump();
        }
    }
}

fn init() -> Sender {
    let region = regions::RING;
    let (base, len) = (region.vaddr() as usize as *mut u8, region.size_bytes() as usize);
    // SAFETY: `ring` is mapped read-write at its vaddr for the PD's whole life, and this PD
    // holds no Rust reference into it; the consumer attaches only after the notification below.
    let producer = unsafe { rampart_ring::init(base, len).and_then(|_| Producer::attach(base, len, PeerBell)) };
    let Ok(producer) = producer else {
        defmt::error!("cannot set up the ring");
        exit_system(1)
    };
    let mut s = Sender { producer, next: 0, full_waits: 0 };
    // Tell the consumer the ring exists (it attaches on this first notification), then fill it.
    channels::PEER.notify();
    s.pump();
    s
}

rampart_runtime::pd_main!(init);
