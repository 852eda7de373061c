//! The USIG state machine, the part that lives inside the USIG PD.
//!
//! Guarantees: one [`Usig`] value issues counters 1, 2, 3, ... in its epoch, each exactly once,
//! and fails with [`UsigError::CounterExhausted`] rather than wrap. Its epoch keys come from the
//! entropy given to [`Usig::start`] and are zeroized on drop. Refuses: epoch 0 (reserved for "no
//! epoch"), and an HMAC start without the cluster secret (the type makes that impossible).
//!
//! Restartability: the USIG keeps no state across restarts. A restarted PD calls [`Usig::start`]
//! again with fresh entropy and a greater epoch; the old epoch's keys died with the old PD.

use core::fmt;

use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use zeroize::ZeroizeOnDrop;

use crate::keys::{hkdf_expand_32, HmacClusterSecret, HmacEpochKey, IdentitySecret};
use crate::{certified_bytes, Certificate, Digest, EpochAnnouncement, EpochCredential, Scheme, Ui, UsigId, DOMAIN_EPOCH_NONCE, DOMAIN_EPOCH_SEED};

/// The scheme a USIG starts its epoch with, and what that scheme needs.
#[derive(Clone, Copy, Debug)]
pub enum StartScheme<'a> {
    /// HMAC-SHA256; the epoch key is derived from this cluster secret (see the crate docs).
    HmacSha256(&'a HmacClusterSecret),
    /// Ed25519; the epoch key pair is derived from the start entropy.
    Ed25519,
}

/// Why [`Usig::start`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StartError {
    /// Epoch 0 means "no epoch" to verifiers; epochs start at 1.
    ZeroEpoch,
}

/// Why [`Usig::create_ui`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UsigError {
    /// The epoch's counter reached `u64::MAX`; the USIG must be restarted into a new epoch.
    CounterExhausted,
}

#[derive(ZeroizeOnDrop)]
enum EpochKey {
    Hmac(HmacEpochKey),
    Ed25519(SigningKey),
}

/// The USIG: a counter and an epoch key, inside the USIG PD.
#[derive(ZeroizeOnDrop)]
pub struct Usig {
    #[zeroize(skip)]
    usig: UsigId,
    #[zeroize(skip)]
    epoch: u64,
    /// The last counter issued; 0 before the first UI.
    #[zeroize(skip)]
    counter: u64,
    key: EpochKey,
    #[zeroize(skip)]
    announcement: EpochAnnouncement,
}

impl Usig {
    /// Open epoch `epoch` for `identity`'s USIG: derive fresh epoch keys from `entropy` (32 bytes
    /// from the PD wrapper's entropy source, never reused) and sign the epoch's announcement.
    ///
    /// `epoch` must be nonzero and strictly greater than every epoch this identity announced
    /// before (see the crate docs); verifiers refuse anything else.
    pub fn start(identity: &IdentitySecret, epoch: u64, scheme: StartScheme<'_>, entropy: [u8; 32]) -> Result<Usig, StartError> {
        let mut entropy = zeroize::Zeroizing::new(entropy);
        if epoch == 0 {
            return Err(StartError::ZeroEpoch);
        }
        let usig = identity.usig();
        let (key, credential) = match scheme {
            StartScheme::HmacSha256(cluster) => {
                let nonce = *hkdf_expand_32(&entropy, DOMAIN_EPOCH_NONCE);
                (EpochKey::Hmac(cluster.epoch_key(usig, epoch, &nonce)), EpochCredential::HmacSha256 { nonce })
            }
            StartScheme::Ed25519 => {
                let seed = hkdf_expand_32(&entropy, DOMAIN_EPOCH_SEED);
                let key = SigningKey::from_bytes(&seed);
                let public = key.verifying_key().to_bytes();
                (EpochKey::Ed25519(key), EpochCredential::Ed25519 { public })
            }
        };
        zeroize::Zeroize::zeroize(&mut *entropy);
        let announcement = identity.announce(epoch, credential);
        Ok(Usig { usig, epoch, counter: 0, key, announcement })
    }

    /// Certify `digest` with the next counter. Counters go 1, 2, 3, ... within the epoch.
    pub fn create_ui(&mut self, digest: &Digest) -> Result<Ui, UsigError> {
        let counter = self.counter.checked_add(1).ok_or(UsigError::CounterExhausted)?;
        let bytes = certified_bytes(self.usig, self.epoch, counter, digest);
        let cert = match &self.key {
            EpochKey::Hmac(key) => Certificate::HmacSha256(key.tag(&bytes)),
            EpochKey::Ed25519(key) => {
                let sig = key.sign(&bytes);
                Certificate::Ed25519([*sig.r_bytes(), *sig.s_bytes()])
            }
        };
        // Commit the counter only once the certificate exists; nothing above can fail after it.
        debug_assert!(counter > self.counter);
        self.counter = counter;
        Ok(Ui { usig: self.usig, epoch: self.epoch, counter, cert })
    }

    /// The signed announcement of this epoch, to send to every verifier (it holds no secret).
    pub fn announcement(&self) -> &EpochAnnouncement {
        &self.announcement
    }

    /// This USIG's id.
    pub fn usig(&self) -> UsigId {
        self.usig
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The last counter issued in this epoch (0 before the first UI).
    pub fn last_counter(&self) -> u64 {
        self.counter
    }

    /// The certificate scheme of this epoch.
    pub fn scheme(&self) -> Scheme {
        self.announcement.credential.scheme()
    }

    #[cfg(test)]
    pub(crate) fn set_counter_for_test(&mut self, counter: u64) {
        self.counter = counter;
    }
}

impl fmt::Debug for Usig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Usig")
            .field("usig", &self.usig)
            .field("epoch", &self.epoch)
            .field("counter", &self.counter)
            .field("scheme", &self.scheme())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_exhaustion_is_an_error_not_a_wrap() {
        let id = IdentitySecret::from_seed(UsigId(0), [7; 32]);
        let mut u = Usig::start(&id, 1, StartScheme::Ed25519, [1; 32]).unwrap();
        u.set_counter_for_test(u64::MAX - 1);
        let last = u.create_ui(&[0; 32]).unwrap();
        assert_eq!(last.counter, u64::MAX);
        assert_eq!(u.create_ui(&[0; 32]), Err(UsigError::CounterExhausted));
        assert_eq!(u.create_ui(&[0; 32]), Err(UsigError::CounterExhausted));
        assert_eq!(u.last_counter(), u64::MAX);
    }
}
