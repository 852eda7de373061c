//! What the supervisor hands a hosted PD process: the file descriptors that are its
//! capabilities, and what each one is for.
//!
//! The supervisor writes a [`BootInfo`] (postcard, behind [`BOOTINFO_MAGIC`]) into a sealed memfd
//! at descriptor [`BOOTINFO_FD`]; every descriptor it names is one the supervisor placed in the
//! process. Nothing else is inherited: the PD's authority is exactly this list.

use serde::{Deserialize, Serialize};
use std::string::String;
use std::vec::Vec;

/// The descriptor the boot information is at.
pub const BOOTINFO_FD: i32 = 3;
/// First bytes of the boot information.
pub const BOOTINFO_MAGIC: [u8; 8] = *b"RMPBOOT1";
/// Largest boot information accepted, in bytes.
pub const MAX_BOOTINFO_BYTES: usize = 64 * 1024;
/// Size of each shared page the runtime uses for notifications and calls.
pub const CONTROL_PAGE_BYTES: usize = 4096;

/// A memory region to map at a fixed address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionMap {
    pub name: String,
    pub vaddr: u64,
    pub size_bytes: u64,
    /// A memfd opened read-only unless `write`, so that the mapping cannot be upgraded.
    pub fd: i32,
    pub write: bool,
    pub execute: bool,
}

/// This PD may notify the peer on channel `id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyOut {
    pub id: u8,
    /// Page with the notification counter, writable.
    pub page_fd: i32,
    /// A signal-only end of the peer's wake-up pipe (write only, non-blocking, this PD's own).
    pub peer_wake_fd: i32,
}

/// The peer may notify this PD on channel `id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyIn {
    pub id: u8,
    /// Page with the peer's notification counter, read-only.
    pub page_fd: i32,
}

/// This PD may call the peer on channel `id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallOut {
    pub id: u8,
    /// Request page, writable.
    pub call_page_fd: i32,
    /// Reply page, read-only.
    pub reply_page_fd: i32,
    pub peer_wake_fd: i32,
    /// Wait-only end of the pipe the reply is signalled on.
    pub reply_wake_fd: i32,
}

/// The peer may call this PD on channel `id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallIn {
    pub id: u8,
    /// Request page, read-only.
    pub call_page_fd: i32,
    /// Reply page, writable.
    pub reply_page_fd: i32,
    /// A signal-only end of the caller's reply pipe.
    pub reply_wake_fd: i32,
}

/// Everything a hosted PD starts with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootInfo {
    pub pd_name: String,
    /// The wait-only end of this PD's wake-up pipe: every notification, call and fault event for it signals it.
    pub wake_fd: i32,
    /// Pipe to the supervisor for reports ([`super::control`]).
    pub control_fd: i32,
    /// Pipe to the supervisor for defmt log frames ([`super::logger`]).
    pub log_fd: i32,
    /// Pipe from the supervisor with fault events of this PD's children (non-blocking), if any.
    pub child_faults_fd: Option<i32>,
    /// `CLOCK_MONOTONIC` nanoseconds at system start: [`crate::clock::now_ns`] counts from here.
    pub clock_origin_ns: u64,
    pub regions: Vec<RegionMap>,
    pub notify_out: Vec<NotifyOut>,
    pub notify_in: Vec<NotifyIn>,
    pub calls_out: Vec<CallOut>,
    pub calls_in: Vec<CallIn>,
}

impl BootInfo {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::from(BOOTINFO_MAGIC);
        out.extend_from_slice(&postcard::to_allocvec(self).unwrap_or_default());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<BootInfo, &'static str> {
        if bytes.len() > MAX_BOOTINFO_BYTES {
            return Err("boot information too large");
        }
        let body = bytes.strip_prefix(&BOOTINFO_MAGIC[..]).ok_or("boot information has a bad magic number")?;
        let (info, rest): (BootInfo, _) = postcard::take_from_bytes(body).map_err(|_| "boot information is malformed")?;
        if !rest.is_empty() {
            return Err("boot information has trailing bytes");
        }
        Ok(info)
    }
}
