//! The USIG (Unique Sequential Identifier Generator) of MinBFT: the types every other crate names.
//! (Skeleton: the certificate schemes and the sans-IO USIG state machine are being filled in.)
#![no_std]

use serde::{Deserialize, Serialize};

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

/// A unique identifier: the USIG's identity, its epoch (a new one after every restart), a counter
/// strictly increasing within the epoch, and the certificate binding them to a message digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ui {
    pub usig: UsigId,
    pub epoch: u64,
    pub counter: u64,
    pub cert: Certificate,
}
