//! Records on the pipes between a hosted PD and the supervisor.
//!
//! Each record is written with one `write` of at most [`MAX_RECORD_BYTES`] (< PIPE_BUF), so
//! records from a dying process are never torn. Layout: kind (u8), a (u8), b (u16, LE),
//! value (u64, LE), text length (u16, LE), text (UTF-8, at most [`MAX_TEXT_BYTES`]).

use rampart_supervision::{Decision, FaultKind};
use std::string::String;
use std::vec::Vec;

/// Largest record, in bytes; below Linux's PIPE_BUF (4096) so writes are atomic.
pub const MAX_RECORD_BYTES: usize = 1024;
/// Longest text in a record (a panic message is cut to this).
pub const MAX_TEXT_BYTES: usize = MAX_RECORD_BYTES - HEADER_BYTES;
const HEADER_BYTES: usize = 1 + 1 + 2 + 8 + 2;
/// Size of a record without text (every record the supervisor sends a parent): a reader whose
/// buffer is a multiple of it never cuts one, because each is written whole.
pub const TEXTLESS_RECORD_BYTES: usize = HEADER_BYTES;

/// What a record says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// PD → supervisor: init returned; the PD is confined and serving.
    InitDone,
    /// PD → supervisor: end the whole system with this status.
    ExitSystem { status: u8 },
    /// PD → supervisor: the PD panicked (it exits right after).
    Panic { message: String },
    /// PD → supervisor: a memory fault at an address (it exits right after).
    MemoryFault { addr: u64, signal: u8 },
    /// PD → supervisor: the PD used a capability it does not have (it exits right after).
    Violation { message: String },
    /// Parent PD → supervisor: what to do with faulted child `child`.
    ChildDecision { child: u8, decision: Decision },
    /// Supervisor → parent PD: child `child` faulted.
    ChildFault { child: u8, kind: FaultKind, code: u64 },
}

impl Record {
    /// Encode a record without text into `buf` (no allocation: usable in a signal handler).
    pub fn encode_into<'b>(&self, buf: &'b mut [u8; 32]) -> &'b [u8] {
        let (kind, a, value) = match self {
            Record::MemoryFault { addr, signal } => (4, *signal, *addr),
            Record::InitDone => (1, 0, 0),
            Record::ExitSystem { status } => (2, *status, 0),
            _ => (0, 0, 0),
        };
        buf[0] = kind;
        buf[1] = a;
        buf[2..4].copy_from_slice(&0u16.to_le_bytes());
        buf[4..12].copy_from_slice(&value.to_le_bytes());
        buf[12..14].copy_from_slice(&0u16.to_le_bytes());
        &buf[..HEADER_BYTES]
    }

    pub fn encode(&self) -> Vec<u8> {
        let (kind, a, b, value, text): (u8, u8, u16, u64, &str) = match self {
            Record::InitDone => (1, 0, 0, 0, ""),
            Record::ExitSystem { status } => (2, *status, 0, 0, ""),
            Record::Panic { message } => (3, 0, 0, 0, message),
            Record::MemoryFault { addr, signal } => (4, *signal, 0, *addr, ""),
            Record::Violation { message } => (5, 0, 0, 0, message),
            Record::ChildDecision { child, decision } => (6, *child, u16::from(decision.code()), 0, ""),
            Record::ChildFault { child, kind, code } => (7, *child, u16::from(kind.code()), *code, ""),
        };
        let mut cut = text.len().min(MAX_TEXT_BYTES);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut out = Vec::with_capacity(HEADER_BYTES + cut);
        out.push(kind);
        out.push(a);
        out.extend_from_slice(&b.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
        out.extend_from_slice(&(cut as u16).to_le_bytes());
        out.extend_from_slice(&text.as_bytes()[..cut]);
        out
    }

    /// How many bytes the record at the front of `bytes` has in all, as far as its header tells:
    /// [`HEADER_BYTES`] until the header is there. A reader that buffers at most this many bytes
    /// never holds more than one record.
    pub fn bytes_needed(bytes: &[u8]) -> usize {
        if bytes.len() < HEADER_BYTES {
            return HEADER_BYTES;
        }
        HEADER_BYTES + usize::from(u16::from_le_bytes([bytes[12], bytes[13]])).min(MAX_TEXT_BYTES)
    }

    /// Decode one record from the front of `bytes`: the record and the bytes it used, `Ok(None)`
    /// when more bytes are needed, `Err` when the bytes are not a record.
    pub fn decode(bytes: &[u8]) -> Result<Option<(Record, usize)>, &'static str> {
        if bytes.len() < HEADER_BYTES {
            return Ok(None);
        }
        let (kind, a) = (bytes[0], bytes[1]);
        let b = u16::from_le_bytes([bytes[2], bytes[3]]);
        let mut v = [0u8; 8];
        v.copy_from_slice(&bytes[4..12]);
        let value = u64::from_le_bytes(v);
        let len = usize::from(u16::from_le_bytes([bytes[12], bytes[13]]));
        if len > MAX_TEXT_BYTES {
            return Err("record text too long");
        }
        if bytes.len() < HEADER_BYTES + len {
            return Ok(None);
        }
        // Invalid UTF-8 becomes U+FFFD, which may make the text longer: cut it back to the limit,
        // so that a decoded record's text is within MAX_TEXT_BYTES as an encoded one's is.
        let mut text = String::from_utf8_lossy(&bytes[HEADER_BYTES..HEADER_BYTES + len]).into_owned();
        let mut cut = text.len().min(MAX_TEXT_BYTES);
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        let r = match kind {
            1 => Record::InitDone,
            2 => Record::ExitSystem { status: a },
            3 => Record::Panic { message: text },
            4 => Record::MemoryFault { addr: value, signal: a },
            5 => Record::Violation { message: text },
            6 => Record::ChildDecision { child: a, decision: Decision::from_code(u64::from(b)).ok_or("unknown decision")? },
            7 => Record::ChildFault { child: a, kind: FaultKind::from_code(u64::from(b)).ok_or("unknown fault kind")?, code: value },
            _ => return Err("unknown record kind"),
        };
        Ok(Some((r, HEADER_BYTES + len)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_long_text_is_cut_on_a_char_boundary() {
        let long: String = core::iter::repeat('é').take(2000).collect();
        for r in [
            Record::InitDone,
            Record::ExitSystem { status: 3 },
            Record::Panic { message: "boom".into() },
            Record::MemoryFault { addr: 0x400_0000, signal: 11 },
            Record::ChildDecision { child: 4, decision: Decision::Restart },
            Record::ChildDecision { child: 5, decision: Decision::Hold },
            Record::ChildFault { child: 1, kind: FaultKind::Confinement, code: 9 },
        ] {
            let bytes = r.encode();
            assert_eq!(Record::decode(&bytes), Ok(Some((r, bytes.len()))));
            assert_eq!(Record::decode(&bytes[..bytes.len() - 1]).map(|o| o.is_some()), Ok(false), "a truncated record needs more bytes");
        }
        let bytes = Record::Panic { message: long }.encode();
        assert!(bytes.len() <= MAX_RECORD_BYTES);
        assert!(matches!(Record::decode(&bytes), Ok(Some((Record::Panic { .. }, _)))));
        assert!(Record::decode(&[99; 20]).is_err());
        // Invalid UTF-8 at the full length grows when replaced; the decoded text keeps the limit.
        let mut raw = Record::Panic { message: "x".repeat(MAX_TEXT_BYTES) }.encode();
        raw[HEADER_BYTES..].fill(0xff);
        let Ok(Some((Record::Panic { message }, _))) = Record::decode(&raw) else { panic!("not a panic record") };
        assert!(message.len() <= MAX_TEXT_BYTES && message.chars().all(|c| c == '\u{fffd}'));
        assert_eq!(
            Record::decode(&Record::Panic { message: message.clone() }.encode()),
            Ok(Some((Record::Panic { message: message.clone() }, HEADER_BYTES + message.len())))
        );
    }
}
