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

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use rampart_usig::{Digest, Ui};
use serde::{Deserialize, Serialize};

use crate::app::Application;
use crate::auth::{self, Key, MacKey};
use crate::usig_port::UsigPort;
use crate::wire::{
    Batch, Certified, Checkpoint, CheckpointCert, CheckpointTransfer, ClientId, Commit, LogEntry,
    Message, NewView, Prepare, ReplicaId, Reply, ReqViewChange, Request, StateReply, StateRequest,
    Status, StreamPosition, ViewChange, BATCH_REQUESTS_MAX, LOG_ENTRIES_MAX, REPLICAS_MAX,
};

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
    /// seq -> counter of the peer's Checkpoint for seq (its log anchor), at or above our stable.
    /// seq -> the peer's first Checkpoint for seq as processed in its stream here (or taken,
    /// when resynchronising, from a third replica's record): the anchor of its logs.
    anchors: BTreeMap<u64, Checkpoint>,
    /// The peer broke a rule only a faulty replica breaks; its content is ignored this epoch.
    faulty: bool,
    /// We asked everyone for a third-party anchor of this peer's stream (see StateReply).
    anchor_requests: u8,
}

impl Stream {
    fn reset(&mut self, epoch: u64) {
        *self = Stream {
            epoch: Some(epoch),
            next: 1,
            ..Stream::default()
        };
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
        let genesis = CheckpointCert {
            seq: 0,
            state_digest: config.genesis_digest,
            checkpoints: Vec::new(),
        };
        let stable_snapshot = encode_snapshot(&app, &BTreeMap::new());
        Replica {
            client_macs: config
                .client_keys
                .iter()
                .map(|(c, k)| (*c, MacKey::new(k)))
                .collect(),
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
    /// Is this replica waiting for state transfer?
    /// Is this replica still recovering from a restart (see the `Recovery` docs)?
    pub fn is_recovering(&self) -> bool {
        self.recovery.is_some()
    }
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
        debug_assert!(
            self.checkpoint_votes
                .values()
                .map(|m| m.len())
                .sum::<usize>()
                <= self.config.n as usize
        );
        debug_assert!(self.stable.seq % self.config.checkpoint_period == 0);
        debug_assert!(self.pending.len() <= PENDING_REQUESTS_MAX);
        debug_assert!(self
            .streams
            .iter()
            .all(|s| s.held.len() <= HELD_PER_PEER_MAX));
        debug_assert!(self.slots.keys().all(|&q| q > self.executed_seq));
        if self.started {
            // The log anchor: our own Checkpoint for the stable checkpoint comes first.
            debug_assert!(matches!(self.sent_log.first(),
                Some((Certified::Checkpoint(c), _)) if c.seq == self.stable.seq));
        }
        debug_assert!(
            self.sent_log.len() <= LOG_ENTRIES_MAX,
            "sent log over LOG_ENTRIES_MAX"
        );
    }

    fn on_start(&mut self, usig: &mut impl UsigPort, recovering: bool, out: &mut Out) {
        if self.started {
            return;
        }
        self.started = true;
        // The first certified message of every epoch: a Checkpoint of the current (genesis)
        // state, which anchors our log.
        let cp = self.stable.clone();
        let snapshot = self.stable_snapshot.clone();
        self.own_checkpoints
            .insert(cp.seq, (cp.state_digest, snapshot));
        self.send_checkpoint(usig, cp.seq, cp.state_digest, out);
        if !recovering && self.view == 0 && self.primary_of(0) == self.config.me {
            self.view_leader_epoch = Some(self.my_epoch);
        }
        out.push(Action::SetTimer {
            kind: TimerKind::Status,
            duration_ms: self.config.status_interval_ms,
        });
        if recovering {
            self.fetching = true;
            self.recovery = Some(Recovery {
                executed: BTreeMap::new(),
                floor: None,
            });
            self.want_state(out);
        }
    }

    fn on_epoch_accepted(&mut self, replica: ReplicaId, epoch: u64) {
        let i = replica.0 as usize;
        if i >= self.streams.len() || replica == self.config.me {
            return;
        }
        if self.accepted_epochs[i].is_some_and(|e| e >= epoch) {
            return;
        }
        let first = self.accepted_epochs[i].is_none();
        self.accepted_epochs[i] = Some(epoch);
        self.streams[i].reset(epoch);
        if first && self.view == 0 && self.new_view.is_none() && replica == self.primary_of(0) {
            self.view_leader_epoch = Some(epoch);
        }
    }

    // ----- timers --------------------------------------------------------------------------------

    fn on_timer(&mut self, usig: &mut impl UsigPort, kind: TimerKind, out: &mut Out) {
        match kind {
            TimerKind::Status => {
                out.push(Action::SetTimer {
                    kind,
                    duration_ms: self.config.status_interval_ms,
                });
                out.push(Action::Broadcast {
                    message: Message::Status(self.status()),
                });
                // A new period: every peer may be answered again.
                for b in &mut self.state_reply_budgets {
                    *b = ReplyBudget::default();
                }
                if let Mode::ChangingTo(to) = self.mode {
                    out.push(Action::Broadcast {
                        message: Message::ReqViewChange(ReqViewChange {
                            replica: self.config.me,
                            new_view: to,
                        }),
                    });
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

    fn status(&self) -> Status {
        let streams = self
            .streams
            .iter()
            .enumerate()
            .filter(|(i, s)| *i as u32 != self.config.me.0 && s.epoch.is_some())
            .map(|(i, s)| StreamPosition {
                replica: ReplicaId(i as u32),
                epoch: s.epoch.unwrap_or(0),
                next_counter: s.next,
            })
            .collect();
        Status {
            replica: self.config.me,
            view: self.view,
            changing_to: self.changing_to(),
            epoch: self.my_epoch,
            last_counter: self.my_last_counter,
            streams,
            stable_seq: self.stable.seq,
            executed_seq: self.executed_seq,
        }
    }

    /// Asks every peer for state now if no StateRequest went out in this StateTransfer period,
    /// else when the period ends: at most one StateRequest per period, however many messages
    /// (checkpoint certificates, NewViews, StateReplies) tell us we lag.
    fn want_state(&mut self, out: &mut Out) {
        if self.state_timer_armed {
            self.state_wanted = true;
        } else {
            self.request_state(out);
        }
    }

    /// Broadcasts a StateRequest and starts a StateTransfer period (see [`Replica::want_state`]).
    fn request_state(&mut self, out: &mut Out) {
        self.state_timer_armed = true;
        self.state_wanted = false;
        out.push(Action::Broadcast {
            message: Message::StateRequest(StateRequest {
                replica: self.config.me,
                executed_seq: self.executed_seq,
                view: self.view,
            }),
        });
        out.push(Action::SetTimer {
            kind: TimerKind::StateTransfer,
            duration_ms: self.config.state_transfer_timeout_ms,
        });
    }

    // ----- messages ------------------------------------------------------------------------------

    fn on_message(
        &mut self,
        usig: &mut impl UsigPort,
        from: Peer,
        message: Message,
        out: &mut Out,
    ) {
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

    fn client_key(&self, client: ClientId) -> Option<&MacKey> {
        self.client_macs.get(&client)
    }

    fn check_request(&self, r: &Request) -> Result<(), Reason> {
        let key = self.client_key(r.client).ok_or(Reason::UnknownClient)?;
        if !auth::verify_request(key, self.config.me, self.config.n as usize, r) {
            return Err(Reason::BadClientAuth);
        }
        Ok(())
    }

    fn on_request(&mut self, r: Request, out: &mut Out) {
        if let Err(reason) = self.check_request(&r) {
            return self.reject(reason, out);
        }
        if let Some(cached) = self.replies.get(&r.client) {
            if r.request_id < cached.request_id {
                return self.reject(Reason::StaleRequest, out);
            }
            if r.request_id == cached.request_id {
                // A retransmission of an executed request: answer from the cache.
                let result = cached.result.clone();
                self.send_reply(r.client, r.request_id, result, out);
                return;
            }
        }
        let client = r.client;
        if let Some(p) = self.pending.get_mut(&client) {
            if r.request_id <= p.request_id {
                return; // already known
            }
            *p = r;
        } else if self.pending.len() >= PENDING_REQUESTS_MAX {
            return self.reject(Reason::PendingFull, out);
        } else {
            self.pending.insert(client, r);
        }
        if self.is_primary() && self.fresh.len() < PENDING_REQUESTS_MAX {
            self.fresh.push_back(client);
        }
        self.arm_request_timer(out);
    }

    fn arm_request_timer(&mut self, out: &mut Out) {
        if !self.request_timer_armed && !self.pending.is_empty() && self.mode == Mode::Normal {
            self.request_timer_armed = true;
            out.push(Action::SetTimer {
                kind: TimerKind::Request,
                duration_ms: self.config.request_timeout_ms,
            });
        }
    }

    fn send_reply(&mut self, client: ClientId, request_id: u64, result: Vec<u8>, out: &mut Out) {
        let Some(key) = self.client_key(client) else {
            return;
        };
        let mut reply = Reply {
            replica: self.config.me,
            view: self.view,
            client,
            request_id,
            result,
            authenticator: [0; 32],
        };
        reply.authenticator = auth::reply_tag(key, &reply);
        out.push(Action::ReplyToClient { client, reply });
    }

    // ----- streams -------------------------------------------------------------------------------

    /// Verifies a certified message from peer `j` and processes it in `j`'s counter order
    /// (holding it back if earlier ones are missing).
    fn offer(&mut self, usig: &mut impl UsigPort, j: ReplicaId, msg: Certified, out: &mut Out) {
        let ui = msg.ui();
        if ui.usig.0 != j.0 || msg.replica() != j {
            return self.reject(Reason::WrongSender, out);
        }
        let s = &self.streams[j.0 as usize];
        if s.epoch != Some(ui.epoch) {
            return self.reject(Reason::EpochNotAccepted, out);
        }
        if ui.counter < s.next || s.held.contains_key(&ui.counter) {
            return self.reject(Reason::Duplicate, out);
        }
        if s.held.len() >= HELD_PER_PEER_MAX && ui.counter != s.next {
            return self.reject(Reason::HoldBackFull, out);
        }
        // A Commit brings the Prepare it embeds: offered to the primary's stream (which
        // verifies it) if we have not seen that counter yet.
        let digest = match &msg {
            Certified::Commit(c) => {
                let p = &c.prepare;
                let d = self.known_prepare_digest(p).unwrap_or_else(|| p.digest());
                let primary = p.replica;
                if primary.0 < self.config.n
                    && primary != self.config.me
                    && self.is_new(primary, &p.ui)
                {
                    self.offer(usig, primary, Certified::Prepare(p.clone()), out);
                }
                c.digest_with(&d)
            }
            m => m.digest(),
        };
        if usig.verify_ui(&digest, msg.ui()).is_err() {
            return self.reject(Reason::BadUi, out);
        }
        // Embedded ViewChanges of a NewView, and the log of a ViewChange, can fill our gaps.
        match &msg {
            Certified::NewView(nv) => {
                for vc in nv.view_changes.clone() {
                    if vc.replica != self.config.me
                        && vc.replica.0 < self.config.n
                        && self.is_new(vc.replica, &vc.ui)
                    {
                        self.offer(usig, vc.replica, Certified::ViewChange(vc), out);
                    }
                }
            }
            Certified::ViewChange(vc) => {
                let log = vc.log.clone();
                self.fill_from_log(usig, j, &log, out);
            }
            _ => {}
        }
        let counter = msg.ui().counter;
        let s = &mut self.streams[j.0 as usize];
        if counter < s.next || s.held.contains_key(&counter) {
            return; // delivered meanwhile from an embedded copy
        }
        s.held.insert(counter, (msg, digest));
        self.drain(usig, out);
    }

    /// Is this UI from `j`'s accepted epoch, neither processed nor held yet?
    fn is_new(&self, j: ReplicaId, ui: &Ui) -> bool {
        let s = &self.streams[j.0 as usize];
        s.epoch == Some(ui.epoch) && ui.counter >= s.next && !s.held.contains_key(&ui.counter)
    }

    /// The digest of a Prepare we already hold in a slot (saves rehashing a batch).
    fn known_prepare_digest(&self, p: &Prepare) -> Option<Digest> {
        if let Some(slot) = self.slots.get(&p.seq) {
            return (slot.prepare == *p).then_some(slot.prepare_digest);
        }
        // Executed recently: a late Commit for it only needs its UI checked, over the digest
        // we verified (a Commit whose body differs from what its UI certifies fails that check
        // or is, at worst, a certified Commit for the genuine Prepare; it is stale either way).
        let &(usig, epoch, counter, d) = self.recent_prepares.get(&p.seq)?;
        (p.ui.usig.0 == usig && p.ui.epoch == epoch && p.ui.counter == counter).then_some(d)
    }

    /// Offers the full entries of `j`'s log that we have not processed yet (filling gaps; a
    /// jump over what we lack is [`Replica::jump_to_anchor`]'s, on a third replica's word).
    fn fill_from_log(
        &mut self,
        usig: &mut impl UsigPort,
        j: ReplicaId,
        log: &[LogEntry],
        out: &mut Out,
    ) {
        for e in log {
            if !self.is_new(j, e.ui()) {
                continue;
            }
            let m = match e {
                LogEntry::Prepare(p) => Certified::Prepare(p.clone()),
                LogEntry::Commit(c) => Certified::Commit(c.clone()),
                LogEntry::Checkpoint(c) => Certified::Checkpoint(c.clone()),
                // A stub cannot be processed; a later retransmission of the full message will.
                LogEntry::Stub { .. } => break,
            };
            self.offer(usig, j, m, out);
        }
    }

    /// Skips part of peer `j`'s stream: continue at `anchor`, `j`'s first Checkpoint for a seq at
    /// or below our stable checkpoint, as recorded by a replica other than `j` (with at most f
    /// faulty, a faulty `j` cannot pick a later duplicate to hide what it sent in between).
    /// What we skip is about sequence numbers our state already covers (the barrier).
    fn jump_to_anchor(&mut self, usig: &mut impl UsigPort, anchor: &Checkpoint, out: &mut Out) {
        let j = anchor.replica;
        if j.0 >= self.config.n || j == self.config.me || anchor.ui.usig.0 != j.0 {
            return;
        }
        let s = &self.streams[j.0 as usize];
        if s.epoch != Some(anchor.ui.epoch)
            || s.next >= anchor.ui.counter
            || anchor.seq > self.stable.seq
            || anchor.seq % self.config.checkpoint_period != 0
        {
            return;
        }
        if s.anchors
            .get(&anchor.seq)
            .is_some_and(|c| c.ui.counter != anchor.ui.counter)
        {
            return self.reject(Reason::BadCheckpoint, out);
        }
        if usig.verify_ui(&anchor.digest(), &anchor.ui).is_err() {
            return self.reject(Reason::BadUi, out);
        }
        let target = anchor.ui.counter;
        let s = &mut self.streams[j.0 as usize];
        s.next = target;
        s.anchor_requests = 0;
        s.held = core::mem::take(&mut s.held).split_off(&target);
        // The barrier restarts at the anchor (it is the peer's checkpoint for its range).
        s.max_checkpoint = None;
        if j == self.primary_of(self.view) {
            // We no longer know which Prepare of this view the primary's stream had reached,
            // unless we will still read this view's NewView from it.
            let nv_ahead = self
                .new_view
                .as_ref()
                .is_some_and(|nv| nv.ui.epoch == anchor.ui.epoch && nv.ui.counter >= target);
            if !nv_ahead {
                self.primary_resync = true;
            }
        }
        self.offer(usig, j, Certified::Checkpoint(anchor.clone()), out);
    }

    /// Processes held messages that are next in their streams, until none is.
    fn drain(&mut self, usig: &mut impl UsigPort, out: &mut Out) {
        loop {
            let mut progressed = false;
            for j in 0..self.streams.len() {
                loop {
                    let s = &self.streams[j];
                    let Some((msg, _)) = s.held.get(&s.next) else {
                        break;
                    };
                    if !self.dependencies_met(msg) {
                        break;
                    }
                    let s = &mut self.streams[j];
                    let (msg, digest) = s.held.remove(&s.next).expect("present");
                    s.next += 1;
                    progressed = true;
                    self.process(usig, ReplicaId(j as u32), msg, digest, out);
                }
            }
            if !progressed {
                break;
            }
        }
    }

    /// A Commit waits until its Prepare has been processed from the primary's stream (or that
    /// stream has moved to another epoch, so it never will be).
    fn dependencies_met(&self, msg: &Certified) -> bool {
        let k = self.config.checkpoint_period;
        if let Certified::Prepare(p) = msg {
            // A Prepare far beyond our stable checkpoint waits (bounding the slots a faulty
            // primary can make us keep) until state transfer or stability catches up.
            return p.seq <= self.stable.seq + k * (CHECKPOINTS_AHEAD_MAX + 2);
        }
        // Nothing else waits on another stream: a Commit that arrives before its Prepare is
        // kept aside (`early_commits`) rather than blocking its sender's stream, since a
        // faulty primary can leave a gap in its own stream forever (model-checking finding 1:
        // a wait across streams let a Byzantine replica wedge a correct one).
        true
    }

    /// One certified message from `j`, in `j`'s counter order, UI verified.
    fn process(
        &mut self,
        usig: &mut impl UsigPort,
        j: ReplicaId,
        msg: Certified,
        digest: Digest,
        out: &mut Out,
    ) {
        let ji = j.0 as usize;
        let counter = msg.ui().counter;
        if self.streams[ji].faulty {
            return self.reject(Reason::FaultySender, out);
        }
        let k = self.config.checkpoint_period;
        // The barrier: a Prepare or Commit for q must follow j's Checkpoint for boundary(q).
        let seq_about = match &msg {
            Certified::Prepare(p) => Some(p.seq),
            Certified::Commit(c) => Some(c.prepare.seq),
            _ => None,
        };
        if let Some(q) = seq_about {
            if q == 0
                || self.streams[ji]
                    .max_checkpoint
                    .is_none_or(|m| m < boundary(q, k))
            {
                return self.reject(Reason::BarrierViolation, out);
            }
        }
        match msg {
            Certified::Checkpoint(c) => {
                let s = &mut self.streams[ji];
                if c.seq % k != 0 || s.max_checkpoint.is_some_and(|m| c.seq <= m) {
                    // Only a faulty replica sends checkpoints out of order (see module docs).
                    s.faulty = true;
                    return self.reject(Reason::BadCheckpoint, out);
                }
                s.max_checkpoint = Some(c.seq);
                let limit = self.stable.seq + k * (CHECKPOINTS_AHEAD_MAX + 2);
                if c.seq >= self.stable.seq && c.seq <= limit {
                    debug_assert_eq!(c.ui.counter, counter);
                    s.anchors.entry(c.seq).or_insert_with(|| c.clone());
                }
                self.on_checkpoint_vote(usig, c, out);
            }
            Certified::Prepare(p) => self.on_prepare(usig, p, Some(digest), out),
            Certified::Commit(c) => self.on_commit(usig, c, out),
            Certified::ViewChange(vc) => self.on_view_change(usig, vc, out),
            Certified::NewView(nv) => self.on_new_view(usig, nv, out),
        }
    }

    // ----- normal case ---------------------------------------------------------------------------

    fn on_prepare(
        &mut self,
        usig: &mut impl UsigPort,
        p: Prepare,
        digest: Option<Digest>,
        out: &mut Out,
    ) {
        if p.replica != self.primary_of(p.view) {
            return self.reject(Reason::NotPrimary, out);
        }
        if p.view > self.view && p.replica != self.config.me {
            // In stream order, before (or without) a NewView we accept: remember it, so that
            // we refuse that view's Prepares from this primary (see `premature`).
            self.premature.insert((p.replica, p.view));
            while self.premature.len() > self.config.n as usize * VIEWS_AHEAD_MAX as usize {
                self.premature.pop_first();
            }
        }
        if p.view != self.view || self.mode != Mode::Normal {
            return self.reject(Reason::OutOfView, out);
        }
        let mine = p.replica == self.config.me;
        if !mine {
            if self.primary_resync {
                // Adopted through Commits instead (see `primary_resync`).
                return self.reject(Reason::Stale, out);
            }
            if let Err(reason) = self.check_prepare(&p) {
                // Any refused Prepare ends our acceptance of this primary's Prepares in this
                // view: so the Prepare correct replicas accepted for a (view, seq) is always the
                // first one the primary sent for it (what the NewView computation relies on).
                self.primary_suspect = true;
                return self.reject(reason, out);
            }
        }
        self.next_prepare_seq += 1;
        let seq = p.seq;
        if seq <= self.stable.seq {
            return;
        }
        let mine = p.replica == self.config.me;
        if seq <= self.executed_seq {
            // Already executed here (a re-proposal): confirm it for replicas that lag.
            if !mine {
                let d = digest.unwrap_or_else(|| p.digest());
                self.send_commit(usig, p, &d, out);
            }
            return;
        }
        let prepare_digest = digest.unwrap_or_else(|| p.digest());
        let primary = p.replica;
        let view = p.view;
        let early: BTreeSet<ReplicaId> = self
            .early_commits
            .remove(&seq)
            .unwrap_or_default()
            .into_iter()
            .filter(|(r, (v, d))| *v == view && *d == prepare_digest && *r != primary)
            .map(|(r, _)| r)
            .collect();
        self.slots.insert(
            seq,
            Slot {
                prepare: p,
                prepare_digest,
                commits: early,
                commit_sent: mine,
            },
        );
        if !mine {
            self.maybe_send_commit(usig, seq, out);
        }
    }

    /// The checks of a backup on the current primary's Prepare, in stream order.
    fn check_prepare(&self, p: &Prepare) -> Result<(), Reason> {
        if self.primary_suspect {
            return Err(Reason::FaultySender);
        }
        if self.view_leader_epoch != Some(p.ui.epoch) {
            // Not the epoch in which the primary started this view (it restarted since).
            return Err(Reason::OutOfView);
        }
        if p.seq != self.next_prepare_seq {
            return Err(Reason::PrepareOutOfOrder);
        }
        if let Some(expected) = self.reproposals.get(&p.seq) {
            if *expected != p.batch {
                return Err(Reason::ReproposalMismatch);
            }
            return Ok(());
        }
        if p.batch.is_empty() || p.batch.len() > self.config.batch_size_max {
            return Err(Reason::BadBatch);
        }
        // A request we cannot authenticate: refused (our request timer then suspects the
        // primary).
        p.batch.iter().try_for_each(|r| self.check_request(r))
    }

    fn maybe_send_commit(&mut self, usig: &mut impl UsigPort, seq: u64, out: &mut Out) {
        let k = self.config.checkpoint_period;
        if self.my_max_checkpoint.is_none_or(|m| m < boundary(seq, k))
            || seq > self.stable.seq + k * CHECKPOINTS_AHEAD_MAX
        {
            return; // the barrier: after our own checkpoint, and not too far past stability
        }
        let Some(slot) = self.slots.get(&seq) else {
            return;
        };
        if slot.commit_sent {
            return;
        }
        let (p, d) = (slot.prepare.clone(), slot.prepare_digest);
        if self.send_commit(usig, p, &d, out) {
            let me = self.config.me;
            if let Some(slot) = self.slots.get_mut(&seq) {
                slot.commit_sent = true;
                slot.commits.insert(me);
            }
        }
    }

    fn send_commit(
        &mut self,
        usig: &mut impl UsigPort,
        p: Prepare,
        prepare_digest: &Digest,
        out: &mut Out,
    ) -> bool {
        if !self.log_has_room(false) {
            self.reject(Reason::LogFull, out);
            return false;
        }
        let mut c = Commit {
            replica: self.config.me,
            prepare: p,
            ui: placeholder_ui(),
        };
        let digest = c.digest_with(prepare_digest);
        match self.certify(usig, &digest) {
            Some(ui) => {
                c.ui = ui;
                self.emit(Certified::Commit(c), out);
                true
            }
            None => {
                self.reject(Reason::UsigUnavailable, out);
                false
            }
        }
    }

    fn on_commit(&mut self, usig: &mut impl UsigPort, c: Commit, out: &mut Out) {
        let p = &c.prepare;
        if p.view != self.view || self.mode != Mode::Normal {
            return self.reject(Reason::OutOfView, out);
        }
        if p.seq <= self.executed_seq {
            return self.reject(Reason::Stale, out);
        }
        if c.replica == p.replica {
            return self.reject(Reason::WrongSender, out);
        }
        if self.primary_resync && !self.slots.contains_key(&p.seq) {
            return self.resync_vote(usig, c, out);
        }
        let Some(slot) = self.slots.get_mut(&p.seq) else {
            // Its Prepare has not been accepted here (yet): keep the vote aside, bounded.
            let k = self.config.checkpoint_period;
            if p.seq > self.stable.seq + k * (CHECKPOINTS_AHEAD_MAX + 2) {
                return self.reject(Reason::Stale, out);
            }
            let d = self.known_prepare_digest(p).unwrap_or_else(|| p.digest());
            self.early_commits
                .entry(p.seq)
                .or_default()
                .insert(c.replica, (p.view, d));
            return;
        };
        if slot.prepare != *p {
            return self.reject(Reason::PrepareMismatch, out);
        }
        slot.commits.insert(c.replica);
    }

    /// While resyncing with this view's primary: a Prepare that f backups other than us have
    /// committed is the one correct replicas accepted in stream order (among the primary and
    /// those f, one is correct), so we adopt it.
    fn resync_vote(&mut self, usig: &mut impl UsigPort, c: Commit, out: &mut Out) {
        let k = self.config.checkpoint_period;
        let q = c.prepare.seq;
        if self.view_leader_epoch != Some(c.prepare.ui.epoch) {
            return self.reject(Reason::OutOfView, out);
        }
        if q <= self.stable.seq || q > self.stable.seq + k * (CHECKPOINTS_AHEAD_MAX + 1) {
            return self.reject(Reason::Stale, out);
        }
        if let Some(expected) = self.reproposals.get(&q) {
            if *expected != c.prepare.batch {
                return self.reject(Reason::ReproposalMismatch, out);
            }
        } else if c.prepare.batch.is_empty() || c.prepare.batch.len() > self.config.batch_size_max {
            return self.reject(Reason::BadBatch, out);
        }
        let d = c.prepare.digest();
        // The Prepare must really be the primary's: a faulty backup cannot make one up.
        let primary = self.primary_of(self.view);
        if c.prepare.replica != primary
            || c.prepare.ui.usig.0 != primary.0
            || usig.verify_ui(&d, &c.prepare.ui).is_err()
        {
            return self.reject(Reason::BadUi, out);
        }
        let entry = self
            .resync_commits
            .entry(q)
            .or_default()
            .entry(d)
            .or_insert_with(|| (c.prepare.clone(), BTreeSet::new()));
        entry.1.insert(c.replica);
        if entry.1.len() < self.config.f as usize {
            return;
        }
        let (prepare, commits) = entry.clone();
        self.resync_commits.remove(&q);
        if q <= self.executed_seq {
            return;
        }
        self.slots.insert(
            q,
            Slot {
                prepare,
                prepare_digest: d,
                commits,
                commit_sent: false,
            },
        );
        self.maybe_send_commit(usig, q, out);
    }

    /// Executes every ready slot in order, checkpointing every K.
    fn try_execute(&mut self, usig: &mut impl UsigPort, out: &mut Out) {
        if self.mode != Mode::Normal {
            return;
        }
        let quorum = self.config.f as usize + 1;
        let executed_before = self.executed_seq;
        let mut executed_now: Vec<(ClientId, u64)> = Vec::new();
        loop {
            let q = self.executed_seq + 1;
            let ready = self.slots.get(&q).is_some_and(|s| {
                s.prepare.view == self.view
                    && 1 + s
                        .commits
                        .iter()
                        .filter(|r| **r != s.prepare.replica)
                        .count()
                        >= quorum
            });
            if !ready {
                break;
            }
            let slot = self.slots.remove(&q).expect("ready");
            self.early_commits.remove(&q);
            let ui = &slot.prepare.ui;
            self.recent_prepares
                .insert(q, (ui.usig.0, ui.epoch, ui.counter, slot.prepare_digest));
            while self.recent_prepares.len() > RECENT_PREPARES_MAX {
                self.recent_prepares.pop_first();
            }
            for (index, r) in slot.prepare.batch.iter().enumerate() {
                let last = self.replies.get(&r.client).map(|c| c.request_id);
                if last.is_some_and(|l| r.request_id <= l) {
                    continue; // executed before: exactly once
                }
                let result = self.app.execute(&r.operation);
                self.replies.insert(
                    r.client,
                    CachedReply {
                        request_id: r.request_id,
                        result: result.clone(),
                    },
                );
                executed_now.push((r.client, r.request_id));
                out.push(Action::Executed {
                    seq: q,
                    index,
                    client: r.client,
                    request_id: r.request_id,
                });
                self.send_reply(r.client, r.request_id, result, out);
            }
            self.executed_seq = q;
            for (client, id) in executed_now.drain(..) {
                if self
                    .pending
                    .get(&client)
                    .is_some_and(|p| p.request_id <= id)
                {
                    self.pending.remove(&client);
                }
            }
            if q % self.config.checkpoint_period == 0 {
                let digest = state_digest(&self.app, &self.replies);
                let snapshot = encode_snapshot(&self.app, &self.replies);
                self.own_checkpoints.insert(q, (digest, snapshot));
                self.send_checkpoint(usig, q, digest, out);
                // The barrier opened: commits held for the next range can go.
                let held: Vec<u64> = self
                    .slots
                    .range(q + 1..)
                    .filter(|(_, s)| !s.commit_sent)
                    .map(|(&k, _)| k)
                    .collect();
                for s in held {
                    self.maybe_send_commit(usig, s, out);
                }
            }
        }
        // Progress restarts the backups' patience.
        if self.request_timer_armed && self.executed_seq > executed_before {
            self.request_timer_armed = false;
            if self.pending.is_empty() {
                out.push(Action::CancelTimer {
                    kind: TimerKind::Request,
                });
            }
        }
        self.arm_request_timer(out);
    }

    fn send_checkpoint(
        &mut self,
        usig: &mut impl UsigPort,
        seq: u64,
        state_digest: Digest,
        out: &mut Out,
    ) {
        debug_assert!(self.my_max_checkpoint.is_none_or(|m| m < seq));
        if !self.log_has_room(true) {
            return self.reject(Reason::LogFull, out);
        }
        let mut c = Checkpoint {
            replica: self.config.me,
            seq,
            state_digest,
            ui: placeholder_ui(),
        };
        let Some(ui) = self.certify(usig, &c.digest()) else {
            return self.reject(Reason::UsigUnavailable, out);
        };
        c.ui = ui;
        self.my_max_checkpoint = Some(seq);
        if seq == self.stable.seq {
            // Our anchor for the stable checkpoint (at start, or after state transfer).
            self.sent_log.clear();
        }
        self.emit(Certified::Checkpoint(c.clone()), out);
        self.on_checkpoint_vote(usig, c, out);
    }

    /// Primary: proposes re-proposals and pending requests within the window.
    fn try_propose(&mut self, usig: &mut impl UsigPort, out: &mut Out) {
        if !self.is_primary()
            || self.mode != Mode::Normal
            || self.transfer_target.is_some()
            || self.fetching
        {
            return;
        }
        if self.view_leader_epoch != Some(self.my_epoch) {
            return; // we restarted since this view began: only a new view lets us lead
        }
        let k = self.config.checkpoint_period;
        loop {
            let q = self.next_prepare_seq;
            if !self.log_has_room(false) {
                break;
            }
            if q > self.executed_seq + self.config.window_max
                || q > self.stable.seq + k * CHECKPOINTS_AHEAD_MAX
                || self.my_max_checkpoint.is_none_or(|m| m < boundary(q, k))
            {
                break;
            }
            let batch = if let Some(b) = self.reproposals.get(&q) {
                b.clone()
            } else {
                let mut batch = Vec::new();
                while batch.len() < self.config.batch_size_max {
                    let Some(client) = self.fresh.pop_front() else {
                        break;
                    };
                    let Some(r) = self.pending.get(&client) else {
                        continue;
                    };
                    let done = self.replies.get(&client).map_or(0, |c| c.request_id);
                    let proposed = self.proposed.get(&client).copied().unwrap_or(0);
                    if r.request_id > done && r.request_id > proposed {
                        self.proposed.insert(client, r.request_id);
                        batch.push(r.clone());
                    }
                }
                if batch.is_empty() {
                    break;
                }
                batch.into()
            };
            let mut p = Prepare {
                view: self.view,
                replica: self.config.me,
                seq: q,
                batch,
                ui: placeholder_ui(),
            };
            let digest = p.digest();
            let Some(ui) = self.certify(usig, &digest) else {
                return self.reject(Reason::UsigUnavailable, out);
            };
            p.ui = ui;
            for r in p.batch.iter() {
                let e = self.proposed.entry(r.client).or_insert(0);
                *e = (*e).max(r.request_id);
            }
            self.emit(Certified::Prepare(p.clone()), out);
            self.on_prepare(usig, p, Some(digest), out);
        }
    }

    /// Runs everything that may have become possible.
    fn progress(&mut self, usig: &mut impl UsigPort, out: &mut Out) {
        if !self.started {
            return;
        }
        // Held messages whose wait (a Prepare beyond stability) may be over.
        self.drain(usig, out);
        if self
            .recovery
            .as_ref()
            .is_some_and(|r| r.floor.is_some_and(|f| self.stable.seq >= f))
        {
            self.recovery = None;
        }
        for _ in 0..4 {
            let before = (
                self.executed_seq,
                self.next_prepare_seq,
                self.my_last_counter,
            );
            // Commits held by the barrier or the stability limit.
            let held: Vec<u64> = self
                .slots
                .iter()
                .filter(|(_, s)| !s.commit_sent)
                .map(|(&q, _)| q)
                .collect();
            for q in held {
                self.maybe_send_commit(usig, q, out);
            }
            self.try_execute(usig, out);
            self.try_propose(usig, out);
            if before
                == (
                    self.executed_seq,
                    self.next_prepare_seq,
                    self.my_last_counter,
                )
            {
                break;
            }
        }
    }

    // ----- certifying and sending ---------------------------------------------------------------

    /// Room in our log for one more certified message (Checkpoints keep a reserve, since they
    /// are what lets garbage collection free the log).
    fn log_has_room(&self, checkpoint: bool) -> bool {
        self.sent_log.len() + if checkpoint { 1 } else { 16 } < LOG_ENTRIES_MAX
    }

    fn certify(&mut self, usig: &mut impl UsigPort, digest: &Digest) -> Option<Ui> {
        // A correct wrapper gives us every counter of our USIG, so ours are contiguous; a
        // Byzantine one may burn counters elsewhere (our peers then see a gap and stop
        // following us), which is not ours to assert.
        let ui = usig.create_ui(digest).ok()?;
        self.my_epoch = ui.epoch;
        self.my_last_counter = ui.counter;
        Some(ui)
    }

    /// Our log since our anchor, as log entries.
    fn log_entries(&self) -> Vec<LogEntry> {
        self.sent_log
            .iter()
            .map(|(m, stub)| stub.clone().unwrap_or_else(|| m.to_log_entry()))
            .collect()
    }

    /// Records a certified message we created and broadcasts it.
    fn emit(&mut self, m: Certified, out: &mut Out) {
        let entry = match &m {
            Certified::ViewChange(_) | Certified::NewView(_) => Some(m.to_log_entry()),
            _ => None,
        };
        self.sent_log.push((m.clone(), entry));
        out.push(Action::Broadcast {
            message: m.into_message(),
        });
    }

    // ----- checkpoints and garbage collection ---------------------------------------------------

    fn on_checkpoint_vote(&mut self, usig: &mut impl UsigPort, c: Checkpoint, out: &mut Out) {
        if c.seq == self.stable.seq && c.state_digest == self.stable.state_digest {
            self.stable_votes.insert(c.replica, c);
            return;
        }
        if c.seq <= self.stable.seq {
            return;
        }
        // One vote per replica, its latest (a replica's checkpoints only increase): n at most.
        let seq = c.seq;
        let digest = c.state_digest;
        for m in self.checkpoint_votes.values_mut() {
            m.remove(&c.replica);
        }
        self.checkpoint_votes.retain(|_, m| !m.is_empty());
        self.checkpoint_votes
            .entry(seq)
            .or_default()
            .insert(c.replica, c);
        let matching: Vec<Checkpoint> = self.checkpoint_votes[&seq]
            .values()
            .filter(|v| v.state_digest == digest)
            .cloned()
            .collect();
        if matching.len() > self.config.f as usize {
            let cert = CheckpointCert {
                seq,
                state_digest: digest,
                checkpoints: matching,
            };
            self.adopt_stable(usig, cert, out);
        }
    }

    /// A checkpoint certificate we verified (or assembled): make it stable if we have its state,
    /// or fetch the state.
    fn adopt_stable(&mut self, _usig: &mut impl UsigPort, cert: CheckpointCert, out: &mut Out) {
        if cert.seq <= self.stable.seq {
            return;
        }
        match self.own_checkpoints.get(&cert.seq) {
            Some((d, _)) if *d == cert.state_digest => {
                let (_, snapshot) = self.own_checkpoints.remove(&cert.seq).expect("present");
                self.make_stable(cert, snapshot);
            }
            Some(_) => self.reject(Reason::Divergence, out),
            None if self.executed_seq >= cert.seq => self.reject(Reason::Divergence, out),
            None => {
                if self
                    .transfer_target
                    .as_ref()
                    .is_none_or(|t| t.seq < cert.seq)
                {
                    self.transfer_target = Some(cert);
                    self.want_state(out);
                }
            }
        }
    }

    /// `cert` is stable and `snapshot` is our state at it: garbage-collect below it.
    fn make_stable(&mut self, cert: CheckpointCert, snapshot: Vec<u8>) {
        let seq = cert.seq;
        debug_assert!(self.executed_seq >= seq);
        // Our log now starts at our own Checkpoint for seq.
        let pos = self
            .sent_log
            .iter()
            .position(|(m, _)| matches!(m, Certified::Checkpoint(c) if c.seq == seq))
            .expect("we sent a checkpoint for every seq we have a snapshot of");
        self.sent_log.drain(..pos);
        self.stable_votes = cert
            .checkpoints
            .iter()
            .map(|c| (c.replica, c.clone()))
            .collect();
        if let Some(m) = self.checkpoint_votes.get(&seq) {
            for c in m.values().filter(|c| c.state_digest == cert.state_digest) {
                self.stable_votes.insert(c.replica, c.clone());
            }
        }
        self.stable = cert;
        self.stable_snapshot = snapshot;
        self.own_checkpoints.retain(|&s, _| s > seq);
        self.checkpoint_votes.retain(|&s, _| s > seq);
        self.resync_commits.retain(|&s, _| s > seq);
        for s in &mut self.streams {
            s.anchors.retain(|&a, _| a >= seq);
        }
        if self.transfer_target.as_ref().is_some_and(|t| t.seq <= seq) {
            self.transfer_target = None;
        }
    }

    /// Our stable certificate, re-formed if possible from Checkpoints whose epochs are still
    /// accepted (a restarted replica's old-epoch UIs no longer verify).
    fn current_stable_cert(&self) -> CheckpointCert {
        if self.stable.seq == 0 {
            return self.stable.clone();
        }
        let valid: Vec<Checkpoint> = self
            .stable_votes
            .values()
            .filter(|c| {
                if c.replica == self.config.me {
                    c.ui.epoch == self.my_epoch
                } else {
                    self.accepted_epochs[c.replica.0 as usize] == Some(c.ui.epoch)
                }
            })
            .take(self.config.f as usize + 1)
            .cloned()
            .collect();
        if valid.len() > self.config.f as usize {
            CheckpointCert {
                seq: self.stable.seq,
                state_digest: self.stable.state_digest,
                checkpoints: valid,
            }
        } else {
            self.stable.clone()
        }
    }

    fn verify_cert(&self, usig: &mut impl UsigPort, cert: &CheckpointCert) -> bool {
        if cert.seq % self.config.checkpoint_period != 0 {
            return false;
        }
        if cert.seq == 0 {
            return cert.state_digest == self.config.genesis_digest;
        }
        let mut seen = BTreeSet::new();
        for c in &cert.checkpoints {
            if c.seq != cert.seq
                || c.state_digest != cert.state_digest
                || c.replica.0 >= self.config.n
                || c.ui.usig.0 != c.replica.0
            {
                return false;
            }
            if !seen.insert(c.replica) {
                return false;
            }
            // A certificate is evidence: a Checkpoint from an epoch before the one now accepted
            // (its replica restarted since) still proves what that replica said then. The
            // UsigPort must verify such historical UIs (see its docs); live stream messages,
            // by contrast, are only accepted from the current epoch.
            let accepted = if c.replica == self.config.me {
                Some(self.my_epoch)
            } else {
                self.accepted_epochs[c.replica.0 as usize]
            };
            if accepted.is_none_or(|a| c.ui.epoch > a) {
                return false;
            }
            if usig.verify_ui(&c.digest(), &c.ui).is_err() {
                return false;
            }
        }
        seen.len() > self.config.f as usize
    }

    // ----- view change ---------------------------------------------------------------------------

    /// This replica asks for `new_view` (timeout): broadcast and count its own vote.
    fn ask_view_change(&mut self, usig: &mut impl UsigPort, new_view: u64, out: &mut Out) {
        out.push(Action::Broadcast {
            message: Message::ReqViewChange(ReqViewChange {
                replica: self.config.me,
                new_view,
            }),
        });
        let me = self.config.me;
        self.vote_view_change(usig, me, new_view, out);
    }

    fn vote_view_change(
        &mut self,
        usig: &mut impl UsigPort,
        from: ReplicaId,
        new_view: u64,
        out: &mut Out,
    ) {
        if new_view <= self.view || new_view > self.view + VIEWS_AHEAD_MAX {
            return self.reject(Reason::Stale, out);
        }
        let votes = self.view_change_votes.entry(new_view).or_default();
        votes.insert(from);
        let enough = votes.len() > self.config.f as usize;
        let beyond = match self.mode {
            Mode::Normal => true,
            Mode::ChangingTo(to) => new_view > to,
        };
        if enough && beyond {
            self.start_view_change(usig, new_view, out);
        }
    }

    /// Leaves normal operation for `new_view`: send our ViewChange.
    fn start_view_change(&mut self, usig: &mut impl UsigPort, new_view: u64, out: &mut Out) {
        self.mode = Mode::ChangingTo(new_view);
        if self.request_timer_armed {
            self.request_timer_armed = false;
            out.push(Action::CancelTimer {
                kind: TimerKind::Request,
            });
        }
        let backoff = (new_view - self.view).min(VIEW_CHANGE_BACKOFF_MAX);
        let backoff = 1u64 << (backoff - 1).min(6);
        if self.recovery.is_some() || !self.log_has_room(false) {
            // While recovering: see `Recovery`. A log at its bound (view changes failing for
            // a long time without a checkpoint): we keep asking (ReqViewChange) without
            // certifying more.
            // Our log may be missing what we said before our restart: wait for the NewView.
            out.push(Action::SetTimer {
                kind: TimerKind::ViewChange,
                duration_ms: self.config.view_change_timeout_ms * backoff,
            });
            return;
        }
        let log = self.log_entries();
        let mut vc = ViewChange {
            replica: self.config.me,
            new_view,
            checkpoint: self.current_stable_cert(),
            log,
            ui: placeholder_ui(),
        };
        let Some(ui) = self.certify(usig, &vc.digest()) else {
            return self.reject(Reason::UsigUnavailable, out);
        };
        vc.ui = ui;
        self.emit(Certified::ViewChange(vc.clone()), out);
        out.push(Action::SetTimer {
            kind: TimerKind::ViewChange,
            duration_ms: self.config.view_change_timeout_ms * backoff,
        });
        self.record_view_change(usig, vc, out);
    }

    fn on_view_change(&mut self, usig: &mut impl UsigPort, vc: ViewChange, out: &mut Out) {
        if vc.new_view <= self.view || vc.new_view > self.view + VIEWS_AHEAD_MAX {
            return self.reject(Reason::Stale, out);
        }
        if let Err(reason) = self.check_view_change(usig, &vc) {
            return self.reject(reason, out);
        }
        let (j, w) = (vc.replica, vc.new_view);
        self.record_view_change(usig, vc, out);
        self.vote_view_change(usig, j, w, out);
    }

    fn record_view_change(&mut self, usig: &mut impl UsigPort, vc: ViewChange, out: &mut Out) {
        let w = vc.new_view;
        self.view_changes
            .entry(w)
            .or_default()
            .insert(vc.replica, vc);
        self.try_send_new_view(usig, w, out);
    }

    /// New primary: with f+1 ViewChanges for the view we are changing to, start it.
    fn try_send_new_view(&mut self, usig: &mut impl UsigPort, w: u64, out: &mut Out) {
        if self.mode != Mode::ChangingTo(w) || self.primary_of(w) != self.config.me {
            return;
        }
        let Some(vcs) = self.view_changes.get(&w) else {
            return;
        };
        if vcs.len() <= self.config.f as usize
            || !vcs.contains_key(&self.config.me)
            || !self.log_has_room(false)
        {
            return;
        }
        // Ours first, then the lowest ids: deterministic.
        let mut chosen: Vec<ViewChange> = alloc::vec![vcs[&self.config.me].clone()];
        chosen.extend(
            vcs.values()
                .filter(|v| v.replica != self.config.me)
                .take(self.config.f as usize)
                .cloned(),
        );
        let mut nv = NewView {
            replica: self.config.me,
            new_view: w,
            view_changes: chosen,
            ui: placeholder_ui(),
        };
        let Some(ui) = self.certify(usig, &nv.digest()) else {
            return self.reject(Reason::UsigUnavailable, out);
        };
        nv.ui = ui;
        self.emit(Certified::NewView(nv.clone()), out);
        self.on_new_view(usig, nv, out);
    }

    /// Checks a ViewChange on its own: certificate, and a complete, contiguous log since the
    /// sender's Checkpoint for that certificate.
    fn check_view_change(&self, usig: &mut impl UsigPort, vc: &ViewChange) -> Result<(), Reason> {
        let j = vc.replica;
        if j.0 >= self.config.n || vc.ui.usig.0 != j.0 {
            return Err(Reason::BadViewChange);
        }
        if !self.verify_cert(usig, &vc.checkpoint) {
            return Err(Reason::BadCheckpointCert);
        }
        let Some(LogEntry::Checkpoint(anchor)) = vc.log.first() else {
            return Err(Reason::BadViewChange);
        };
        if anchor.seq != vc.checkpoint.seq || anchor.state_digest != vc.checkpoint.state_digest {
            return Err(Reason::BadViewChange);
        }
        if j != self.config.me {
            if let Some(c) = self.streams[j.0 as usize].anchors.get(&anchor.seq) {
                if c.ui.epoch == anchor.ui.epoch && c.ui.counter != anchor.ui.counter {
                    return Err(Reason::BadViewChange);
                }
            }
        }
        let mut expect = anchor.ui.counter;
        for e in &vc.log {
            let ui = e.ui();
            if ui.usig.0 != j.0 || ui.epoch != vc.ui.epoch || ui.counter != expect {
                return Err(Reason::BadViewChange);
            }
            let named = match e {
                LogEntry::Prepare(p) => p.replica,
                LogEntry::Commit(c) => c.replica,
                LogEntry::Checkpoint(c) => c.replica,
                LogEntry::Stub { .. } => j,
            };
            if named != j {
                return Err(Reason::BadViewChange);
            }
            if usig.verify_ui(&e.digest(), ui).is_err() {
                return Err(Reason::BadUi);
            }
            if let LogEntry::Commit(c) = e {
                // The Prepare a Commit vouches for must be the primary's own.
                let p = &c.prepare;
                if p.replica != self.primary_of(p.view)
                    || p.ui.usig.0 != p.replica.0
                    || usig.verify_ui(&p.digest(), &p.ui).is_err()
                {
                    return Err(Reason::BadViewChange);
                }
            }
            if let LogEntry::Prepare(p) = e {
                if p.replica != self.primary_of(p.view) {
                    return Err(Reason::BadViewChange);
                }
            }
            expect += 1;
        }
        if expect != vc.ui.counter {
            return Err(Reason::BadViewChange);
        }
        Ok(())
    }

    fn on_new_view(&mut self, usig: &mut impl UsigPort, nv: NewView, out: &mut Out) {
        if nv.new_view <= self.view {
            return self.reject(Reason::Stale, out);
        }
        if nv.replica != self.primary_of(nv.new_view) {
            return self.reject(Reason::BadNewView, out);
        }
        let Some(plan) = self.check_new_view(usig, &nv) else {
            return self.reject(Reason::BadNewView, out);
        };
        self.enter_view(usig, nv, plan, out);
    }

    /// Validates a NewView and computes what it fixes: the highest checkpoint certificate, and
    /// for every sequence number above it up to the highest one any log mentions, the batch of
    /// the highest-view Prepare found (empty if none: nothing can have executed there).
    fn check_new_view(&self, usig: &mut impl UsigPort, nv: &NewView) -> Option<NewViewPlan> {
        let mut senders = BTreeSet::new();
        for vc in &nv.view_changes {
            if vc.new_view != nv.new_view || !senders.insert(vc.replica) {
                return None;
            }
            if usig.verify_ui(&vc.digest(), &vc.ui).is_err() {
                return None;
            }
            self.check_view_change(usig, vc).ok()?;
        }
        if senders.len() <= self.config.f as usize {
            return None;
        }
        let cert = nv
            .view_changes
            .iter()
            .map(|v| &v.checkpoint)
            .max_by_key(|c| c.seq)?
            .clone();
        // seq -> best candidate. The highest view wins. Within a view: a batch some backup
        // committed (a correct backup commits only the Prepare correct replicas accepted; if a
        // backup is faulty the primary is correct and has one Prepare per seq), else the
        // primary's first Prepare for it, by (epoch, counter): correct replicas accept no
        // Prepare of a view after refusing one, nor in a later epoch of the primary.
        type Key = (u64, bool, core::cmp::Reverse<(u64, u64)>);
        let mut best: BTreeMap<u64, (Key, &Batch)> = BTreeMap::new();
        for vc in &nv.view_changes {
            for e in &vc.log {
                let (p, committed) = match e {
                    LogEntry::Prepare(p) => (p, false),
                    LogEntry::Commit(c) => (&c.prepare, true),
                    _ => continue,
                };
                if p.seq <= cert.seq || p.view >= nv.new_view {
                    continue;
                }
                let key: Key = (
                    p.view,
                    committed,
                    core::cmp::Reverse((p.ui.epoch, p.ui.counter)),
                );
                if best.get(&p.seq).is_none_or(|b| b.0 < key) {
                    best.insert(p.seq, (key, &p.batch));
                }
            }
        }
        let top = best.keys().next_back().copied().unwrap_or(cert.seq);
        if top - cert.seq > self.config.checkpoint_period * (CHECKPOINTS_AHEAD_MAX + 1) {
            return None;
        }
        let reproposals = (cert.seq + 1..=top)
            .map(|q| (q, best.get(&q).map(|b| b.1.clone()).unwrap_or_default()))
            .collect();
        Some(NewViewPlan { cert, reproposals })
    }

    fn enter_view(
        &mut self,
        usig: &mut impl UsigPort,
        nv: NewView,
        plan: NewViewPlan,
        out: &mut Out,
    ) {
        let w = nv.new_view;
        let nv_epoch = nv.ui.epoch;
        self.view = w;
        self.mode = Mode::Normal;
        self.new_view = Some(nv);
        self.slots.clear();
        self.early_commits.clear();
        self.proposed.clear();
        self.fresh = self.pending.keys().copied().collect();
        self.next_prepare_seq = plan.cert.seq + 1;
        self.reproposals = plan.reproposals;
        self.primary_resync = false;
        self.resync_commits.clear();
        self.view_leader_epoch = Some(nv_epoch);
        let p = self.primary_of(w);
        self.primary_suspect = p != self.config.me && self.premature.contains(&(p, w));
        self.premature.retain(|&(_, v)| v > w);
        self.view_change_votes.retain(|&v, _| v > w);
        self.view_changes.retain(|&v, _| v > w);
        out.push(Action::CancelTimer {
            kind: TimerKind::ViewChange,
        });
        out.push(Action::ViewEntered { view: w });
        if self.executed_seq < plan.cert.seq {
            // Verified inside check_new_view.
            if self
                .transfer_target
                .as_ref()
                .is_none_or(|t| t.seq < plan.cert.seq)
            {
                self.transfer_target = Some(plan.cert);
                self.want_state(out);
            }
        } else {
            self.adopt_stable(usig, plan.cert, out);
        }
        self.request_timer_armed = false;
        self.arm_request_timer(out);
        // Prepares of the new primary may already be held: they were waiting for this.
        self.drain(usig, out);
    }

    // ----- state transfer and retransmission ------------------------------------------------------

    fn on_status(&mut self, j: ReplicaId, s: Status, out: &mut Out) {
        // Retransmit what j lacks of our stream.
        if let Some(pos) = s.streams.iter().find(|p| p.replica == self.config.me) {
            let first = self
                .sent_log
                .first()
                .map_or(u64::MAX, |(m, _)| m.ui().counter);
            let position = Some((pos.epoch, pos.next_counter));
            // The same position as in j's previous Status: j is stuck, not just a message
            // behind (under load a Status often races with the messages it asks for).
            let stuck = self.reported_positions[j.0 as usize] == position;
            self.reported_positions[j.0 as usize] = position;
            if pos.epoch == self.my_epoch && pos.next_counter < first {
                // What j lacks is below our stable checkpoint: it needs state, then our log.
                if stuck {
                    let r = StateRequest {
                        replica: j,
                        executed_seq: s.executed_seq,
                        view: s.view,
                    };
                    self.on_state_request(j, r, out);
                }
            } else if pos.epoch == self.my_epoch && pos.next_counter <= self.my_last_counter {
                let from = pos.next_counter;
                for m in self
                    .sent_log
                    .iter()
                    .map(|(m, _)| m)
                    .filter(|m| m.ui().counter >= from)
                    .take(RETRANSMIT_BURST_MAX)
                {
                    out.push(Action::Send {
                        to: j,
                        message: m.clone().into_message(),
                    });
                }
            }
        }
        // j is past our execution, or in a later view: fetch (the reply is verified, not j's word).
        // At most one such request per StateTransfer period (a Status is a hint any peer can
        // send at any rate).
        let lagging =
            s.stable_seq > self.executed_seq || (s.view > self.view && s.changing_to.is_none());
        if lagging && !self.is_fetching_state() && !self.state_timer_armed {
            self.state_timer_armed = true;
            out.push(Action::SetTimer {
                kind: TimerKind::StateTransfer,
                duration_ms: self.config.state_transfer_timeout_ms,
            });
            out.push(Action::Send {
                to: j,
                message: Message::StateRequest(StateRequest {
                    replica: self.config.me,
                    executed_seq: self.executed_seq,
                    view: self.view,
                }),
            });
        }
    }

    /// Answers a StateRequest, within `j`'s budget for this Status period (see
    /// [`STATE_REPLIES_PER_PERIOD_MAX`]).
    fn on_state_request(&mut self, j: ReplicaId, r: StateRequest, out: &mut Out) {
        let key = (self.stable.seq, self.view, r.executed_seq, r.view);
        let budget = &mut self.state_reply_budgets[j.0 as usize];
        if budget.last == Some(key) || budget.sent >= STATE_REPLIES_PER_PERIOD_MAX {
            return self.reject(Reason::StateReplyLimit, out);
        }
        budget.sent += 1;
        budget.last = Some(key);
        let checkpoint = (self.stable.seq > r.executed_seq).then(|| CheckpointTransfer {
            cert: self.current_stable_cert(),
            snapshot: self.stable_snapshot.clone(),
        });
        let new_view = if self.view > r.view && self.mode == Mode::Normal {
            self.new_view.clone()
        } else {
            None
        };
        let log = self.log_entries();
        out.push(Action::Send {
            to: j,
            message: Message::StateReply(StateReply {
                replica: self.config.me,
                executed_seq: self.executed_seq,
                checkpoint,
                new_view,
                log,
                anchors: self
                    .streams
                    .iter()
                    .flat_map(|s| s.anchors.values().cloned())
                    .collect(),
            }),
        });
    }

    fn on_state_reply(
        &mut self,
        usig: &mut impl UsigPort,
        j: ReplicaId,
        r: StateReply,
        out: &mut Out,
    ) {
        let f = self.config.f as usize;
        let k = self.config.checkpoint_period;
        if let Some(rec) = &mut self.recovery {
            if rec.floor.is_none() {
                rec.executed.insert(j, r.executed_seq);
                if rec.executed.len() > f {
                    let h = rec.executed.values().copied().max().unwrap_or(0);
                    rec.floor = Some(h.saturating_add(k * CHECKPOINTS_AHEAD_MAX));
                }
            }
        }
        if let Some(t) = r.checkpoint {
            if t.cert.seq > self.executed_seq {
                if !self.verify_cert(usig, &t.cert) {
                    return self.reject(Reason::BadCheckpointCert, out);
                }
                if let Err(reason) = self.restore(usig, t, out) {
                    return self.reject(reason, out);
                }
            }
        }
        if let Some(nv) = r.new_view {
            if nv.new_view > self.view {
                let p = nv.replica;
                let p_view = nv.new_view;
                let epoch_ok =
                    p == self.config.me || self.accepted_epochs[p.0 as usize] == Some(nv.ui.epoch);
                if !epoch_ok || usig.verify_ui(&nv.digest(), &nv.ui).is_err() {
                    self.reject(Reason::BadNewView, out);
                } else {
                    // Out of stream order: if we are already past it in the primary's stream,
                    // we have not seen this view's Prepares in order.
                    let past = p != self.config.me && {
                        let st = &self.streams[p.0 as usize];
                        st.epoch != Some(nv.ui.epoch) || st.next > nv.ui.counter
                    };
                    self.on_new_view(usig, nv, out);
                    if past && self.view == p_view {
                        self.primary_resync = true;
                    }
                }
            }
        }
        // Other peers' anchors, as j recorded them in their streams.
        for c in &r.anchors {
            let better = |s: &Stream| s.epoch == Some(c.ui.epoch) && s.next < c.ui.counter;
            if c.replica != j && c.replica.0 < self.config.n && c.replica != self.config.me {
                // The highest anchor we can use for that peer.
                let usable = c.seq <= self.stable.seq
                    && !r.anchors.iter().any(|d| {
                        d.replica == c.replica && d.seq > c.seq && d.seq <= self.stable.seq
                    });
                if usable && better(&self.streams[c.replica.0 as usize]) {
                    self.jump_to_anchor(usig, c, out);
                }
            }
        }
        self.fill_from_log(usig, j, &r.log, out);
        // Still behind j's log: we lack what j no longer keeps.
        let stuck = r.log.first().and_then(|e| match e {
            LogEntry::Checkpoint(c) => {
                let st = &self.streams[j.0 as usize];
                (st.epoch == Some(c.ui.epoch) && st.next < c.ui.counter).then(|| c.clone())
            }
            _ => None,
        });
        if let Some(anchor) = stuck {
            let st = &mut self.streams[j.0 as usize];
            if st.anchor_requests == 0 {
                // First ask every replica: a third party's record of j's anchor is preferred
                // (see `jump_to_anchor`).
                st.anchor_requests = 1;
                self.want_state(out);
            } else {
                // Nobody else has a record (e.g. the others restarted): resume at j's own
                // anchor, for liveness. See the crate README on the residual risk.
                self.jump_to_anchor(usig, &anchor, out);
                self.fill_from_log(usig, j, &r.log, out);
            }
        }
        if self.fetching
            && self.transfer_target.is_none()
            && self.recovery.as_ref().is_none_or(|r| r.floor.is_some())
        {
            // A restarted replica has heard from enough peers; later lag is detected by Status.
            self.fetching = false;
        }
        // The StateTransfer timer, if armed, stays so: its period bounds our StateRequests even
        // when fetching ends and starts again (a new certificate every K batches while we lag).
    }

    /// Replaces our state by a verified snapshot at `t.cert`.
    fn restore(
        &mut self,
        usig: &mut impl UsigPort,
        t: CheckpointTransfer,
        out: &mut Out,
    ) -> Result<(), Reason> {
        let snap: Snapshot = match postcard::take_from_bytes::<Snapshot>(&t.snapshot) {
            Ok((s, [])) => s,
            _ => return Err(Reason::BadSnapshot),
        };
        let mut replies = BTreeMap::new();
        for (c, id, result) in snap.replies {
            if replies
                .insert(
                    c,
                    CachedReply {
                        request_id: id,
                        result,
                    },
                )
                .is_some()
            {
                return Err(Reason::BadSnapshot);
            }
        }
        let mut app = self.app.clone();
        app.restore(&snap.app).map_err(|_| Reason::BadSnapshot)?;
        if state_digest(&app, &replies) != t.cert.state_digest {
            return Err(Reason::BadSnapshot);
        }
        let seq = t.cert.seq;
        self.app = app;
        self.replies = replies;
        self.executed_seq = seq;
        self.slots.retain(|&q, _| q > seq);
        self.early_commits.retain(|&q, _| q > seq);
        let r = &self.replies;
        self.pending
            .retain(|c, p| r.get(c).is_none_or(|c| p.request_id > c.request_id));
        self.own_checkpoints.clear();
        self.stable_votes = t
            .cert
            .checkpoints
            .iter()
            .map(|c| (c.replica, c.clone()))
            .collect();
        self.stable = t.cert;
        self.stable_snapshot = t.snapshot;
        self.checkpoint_votes.retain(|&s, _| s > seq);
        for s in &mut self.streams {
            s.anchors.retain(|&a, _| a >= seq);
        }
        if self.transfer_target.as_ref().is_some_and(|t| t.seq <= seq) {
            self.transfer_target = None;
        }
        out.push(Action::StateRestored { seq });
        // Anchor our log at our own Checkpoint for the restored state (sent_log restarts).
        let digest = self.stable.state_digest;
        self.send_checkpoint(usig, seq, digest, out);
        // Commits for slots we already hold can now pass the barrier.
        let held: Vec<u64> = self.slots.keys().copied().collect();
        for s in held {
            self.maybe_send_commit(usig, s, out);
        }
        Ok(())
    }
}

/// A restarted replica's amnesia bound. Before it crashed it can have sent Prepares and Commits
/// only for sequence numbers up to (its stable checkpoint then) + K * CHECKPOINTS_AHEAD_MAX,
/// and f other replicas had executed up to that stable checkpoint. Among any f+1 other
/// replicas one of those is found, so `floor` (the highest executed_seq reported by f+1
/// others, plus K * CHECKPOINTS_AHEAD_MAX) bounds what it forgot. Once its stable checkpoint
/// reaches `floor`, its ViewChanges are complete again.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Recovery {
    executed: BTreeMap<ReplicaId, u64>,
    floor: Option<u64>,
}

#[derive(Clone, Debug)]
struct NewViewPlan {
    cert: CheckpointCert,
    reproposals: BTreeMap<u64, Batch>,
}

fn placeholder_ui() -> Ui {
    Ui {
        usig: rampart_usig::UsigId(0),
        epoch: 0,
        counter: 0,
        cert: rampart_usig::Certificate::HmacSha256([0; 32]),
    }
}

fn encode_replies(replies: &BTreeMap<ClientId, CachedReply>) -> Vec<(ClientId, u64, Vec<u8>)> {
    replies
        .iter()
        .map(|(c, r)| (*c, r.request_id, r.result.clone()))
        .collect()
}

/// The checkpointed state digest: application digest and reply cache.
fn state_digest<A: Application>(app: &A, replies: &BTreeMap<ClientId, CachedReply>) -> Digest {
    let cache: Vec<(ClientId, u64, &[u8])> = replies
        .iter()
        .map(|(c, r)| (*c, r.request_id, r.result.as_slice()))
        .collect();
    crate::wire::hash_of(&(b"rampart-minbft-state", app.digest(), cache))
}

fn encode_snapshot<A: Application>(app: &A, replies: &BTreeMap<ClientId, CachedReply>) -> Vec<u8> {
    postcard::to_allocvec(&Snapshot {
        app: app.snapshot(),
        replies: encode_replies(replies),
    })
    .unwrap_or_default()
}
