//! Benchmark component (benches/ipc.rs, benches/sel4_ipc.rs): the echo side. Notified by
//! bench_a, it notifies back; called with a word, it replies with the word plus one.
//!
//! On seL4, a notification over `raw` makes it leave the runtime's event loop for [`raw_echo`],
//! which does the same with bare seL4 system calls on the same capabilities, until a raw call
//! with label `LEAVE` (answered) sends it back.
#![no_std]
#![no_main]

rampart_runtime::bindings!();

use rampart_runtime::{ChannelSet, Handler, Message, Unhandled, LABEL_MALFORMED};

/// Label of the benchmark call (as in bench_a).
const INCREMENT: u64 = 1;

struct BenchB;

/// The raw echo loop: a signal on `notify` is answered with `seL4_Signal`, a call labelled
/// `INCREMENT` with `seL4_ReplyRecv` (its word plus one); any other call (bench_a's `LEAVE`) is
/// answered with `seL4_Reply` and ends the loop.
#[cfg(rampart_sel4)]
fn raw_echo() {
    use rampart_runtime::sel4::raw;
    let notify_id = channels::NOTIFY.id();
    let notify_bit = 1u64 << notify_id;
    let mut r = raw::wait();
    loop {
        if raw::is_signal(&r) {
            if r.badge & notify_bit != 0 {
                raw::signal(notify_id);
            }
            r = raw::wait();
        } else if r.label() == INCREMENT {
            r = raw::reply_recv(INCREMENT, 1, [r.mr[0].wrapping_add(1), 0, 0, 0]);
        } else {
            raw::reply(r.label(), 0, [0; 4]);
            return;
        }
    }
}

impl Handler for BenchB {
    fn notified(&mut self, set: ChannelSet) {
        if set.contains(channels::NOTIFY.id()) {
            channels::NOTIFY.notify();
        }
        #[cfg(rampart_sel4)]
        if set.contains(channels::RAW.id()) {
            raw_echo();
        }
    }

    fn protected(&mut self, channel: u8, m: &Message) -> Result<Message, Unhandled> {
        if channel != channels::CALL.id() || m.label() != INCREMENT || m.words().len() != 1 {
            return Ok(Message::new(LABEL_MALFORMED));
        }
        let mut reply = Message::new(INCREMENT);
        // One word into an empty message: cannot fail.
        let _ = reply.push(m.word(0).wrapping_add(1));
        Ok(reply)
    }
}

fn init() -> BenchB {
    BenchB
}

rampart_runtime::pd_main!(init);
