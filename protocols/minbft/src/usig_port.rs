//! How the core reaches its USIG, and an in-memory USIG for tests and model checking.
//!
//! # Purpose
//! [`UsigPort`] is the one door between the replica core and a USIG. In a protection domain it
//! is a synchronous protected procedure call to the USIG PD; in the simulator and the model
//! checker it is [`MemUsig`]. The core calls `create_ui` for every certified message it sends
//! and `verify_ui` for every certified message it receives (including ones embedded in others).
//!
//! # Guarantees the core relies on (a correct USIG's)
//! - `create_ui` never returns the same (usig, epoch, counter) twice, counters start at 1 in each
//!   epoch and increase by exactly one per call.
//! - `verify_ui` succeeds only for UIs a USIG created for that digest, **including UIs of
//!   earlier epochs of that USIG** that were once accepted: checkpoint certificates are
//!   evidence that must stay checkable after a replica restarts (a wrapper over
//!   `rampart_usig::Verifier`, which refuses older epochs, keeps the announcements of past
//!   epochs to do so). Which epoch is *live* is the core's decision (`Input::EpochAccepted`):
//!   stream messages of any other epoch are refused before `verify_ui` is asked.
//!
//! The core checks *sequence* (no gaps) and *epoch acceptance* itself.
//!
//! [`MemUsig`] signs HMAC-SHA256 over `rampart_usig::certified_bytes` with per-USIG keys that
//! every `MemUsig` of a cluster knows (so any can verify any). That is a test device, not a
//! trust model: in production use `rampart_usig`'s `Usig` and `Verifier`.

use crate::auth::MacKey;
use alloc::vec::Vec;
use hmac::Mac;
use rampart_usig::{Certificate, Digest, Ui, UsigId};

/// Why a USIG call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UsigFault {
    /// The certificate does not verify (or names an unknown USIG).
    Invalid,
    /// The USIG cannot create more UIs (counter exhausted, PD unreachable).
    Unavailable,
}

/// The core's view of a USIG.
pub trait UsigPort {
    fn create_ui(&mut self, digest: &Digest) -> Result<Ui, UsigFault>;
    fn verify_ui(&mut self, digest: &Digest, ui: &Ui) -> Result<(), UsigFault>;
}

/// An in-memory, deterministic USIG (see the module docs: a test device).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MemUsig {
    id: UsigId,
    epoch: u64,
    counter: u64,
    keys: Vec<MacKey>,
}

impl MemUsig {
    /// USIG `id` in `epoch` (a restart must use a greater epoch), knowing every USIG's key.
    pub fn new(id: UsigId, epoch: u64, keys: Vec<[u8; 32]>) -> MemUsig {
        MemUsig { id, epoch, counter: 0, keys: keys.iter().map(MacKey::new).collect() }
    }
    /// Per-USIG keys derived from a seed, for tests.
    pub fn cluster_keys(n: usize, seed: u64) -> Vec<[u8; 32]> {
        (0..n)
            .map(|i| {
                let mut k = [0u8; 32];
                k[..8].copy_from_slice(&seed.to_le_bytes());
                k[8..12].copy_from_slice(&(i as u32).to_le_bytes());
                k[31] = 0x5a;
                k
            })
            .collect()
    }
    pub fn id(&self) -> UsigId {
        self.id
    }
    pub fn epoch(&self) -> u64 {
        self.epoch
    }
    pub fn last_counter(&self) -> u64 {
        self.counter
    }
    fn tag(&self, usig: UsigId, epoch: u64, counter: u64, digest: &Digest) -> Option<[u8; 32]> {
        let mut m = self.keys.get(usig.0 as usize)?.mac();
        m.update(&rampart_usig::certified_bytes(usig, epoch, counter, digest));
        Some(m.finalize().into_bytes().into())
    }
}

impl UsigPort for MemUsig {
    fn create_ui(&mut self, digest: &Digest) -> Result<Ui, UsigFault> {
        let counter = self.counter.checked_add(1).ok_or(UsigFault::Unavailable)?;
        let tag = self.tag(self.id, self.epoch, counter, digest).ok_or(UsigFault::Unavailable)?;
        self.counter = counter;
        Ok(Ui { usig: self.id, epoch: self.epoch, counter, cert: Certificate::HmacSha256(tag) })
    }
    fn verify_ui(&mut self, digest: &Digest, ui: &Ui) -> Result<(), UsigFault> {
        let Certificate::HmacSha256(got) = &ui.cert else {
            return Err(UsigFault::Invalid);
        };
        let want = self.tag(ui.usig, ui.epoch, ui.counter, digest).ok_or(UsigFault::Invalid)?;
        // Not constant-time: MemUsig is a test device.
        if &want == got {
            Ok(())
        } else {
            Err(UsigFault::Invalid)
        }
    }
}
