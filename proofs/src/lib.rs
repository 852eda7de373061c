//! Model checking of the real MinBFT core with [stateright].
//!
//! # Purpose
//! [`model::MinBftModel`] drives the very [`rampart_minbft::Replica`] and
//! [`rampart_minbft::Client`] state machines that a replica protection domain runs, through
//! every interleaving of a small cluster (n = 3, f = 1) with a lossy, duplicating, reordering
//! network, nondeterministic timer expiries and, in some configurations, one Byzantine replica
//! that picks its messages from a finite menu ([`byzantine`]). Stateright explores every
//! reachable state (breadth first) and checks the properties of [`properties`] in each.
//!
//! # What it guarantees
//! When a check passes, no reachable state of that configuration (within its fault budgets and
//! view bound) breaks agreement, validity, exactly-once execution or client safety, the
//! replica core never panics, and from every quiescent reachable state a synchronous,
//! fault-free continuation completes every client's workload. See `README.md` for the exact
//! statements and for what is not covered.
//!
//! # Limits
//! Every source of nondeterminism is bounded by a budget in [`config::ModelConfig`] (drops,
//! duplications, premature timer expiries, Byzantine actions, views), so the state space is
//! finite.

pub mod byzantine;
pub mod config;
pub mod format;
pub mod liveness;
pub mod model;
pub mod properties;
pub mod run;

pub use config::ModelConfig;
pub use model::{MinBftModel, State};
