//! Layout of the shared pages behind notifications and protected calls.
//!
//! Every field is an atomic: the pages are shared with another process that may write them at
//! any time (and may be faulty), so they are only ever read and written through atomics, never
//! through plain references to non-atomic data.
//!
//! - Notification page (one per direction of a notifying channel end): `count`, incremented by the
//!   sender. The receiver keeps the last count it saw privately; a change means "notified".
//!   The sender maps it writable, the receiver read-only.
//! - Message page (one for requests, one for replies, per protected procedure channel): `seq`,
//!   `label`, `len`, `words`. The writer fills label, len and words (Relaxed), then publishes
//!   with a Release store of `seq`; the reader Acquire-loads `seq`, then copies the rest out and
//!   validates `len` before using it.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::{Message, MAX_MESSAGE_WORDS};

#[repr(C)]
pub struct NotifyPage {
    pub count: AtomicU64,
}

#[repr(C)]
pub struct MessagePage {
    pub seq: AtomicU64,
    pub label: AtomicU64,
    pub len: AtomicU64,
    pub words: [AtomicU64; MAX_MESSAGE_WORDS],
}

const _: () = assert!(core::mem::size_of::<MessagePage>() <= super::bootinfo::CONTROL_PAGE_BYTES);

impl MessagePage {
    /// Write `m` and publish it under `seq`.
    #[inline]
    pub fn publish(&self, seq: u64, m: &Message) {
        self.label.store(m.label(), Ordering::Relaxed);
        self.len.store(m.words().len() as u64, Ordering::Relaxed);
        for (slot, w) in self.words.iter().zip(m.words()) {
            slot.store(*w, Ordering::Relaxed);
        }
        // Release: the label, length and words above are visible to whoever Acquire-loads this seq.
        self.seq.store(seq, Ordering::Release);
    }

    /// The published sequence number.
    #[inline]
    pub fn seq(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }

    /// Copy the message out (after [`MessagePage::seq`] showed it is published). A length over
    /// 64 words, written by a faulty peer, is an error.
    pub fn read(&self) -> Result<Message, u64> {
        let len = self.len.load(Ordering::Relaxed);
        if len > MAX_MESSAGE_WORDS as u64 {
            return Err(len);
        }
        let mut m = Message::new(self.label.load(Ordering::Relaxed));
        // Only the `len` words in use are copied (checked above: at most 64, so this cannot fail).
        m.set_from_fn(m.label(), len as usize, |i| self.words[i].load(Ordering::Relaxed)).map_err(|_| len)?;
        Ok(m)
    }
}
