//! Benchmark component (benches/ipc.rs): the echo side. Notified by bench_a, it notifies back;
//! called with a word, it replies with the word plus one.
#![no_std]
#![no_main]

rampart_runtime::bindings!();

use rampart_runtime::{ChannelSet, Handler, Message, Unhandled, LABEL_MALFORMED};

/// Label of the benchmark call (as in bench_a).
const INCREMENT: u64 = 1;

struct BenchB;

impl Handler for BenchB {
    fn notified(&mut self, set: ChannelSet) {
        if set.contains(channels::NOTIFY.id()) {
            channels::NOTIFY.notify();
        }
    }

    fn protected(&mut self, channel: u8, m: &Message) -> Result<Message, Unhandled> {
        if channel != channels::CALL.id() || m.label() != INCREMENT || m.words().len() != 1 {
            return Ok(Message::new(LABEL_MALFORMED));
        }
        Ok(Message::with_words(INCREMENT, &[m.word(0).wrapping_add(1)]).unwrap_or(Message::new(LABEL_MALFORMED)))
    }
}

fn init() -> BenchB {
    BenchB
}

rampart_runtime::pd_main!(init);
