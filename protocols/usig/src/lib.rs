//! The USIG (Unique Sequential Identifier Generator) of MinBFT (Veronese et al., "Efficient
//! Byzantine Fault-Tolerance", IEEE ToC 2013), as a sans-IO, `no_std`, allocation-free core.
//!
//! # What it is for
//! A USIG binds a *unique identifier* ([`Ui`]) to every message a replica sends: the USIG's id, its
//! current epoch, a counter and a certificate over all three plus the message digest. Because a
//! correct USIG never gives the same counter to two messages, a Byzantine replica cannot
//! equivocate, and MinBFT needs only 2f+1 replicas instead of 3f+1. The USIG and its keys live in
//! their own protection domain (PD); the replica reaches it only through the protected procedure
//! defined in [`pp`].
//!
//! # The parts
//! - [`Usig`]: the state machine inside the USIG PD. [`Usig::start`] opens a fresh epoch with keys
//!   derived from fresh entropy and signs an [`EpochAnnouncement`] with the USIG's long-term
//!   identity key; [`Usig::create_ui`] certifies a digest with the next counter.
//! - [`Verifier`]: held by every replica (or, for HMAC, by every USIG PD; see below). It knows the
//!   cluster's identity public keys ([`ClusterConfig`]), accepts epochs only through signed
//!   announcements ([`Verifier::accept_announcement`]) and checks UIs ([`Verifier::verify_ui`],
//!   current epoch only; [`Verifier::verify_ui_any_epoch`], any remembered accepted epoch).
//! - [`pp`]: the bounded, versioned wire format of the replica <-> USIG protected procedure, and
//!   [`pp::Service`], the request handler the USIG PD runs.
//!
//! # What it guarantees
//! - Within one epoch of one [`Usig`] value, counters start at 1 and strictly increase by one;
//!   a counter is never reused: at `u64::MAX` [`Usig::create_ui`] fails with
//!   [`UsigError::CounterExhausted`] instead of wrapping.
//! - [`Verifier::verify_ui`] accepts a UI only if its USIG is in the cluster configuration, its
//!   epoch is the one the verifier currently accepts for that USIG, and its certificate is valid
//!   over the certified bytes ([`certified_bytes`]) under that epoch's key.
//! - A verifier moves to a new epoch only on an announcement signed by that USIG's identity key,
//!   and epochs only move forward: an announcement for an epoch at or below the accepted one is
//!   refused (so an old epoch's announcement cannot be replayed to revive its keys), and once a
//!   newer epoch is accepted [`Verifier::verify_ui`] rejects every UI of an older epoch.
//! - [`Verifier::verify_ui_any_epoch`] accepts a UI under the same certificate check in the
//!   current epoch or in one of the earlier epochs the verifier itself accepted, the last
//!   [`EPOCH_HISTORY_MAX`] (current included; older ones are forgotten, keys zeroized). It never
//!   accepts an epoch that was not announced to it. It proves a UI was certified by that USIG,
//!   not that the epoch is still live: for evidence that must survive a restart (MinBFT
//!   checkpoint certificates), while the caller refuses live traffic of past epochs itself.
//! - Secret keys ([`IdentitySecret`], [`HmacClusterSecret`], the epoch keys inside [`Usig`] and
//!   [`Verifier`]) are zeroized on drop, no API returns their bytes, and their `Debug` output
//!   prints no secret.
//! - Decoding untrusted words or bytes ([`pp`]) returns an error and never panics, and accepts
//!   only the canonical encoding of a value.
//! - The identity key signs only announcements, epoch keys only UIs, each over fixed-length,
//!   domain-tagged bytes ([`DOMAIN_ANNOUNCEMENT`], [`DOMAIN_UI`]).
//!
//! Limits: [`USIG_COUNT_MAX`] USIGs per cluster; [`EPOCH_HISTORY_MAX`] remembered epochs per USIG;
//! every request and response fits one runtime
//! message ([`pp::PP_MESSAGE_MAX_BYTES`]); no allocation, no unbounded state.
//!
//! Zeroization covers the key values this crate owns. Temporaries inside the `hmac`/`sha2`/
//! `ed25519-dalek` computations (hash states on the stack) are not wiped by those crates; a PD
//! that needs that must scrub its stack itself.
//!
//! # What it refuses, and what it leaves to others
//! - It never reads a clock or an RNG: the PD wrapper passes entropy and the epoch number in.
//! - It does not check *sequentiality* across messages (that counter `n` follows `n - 1`): the
//!   MinBFT replica does, using the counter that [`Verifier::verify_ui`] proved authentic.
//! - **Epoch numbers must never be reused by one USIG identity.** The caller of [`Usig::start`]
//!   supplies the epoch: it must be strictly greater than every epoch that identity announced
//!   before: the monitor's persistent restart count, or, after a whole-node restart, one more
//!   than the highest epoch among this identity's signed announcements that peers hold
//!   ([`Verifier::accepted_announcement`], each checked against the identity public key, so a
//!   peer cannot inflate it; a peer that withholds one costs liveness, not safety). Verifiers
//!   enforce forward movement, so a reused number is refused by every verifier that saw it; and a
//!   verifier that sees two different announcements for the same epoch reports
//!   [`AnnouncementError::ConflictingAnnouncement`].
//! - **HMAC trust model.** With [`Scheme::HmacSha256`] the per-epoch MAC key is derived from a
//!   cluster-wide secret, so whoever holds that secret can forge any USIG's UIs. As in the MinBFT
//!   paper, the secret must therefore live only inside USIG PDs: a replica verifies HMAC UIs by
//!   asking its own USIG PD ([`pp::UsigRequest::VerifyUi`], or
//!   [`pp::UsigRequest::VerifyUiAnyEpoch`] for past epochs too), and forwards peers' announcements to
//!   it ([`pp::UsigRequest::AcceptAnnouncement`]). With [`Scheme::Ed25519`] a replica can hold a
//!   [`Verifier`] itself, since it needs only public keys.
//!
//! # Key schedule
//! Every derivation is HKDF-Expand(PRK, info, 32) with SHA-256 (RFC 5869), i.e. one block:
//! `HMAC-SHA256(PRK, info || 0x01)`.
//! - Ed25519 epoch signing key seed: PRK = entropy, info = [`DOMAIN_EPOCH_SEED`].
//! - HMAC epoch nonce: PRK = entropy, info = [`DOMAIN_EPOCH_NONCE`]. Public; carried in the
//!   announcement so that even a (forbidden) reused epoch number gets a fresh key.
//! - HMAC epoch key: PRK = cluster HMAC secret, info = [`DOMAIN_HMAC_EPOCH_KEY`] || usig (u32 LE)
//!   || epoch (u64 LE) || nonce (32 bytes).
#![no_std]
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

mod keys;
pub mod pp;
mod usig;
mod verifier;

pub use keys::{HmacClusterSecret, IdentitySecret};
pub use usig::{StartError, StartScheme, Usig, UsigError};
pub use verifier::{Acceptance, AnnouncementError, ClusterConfig, ConfigError, UsigIdentity, Verifier, VerifyError, EPOCH_HISTORY_MAX};

/// The most USIGs (so replicas) one cluster configuration may list: f <= 7 with n = 2f + 1 = 15,
/// and one spare.
pub const USIG_COUNT_MAX: usize = 16;

/// A SHA-256 digest of a message, as certified by a UI.
pub type Digest = [u8; 32];

/// Which USIG instance made a UI (one per replica; the replica id in a cluster).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct UsigId(pub u32);

/// The certificate over (usig, epoch, counter, digest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Certificate {
    /// HMAC-SHA256 with a key shared within the cluster.
    HmacSha256([u8; 32]),
    /// Ed25519 signature, as two 32-byte halves (R, s) so serde derives work without extra crates.
    Ed25519([[u8; 32]; 2]),
}

impl Certificate {
    /// The scheme this certificate belongs to.
    pub fn scheme(&self) -> Scheme {
        match self {
            Certificate::HmacSha256(_) => Scheme::HmacSha256,
            Certificate::Ed25519(_) => Scheme::Ed25519,
        }
    }
}

/// A unique identifier: the USIG's identity, its epoch (a new one after every restart), a counter
/// strictly increasing within the epoch, and the certificate binding them to a message digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ui {
    pub usig: UsigId,
    pub epoch: u64,
    pub counter: u64,
    pub cert: Certificate,
}

/// The certificate scheme of an epoch. Every UI of an epoch uses that epoch's scheme.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scheme {
    /// HMAC-SHA256 under a per-epoch key derived from the cluster HMAC secret (see crate docs).
    HmacSha256,
    /// Ed25519 under a per-epoch key pair derived from the USIG's fresh entropy.
    Ed25519,
}

/// What an epoch announcement carries so that verifiers can check that epoch's certificates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EpochCredential {
    /// HMAC epoch: the public nonce that, with the cluster secret, (usig, epoch), derives the key.
    HmacSha256 { nonce: [u8; 32] },
    /// Ed25519 epoch: the epoch's public key (compressed Edwards point).
    Ed25519 { public: [u8; 32] },
}

impl EpochCredential {
    /// The scheme of the announced epoch.
    pub fn scheme(&self) -> Scheme {
        match self {
            EpochCredential::HmacSha256 { .. } => Scheme::HmacSha256,
            EpochCredential::Ed25519 { .. } => Scheme::Ed25519,
        }
    }
}

/// A USIG's statement "I am now in `epoch`, certifying with `credential`", signed by its long-term
/// identity key over [`announcement_signed_bytes`]. The only way a [`Verifier`] learns an epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochAnnouncement {
    pub usig: UsigId,
    /// Nonzero; strictly greater than every epoch this identity announced before.
    pub epoch: u64,
    pub credential: EpochCredential,
    /// Ed25519 signature by the identity key, as (R, s).
    pub signature: [[u8; 32]; 2],
}

/// Domain tag of the bytes a UI certificate covers ([`certified_bytes`]).
pub const DOMAIN_UI: &[u8; 16] = b"rampart-usig-ui1";
/// Domain tag of the bytes an identity key signs in an announcement.
pub const DOMAIN_ANNOUNCEMENT: &[u8; 16] = b"rampart-usig-an1";
/// HKDF info tag of the Ed25519 epoch key seed.
pub const DOMAIN_EPOCH_SEED: &[u8; 16] = b"rampart-usig-es1";
/// HKDF info tag of the HMAC epoch nonce.
pub const DOMAIN_EPOCH_NONCE: &[u8; 16] = b"rampart-usig-en1";
/// HKDF info tag prefix of the HMAC epoch key.
pub const DOMAIN_HMAC_EPOCH_KEY: &[u8; 16] = b"rampart-usig-hk1";

/// Length of [`certified_bytes`]: tag 16 + usig 4 + epoch 8 + counter 8 + digest 32.
pub const CERTIFIED_BYTES_LEN: usize = 16 + 4 + 8 + 8 + 32;
/// Length of [`announcement_signed_bytes`]: tag 16 + usig 4 + epoch 8 + scheme 1 + credential 32.
pub const ANNOUNCEMENT_SIGNED_BYTES_LEN: usize = 16 + 4 + 8 + 1 + 32;

/// The exact bytes a UI certificate covers, the one definition used to create and to verify:
///
/// `DOMAIN_UI (16) || usig (u32 LE) || epoch (u64 LE) || counter (u64 LE) || digest (32)`
///
/// Fixed length, fixed offsets, so no two distinct tuples encode alike; the domain tag keeps these
/// bytes distinct from anything else a key of this crate certifies.
pub fn certified_bytes(usig: UsigId, epoch: u64, counter: u64, digest: &Digest) -> [u8; CERTIFIED_BYTES_LEN] {
    let mut out = [0u8; CERTIFIED_BYTES_LEN];
    out[0..16].copy_from_slice(DOMAIN_UI);
    out[16..20].copy_from_slice(&usig.0.to_le_bytes());
    out[20..28].copy_from_slice(&epoch.to_le_bytes());
    out[28..36].copy_from_slice(&counter.to_le_bytes());
    out[36..68].copy_from_slice(digest);
    out
}

/// The exact bytes an identity key signs in an [`EpochAnnouncement`]:
///
/// `DOMAIN_ANNOUNCEMENT (16) || usig (u32 LE) || epoch (u64 LE) || scheme (1: 0 HMAC-SHA256,
/// 1 Ed25519) || nonce or epoch public key (32)`
pub fn announcement_signed_bytes(usig: UsigId, epoch: u64, credential: &EpochCredential) -> [u8; ANNOUNCEMENT_SIGNED_BYTES_LEN] {
    let mut out = [0u8; ANNOUNCEMENT_SIGNED_BYTES_LEN];
    out[0..16].copy_from_slice(DOMAIN_ANNOUNCEMENT);
    out[16..20].copy_from_slice(&usig.0.to_le_bytes());
    out[20..28].copy_from_slice(&epoch.to_le_bytes());
    let (tag, bytes) = match credential {
        EpochCredential::HmacSha256 { nonce } => (0u8, nonce),
        EpochCredential::Ed25519 { public } => (1u8, public),
    };
    out[28] = tag;
    out[29..61].copy_from_slice(bytes);
    out
}
