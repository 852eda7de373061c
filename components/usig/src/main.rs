//! The USIG PD: MinBFT's trusted counter. Its only job is to certify message digests with
//! unique, strictly increasing identifiers (`create_ui`) and to check other USIGs' identifiers
//! (`verify_ui`), for the one replica that may call it; the state machine and the wire format
//! are `rampart_usig` (`pp::Service`).
//!
//! - **Keys.** The USIG's long-term identity key and the cluster's HMAC secret are compiled into
//!   this program only (rampart-cluster); the epoch keys are derived at start from fresh entropy
//!   (`rampart_runtime::entropy`) and live in this PD's private memory, zeroized on drop. No
//!   request returns key bytes.
//! - **Epochs.** Every start (the first, and every restart from the pristine image) opens a new
//!   epoch with new keys: the epoch number is the system clock in nanoseconds at start, so a
//!   restarted USIG's epoch is always greater than its previous one within a system's run (peers
//!   accept only forward epochs, and only through the epoch announcement signed with the identity
//!   key). Counters start again at 1 in each epoch.
//! - **Scheme.** HMAC-SHA256 by default, Ed25519 when built with `RAMPART_USIG_SCHEME=ed25519`.
//! - The PD's index in the cluster is the number its name ends with (`usig0`, `usig1`, ...).
#![no_std]
#![no_main]

use rampart_runtime::{clock, entropy, pd_index, ChannelSet, Handler, Message, Unhandled, LABEL_MALFORMED};
use rampart_usig::pp::Service;
use rampart_usig::{ClusterConfig, HmacClusterSecret, IdentitySecret, StartScheme, Usig, UsigId, UsigIdentity, Verifier};

rampart_runtime::bindings!();

#[allow(dead_code)]
enum SchemeChoice {
    Hmac,
    Ed25519,
}

mod cluster {
    use super::SchemeChoice;
    include!(concat!(env!("OUT_DIR"), "/rampart_cluster.rs"));
}

struct UsigPd {
    service: Service,
}

impl Handler for UsigPd {
    fn notified(&mut self, _channels: ChannelSet) {}

    fn protected(&mut self, channel: u8, m: &Message) -> Result<Message, Unhandled> {
        if channel != channels::REPLICA.id() {
            return Ok(Message::new(LABEL_MALFORMED));
        }
        let reply = self.service.handle_message(m.label(), m.words());
        Ok(Message::with_words(reply.label, reply.words()).unwrap_or(Message::new(LABEL_MALFORMED)))
    }
}

fn init() -> UsigPd {
    let me = pd_index().filter(|i| *i < cluster::USIG_COUNT).expect("a USIG PD's name ends with its index in the cluster");
    let identity = IdentitySecret::from_seed(UsigId(me as u32), cluster::IDENTITY_SEEDS[me]);
    let identities: [UsigIdentity; cluster::USIG_COUNT] =
        core::array::from_fn(|i| UsigIdentity { usig: UsigId(i as u32), public: cluster::IDENTITY_PUBLIC[i] });
    let config = ClusterConfig::new(&identities).expect("the cluster fits a verifier");
    let hmac = HmacClusterSecret::from_bytes(cluster::HMAC_SECRET);
    let mut seed = [0u8; 32];
    entropy::fill(&mut seed).expect("a USIG needs fresh entropy for its epoch keys");
    let epoch = clock::now_ns().max(1);
    let scheme = match cluster::SCHEME {
        SchemeChoice::Hmac => StartScheme::HmacSha256(&hmac),
        SchemeChoice::Ed25519 => StartScheme::Ed25519,
    };
    let usig = Usig::start(&identity, epoch, scheme, seed).expect("the epoch is nonzero");
    let service = Service::new(usig, Verifier::new(config, Some(&hmac))).expect("a USIG accepts its own announcement");
    defmt::info!("USIG {} up in epoch {}", me, epoch);
    UsigPd { service }
}

rampart_runtime::pd_main!(init);
