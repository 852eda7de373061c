//! Secret key material and the key schedule (see the crate docs for the derivations).
//!
//! Guarantees: every secret type here is zeroized on drop (`ZeroizeOnDrop`), no function returns
//! secret bytes, and `Debug` prints only public data. Refuses: nothing is read from the
//! environment; entropy and provisioned seeds come in as arguments.

use core::fmt;

use ed25519_dalek::{Signer, SigningKey};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{announcement_signed_bytes, EpochAnnouncement, EpochCredential, UsigId, UsigIdentity};

type HmacSha256 = Hmac<Sha256>;

/// A USIG's long-term identity key (Ed25519), provisioned by the cluster configuration into the
/// USIG PD's image and into no other PD. It signs only [`EpochAnnouncement`]s.
#[derive(ZeroizeOnDrop)]
pub struct IdentitySecret {
    #[zeroize(skip)]
    usig: UsigId,
    key: SigningKey,
}

impl IdentitySecret {
    /// The identity of `usig` from its 32-byte provisioned Ed25519 seed. The caller's copy of the
    /// seed is the caller's to zeroize; this function's copy is zeroized before it returns.
    pub fn from_seed(usig: UsigId, mut seed: [u8; 32]) -> Self {
        let key = SigningKey::from_bytes(&seed);
        seed.zeroize();
        IdentitySecret { usig, key }
    }

    /// The public half, as every verifier's [`crate::ClusterConfig`] lists it.
    pub fn identity(&self) -> UsigIdentity {
        UsigIdentity { usig: self.usig, public: self.key.verifying_key().to_bytes() }
    }

    /// The USIG this identity belongs to.
    pub fn usig(&self) -> UsigId {
        self.usig
    }

    /// Sign an announcement of `epoch` with `credential`.
    pub(crate) fn announce(&self, epoch: u64, credential: EpochCredential) -> EpochAnnouncement {
        let bytes = announcement_signed_bytes(self.usig, epoch, &credential);
        let sig = self.key.sign(&bytes);
        EpochAnnouncement { usig: self.usig, epoch, credential, signature: [*sig.r_bytes(), *sig.s_bytes()] }
    }
}

impl fmt::Debug for IdentitySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentitySecret").field("usig", &self.usig).field("public", &self.key.verifying_key().to_bytes()).finish_non_exhaustive()
    }
}

/// The cluster-wide secret from which HMAC epoch keys are derived. Whoever holds it can forge any
/// USIG's HMAC UIs, so it belongs only in USIG PDs (see the crate docs, "HMAC trust model").
#[derive(Clone, ZeroizeOnDrop)]
pub struct HmacClusterSecret {
    key: Zeroizing<[u8; 32]>,
}

impl HmacClusterSecret {
    /// The cluster secret from its 32 provisioned bytes (this function's copy is zeroized).
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        let key = Zeroizing::new(bytes);
        bytes.zeroize();
        HmacClusterSecret { key }
    }

    /// The MAC key of (usig, epoch, nonce).
    pub(crate) fn epoch_key(&self, usig: UsigId, epoch: u64, nonce: &[u8; 32]) -> HmacEpochKey {
        let mut info = [0u8; 16 + 4 + 8 + 32];
        info[0..16].copy_from_slice(crate::DOMAIN_HMAC_EPOCH_KEY);
        info[16..20].copy_from_slice(&usig.0.to_le_bytes());
        info[20..28].copy_from_slice(&epoch.to_le_bytes());
        info[28..60].copy_from_slice(nonce);
        HmacEpochKey { key: hkdf_expand_32(&self.key, &info) }
    }
}

impl fmt::Debug for HmacClusterSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HmacClusterSecret { .. }")
    }
}

/// One epoch's HMAC-SHA256 key.
#[derive(Clone, ZeroizeOnDrop)]
pub(crate) struct HmacEpochKey {
    key: Zeroizing<[u8; 32]>,
}

impl HmacEpochKey {
    fn mac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length; 32 bytes cannot fail.
        <HmacSha256 as Mac>::new_from_slice(self.key.as_ref()).expect("HMAC takes any key length")
    }

    pub(crate) fn tag(&self, bytes: &[u8]) -> [u8; 32] {
        let mut mac = self.mac();
        mac.update(bytes);
        mac.finalize().into_bytes().into()
    }

    /// Constant-time check of `tag` over `bytes`.
    pub(crate) fn check(&self, bytes: &[u8], tag: &[u8; 32]) -> bool {
        let mut mac = self.mac();
        mac.update(bytes);
        mac.verify_slice(tag).is_ok()
    }
}

impl fmt::Debug for HmacEpochKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HmacEpochKey { .. }")
    }
}

/// HKDF-Expand(PRK = `prk`, info, L = 32) with SHA-256: one block, `HMAC(prk, info || 0x01)`.
pub(crate) fn hkdf_expand_32(prk: &[u8; 32], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(prk).expect("HMAC takes any key length");
    mac.update(info);
    mac.update(&[1u8]);
    Zeroizing::new(mac.finalize().into_bytes().into())
}
