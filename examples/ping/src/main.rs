//! The ping PD: plays [`ping::ROUNDS`] rounds with pong, checks every answer, and ends the
//! system with status 0 when all rounds agree (1 on the first disagreement).
#![no_std]
#![no_main]

use ping::{Ping, PingError, BUFFER, DOORBELL, ROUNDS, RPC};
use rampart_runtime::{exit_system, ChannelSet, Handler, Message};

struct PingPd {
    ping: Ping,
}

impl PingPd {
    fn next_round(&mut self) {
        match self.ping.start_round() {
            Ok(bytes) => {
                // The buffer is 4 KiB and a round 8 bytes: in bounds by construction.
                let _ = BUFFER.write_bytes(0, &bytes);
                DOORBELL.notify();
            }
            Err(_) => {
                defmt::info!("{} rounds played, every answer matched", self.ping.rounds_done());
                exit_system(0);
            }
        }
    }
}

impl Handler for PingPd {
    fn notified(&mut self, channels: ChannelSet) {
        if !channels.contains(DOORBELL.id()) {
            return;
        }
        let reply = RPC.pp_call(&Message::new(ping::LABEL_LAST_READ));
        match self.ping.on_reply(reply.word(0)) {
            Ok(()) => self.next_round(),
            Err(PingError::Mismatch { expected, got }) => {
                defmt::error!("round {}: pong read {}", expected, got);
                exit_system(1);
            }
            Err(PingError::Finished) => exit_system(0),
        }
    }
}

fn init() -> PingPd {
    defmt::info!("playing {} rounds", ROUNDS);
    let mut pd = PingPd { ping: Ping::new(ROUNDS) };
    pd.next_round();
    pd
}

rampart_runtime::pd_main!(init);
