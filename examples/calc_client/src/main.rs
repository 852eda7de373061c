//! Test component: calls calc with 0, 1 and 64 arguments and checks every reply, then ends the
//! system with 0 (all correct) or 1.
#![no_std]
#![no_main]

rampart_runtime::bindings!();

use rampart_runtime::{exit_system, ChannelSet, Handler, Message};

struct Client;

impl Handler for Client {
    fn notified(&mut self, _channels: ChannelSet) {}
}

fn check(what: &str, ok: bool) {
    if !ok {
        defmt::error!("FAILED: {=str}", what);
        exit_system(1);
    }
    defmt::info!("ok: {=str}", what);
}

fn init() -> Client {
    let calc = channels::CALC;
    let mut words = [0u64; 64];
    for (i, w) in words.iter_mut().enumerate() {
        *w = (i as u64 + 1) * 1000;
    }
    let sum = calc.pp_call(&Message::with_words(1, &words).unwrap_or(Message::new(0)));
    check("sum of 64 words", sum.label() == 1 && sum.words() == [words.iter().sum::<u64>()]);
    let none = calc.pp_call(&Message::new(1));
    check("sum of no words", none.words() == [0]);
    let rev = calc.pp_call(&Message::with_words(2, &[1, 2, 3]).unwrap_or(Message::new(0)));
    check("reverse of 3 words", rev.label() == 2 && rev.words() == [3, 2, 1]);
    let bad = calc.pp_call(&Message::new(99));
    check("unknown label refused", bad.label() == rampart_runtime::LABEL_MALFORMED);
    exit_system(0)
}

rampart_runtime::pd_main!(init);
