//! The client library: sans-IO, like the replica.
//!
//! # Purpose
//! A [`Client`] issues one request at a time. It sends it to the replica it believes is the
//! primary, and on every expiry of its retransmission timer broadcasts it to all replicas (so
//! backups learn of it and start their own timers against a faulty primary). It accepts a result
//! once f+1 replicas sent matching, correctly tagged replies: at least one of them is correct,
//! so the result is the one the agreed order produced.
//!
//! # Guarantees and refusals
//! - Request ids strictly increase (from [`ClientConfig::first_request_id`]); a restarted client
//!   must be configured past every id it used before, or its requests are answered from the
//!   replicas' reply caches.
//! - Replies with a bad tag, for another request, or from an unknown replica are ignored.
//! - [`Client::submit`] refuses while a request is outstanding.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use crate::auth::{self, Key, MacKey};
use crate::wire::{ClientId, Message, ReplicaId, Reply, Request};

/// Configuration of one client.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientConfig {
    pub id: ClientId,
    pub n: u32,
    pub f: u32,
    /// `keys[r]`: the key shared with replica `r`.
    pub keys: Vec<Key>,
    pub retransmit_timeout_ms: u64,
    pub first_request_id: u64,
}

/// What the client asks its wrapper to do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ClientAction {
    Send {
        to: ReplicaId,
        message: Message,
    },
    Broadcast {
        message: Message,
    },
    SetTimer {
        duration_ms: u64,
    },
    CancelTimer,
    /// The request completed with this result (agreed by f+1 replicas).
    Done {
        request_id: u64,
        result: Vec<u8>,
    },
}

/// Why [`Client::submit`] refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubmitError {
    Busy,
    OperationTooLarge,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Outstanding {
    request: Request,
    /// replica -> result it replied.
    replies: BTreeMap<ReplicaId, Vec<u8>>,
}

/// A MinBFT client.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Client {
    config: ClientConfig,
    macs: Vec<MacKey>,
    next_request_id: u64,
    /// The highest view seen in an accepted reply: where the primary probably is.
    view_hint: u64,
    outstanding: Option<Outstanding>,
}

impl Client {
    pub fn new(config: ClientConfig) -> Client {
        assert_eq!(config.keys.len(), config.n as usize, "one key per replica");
        let macs = config.keys.iter().map(MacKey::new).collect();
        Client { macs, next_request_id: config.first_request_id.max(1), view_hint: 0, outstanding: None, config }
    }
    pub fn id(&self) -> ClientId {
        self.config.id
    }
    pub fn is_busy(&self) -> bool {
        self.outstanding.is_some()
    }
    /// The outstanding request, if any.
    pub fn outstanding(&self) -> Option<&Request> {
        self.outstanding.as_ref().map(|o| &o.request)
    }

    /// Starts a request for `operation`.
    pub fn submit(&mut self, operation: Vec<u8>) -> Result<Vec<ClientAction>, SubmitError> {
        if self.outstanding.is_some() {
            return Err(SubmitError::Busy);
        }
        if operation.len() > crate::wire::OPERATION_SIZE_MAX_BYTES {
            return Err(SubmitError::OperationTooLarge);
        }
        let request_id = self.next_request_id;
        self.next_request_id += 1;
        let authenticator = auth::request_authenticator(&self.macs, self.config.id, request_id, &operation);
        let request = Request { client: self.config.id, request_id, operation, authenticator };
        let primary = ReplicaId((self.view_hint % self.config.n as u64) as u32);
        let actions = alloc::vec![
            ClientAction::Send { to: primary, message: Message::Request(request.clone()) },
            ClientAction::SetTimer { duration_ms: self.config.retransmit_timeout_ms },
        ];
        self.outstanding = Some(Outstanding { request, replies: BTreeMap::new() });
        Ok(actions)
    }

    /// The retransmission timer expired: broadcast the outstanding request.
    pub fn on_timer(&mut self) -> Vec<ClientAction> {
        match &self.outstanding {
            None => Vec::new(),
            Some(o) => alloc::vec![
                ClientAction::Broadcast { message: Message::Request(o.request.clone()) },
                ClientAction::SetTimer { duration_ms: self.config.retransmit_timeout_ms },
            ],
        }
    }

    /// A reply arrived from replica `from` (transport-level id).
    pub fn on_reply(&mut self, from: ReplicaId, reply: Reply) -> Vec<ClientAction> {
        let Some(o) = &mut self.outstanding else {
            return Vec::new();
        };
        if reply.replica != from || from.0 >= self.config.n {
            return Vec::new();
        }
        if reply.client != self.config.id || reply.request_id != o.request.request_id {
            return Vec::new();
        }
        if !auth::verify_reply(&self.macs[from.0 as usize], &reply) {
            return Vec::new();
        }
        self.view_hint = self.view_hint.max(reply.view);
        o.replies.insert(from, reply.result.clone());
        let matching = o.replies.values().filter(|r| **r == reply.result).count();
        if matching > self.config.f as usize {
            let request_id = o.request.request_id;
            self.outstanding = None;
            return alloc::vec![ClientAction::CancelTimer, ClientAction::Done { request_id, result: reply.result }];
        }
        Vec::new()
    }
}
