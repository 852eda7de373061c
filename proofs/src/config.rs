//! The configurations the checker runs: cluster shape, workload and every fault budget.
//!
//! Each budget bounds one source of nondeterminism, which is what keeps the state space finite:
//! a configuration states exactly which adversary its result covers.

/// One model-checking configuration. n = 3, f = 1 always (the smallest MinBFT cluster).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ModelConfig {
    pub name: &'static str,
    /// The Byzantine replica's id, if any (the others run the real core).
    pub byzantine: Option<u32>,
    /// Number of clients, each running the real client library.
    pub clients: u64,
    /// Requests each client submits, one at a time.
    pub requests_per_client: usize,
    /// Messages the network may lose.
    pub drops_max: u8,
    /// Messages the network may deliver one extra time.
    pub duplicates_max: u8,
    /// Timer expiries the exploration may fire, at any moment (premature ones included), other
    /// than Status gossip.
    pub timeouts_max: u8,
    /// Expiries of replicas' Status timers (gossip: retransmission and state-transfer triggers).
    pub gossip_max: u8,
    /// Crashes of a correct replica, each followed at once by a restart from its pristine image
    /// in a new USIG epoch (amnesia: the new life knows nothing but its configuration).
    pub restarts_max: u8,
    /// Actions from the Byzantine replica's menu.
    pub byzantine_actions_max: u8,
    /// Highest sequence number the Byzantine replica proposes for.
    pub byzantine_seq_max: u64,
    /// States in which a correct replica is in (or moving to) a view above this are not expanded.
    pub view_max: u64,
    /// K (the replica config's checkpoint period); the pipelining window is 1.
    pub checkpoint_period: u64,
    /// Check the liveness property (a fair, synchronous continuation from every quiescent state).
    pub check_liveness: bool,
    /// The budgets allow a view change: check that one happens (a `sometimes` property).
    pub expect_view_change: bool,
}

/// The replica count of every configuration.
pub const N: u32 = 3;
/// The faults tolerated.
pub const F: u32 = 1;

impl ModelConfig {
    /// CI: three correct replicas, one client, a network that may lose one message, one
    /// premature timer expiry.
    pub fn ci_correct() -> ModelConfig {
        ModelConfig {
            name: "ci-correct",
            byzantine: None,
            clients: 1,
            requests_per_client: 1,
            drops_max: 1,
            duplicates_max: 0,
            timeouts_max: 1,
            restarts_max: 0,
            gossip_max: 0,
            byzantine_actions_max: 0,
            byzantine_seq_max: 0,
            view_max: 1,
            checkpoint_period: 2,
            check_liveness: true,
            expect_view_change: false,
        }
    }

    /// CI: replica 0 (the primary of view 0) is Byzantine with one action; two timer expiries,
    /// enough for a view change to view 1.
    pub fn ci_byzantine() -> ModelConfig {
        ModelConfig {
            name: "ci-byzantine",
            byzantine: Some(0),
            clients: 1,
            requests_per_client: 1,
            drops_max: 0,
            duplicates_max: 0,
            timeouts_max: 2,
            restarts_max: 0,
            gossip_max: 0,
            byzantine_actions_max: 1,
            byzantine_seq_max: 2,
            view_max: 1,
            checkpoint_period: 2,
            check_liveness: true,
            expect_view_change: true,
        }
    }

    /// CI: the Byzantine primary with two actions (equivocation, forged embeddings), no timer
    /// expiries. Its liveness property fails: finding 1 (FINDINGS.md).
    pub fn ci_byzantine_two() -> ModelConfig {
        ModelConfig {
            name: "ci-byzantine-two",
            byzantine: Some(0),
            clients: 1,
            requests_per_client: 1,
            drops_max: 0,
            duplicates_max: 0,
            timeouts_max: 0,
            restarts_max: 0,
            gossip_max: 0,
            byzantine_actions_max: 2,
            byzantine_seq_max: 2,
            view_max: 1,
            checkpoint_period: 2,
            check_liveness: true,
            expect_view_change: false,
        }
    }

    /// CI: three correct replicas, one of which (any, the primary included, at any moment)
    /// crashes and restarts from its pristine image in a new USIG epoch. The exploration fires
    /// no timer; the liveness continuation does (a restarted primary needs a view change).
    pub fn ci_restart() -> ModelConfig {
        ModelConfig { name: "ci-restart", drops_max: 0, timeouts_max: 0, restarts_max: 1, ..ModelConfig::ci_correct() }
    }

    /// CI: three correct replicas, one request, a checkpoint after every batch: the request's
    /// checkpoint becomes stable and the log is garbage-collected, in every interleaving, and
    /// the liveness continuation runs from every state with a checkpoint in flight.
    pub fn ci_checkpoint() -> ModelConfig {
        ModelConfig { name: "ci-checkpoint", drops_max: 0, timeouts_max: 0, checkpoint_period: 1, ..ModelConfig::ci_correct() }
    }

    /// Whether the workload reaches a checkpoint (each client request is its own batch).
    pub fn reaches_checkpoint(&self) -> bool {
        self.checkpoint_period <= self.clients * self.requests_per_client as u64
    }

    /// Deeper: a restart as in `ci-restart` with one premature timer expiry (a replica's
    /// request timer or the client's retransmission) anywhere around the restart, which may hit
    /// the primary.
    pub fn deep_restart() -> ModelConfig {
        ModelConfig { name: "deep-restart", timeouts_max: 1, ..ModelConfig::ci_restart() }
    }

    /// Deeper: three correct replicas, one client with two requests in turn, one loss and one
    /// premature timer expiry anywhere in the two requests' lives.
    pub fn deep_correct() -> ModelConfig {
        ModelConfig {
            name: "deep-correct",
            byzantine: None,
            clients: 1,
            requests_per_client: 2,
            drops_max: 1,
            duplicates_max: 0,
            timeouts_max: 1,
            restarts_max: 0,
            gossip_max: 0,
            byzantine_actions_max: 0,
            byzantine_seq_max: 0,
            view_max: 1,
            checkpoint_period: 4,
            check_liveness: true,
            expect_view_change: false,
        }
    }

    /// Deeper: two requests in turn with a checkpoint after the second (K = 2): the checkpoint
    /// becomes stable and the log is collected while the first request's messages may still be
    /// in flight, with one loss anywhere.
    pub fn deep_checkpoint() -> ModelConfig {
        ModelConfig { name: "deep-checkpoint", timeouts_max: 0, checkpoint_period: 2, ..ModelConfig::deep_correct() }
    }

    /// Deeper: one request through every kind of network and timer fault at once: one loss,
    /// one duplicate, one premature timer expiry and one Status gossip (retransmission).
    pub fn deep_network() -> ModelConfig {
        ModelConfig { name: "deep-network", requests_per_client: 1, duplicates_max: 1, gossip_max: 1, checkpoint_period: 2, ..ModelConfig::deep_correct() }
    }

    /// Deeper: the Byzantine primary with two actions and two timer expiries (view changes with
    /// Byzantine messages in the logs).
    pub fn deep_byzantine() -> ModelConfig {
        ModelConfig {
            name: "deep-byzantine",
            byzantine: Some(0),
            clients: 1,
            requests_per_client: 1,
            drops_max: 0,
            duplicates_max: 0,
            timeouts_max: 2,
            restarts_max: 0,
            gossip_max: 0,
            byzantine_actions_max: 2,
            byzantine_seq_max: 2,
            view_max: 1,
            checkpoint_period: 2,
            check_liveness: true,
            expect_view_change: true,
        }
    }

    /// Overrides one field from `key=value` (for sizing runs); false if not understood.
    pub fn set(&mut self, assignment: &str) -> bool {
        let Some((k, v)) = assignment.split_once('=') else { return false };
        let n: Option<u64> = v.parse().ok();
        let Some(n) = n else { return false };
        match k {
            "byzantine" => self.byzantine = (n < N as u64).then_some(n as u32),
            "clients" => self.clients = n,
            "requests_per_client" => self.requests_per_client = n as usize,
            "drops_max" => self.drops_max = n as u8,
            "duplicates_max" => self.duplicates_max = n as u8,
            "timeouts_max" => self.timeouts_max = n as u8,
            "gossip_max" => self.gossip_max = n as u8,
            "restarts_max" => self.restarts_max = n as u8,
            "byzantine_actions_max" => self.byzantine_actions_max = n as u8,
            "byzantine_seq_max" => self.byzantine_seq_max = n,
            "view_max" => self.view_max = n,
            "checkpoint_period" => self.checkpoint_period = n,
            "check_liveness" => self.check_liveness = n != 0,
            "expect_view_change" => self.expect_view_change = n != 0,
            _ => return false,
        }
        true
    }

    /// The CI configurations, run by `tests/ci.rs` and `rampart-proofs ci`.
    pub fn ci() -> Vec<ModelConfig> {
        vec![ModelConfig::ci_correct(), ModelConfig::ci_byzantine(), ModelConfig::ci_byzantine_two(), ModelConfig::ci_restart(), ModelConfig::ci_checkpoint()]
    }

    /// Every named configuration, CI ones first.
    pub fn all() -> Vec<ModelConfig> {
        ModelConfig::ci().into_iter().chain(ModelConfig::deep()).collect()
    }

    /// The deeper configurations, run by `rampart-proofs deep`.
    pub fn deep() -> Vec<ModelConfig> {
        vec![
            ModelConfig::deep_correct(),
            ModelConfig::deep_checkpoint(),
            ModelConfig::deep_network(),
            ModelConfig::deep_byzantine(),
            ModelConfig::deep_restart(),
        ]
    }
}
