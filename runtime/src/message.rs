//! Messages, channel sets and faults: the values that cross the handler API.

use core::mem::MaybeUninit;

/// Most data words in one protected procedure call or reply (Microkit's limit).
pub const MAX_MESSAGE_WORDS: usize = rampart_spec::MAX_MESSAGE_WORDS;

/// Label of a reply the runtime makes up when the callee faulted or refused the call.
pub const LABEL_CALL_FAILED: u64 = u64::MAX;
/// Label of a reply to a call whose message was malformed.
pub const LABEL_MALFORMED: u64 = u64::MAX - 1;

/// A protected procedure message: a label and up to [`MAX_MESSAGE_WORDS`] words.
///
/// Only `words[..len]` is ever initialised or read: constructors do not zero the other words
/// (a round trip used to zero or copy all 64 words about a dozen times), and equality compares
/// the label and the words in use only.
#[derive(Clone, Copy)]
pub struct Message {
    label: u64,
    len: u8,
    /// Invariant: `words[..len]` is initialised.
    words: [MaybeUninit<u64>; MAX_MESSAGE_WORDS],
}

impl PartialEq for Message {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.label == other.label && self.words() == other.words()
    }
}

impl Eq for Message {}

impl core::fmt::Debug for Message {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Message").field("label", &self.label).field("words", &self.words()).finish()
    }
}

/// A message would have more than [`MAX_MESSAGE_WORDS`] words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyWords {
    pub words: usize,
}

impl Message {
    /// A message with a label and no words.
    #[inline]
    pub const fn new(label: u64) -> Self {
        Message { label, len: 0, words: [MaybeUninit::uninit(); MAX_MESSAGE_WORDS] }
    }

    /// A message with a label and words; more than 64 words is an error.
    #[inline]
    pub fn with_words(label: u64, words: &[u64]) -> Result<Self, TooManyWords> {
        let mut m = Message::new(label);
        m.set_from_fn(label, words.len(), |i| words[i])?;
        Ok(m)
    }

    /// Make this message `label` with `len` words, word `i` being `word(i)`, in place (only the
    /// `len` words are written). More than 64 words is an error and leaves the message as it was.
    #[inline]
    pub(crate) fn set_from_fn(&mut self, label: u64, len: usize, mut word: impl FnMut(usize) -> u64) -> Result<(), TooManyWords> {
        if len > MAX_MESSAGE_WORDS {
            return Err(TooManyWords { words: len });
        }
        for (i, slot) in self.words[..len].iter_mut().enumerate() {
            *slot = MaybeUninit::new(word(i));
        }
        self.label = label;
        self.len = len as u8;
        Ok(())
    }

    #[inline]
    pub const fn label(&self) -> u64 {
        self.label
    }

    #[inline]
    pub fn words(&self) -> &[u64] {
        let len = usize::from(self.len).min(MAX_MESSAGE_WORDS);
        // SAFETY: `words[..len]` is initialised (the field's invariant: every constructor and
        // mutator writes a word before counting it in `len`, and `len` never exceeds 64), and
        // `MaybeUninit<u64>` has the layout of `u64`, so the first `len` elements are `len`
        // valid `u64`s borrowed for as long as `self`.
        unsafe { core::slice::from_raw_parts(self.words.as_ptr().cast::<u64>(), len) }
    }

    /// Word `i`, or 0 past the end (as reading an unset message register).
    #[inline]
    pub fn word(&self, i: usize) -> u64 {
        self.words().get(i).copied().unwrap_or(0)
    }

    /// Append a word; an error when the message is full.
    #[inline]
    pub fn push(&mut self, w: u64) -> Result<(), TooManyWords> {
        let n = usize::from(self.len);
        if n >= MAX_MESSAGE_WORDS {
            return Err(TooManyWords { words: n + 1 });
        }
        self.words[n] = MaybeUninit::new(w);
        self.len += 1;
        Ok(())
    }

    /// Whether the runtime made this reply up because the call failed (see [`LABEL_CALL_FAILED`]).
    #[inline]
    pub const fn is_call_failure(&self) -> bool {
        self.label == LABEL_CALL_FAILED || self.label == LABEL_MALFORMED
    }
}

/// Channel id of the runtime's alarm (see [`crate::clock`]); channel ids proper are 0 to 62.
pub const ALARM_ID: u8 = 63;

/// The set of channels that notified a PD at once (one bit per id, as seL4 badges).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChannelSet(pub u64);

impl ChannelSet {
    pub const EMPTY: ChannelSet = ChannelSet(0);

    pub const fn contains(&self, id: u8) -> bool {
        id < 64 && self.0 & (1 << id) != 0
    }

    /// Whether the alarm set with [`crate::clock::set_alarm`] went off.
    pub const fn alarm(&self) -> bool {
        self.contains(ALARM_ID)
    }

    pub fn insert(&mut self, id: u8) {
        if id < 64 {
            self.0 |= 1 << id;
        }
    }

    pub const fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The ids in the set, lowest first.
    pub fn iter(&self) -> impl Iterator<Item = u8> {
        let bits = self.0;
        (0u8..64).filter(move |i| bits & (1 << i) != 0)
    }
}

/// A child PD, by its id in the parent's `<protection_domain id="...">`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Child(pub u8);

/// Why a PD stopped: the supervision core's type, so that both backends and both supervisors
/// decode the same codes.
pub use rampart_supervision::FaultKind;

/// A fault report, as delivered to a parent's [`crate::Handler::fault`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, defmt::Format)]
pub struct Fault {
    pub kind: FaultKind,
    /// Signal number, exit status or fault address, by kind.
    pub code: u64,
}

/// What a parent decides about a faulted child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Start it again from a pristine image with fresh private memory.
    Restart,
    /// Leave it stopped.
    Stop,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_hold_at_most_64_words() {
        let m = Message::with_words(7, &[1, 2, 3]).unwrap();
        assert_eq!((m.label(), m.words(), m.word(5)), (7, &[1, 2, 3][..], 0));
        assert_eq!(Message::with_words(0, &[0; 65]), Err(TooManyWords { words: 65 }));
        let mut full = Message::with_words(0, &[0; 64]).unwrap();
        assert_eq!(full.push(1), Err(TooManyWords { words: 65 }));
    }

    #[test]
    fn equality_compares_the_label_and_the_words_in_use_only() {
        let mut a = Message::with_words(7, &[1, 2, 3]).unwrap();
        let b = Message::with_words(7, &[1, 2]).unwrap();
        assert_ne!(a, b);
        // Different words past `len` (a longer message cut back by `set_from_fn`) do not count.
        a.set_from_fn(7, 2, |i| [1, 2][i]).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.words(), &[1, 2][..]);
        assert_ne!(a, Message::with_words(8, &[1, 2]).unwrap());
        assert_ne!(b, Message::with_words(7, &[1, 3]).unwrap());
        assert_eq!(Message::new(5), Message::with_words(5, &[]).unwrap());
        let mut c = Message::new(7);
        c.push(1).unwrap();
        c.push(2).unwrap();
        assert_eq!(c, b);
    }

    #[test]
    fn set_from_fn_writes_in_place_and_refuses_too_many_words() {
        let mut m = Message::with_words(1, &[9; 64]).unwrap();
        assert_eq!(m.set_from_fn(2, 65, |_| 0), Err(TooManyWords { words: 65 }));
        assert_eq!(m, Message::with_words(1, &[9; 64]).unwrap());
        m.set_from_fn(3, 1, |i| i as u64 + 4).unwrap();
        assert_eq!((m.label(), m.words(), m.word(1)), (3, &[4][..], 0));
    }

    #[test]
    fn channel_sets_are_badge_bits() {
        let mut s = ChannelSet::EMPTY;
        s.insert(0);
        s.insert(62);
        s.insert(ALARM_ID);
        assert!(s.contains(62) && s.alarm() && !s.contains(1));
        let mut ids = [0u8; 3];
        s.iter().zip(ids.iter_mut()).for_each(|(id, slot)| *slot = id);
        assert_eq!((ids, s.iter().count()), ([0, 62, 63], 3));
    }
}
