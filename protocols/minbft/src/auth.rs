//! Client authenticators: PBFT-style MAC vectors.
//!
//! # Purpose
//! A client shares one 32-byte key with each replica. A [`Request`] carries one HMAC-SHA256 tag
//! per replica ([`request_authenticator`]); replica `r` checks entry `r` only. A [`Reply`] carries
//! one tag under the key of its (client, replica) pair. This is what makes *validity* hold: a
//! Byzantine replica (or primary) cannot make up a request that a correct replica accepts, because
//! it does not hold the key that client shares with that correct replica.
//!
//! # Guarantees and refusals
//! - Tags cover a domain tag, the client id, the request id and the operation (for replies: the
//!   replica, view, client, request id and result), with fixed-width integers, so distinct
//!   messages never share tagged bytes.
//! - Verification is constant-time in the tag (via `hmac`'s `verify_slice`).
//! - A request whose authenticator does not have exactly `n` entries is refused.
//! - Known limit (as in PBFT): a Byzantine *client* can send tags that satisfy some replicas and
//!   not others; a primary that proposes such a request is then suspected by the others. This
//!   costs a view change, never safety.

use alloc::vec::Vec;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::wire::{ClientId, ReplicaId, Reply, Request, Tag};

/// A key shared between one client and one replica.
pub type Key = [u8; 32];

const DOMAIN_REQUEST: &[u8; 16] = b"rampart-mbft-req";
const DOMAIN_REPLY: &[u8; 16] = b"rampart-mbft-rep";

fn mac(key: &Key) -> Hmac<Sha256> {
    // HMAC accepts keys of any length; 32 bytes cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length")
}

/// A key with its HMAC-SHA256 state precomputed (the inner and outer pads hashed once), so each
/// tag costs two fewer SHA-256 blocks. Compares, hashes and prints as its key's identity only.
#[derive(Clone)]
pub struct MacKey {
    key: Key,
    state: Hmac<Sha256>,
}

impl MacKey {
    pub fn new(key: &Key) -> MacKey {
        MacKey { key: *key, state: mac(key) }
    }
    /// A fresh MAC computation under this key.
    pub fn mac(&self) -> Hmac<Sha256> {
        self.state.clone()
    }
}

impl PartialEq for MacKey {
    fn eq(&self, other: &MacKey) -> bool {
        self.key == other.key
    }
}
impl Eq for MacKey {}
impl core::hash::Hash for MacKey {
    fn hash<H: core::hash::Hasher>(&self, h: &mut H) {
        self.key.hash(h)
    }
}
impl core::fmt::Debug for MacKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("MacKey(..)")
    }
}

fn request_mac(key: &MacKey, client: ClientId, request_id: u64, operation: &[u8]) -> Hmac<Sha256> {
    let mut m = key.mac();
    m.update(DOMAIN_REQUEST);
    m.update(&client.0.to_le_bytes());
    m.update(&request_id.to_le_bytes());
    m.update(&(operation.len() as u64).to_le_bytes());
    m.update(operation);
    m
}

fn reply_mac(key: &MacKey, reply: &Reply) -> Hmac<Sha256> {
    let mut m = key.mac();
    m.update(DOMAIN_REPLY);
    m.update(&reply.replica.0.to_le_bytes());
    m.update(&reply.view.to_le_bytes());
    m.update(&reply.client.0.to_le_bytes());
    m.update(&reply.request_id.to_le_bytes());
    m.update(&(reply.result.len() as u64).to_le_bytes());
    m.update(&reply.result);
    m
}

/// The authenticator vector for a request: entry `r` under `keys[r]`.
pub fn request_authenticator(keys: &[MacKey], client: ClientId, request_id: u64, operation: &[u8]) -> Vec<Tag> {
    keys.iter().map(|k| request_mac(k, client, request_id, operation).finalize().into_bytes().into()).collect()
}

/// Does entry `me` of the request's authenticator verify under `key` (shared by the client and
/// replica `me`), and does the vector have exactly `n` entries?
pub fn verify_request(key: &MacKey, me: ReplicaId, n: usize, request: &Request) -> bool {
    if request.authenticator.len() != n {
        return false;
    }
    let Some(tag) = request.authenticator.get(me.0 as usize) else {
        return false;
    };
    request_mac(key, request.client, request.request_id, &request.operation).verify_slice(tag).is_ok()
}

/// The tag of a reply (its `authenticator` field is ignored).
pub fn reply_tag(key: &MacKey, reply: &Reply) -> Tag {
    reply_mac(key, reply).finalize().into_bytes().into()
}

/// Does the reply's tag verify under `key`?
pub fn verify_reply(key: &MacKey, reply: &Reply) -> bool {
    reply_mac(key, reply).verify_slice(&reply.authenticator).is_ok()
}

/// Derives the (client, replica) key from a master secret: a convenience for tests, simulations
/// and single-operator deployments. Production deployments may provision keys any other way.
pub fn derive_key(master: &Key, client: ClientId, replica: ReplicaId) -> Key {
    let mut m = mac(master);
    m.update(b"rampart-mbft-key");
    m.update(&client.0.to_le_bytes());
    m.update(&replica.0.to_le_bytes());
    m.finalize().into_bytes().into()
}
