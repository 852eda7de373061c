//! Messages larger than a ring frame, over `rampart-ring`: chunking, reassembly and a bounded
//! outbox that resumes where a full ring stopped it.
//!
//! A ring carries frames of at most [`rampart_ring::MAX_FRAME_BYTES`]; protocol messages (a
//! MinBFT Prepare with a batch, a state-transfer snapshot) are larger. An [`Outbox`] splits each
//! message into chunks, one per frame: the first chunk starts with [`FLAG_FIRST`] and the
//! message's total length (u32 LE), the last has [`FLAG_LAST`] (a one-chunk message has both),
//! every chunk's payload follows its header. An [`Inbox`] reassembles them.
//!
//! Guarantees and limits:
//! - **Bounded.** An outbox holds at most `queue_messages_max` messages; a message is at most
//!   `message_bytes_max` bytes on both sides. A full outbox refuses a message
//!   ([`OutboxError::Full`]) and the caller decides (MinBFT retransmits, so dropping is safe).
//! - **Resumable.** When the ring fills mid-message, the outbox remembers how far it got and
//!   [`Outbox::pump`] continues from there once the consumer made room (its doorbell).
//! - **No trust in the peer.** The ring never trusts its peer (see rampart-ring); above it, a
//!   chunk sequence that does not add up (a middle chunk without a first, a length over the limit,
//!   more or fewer bytes than announced) is dropped whole and counted in
//!   [`Inbox::malformed`], and reassembly starts again at the next first chunk. A corrupt ring
//!   is reported as [`rampart_ring::RingError::Corrupt`] and the inbox stays failed.
//! - **Fair.** [`Inbox::poll`] reads at most a given number of frames per call.
#![no_std]

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use rampart_ring::{Consumer, Doorbell, Producer, RingError, MAX_FRAME_BYTES};

/// The chunk starts a message; the message's total length follows as a u32 LE.
pub const FLAG_FIRST: u8 = 1;
/// The chunk ends a message.
pub const FLAG_LAST: u8 = 2;
/// Bytes of header on a first chunk (flags + length) and on any other (flags).
pub const FIRST_HEADER_BYTES: usize = 5;
pub const CHUNK_HEADER_BYTES: usize = 1;

/// Why a message was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxError {
    /// The outbox already holds its maximum number of messages.
    Full,
    /// The message is over the size limit (or empty).
    BadSize { len_bytes: usize, max_bytes: usize },
}

/// The sending side of one ring: a bounded queue of messages and the ring's producer.
pub struct Outbox<D: Doorbell> {
    producer: Producer<D>,
    queue: VecDeque<Vec<u8>>,
    /// Bytes of the front message already written into the ring.
    sent_bytes: usize,
    queue_messages_max: usize,
    message_bytes_max: usize,
    chunk_bytes: usize,
}

impl<D: Doorbell> Outbox<D> {
    pub fn new(producer: Producer<D>, queue_messages_max: usize, message_bytes_max: usize) -> Self {
        let chunk_bytes = producer.max_frame_bytes().min(MAX_FRAME_BYTES);
        assert!(chunk_bytes > FIRST_HEADER_BYTES, "a ring too small to carry chunks");
        Outbox { producer, queue: VecDeque::new(), sent_bytes: 0, queue_messages_max, message_bytes_max, chunk_bytes }
    }

    /// Queue `message` and send as much as fits now.
    pub fn push(&mut self, message: Vec<u8>) -> Result<(), OutboxError> {
        if message.is_empty() || message.len() > self.message_bytes_max || message.len() > u32::MAX as usize {
            return Err(OutboxError::BadSize { len_bytes: message.len(), max_bytes: self.message_bytes_max });
        }
        if self.queue.len() >= self.queue_messages_max {
            return Err(OutboxError::Full);
        }
        self.queue.push_back(message);
        Ok(())
    }

    /// Messages waiting (the front one possibly half sent).
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Write queued chunks into the ring until it is full or the queue is empty, then publish
    /// and ring the doorbell if the consumer sleeps. Returns whether the queue is now empty.
    pub fn pump(&mut self) -> Result<bool, RingError> {
        let mut chunk = [0u8; MAX_FRAME_BYTES];
        while let Some(message) = self.queue.front() {
            let first = self.sent_bytes == 0;
            let header = if first { FIRST_HEADER_BYTES } else { CHUNK_HEADER_BYTES };
            let take = (self.chunk_bytes - header).min(message.len() - self.sent_bytes);
            let last = self.sent_bytes + take == message.len();
            chunk[0] = if first { FLAG_FIRST } else { 0 } | if last { FLAG_LAST } else { 0 };
            if first {
                chunk[1..5].copy_from_slice(&(message.len() as u32).to_le_bytes());
            }
            chunk[header..header + take].copy_from_slice(&message[self.sent_bytes..self.sent_bytes + take]);
            match self.producer.try_write_frame(&chunk[..header + take]) {
                Ok(()) => {
                    self.sent_bytes += take;
                    if last {
                        self.queue.pop_front();
                        self.sent_bytes = 0;
                    }
                }
                // The producer flushed what was staged; the consumer's doorbell brings us back.
                Err(RingError::Full) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        self.producer.flush();
        Ok(true)
    }

    pub fn producer(&self) -> &Producer<D> {
        &self.producer
    }
}

/// The receiving side of one ring: reassembles chunks into messages.
pub struct Inbox {
    consumer: Consumer,
    partial: Vec<u8>,
    /// Total length of the message being reassembled; 0 when none is.
    expected_bytes: usize,
    message_bytes_max: usize,
    malformed: u64,
}

impl Inbox {
    pub fn new(consumer: Consumer, message_bytes_max: usize) -> Self {
        Inbox { consumer, partial: Vec::new(), expected_bytes: 0, message_bytes_max, malformed: 0 }
    }

    /// Chunk sequences dropped because they did not add up.
    pub fn malformed(&self) -> u64 {
        self.malformed
    }

    fn reject(&mut self) {
        self.malformed += 1;
        self.partial.clear();
        self.expected_bytes = 0;
    }

    /// Read at most `frames_max` frames; hand every message they complete to `deliver`. Returns
    /// how many frames were read (0: the ring is empty). Call [`Inbox::prepare_wait`] before
    /// sleeping.
    pub fn poll(&mut self, frames_max: usize, mut deliver: impl FnMut(&[u8])) -> Result<usize, RingError> {
        let mut frame = [0u8; MAX_FRAME_BYTES];
        for n in 0..frames_max {
            let Some(len) = self.consumer.try_recv_frame_into(&mut frame)? else {
                return Ok(n);
            };
            let chunk = &frame[..len];
            let Some(&flags) = chunk.first() else {
                self.reject();
                continue;
            };
            let body = if flags & FLAG_FIRST != 0 {
                if self.expected_bytes != 0 {
                    // The previous message never finished.
                    self.reject();
                }
                let Some(total) = chunk.get(1..5).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize) else {
                    self.reject();
                    continue;
                };
                if total == 0 || total > self.message_bytes_max {
                    self.reject();
                    continue;
                }
                self.expected_bytes = total;
                self.partial.clear();
                &chunk[FIRST_HEADER_BYTES..]
            } else {
                if self.expected_bytes == 0 {
                    self.reject();
                    continue;
                }
                &chunk[CHUNK_HEADER_BYTES..]
            };
            if self.partial.len() + body.len() > self.expected_bytes {
                self.reject();
                continue;
            }
            self.partial.extend_from_slice(body);
            if flags & FLAG_LAST != 0 {
                if self.partial.len() == self.expected_bytes {
                    deliver(&self.partial);
                    self.partial.clear();
                    self.expected_bytes = 0;
                } else {
                    self.reject();
                }
            }
        }
        Ok(frames_max)
    }

    /// Announce that this side is about to sleep; see [`Consumer::prepare_wait`].
    pub fn prepare_wait(&mut self) -> Result<rampart_ring::Wait, RingError> {
        self.consumer.prepare_wait()
    }

    pub fn consumer_mut(&mut self) -> &mut Consumer {
        &mut self.consumer
    }
}

/// Both directions between two PDs: this side's ring to the peer (which it formats, or re-attaches
/// to after a restart) and the peer's ring to this side (attached once the peer has formatted it).
pub struct Link<D: Doorbell> {
    outbox: Outbox<D>,
    rx: (*mut u8, usize),
    inbox: Option<Inbox>,
    message_bytes_max: usize,
    resumed: bool,
}

impl<D: Doorbell> Link<D> {
    /// Open the link over the ring this side produces into (`tx`) and the one it consumes from
    /// (`rx`). `tx` is re-attached if it already holds a valid ring (this side restarted: see
    /// [`Link::resumed`]), else formatted. `rx` is attached lazily, at the first [`Link::poll`]
    /// that finds it formatted.
    ///
    /// # Safety
    /// Both regions are valid for reads and writes of their lengths for the life of the link, no
    /// Rust reference into them exists, and no other producer (for `tx`) or consumer (for `rx`)
    /// is attached in this program.
    pub unsafe fn open(
        tx: (*mut u8, usize),
        rx: (*mut u8, usize),
        bell: impl Fn() -> D,
        queue_messages_max: usize,
        message_bytes_max: usize,
    ) -> Result<Self, RingError> {
        // SAFETY: forwarded from the caller.
        let (producer, resumed) = match unsafe { Producer::attach(tx.0, tx.1, bell()) } {
            Ok(p) => (p, true),
            Err(_) => {
                // SAFETY: forwarded from the caller. Attaching failed, so the region holds no
                // ring a consumer could be reading: format it.
                unsafe { rampart_ring::init(tx.0, tx.1) }?;
                // SAFETY: as above.
                (unsafe { Producer::attach(tx.0, tx.1, bell()) }?, false)
            }
        };
        Ok(Link { outbox: Outbox::new(producer, queue_messages_max, message_bytes_max), rx, inbox: None, message_bytes_max, resumed })
    }

    /// Whether this side's ring already existed when the link was opened: this side is a
    /// restarted life of a PD that ran before.
    pub fn resumed(&self) -> bool {
        self.resumed
    }

    /// Queue a message for the peer (see [`Outbox::push`]); call [`Link::pump`] to send.
    pub fn send(&mut self, message: Vec<u8>) -> Result<(), OutboxError> {
        self.outbox.push(message)
    }

    /// Send what is queued, as far as the ring has room (see [`Outbox::pump`]).
    pub fn pump(&mut self) -> Result<bool, RingError> {
        self.outbox.pump()
    }

    /// Messages queued for the peer.
    pub fn queued(&self) -> usize {
        self.outbox.queued()
    }

    /// Read at most `frames_max` frames from the peer (see [`Inbox::poll`]); `Ok(0)` also while
    /// the peer has not formatted its ring yet.
    pub fn poll(&mut self, frames_max: usize, deliver: impl FnMut(&[u8])) -> Result<usize, RingError> {
        if self.inbox.is_none() {
            // SAFETY: `open`'s contract covers `rx` for the life of the link.
            match unsafe { Consumer::attach(self.rx.0, self.rx.1) } {
                Ok(c) => self.inbox = Some(Inbox::new(c, self.message_bytes_max)),
                Err(_) => return Ok(0),
            }
        }
        match &mut self.inbox {
            Some(inbox) => inbox.poll(frames_max, deliver),
            None => Ok(0),
        }
    }

    /// Before sleeping: tell the peer this side waits for its doorbell, and look once more.
    /// `true`: nothing is there, sleep (the peer's next flush rings the doorbell); `false`:
    /// frames arrived meanwhile, poll again. A peer that has not formatted its ring yet will
    /// notify once it has, so that is `true` too.
    pub fn ready_to_sleep(&mut self) -> bool {
        match &mut self.inbox {
            Some(inbox) => !matches!(inbox.prepare_wait(), Ok(rampart_ring::Wait::Ready)),
            None => true,
        }
    }

    /// Chunk sequences from the peer dropped as malformed.
    pub fn malformed(&self) -> u64 {
        self.inbox.as_ref().map_or(0, Inbox::malformed)
    }

    /// Whether the peer's ring has been attached (the peer formatted it and this side polled).
    pub fn attached(&self) -> bool {
        self.inbox.is_some()
    }
}
