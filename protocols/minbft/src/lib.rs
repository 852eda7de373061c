//! MinBFT (Veronese, Correia, Bessani, Lung, Verissimo, "Efficient Byzantine Fault-Tolerance",
//! IEEE Transactions on Computers 62(1), 2013): Byzantine fault-tolerant state machine
//! replication with 2f+1 replicas, made possible by a trusted monotonic counter (the USIG) that
//! stops a replica from sending two different messages with the same counter.
//!
//! This crate is the protocol, sans IO: `no_std` + `alloc`, deterministic, no clocks, no
//! randomness. The replica protection domain, the simulator (`tests/`) and the model checker
//! (`proofs/`) drive the same [`Replica`] and [`Client`] state machines.
//!
//! - [`wire`]: the messages, their digests and their bounded, versioned encoding.
//! - [`replica`]: the replica core (normal case with batching and pipelining, checkpoints and
//!   garbage collection, view change, state transfer, counted rejections).
//! - [`client`]: the client library (f+1 matching replies, retransmission).
//! - [`auth`]: client MAC authenticators.
//! - [`app`]: the [`Application`] trait and the [`KvStore`] it ships with.
//! - [`usig_port`]: the [`UsigPort`] trait through which the core reaches its USIG, and the
//!   in-memory [`MemUsig`] for tests and model checking.
//!
//! What it guarantees, what it refuses and where it deviates from the paper: see each module and
//! the crate's `README.md`.
#![no_std]
#![forbid(unsafe_code)]
// `u64::is_multiple_of` is newer than the workspace's rust-version (1.85).
#![allow(clippy::manual_is_multiple_of)]

extern crate alloc;

pub mod app;
pub mod auth;
pub mod client;
pub mod replica;
pub mod usig_port;
pub mod wire;

pub use app::{Application, KvOp, KvResult, KvStore};
pub use client::{Client, ClientAction, ClientConfig};
pub use replica::{Action, Config, Input, Peer, Reason, Rejections, Replica, TimerKind};
pub use usig_port::{MemUsig, UsigFault, UsigPort};
pub use wire::{ClientId, Message, ReplicaId};
