//! Test component: exercises two USIG PDs over their protected procedure channels, then times
//! them. Checks, each ending the system with 1 (after a defmt error) when it fails:
//! - each USIG's announcement is accepted by the other (a new epoch), and a second time as
//!   already accepted;
//! - UIs from one USIG carry its announced epoch and counters 1, 2, 3, ... in order;
//! - the other USIG verifies them; a different digest, a changed counter, epoch or usig, and a
//!   changed certificate are rejected; a malformed request is answered as malformed.
//!
//! Then [`ROUNDS`] `create_ui` calls and as many `verify_ui` calls through the PDs are timed
//! against the same cryptography done here in place (HMAC-SHA256 with `hmac`+`sha2`, or Ed25519
//! sign and `verify_strict` with `ed25519-dalek`, as the USIG does): rates and the ratio through-the-PD / in-place are
//! logged (the framework's share of the cost). The test that runs this system never asserts on
//! the figures.
#![no_std]
#![no_main]

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use rampart_runtime::{clock, exit_system, Channel, ChannelSet, Handler, Message, NoNotify, PpCall};
use rampart_usig::pp::{UsigRequest, UsigResponse};
use rampart_usig::{certified_bytes, Acceptance, Certificate, EpochCredential, Ui, UsigId, VerifyError};
use sha2::Sha256;

rampart_runtime::bindings!();

/// Timed calls of each kind.
const ROUNDS: u64 = 2000;

type UsigChannel = Channel<NoNotify, PpCall>;

fn call(usig: &UsigChannel, request: &UsigRequest) -> UsigResponse {
    let m = request.encode().unwrap_or_else(|_| fail("a request did not encode"));
    let out = Message::with_words(m.label, m.words()).unwrap_or_else(|_| fail("a request did not fit a message"));
    let reply = usig.pp_call(&out);
    UsigResponse::decode(reply.label(), reply.words()).unwrap_or_else(|_| fail("a response did not decode"))
}

fn fail(what: &str) -> ! {
    defmt::error!("usig_client: {=str}", what);
    exit_system(1)
}

fn create(usig: &UsigChannel, digest: [u8; 32]) -> Ui {
    match call(usig, &UsigRequest::CreateUi { digest }) {
        UsigResponse::Ui(ui) => ui,
        _ => fail("create_ui did not return a UI"),
    }
}

fn verify(usig: &UsigChannel, digest: [u8; 32], ui: &Ui) -> Result<(), VerifyError> {
    match call(usig, &UsigRequest::VerifyUi { digest, ui: ui.clone() }) {
        UsigResponse::Verified => Ok(()),
        UsigResponse::Rejected(e) => Err(e),
        _ => fail("verify_ui answered neither verified nor rejected"),
    }
}

/// Operations per second, from a count and nanoseconds.
fn per_s(count: u64, ns: u64) -> u64 {
    count.saturating_mul(1_000_000_000) / ns.max(1)
}

/// A ratio as hundredths (1.37x is 137).
fn ratio_x100(slow_ns: u64, fast_ns: u64) -> u64 {
    slow_ns.saturating_mul(100) / fast_ns.max(1)
}

struct Client;

impl Handler for Client {
    fn notified(&mut self, _channels: ChannelSet) {}
}

fn checks(u0: &UsigChannel, u1: &UsigChannel) -> rampart_usig::EpochAnnouncement {
    let UsigResponse::Announcement(a0) = call(u0, &UsigRequest::Announcement) else { fail("usig0 gave no announcement") };
    let UsigResponse::Announcement(a1) = call(u1, &UsigRequest::Announcement) else { fail("usig1 gave no announcement") };
    if a0.usig != UsigId(0) || a1.usig != UsigId(1) {
        fail("announcements name the wrong USIGs");
    }
    for (usig, a) in [(u0, &a1), (u1, &a0)] {
        match call(usig, &UsigRequest::AcceptAnnouncement { announcement: a.clone() }) {
            UsigResponse::AnnouncementAccepted(Acceptance::NewEpoch { .. }) => {}
            _ => fail("a peer's announcement was not accepted as a new epoch"),
        }
        match call(usig, &UsigRequest::AcceptAnnouncement { announcement: a.clone() }) {
            UsigResponse::AnnouncementAccepted(Acceptance::AlreadyAccepted) => {}
            _ => fail("a repeated announcement was not recognised"),
        }
    }
    let digests: [[u8; 32]; 3] = [[1; 32], [2; 32], [3; 32]];
    for (k, d) in digests.iter().enumerate() {
        let ui = create(u0, *d);
        if ui.usig != UsigId(0) || ui.epoch != a0.epoch || ui.counter != k as u64 + 1 {
            fail("a UI has the wrong usig, epoch or counter");
        }
        if verify(u1, *d, &ui).is_err() || verify(u0, *d, &ui).is_err() {
            fail("a genuine UI did not verify");
        }
        if verify(u1, [9; 32], &ui).is_ok() {
            fail("a UI verified over another digest");
        }
        let mut tampered = [ui.clone(), ui.clone(), ui.clone(), ui.clone(), ui.clone()];
        tampered[0].counter += 1;
        tampered[1].epoch += 1;
        tampered[2].usig = UsigId(1);
        match &mut tampered[3].cert {
            Certificate::HmacSha256(tag) => tag[0] ^= 1,
            Certificate::Ed25519(sig) => sig[1][0] ^= 1,
        }
        tampered[4].usig = UsigId(7);
        for t in &tampered {
            if verify(u1, *d, t).is_ok() {
                fail("a tampered UI verified");
            }
        }
    }
    let bad = u0.pp_call(&Message::with_words(0xdead, &[1, 2, 3]).unwrap_or(Message::new(0)));
    if !matches!(UsigResponse::decode(bad.label(), bad.words()), Ok(UsigResponse::MalformedRequest(_))) {
        fail("a malformed request was not answered as malformed");
    }
    defmt::info!("USIG checks passed: announcements, counters 1..3, verification, 5 kinds of tampering, malformed requests");
    a0
}

fn bench(u0: &UsigChannel, u1: &UsigChannel, a0: &rampart_usig::EpochAnnouncement) {
    let digest = [0x5a; 32];
    let t = clock::now_ns();
    let mut last = create(u0, digest);
    for _ in 1..ROUNDS {
        last = create(u0, digest);
    }
    let create_ns = clock::now_ns() - t;
    let t = clock::now_ns();
    for _ in 0..ROUNDS {
        if verify(u1, digest, &last).is_err() {
            fail("a benchmark UI did not verify");
        }
    }
    let verify_ns = clock::now_ns() - t;

    // The same cryptography, in place.
    let bytes = certified_bytes(last.usig, last.epoch, last.counter, &digest);
    let (scheme, raw_create_ns, raw_verify_ns) = match (&a0.credential, &last.cert) {
        (EpochCredential::Ed25519 { public }, Certificate::Ed25519(sig)) => {
            let key = SigningKey::from_bytes(&[7; 32]);
            let t = clock::now_ns();
            for _ in 0..ROUNDS {
                core::hint::black_box(key.sign(core::hint::black_box(&bytes)));
            }
            let sign_ns = clock::now_ns() - t;
            let vk = VerifyingKey::from_bytes(public).unwrap_or_else(|_| fail("bad epoch key"));
            let sig = ed25519_dalek::Signature::from_components(sig[0], sig[1]);
            let t = clock::now_ns();
            for _ in 0..ROUNDS {
                if vk.verify_strict(core::hint::black_box(&bytes), &sig).is_err() {
                    fail("in-place verification failed");
                }
            }
            ("Ed25519", sign_ns, clock::now_ns() - t)
        }
        _ => {
            let mac_once = || {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&[7; 32]).unwrap_or_else(|_| fail("hmac key"));
                mac.update(core::hint::black_box(&bytes));
                mac.finalize().into_bytes()
            };
            let t = clock::now_ns();
            for _ in 0..ROUNDS {
                core::hint::black_box(mac_once());
            }
            let ns = clock::now_ns() - t;
            ("HMAC-SHA256", ns, ns)
        }
    };
    defmt::info!(
        "bench {=str} create_ui: {} /s through the PD, {} /s in place, ratio {}.{=u64:02}x",
        scheme,
        per_s(ROUNDS, create_ns),
        per_s(ROUNDS, raw_create_ns),
        ratio_x100(create_ns, raw_create_ns) / 100,
        ratio_x100(create_ns, raw_create_ns) % 100
    );
    defmt::info!(
        "bench {=str} verify_ui: {} /s through the PD, {} /s in place, ratio {}.{=u64:02}x",
        scheme,
        per_s(ROUNDS, verify_ns),
        per_s(ROUNDS, raw_verify_ns),
        ratio_x100(verify_ns, raw_verify_ns) / 100,
        ratio_x100(verify_ns, raw_verify_ns) % 100
    );
}

fn init() -> Client {
    let (u0, u1) = (channels::USIG0, channels::USIG1);
    let a0 = checks(&u0, &u1);
    bench(&u0, &u1, &a0);
    exit_system(0)
}

rampart_runtime::pd_main!(init);
