//! Test component: attaches to the ring once the producer has formatted it, receives every
//! message, checks each against what the producer must have sent, in order, and ends the system
//! with 0 when all [`ring_producer::MESSAGES`] arrived intact (1 at the first surprise).
#![no_std]
#![no_main]

rampart_runtime::bindings!();

use rampart_ring::{Consumer, Wait};
use rampart_runtime::{exit_system, ChannelSet, Handler};
use ring_producer::{check, is_raw, raw_byte, raw_len, MESSAGES};

struct Receiver {
    consumer: Option<Consumer>,
    next: u64,
}

fn fail(seq: u64, what: &str) -> ! {
    defmt::error!("message {}: {=str}", seq, what);
    exit_system(1)
}

impl Receiver {
    fn drain(&mut self) {
        let Some(consumer) = self.consumer.as_mut() else { return };
        loop {
            let seq = self.next;
            let got = if is_raw(seq) {
                match consumer.try_recv_frame() {
                    Ok(Some(frame)) => {
                        if frame.len() != raw_len(seq) || frame.iter().enumerate().any(|(i, b)| *b != raw_byte(seq, i)) {
                            fail(seq, "raw frame differs");
                        }
                        true
                    }
                    Ok(None) => false,
                    Err(_) => fail(seq, "the ring is corrupt"),
                }
            } else {
                match consumer.try_recv::<(u64, u64)>() {
                    Ok(Some((s, c))) => {
                        if s != seq || c != check(seq) {
                            fail(seq, "message out of order or altered");
                        }
                        true
                    }
                    Ok(None) => false,
                    Err(_) => fail(seq, "the ring is corrupt or the message undecodable"),
                }
            };
            if got {
                self.next += 1;
                if self.next == MESSAGES {
                    defmt::info!("received all {} messages in order, intact", MESSAGES);
                    exit_system(0);
                }
                continue;
            }
            // Empty: room was made, so wake a producer that waits for it; then sleep unless
            // frames arrived meanwhile.
            channels::PEER.notify();
            match consumer.prepare_wait() {
                Ok(Wait::Sleep) => return,
                Ok(Wait::Ready) => continue,
                Err(_) => fail(seq, "the ring is corrupt"),
            }
        }
    }
}

impl Handler for Receiver {
    fn notified(&mut self, channels: ChannelSet) {
        if !channels.contains(channels::PEER.id()) {
            return;
        }
        if self.consumer.is_none() {
            let region = regions::RING;
            // SAFETY: `ring` is mapped read-write for the PD's whole life; no Rust reference
            // into it exists in this PD; the producer formatted it before notifying.
            match unsafe { Consumer::attach(region.vaddr() as usize as *mut u8, region.size_bytes() as usize) } {
                Ok(c) => self.consumer = Some(c),
                Err(_) => fail(0, "cannot attach to the ring"),
            }
        }
        self.drain();
    }
}

fn init() -> Receiver {
    Receiver { consumer: None, next: 0 }
}

rampart_runtime::pd_main!(init);
