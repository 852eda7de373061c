//! Test component: a protected procedure with arguments. Label [`SUM`]: reply with one word, the
//! wrapping sum of the words. Label [`REVERSE`]: reply with the words reversed. Anything else:
//! reply with `LABEL_MALFORMED`.
#![no_std]
#![no_main]

rampart_runtime::bindings!();

use rampart_runtime::{ChannelSet, Handler, Message, Unhandled, LABEL_MALFORMED};

const SUM: u64 = 1;
const REVERSE: u64 = 2;

struct Calc;

impl Handler for Calc {
    fn notified(&mut self, _channels: ChannelSet) {}

    fn protected(&mut self, channel: u8, m: &Message) -> Result<Message, Unhandled> {
        if channel != channels::CLIENT.id() {
            return Ok(Message::new(LABEL_MALFORMED));
        }
        Ok(match m.label() {
            SUM => Message::with_words(SUM, &[m.words().iter().fold(0u64, |a, w| a.wrapping_add(*w))]).unwrap_or(Message::new(LABEL_MALFORMED)),
            REVERSE => {
                let mut r = Message::new(REVERSE);
                for w in m.words().iter().rev() {
                    let _ = r.push(*w);
                }
                r
            }
            _ => Message::new(LABEL_MALFORMED),
        })
    }
}

fn init() -> Calc {
    Calc
}

rampart_runtime::pd_main!(init);
