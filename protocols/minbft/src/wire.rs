//! The MinBFT protocol messages, their digests and their byte encoding.
//!
//! # Purpose
//! Every message a replica or a client sends is a [`Message`]. Five kinds are *certified*: each
//! carries a USIG unique identifier ([`Ui`]) over its [`Certified::digest`] (Prepare, Commit,
//! Checkpoint, ViewChange, NewView). The rest (Request, Reply, ReqViewChange, StateRequest,
//! StateReply, Status) are either authenticated with client MACs ([`crate::auth`]) or carry
//! only certified content and hints that the core treats as untrusted.
//!
//! # Guarantees
//! - [`encode`] writes `VERSION (1 byte) || postcard(Message)`; [`decode`] accepts exactly that
//!   and checks every bound of [`Message::check_bounds`] before returning, so past this module
//!   the core only sees messages within the limits below.
//! - [`decode`] of arbitrary bytes returns an error and never panics (fuzzed by
//!   `fuzz/fuzz_targets/minbft_wire.rs`).
//! - Digests are SHA-256 over a domain tag, a kind tag and the postcard encoding of the message
//!   body *without* its UI: two different bodies never share a digest, and a body of one kind can
//!   never be presented as another kind. A ViewChange or NewView inside a log is replaced by a
//!   [`LogEntry::Stub`] whose `body_hash` still lets a verifier recompute the certified digest,
//!   so stubs cannot stand in for a hidden Prepare or Commit.
//!
//! # Refusals
//! Unknown versions, trailing bytes, messages over [`MESSAGE_SIZE_MAX_BYTES`], vectors over their
//! limits, more than [`REPLICAS_MAX`] authenticator entries.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::hash::{Hash, Hasher};

use rampart_usig::{Digest, Ui};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Wire format version: the first byte of every encoded message.
pub const VERSION: u8 = 1;
/// Largest encoded message, version byte included.
pub const MESSAGE_SIZE_MAX_BYTES: usize = 16 * 1024 * 1024;
/// Largest client operation.
pub const OPERATION_SIZE_MAX_BYTES: usize = 4 * 1024;
/// Largest execution result carried in a reply.
pub const RESULT_SIZE_MAX_BYTES: usize = 4 * 1024;
/// Most requests in one Prepare batch (the configured batch size must not exceed it).
pub const BATCH_REQUESTS_MAX: usize = 256;
/// Most replicas in a cluster (and authenticator entries in a request).
pub const REPLICAS_MAX: usize = 16;
/// Most entries in a ViewChange log or a StateReply log.
pub const LOG_ENTRIES_MAX: usize = 4096;
/// Largest replica snapshot (application snapshot plus reply cache) in a StateReply.
pub const SNAPSHOT_SIZE_MAX_BYTES: usize = 8 * 1024 * 1024;
/// Most anchors in a StateReply (a few checkpoint intervals per replica).
pub const ANCHORS_MAX: usize = REPLICAS_MAX * 8;
/// Most stream positions in a Status message.
pub const STATUS_STREAMS_MAX: usize = REPLICAS_MAX;

/// A replica's index in the cluster, 0..n. Equal to the id of its USIG.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ReplicaId(pub u32);

/// A client's identity (the key configuration names it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ClientId(pub u64);

/// One MAC tag (HMAC-SHA256).
pub type Tag = [u8; 32];

/// Hashes a UI consistently with its `Eq` (the USIG crate's `Ui` does not derive `Hash`).
pub fn hash_ui<H: Hasher>(ui: &Ui, state: &mut H) {
    ui.usig.hash(state);
    ui.epoch.hash(state);
    ui.counter.hash(state);
    match &ui.cert {
        rampart_usig::Certificate::HmacSha256(t) => {
            0u8.hash(state);
            t.hash(state)
        }
        rampart_usig::Certificate::Ed25519(s) => {
            1u8.hash(state);
            s.hash(state)
        }
    }
}

/// A client request. `request_id` increases strictly per client; `authenticator[r]` is the tag
/// for replica `r` under the key that client shares with `r` ([`crate::auth`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Request {
    pub client: ClientId,
    pub request_id: u64,
    pub operation: Vec<u8>,
    pub authenticator: Vec<Tag>,
}

/// A replica's answer to a client, tagged with the key that client shares with that replica.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Reply {
    pub replica: ReplicaId,
    pub view: u64,
    pub client: ClientId,
    pub request_id: u64,
    pub result: Vec<u8>,
    pub authenticator: Tag,
}

/// A batch of requests, shared: a Prepare's batch is held by the primary's log, every
/// replica's slot, every Commit that embeds the Prepare and every outgoing copy, and cloning one
/// only bumps a count. Encoded exactly as a `Vec<Request>` (a postcard sequence). Build one
/// with `vec.into()`.
pub type Batch = Arc<[Request]>;

/// The primary's proposal: `batch` executes at sequence number `seq` in `view`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepare {
    pub view: u64,
    pub replica: ReplicaId,
    pub seq: u64,
    pub batch: Batch,
    pub ui: Ui,
}

/// A backup's acceptance of a Prepare, which it embeds whole (so a replica that missed the
/// Prepare, or reads this Commit in a view-change log, learns the batch).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    pub replica: ReplicaId,
    pub prepare: Prepare,
    pub ui: Ui,
}

/// "After executing everything up to `seq`, my state digest is `state_digest`."
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub replica: ReplicaId,
    pub seq: u64,
    pub state_digest: Digest,
    pub ui: Ui,
}

/// f+1 Checkpoints from distinct replicas agreeing on (`seq`, `state_digest`). The genesis
/// certificate (`seq` 0) is valid with no checkpoints if `state_digest` is the genesis digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CheckpointCert {
    pub seq: u64,
    pub state_digest: Digest,
    pub checkpoints: Vec<Checkpoint>,
}

/// "I suspect the primary; let us move to `new_view`." Not certified: it only starts a view
/// change, which then needs f+1 of them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReqViewChange {
    pub replica: ReplicaId,
    pub new_view: u64,
}

/// The kind of a certified message whose body a log replaces by its hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StubKind {
    ViewChange,
    NewView,
}

/// One certified message in a replica's log of what it sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogEntry {
    Prepare(Prepare),
    Commit(Commit),
    Checkpoint(Checkpoint),
    /// A ViewChange or NewView, by the hash of its body: proves the counter was used for a
    /// message of that kind without nesting logs inside logs.
    Stub {
        kind: StubKind,
        body_hash: Digest,
        ui: Ui,
    },
}

/// A replica's vote to move to `new_view`: its stable checkpoint certificate and every certified
/// message it sent since its own Checkpoint for that certificate's sequence number, with
/// contiguous UI counters up to this message's (so nothing it sent can be left out).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewChange {
    pub replica: ReplicaId,
    pub new_view: u64,
    pub checkpoint: CheckpointCert,
    pub log: Vec<LogEntry>,
    pub ui: Ui,
}

/// The new primary's proof that `new_view` starts: f+1 ViewChanges for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewView {
    pub replica: ReplicaId,
    pub new_view: u64,
    pub view_changes: Vec<ViewChange>,
    pub ui: Ui,
}

/// "I have executed up to `executed_seq` in `view`; send me what I lack."
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StateRequest {
    pub replica: ReplicaId,
    pub executed_seq: u64,
    pub view: u64,
}

/// A stable checkpoint with the snapshot it certifies.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CheckpointTransfer {
    pub cert: CheckpointCert,
    /// postcard([`crate::replica::Snapshot`]).
    pub snapshot: Vec<u8>,
}

/// State transfer: a stable checkpoint (if the requester is behind it), the NewView of the
/// replier's current view (if the requester is in an older view), and the replier's own log of
/// certified messages since its Checkpoint for that stable checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StateReply {
    pub replica: ReplicaId,
    /// The replier's executed sequence number (a restarted replica's amnesia bound, see
    /// `replica` docs).
    pub executed_seq: u64,
    pub checkpoint: Option<CheckpointTransfer>,
    pub new_view: Option<NewView>,
    pub log: Vec<LogEntry>,
    /// Other replicas' first Checkpoints (at or above the replier's stable checkpoint) as the
    /// replier processed them in their streams: where a lagging replica may resume them.
    pub anchors: Vec<Checkpoint>,
}

/// Where a replica is in one peer's stream of certified messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct StreamPosition {
    pub replica: ReplicaId,
    pub epoch: u64,
    /// The next counter it will deliver from that peer.
    pub next_counter: u64,
}

/// Periodic gossip, the only retransmission trigger: peers resend what `streams` says is
/// missing, and fetch state when `stable_seq` is ahead of them. Untrusted hints only.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Status {
    pub replica: ReplicaId,
    pub view: u64,
    /// The view this replica is trying to move to, if it is changing views.
    pub changing_to: Option<u64>,
    pub epoch: u64,
    pub last_counter: u64,
    pub streams: Vec<StreamPosition>,
    pub stable_seq: u64,
    pub executed_seq: u64,
}

/// Every message of the protocol.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Message {
    Request(Request),
    Reply(Reply),
    Prepare(Prepare),
    Commit(Commit),
    Checkpoint(Checkpoint),
    ReqViewChange(ReqViewChange),
    ViewChange(ViewChange),
    NewView(NewView),
    StateRequest(StateRequest),
    StateReply(StateReply),
    Status(Status),
}

/// The certified messages: those that enter a sender's stream of UI counters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Certified {
    Prepare(Prepare),
    Commit(Commit),
    Checkpoint(Checkpoint),
    ViewChange(ViewChange),
    NewView(NewView),
}

macro_rules! hash_with_ui {
    ($t:ty, $($f:ident),*) => {
        impl Hash for $t {
            fn hash<H: Hasher>(&self, state: &mut H) {
                $( self.$f.hash(state); )*
                hash_ui(&self.ui, state);
            }
        }
    };
}
hash_with_ui!(Prepare, view, replica, seq, batch);

impl Hash for LogEntry {
    fn hash<H: Hasher>(&self, state: &mut H) {
        core::mem::discriminant(self).hash(state);
        match self {
            LogEntry::Prepare(p) => p.hash(state),
            LogEntry::Commit(c) => c.hash(state),
            LogEntry::Checkpoint(c) => c.hash(state),
            LogEntry::Stub { kind, body_hash, ui } => {
                kind.hash(state);
                body_hash.hash(state);
                hash_ui(ui, state)
            }
        }
    }
}
hash_with_ui!(Commit, replica, prepare);
hash_with_ui!(Checkpoint, replica, seq, state_digest);
hash_with_ui!(ViewChange, replica, new_view, checkpoint, log);
hash_with_ui!(NewView, replica, new_view, view_changes);

/// Errors of [`decode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeError {
    Empty,
    TooLarge,
    UnknownVersion(u8),
    Malformed,
    TrailingBytes,
    /// A vector or byte string over its limit (which one, for the operator).
    OverLimit(&'static str),
}

/// Errors of [`encode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EncodeError {
    TooLarge,
    OverLimit(&'static str),
}

/// Encodes a message: version byte, then postcard.
pub fn encode(msg: &Message) -> Result<Vec<u8>, EncodeError> {
    msg.check_bounds().map_err(EncodeError::OverLimit)?;
    let mut out = Vec::with_capacity(256);
    out.push(VERSION);
    let out = postcard::to_extend(msg, out).map_err(|_| EncodeError::TooLarge)?;
    if out.len() > MESSAGE_SIZE_MAX_BYTES {
        return Err(EncodeError::TooLarge);
    }
    Ok(out)
}

/// Decodes and bound-checks a message. Never panics.
pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
    let (&version, body) = bytes.split_first().ok_or(DecodeError::Empty)?;
    if bytes.len() > MESSAGE_SIZE_MAX_BYTES {
        return Err(DecodeError::TooLarge);
    }
    if version != VERSION {
        return Err(DecodeError::UnknownVersion(version));
    }
    let (msg, rest): (Message, &[u8]) = postcard::take_from_bytes(body).map_err(|_| DecodeError::Malformed)?;
    if !rest.is_empty() {
        return Err(DecodeError::TrailingBytes);
    }
    msg.check_bounds().map_err(DecodeError::OverLimit)?;
    Ok(msg)
}

fn limit(ok: bool, what: &'static str) -> Result<(), &'static str> {
    if ok {
        Ok(())
    } else {
        Err(what)
    }
}

impl Request {
    fn check_bounds(&self) -> Result<(), &'static str> {
        limit(self.operation.len() <= OPERATION_SIZE_MAX_BYTES, "request operation bytes")?;
        limit(self.authenticator.len() <= REPLICAS_MAX, "request authenticator entries")
    }
}
impl Prepare {
    fn check_bounds(&self) -> Result<(), &'static str> {
        limit(self.batch.len() <= BATCH_REQUESTS_MAX, "prepare batch requests")?;
        self.batch.iter().try_for_each(Request::check_bounds)
    }
}
impl CheckpointCert {
    fn check_bounds(&self) -> Result<(), &'static str> {
        limit(self.checkpoints.len() <= REPLICAS_MAX, "checkpoint certificate entries")
    }
}
fn check_log(log: &[LogEntry]) -> Result<(), &'static str> {
    limit(log.len() <= LOG_ENTRIES_MAX, "log entries")?;
    log.iter().try_for_each(|e| match e {
        LogEntry::Prepare(p) => p.check_bounds(),
        LogEntry::Commit(c) => c.prepare.check_bounds(),
        LogEntry::Checkpoint(_) | LogEntry::Stub { .. } => Ok(()),
    })
}
impl ViewChange {
    fn check_bounds(&self) -> Result<(), &'static str> {
        self.checkpoint.check_bounds()?;
        check_log(&self.log)
    }
}
impl NewView {
    fn check_bounds(&self) -> Result<(), &'static str> {
        limit(self.view_changes.len() <= REPLICAS_MAX, "new-view view changes")?;
        self.view_changes.iter().try_for_each(ViewChange::check_bounds)
    }
}

impl Message {
    /// Checks every documented limit (sizes of vectors and byte strings).
    pub fn check_bounds(&self) -> Result<(), &'static str> {
        match self {
            Message::Request(r) => r.check_bounds(),
            Message::Reply(r) => limit(r.result.len() <= RESULT_SIZE_MAX_BYTES, "reply result"),
            Message::Prepare(p) => p.check_bounds(),
            Message::Commit(c) => c.prepare.check_bounds(),
            Message::Checkpoint(_) | Message::ReqViewChange(_) | Message::StateRequest(_) => Ok(()),
            Message::ViewChange(v) => v.check_bounds(),
            Message::NewView(n) => n.check_bounds(),
            Message::StateReply(s) => {
                if let Some(t) = &s.checkpoint {
                    t.cert.check_bounds()?;
                    limit(t.snapshot.len() <= SNAPSHOT_SIZE_MAX_BYTES, "state snapshot bytes")?;
                }
                if let Some(nv) = &s.new_view {
                    nv.check_bounds()?;
                }
                limit(s.anchors.len() <= ANCHORS_MAX, "state reply anchors")?;
                check_log(&s.log)
            }
            Message::Status(s) => limit(s.streams.len() <= STATUS_STREAMS_MAX, "status streams"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Digests

/// Domain tag of every certified digest.
const DOMAIN_DIGEST: &[u8; 16] = b"rampart-minbft-1";

const KIND_PREPARE: u8 = 1;
const KIND_COMMIT: u8 = 2;
const KIND_CHECKPOINT: u8 = 3;
const KIND_VIEW_CHANGE: u8 = 4;
const KIND_NEW_VIEW: u8 = 5;

/// A postcard flavor that feeds SHA-256 instead of a buffer: hashing without allocating.
/// Bytes are gathered in a small buffer first (postcard writes varints a byte at a time).
struct HashFlavor {
    hasher: Sha256,
    buf: [u8; 256],
    len: usize,
}

impl HashFlavor {
    fn new() -> HashFlavor {
        HashFlavor { hasher: Sha256::new(), buf: [0; 256], len: 0 }
    }
    fn flush(&mut self) {
        self.hasher.update(&self.buf[..self.len]);
        self.len = 0;
    }
}

impl postcard::ser_flavors::Flavor for HashFlavor {
    type Output = Digest;
    fn try_push(&mut self, data: u8) -> postcard::Result<()> {
        if self.len == self.buf.len() {
            self.flush();
        }
        self.buf[self.len] = data;
        self.len += 1;
        Ok(())
    }
    fn try_extend(&mut self, data: &[u8]) -> postcard::Result<()> {
        if self.len + data.len() > self.buf.len() {
            self.flush();
        }
        if data.len() >= self.buf.len() {
            self.hasher.update(data);
        } else {
            self.buf[self.len..self.len + data.len()].copy_from_slice(data);
            self.len += data.len();
        }
        Ok(())
    }
    fn finalize(mut self) -> postcard::Result<Digest> {
        self.flush();
        Ok(self.hasher.finalize().into())
    }
}

/// SHA-256 of the postcard encoding of `value`.
pub fn hash_of<T: Serialize + ?Sized>(value: &T) -> Digest {
    // Serializing into a hasher cannot fail: the flavor never errors and our types have no
    // fallible Serialize impls.
    postcard::serialize_with_flavor(value, HashFlavor::new()).unwrap_or([0; 32])
}

/// The certified digest from a kind tag and a body hash.
fn certified_digest(kind: u8, body_hash: &Digest) -> Digest {
    let mut h = Sha256::new();
    h.update(DOMAIN_DIGEST);
    h.update([kind]);
    h.update(body_hash);
    h.finalize().into()
}

impl Prepare {
    /// The digest the primary's UI certifies.
    pub fn digest(&self) -> Digest {
        certified_digest(KIND_PREPARE, &hash_of(&(self.view, self.replica, self.seq, &self.batch)))
    }
}
impl Commit {
    /// The digest a backup's UI certifies, given the embedded Prepare's digest (computed once).
    pub fn digest_with(&self, prepare_digest: &Digest) -> Digest {
        let p = &self.prepare;
        certified_digest(KIND_COMMIT, &hash_of(&(self.replica, prepare_digest, p.ui.usig, p.ui.epoch, p.ui.counter)))
    }
    pub fn digest(&self) -> Digest {
        self.digest_with(&self.prepare.digest())
    }
}
impl Checkpoint {
    pub fn digest(&self) -> Digest {
        certified_digest(KIND_CHECKPOINT, &hash_of(&(self.replica, self.seq, &self.state_digest)))
    }
}
impl ViewChange {
    pub fn body_hash(&self) -> Digest {
        hash_of(&(self.replica, self.new_view, &self.checkpoint, &self.log))
    }
    pub fn digest(&self) -> Digest {
        certified_digest(KIND_VIEW_CHANGE, &self.body_hash())
    }
}
impl NewView {
    pub fn body_hash(&self) -> Digest {
        hash_of(&(self.replica, self.new_view, &self.view_changes))
    }
    pub fn digest(&self) -> Digest {
        certified_digest(KIND_NEW_VIEW, &self.body_hash())
    }
}

impl LogEntry {
    pub fn ui(&self) -> &Ui {
        match self {
            LogEntry::Prepare(p) => &p.ui,
            LogEntry::Commit(c) => &c.ui,
            LogEntry::Checkpoint(c) => &c.ui,
            LogEntry::Stub { ui, .. } => ui,
        }
    }
    /// The digest this entry's UI must certify.
    pub fn digest(&self) -> Digest {
        match self {
            LogEntry::Prepare(p) => p.digest(),
            LogEntry::Commit(c) => c.digest(),
            LogEntry::Checkpoint(c) => c.digest(),
            LogEntry::Stub { kind: StubKind::ViewChange, body_hash, .. } => certified_digest(KIND_VIEW_CHANGE, body_hash),
            LogEntry::Stub { kind: StubKind::NewView, body_hash, .. } => certified_digest(KIND_NEW_VIEW, body_hash),
        }
    }
    /// The replica that sent (certified) this entry.
    pub fn sender(&self) -> ReplicaId {
        ReplicaId(self.ui().usig.0)
    }
}

impl Certified {
    pub fn ui(&self) -> &Ui {
        match self {
            Certified::Prepare(p) => &p.ui,
            Certified::Commit(c) => &c.ui,
            Certified::Checkpoint(c) => &c.ui,
            Certified::ViewChange(v) => &v.ui,
            Certified::NewView(n) => &n.ui,
        }
    }
    /// The replica named in the message body.
    pub fn replica(&self) -> ReplicaId {
        match self {
            Certified::Prepare(p) => p.replica,
            Certified::Commit(c) => c.replica,
            Certified::Checkpoint(c) => c.replica,
            Certified::ViewChange(v) => v.replica,
            Certified::NewView(n) => n.replica,
        }
    }
    pub fn digest(&self) -> Digest {
        match self {
            Certified::Prepare(p) => p.digest(),
            Certified::Commit(c) => c.digest(),
            Certified::Checkpoint(c) => c.digest(),
            Certified::ViewChange(v) => v.digest(),
            Certified::NewView(n) => n.digest(),
        }
    }
    /// The entry that stands for this message in a log.
    pub fn to_log_entry(&self) -> LogEntry {
        match self {
            Certified::Prepare(p) => LogEntry::Prepare(p.clone()),
            Certified::Commit(c) => LogEntry::Commit(c.clone()),
            Certified::Checkpoint(c) => LogEntry::Checkpoint(c.clone()),
            Certified::ViewChange(v) => LogEntry::Stub { kind: StubKind::ViewChange, body_hash: v.body_hash(), ui: v.ui.clone() },
            Certified::NewView(n) => LogEntry::Stub { kind: StubKind::NewView, body_hash: n.body_hash(), ui: n.ui.clone() },
        }
    }
    pub fn into_message(self) -> Message {
        match self {
            Certified::Prepare(p) => Message::Prepare(p),
            Certified::Commit(c) => Message::Commit(c),
            Certified::Checkpoint(c) => Message::Checkpoint(c),
            Certified::ViewChange(v) => Message::ViewChange(v),
            Certified::NewView(n) => Message::NewView(n),
        }
    }
}
