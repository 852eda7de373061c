//! The pong PD: on the doorbell, read the round from the shared buffer and ring back; on a call,
//! answer with the last round read.
#![no_std]
#![no_main]

use pong::{Pong, BUFFER, DOORBELL, RPC};
use rampart_runtime::{ChannelSet, Handler, Message, Unhandled};

struct PongPd {
    pong: Pong,
}

impl Handler for PongPd {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.contains(DOORBELL.id()) {
            let mut bytes = [0u8; 8];
            // In bounds by construction: the buffer is 4 KiB.
            let _ = BUFFER.read_bytes(0, &mut bytes);
            self.pong.on_doorbell(bytes);
            DOORBELL.notify();
        }
    }

    fn protected(&mut self, channel: u8, message: &Message) -> Result<Message, Unhandled> {
        if channel != RPC.id() || message.label() != pong::LABEL_LAST_READ {
            return Ok(Message::new(rampart_runtime::LABEL_MALFORMED));
        }
        Ok(Message::with_words(0, &[self.pong.on_call()]).unwrap_or(Message::new(0)))
    }
}

fn init() -> PongPd {
    PongPd { pong: Pong::default() }
}

rampart_runtime::pd_main!(init);
