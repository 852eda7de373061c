//! Untrusted bytes into a MinBFT replica: whatever decodes is fed to a started replica (as from
//! a peer and as from a client); the core must never panic, and must keep its invariants
//! (checked by its own assertions).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_minbft::replica::{Config, Input, Peer, Replica};
use rampart_minbft::wire::{self, ClientId, ReplicaId};
use rampart_minbft::{KvStore, MemUsig};

fuzz_target!(|data: &[u8]| {
    let keys = MemUsig::cluster_keys(3, 1);
    let mut usig = MemUsig::new(rampart_usig::UsigId(1), 1, keys);
    let config = Config {
        n: 3,
        f: 1,
        me: ReplicaId(1),
        batch_size_max: 4,
        window_max: 2,
        checkpoint_period: 2,
        request_timeout_ms: 100,
        view_change_timeout_ms: 100,
        status_interval_ms: 10,
        state_transfer_timeout_ms: 100,
        client_keys: [(ClientId(0), [1; 32])].into_iter().collect(),
        genesis_digest: Replica::genesis_digest(&KvStore::new()),
    };
    let mut r = Replica::new(config, KvStore::new());
    for j in 0..3 {
        r.step(&mut usig, Input::EpochAccepted { replica: ReplicaId(j), epoch: 1 });
    }
    r.step(&mut usig, Input::Start { recovering: false });
    // Split the input into messages at 0xFF 0xFF separators.
    for (i, chunk) in data.split(|&b| b == 0xFF).enumerate() {
        if let Ok(message) = wire::decode(chunk) {
            let from = match i % 3 {
                0 => Peer::Replica(ReplicaId(0)),
                1 => Peer::Replica(ReplicaId(2)),
                _ => Peer::Client(ClientId(0)),
            };
            r.step(&mut usig, Input::Message { from, message });
        }
    }
});
