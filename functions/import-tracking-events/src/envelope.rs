//! The queue message contract, and packing encoded events into messages and batches.
//!
//! A message is `{"schema":"tracking-events.v1","import_id":…,"chunk":N,"first_record":A,
//! "last_record":B,"source":{"uri":…,"version":…},"events":[…]}`, filled with as many events
//! as fit in `MAX_MESSAGE_BYTES`. Packing depends only on the encoded events and the limits, so
//! the same file version always yields the same chunks, and a consumer can drop a redelivered
//! chunk by (`import_id`, `chunk`).
//!
//! With `ENVELOPE_ENCODING=gzip` the same header carries `"events_gzip":"…"` instead: the
//! base64 of the gzip (libdeflate, one fixed level) of exactly the `events` array. A message
//! takes as many events as would fit even if they did not compress at all (libdeflate's own
//! bound), so the bytes actually sent never pass the limit, no message is compressed twice, and
//! the chunks and their bytes stay a function of the events alone.

use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use shared::models::ImportedTrackingEvent;

use crate::config::{EnvelopeEncoding, SQS_MAX_ENTRIES};
use crate::state::Mark;

/// The `schema` of every message.
pub const SCHEMA: &str = "tracking-events.v1";

/// The file version a message came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct SourceRef {
    pub uri: String,
    pub version: String,
}

/// One queue message, as consumers read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
// The constraints below document what `Packer` guarantees, for consumers; decoding here stays
// as lenient as before.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(rename = "TrackingEventsMessage"))]
// `events` (ENVELOPE_ENCODING=json) or `events_gzip` (gzip), never both.
#[cfg_attr(
    feature = "schema",
    schemars(extend("oneOf" = [
        {"required": ["events"], "not": {"required": ["events_gzip"]}},
        {"required": ["events_gzip"], "not": {"required": ["events"]}}
    ]))
)]
pub struct Envelope<E = ImportedTrackingEvent> {
    /// The contract version; a consumer meeting another one should not guess at its shape.
    #[cfg_attr(feature = "schema", schemars(extend("const" = SCHEMA)))]
    pub schema: String,
    /// Stable for one source version: the same file imported again has the same id.
    #[cfg_attr(feature = "schema", schemars(extend("format" = "uuid")))]
    pub import_id: String,
    /// 1-based, consecutive within an import.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub chunk: u64,
    /// Record numbers (1-based, header excluded) of the first and last event in the message.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub first_record: u64,
    /// Record number of the last event in the message.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    pub last_record: u64,
    pub source: SourceRef,
    /// Connect `ImportedTrackingEvent`s, in record order (`ENVELOPE_ENCODING=json`, the default).
    #[cfg_attr(feature = "schema", schemars(length(min = 1)))]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<E>,
    /// `ENVELOPE_ENCODING=gzip`: the base64 (RFC 4648, padded) of the gzip of the JSON array
    /// `events` would have held, byte for byte. A message has `events` or `events_gzip`.
    #[cfg_attr(feature = "schema", schemars(extend("contentEncoding" = "base64", "contentMediaType" = "application/gzip")))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_gzip: Option<String>,
}

impl<E: serde::de::DeserializeOwned> Envelope<E> {
    /// The events, decompressed when the message carries them gzip'd.
    pub fn decoded_events(&self) -> Result<Vec<E>, String>
    where
        E: Clone,
    {
        use base64::Engine;
        use std::io::Read;
        let Some(gzip) = &self.events_gzip else {
            return Ok(self.events.clone());
        };
        let compressed = base64::engine::general_purpose::STANDARD
            .decode(gzip)
            .map_err(|e| format!("events_gzip is not base64: {e}"))?;
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(&compressed[..])
            .read_to_end(&mut json)
            .map_err(|e| format!("events_gzip is not gzip: {e}"))?;
        serde_json::from_slice(&json).map_err(|e| format!("events_gzip is not an array: {e}"))
    }
}

/// The import id of a source version: a UUID v5 of its URI and version.
pub fn import_id(source: &SourceRef) -> String {
    let name = format!("{}\n{}", source.uri, source.version);
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes()).to_string()
}

/// A buffer of encoded events (comma-separated JSON), shared by the messages cut from it.
///
/// Messages reference runs of a piece instead of copying them: the only copy of the event bytes
/// is the one a sink makes when it needs a contiguous body. When the last message holding a
/// piece is dropped, its buffer goes back to the encoders for reuse.
pub struct Piece {
    bytes: Vec<u8>,
    recycle: Option<async_channel::Sender<Vec<u8>>>,
}

impl Piece {
    pub fn new(bytes: Vec<u8>, recycle: Option<async_channel::Sender<Vec<u8>>>) -> Arc<Piece> {
        Arc::new(Piece { bytes, recycle })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Piece {
    fn drop(&mut self) {
        if let Some(recycle) = &self.recycle {
            // A full or closed pool just lets the buffer go.
            let _ = recycle.try_send(std::mem::take(&mut self.bytes));
        }
    }
}

impl std::fmt::Debug for Piece {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Piece({} bytes)", self.bytes.len())
    }
}

/// An encoded message ready to send: its envelope head, then its events as runs of pieces.
#[derive(Debug, Clone)]
pub struct Message {
    pub chunk: u64,
    pub first_record: u64,
    pub last_record: u64,
    /// The envelope up to and including `"events":[` (or `"events_gzip":"`).
    head: Vec<u8>,
    /// Contiguous runs of comma-separated events; consecutive runs are joined by a comma.
    /// Dropped once gzip'd, unless the sink writes events one by one.
    runs: Vec<(Arc<Piece>, Range<usize>)>,
    /// Each event as (run index, byte range in that run's piece).
    events: Vec<(usize, Range<usize>)>,
    /// `events_gzip`'s value (base64 text), for a gzip'd message.
    gzip: Option<Vec<u8>>,
    /// Events in the message.
    count: usize,
    len: usize,
}

impl Message {
    /// Size of the body in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Events in the message.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Appends the whole JSON envelope to `out`.
    pub fn write_body(&self, out: &mut Vec<u8>) {
        out.reserve(self.len);
        out.extend_from_slice(&self.head);
        if let Some(gzip) = &self.gzip {
            out.extend_from_slice(gzip);
            out.extend_from_slice(GZIP_TRAILER);
            return;
        }
        self.write_events(out);
        out.extend_from_slice(TRAILER);
    }

    /// The events, comma-separated, as `events` holds them.
    fn write_events(&self, out: &mut impl std::io::Write) {
        for (i, (piece, range)) in self.runs.iter().enumerate() {
            if i > 0 {
                out.write_all(b",").expect("writing to memory");
            }
            out.write_all(&piece.bytes()[range.clone()])
                .expect("writing to memory");
        }
    }

    /// The whole JSON envelope.
    pub fn body(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        self.write_body(&mut out);
        out
    }

    /// Each event's JSON, in record order (none for a gzip'd message whose events were not
    /// kept: see [`Packer::keeping_events`]).
    pub fn events(&self) -> impl Iterator<Item = &[u8]> {
        self.events
            .iter()
            .map(|(run, range)| &self.runs[*run].0.bytes()[range.clone()])
    }
}

/// An event that cannot fit in any message under the configured limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge {
    pub bytes: usize,
    pub limit: usize,
}

#[derive(Serialize)]
struct Header<'a> {
    schema: &'static str,
    import_id: &'a str,
    chunk: u64,
    first_record: u64,
    last_record: u64,
    source: &'a SourceRef,
}

/// Fills messages with encoded events, in record order.
pub struct Packer {
    import_id: String,
    source: SourceRef,
    max_bytes: usize,
    /// The compressor, when messages are gzip'd (`ENVELOPE_ENCODING=gzip`).
    gzip: Option<Gzip>,
    /// A gzip'd message keeps its events' bytes, for a sink that writes them one by one.
    keep_events: bool,
    /// Header size with the widest numbers: what a message must always leave room for.
    header_room: usize,
    /// The most bytes of events (with their commas) a message holds: with gzip, what is bound
    /// to fit however little it compresses.
    events_limit: usize,
    next_chunk: u64,
    runs: Vec<(Arc<Piece>, Range<usize>)>,
    events: Vec<(usize, Range<usize>)>,
    /// Bytes of the events so far, with their separating commas.
    events_len: usize,
    first_record: u64,
    last_record: u64,
}

/// `]}` closing the events array and the envelope.
const TRAILER: &[u8] = b"]}";
/// `"}` closing `events_gzip` and the envelope.
const GZIP_TRAILER: &[u8] = b"\"}";
/// The compression level: fixed, so the same events always make the same bytes.
const GZIP_LEVEL: i32 = 1;

/// libdeflate at [`GZIP_LEVEL`], and its buffers, reused from message to message.
struct Gzip {
    compressor: libdeflater::Compressor,
    /// The events array being compressed: one contiguous input, so that the output depends on
    /// the events alone (not on the pieces they came in, which differ after a resume).
    array: Vec<u8>,
    compressed: Vec<u8>,
}

impl Gzip {
    fn new() -> Gzip {
        let level = libdeflater::CompressionLvl::new(GZIP_LEVEL).expect("a valid level");
        Gzip {
            compressor: libdeflater::Compressor::new(level),
            array: Vec::new(),
            compressed: Vec::new(),
        }
    }

    /// The most bytes `events_gzip` can take for events of `len` bytes (the array's brackets
    /// added): libdeflate's bound for input that does not compress, base64'd.
    fn bound(&mut self, len: usize) -> usize {
        self.compressor.gzip_compress_bound(len + 2).div_ceil(3) * 4
    }

    /// `events_gzip`'s value for `message`: the base64 of the gzip of its events array.
    fn base64(&mut self, message: &Message) -> Vec<u8> {
        use base64::Engine;
        self.array.clear();
        self.array.push(b'[');
        message.write_events(&mut self.array);
        self.array.push(b']');
        self.compressed
            .resize(self.compressor.gzip_compress_bound(self.array.len()), 0);
        let written = self
            .compressor
            .gzip_compress(&self.array, &mut self.compressed)
            .expect("the output is sized by libdeflate's own bound");
        let mut out = vec![0; written.div_ceil(3) * 4];
        let encoded = base64::engine::general_purpose::STANDARD
            .encode_slice(&self.compressed[..written], &mut out)
            .expect("sized for the padded encoding");
        out.truncate(encoded);
        out
    }
}

impl Packer {
    pub fn new(import_id: String, source: SourceRef, max_bytes: usize) -> Packer {
        Packer::encoded(import_id, source, max_bytes, EnvelopeEncoding::Json)
    }

    /// A packer for messages in `encoding`.
    pub fn encoded(
        import_id: String,
        source: SourceRef,
        max_bytes: usize,
        encoding: EnvelopeEncoding,
    ) -> Packer {
        let mut packer = Packer {
            import_id,
            source,
            max_bytes,
            gzip: (encoding == EnvelopeEncoding::Gzip).then(Gzip::new),
            keep_events: false,
            header_room: 0,
            events_limit: 0,
            next_chunk: 1,
            runs: Vec::new(),
            events: Vec::new(),
            events_len: 0,
            first_record: 0,
            last_record: 0,
        };
        packer.header_room = packer.header(u64::MAX, u64::MAX, u64::MAX).len();
        packer.events_limit = packer.events_limit();
        packer
    }

    /// The most bytes of events a message with the widest header holds.
    fn events_limit(&mut self) -> usize {
        let room = self.max_bytes.saturating_sub(self.header_room);
        let Some(gzip) = &mut self.gzip else {
            return room.saturating_sub(TRAILER.len());
        };
        // The largest length whose bound fits; the bound grows with the length.
        let room = room.saturating_sub(GZIP_TRAILER.len());
        let (mut low, mut high) = (0, room);
        while low < high {
            let mid = (low + high).div_ceil(2);
            if gzip.bound(mid) <= room {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        low
    }

    /// Gzip'd messages keep their events' bytes (for [`Message::events`]); they are dropped
    /// once compressed otherwise.
    pub fn keeping_events(mut self, keep: bool) -> Packer {
        self.keep_events = keep;
        self
    }

    /// Continues an import whose first `chunk - 1` chunks were cut by an earlier run.
    pub fn starting_at_chunk(mut self, chunk: u64) -> Packer {
        self.next_chunk = chunk.max(1);
        self
    }

    /// The chunk number the next message gets.
    pub fn next_chunk(&self) -> u64 {
        self.next_chunk
    }

    /// The first record of the message being filled; `None` when it is empty.
    pub fn open_since(&self) -> Option<u64> {
        (!self.events.is_empty()).then_some(self.first_record)
    }

    /// The largest event that fits in an otherwise empty message.
    pub fn max_event_bytes(&self) -> usize {
        self.events_limit
    }

    /// Adds record `record`'s event, the bytes `range` of `piece`. Returns the previous message
    /// when this event did not fit in it.
    pub fn push(
        &mut self,
        record: u64,
        piece: &Arc<Piece>,
        range: Range<usize>,
    ) -> Result<Option<Message>, TooLarge> {
        let len = range.len();
        if len > self.max_event_bytes() {
            return Err(TooLarge {
                bytes: len,
                limit: self.max_event_bytes(),
            });
        }
        let comma = usize::from(!self.events.is_empty());
        if self.events_len + comma + len > self.events_limit {
            let flushed = self.finish();
            self.add(record, piece, range);
            return Ok(flushed);
        }
        self.add(record, piece, range);
        // Most events fill the message: `None` alone is returned, not a moved `Option<Message>`.
        Ok(None)
    }

    /// Puts the event into the message being filled (it fits).
    fn add(&mut self, record: u64, piece: &Arc<Piece>, range: Range<usize>) {
        if self.events.is_empty() {
            self.first_record = record;
        } else {
            self.events_len += 1;
        }
        self.events_len += range.len();
        self.last_record = record;
        // Extend the current run when this event follows it in the same piece (the encoder
        // wrote the separating comma), else start a new run.
        match self.runs.last_mut() {
            Some((p, run)) if Arc::ptr_eq(p, piece) && run.end + 1 == range.start => {
                run.end = range.end;
            }
            _ => self.runs.push((Arc::clone(piece), range.clone())),
        }
        self.events.push((self.runs.len() - 1, range));
    }

    /// Closes the message being filled, if it has any event.
    pub fn finish(&mut self) -> Option<Message> {
        if self.events.is_empty() {
            return None;
        }
        let chunk = self.next_chunk;
        self.next_chunk += 1;
        let head = self.header(chunk, self.first_record, self.last_record);
        let len = head.len() + self.events_len + TRAILER.len();
        self.events_len = 0;
        let mut message = Message {
            chunk,
            first_record: self.first_record,
            last_record: self.last_record,
            head,
            count: self.events.len(),
            runs: std::mem::take(&mut self.runs),
            events: std::mem::take(&mut self.events),
            gzip: None,
            len,
        };
        if let Some(gzip) = &mut self.gzip {
            message.gzip = Some(gzip.base64(&message));
            message.len =
                message.head.len() + message.gzip.as_ref().map_or(0, Vec::len) + GZIP_TRAILER.len();
            if !self.keep_events {
                message.runs = Vec::new();
                message.events = Vec::new();
            }
        }
        Some(message)
    }

    /// The envelope up to and including `"events":[` (`"events_gzip":"` when gzip'd).
    fn header(&self, chunk: u64, first_record: u64, last_record: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.header_room);
        serde_json::to_writer(
            &mut out,
            &Header {
                schema: SCHEMA,
                import_id: &self.import_id,
                chunk,
                first_record,
                last_record,
                source: &self.source,
            },
        )
        .expect("serializing to a Vec cannot fail");
        out.pop(); // the closing brace
        out.extend_from_slice(match self.gzip {
            None => br#","events":["#.as_slice(),
            Some(_) => br#","events_gzip":""#.as_slice(),
        });
        out
    }
}

/// Up to ten messages within the batch byte limit: one SendMessageBatch call.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub messages: Vec<Message>,
    /// The settled point once this batch (and every batch before it) is delivered. A batch
    /// with a mark and no messages only moves the checkpoint (through rejected records).
    pub mark: Option<Mark>,
}

impl Batch {
    pub fn bytes(&self) -> usize {
        self.messages.iter().map(Message::len).sum()
    }
}

/// Groups messages into batches, greedily, in order.
pub struct Batcher {
    max_bytes: usize,
    current: Batch,
    bytes: usize,
}

impl Batcher {
    pub fn new(max_bytes: usize) -> Batcher {
        Batcher {
            max_bytes,
            current: Batch::default(),
            bytes: 0,
        }
    }

    /// Adds a message; returns the previous batch when this one did not fit in it.
    pub fn push(&mut self, message: Message) -> Option<Batch> {
        let full = self.current.messages.len() == SQS_MAX_ENTRIES
            || self.bytes + message.len() > self.max_bytes;
        let flushed = if full { self.finish() } else { None };
        self.bytes += message.len();
        self.current.messages.push(message);
        flushed
    }

    pub fn finish(&mut self) -> Option<Batch> {
        self.bytes = 0;
        (!self.current.messages.is_empty()).then(|| std::mem::take(&mut self.current))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::Value;

    fn source() -> SourceRef {
        SourceRef {
            uri: "s3://b/k \"quoted\".csv".into(),
            version: "etag".into(),
        }
    }

    fn event(n: usize) -> Vec<u8> {
        format!(
            r#"{{"tracking_info":{{"tracking_number":"{}"}}}}"#,
            "x".repeat(n)
        )
        .into_bytes()
    }

    /// Events written the way an encoder writes them: comma-separated in one piece.
    fn piece_of(events: &[Vec<u8>]) -> (Arc<Piece>, Vec<Range<usize>>) {
        let mut bytes = Vec::new();
        let mut ranges = Vec::new();
        for (i, e) in events.iter().enumerate() {
            if i > 0 {
                bytes.push(b',');
            }
            let start = bytes.len();
            bytes.extend_from_slice(e);
            ranges.push(start..bytes.len());
        }
        (Piece::new(bytes, None), ranges)
    }

    /// A message of `len` bytes, for batching tests.
    pub(crate) fn message(chunk: u64, len: usize) -> Message {
        let head = b"{\"events\":[".to_vec();
        let filler = vec![b'1'; len.saturating_sub(head.len() + TRAILER.len())];
        let (piece, ranges) = piece_of(&[filler]);
        Message {
            chunk,
            first_record: chunk * 10 - 9,
            last_record: chunk * 10,
            runs: vec![(piece, ranges[0].clone())],
            events: vec![(0, ranges[0].clone())],
            gzip: None,
            count: 1,
            len,
            head,
        }
    }

    #[test]
    fn import_id_is_the_pinned_uuid_v5_of_uri_and_version() {
        // Consumers deduplicate by (import_id, chunk): the derivation is a contract. These
        // values were computed outside this code (Python's uuid.uuid5(uuid.NAMESPACE_URL,
        // uri + "\n" + version)); see the README's consumer contract.
        assert_eq!(import_id(&source()), "006b84da-6d7e-58f6-9093-adfa2114aafa");
        let mut other = source();
        other.version = "etag2".into();
        assert_eq!(import_id(&other), "12d03b95-d82a-532e-a98c-10b966c8823e");
    }

    #[test]
    fn messages_fill_up_to_the_limit_and_never_past_it() {
        let limit = 2048;
        let mut packer = Packer::new("id".into(), source(), limit);
        let mut messages = Vec::new();
        // Events arrive in pieces of 7, as encoder batches do.
        let all: Vec<Vec<u8>> = (1..=200usize).map(|r| event(r % 90)).collect();
        let mut record = 0;
        for chunk in all.chunks(7) {
            let (piece, ranges) = piece_of(chunk);
            for range in ranges {
                record += 1;
                if let Some(m) = packer.push(record, &piece, range).unwrap() {
                    messages.push(m);
                }
            }
        }
        messages.extend(packer.finish());
        let mut next_record = 1;
        for (i, m) in messages.iter().enumerate() {
            let body = m.body();
            assert_eq!(body.len(), m.len());
            assert!(body.len() <= limit, "message {} is {} bytes", i, body.len());
            let env: Envelope<Value> = serde_json::from_slice(&body).unwrap();
            assert_eq!(env.schema, SCHEMA);
            assert_eq!(env.chunk, i as u64 + 1);
            assert_eq!(env.first_record, next_record);
            assert_eq!(
                env.events.len() as u64,
                env.last_record - env.first_record + 1
            );
            assert_eq!(env.source, source());
            assert_eq!(m.events().count(), env.events.len());
            for (raw, ev) in m.events().zip(&env.events) {
                let parsed: Value = serde_json::from_slice(raw).unwrap();
                assert_eq!(&parsed, ev);
            }
            for (r, ev) in (env.first_record..).zip(&env.events) {
                assert_eq!(
                    ev,
                    &serde_json::from_slice::<Value>(&all[r as usize - 1]).unwrap()
                );
            }
            // Not wasteful: the next event would not have fitted.
            if i + 1 < messages.len() {
                let next = all[env.last_record as usize].len();
                assert!(
                    body.len() + next + 1 > limit - 60,
                    "message {i} closed early"
                );
            }
            next_record = env.last_record + 1;
        }
        assert_eq!(next_record, 201);
    }

    #[test]
    fn an_event_larger_than_a_message_is_refused() {
        let mut packer = Packer::new("id".into(), source(), 1024);
        let max = packer.max_event_bytes();
        let (big, r) = piece_of(&[vec![b'1'; max + 1]]);
        assert_eq!(
            packer.push(1, &big, r[0].clone()).unwrap_err(),
            TooLarge {
                bytes: max + 1,
                limit: max
            }
        );
        let (fits, r) = piece_of(&[event(max - event(0).len())]);
        assert_eq!(r[0].len(), max);
        assert!(packer.push(2, &fits, r[0].clone()).unwrap().is_none());
        // Full but for the digits the header reserved for its widest numbers.
        let len = packer.finish().unwrap().body().len();
        assert!((1024 - 3 * 19..=1024).contains(&len), "{len}");
    }

    /// With the widest numbers a header can hold, an event of `max_event_bytes` fills the
    /// message to exactly its limit: the room reserved is the header's and the trailer's, no
    /// more, no less.
    #[test]
    fn the_largest_event_fills_a_message_with_the_widest_header_exactly() {
        let limit = 1024;
        // 20 digits, as wide as u64::MAX.
        let wide = 10_000_000_000_000_000_000u64;
        let mut packer = Packer::new("id".into(), source(), limit).starting_at_chunk(wide);
        let max = packer.max_event_bytes();
        let (piece, r) = piece_of(&[event(max - event(0).len())]);
        assert!(packer.push(wide, &piece, r[0].clone()).unwrap().is_none());
        let message = packer.finish().unwrap();
        assert_eq!(message.body().len(), limit);
        assert_eq!(message.len(), limit);

        // Two events and their comma that fill it exactly share one message; a byte more
        // and the second opens the next.
        let base = event(0).len();
        for (extra, messages) in [(0, 1), (1, 2)] {
            let mut packer = Packer::new("id".into(), source(), limit).starting_at_chunk(wide);
            let second = max - 1 - (base + 10) + extra;
            let (piece, r) = piece_of(&[event(10), event(second - base)]);
            let mut out: Vec<Message> = Vec::new();
            for (range, record) in r.into_iter().zip([wide, wide + 1]) {
                out.extend(packer.push(record, &piece, range).unwrap());
            }
            out.extend(packer.finish());
            assert_eq!(out.len(), messages, "{extra} byte(s) over");
            if messages == 1 {
                assert_eq!(out[0].body().len(), limit);
            }
        }
    }

    /// What the packing stage asks of a packer between events: the next chunk's number and
    /// the first record of the message being filled.
    #[test]
    fn a_packer_tells_its_next_chunk_and_where_its_open_message_starts() {
        let mut packer = Packer::new("id".into(), source(), 1024).starting_at_chunk(7);
        assert_eq!((packer.next_chunk(), packer.open_since()), (7, None));
        let (piece, r) = piece_of(&[event(3), event(4)]);
        assert!(packer.push(41, &piece, r[0].clone()).unwrap().is_none());
        assert!(packer.push(42, &piece, r[1].clone()).unwrap().is_none());
        assert_eq!((packer.next_chunk(), packer.open_since()), (7, Some(41)));
        let message = packer.finish().unwrap();
        assert!(!message.is_empty());
        assert_eq!((message.chunk, message.first_record), (7, 41));
        // Events next to each other in one piece are one run: written as one slice.
        assert_eq!(message.runs.len(), 1);
        assert_eq!(message.runs[0].1, r[0].start..r[1].end);
        // A message's debug form names its pieces' sizes, never their (possibly huge) bytes.
        let bytes = event(3).len() + 1 + event(4).len();
        let debug = format!("{message:?}");
        assert!(debug.contains(&format!("Piece({bytes} bytes)")), "{debug}");
        assert!(!debug.contains("xxx"), "{debug}");
        assert_eq!((packer.next_chunk(), packer.open_since()), (8, None));
        assert!(Packer::new("id".into(), source(), 1024).finish().is_none());

        // A record left out between two events (rejected) splits the run; so does another
        // piece, even one holding the same bytes.
        let (piece, r) = piece_of(&[event(1), event(2), event(3)]);
        let (other, o) = piece_of(&[event(4)]);
        let mut packer = Packer::new("id".into(), source(), 1024);
        for (record, (p, range)) in [(&piece, &r[0]), (&piece, &r[2]), (&other, &o[0])]
            .into_iter()
            .enumerate()
        {
            assert!(
                packer
                    .push(record as u64 + 1, p, range.clone())
                    .unwrap()
                    .is_none()
            );
        }
        let runs: Vec<Range<usize>> = packer
            .finish()
            .unwrap()
            .runs
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        assert_eq!(runs, [r[0].clone(), r[2].clone(), o[0].clone()]);
    }

    #[test]
    fn pieces_are_recycled_when_their_last_message_is_dropped() {
        let (tx, rx) = async_channel::bounded(4);
        let piece = Piece::new(b"{},{}".to_vec(), Some(tx));
        let mut packer = Packer::new("id".into(), source(), 1024);
        assert!(packer.push(1, &piece, 0..2).unwrap().is_none());
        assert!(packer.push(2, &piece, 3..5).unwrap().is_none());
        drop(piece);
        let message = packer.finish().unwrap();
        assert!(rx.try_recv().is_err(), "the message still holds the piece");
        drop(message);
        assert_eq!(rx.try_recv().unwrap(), b"{},{}");
    }

    /// Packs `events` (one record each, in pieces of 7) into gzip'd messages of `limit` bytes.
    fn gzip_pack(events: &[Vec<u8>], limit: usize, from_record: u64) -> Vec<Message> {
        let mut packer = Packer::encoded("id".into(), source(), limit, EnvelopeEncoding::Gzip)
            .starting_at_chunk(from_record);
        let mut messages = Vec::new();
        let mut record = from_record - 1;
        for chunk in events.chunks(7) {
            let (piece, ranges) = piece_of(chunk);
            for range in ranges {
                record += 1;
                messages.extend(packer.push(record, &piece, range).unwrap());
            }
        }
        messages.extend(packer.finish());
        messages
    }

    /// Events that repeat themselves (compressible, like real ones) or not at all.
    fn varied_events(n: usize, compressible: bool) -> Vec<Vec<u8>> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        (0..n)
            .map(|i| {
                let text: String = if compressible {
                    format!("{i:06}-{}", "ab".repeat(i % 40))
                } else {
                    (0..60 + i % 50)
                        .map(|_| {
                            state ^= state << 13;
                            state ^= state >> 7;
                            state ^= state << 17;
                            char::from(b'!' + (state % 90) as u8 + u8::from(state % 90 >= 1))
                        })
                        .filter(|c| *c != '"' && *c != '\\')
                        .collect()
                };
                format!(r#"{{"tracking_info":{{"tracking_number":"{text}"}}}}"#).into_bytes()
            })
            .collect()
    }

    #[test]
    fn gzip_messages_hold_exactly_the_events_array_and_never_pass_the_limit() {
        for compressible in [true, false] {
            let events = varied_events(3000, compressible);
            let limit = 8 * 1024;
            let messages = gzip_pack(&events, limit, 1);
            let mut next_record = 1;
            for (i, m) in messages.iter().enumerate() {
                let body = m.body();
                assert_eq!(body.len(), m.len());
                assert!(body.len() <= limit, "message {i} is {} bytes", body.len());
                let env: Envelope<Value> = serde_json::from_slice(&body).unwrap();
                assert!(env.events.is_empty(), "gzip'd messages carry no `events`");
                assert_eq!((env.chunk, env.first_record), (i as u64 + 1, next_record));
                // The decompressed array is, byte for byte, what `events` would have held.
                let gzip = env.events_gzip.as_deref().unwrap();
                let mut json = Vec::new();
                use base64::Engine;
                use std::io::Read;
                let compressed = base64::engine::general_purpose::STANDARD
                    .decode(gzip)
                    .unwrap();
                flate2::read::GzDecoder::new(&compressed[..])
                    .read_to_end(&mut json)
                    .unwrap();
                let range = env.first_record as usize - 1..env.last_record as usize;
                assert_eq!(
                    json,
                    [b"[".to_vec(), events[range].join(&b","[..]), b"]".to_vec()].concat()
                );
                assert_eq!(env.decoded_events().unwrap().len(), m.count());
                // Events were not kept: the message holds no piece once compressed.
                assert_eq!(m.events().count(), 0);
                next_record = env.last_record + 1;
            }
            assert_eq!(next_record, 3001);
            let sent: usize = messages.iter().map(Message::len).sum();
            let raw: usize = events.iter().map(|e| e.len() + 1).sum();
            if compressible {
                assert!(sent * 3 < raw, "{sent} bytes sent for {raw} of events");
            } else {
                assert!(
                    sent * 3 > raw * 2,
                    "random text hardly compresses: {sent} for {raw}"
                );
            }
        }
    }

    #[test]
    fn gzip_chunks_are_the_same_on_every_run_and_after_a_resume() {
        let events = varied_events(2000, true);
        let first = gzip_pack(&events, 4096, 1);
        let again = gzip_pack(&events, 4096, 1);
        let bodies = |ms: &[Message]| ms.iter().map(Message::body).collect::<Vec<_>>();
        assert_eq!(bodies(&first), bodies(&again));
        // Resumed after message 3: the next chunks are cut and compressed identically.
        let resume = &first[3];
        let mut packer = Packer::encoded("id".into(), source(), 4096, EnvelopeEncoding::Gzip)
            .starting_at_chunk(resume.chunk);
        let mut resumed = Vec::new();
        let tail = &events[resume.first_record as usize - 1..];
        let (piece, ranges) = piece_of(tail);
        for (record, range) in (resume.first_record..).zip(ranges) {
            resumed.extend(packer.push(record, &piece, range).unwrap());
        }
        resumed.extend(packer.finish());
        let heads = |ms: &[Message]| {
            ms.iter()
                .map(|m| (m.chunk, m.first_record, m.last_record, m.len()))
                .collect::<Vec<_>>()
        };
        assert_eq!(heads(&resumed), heads(&first[3..]));
        assert_eq!(bodies(&resumed), bodies(&first[3..]));
    }

    #[test]
    fn the_largest_gzip_event_fits_even_if_it_does_not_compress() {
        let limit = 2048;
        let packer = Packer::encoded("id".into(), source(), limit, EnvelopeEncoding::Gzip);
        let max = packer.max_event_bytes();
        assert!(max > 1000 && max < limit * 3 / 4, "{max}");
        let incompressible = |len: usize| {
            let mut e = varied_events(40, false).concat();
            e.truncate(len);
            e
        };
        for (len, fits) in [(max, true), (max + 1, false)] {
            let mut packer = Packer::encoded("id".into(), source(), limit, EnvelopeEncoding::Gzip)
                .starting_at_chunk(10_000_000_000_000_000_000);
            let (piece, r) = piece_of(&[incompressible(len)]);
            let pushed = packer.push(10_000_000_000_000_000_000, &piece, r[0].clone());
            assert_eq!(pushed.is_ok(), fits, "{len}");
            if fits {
                let message = packer.finish().unwrap();
                assert!(message.len() <= limit, "{}", message.len());
            }
        }
        // A sink that writes events one by one gets them from a gzip'd message too.
        let mut packer = Packer::encoded("id".into(), source(), limit, EnvelopeEncoding::Gzip)
            .keeping_events(true);
        let (piece, r) = piece_of(&[event(3), event(4)]);
        for (record, range) in (1..).zip(r) {
            assert!(packer.push(record, &piece, range).unwrap().is_none());
        }
        let message = packer.finish().unwrap();
        assert_eq!(
            message.events().collect::<Vec<_>>(),
            [&event(3)[..], &event(4)[..]]
        );
    }

    #[test]
    fn batches_respect_entry_and_byte_limits() {
        let mut b = Batcher::new(1000);
        let mut batches: Vec<Batch> = (1..=25).filter_map(|i| b.push(message(i, 20))).collect();
        batches.extend(b.finish());
        assert_eq!(
            batches.iter().map(|b| b.messages.len()).collect::<Vec<_>>(),
            vec![10, 10, 5]
        );
        let mut b = Batcher::new(1000);
        let mut batches: Vec<Batch> = (1..=7).filter_map(|i| b.push(message(i, 300))).collect();
        batches.extend(b.finish());
        assert_eq!(
            batches.iter().map(|b| b.messages.len()).collect::<Vec<_>>(),
            vec![3, 3, 1]
        );
        assert!(batches.iter().all(|b| b.bytes() <= 1000));
        // A batch filled to exactly its limit is not split.
        let mut b = Batcher::new(900);
        let mut batches: Vec<Batch> = (1..=7).filter_map(|i| b.push(message(i, 300))).collect();
        batches.extend(b.finish());
        assert_eq!(
            batches.iter().map(Batch::bytes).collect::<Vec<_>>(),
            vec![900, 900, 300]
        );
    }
}
