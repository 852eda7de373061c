//! create_ui and verify_ui throughput for both schemes, against the raw primitives in the same run.
//!
//! Baselines (what a USIG cannot do faster than):
//! - HMAC: `hmac::Hmac<Sha256>` keyed from 32 bytes, one MAC (and one constant-time verify) over
//!   the same 68 certified bytes, key setup included (as the USIG does per UI).
//! - Ed25519: `ed25519_dalek::SigningKey::sign` / `VerifyingKey::verify_strict` over the same
//!   bytes.
//! - The protected procedure (`hmac pp CreateUi`): the whole wire path (encode the request,
//!   decode, handle, encode the reply, decode it) against calling `Usig::create_ui` directly;
//!   the IPC itself is not included (see the root `ipc` bench).
//!
//! Run: `cargo bench -p rampart-usig`. Prints ops/s and the ratio ours/raw (1.00 = no overhead).

use std::hint::black_box;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use hmac::{Hmac, Mac};
use rampart_usig::pp::{Service, UsigRequest, UsigResponse};
use rampart_usig::{certified_bytes, ClusterConfig, HmacClusterSecret, IdentitySecret, StartScheme, Usig, UsigId, Verifier};
use sha2::Sha256;

/// Wall time each measurement runs for.
const MEASURE_DURATION: Duration = Duration::from_millis(1500);
/// Operations between clock reads.
const BATCH_OPS: u64 = 256;
/// Measurements per case; the best (highest ops/s) is reported, to damp noise from other load.
const ROUNDS: usize = 3;

fn run_for(op: &mut impl FnMut(u64)) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < MEASURE_DURATION {
        for _ in 0..BATCH_OPS {
            op(n);
            n += 1;
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Measure `ours` and `raw` in alternating rounds (so load drift hits both alike), print the best
/// ops/s of each and the ratio ours/raw.
fn compare(name: &str, mut ours: impl FnMut(u64), mut raw: impl FnMut(u64)) {
    let (mut best_ours, mut best_raw) = (0.0f64, 0.0f64);
    for _ in 0..ROUNDS {
        best_ours = best_ours.max(run_for(&mut ours));
        best_raw = best_raw.max(run_for(&mut raw));
    }
    println!("{name:<18} ours {best_ours:>10.0} ops/s   raw {best_raw:>10.0} ops/s   ours/raw {:.2}", best_ours / best_raw);
}

fn digest(n: u64) -> [u8; 32] {
    let mut d = [0u8; 32];
    d[..8].copy_from_slice(&n.to_le_bytes());
    d
}

fn main() {
    let identity = IdentitySecret::from_seed(UsigId(0), [1; 32]);
    let config = ClusterConfig::new(&[identity.identity()]).unwrap();
    let secret = HmacClusterSecret::from_bytes([2; 32]);

    // --- HMAC-SHA256 ---
    let raw_key = [3u8; 32];
    let raw_mac = |bytes: &[u8]| {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&raw_key).unwrap();
        m.update(bytes);
        m.finalize().into_bytes()
    };
    let mut usig = Usig::start(&identity, 1, StartScheme::HmacSha256(&secret), [4; 32]).unwrap();
    let mut verifier = Verifier::new(config.clone(), Some(&secret));
    verifier.accept_announcement(usig.announcement()).unwrap();
    compare(
        "hmac create_ui",
        |n| {
            black_box(usig.create_ui(black_box(&digest(n))).unwrap());
        },
        |n| {
            let bytes = certified_bytes(UsigId(0), 1, n + 1, &digest(n));
            black_box(raw_mac(black_box(&bytes)));
        },
    );

    let d = digest(7);
    let ui = usig.create_ui(&d).unwrap();
    let bytes = certified_bytes(ui.usig, ui.epoch, ui.counter, &d);
    let tag = raw_mac(&bytes);
    compare(
        "hmac verify_ui",
        |_| {
            verifier.verify_ui(black_box(&d), black_box(&ui)).unwrap();
        },
        |_| {
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&raw_key).unwrap();
            m.update(black_box(&bytes));
            m.verify_slice(black_box(&tag)).unwrap();
        },
    );

    // --- The protected procedure, HMAC: encode request, decode + handle + encode reply, decode
    // reply; against calling create_ui directly.
    let mut direct = Usig::start(&identity, 3, StartScheme::HmacSha256(&secret), [7; 32]).unwrap();
    let served = Usig::start(&identity, 4, StartScheme::HmacSha256(&secret), [8; 32]).unwrap();
    let mut service = Service::new(served, Verifier::new(config.clone(), Some(&secret))).unwrap();
    compare(
        "hmac pp CreateUi",
        |n| {
            let msg = UsigRequest::CreateUi { digest: digest(n) }.encode().unwrap();
            let reply = service.handle_message(black_box(msg.label), black_box(msg.words()));
            black_box(UsigResponse::decode(reply.label, reply.words()).unwrap());
        },
        |n| {
            black_box(direct.create_ui(black_box(&digest(n))).unwrap());
        },
    );

    // --- Ed25519 ---
    let raw_signer = SigningKey::from_bytes(&[5; 32]);
    let raw_verifier = raw_signer.verifying_key();
    let mut usig = Usig::start(&identity, 2, StartScheme::Ed25519, [6; 32]).unwrap();
    let mut verifier = Verifier::new(config, None);
    verifier.accept_announcement(usig.announcement()).unwrap();
    compare(
        "ed25519 create_ui",
        |n| {
            black_box(usig.create_ui(black_box(&digest(n))).unwrap());
        },
        |n| {
            let bytes = certified_bytes(UsigId(0), 2, n + 1, &digest(n));
            black_box(raw_signer.sign(black_box(&bytes)));
        },
    );

    let ui = usig.create_ui(&d).unwrap();
    let bytes = certified_bytes(ui.usig, ui.epoch, ui.counter, &d);
    let sig = raw_signer.sign(&bytes);
    compare(
        "ed25519 verify_ui",
        |_| {
            verifier.verify_ui(black_box(&d), black_box(&ui)).unwrap();
        },
        |_| {
            raw_verifier.verify_strict(black_box(&bytes), black_box(&sig)).unwrap();
        },
    );
}
