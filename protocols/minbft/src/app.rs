//! The replicated application interface, and a key-value store that implements it.
//!
//! # Purpose
//! The replica core executes ordered operations through [`Application`]. Its contract:
//! - `execute` is deterministic: the same state and operation give the same result and state on
//!   every replica. It must not panic on any operation bytes (clients are untrusted): malformed
//!   operations yield an error *result*, not a failure.
//! - `snapshot` is canonical: equal states give equal bytes; `restore(snapshot())` gives back an
//!   equal state; `digest` is a function of the state only.
//! - `restore` of bytes that are not a valid snapshot returns an error and leaves the state as
//!   it was.
//!
//! [`KvStore`] is the application shipped with Rampart: a `BTreeMap`-backed store with put, get,
//! delete and a null operation ([`KvOp`]), limited by [`KV_KEY_SIZE_MAX_BYTES`],
//! [`KV_VALUE_SIZE_MAX_BYTES`] and [`KV_ENTRIES_MAX`].

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use rampart_usig::Digest;
use serde::{Deserialize, Serialize};

/// Why a snapshot was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RestoreError {
    Malformed,
    OverLimit,
    NotCanonical,
}

/// A deterministic replicated state machine (see the module docs for the contract).
pub trait Application {
    fn execute(&mut self, operation: &[u8]) -> Vec<u8>;
    fn snapshot(&self) -> Vec<u8>;
    fn restore(&mut self, snapshot: &[u8]) -> Result<(), RestoreError>;
    fn digest(&self) -> Digest;
}

/// Largest key.
pub const KV_KEY_SIZE_MAX_BYTES: usize = 256;
/// Largest value.
pub const KV_VALUE_SIZE_MAX_BYTES: usize = 1024;
/// Most entries in the store; a put of a new key beyond it fails with [`KvResult::Full`].
pub const KV_ENTRIES_MAX: usize = 65_536;

/// A key-value operation, encoded with postcard ([`KvOp::encode`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KvOp {
    /// Does nothing; returns [`KvResult::Ok`]. The operation of the benchmarks.
    Null,
    Put {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    Get {
        key: Vec<u8>,
    },
    Delete {
        key: Vec<u8>,
    },
}

/// The result of a [`KvOp`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KvResult {
    Ok,
    /// Get: the value, if any. Put and Delete: the previous value, if any.
    Value(Option<Vec<u8>>),
    /// The operation bytes did not decode, or a key or value was over its limit.
    Invalid,
    /// Put of a new key into a store holding [`KV_ENTRIES_MAX`] entries.
    Full,
}

impl KvOp {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }
    pub fn decode(bytes: &[u8]) -> Option<KvOp> {
        match postcard::take_from_bytes::<KvOp>(bytes) {
            Ok((op, [])) => Some(op),
            _ => None,
        }
    }
}

impl KvResult {
    pub fn encode(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }
    pub fn decode(bytes: &[u8]) -> Option<KvResult> {
        match postcard::take_from_bytes::<KvResult>(bytes) {
            Ok((r, [])) => Some(r),
            _ => None,
        }
    }
}

/// A deterministic, `BTreeMap`-backed key-value store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct KvStore {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl KvStore {
    pub fn new() -> KvStore {
        KvStore::default()
    }
    /// Applies a typed operation (what [`Application::execute`] does after decoding).
    pub fn apply(&mut self, op: &KvOp) -> KvResult {
        match op {
            KvOp::Null => KvResult::Ok,
            KvOp::Get { key } => KvResult::Value(self.map.get(key).cloned()),
            KvOp::Put { key, value } => {
                if key.len() > KV_KEY_SIZE_MAX_BYTES || value.len() > KV_VALUE_SIZE_MAX_BYTES {
                    return KvResult::Invalid;
                }
                if !self.map.contains_key(key) && self.map.len() >= KV_ENTRIES_MAX {
                    return KvResult::Full;
                }
                KvResult::Value(self.map.insert(key.clone(), value.clone()))
            }
            KvOp::Delete { key } => KvResult::Value(self.map.remove(key)),
        }
    }
    pub fn len(&self) -> usize {
        self.map.len()
    }
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl Application for KvStore {
    fn execute(&mut self, operation: &[u8]) -> Vec<u8> {
        // Fast path for the null operation (its encoding is the single byte 0).
        if operation == [0] {
            return KvResult::Ok.encode();
        }
        match KvOp::decode(operation) {
            Some(op) => self.apply(&op).encode(),
            None => KvResult::Invalid.encode(),
        }
    }
    fn snapshot(&self) -> Vec<u8> {
        postcard::to_allocvec(&self.map).unwrap_or_default()
    }
    fn restore(&mut self, snapshot: &[u8]) -> Result<(), RestoreError> {
        let (map, rest): (BTreeMap<Vec<u8>, Vec<u8>>, &[u8]) = postcard::take_from_bytes(snapshot).map_err(|_| RestoreError::Malformed)?;
        if !rest.is_empty() {
            return Err(RestoreError::Malformed);
        }
        if map.len() > KV_ENTRIES_MAX || map.iter().any(|(k, v)| k.len() > KV_KEY_SIZE_MAX_BYTES || v.len() > KV_VALUE_SIZE_MAX_BYTES) {
            return Err(RestoreError::OverLimit);
        }
        // Canonical: re-encoding must give the same bytes (no duplicate or unsorted keys).
        if postcard::to_allocvec(&map).map_err(|_| RestoreError::Malformed)? != snapshot {
            return Err(RestoreError::NotCanonical);
        }
        self.map = map;
        Ok(())
    }
    fn digest(&self) -> Digest {
        crate::wire::hash_of(&self.map)
    }
}
