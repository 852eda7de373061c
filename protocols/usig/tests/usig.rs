//! Behaviour of the USIG and its verifier, for both certificate schemes.

use rampart_usig::{
    Acceptance, AnnouncementError, Certificate, ClusterConfig, ConfigError, EpochAnnouncement, EpochCredential, HmacClusterSecret, IdentitySecret, Scheme,
    StartError, StartScheme, Ui, Usig, UsigId, UsigIdentity, Verifier, VerifyError, EPOCH_HISTORY_MAX,
};
use zeroize::ZeroizeOnDrop;

const CLUSTER_SECRET: [u8; 32] = [0x5a; 32];

fn identity(n: u32) -> IdentitySecret {
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&n.to_le_bytes());
    seed[31] = 0xee;
    IdentitySecret::from_seed(UsigId(n), seed)
}

fn entropy(tag: u8) -> [u8; 32] {
    let mut e = [tag; 32];
    e[0] = 0x99;
    e
}

fn config(n: u32) -> ClusterConfig {
    let ids: Vec<UsigIdentity> = (0..n).map(|i| identity(i).identity()).collect();
    ClusterConfig::new(&ids).unwrap()
}

fn cluster_secret() -> HmacClusterSecret {
    HmacClusterSecret::from_bytes(CLUSTER_SECRET)
}

/// A USIG `n` started in `epoch` under `scheme`, and a verifier for a 3-USIG cluster that holds
/// the cluster secret and has accepted that USIG's announcement.
fn setup(scheme: Scheme, n: u32, epoch: u64) -> (Usig, Verifier) {
    let secret = cluster_secret();
    let usig = start(scheme, n, epoch, &secret, 1);
    let mut v = Verifier::new(config(3), Some(&secret));
    v.accept_announcement(usig.announcement()).unwrap();
    (usig, v)
}

fn start(scheme: Scheme, n: u32, epoch: u64, secret: &HmacClusterSecret, tag: u8) -> Usig {
    let s = match scheme {
        Scheme::HmacSha256 => StartScheme::HmacSha256(secret),
        Scheme::Ed25519 => StartScheme::Ed25519,
    };
    Usig::start(&identity(n), epoch, s, entropy(tag)).unwrap()
}

const SCHEMES: [Scheme; 2] = [Scheme::HmacSha256, Scheme::Ed25519];

#[test]
fn counters_start_at_one_and_strictly_increase_by_one() {
    for scheme in SCHEMES {
        let (mut u, _) = setup(scheme, 0, 1);
        assert_eq!(u.last_counter(), 0);
        for expected in 1..=100u64 {
            let ui = u.create_ui(&[expected as u8; 32]).unwrap();
            assert_eq!(ui.counter, expected);
            assert_eq!(ui.epoch, 1);
            assert_eq!(ui.usig, UsigId(0));
            assert_eq!(ui.cert.scheme(), scheme);
        }
        assert_eq!(u.last_counter(), 100);
    }
}

#[test]
fn the_same_digest_twice_gets_two_distinct_counters() {
    for scheme in SCHEMES {
        let (mut u, v) = setup(scheme, 0, 1);
        let a = u.create_ui(&[1; 32]).unwrap();
        let b = u.create_ui(&[1; 32]).unwrap();
        assert!(b.counter > a.counter);
        v.verify_ui(&[1; 32], &a).unwrap();
        v.verify_ui(&[1; 32], &b).unwrap();
    }
}

#[test]
fn a_ui_verifies_for_its_digest() {
    for scheme in SCHEMES {
        let (mut u, v) = setup(scheme, 1, 7);
        for i in 0..10u8 {
            let ui = u.create_ui(&[i; 32]).unwrap();
            assert_eq!(v.verify_ui(&[i; 32], &ui), Ok(()));
        }
    }
}

#[test]
fn tampering_with_any_field_fails() {
    for scheme in SCHEMES {
        let (mut u, mut v) = setup(scheme, 0, 5);
        // Another USIG in the same cluster is announced too, so that a changed usig id is a known
        // USIG in an accepted epoch and the certificate is what fails.
        let secret = cluster_secret();
        let other = start(scheme, 1, 5, &secret, 2);
        v.accept_announcement(other.announcement()).unwrap();

        let digest = [3u8; 32];
        let ui = u.create_ui(&digest).unwrap();
        v.verify_ui(&digest, &ui).unwrap();

        let mut d = digest;
        d[17] ^= 1;
        assert_eq!(v.verify_ui(&d, &ui), Err(VerifyError::BadCertificate), "digest");

        let mut t = ui.clone();
        t.counter += 1;
        assert_eq!(v.verify_ui(&digest, &t), Err(VerifyError::BadCertificate), "counter");

        let mut t = ui.clone();
        t.counter = 0;
        assert_eq!(v.verify_ui(&digest, &t), Err(VerifyError::Malformed), "counter 0");

        let mut t = ui.clone();
        t.usig = UsigId(1);
        assert_eq!(v.verify_ui(&digest, &t), Err(VerifyError::BadCertificate), "usig");

        let mut t = ui.clone();
        t.epoch += 1;
        assert_eq!(v.verify_ui(&digest, &t), Err(VerifyError::EpochNotAccepted), "epoch");

        for byte in [0usize, 31, 32, 63] {
            let mut t = ui.clone();
            match &mut t.cert {
                Certificate::HmacSha256(tag) => {
                    if byte >= 32 {
                        continue;
                    }
                    tag[byte] ^= 0x80
                }
                Certificate::Ed25519(halves) => halves[byte / 32][byte % 32] ^= 0x80,
            }
            assert_eq!(v.verify_ui(&digest, &t), Err(VerifyError::BadCertificate), "cert");
        }

        // A certificate of the other scheme is refused, whatever its bytes.
        let mut t = ui.clone();
        t.cert = match ui.cert {
            Certificate::HmacSha256(tag) => Certificate::Ed25519([tag, tag]),
            Certificate::Ed25519([r, _]) => Certificate::HmacSha256(r),
        };
        assert_eq!(v.verify_ui(&digest, &t), Err(VerifyError::BadCertificate), "scheme");
    }
}

#[test]
fn a_ui_certified_by_another_usigs_key_fails() {
    for scheme in SCHEMES {
        let secret = cluster_secret();
        let mut a = start(scheme, 0, 1, &secret, 1);
        let mut b = start(scheme, 1, 1, &secret, 2);
        let mut v = Verifier::new(config(3), Some(&secret));
        v.accept_announcement(a.announcement()).unwrap();
        v.accept_announcement(b.announcement()).unwrap();
        let digest = [9; 32];
        // B certifies, and the UI claims to be A's (same epoch, same counter).
        let _ = a.create_ui(&digest).unwrap();
        let mut forged = b.create_ui(&digest).unwrap();
        forged.usig = UsigId(0);
        assert_eq!(v.verify_ui(&digest, &forged), Err(VerifyError::BadCertificate));
    }
}

#[test]
fn a_ui_from_an_unknown_usig_is_rejected() {
    for scheme in SCHEMES {
        let (mut u, v) = setup(scheme, 0, 1);
        let mut ui = u.create_ui(&[0; 32]).unwrap();
        ui.usig = UsigId(42);
        assert_eq!(v.verify_ui(&[0; 32], &ui), Err(VerifyError::UnknownUsig));
    }
}

#[test]
fn a_ui_from_an_unannounced_epoch_is_rejected() {
    for scheme in SCHEMES {
        let secret = cluster_secret();
        let mut u = start(scheme, 0, 3, &secret, 1);
        let v = Verifier::new(config(3), Some(&secret));
        let ui = u.create_ui(&[0; 32]).unwrap();
        assert_eq!(v.verify_ui(&[0; 32], &ui), Err(VerifyError::EpochNotAccepted));
        assert_eq!(v.accepted_epoch(UsigId(0)), None);
    }
}

#[test]
fn an_announcement_signed_by_the_wrong_identity_is_rejected() {
    for scheme in SCHEMES {
        let secret = cluster_secret();
        // USIG 1's identity announces an epoch for USIG 0's id.
        let impostor = IdentitySecret::from_seed(UsigId(0), [0xab; 32]);
        let s = match scheme {
            Scheme::HmacSha256 => StartScheme::HmacSha256(&secret),
            Scheme::Ed25519 => StartScheme::Ed25519,
        };
        let mut u = Usig::start(&impostor, 9, s, entropy(4)).unwrap();
        let mut v = Verifier::new(config(3), Some(&secret));
        assert_eq!(v.accept_announcement(u.announcement()), Err(AnnouncementError::BadSignature));
        let ui = u.create_ui(&[0; 32]).unwrap();
        assert_eq!(v.verify_ui(&[0; 32], &ui), Err(VerifyError::EpochNotAccepted));

        // Another cluster member's genuine announcement, relabelled as USIG 0's.
        let other = start(scheme, 1, 9, &secret, 5);
        let mut relabelled = other.announcement().clone();
        relabelled.usig = UsigId(0);
        assert_eq!(v.accept_announcement(&relabelled), Err(AnnouncementError::BadSignature));
    }
}

#[test]
fn a_tampered_announcement_is_rejected() {
    for scheme in SCHEMES {
        let secret = cluster_secret();
        let u = start(scheme, 0, 4, &secret, 1);
        let good = u.announcement().clone();
        let mut v = Verifier::new(config(3), Some(&secret));

        let mut t = good.clone();
        t.epoch += 1;
        assert_eq!(v.accept_announcement(&t), Err(AnnouncementError::BadSignature));

        let mut t = good.clone();
        t.credential = match t.credential {
            EpochCredential::HmacSha256 { mut nonce } => {
                nonce[0] ^= 1;
                EpochCredential::HmacSha256 { nonce }
            }
            EpochCredential::Ed25519 { public } => EpochCredential::HmacSha256 { nonce: public },
        };
        assert_eq!(v.accept_announcement(&t), Err(AnnouncementError::BadSignature));

        let mut t = good.clone();
        t.signature[1][0] ^= 1;
        assert_eq!(v.accept_announcement(&t), Err(AnnouncementError::BadSignature));

        let mut t = good.clone();
        t.usig = UsigId(77);
        assert_eq!(v.accept_announcement(&t), Err(AnnouncementError::UnknownUsig));

        assert_eq!(v.accept_announcement(&good), Ok(Acceptance::NewEpoch { previous: 0 }));
    }
}

#[test]
fn after_a_restart_the_old_epochs_uis_are_rejected() {
    for scheme in SCHEMES {
        let secret = cluster_secret();
        let mut v = Verifier::new(config(3), Some(&secret));

        let mut before = start(scheme, 2, 1, &secret, 1);
        v.accept_announcement(before.announcement()).unwrap();
        let old_ui = before.create_ui(&[1; 32]).unwrap();
        v.verify_ui(&[1; 32], &old_ui).unwrap();
        let old_announcement = before.announcement().clone();
        drop(before); // the PD dies with its keys

        // Restarted from a pristine image: new epoch, new entropy, new keys.
        let mut after = start(scheme, 2, 2, &secret, 2);
        assert_eq!(v.accept_announcement(after.announcement()), Ok(Acceptance::NewEpoch { previous: 1 }));
        assert_eq!(v.accepted_epoch(UsigId(2)), Some(2));
        assert_eq!(v.verify_ui(&[1; 32], &old_ui), Err(VerifyError::EpochNotAccepted));

        // The new epoch counts from 1 again, and its UIs verify.
        let new_ui = after.create_ui(&[1; 32]).unwrap();
        assert_eq!(new_ui.counter, 1);
        assert_eq!(v.verify_ui(&[1; 32], &new_ui), Ok(()));
        assert_ne!(new_ui.cert, old_ui.cert);

        // Replaying the old announcement cannot bring the old epoch (and its keys) back.
        assert_eq!(v.accept_announcement(&old_announcement), Err(AnnouncementError::StaleEpoch { accepted: 2 }));
        assert_eq!(v.verify_ui(&[1; 32], &old_ui), Err(VerifyError::EpochNotAccepted));
    }
}

#[test]
fn an_earlier_accepted_epochs_ui_verifies_through_verify_ui_any_epoch_only() {
    for scheme in SCHEMES {
        let secret = cluster_secret();
        let mut v = Verifier::new(config(3), Some(&secret));
        let mut before = start(scheme, 1, 5, &secret, 1);
        v.accept_announcement(before.announcement()).unwrap();
        let old_ui = before.create_ui(&[1; 32]).unwrap();
        assert_eq!(v.verify_ui_any_epoch(&[1; 32], &old_ui), Ok(()));
        drop(before);

        let mut after = start(scheme, 1, 9, &secret, 2);
        v.accept_announcement(after.announcement()).unwrap();
        let new_ui = after.create_ui(&[2; 32]).unwrap();

        // The old epoch's UI is still evidence: the any-epoch check accepts it, under the same
        // certificate check (tampering still fails); the current-epoch check does not.
        assert_eq!(v.verify_ui_any_epoch(&[1; 32], &old_ui), Ok(()));
        assert_eq!(v.verify_ui(&[1; 32], &old_ui), Err(VerifyError::EpochNotAccepted));
        assert_eq!(v.verify_ui_any_epoch(&[9; 32], &old_ui), Err(VerifyError::BadCertificate));
        let mut bumped = old_ui.clone();
        bumped.counter += 1;
        assert_eq!(v.verify_ui_any_epoch(&[1; 32], &bumped), Err(VerifyError::BadCertificate));
        let mut zero = old_ui.clone();
        zero.counter = 0;
        assert_eq!(v.verify_ui_any_epoch(&[1; 32], &zero), Err(VerifyError::Malformed));
        // A certificate made in one epoch does not pass for another epoch of the same USIG.
        let mut moved = old_ui.clone();
        moved.epoch = 9;
        assert_eq!(v.verify_ui_any_epoch(&[1; 32], &moved), Err(VerifyError::BadCertificate));

        // The current epoch verifies both ways.
        assert_eq!(v.verify_ui(&[2; 32], &new_ui), Ok(()));
        assert_eq!(v.verify_ui_any_epoch(&[2; 32], &new_ui), Ok(()));
        assert_eq!(v.remembered_epochs(UsigId(1)).collect::<Vec<_>>(), vec![9, 5]);
    }
}

#[test]
fn an_epoch_never_accepted_is_refused_by_verify_ui_any_epoch() {
    for scheme in SCHEMES {
        let secret = cluster_secret();
        let mut v = Verifier::new(config(3), Some(&secret));
        // Epochs 2 and 3 of USIG 0 are made, but this verifier only ever hears of 1 and 4.
        let mut uis = Vec::new();
        for epoch in 1..=4u64 {
            let mut u = start(scheme, 0, epoch, &secret, epoch as u8);
            if epoch == 1 || epoch == 4 {
                v.accept_announcement(u.announcement()).unwrap();
            }
            uis.push(u.create_ui(&[3; 32]).unwrap());
        }
        assert_eq!(v.verify_ui_any_epoch(&[3; 32], &uis[0]), Ok(()));
        for skipped in &uis[1..3] {
            assert_eq!(v.verify_ui_any_epoch(&[3; 32], skipped), Err(VerifyError::EpochNotAccepted));
        }
        assert_eq!(v.verify_ui_any_epoch(&[3; 32], &uis[3]), Ok(()));
        // Nor a future epoch, nor a USIG that announced nothing, nor an unknown one.
        let mut future = start(scheme, 0, 7, &secret, 7);
        assert_eq!(v.verify_ui_any_epoch(&[3; 32], &future.create_ui(&[3; 32]).unwrap()), Err(VerifyError::EpochNotAccepted));
        let mut silent = start(scheme, 2, 1, &secret, 8);
        assert_eq!(v.verify_ui_any_epoch(&[3; 32], &silent.create_ui(&[3; 32]).unwrap()), Err(VerifyError::EpochNotAccepted));
        assert_eq!(v.remembered_epochs(UsigId(2)).count(), 0);
        let mut unknown = uis[0].clone();
        unknown.usig = UsigId(3);
        assert_eq!(v.verify_ui_any_epoch(&[3; 32], &unknown), Err(VerifyError::UnknownUsig));
    }
}

#[test]
fn the_oldest_epoch_is_forgotten_once_the_history_is_full() {
    for scheme in SCHEMES {
        let secret = cluster_secret();
        let mut v = Verifier::new(config(3), Some(&secret));
        let mut uis = Vec::new();
        let lives = EPOCH_HISTORY_MAX as u64 + 2;
        for epoch in 1..=lives {
            let mut u = start(scheme, 2, epoch * 10, &secret, epoch as u8);
            v.accept_announcement(u.announcement()).unwrap();
            uis.push(u.create_ui(&[epoch as u8; 32]).unwrap());
        }
        let remembered: Vec<u64> = v.remembered_epochs(UsigId(2)).collect();
        assert_eq!(remembered.len(), EPOCH_HISTORY_MAX);
        assert_eq!(remembered[0], lives * 10);
        for (i, ui) in uis.iter().enumerate() {
            let digest = [(i + 1) as u8; 32];
            let expected = if i < uis.len() - EPOCH_HISTORY_MAX { Err(VerifyError::EpochNotAccepted) } else { Ok(()) };
            assert_eq!(v.verify_ui_any_epoch(&digest, ui), expected, "{scheme:?} epoch {}", ui.epoch);
        }
        // The forgotten epochs' announcements are still stale: forgetting does not reopen them.
        let first = start(scheme, 2, 10, &secret, 1);
        assert_eq!(v.accept_announcement(first.announcement()), Err(AnnouncementError::StaleEpoch { accepted: lives * 10 }));
    }
}

#[test]
fn the_same_announcement_twice_is_harmless_and_a_different_one_for_the_same_epoch_is_a_conflict() {
    for scheme in SCHEMES {
        let secret = cluster_secret();
        let first = start(scheme, 0, 3, &secret, 1);
        let again = start(scheme, 0, 3, &secret, 2); // a reused epoch number, fresh entropy
        let mut v = Verifier::new(config(3), Some(&secret));
        v.accept_announcement(first.announcement()).unwrap();
        assert_eq!(v.accept_announcement(first.announcement()), Ok(Acceptance::AlreadyAccepted));
        assert_eq!(v.accept_announcement(again.announcement()), Err(AnnouncementError::ConflictingAnnouncement));
        assert_eq!(v.accepted_epoch(UsigId(0)), Some(3));
    }
}

#[test]
fn epoch_zero_is_refused() {
    let secret = cluster_secret();
    assert_eq!(Usig::start(&identity(0), 0, StartScheme::Ed25519, entropy(1)).unwrap_err(), StartError::ZeroEpoch);
    assert_eq!(Usig::start(&identity(0), 0, StartScheme::HmacSha256(&secret), entropy(1)).unwrap_err(), StartError::ZeroEpoch);
}

#[test]
fn an_hmac_epoch_needs_the_cluster_secret_and_the_right_one() {
    let secret = cluster_secret();
    let mut u = start(Scheme::HmacSha256, 0, 1, &secret, 1);
    let ui = u.create_ui(&[0; 32]).unwrap();

    let mut outside = Verifier::new(config(3), None);
    assert_eq!(outside.accept_announcement(u.announcement()), Err(AnnouncementError::HmacUnavailable));

    let wrong = HmacClusterSecret::from_bytes([0x11; 32]);
    let mut v = Verifier::new(config(3), Some(&wrong));
    v.accept_announcement(u.announcement()).unwrap();
    assert_eq!(v.verify_ui(&[0; 32], &ui), Err(VerifyError::BadCertificate));
}

#[test]
fn an_ed25519_verifier_needs_no_secret() {
    let secret = cluster_secret();
    let mut u = start(Scheme::Ed25519, 0, 1, &secret, 1);
    let mut v = Verifier::new(config(3), None);
    v.accept_announcement(u.announcement()).unwrap();
    let ui = u.create_ui(&[0; 32]).unwrap();
    assert_eq!(v.verify_ui(&[0; 32], &ui), Ok(()));
    assert_eq!(v.accepted_scheme(UsigId(0)), Some(Scheme::Ed25519));
}

#[test]
fn an_announced_epoch_key_that_is_not_a_valid_point_is_refused() {
    // Sign a bogus credential with a genuine identity, through the public signed-bytes definition.
    use ed25519_dalek::{Signer, SigningKey};
    let mut seed = [0u8; 32];
    seed[31] = 0xee;
    let id = SigningKey::from_bytes(&seed); // identity(0)'s seed
    let mut v = Verifier::new(config(3), None);
    // A small-order point (the identity element): valid encoding, weak key.
    let mut weak = [0u8; 32];
    weak[0] = 1;
    let credential = EpochCredential::Ed25519 { public: weak };
    let bytes = rampart_usig::announcement_signed_bytes(UsigId(0), 1, &credential);
    let sig = id.sign(&bytes);
    let ann = EpochAnnouncement { usig: UsigId(0), epoch: 1, credential, signature: [*sig.r_bytes(), *sig.s_bytes()] };
    assert_eq!(v.accept_announcement(&ann), Err(AnnouncementError::BadEpochKey));
}

#[test]
fn cluster_configs_are_checked() {
    let a = identity(0).identity();
    assert_eq!(ClusterConfig::new(&[a, a]).unwrap_err(), ConfigError::DuplicateUsig(UsigId(0)));
    let many: Vec<UsigIdentity> = (0..17).map(|i| identity(i).identity()).collect();
    assert!(matches!(ClusterConfig::new(&many), Err(ConfigError::TooManyUsigs { count: 17, .. })));
    let mut bad = identity(1).identity();
    bad.public = [0; 32];
    bad.public[0] = 1; // the identity point: weak
    assert_eq!(ClusterConfig::new(&[a, bad]).unwrap_err(), ConfigError::BadIdentityKey(UsigId(1)));
}

#[test]
fn restarts_with_the_same_entropy_still_differ_across_epochs_for_hmac() {
    // Even if a PD wrapper fed the same entropy twice, HMAC keys differ per epoch (the key is
    // bound to (usig, epoch)), so an old epoch's tags never verify in the new one.
    let secret = cluster_secret();
    let mut e1 = start(Scheme::HmacSha256, 0, 1, &secret, 1);
    let mut e2 = start(Scheme::HmacSha256, 0, 2, &secret, 1);
    let a = e1.create_ui(&[0; 32]).unwrap();
    let b = e2.create_ui(&[0; 32]).unwrap();
    assert_ne!(a.cert, b.cert);
}

fn assert_zeroize_on_drop<T: ZeroizeOnDrop>() {}

#[test]
fn secret_holding_types_zeroize_on_drop() {
    assert_zeroize_on_drop::<IdentitySecret>();
    assert_zeroize_on_drop::<HmacClusterSecret>();
    assert_zeroize_on_drop::<Usig>();
    assert_zeroize_on_drop::<Verifier>();
}

#[test]
fn debug_output_prints_no_secret() {
    let seed = [0x42u8; 32];
    let id = IdentitySecret::from_seed(UsigId(0), seed);
    let secret = HmacClusterSecret::from_bytes([0x42; 32]);
    let u = Usig::start(&id, 1, StartScheme::HmacSha256(&secret), [0x42; 32]).unwrap();
    let v = Verifier::new(config(1), Some(&secret));
    // A run of the secret byte in any common rendering would show up as one of these.
    let needles = ["66, 66, 66", "0x42, 0x42", "4242"];
    for text in [format!("{id:?}"), format!("{secret:?}"), format!("{u:?}"), format!("{v:?}"), format!("{id:#?} {secret:#?} {u:#?} {v:#?}")] {
        for n in needles {
            assert!(!text.contains(n), "{text}");
        }
    }
}

#[test]
fn uis_and_announcements_round_trip_through_postcard() {
    for scheme in SCHEMES {
        let (mut u, _) = setup(scheme, 0, u64::MAX);
        let ui = u.create_ui(&[0; 32]).unwrap();
        let bytes = postcard::to_allocvec(&ui).unwrap();
        assert_eq!(postcard::from_bytes::<Ui>(&bytes).unwrap(), ui);
        let ann = u.announcement();
        let bytes = postcard::to_allocvec(ann).unwrap();
        assert_eq!(&postcard::from_bytes::<EpochAnnouncement>(&bytes).unwrap(), ann);
    }
}

#[test]
fn a_restarted_usig_can_recover_its_epoch_from_announcements_peers_hold() {
    for scheme in SCHEMES {
        let secret = cluster_secret();
        let mut peer = Verifier::new(config(3), Some(&secret));
        let before = start(scheme, 1, 41, &secret, 1);
        peer.accept_announcement(before.announcement()).unwrap();
        drop(before);

        // The restarted USIG lost its count; a peer shows the announcement it accepted. Its
        // signature checks against the identity's public key alone.
        let shown = peer.accepted_announcement(UsigId(1)).unwrap().clone();
        let mut check = Verifier::new(config(3), Some(&secret));
        check.accept_announcement(&shown).unwrap();
        assert_eq!(shown.epoch, 41);

        let after = start(scheme, 1, shown.epoch + 1, &secret, 2);
        assert_eq!(peer.accept_announcement(after.announcement()), Ok(Acceptance::NewEpoch { previous: 41 }));
        assert_eq!(peer.accepted_announcement(UsigId(1)), Some(after.announcement()));
        assert_eq!(peer.accepted_announcement(UsigId(9)), None);
    }
}
