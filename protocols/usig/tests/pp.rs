//! Behaviour of the replica <-> USIG protected procedure: its encoding and the USIG PD's handler.

use rampart_usig::pp::{
    DecodeError, PpMessage, Service, UsigRequest, UsigResponse, ANNOUNCEMENT_ENCODED_MAX_BYTES, PP_MESSAGE_MAX_BYTES, PP_MESSAGE_MAX_WORDS, PP_WIRE_VERSION,
    REQUEST_ENCODED_MAX_BYTES, RESPONSE_ENCODED_MAX_BYTES, UI_ENCODED_MAX_BYTES,
};
use rampart_usig::{
    Acceptance, AnnouncementError, Certificate, ClusterConfig, EpochAnnouncement, EpochCredential, HmacClusterSecret, IdentitySecret, StartScheme, Ui, Usig,
    UsigError, UsigId, Verifier, VerifyError,
};

fn identity(n: u32) -> IdentitySecret {
    let mut seed = [0u8; 32];
    seed[..4].copy_from_slice(&n.to_le_bytes());
    seed[31] = 0xee;
    IdentitySecret::from_seed(UsigId(n), seed)
}

fn service(hmac: bool, n: u32, epoch: u64) -> Service {
    let secret = HmacClusterSecret::from_bytes([7; 32]);
    let ids: Vec<_> = (0..3).map(|i| identity(i).identity()).collect();
    let scheme = if hmac { StartScheme::HmacSha256(&secret) } else { StartScheme::Ed25519 };
    let usig = Usig::start(&identity(n), epoch, scheme, [n as u8 + 1; 32]).unwrap();
    let verifier = Verifier::new(ClusterConfig::new(&ids).unwrap(), Some(&secret));
    Service::new(usig, verifier).unwrap()
}

fn call(s: &mut Service, req: &UsigRequest) -> UsigResponse {
    let msg = req.encode().unwrap();
    let reply = s.handle_message(msg.label, msg.words());
    UsigResponse::decode(reply.label, reply.words()).unwrap()
}

/// Largest values of each type: maximal varints, and the larger certificate.
fn biggest_ui() -> Ui {
    Ui { usig: UsigId(u32::MAX), epoch: u64::MAX, counter: u64::MAX, cert: Certificate::Ed25519([[0xff; 32]; 2]) }
}

fn biggest_announcement() -> EpochAnnouncement {
    EpochAnnouncement { usig: UsigId(u32::MAX), epoch: u64::MAX, credential: EpochCredential::Ed25519 { public: [0xff; 32] }, signature: [[0xff; 32]; 2] }
}

fn all_requests() -> Vec<UsigRequest> {
    vec![
        UsigRequest::CreateUi { digest: [0xff; 32] },
        UsigRequest::VerifyUi { digest: [0xff; 32], ui: biggest_ui() },
        UsigRequest::Announcement,
        UsigRequest::AcceptAnnouncement { announcement: biggest_announcement() },
        UsigRequest::VerifyUiAnyEpoch { digest: [0xff; 32], ui: biggest_ui() },
    ]
}

fn all_responses() -> Vec<UsigResponse> {
    vec![
        UsigResponse::Ui(biggest_ui()),
        UsigResponse::Verified,
        UsigResponse::Rejected(VerifyError::EpochNotAccepted),
        UsigResponse::Announcement(biggest_announcement()),
        UsigResponse::AnnouncementAccepted(Acceptance::NewEpoch { previous: u64::MAX }),
        UsigResponse::AnnouncementRefused(AnnouncementError::StaleEpoch { accepted: u64::MAX }),
        UsigResponse::Failed(UsigError::CounterExhausted),
        UsigResponse::MalformedRequest(DecodeError::TrailingBytes),
    ]
}

#[test]
fn the_size_limits_hold_for_the_largest_values() {
    assert_eq!(postcard::to_allocvec(&biggest_ui()).unwrap().len(), UI_ENCODED_MAX_BYTES);
    assert_eq!(postcard::to_allocvec(&biggest_announcement()).unwrap().len(), ANNOUNCEMENT_ENCODED_MAX_BYTES);
    for req in all_requests() {
        let msg = req.encode().unwrap();
        assert!(msg.label as usize <= REQUEST_ENCODED_MAX_BYTES, "{req:?}");
        assert!(msg.word_count <= PP_MESSAGE_MAX_WORDS);
    }
    for resp in all_responses() {
        let msg = resp.encode().unwrap();
        assert!(msg.label as usize <= RESPONSE_ENCODED_MAX_BYTES, "{resp:?}");
    }
}

#[test]
fn every_request_and_response_round_trips_through_words_and_bytes() {
    for req in all_requests() {
        let msg = req.encode().unwrap();
        assert_eq!(msg.word_count, (msg.label as usize).div_ceil(8));
        assert_eq!(UsigRequest::decode(msg.label, msg.words()).unwrap(), req);
        // Extra words past the label are ignored.
        assert_eq!(UsigRequest::decode(msg.label, &msg.words).unwrap(), req);
        let mut buf = [0u8; PP_MESSAGE_MAX_BYTES];
        let n = req.encode_bytes(&mut buf).unwrap();
        assert_eq!(buf[0], PP_WIRE_VERSION);
        assert_eq!(UsigRequest::decode_bytes(&buf[..n]).unwrap(), req);
    }
    for resp in all_responses() {
        let msg = resp.encode().unwrap();
        assert_eq!(UsigResponse::decode(msg.label, msg.words()).unwrap(), resp);
        let mut buf = [0u8; PP_MESSAGE_MAX_BYTES];
        let n = resp.encode_bytes(&mut buf).unwrap();
        assert_eq!(UsigResponse::decode_bytes(&buf[..n]).unwrap(), resp);
    }
}

#[test]
fn truncated_messages_do_not_decode() {
    for req in all_requests() {
        let mut buf = [0u8; PP_MESSAGE_MAX_BYTES];
        let n = req.encode_bytes(&mut buf).unwrap();
        for cut in 0..n {
            assert!(UsigRequest::decode_bytes(&buf[..cut]).is_err(), "{req:?} cut at {cut}");
        }
        let msg = req.encode().unwrap();
        for label in 0..msg.label {
            // A shorter label over the same words: either a truncated body or nonzero padding.
            assert!(UsigRequest::decode(label, msg.words()).is_err());
        }
    }
    for resp in all_responses() {
        let mut buf = [0u8; PP_MESSAGE_MAX_BYTES];
        let n = resp.encode_bytes(&mut buf).unwrap();
        for cut in 0..n {
            assert!(UsigResponse::decode_bytes(&buf[..cut]).is_err(), "{resp:?} cut at {cut}");
        }
    }
}

#[test]
fn malformed_framing_is_refused_with_its_reason() {
    let msg = UsigRequest::Announcement.encode().unwrap();
    assert_eq!(msg.label, 2);
    assert_eq!(UsigRequest::decode(0, &[]), Err(DecodeError::BadVersion));
    assert_eq!(UsigRequest::decode(9, msg.words()), Err(DecodeError::BadLength));
    assert_eq!(UsigRequest::decode(PP_MESSAGE_MAX_BYTES as u64 + 1, &[0; 65]), Err(DecodeError::BadLength));
    assert_eq!(UsigRequest::decode(u64::MAX, &msg.words), Err(DecodeError::BadLength));
    let mut words = msg.words;
    words[0] |= 0xff << 40; // a byte past the label's length
    assert_eq!(UsigRequest::decode(2, &words[..1]), Err(DecodeError::NonzeroPadding));
    let mut words = msg.words;
    words[0] = (words[0] & !0xff) | 0x02; // version 2
    assert_eq!(UsigRequest::decode(2, &words[..1]), Err(DecodeError::BadVersion));
    let mut buf = [0u8; PP_MESSAGE_MAX_BYTES];
    let n = UsigRequest::Announcement.encode_bytes(&mut buf).unwrap();
    assert_eq!(UsigRequest::decode_bytes(&buf[..n + 1]), Err(DecodeError::TrailingBytes));
    assert_eq!(UsigRequest::decode_bytes(&[PP_WIRE_VERSION, 200]), Err(DecodeError::BadBody));
}

/// A small deterministic generator (xorshift64*), so the test needs no RNG crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[test]
fn random_bytes_and_words_decode_to_an_error_or_a_value_that_re_encodes_identically() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for i in 0..50_000 {
        let len = (rng.next() % 200) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if i % 2 == 0 && !bytes.is_empty() {
            bytes[0] = PP_WIRE_VERSION; // get past the version byte half the time
            if bytes.len() > 1 {
                bytes[1] %= 8; // and usually hit a real variant tag
            }
        }
        if let Ok(req) = UsigRequest::decode_bytes(&bytes) {
            let mut buf = [0u8; PP_MESSAGE_MAX_BYTES];
            let n = req.encode_bytes(&mut buf).unwrap();
            assert_eq!(&buf[..n], &bytes[..], "canonical encoding");
        }
        if let Ok(resp) = UsigResponse::decode_bytes(&bytes) {
            let mut buf = [0u8; PP_MESSAGE_MAX_BYTES];
            let n = resp.encode_bytes(&mut buf).unwrap();
            assert_eq!(&buf[..n], &bytes[..], "canonical encoding");
        }
        let words: Vec<u64> = (0..(rng.next() % 70)).map(|_| rng.next()).collect();
        let label = if i % 3 == 0 { rng.next() } else { rng.next() % 600 };
        let _ = UsigRequest::decode(label, &words);
        let _ = UsigResponse::decode(label, &words);
    }
}

#[test]
fn the_service_answers_each_request_over_the_wire() {
    for hmac in [true, false] {
        let mut a = service(hmac, 0, 1);
        let mut b = service(hmac, 1, 4);

        // Each USIG PD learns the other's epoch through its announcement.
        let UsigResponse::Announcement(ann_b) = call(&mut b, &UsigRequest::Announcement) else { panic!("announcement expected") };
        assert_eq!(
            call(&mut a, &UsigRequest::AcceptAnnouncement { announcement: ann_b.clone() }),
            UsigResponse::AnnouncementAccepted(Acceptance::NewEpoch { previous: 0 })
        );
        assert_eq!(call(&mut a, &UsigRequest::AcceptAnnouncement { announcement: ann_b }), UsigResponse::AnnouncementAccepted(Acceptance::AlreadyAccepted));

        // B certifies; A verifies.
        let digest = [0x33; 32];
        let UsigResponse::Ui(ui) = call(&mut b, &UsigRequest::CreateUi { digest }) else { panic!("UI expected") };
        assert_eq!(ui.counter, 1);
        assert_eq!(call(&mut a, &UsigRequest::VerifyUi { digest, ui: ui.clone() }), UsigResponse::Verified);
        let mut forged = ui.clone();
        forged.counter = 2;
        assert_eq!(call(&mut a, &UsigRequest::VerifyUi { digest, ui: forged }), UsigResponse::Rejected(VerifyError::BadCertificate));
        // A USIG verifies its own UIs too.
        assert_eq!(call(&mut b, &UsigRequest::VerifyUi { digest, ui }), UsigResponse::Verified);
    }
}

#[test]
fn the_service_verifies_a_restarted_peers_earlier_epoch_only_when_asked_for_any_epoch() {
    for hmac in [true, false] {
        let mut a = service(hmac, 0, 1);
        let accept = |a: &mut Service, b: &mut Service| {
            let UsigResponse::Announcement(ann) = call(b, &UsigRequest::Announcement) else { panic!("announcement expected") };
            assert!(matches!(call(a, &UsigRequest::AcceptAnnouncement { announcement: ann }), UsigResponse::AnnouncementAccepted(Acceptance::NewEpoch { .. })));
        };
        let digest = [0x44; 32];
        let mut b = service(hmac, 1, 4);
        accept(&mut a, &mut b);
        let UsigResponse::Ui(old) = call(&mut b, &UsigRequest::CreateUi { digest }) else { panic!("UI expected") };
        // B restarts into epoch 6; A accepts it.
        let mut b = service(hmac, 1, 6);
        accept(&mut a, &mut b);
        assert_eq!(call(&mut a, &UsigRequest::VerifyUi { digest, ui: old.clone() }), UsigResponse::Rejected(VerifyError::EpochNotAccepted));
        assert_eq!(call(&mut a, &UsigRequest::VerifyUiAnyEpoch { digest, ui: old.clone() }), UsigResponse::Verified);
        assert_eq!(call(&mut a, &UsigRequest::VerifyUiAnyEpoch { digest: [0; 32], ui: old }), UsigResponse::Rejected(VerifyError::BadCertificate));
        let UsigResponse::Ui(new) = call(&mut b, &UsigRequest::CreateUi { digest }) else { panic!("UI expected") };
        assert_eq!(call(&mut a, &UsigRequest::VerifyUiAnyEpoch { digest, ui: new }), UsigResponse::Verified);
    }
}

#[test]
fn the_service_answers_garbage_with_a_typed_refusal() {
    let mut s = service(true, 0, 1);
    let reply = s.handle_message(3, &[0x00ff_ff01]);
    assert!(matches!(UsigResponse::decode(reply.label, reply.words()).unwrap(), UsigResponse::MalformedRequest(_)));
    let reply = s.handle_message(1000, &[]);
    assert_eq!(UsigResponse::decode(reply.label, reply.words()).unwrap(), UsigResponse::MalformedRequest(DecodeError::BadLength));
    let _: &PpMessage = &reply;
}

#[test]
fn non_canonical_encodings_are_refused() {
    // Variant tag 2 (`Announcement`) as an overlong varint: [0x82, 0x00] instead of [0x02].
    assert_eq!(UsigRequest::decode_bytes(&[PP_WIRE_VERSION, 0x02]), Ok(UsigRequest::Announcement));
    assert_eq!(UsigRequest::decode_bytes(&[PP_WIRE_VERSION, 0x82, 0x00]), Err(DecodeError::NonCanonical));
    // An overlong epoch inside a UI.
    let mut buf = [0u8; PP_MESSAGE_MAX_BYTES];
    let ui = Ui { usig: UsigId(1), epoch: 1, counter: 1, cert: Certificate::HmacSha256([0; 32]) };
    let n = UsigRequest::VerifyUi { digest: [0; 32], ui }.encode_bytes(&mut buf).unwrap();
    let mut bytes = buf[..n].to_vec();
    // [version, tag 1, digest 32, usig 1, epoch 1, ...]: make the epoch [0x81, 0x00].
    assert_eq!(bytes[35], 1);
    bytes[35] = 0x81;
    bytes.insert(36, 0x00);
    assert_eq!(UsigRequest::decode_bytes(&bytes), Err(DecodeError::NonCanonical));
}
