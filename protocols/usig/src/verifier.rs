//! The verifier side: the cluster's USIG identities, the epoch each is accepted in, and UI checks.
//!
//! Guarantees: an epoch is accepted only from an announcement signed by that USIG's identity key
//! (strict Ed25519 verification), epochs only move forward, and [`Verifier::verify_ui`] verifies a
//! UI only in the epoch currently accepted for its USIG. [`Verifier::verify_ui_any_epoch`] also
//! verifies UIs of the earlier epochs it accepted, the [`EPOCH_HISTORY_MAX`] most recent ones
//! (current included), for evidence that must stay checkable across a USIG's restarts. Refuses:
//! unknown USIGs, replays of older announcements, a second, different announcement for the
//! accepted epoch, weak or invalid public keys, and HMAC epochs when it holds no cluster secret.
//! Bounded: at most [`USIG_COUNT_MAX`] USIGs, [`EPOCH_HISTORY_MAX`] epochs each, fixed-size
//! state, no allocation.

use core::fmt;

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use zeroize::ZeroizeOnDrop;

use crate::keys::{HmacClusterSecret, HmacEpochKey};
use crate::{announcement_signed_bytes, certified_bytes, Certificate, Digest, EpochAnnouncement, EpochCredential, Scheme, Ui, UsigId, USIG_COUNT_MAX};

/// One USIG's public identity: its id and its long-term Ed25519 identity public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UsigIdentity {
    pub usig: UsigId,
    pub public: [u8; 32],
}

/// Why a [`ClusterConfig`] was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConfigError {
    /// More than [`USIG_COUNT_MAX`] identities.
    TooManyUsigs { count: usize, count_max: usize },
    /// The same USIG id listed twice.
    DuplicateUsig(UsigId),
    /// An identity public key that is not a valid Ed25519 point, or a weak (small-order) one.
    BadIdentityKey(UsigId),
}

/// The public identities of a cluster's USIGs, checked: at most [`USIG_COUNT_MAX`], no duplicate
/// ids, every key a valid, non-weak Ed25519 public key.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    identities: [Option<(UsigIdentity, VerifyingKey)>; USIG_COUNT_MAX],
}

impl ClusterConfig {
    /// Check and build the configuration from the cluster's identity list.
    pub fn new(identities: &[UsigIdentity]) -> Result<ClusterConfig, ConfigError> {
        if identities.len() > USIG_COUNT_MAX {
            return Err(ConfigError::TooManyUsigs { count: identities.len(), count_max: USIG_COUNT_MAX });
        }
        let mut slots = [None; USIG_COUNT_MAX];
        for (i, id) in identities.iter().enumerate() {
            if identities[..i].iter().any(|other| other.usig == id.usig) {
                return Err(ConfigError::DuplicateUsig(id.usig));
            }
            let key = VerifyingKey::from_bytes(&id.public).map_err(|_| ConfigError::BadIdentityKey(id.usig))?;
            if key.is_weak() {
                return Err(ConfigError::BadIdentityKey(id.usig));
            }
            slots[i] = Some((*id, key));
        }
        Ok(ClusterConfig { identities: slots })
    }

    /// The identities, in the order given to [`ClusterConfig::new`].
    pub fn identities(&self) -> impl Iterator<Item = &UsigIdentity> {
        self.identities.iter().flatten().map(|(id, _)| id)
    }
}

/// Why [`Verifier::verify_ui`] rejected a UI. Typed so that a replica can count each kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum VerifyError {
    /// The UI names a USIG that is not in the cluster configuration.
    UnknownUsig,
    /// The UI's epoch is not the epoch currently accepted for its USIG (older, newer, or none
    /// announced yet); for [`Verifier::verify_ui_any_epoch`], not one of the accepted epochs it
    /// still remembers (never accepted, or older than the last [`EPOCH_HISTORY_MAX`]).
    EpochNotAccepted,
    /// The certificate does not verify (tampered fields, wrong key, or the wrong scheme for the
    /// epoch).
    BadCertificate,
    /// The UI cannot be valid whatever its certificate (counter 0, never issued).
    Malformed,
}

/// Why [`Verifier::accept_announcement`] refused an announcement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AnnouncementError {
    /// The announcement names a USIG that is not in the cluster configuration.
    UnknownUsig,
    /// The identity signature does not verify.
    BadSignature,
    /// The epoch is 0 or not greater than the accepted one (`accepted`): a replay or a reuse.
    StaleEpoch { accepted: u64 },
    /// A validly signed announcement for the accepted epoch with a different credential: the
    /// USIG's identity announced the same epoch twice (a faulty restart or a compromised USIG).
    ConflictingAnnouncement,
    /// The announced Ed25519 epoch public key is invalid or weak.
    BadEpochKey,
    /// An HMAC epoch, but this verifier holds no cluster HMAC secret (it lives outside a USIG PD).
    HmacUnavailable,
}

/// What [`Verifier::accept_announcement`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Acceptance {
    /// A new epoch is now the accepted one; `previous` is the epoch it replaced (0 if none).
    NewEpoch { previous: u64 },
    /// The announcement is the one already accepted (re-broadcasts are harmless).
    AlreadyAccepted,
}

#[derive(ZeroizeOnDrop)]
enum EpochVerifyKey {
    Hmac(HmacEpochKey),
    Ed25519(#[zeroize(skip)] VerifyingKey),
}

/// A key of an earlier accepted epoch, kept compact (the verifier lives on a small PD stack): an
/// Ed25519 key as its 32 public bytes, decompressed again when a UI of that epoch is checked.
#[derive(ZeroizeOnDrop)]
enum PastVerifyKey {
    Hmac(HmacEpochKey),
    Ed25519(#[zeroize(skip)] [u8; 32]),
}

/// An earlier epoch of one USIG, superseded by a newer accepted announcement.
#[derive(ZeroizeOnDrop)]
struct Past {
    #[zeroize(skip)]
    epoch: u64,
    key: PastVerifyKey,
}

/// How many accepted epochs a [`Verifier`] remembers per USIG, the current one included, for
/// [`Verifier::verify_ui_any_epoch`]. Accepting one more forgets the oldest. The supervisor
/// restarts a USIG at most 8 times, so its epochs in one run fit.
pub const EPOCH_HISTORY_MAX: usize = 8;
/// Earlier epochs remembered per USIG (the current one is kept apart).
const PAST_EPOCHS_MAX: usize = EPOCH_HISTORY_MAX - 1;
const _: () = assert!(EPOCH_HISTORY_MAX >= 1);

#[derive(ZeroizeOnDrop)]
struct Accepted {
    /// The announcement that opened this epoch, kept so it can be shown to a restarted USIG.
    #[zeroize(skip)]
    announcement: EpochAnnouncement,
    key: EpochVerifyKey,
}

/// Checks UIs against the epochs accepted from signed announcements. Every replica holds one (for
/// HMAC, inside its USIG PD; see the crate docs). Holds derived HMAC epoch keys and a copy of the
/// cluster HMAC secret when given one; both are zeroized on drop.
#[derive(ZeroizeOnDrop)]
pub struct Verifier {
    #[zeroize(skip)]
    config: ClusterConfig,
    hmac: Option<HmacClusterSecret>,
    accepted: [Option<Accepted>; USIG_COUNT_MAX],
    /// Per USIG, the earlier accepted epochs, newest first; `None` slots at the end.
    past: [[Option<Past>; PAST_EPOCHS_MAX]; USIG_COUNT_MAX],
}

impl Verifier {
    /// A verifier for `config` that has accepted no epoch yet. `hmac` is the cluster HMAC secret,
    /// given only inside a USIG PD; without it, HMAC announcements are refused.
    pub fn new(config: ClusterConfig, hmac: Option<&HmacClusterSecret>) -> Verifier {
        Verifier {
            config,
            hmac: hmac.cloned(),
            accepted: [const { None }; USIG_COUNT_MAX],
            past: [const { [const { None }; PAST_EPOCHS_MAX] }; USIG_COUNT_MAX],
        }
    }

    fn slot(&self, usig: UsigId) -> Option<(usize, &VerifyingKey)> {
        self.config.identities.iter().enumerate().find_map(|(i, s)| match s {
            Some((id, key)) if id.usig == usig => Some((i, key)),
            _ => None,
        })
    }

    /// Accept `ann` if it is signed by its USIG's identity key and moves that USIG's epoch
    /// forward. On success, [`Verifier::verify_ui`] rejects UIs of the previously accepted epoch
    /// from now on; [`Verifier::verify_ui_any_epoch`] keeps accepting them while that epoch is
    /// among the last [`EPOCH_HISTORY_MAX`] accepted.
    pub fn accept_announcement(&mut self, ann: &EpochAnnouncement) -> Result<Acceptance, AnnouncementError> {
        let (slot, identity) = self.slot(ann.usig).ok_or(AnnouncementError::UnknownUsig)?;
        let bytes = announcement_signed_bytes(ann.usig, ann.epoch, &ann.credential);
        let sig = Signature::from_components(ann.signature[0], ann.signature[1]);
        identity.verify_strict(&bytes, &sig).map_err(|_| AnnouncementError::BadSignature)?;

        let previous = match &self.accepted[slot] {
            Some(cur) if cur.announcement.epoch == ann.epoch => {
                if cur.announcement.credential == ann.credential {
                    return Ok(Acceptance::AlreadyAccepted);
                }
                return Err(AnnouncementError::ConflictingAnnouncement);
            }
            Some(cur) if ann.epoch < cur.announcement.epoch => return Err(AnnouncementError::StaleEpoch { accepted: cur.announcement.epoch }),
            Some(cur) => cur.announcement.epoch,
            None if ann.epoch == 0 => return Err(AnnouncementError::StaleEpoch { accepted: 0 }),
            None => 0,
        };

        let key = match &ann.credential {
            EpochCredential::HmacSha256 { nonce } => {
                let cluster = self.hmac.as_ref().ok_or(AnnouncementError::HmacUnavailable)?;
                EpochVerifyKey::Hmac(cluster.epoch_key(ann.usig, ann.epoch, nonce))
            }
            EpochCredential::Ed25519 { public } => {
                let key = VerifyingKey::from_bytes(public).map_err(|_| AnnouncementError::BadEpochKey)?;
                if key.is_weak() {
                    return Err(AnnouncementError::BadEpochKey);
                }
                EpochVerifyKey::Ed25519(key)
            }
        };
        debug_assert!(ann.epoch > previous);
        let superseded = self.accepted[slot].replace(Accepted { announcement: ann.clone(), key });
        if let Some(old) = superseded {
            self.remember(slot, &old);
        }
        Ok(Acceptance::NewEpoch { previous })
    }

    /// Keep `old`, just superseded, as the newest earlier epoch of `slot`, forgetting the oldest
    /// if the history is full (its key is zeroized as it drops).
    fn remember(&mut self, slot: usize, old: &Accepted) {
        let past = &mut self.past[slot];
        if PAST_EPOCHS_MAX == 0 {
            return;
        }
        let key = match &old.key {
            EpochVerifyKey::Hmac(k) => PastVerifyKey::Hmac(k.clone()),
            EpochVerifyKey::Ed25519(k) => PastVerifyKey::Ed25519(k.to_bytes()),
        };
        past.rotate_right(1);
        debug_assert!(past[0].as_ref().is_none_or(|p| p.epoch < old.announcement.epoch));
        past[0] = Some(Past { epoch: old.announcement.epoch, key });
    }

    /// Check that `ui` certifies `digest`: its USIG is known, its epoch is the one accepted for
    /// that USIG, and its certificate verifies under that epoch's key. Does not check that the
    /// counter is the next expected one; the replica does that.
    pub fn verify_ui(&self, digest: &Digest, ui: &Ui) -> Result<(), VerifyError> {
        let (slot, _) = self.slot(ui.usig).ok_or(VerifyError::UnknownUsig)?;
        let accepted = match &self.accepted[slot] {
            Some(a) if a.announcement.epoch == ui.epoch => a,
            _ => return Err(VerifyError::EpochNotAccepted),
        };
        check_current(&accepted.key, digest, ui)
    }

    /// Like [`Verifier::verify_ui`], but the UI's epoch may also be one of the earlier epochs this
    /// verifier accepted for its USIG, as long as it is among the last [`EPOCH_HISTORY_MAX`]
    /// accepted (the current one included); an epoch never accepted is refused like any other.
    ///
    /// For evidence that outlives an epoch, such as MinBFT checkpoint certificates signed before
    /// a replica restarted. It says only that the UI was once certified by that USIG; whether a
    /// message of an old epoch is still *live* is the caller's decision (MinBFT's core refuses
    /// stream messages of any epoch but the current one before it asks).
    pub fn verify_ui_any_epoch(&self, digest: &Digest, ui: &Ui) -> Result<(), VerifyError> {
        let (slot, _) = self.slot(ui.usig).ok_or(VerifyError::UnknownUsig)?;
        if let Some(a) = &self.accepted[slot] {
            if a.announcement.epoch == ui.epoch {
                return check_current(&a.key, digest, ui);
            }
        }
        let past = self.past[slot].iter().flatten().find(|p| p.epoch == ui.epoch).ok_or(VerifyError::EpochNotAccepted)?;
        if ui.counter == 0 {
            return Err(VerifyError::Malformed);
        }
        let bytes = certified_bytes(ui.usig, ui.epoch, ui.counter, digest);
        let ok = match (&past.key, &ui.cert) {
            (PastVerifyKey::Hmac(key), Certificate::HmacSha256(tag)) => key.check(&bytes, tag),
            // The bytes were a valid, non-weak point when the epoch was accepted.
            (PastVerifyKey::Ed25519(public), Certificate::Ed25519([r, s])) => {
                VerifyingKey::from_bytes(public).is_ok_and(|key| key.verify_strict(&bytes, &Signature::from_components(*r, *s)).is_ok())
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(VerifyError::BadCertificate)
        }
    }

    /// The epochs of `usig` that [`Verifier::verify_ui_any_epoch`] accepts UIs of, newest (the
    /// current one) first; empty for an unknown USIG or before any announcement.
    pub fn remembered_epochs(&self, usig: UsigId) -> impl Iterator<Item = u64> + '_ {
        let slot = self.slot(usig).map(|(slot, _)| slot);
        let current = slot.and_then(|s| self.accepted[s].as_ref()).map(|a| a.announcement.epoch);
        let past = slot.into_iter().flat_map(move |s| self.past[s].iter().flatten().map(|p| p.epoch));
        current.into_iter().chain(past)
    }

    /// The epoch accepted for `usig`, if any (`None` also for an unknown USIG).
    pub fn accepted_epoch(&self, usig: UsigId) -> Option<u64> {
        let (slot, _) = self.slot(usig)?;
        self.accepted[slot].as_ref().map(|a| a.announcement.epoch)
    }

    /// The signed announcement of the epoch accepted for `usig`, if any. A restarted USIG that
    /// lost its epoch count can collect these from peers, check each signature against its own
    /// identity (a peer cannot inflate an epoch without the identity key), and start at one more
    /// than the highest.
    pub fn accepted_announcement(&self, usig: UsigId) -> Option<&EpochAnnouncement> {
        let (slot, _) = self.slot(usig)?;
        self.accepted[slot].as_ref().map(|a| &a.announcement)
    }

    /// The scheme of the epoch accepted for `usig`, if any.
    pub fn accepted_scheme(&self, usig: UsigId) -> Option<Scheme> {
        let (slot, _) = self.slot(usig)?;
        self.accepted[slot].as_ref().map(|a| a.announcement.credential.scheme())
    }

    /// The cluster configuration this verifier checks against.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }
}

/// Check `ui`'s certificate under the current epoch key `key` (the epoch already matched).
fn check_current(key: &EpochVerifyKey, digest: &Digest, ui: &Ui) -> Result<(), VerifyError> {
    if ui.counter == 0 {
        return Err(VerifyError::Malformed);
    }
    let bytes = certified_bytes(ui.usig, ui.epoch, ui.counter, digest);
    let ok = match (key, &ui.cert) {
        (EpochVerifyKey::Hmac(key), Certificate::HmacSha256(tag)) => key.check(&bytes, tag),
        (EpochVerifyKey::Ed25519(key), Certificate::Ed25519([r, s])) => key.verify_strict(&bytes, &Signature::from_components(*r, *s)).is_ok(),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(VerifyError::BadCertificate)
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_map();
        for (id, acc) in self.config.identities.iter().zip(self.accepted.iter()) {
            if let Some((id, _)) = id {
                list.entry(&id.usig, &acc.as_ref().map(|a| (a.announcement.epoch, a.announcement.credential.scheme())));
            }
        }
        list.finish()?;
        f.write_str(if self.hmac.is_some() { " (hmac secret held)" } else { "" })
    }
}
