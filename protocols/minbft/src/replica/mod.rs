//! The MinBFT replica core: a sans-IO, deterministic state machine.
//!
//! # Purpose
//! [`Replica::step`] takes one [`Input`] (a decoded message with its transport-level sender, a
//! timer expiry, an epoch acceptance, start) and returns [`Action`]s (sends, client replies,
//! timers, execution notices, counted rejections). It never reads a clock, never draws random
//! numbers, and keeps all state in plain `Clone + Eq + Hash + Debug` values, so a model checker
//! can drive the very code a protection domain runs.
//!
//! # Guarantees (with n = 2f+1 replicas, at most f Byzantine, correct USIGs)
//! - **Agreement**: no two correct replicas execute different batches at one sequence number.
//! - **Validity**: only requests whose client authenticator verifies are executed.
//! - **Exactly once**: a (client, request id) executes at most once per replica history, across
//!   view changes and state transfer (the reply cache is part of checkpointed state).
//! - **Liveness** once the network delivers messages in time and the primary is correct, or
//!   after view changes elect a correct primary.
//!
//! # How (see the crate README for the deviations from the paper)
//! - *Streams*: every certified message of replica `j` is processed in `j`'s USIG counter order
//!   with no gaps; out-of-order ones wait in a bounded hold-back buffer. No stream waits on
//!   another: a Commit that arrives before its Prepare is accepted keeps its vote aside until
//!   it is.
//! - *Checkpoint barrier*: a replica sends a Prepare or Commit for sequence number `q` only after
//!   its own Checkpoint for `boundary(q)` (the multiple of K just below `q`), and receivers
//!   ignore the content of messages that break this. So everything a replica says about
//!   sequence numbers above its stable checkpoint follows its Checkpoint message in its stream,
//!   and a ViewChange that starts its log at that Checkpoint cannot leave any of it out.
//! - *View change*: ReqViewChange, then ViewChange (stable certificate + log since the sender's
//!   own Checkpoint for it), then NewView with f+1 ViewChanges; every replica recomputes the
//!   batches to re-propose from the NewView alone, and the new primary must re-propose exactly
//!   those, in order.
//! - *State transfer*: a lagging or restarted replica fetches a certified snapshot, verifies its
//!   digest against an f+1 checkpoint certificate, restores, and rejoins peers' streams at their
//!   first Checkpoint messages as recorded by a third replica.
//! - *Restarts* (a new USIG epoch, counters from 1, no memory): a restarted replica cannot lead
//!   the view it crashed in, and sends no ViewChange until its stable checkpoint passes what it
//!   may have said before (its amnesia floor).
//!
//! # Inputs the wrapper owes the core
//! `Input::Start` once; `Input::EpochAccepted` for every replica's epoch after verifying its
//! signed announcement (before any message of that epoch is useful); every decoded message with
//! its transport-authenticated sender; expiries of the timers it was asked to set (a later
//! `SetTimer` of the same kind replaces an earlier one; `CancelTimer` cancels). A `UsigPort`
//! that verifies historical UIs of earlier epochs (see [`crate::usig_port`]).
//!
//! # Refusals
//! Everything else is counted in [`Rejections`] and otherwise ignored: see [`Reason`].
//!
//! # Where things live
//! This file holds the replica's types and state, its public API (construction, accessors,
//! [`Replica::step`]) and the dispatch of inputs (messages, timers) to the parts of the
//! protocol, each an `impl Replica` block in its own file:
//! - `normal`: client requests, Prepare, Commit, execution, replies (the normal case);
//! - `checkpoint`: Checkpoints, stable certificates and garbage collection;
//! - `view_change`: ReqViewChange, ViewChange, NewView and entering a view;
//! - `state_transfer`: Status gossip, retransmission, StateRequest/StateReply, restoring a
//!   snapshot and resuming peers' streams at their anchors;
//! - `restart`: start, USIG epochs and recovery with amnesia;
//! - `streams`: peers' certified messages in USIG counter order (hold-back, the checkpoint
//!   barrier) and the log of our own.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use rampart_usig::{Digest, Ui};
use serde::{Deserialize, Serialize};

use crate::app::Application;
use crate::auth::{Key, MacKey};
use crate::usig_port::UsigPort;
use crate::wire::{
    Batch, Certified, Checkpoint, CheckpointCert, ClientId, LogEntry, Message, NewView, Prepare, ReplicaId, Reply, ReqViewChange, Request, ViewChange,
    BATCH_REQUESTS_MAX, LOG_ENTRIES_MAX, REPLICAS_MAX,
};

mod checkpoint;
mod normal;
mod restart;
mod state_transfer;
mod streams;
mod view_change;

use restart::Recovery;

/// Most certified messages held back per peer, waiting for a gap to fill.
pub const HELD_PER_PEER_MAX: usize = 512;
/// Most client requests queued at a replica, waiting to be proposed or executed.
pub const PENDING_REQUESTS_MAX: usize = 4096;
/// Most certified messages resent to one peer per Status it sends.
pub const RETRANSMIT_BURST_MAX: usize = 64;
/// Views ahead of the current one for which votes (ReqViewChange, ViewChange) are kept.
pub const VIEWS_AHEAD_MAX: u64 = 8;
/// Largest configurable checkpoint period, in sequence numbers (batches).
pub const CHECKPOINT_PERIOD_MAX: u64 = 512;
/// Most checkpoint intervals a replica executes beyond its stable checkpoint before it stops
/// sending Prepares and Commits (bounds the unstable checkpoints and the log it keeps).
pub const CHECKPOINTS_AHEAD_MAX: u64 = 2;
/// Executed Prepares whose digests are kept to check late Commits cheaply.
pub const RECENT_PREPARES_MAX: usize = 64;
/// Cap on the exponential view-change timeout multiplier.
pub const VIEW_CHANGE_BACKOFF_MAX: u64 = 64;
/// Most StateReplies sent to one peer per Status period (a reply carries a snapshot and a log,
/// so a peer, faulty or not, cannot make us send them faster). Within a period a peer also gets
/// no second reply to the same request while our stable checkpoint and view are unchanged.
pub const STATE_REPLIES_PER_PERIOD_MAX: u8 = 2;

/// Configuration of one replica. Every replica of a cluster has the same except `me` and
/// `client_keys`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Config {
    /// Number of replicas, 2f+1.
    pub n: u32,
    /// Faults tolerated.
    pub f: u32,
    pub me: ReplicaId,
    /// Most requests per Prepare.
    pub batch_size_max: usize,
    /// Pipelining window: the primary proposes sequence number `q` only if `q <= executed +
    /// window_max`. At most `checkpoint_period`.
    pub window_max: u64,
    /// K: a checkpoint every K sequence numbers (batches, not requests: see the crate README).
    pub checkpoint_period: u64,
    /// Backups' patience with a known, unexecuted request before asking for a view change.
    pub request_timeout_ms: u64,
    /// Base patience with a view change before escalating to the next view (doubles each time).
    pub view_change_timeout_ms: u64,
    /// Period of Status gossip (the retransmission trigger).
    pub status_interval_ms: u64,
    /// Period of state-transfer retries.
    pub state_transfer_timeout_ms: u64,
    /// The key each known client shares with this replica.
    pub client_keys: BTreeMap<ClientId, Key>,
    /// Digest of the initial state (the genesis checkpoint): [`Replica::genesis_digest`].
    pub genesis_digest: Digest,
}

/// Why a [`Config`] is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConfigError {
    NotTwoFPlusOne,
    TooManyReplicas,
    MeOutOfRange,
    BatchSize,
    Window,
    CheckpointPeriod,
}

impl Config {
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.n != 2 * self.f + 1 {
            return Err(ConfigError::NotTwoFPlusOne);
        }
        if self.n as usize > REPLICAS_MAX {
            return Err(ConfigError::TooManyReplicas);
        }
        if self.me.0 >= self.n {
            return Err(ConfigError::MeOutOfRange);
        }
        if self.batch_size_max == 0 || self.batch_size_max > BATCH_REQUESTS_MAX {
            return Err(ConfigError::BatchSize);
        }
        if self.checkpoint_period == 0 || self.checkpoint_period > CHECKPOINT_PERIOD_MAX {
            return Err(ConfigError::CheckpointPeriod);
        }
        if self.window_max == 0 || self.window_max > self.checkpoint_period {
            return Err(ConfigError::Window);
        }
        Ok(())
    }
}

/// Who sent a message, as the transport authenticated it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Peer {
    Replica(ReplicaId),
    Client(ClientId),
}

/// The timers a replica asks its wrapper for. Setting a timer replaces one of the same kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimerKind {
    /// A known request has waited too long without progress; ask for a view change.
    Request,
    /// A view change has not completed; escalate to the next view.
    ViewChange,
    /// Periodic Status gossip.
    Status,
    /// Retry a state transfer.
    StateTransfer,
}

/// One input to [`Replica::step`].
#[allow(clippy::large_enum_variant)] // a Message is the common case; boxing it buys nothing
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Input {
    /// First input after boot. `recovering`: this replica restarted (from a pristine image, with
    /// a new USIG epoch) and must fetch state before it can help.
    Start {
        recovering: bool,
    },
    Message {
        from: Peer,
        message: Message,
    },
    Timer(TimerKind),
    /// The wrapper verified `replica`'s signed announcement of `epoch`: accept its UIs from that
    /// epoch (and no other) from now on.
    EpochAccepted {
        replica: ReplicaId,
        epoch: u64,
    },
}

/// One output of [`Replica::step`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    Send {
        to: ReplicaId,
        message: Message,
    },
    /// To every other replica.
    Broadcast {
        message: Message,
    },
    ReplyToClient {
        client: ClientId,
        reply: Reply,
    },
    SetTimer {
        kind: TimerKind,
        duration_ms: u64,
    },
    CancelTimer {
        kind: TimerKind,
    },
    /// Request `request_id` of `client` executed at sequence number `seq` (position `index` in
    /// the batch).
    Executed {
        seq: u64,
        index: usize,
        client: ClientId,
        request_id: u64,
    },
    /// The state was replaced by a verified snapshot at `seq` (state transfer).
    StateRestored {
        seq: u64,
    },
    /// Entered `view` (after a NewView).
    ViewEntered {
        view: u64,
    },
    Rejected {
        reason: Reason,
    },
}

/// Why an input (or part of one) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Reason {
    /// Sender id in the message does not match the transport-level sender.
    WrongSender,
    UnknownReplica,
    UnknownClient,
    BadClientAuth,
    /// A request id at or below the client's last executed one.
    StaleRequest,
    PendingFull,
    /// A UI from an epoch not (or no longer) accepted for that replica.
    EpochNotAccepted,
    BadUi,
    /// A certified message already processed (normal under retransmission).
    Duplicate,
    HoldBackFull,
    /// Content for another view, or during a view change.
    OutOfView,
    NotPrimary,
    /// A Prepare whose sequence number is not the next one: equivocation or skipping.
    PrepareOutOfOrder,
    BadBatch,
    /// A re-proposal that differs from what the NewView fixes.
    ReproposalMismatch,
    /// A Commit whose Prepare differs from the one accepted for that slot.
    PrepareMismatch,
    /// A Prepare or Commit before its sender's checkpoint for that range.
    BarrierViolation,
    /// A Checkpoint whose seq is not above the sender's previous one, or not a multiple of K.
    BadCheckpoint,
    /// Content from a sender proven faulty in its current epoch.
    FaultySender,
    BadCheckpointCert,
    BadViewChange,
    BadNewView,
    BadSnapshot,
    /// Certified state that contradicts this replica's own (more than f faults).
    Divergence,
    UsigUnavailable,
    /// An old or out-of-range message that carries nothing new.
    Stale,
    /// Our own log of certified messages is at [`LOG_ENTRIES_MAX`] (no checkpoint for a long
    /// time): we certify nothing but Checkpoints until garbage collection makes room.
    LogFull,
    /// A StateRequest (or a Status asking for state) from a peer that already had its
    /// StateReplies for this Status period ([`STATE_REPLIES_PER_PERIOD_MAX`]), or the same
    /// answer already: it is answered in a later period if it asks again.
    StateReplyLimit,
}

/// Number of [`Reason`]s.
pub const REASON_COUNT: usize = Reason::StateReplyLimit as usize + 1;

impl Reason {
    /// Every reason, in declaration order (index = `reason as usize`).
    pub const ALL: [Reason; REASON_COUNT] = [
        Reason::WrongSender,
        Reason::UnknownReplica,
        Reason::UnknownClient,
        Reason::BadClientAuth,
        Reason::StaleRequest,
        Reason::PendingFull,
        Reason::EpochNotAccepted,
        Reason::BadUi,
        Reason::Duplicate,
        Reason::HoldBackFull,
        Reason::OutOfView,
        Reason::NotPrimary,
        Reason::PrepareOutOfOrder,
        Reason::BadBatch,
        Reason::ReproposalMismatch,
        Reason::PrepareMismatch,
        Reason::BarrierViolation,
        Reason::BadCheckpoint,
        Reason::FaultySender,
        Reason::BadCheckpointCert,
        Reason::BadViewChange,
        Reason::BadNewView,
        Reason::BadSnapshot,
        Reason::Divergence,
        Reason::UsigUnavailable,
        Reason::Stale,
        Reason::LogFull,
        Reason::StateReplyLimit,
    ];
}

/// Counters of refusals by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rejections {
    counts: [u64; REASON_COUNT],
}

impl Rejections {
    pub fn count(&self, reason: Reason) -> u64 {
        self.counts[reason as usize]
    }
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
    fn add(&mut self, reason: Reason) {
        self.counts[reason as usize] = self.counts[reason as usize].saturating_add(1);
    }
}

/// The checkpointed state besides the application: the reply cache.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Snapshot {
    pub app: Vec<u8>,
    /// (client, last executed request id, its result), sorted by client.
    pub replies: Vec<(ClientId, u64, Vec<u8>)>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct CachedReply {
    request_id: u64,
    result: Vec<u8>,
}

/// Where this replica is in one peer's stream of certified messages.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct Stream {
    /// The accepted epoch (None: none yet; nothing from this peer is accepted).
    epoch: Option<u64>,
    /// Next counter to process.
    next: u64,
    /// counter -> (message, its verified digest).
    held: BTreeMap<u64, (Certified, Digest)>,
    /// Highest checkpoint seq this peer has sent in the epoch (the barrier).
    max_checkpoint: Option<u64>,
    /// seq -> the peer's first Checkpoint for seq as processed in its stream here (or taken,
    /// when resynchronising, from a third replica's record): the anchor of its logs. Kept for
    /// seqs at or above our stable checkpoint.
    anchors: BTreeMap<u64, Checkpoint>,
    /// The peer broke a rule only a faulty replica breaks; its content is ignored this epoch.
    faulty: bool,
    /// We asked everyone for a third-party anchor of this peer's stream (see StateReply).
    anchor_requests: u8,
}

impl Stream {
    fn reset(&mut self, epoch: u64) {
        *self = Stream { epoch: Some(epoch), next: 1, ..Stream::default() };
    }
}

/// The StateReplies sent to one peer in the current Status period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
struct ReplyBudget {
    sent: u8,
    /// What the last one answered: (our stable seq, our view, its executed seq, its view).
    last: Option<(u64, u64, u64, u64)>,
}

/// One sequence number being agreed on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Slot {
    prepare: Prepare,
    prepare_digest: Digest,
    /// Backups whose matching Commit was counted (the primary's Prepare counts separately).
    commits: BTreeSet<ReplicaId>,
    commit_sent: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Mode {
    Normal,
    ChangingTo(u64),
}

/// The replica core. `A` is the replicated application.
///
/// Equality and hashing cover the protocol state and leave out the rejection counters
/// ([`Replica::rejections`]): they are diagnostics and never steer behaviour.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Replica<A> {
    config: Config,
    /// `config.client_keys`, prepared for MAC computation.
    client_macs: BTreeMap<ClientId, MacKey>,
    app: A,
    started: bool,
    view: u64,
    mode: Mode,
    /// The NewView that started `view` (None in view 0).
    new_view: Option<NewView>,

    my_epoch: u64,
    my_last_counter: u64,
    my_max_checkpoint: Option<u64>,
    /// Everything this replica certified since its own Checkpoint for `stable.seq`.
    /// Each with, for a ViewChange or NewView, the stub that stands for it in logs (its body
    /// hashed once).
    sent_log: Vec<(Certified, Option<LogEntry>)>,

    accepted_epochs: Vec<Option<u64>>,
    streams: Vec<Stream>,

    executed_seq: u64,
    stable: CheckpointCert,
    stable_snapshot: Vec<u8>,
    /// Every matching Checkpoint for `stable.seq` we have seen: a certificate can be re-formed
    /// from those whose USIG epoch is still accepted after a replica restarts.
    stable_votes: BTreeMap<ReplicaId, Checkpoint>,
    /// Own checkpoints above `stable`: seq -> (digest, snapshot).
    own_checkpoints: BTreeMap<u64, (Digest, Vec<u8>)>,
    /// Checkpoint votes above `stable`: seq -> replica -> message.
    checkpoint_votes: BTreeMap<u64, BTreeMap<ReplicaId, Checkpoint>>,
    /// A certified checkpoint beyond our execution, which we must fetch.
    transfer_target: Option<CheckpointCert>,
    /// We must fetch state (restart or lag) even without a known target.
    fetching: bool,
    /// After a restart: what we may have said in our previous epoch is forgotten, so we send
    /// no ViewChange (which claims a complete log) until our stable checkpoint passes
    /// everything we can have said then (see [`Recovery`]).
    recovery: Option<Recovery>,
    /// A StateTransfer timer is pending: a StateRequest went out in this period, so the next
    /// one waits for its expiry (at most one StateRequest per period, whatever we receive).
    state_timer_armed: bool,
    /// A StateRequest is due at the StateTransfer timer's expiry (asked for during the period).
    state_wanted: bool,
    /// Per peer: StateReplies sent to it in this Status period.
    state_reply_budgets: Vec<ReplyBudget>,
    /// Per peer: where its last Status said it was in our stream, (epoch, next counter).
    reported_positions: Vec<Option<(u64, u64)>>,

    slots: BTreeMap<u64, Slot>,
    /// Commits whose Prepare we have not accepted (yet): seq -> replica -> (view, Prepare
    /// digest). Applied when the Prepare is accepted; seqs within the slot bound only.
    early_commits: BTreeMap<u64, BTreeMap<ReplicaId, (u64, Digest)>>,
    /// Executed seq -> (primary usig, epoch, counter, digest) of its Prepare, the last
    /// [`RECENT_PREPARES_MAX`]: checks late Commits without rehashing their batch.
    recent_prepares: BTreeMap<u64, (u32, u64, u64, Digest)>,
    /// The sequence number the primary's next Prepare in this view must carry.
    next_prepare_seq: u64,
    /// Batches the NewView of this view fixes: seq -> batch.
    reproposals: BTreeMap<u64, Batch>,
    /// We skipped part of this view's primary's stream (state transfer), so we cannot check
    /// its Prepares' order ourselves: we adopt a Prepare only once f other backups committed it.
    primary_resync: bool,
    /// The epoch in which this view's primary started the view (its NewView's, or for view 0
    /// its first accepted epoch). Prepares from any other epoch are refused: a primary that
    /// restarted has forgotten what it proposed and must not propose again in that view.
    view_leader_epoch: Option<u64>,
    /// We refused a Prepare of this view's primary: we accept no more of its Prepares in it.
    primary_suspect: bool,
    /// (primary, view) pairs for which the primary sent a Prepare before we entered the view.
    premature: BTreeSet<(ReplicaId, u64)>,
    /// While resyncing: seq -> prepare digest -> (prepare, backups that committed it).
    resync_commits: BTreeMap<u64, BTreeMap<Digest, (Prepare, BTreeSet<ReplicaId>)>>,

    /// Known, unexecuted requests: the latest one per client.
    pending: BTreeMap<ClientId, Request>,
    /// Clients whose pending request is not yet in a Prepare of this view, oldest first
    /// (entries may be stale; checked when taken).
    fresh: alloc::collections::VecDeque<ClientId>,
    /// Primary: highest request id per client already put in a Prepare of this view.
    proposed: BTreeMap<ClientId, u64>,
    replies: BTreeMap<ClientId, CachedReply>,
    request_timer_armed: bool,

    /// view -> replicas asking for it (ReqViewChange or ViewChange).
    view_change_votes: BTreeMap<u64, BTreeSet<ReplicaId>>,
    /// view -> replica -> its valid ViewChange (kept for the new primary).
    view_changes: BTreeMap<u64, BTreeMap<ReplicaId, ViewChange>>,

    rejections: Diagnostics,
}

/// The rejection counters as a field of [`Replica`]: diagnostics that never steer what the
/// replica does, so they take no part in its equality or hash. Two replicas that differ only
/// in how much junk they have refused behave alike from then on; a model checker counts them
/// as one state (before, every refused redelivery made a new state for `rampart-proofs`).
#[derive(Clone, Debug, Default)]
struct Diagnostics(Rejections);

impl PartialEq for Diagnostics {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for Diagnostics {}
impl core::hash::Hash for Diagnostics {
    fn hash<H: core::hash::Hasher>(&self, _: &mut H) {}
}

/// Collects actions during one step.
struct Out<'a>(&'a mut Vec<Action>);

impl Out<'_> {
    fn push(&mut self, a: Action) {
        self.0.push(a)
    }
}

fn boundary(seq: u64, k: u64) -> u64 {
    debug_assert!(seq > 0);
    ((seq - 1) / k) * k
}

impl<A: Application + Clone> Replica<A> {
    /// The genesis state digest of `app` (its state before any execution, with an empty reply
    /// cache): what [`Config::genesis_digest`] must hold.
    pub fn genesis_digest(app: &A) -> Digest {
        state_digest(app, &BTreeMap::new())
    }

    /// A replica in view 0 with `app` in its initial state. Panics on an invalid config (a
    /// deployment error, caught at boot).
    pub fn new(config: Config, app: A) -> Replica<A> {
        config.check().expect("invalid MinBFT config");
        let n = config.n as usize;
        let genesis = CheckpointCert { seq: 0, state_digest: config.genesis_digest, checkpoints: Vec::new() };
        let stable_snapshot = encode_snapshot(&app, &BTreeMap::new());
        Replica {
            client_macs: config.client_keys.iter().map(|(c, k)| (*c, MacKey::new(k))).collect(),
            app,
            started: false,
            view: 0,
            mode: Mode::Normal,
            new_view: None,
            my_epoch: 0,
            my_last_counter: 0,
            my_max_checkpoint: None,
            sent_log: Vec::new(),
            accepted_epochs: alloc::vec![None; n],
            streams: alloc::vec![Stream::default(); n],
            executed_seq: 0,
            stable: genesis,
            stable_snapshot,
            stable_votes: BTreeMap::new(),
            own_checkpoints: BTreeMap::new(),
            checkpoint_votes: BTreeMap::new(),
            transfer_target: None,
            fetching: false,
            recovery: None,
            state_timer_armed: false,
            state_wanted: false,
            state_reply_budgets: alloc::vec![ReplyBudget::default(); n],
            reported_positions: alloc::vec![None; n],
            slots: BTreeMap::new(),
            recent_prepares: BTreeMap::new(),
            early_commits: BTreeMap::new(),
            next_prepare_seq: 1,
            reproposals: BTreeMap::new(),
            primary_resync: false,
            view_leader_epoch: None,
            primary_suspect: false,
            premature: BTreeSet::new(),
            resync_commits: BTreeMap::new(),
            pending: BTreeMap::new(),
            fresh: alloc::collections::VecDeque::new(),
            proposed: BTreeMap::new(),
            replies: BTreeMap::new(),
            request_timer_armed: false,
            view_change_votes: BTreeMap::new(),
            view_changes: BTreeMap::new(),
            rejections: Diagnostics::default(),
            config,
        }
    }

    // ----- read-only accessors -----------------------------------------------------------------

    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn app(&self) -> &A {
        &self.app
    }
    pub fn view(&self) -> u64 {
        self.view
    }
    /// The view this replica is changing to, if any.
    pub fn changing_to(&self) -> Option<u64> {
        match self.mode {
            Mode::Normal => None,
            Mode::ChangingTo(v) => Some(v),
        }
    }
    pub fn executed_seq(&self) -> u64 {
        self.executed_seq
    }
    pub fn stable_checkpoint(&self) -> &CheckpointCert {
        &self.stable
    }
    pub fn rejections(&self) -> &Rejections {
        &self.rejections.0
    }
    pub fn is_primary(&self) -> bool {
        self.primary_of(self.view) == self.config.me
    }
    pub fn primary_of(&self, view: u64) -> ReplicaId {
        ReplicaId((view % self.config.n as u64) as u32)
    }
    /// Certified messages kept for view changes and retransmission (bounded by checkpoints).
    pub fn sent_log_len(&self) -> usize {
        self.sent_log.len()
    }
    /// Sequence numbers with agreement state kept.
    pub fn slots_len(&self) -> usize {
        self.slots.len()
    }
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
    /// The last executed request id of `client`, if any.
    pub fn last_executed(&self, client: ClientId) -> Option<u64> {
        self.replies.get(&client).map(|r| r.request_id)
    }
    /// Is this replica still recovering from a restart (see the `Recovery` docs)?
    pub fn is_recovering(&self) -> bool {
        self.recovery.is_some()
    }
    /// Is this replica waiting for state transfer?
    pub fn is_fetching_state(&self) -> bool {
        self.fetching || self.transfer_target.is_some()
    }

    // ----- the step function -------------------------------------------------------------------

    /// Processes one input; returns the actions it causes.
    pub fn step(&mut self, usig: &mut impl UsigPort, input: Input) -> Vec<Action> {
        let mut actions = Vec::new();
        self.step_into(usig, input, &mut actions);
        actions
    }

    /// As [`Replica::step`], appending to `actions` (no allocation when it has room).
    pub fn step_into(&mut self, usig: &mut impl UsigPort, input: Input, actions: &mut Vec<Action>) {
        let mut out = Out(actions);
        match input {
            Input::Start { recovering } => self.on_start(usig, recovering, &mut out),
            Input::EpochAccepted { replica, epoch } => self.on_epoch_accepted(replica, epoch),
            Input::Timer(kind) => self.on_timer(usig, kind, &mut out),
            Input::Message { from, message } => self.on_message(usig, from, message, &mut out),
        }
        self.progress(usig, &mut out);
        self.check_invariants();
    }

    fn reject(&mut self, reason: Reason, out: &mut Out) {
        self.rejections.0.add(reason);
        out.push(Action::Rejected { reason });
    }

    fn check_invariants(&self) {
        debug_assert!(self.stable.seq <= self.executed_seq);
        debug_assert!(self.checkpoint_votes.values().map(|m| m.len()).sum::<usize>() <= self.config.n as usize);
        debug_assert!(self.stable.seq % self.config.checkpoint_period == 0);
        debug_assert!(self.pending.len() <= PENDING_REQUESTS_MAX);
        debug_assert!(self.streams.iter().all(|s| s.held.len() <= HELD_PER_PEER_MAX));
        debug_assert!(self.slots.keys().all(|&q| q > self.executed_seq));
        if self.started {
            // The log anchor: our own Checkpoint for the stable checkpoint comes first.
            debug_assert!(matches!(self.sent_log.first(),
                Some((Certified::Checkpoint(c), _)) if c.seq == self.stable.seq));
        }
        debug_assert!(self.sent_log.len() <= LOG_ENTRIES_MAX, "sent log over LOG_ENTRIES_MAX");
    }

    // ----- timers --------------------------------------------------------------------------------

    fn on_timer(&mut self, usig: &mut impl UsigPort, kind: TimerKind, out: &mut Out) {
        match kind {
            TimerKind::Status => {
                out.push(Action::SetTimer { kind, duration_ms: self.config.status_interval_ms });
                out.push(Action::Broadcast { message: Message::Status(self.status()) });
                // A new period: every peer may be answered again.
                for b in &mut self.state_reply_budgets {
                    *b = ReplyBudget::default();
                }
                if let Mode::ChangingTo(to) = self.mode {
                    out.push(Action::Broadcast { message: Message::ReqViewChange(ReqViewChange { replica: self.config.me, new_view: to }) });
                }
            }
            TimerKind::Request => {
                self.request_timer_armed = false;
                // The primary too: if its own proposals do not execute (backups missing,
                // or resyncing with it), a new view is the way out.
                if self.mode == Mode::Normal && !self.pending.is_empty() {
                    self.ask_view_change(usig, self.view + 1, out);
                }
            }
            TimerKind::ViewChange => {
                if let Mode::ChangingTo(to) = self.mode {
                    self.ask_view_change(usig, to + 1, out);
                }
            }
            TimerKind::StateTransfer => {
                self.state_timer_armed = false;
                if self.is_fetching_state() || self.state_wanted {
                    self.request_state(out);
                }
            }
        }
    }

    // ----- messages ------------------------------------------------------------------------------

    fn on_message(&mut self, usig: &mut impl UsigPort, from: Peer, message: Message, out: &mut Out) {
        if !self.started {
            return;
        }
        match (from, message) {
            (Peer::Client(c), Message::Request(r)) => {
                if r.client != c {
                    return self.reject(Reason::WrongSender, out);
                }
                self.on_request(r, out)
            }
            (Peer::Client(_), _) => self.reject(Reason::WrongSender, out),
            (Peer::Replica(j), message) => {
                if j.0 >= self.config.n || j == self.config.me {
                    return self.reject(Reason::UnknownReplica, out);
                }
                match message {
                    Message::Prepare(p) => self.offer(usig, j, Certified::Prepare(p), out),
                    Message::Commit(c) => self.offer(usig, j, Certified::Commit(c), out),
                    Message::Checkpoint(c) => self.offer(usig, j, Certified::Checkpoint(c), out),
                    Message::ViewChange(v) => self.offer(usig, j, Certified::ViewChange(v), out),
                    Message::NewView(nv) => self.offer(usig, j, Certified::NewView(nv), out),
                    Message::ReqViewChange(r) => {
                        if r.replica != j {
                            return self.reject(Reason::WrongSender, out);
                        }
                        self.vote_view_change(usig, j, r.new_view, out)
                    }
                    Message::StateRequest(r) => {
                        if r.replica != j {
                            return self.reject(Reason::WrongSender, out);
                        }
                        self.on_state_request(j, r, out)
                    }
                    Message::StateReply(r) => {
                        if r.replica != j {
                            return self.reject(Reason::WrongSender, out);
                        }
                        self.on_state_reply(usig, j, r, out)
                    }
                    Message::Status(s) => {
                        if s.replica != j {
                            return self.reject(Reason::WrongSender, out);
                        }
                        self.on_status(j, s, out)
                    }
                    // A replica relaying a client's request: the authenticator decides.
                    Message::Request(r) => self.on_request(r, out),
                    Message::Reply(_) => self.reject(Reason::WrongSender, out),
                }
            }
        }
    }

    /// Runs everything that may have become possible.
    fn progress(&mut self, usig: &mut impl UsigPort, out: &mut Out) {
        if !self.started {
            return;
        }
        // Held messages whose wait (a Prepare beyond stability) may be over.
        self.drain(usig, out);
        self.end_recovery_past_floor();
        for _ in 0..4 {
            let before = (self.executed_seq, self.next_prepare_seq, self.my_last_counter);
            // Commits held by the barrier or the stability limit.
            let held: Vec<u64> = self.slots.iter().filter(|(_, s)| !s.commit_sent).map(|(&q, _)| q).collect();
            for q in held {
                self.maybe_send_commit(usig, q, out);
            }
            self.try_execute(usig, out);
            self.try_propose(usig, out);
            if before == (self.executed_seq, self.next_prepare_seq, self.my_last_counter) {
                break;
            }
        }
    }
}

fn placeholder_ui() -> Ui {
    Ui { usig: rampart_usig::UsigId(0), epoch: 0, counter: 0, cert: rampart_usig::Certificate::HmacSha256([0; 32]) }
}

fn encode_replies(replies: &BTreeMap<ClientId, CachedReply>) -> Vec<(ClientId, u64, Vec<u8>)> {
    replies.iter().map(|(c, r)| (*c, r.request_id, r.result.clone())).collect()
}

/// The checkpointed state digest: application digest and reply cache.
fn state_digest<A: Application>(app: &A, replies: &BTreeMap<ClientId, CachedReply>) -> Digest {
    let cache: Vec<(ClientId, u64, &[u8])> = replies.iter().map(|(c, r)| (*c, r.request_id, r.result.as_slice())).collect();
    crate::wire::hash_of(&(b"rampart-minbft-state", app.digest(), cache))
}

fn encode_snapshot<A: Application>(app: &A, replies: &BTreeMap<ClientId, CachedReply>) -> Vec<u8> {
    postcard::to_allocvec(&Snapshot { app: app.snapshot(), replies: encode_replies(replies) }).unwrap_or_default()
}
