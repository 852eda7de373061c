//! A MinBFT replica PD: binds the sans-IO core (`rampart_minbft::Replica` over a `KvStore`) to
//! its USIG, its peers and its clients.
//!
//! - **USIG**: a synchronous protected procedure call to its own USIG PD (`usig` channel) for
//!   every UI created and verified ([`PdUsig`]); a failed call (the USIG restarting) is a
//!   `UsigFault::Unavailable`, which the core treats as "cannot certify now". Verification asks
//!   for any epoch the USIG PD accepted and still remembers (`VerifyUiAnyEpoch`), as the core's
//!   `UsigPort` requires: checkpoint certificates may carry UIs of a peer's earlier lives.
//! - **Peers and clients**: one [`Link`] each (a ring per direction in shared regions, chunked
//!   messages, the channel as doorbell both ways). Every message starts with an envelope byte:
//!   [`ENVELOPE_MINBFT`] and a `rampart_minbft::wire` message, or [`ENVELOPE_ANNOUNCEMENT`] and
//!   a USIG epoch announcement. The transport identifies the sender: a peer link is replica `j`;
//!   client PD `p`'s link carries its clients `p * CLIENTS_PER_PD + k` only, and a request
//!   naming any other client is dropped. The links come from the system file through
//!   `rampart_cluster::topology` (any odd n, any number of client PDs).
//! - **Epochs**: at start and every [`ANNOUNCE_INTERVAL_MS`] the replica asks its USIG for its
//!   current announcement and broadcasts it, and at once when a UI comes back in a new epoch
//!   (the USIG PD restarted; the announcement goes out before the messages certified in it). An
//!   announcement from peer `j` must name USIG `j`, is checked by this replica's USIG PD (the
//!   identity signature, forward epochs only) and only then becomes `Input::EpochAccepted`.
//!   The replica keeps the peers' announcements its USIG PD accepted (the last
//!   `EPOCH_HISTORY_MAX` per peer) and replays them, oldest first, to a restarted USIG PD, whose
//!   verifier starts empty: on noticing its new epoch, or when it refuses a UI of an epoch it
//!   had accepted. So a USIG restart does not cost the peers' earlier epochs' evidence.
//! - **Recovery**: a replica whose outgoing rings already existed when it started is a restarted
//!   life (`Link::resumed`): it starts the core with `recovering`, which fetches state.
//! - **Time**: the core's timers (and the announcement tick) are kept here and folded into the
//!   PD's one alarm.
//! - **Bounds**: [`OUTBOX_MESSAGES_MAX`] messages queued per link (beyond that a message is dropped
//!   and counted: MinBFT's Status gossip retransmits), [`POLL_FRAMES_MAX`] frames per link per
//!   round, [`ROUNDS_MAX`] rounds per notification before yielding through an immediate alarm.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use rampart_minbft::wire::{self, Message, Reply};
use rampart_minbft::{Action, ClientId, Config, Input, KvStore, Peer, Replica, ReplicaId, TimerKind, UsigFault, UsigPort};
use rampart_runtime::{clock, pd_index, Channel, ChannelSet, Handler, Message as PdMessage, NoPpCall, Notify};
use rampart_transport::Link;
use rampart_usig::pp::{UsigRequest, UsigResponse};
use rampart_usig::{Acceptance, Digest, EpochAnnouncement, Ui, UsigId, VerifyError, EPOCH_HISTORY_MAX};

rampart_runtime::bindings!();

#[allow(dead_code)]
mod cluster {
    include!(concat!(env!("OUT_DIR"), "/rampart_cluster.rs"));
}

/// Envelope bytes.
const ENVELOPE_MINBFT: u8 = 0;
const ENVELOPE_ANNOUNCEMENT: u8 = 1;

const HEAP_BYTES: usize = 16 << 20;
const OUTBOX_MESSAGES_MAX: usize = 1024;
/// Largest message over a link: a state-transfer reply with a full snapshot.
const MESSAGE_BYTES_MAX: usize = wire::MESSAGE_SIZE_MAX_BYTES;
const POLL_FRAMES_MAX: usize = 256;
const ROUNDS_MAX: usize = 64;
const ANNOUNCE_INTERVAL_MS: u64 = 500;
const NS_PER_MS: u64 = 1_000_000;
/// Executed requests between progress lines in the log.
const LOG_EVERY_EXECUTED: u64 = 1000;

/// Timer slots: the core's four kinds, then the announcement tick.
const TIMER_SLOTS: usize = 5;
const ANNOUNCE_SLOT: usize = 4;
const NO_DEADLINE: u64 = u64::MAX;

fn timer_slot(kind: TimerKind) -> usize {
    match kind {
        TimerKind::Request => 0,
        TimerKind::ViewChange => 1,
        TimerKind::Status => 2,
        TimerKind::StateTransfer => 3,
    }
}
const TIMER_KINDS: [TimerKind; 4] = [TimerKind::Request, TimerKind::ViewChange, TimerKind::Status, TimerKind::StateTransfer];

/// The USIG PD, through the `usig` channel; and the peers' epoch announcements it accepted, so
/// that a restarted USIG PD (whose verifier starts empty) can be taught them again.
struct PdUsig {
    /// Per USIG id, the announcements the USIG PD accepted as new epochs, oldest first: at most
    /// `EPOCH_HISTORY_MAX`, the epochs its verifier remembers. Public, identity-signed values.
    learned: Vec<Vec<EpochAnnouncement>>,
    /// The epoch of the last UI the USIG created (0 before the first).
    created_epoch: u64,
    /// The USIG's epoch when `learned` was last replayed to it (0: never).
    taught_epoch: u64,
    /// A UI came back in a new epoch: the USIG PD restarted, and the replica must announce.
    restarted: bool,
}

impl PdUsig {
    fn call(&self, request: &UsigRequest) -> Option<UsigResponse> {
        let m = request.encode().ok()?;
        let reply = channels::USIG.pp_call(&PdMessage::with_words(m.label, m.words()).ok()?);
        if reply.is_call_failure() {
            return None;
        }
        UsigResponse::decode(reply.label(), reply.words()).ok()
    }

    /// Hand a peer's announcement to the USIG PD; remember it if it opened a new epoch there.
    fn accept(&mut self, announcement: EpochAnnouncement) -> Option<Acceptance> {
        let usig = announcement.usig.0 as usize;
        let epoch = announcement.epoch;
        match self.call(&UsigRequest::AcceptAnnouncement { announcement: announcement.clone() }) {
            Some(UsigResponse::AnnouncementAccepted(a)) => {
                let history = self.learned.get_mut(usig)?;
                if matches!(a, Acceptance::NewEpoch { .. }) && history.last().is_none_or(|last| last.epoch < epoch) {
                    if history.len() == EPOCH_HISTORY_MAX {
                        history.remove(0);
                    }
                    history.push(announcement);
                }
                Some(a)
            }
            _ => None,
        }
    }

    /// If the USIG PD is in an epoch it has not been taught in, replay every remembered peer
    /// announcement to it, oldest first (its verifier takes epochs only forwards), so that it
    /// verifies the peers' current and remembered earlier epochs again. At most once per USIG life.
    fn teach(&mut self) {
        let Some(UsigResponse::Announcement(own)) = self.call(&UsigRequest::Announcement) else { return };
        if own.epoch == self.taught_epoch {
            return;
        }
        self.taught_epoch = own.epoch;
        for history in &self.learned {
            for a in history {
                let _ = self.call(&UsigRequest::AcceptAnnouncement { announcement: a.clone() });
            }
        }
    }

    fn remembers(&self, usig: UsigId, epoch: u64) -> bool {
        self.learned.get(usig.0 as usize).is_some_and(|h| h.iter().any(|a| a.epoch == epoch))
    }
}

impl UsigPort for PdUsig {
    fn create_ui(&mut self, digest: &Digest) -> Result<Ui, UsigFault> {
        match self.call(&UsigRequest::CreateUi { digest: *digest }) {
            Some(UsigResponse::Ui(ui)) => {
                if ui.epoch != self.created_epoch {
                    self.restarted |= self.created_epoch != 0;
                    self.created_epoch = ui.epoch;
                }
                Ok(ui)
            }
            _ => Err(UsigFault::Unavailable),
        }
    }
    fn verify_ui(&mut self, digest: &Digest, ui: &Ui) -> Result<(), UsigFault> {
        // Any epoch the USIG PD accepted and remembers: checkpoint certificates may hold UIs of
        // a peer's earlier lives; the core decides which epoch is live for stream messages.
        let request = UsigRequest::VerifyUiAnyEpoch { digest: *digest, ui: ui.clone() };
        let mut response = self.call(&request);
        if response == Some(UsigResponse::Rejected(VerifyError::EpochNotAccepted)) && self.remembers(ui.usig, ui.epoch) {
            // An epoch the USIG PD once accepted: it restarted and forgot; teach it, ask again.
            self.teach();
            response = self.call(&request);
        }
        match response {
            Some(UsigResponse::Verified) => Ok(()),
            Some(UsigResponse::Rejected(_)) => Err(UsigFault::Invalid),
            _ => Err(UsigFault::Unavailable),
        }
    }
}

/// Who is at the other end of a link.
#[derive(Clone, Copy)]
enum Far {
    Replica(ReplicaId),
    /// A client PD: the clients with ids in `first..first + CLIENTS_PER_PD`.
    Clients {
        first: u64,
    },
}

struct Node {
    core: Replica<KvStore>,
    usig: PdUsig,
    me: ReplicaId,
    links: Vec<(Far, Channel<Notify, NoPpCall>, Link<Channel<Notify, NoPpCall>>)>,
    deadlines: [u64; TIMER_SLOTS],
    announced_epoch: u64,
    executed: u64,
    dropped: u64,
    rejected: u64,
    ticks: u64,
    sent_kinds: [u64; 11],
    ring_errors: u64,
    /// A notification's work was cut short by the round limit: come back at once.
    busy: bool,
    actions: Vec<Action>,
}

fn envelope(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(body.len() + 1);
    v.push(tag);
    v.extend_from_slice(body);
    v
}

impl Node {
    fn send_on(&mut self, link: usize, bytes: Vec<u8>) {
        let (_, _, l) = &mut self.links[link];
        if l.send(bytes).is_err() {
            self.dropped += 1;
        }
    }

    fn send_to_replica(&mut self, to: ReplicaId, bytes: Vec<u8>) {
        if let Some(k) = self.links.iter().position(|(f, _, _)| matches!(f, Far::Replica(r) if *r == to)) {
            self.send_on(k, bytes);
        }
    }

    fn broadcast(&mut self, bytes: &[u8]) {
        for k in 0..self.links.len() {
            if matches!(self.links[k].0, Far::Replica(_)) {
                self.send_on(k, bytes.to_vec());
            }
        }
    }

    fn reply(&mut self, client: ClientId, reply: Reply) {
        let first = client.0 - client.0 % cluster::CLIENTS_PER_PD as u64;
        let Ok(bytes) = wire::encode(&Message::Reply(reply)) else { return };
        if let Some(k) = self.links.iter().position(|(f, _, _)| matches!(f, Far::Clients { first: x } if *x == first)) {
            self.send_on(k, envelope(ENVELOPE_MINBFT, &bytes));
        }
    }

    fn step(&mut self, input: Input) {
        let mut actions = core::mem::take(&mut self.actions);
        actions.clear();
        self.core.step_into(&mut self.usig, input, &mut actions);
        if core::mem::take(&mut self.usig.restarted) {
            // The USIG came back in a new epoch: announce it before the messages certified in
            // it (the links keep order), rather than at the next tick.
            self.announce();
        }
        for a in actions.drain(..) {
            self.act(a);
        }
        self.actions = actions;
    }

    fn act(&mut self, action: Action) {
        if let Action::Send { message, .. } | Action::Broadcast { message } = &action {
            let k = match message {
                Message::Request(_) => 0,
                Message::Reply(_) => 1,
                Message::Prepare(_) => 2,
                Message::Commit(_) => 3,
                Message::Checkpoint(_) => 4,
                Message::ReqViewChange(_) => 5,
                Message::ViewChange(_) => 6,
                Message::NewView(_) => 7,
                Message::StateRequest(_) => 8,
                Message::StateReply(_) => 9,
                Message::Status(_) => 10,
            };
            self.sent_kinds[k] += 1;
        }
        match action {
            Action::Send { to, message } => {
                if let Ok(bytes) = wire::encode(&message) {
                    self.send_to_replica(to, envelope(ENVELOPE_MINBFT, &bytes));
                }
            }
            Action::Broadcast { message } => {
                if let Ok(bytes) = wire::encode(&message) {
                    self.broadcast(&envelope(ENVELOPE_MINBFT, &bytes));
                }
            }
            Action::ReplyToClient { client, reply } => self.reply(client, reply),
            Action::SetTimer { kind, duration_ms } => {
                self.deadlines[timer_slot(kind)] = clock::now_ns().saturating_add(duration_ms.saturating_mul(NS_PER_MS));
            }
            Action::CancelTimer { kind } => self.deadlines[timer_slot(kind)] = NO_DEADLINE,
            Action::Executed { .. } => {
                self.executed += 1;
                if self.executed % LOG_EVERY_EXECUTED == 0 {
                    defmt::info!("replica {}: {} requests executed, view {}, seq {}", self.me.0, self.executed, self.core.view(), self.core.executed_seq());
                }
            }
            Action::StateRestored { seq } => defmt::info!("replica {}: state restored at seq {}", self.me.0, seq),
            Action::ViewEntered { view } => defmt::info!("replica {}: entered view {}", self.me.0, view),
            Action::Rejected { reason } => {
                self.rejected += 1;
                if self.rejected.is_power_of_two() {
                    defmt::debug!("replica {}: {} inputs rejected so far; latest: {}", self.me.0, self.rejected, defmt::Debug2Format(&reason));
                }
            }
        }
    }

    /// Ask the USIG for its announcement and broadcast it; if its epoch is new (the USIG PD
    /// restarted), first teach the USIG PD the peers' epochs again.
    fn announce(&mut self) {
        if let Some(UsigResponse::Announcement(a)) = self.usig.call(&UsigRequest::Announcement) {
            if a.epoch != self.announced_epoch {
                defmt::info!("replica {}: USIG epoch {}", self.me.0, a.epoch);
                self.announced_epoch = a.epoch;
                self.usig.teach();
            }
            if let Ok(bytes) = postcard::to_allocvec(&a) {
                self.broadcast(&envelope(ENVELOPE_ANNOUNCEMENT, &bytes));
            }
        }
    }

    /// The announcement tick: announce, and now and then log a status line.
    fn tick(&mut self) {
        self.announce();
        self.deadlines[ANNOUNCE_SLOT] = clock::now_ns().saturating_add(ANNOUNCE_INTERVAL_MS * NS_PER_MS);
        self.ticks += 1;
        if self.ticks % 4 == 0 {
            let c = &self.core;
            defmt::debug!(
                "replica {}: view {} changing {} executed_seq {} pending {} slots {} fetching {} primary {} rejected {} dropped {} sent {} queued {}",
                self.me.0,
                c.view(),
                defmt::Debug2Format(&c.changing_to()),
                c.executed_seq(),
                c.pending_len(),
                c.slots_len(),
                c.is_fetching_state(),
                c.is_primary(),
                defmt::Debug2Format(c.rejections()),
                self.dropped,
                defmt::Debug2Format(&self.sent_kinds),
                defmt::Debug2Format(&self.links.iter().map(|(_, _, l)| (l.queued(), l.attached(), l.malformed())).collect::<Vec<_>>())
            );
        }
    }

    fn on_announcement(&mut self, from: ReplicaId, body: &[u8]) {
        let Ok(a) = postcard::from_bytes::<EpochAnnouncement>(body) else { return };
        if a.usig != UsigId(from.0) {
            return;
        }
        let epoch = a.epoch;
        if let Some(Acceptance::NewEpoch { .. } | Acceptance::AlreadyAccepted) = self.usig.accept(a) {
            self.step(Input::EpochAccepted { replica: from, epoch });
        }
    }

    fn on_bytes(&mut self, far: Far, bytes: &[u8]) {
        let Some((&tag, body)) = bytes.split_first() else { return };
        match (tag, far) {
            (ENVELOPE_ANNOUNCEMENT, Far::Replica(r)) => self.on_announcement(r, body),
            (ENVELOPE_MINBFT, Far::Replica(r)) => {
                if let Ok(message) = wire::decode(body) {
                    self.step(Input::Message { from: Peer::Replica(r), message });
                }
            }
            (ENVELOPE_MINBFT, Far::Clients { first }) => {
                // The transport says which client PD sent it; the request must be one of its clients.
                if let Ok(Message::Request(req)) = wire::decode(body) {
                    if req.client.0 >= first && req.client.0 < first + cluster::CLIENTS_PER_PD as u64 {
                        let from = Peer::Client(req.client);
                        self.step(Input::Message { from, message: Message::Request(req) });
                    }
                }
            }
            _ => {}
        }
    }

    /// Read every link until all are empty (bounded), feed the core, send what it asks.
    fn run(&mut self) {
        let mut inbound: Vec<Vec<u8>> = Vec::new();
        for _ in 0..ROUNDS_MAX {
            let mut progress = false;
            for k in 0..self.links.len() {
                let (far, ch, link) = &mut self.links[k];
                let far = *far;
                let read = match link.poll(POLL_FRAMES_MAX, |m| inbound.push(m.to_vec())) {
                    Ok(n) => n,
                    Err(e) => {
                        self.ring_errors += 1;
                        if self.ring_errors.is_power_of_two() {
                            defmt::warn!("replica {}: ring error: {}", self.me.0, defmt::Debug2Format(&e));
                        }
                        0
                    }
                };
                if read > 0 {
                    progress = true;
                    ch.notify(); // room was made in the peer's ring
                }
                for m in inbound.drain(..) {
                    self.on_bytes(far, &m);
                }
            }
            self.pump();
            if !progress && self.links.iter_mut().all(|(_, _, l)| l.ready_to_sleep()) {
                return;
            }
        }
        // Still busy: come back at once, after others had their turn.
        self.busy = true;
    }

    fn pump(&mut self) {
        for (_, _, link) in &mut self.links {
            let _ = link.pump();
        }
    }

    fn fire_timers(&mut self) {
        let now = clock::now_ns();
        for kind in TIMER_KINDS {
            let slot = timer_slot(kind);
            if self.deadlines[slot] <= now {
                self.deadlines[slot] = NO_DEADLINE;
                self.step(Input::Timer(kind));
            }
        }
        if self.deadlines[ANNOUNCE_SLOT] <= now {
            self.tick();
        }
    }

    fn rearm(&mut self) {
        let mut next = self.deadlines.iter().copied().min().unwrap_or(NO_DEADLINE);
        if core::mem::take(&mut self.busy) {
            next = clock::now_ns();
        }
        if next != NO_DEADLINE {
            clock::set_alarm(next);
        }
    }
}

impl Handler for Node {
    fn notified(&mut self, channels: ChannelSet) {
        if channels.alarm() {
            self.fire_timers();
        }
        self.run();
        self.pump();
        self.rearm();
    }
}

fn init() -> Node {
    let n = cluster::REPLICA_COUNT;
    let me = pd_index().filter(|i| *i < n).expect("a replica PD's name ends with its index in the cluster");
    let me_id = ReplicaId(me as u32);
    let mut client_keys = BTreeMap::new();
    for (c, keys) in cluster::CLIENT_KEYS.iter().enumerate() {
        client_keys.insert(ClientId(c as u64), keys[me]);
    }
    let app = KvStore::new();
    let config = Config {
        n: n as u32,
        f: (n as u32 - 1) / 2,
        me: me_id,
        batch_size_max: 64,
        window_max: 2,
        checkpoint_period: 64,
        request_timeout_ms: 2_000,
        view_change_timeout_ms: 4_000,
        status_interval_ms: 200,
        state_transfer_timeout_ms: 1_000,
        client_keys,
        genesis_digest: Replica::genesis_digest(&app),
    };
    config.check().expect("the replica configuration is valid");
    let core = Replica::new(config, app);

    // The links (rampart_cluster::topology): the peer k places after me, then each client PD.
    let mut links = Vec::new();
    let far_ends = cluster::PEER_LINKS
        .iter()
        .map(|&(k, ch, tx, rx)| (Far::Replica(ReplicaId(((me + k) % n) as u32)), ch, tx, rx))
        .chain(cluster::CLIENT_LINKS.iter().map(|&(p, ch, tx, rx)| (Far::Clients { first: (p * cluster::CLIENTS_PER_PD) as u64 }, ch, tx, rx)));
    for (far, ch, tx, rx) in far_ends {
        // SAFETY: the regions are mapped read-write for the PD's life, nothing else here
        // touches them, and each ring has this one producer or consumer in this PD.
        let link = unsafe { Link::open(tx.raw_parts(), rx.raw_parts(), || ch, OUTBOX_MESSAGES_MAX, MESSAGE_BYTES_MAX) }.expect("the link's rings open");
        links.push((far, ch, link));
    }
    let recovering = links.iter().any(|(_, _, l)| l.resumed());

    let usig = PdUsig { learned: (0..n).map(|_| Vec::new()).collect(), created_epoch: 0, taught_epoch: 0, restarted: false };
    let mut node = Node {
        core,
        usig,
        me: me_id,
        links,
        deadlines: [NO_DEADLINE; TIMER_SLOTS],
        announced_epoch: 0,
        executed: 0,
        dropped: 0,
        rejected: 0,
        ticks: 0,
        sent_kinds: [0; 11],
        ring_errors: 0,
        busy: false,
        actions: Vec::new(),
    };
    defmt::info!("replica {} of {} starting{}", me, n, if recovering { " (recovering: a restarted life)" } else { "" });
    node.tick();
    node.step(Input::Start { recovering });
    for (_, ch, _) in &node.links {
        ch.notify();
    }
    node.pump();
    node.rearm();
    node
}

rampart_runtime::pd_main!(init, heap_bytes = HEAP_BYTES);
