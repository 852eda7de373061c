//! The protected procedure between a replica and its USIG PD: requests, responses, their wire
//! format, and the request handler the USIG PD runs ([`Service`]).
//!
//! # Wire format
//! A runtime message is a label (u64) and up to [`PP_MESSAGE_MAX_WORDS`] u64 words. A request or
//! response is encoded as bytes `[PP_WIRE_VERSION, postcard(value)...]`, packed little-endian into
//! the words (the last word zero-padded); the label is the number of meaningful bytes. Every
//! encoding fits: the `*_ENCODED_MAX_BYTES` constants bound each value, and compile-time asserts
//! check them against [`PP_MESSAGE_MAX_BYTES`].
//!
//! # What decoding guarantees and refuses
//! Decoding never panics. It refuses a label above [`PP_MESSAGE_MAX_BYTES`] or beyond the words
//! given, nonzero padding, a wrong version byte, a postcard body that does not decode, and
//! trailing bytes after the value. So each value has exactly one accepted encoding.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

use crate::{Acceptance, AnnouncementError, Digest, EpochAnnouncement, Ui, Usig, UsigError, Verifier, VerifyError};

/// Version byte leading every encoded request and response. Bumped on any incompatible change.
pub const PP_WIRE_VERSION: u8 = 1;
/// Words in one runtime message (the runtime's limit).
pub const PP_MESSAGE_MAX_WORDS: usize = 64;
/// Bytes in one runtime message: [`PP_MESSAGE_MAX_WORDS`] * 8.
pub const PP_MESSAGE_MAX_BYTES: usize = PP_MESSAGE_MAX_WORDS * 8;

/// Most bytes of a postcard-encoded [`Ui`]: usig varint(u32) 5 + epoch varint(u64) 10 + counter
/// varint(u64) 10 + certificate tag 1 + certificate 64.
pub const UI_ENCODED_MAX_BYTES: usize = 5 + 10 + 10 + 1 + 64;
/// Most bytes of a postcard-encoded [`EpochAnnouncement`]: usig 5 + epoch 10 + credential tag 1 +
/// credential 32 + signature 64.
pub const ANNOUNCEMENT_ENCODED_MAX_BYTES: usize = 5 + 10 + 1 + 32 + 64;
/// Most bytes of an encoded [`UsigRequest`], version byte included: version 1 + variant tag 1 +
/// the largest variant (VerifyUi and VerifyUiAnyEpoch: digest 32 + UI).
pub const REQUEST_ENCODED_MAX_BYTES: usize = 1 + 1 + max(32 + UI_ENCODED_MAX_BYTES, ANNOUNCEMENT_ENCODED_MAX_BYTES);
/// Most bytes of an encoded [`UsigResponse`], version byte included: version 1 + variant tag 1 +
/// the largest variant (Announcement).
pub const RESPONSE_ENCODED_MAX_BYTES: usize = 1 + 1 + max(UI_ENCODED_MAX_BYTES, ANNOUNCEMENT_ENCODED_MAX_BYTES);

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

const _: () = assert!(REQUEST_ENCODED_MAX_BYTES <= PP_MESSAGE_MAX_BYTES);
const _: () = assert!(RESPONSE_ENCODED_MAX_BYTES <= PP_MESSAGE_MAX_BYTES);

/// What a replica asks of its USIG PD.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UsigRequest {
    /// Certify this digest with the next counter.
    CreateUi { digest: Digest },
    /// Check a (peer's) UI over this digest (the way HMAC UIs are verified).
    VerifyUi { digest: Digest, ui: Ui },
    /// Return this USIG's current epoch announcement, for the replica to broadcast.
    Announcement,
    /// Accept a peer's epoch announcement into the USIG PD's verifier.
    AcceptAnnouncement { announcement: EpochAnnouncement },
    /// Check a UI over this digest in its USIG's current epoch or one of the earlier epochs the
    /// verifier accepted and still remembers ([`Verifier::verify_ui_any_epoch`]).
    VerifyUiAnyEpoch { digest: Digest, ui: Ui },
}

/// What the USIG PD answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UsigResponse {
    /// The UI for a `CreateUi` request.
    Ui(Ui),
    /// The UI of a `VerifyUi` or `VerifyUiAnyEpoch` request verifies.
    Verified,
    /// The UI of a `VerifyUi` or `VerifyUiAnyEpoch` request does not verify, and why.
    Rejected(VerifyError),
    /// This USIG's current epoch announcement.
    Announcement(EpochAnnouncement),
    /// An `AcceptAnnouncement` request was accepted.
    AnnouncementAccepted(Acceptance),
    /// An `AcceptAnnouncement` request was refused, and why.
    AnnouncementRefused(AnnouncementError),
    /// `CreateUi` failed (the epoch's counters are exhausted).
    Failed(UsigError),
    /// The request did not decode.
    MalformedRequest(DecodeError),
}

/// Why a message did not encode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum EncodeError {
    /// The value does not fit in one message (cannot happen for values of this crate's types; the
    /// size constants say why).
    TooLarge,
}

/// Why words or bytes did not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DecodeError {
    /// The label (byte length) exceeds [`PP_MESSAGE_MAX_BYTES`] or the words given.
    BadLength,
    /// Padding bytes after the label's length are not zero.
    NonzeroPadding,
    /// No version byte, or not [`PP_WIRE_VERSION`].
    BadVersion,
    /// The body is not a valid postcard encoding of the expected type.
    BadBody,
    /// Bytes remain after the value.
    TrailingBytes,
    /// The body decodes but is not the canonical (shortest) encoding of its value.
    NonCanonical,
}

/// An encoded message: the label and the words, of which the first `word_count` are meaningful.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PpMessage {
    /// The number of meaningful bytes, at most [`PP_MESSAGE_MAX_BYTES`].
    pub label: u64,
    pub words: [u64; PP_MESSAGE_MAX_WORDS],
    /// Words carrying the message: `ceil(label / 8)`.
    pub word_count: usize,
}

impl PpMessage {
    /// The meaningful words.
    pub fn words(&self) -> &[u64] {
        &self.words[..self.word_count]
    }
}

fn encode_bytes<T: Serialize>(value: &T, buf: &mut [u8; PP_MESSAGE_MAX_BYTES]) -> Result<usize, EncodeError> {
    buf[0] = PP_WIRE_VERSION;
    let body = postcard::to_slice(value, &mut buf[1..]).map_err(|_| EncodeError::TooLarge)?;
    Ok(1 + body.len())
}

fn encode_words<T: Serialize>(value: &T) -> Result<PpMessage, EncodeError> {
    let mut buf = [0u8; PP_MESSAGE_MAX_BYTES];
    let len = encode_bytes(value, &mut buf)?;
    let mut words = [0u64; PP_MESSAGE_MAX_WORDS];
    for (word, chunk) in words.iter_mut().zip(buf.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *word = u64::from_le_bytes(b);
    }
    Ok(PpMessage { label: len as u64, words, word_count: len.div_ceil(8) })
}

fn decode_bytes<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    if bytes.len() > PP_MESSAGE_MAX_BYTES {
        return Err(DecodeError::BadLength);
    }
    match bytes.split_first() {
        Some((&PP_WIRE_VERSION, body)) => {
            let (value, rest) = postcard::take_from_bytes::<T>(body).map_err(|_| DecodeError::BadBody)?;
            if !rest.is_empty() {
                return Err(DecodeError::TrailingBytes);
            }
            // postcard accepts overlong varints; re-encoding and comparing refuses them, so a
            // value has exactly one accepted encoding (no malleable messages).
            let mut again = [0u8; PP_MESSAGE_MAX_BYTES];
            match postcard::to_slice(&value, &mut again[1..]) {
                Ok(canonical) if canonical == body => Ok(value),
                _ => Err(DecodeError::NonCanonical),
            }
        }
        _ => Err(DecodeError::BadVersion),
    }
}

fn decode_words<T: Serialize + DeserializeOwned>(label: u64, words: &[u64]) -> Result<T, DecodeError> {
    let len = usize::try_from(label).map_err(|_| DecodeError::BadLength)?;
    if len > PP_MESSAGE_MAX_BYTES || len > words.len().saturating_mul(8) {
        return Err(DecodeError::BadLength);
    }
    let mut buf = [0u8; PP_MESSAGE_MAX_BYTES];
    let used = len.div_ceil(8);
    for (chunk, word) in buf.chunks_exact_mut(8).zip(&words[..used]) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    if buf[len..used * 8].iter().any(|&b| b != 0) {
        return Err(DecodeError::NonzeroPadding);
    }
    decode_bytes(&buf[..len])
}

impl UsigRequest {
    /// Encode into a runtime message.
    pub fn encode(&self) -> Result<PpMessage, EncodeError> {
        encode_words(self)
    }
    /// Decode from a runtime message's label and words (extra words past the label are ignored).
    pub fn decode(label: u64, words: &[u64]) -> Result<UsigRequest, DecodeError> {
        decode_words(label, words)
    }
    /// Encode as bytes (`[version, postcard...]`) into `buf`; returns the length.
    pub fn encode_bytes(&self, buf: &mut [u8; PP_MESSAGE_MAX_BYTES]) -> Result<usize, EncodeError> {
        encode_bytes(self, buf)
    }
    /// Decode from bytes (`[version, postcard...]`), the whole slice being the message.
    pub fn decode_bytes(bytes: &[u8]) -> Result<UsigRequest, DecodeError> {
        decode_bytes(bytes)
    }
}

impl UsigResponse {
    /// Encode into a runtime message.
    pub fn encode(&self) -> Result<PpMessage, EncodeError> {
        encode_words(self)
    }
    /// Decode from a runtime message's label and words (extra words past the label are ignored).
    pub fn decode(label: u64, words: &[u64]) -> Result<UsigResponse, DecodeError> {
        decode_words(label, words)
    }
    /// Encode as bytes (`[version, postcard...]`) into `buf`; returns the length.
    pub fn encode_bytes(&self, buf: &mut [u8; PP_MESSAGE_MAX_BYTES]) -> Result<usize, EncodeError> {
        encode_bytes(self, buf)
    }
    /// Decode from bytes (`[version, postcard...]`), the whole slice being the message.
    pub fn decode_bytes(bytes: &[u8]) -> Result<UsigResponse, DecodeError> {
        decode_bytes(bytes)
    }
}

/// The USIG PD's request handler: its [`Usig`] and a [`Verifier`] (which, for HMAC, holds the
/// cluster secret). The PD wrapper decodes a call, hands it to [`Service::handle_message`] and
/// replies with what it returns.
#[derive(Debug)]
pub struct Service {
    usig: Usig,
    verifier: Verifier,
}

impl Service {
    /// A service for `usig`; its own announcement is accepted into `verifier` (so the USIG
    /// verifies its own UIs like any peer's). Fails if `verifier` refuses that announcement.
    pub fn new(usig: Usig, mut verifier: Verifier) -> Result<Service, AnnouncementError> {
        verifier.accept_announcement(usig.announcement())?;
        Ok(Service { usig, verifier })
    }

    /// Answer one request.
    pub fn handle(&mut self, request: &UsigRequest) -> UsigResponse {
        match request {
            UsigRequest::CreateUi { digest } => match self.usig.create_ui(digest) {
                Ok(ui) => UsigResponse::Ui(ui),
                Err(e) => UsigResponse::Failed(e),
            },
            UsigRequest::VerifyUi { digest, ui } => match self.verifier.verify_ui(digest, ui) {
                Ok(()) => UsigResponse::Verified,
                Err(e) => UsigResponse::Rejected(e),
            },
            UsigRequest::VerifyUiAnyEpoch { digest, ui } => match self.verifier.verify_ui_any_epoch(digest, ui) {
                Ok(()) => UsigResponse::Verified,
                Err(e) => UsigResponse::Rejected(e),
            },
            UsigRequest::Announcement => UsigResponse::Announcement(self.usig.announcement().clone()),
            UsigRequest::AcceptAnnouncement { announcement } => match self.verifier.accept_announcement(announcement) {
                Ok(a) => UsigResponse::AnnouncementAccepted(a),
                Err(e) => UsigResponse::AnnouncementRefused(e),
            },
        }
    }

    /// Decode a call's label and words, answer it, and encode the reply.
    pub fn handle_message(&mut self, label: u64, words: &[u64]) -> PpMessage {
        let response = match UsigRequest::decode(label, words) {
            Ok(request) => self.handle(&request),
            Err(e) => UsigResponse::MalformedRequest(e),
        };
        // Every response fits by construction (RESPONSE_ENCODED_MAX_BYTES is asserted above).
        response.encode().expect("responses fit in one message")
    }

    /// The USIG.
    pub fn usig(&self) -> &Usig {
        &self.usig
    }

    /// The verifier.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}
