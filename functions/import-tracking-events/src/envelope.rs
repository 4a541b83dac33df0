//! The queue message contract, and packing encoded events into messages and batches.
//!
//! A message is `{"schema":"tracking-events.v1","import_id":…,"chunk":N,"first_record":A,
//! "last_record":B,"source":{"uri":…,"version":…},"events":[…]}`, filled with as many events
//! as fit in `MAX_MESSAGE_BYTES`. Packing depends only on the encoded events and the limits, so
//! the same file version always yields the same chunks, and a consumer can drop a redelivered
//! chunk by (`import_id`, `chunk`).

use std::ops::Range;

use serde::{Deserialize, Serialize};
use shared::models::ImportedTrackingEvent;

use crate::config::SQS_MAX_ENTRIES;

/// The `schema` of every message.
pub const SCHEMA: &str = "tracking-events.v1";

/// The file version a message came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceRef {
    pub uri: String,
    pub version: String,
}

/// One queue message, as consumers read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<E = ImportedTrackingEvent> {
    pub schema: String,
    /// Stable for one source version: the same file imported again has the same id.
    pub import_id: String,
    /// 1-based, consecutive within an import.
    pub chunk: u64,
    /// Record numbers (1-based, header excluded) of the first and last event in the message.
    pub first_record: u64,
    pub last_record: u64,
    pub source: SourceRef,
    pub events: Vec<E>,
}

/// The import id of a source version: a UUID v5 of its URI and version.
pub fn import_id(source: &SourceRef) -> String {
    let name = format!("{}\n{}", source.uri, source.version);
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes()).to_string()
}

/// An encoded message ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub chunk: u64,
    pub first_record: u64,
    pub last_record: u64,
    /// The whole JSON envelope (UTF-8).
    pub body: Vec<u8>,
    /// Where each event's JSON sits in `body`.
    pub events: Vec<Range<usize>>,
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
    /// Header size with the widest numbers: what a message must always leave room for.
    header_room: usize,
    next_chunk: u64,
    events: Vec<u8>,
    ranges: Vec<Range<usize>>,
    first_record: u64,
    last_record: u64,
}

/// `]}` closing the events array and the envelope.
const TRAILER: &[u8] = b"]}";

impl Packer {
    pub fn new(import_id: String, source: SourceRef, max_bytes: usize) -> Packer {
        let mut packer = Packer {
            import_id,
            source,
            max_bytes,
            header_room: 0,
            next_chunk: 1,
            events: Vec::with_capacity(max_bytes),
            ranges: Vec::new(),
            first_record: 0,
            last_record: 0,
        };
        packer.header_room = packer.header(u64::MAX, u64::MAX, u64::MAX).len();
        packer
    }

    /// Starting chunk number (for a resumed import).
    pub fn starting_at_chunk(mut self, chunk: u64) -> Packer {
        self.next_chunk = chunk;
        self
    }

    /// The largest event that fits in an otherwise empty message.
    pub fn max_event_bytes(&self) -> usize {
        self.max_bytes
            .saturating_sub(self.header_room + TRAILER.len())
    }

    /// Adds record `record`'s encoded event. Returns the previous message when this event did
    /// not fit in it.
    pub fn push(&mut self, record: u64, event: &[u8]) -> Result<Option<Message>, TooLarge> {
        if event.len() > self.max_event_bytes() {
            return Err(TooLarge {
                bytes: event.len(),
                limit: self.max_event_bytes(),
            });
        }
        let comma = usize::from(!self.ranges.is_empty());
        let needed = self.header_room + self.events.len() + comma + event.len() + TRAILER.len();
        let flushed = if needed > self.max_bytes {
            self.finish()
        } else {
            None
        };
        if self.ranges.is_empty() {
            self.first_record = record;
        } else {
            self.events.push(b',');
        }
        let start = self.events.len();
        self.events.extend_from_slice(event);
        self.ranges.push(start..self.events.len());
        self.last_record = record;
        Ok(flushed)
    }

    /// Closes the message being filled, if it has any event.
    pub fn finish(&mut self) -> Option<Message> {
        if self.ranges.is_empty() {
            return None;
        }
        let chunk = self.next_chunk;
        self.next_chunk += 1;
        let mut body = self.header(chunk, self.first_record, self.last_record);
        let offset = body.len();
        body.reserve(self.events.len() + TRAILER.len());
        body.extend_from_slice(&self.events);
        body.extend_from_slice(TRAILER);
        self.events.clear();
        let events = self
            .ranges
            .drain(..)
            .map(|r| r.start + offset..r.end + offset)
            .collect();
        Some(Message {
            chunk,
            first_record: self.first_record,
            last_record: self.last_record,
            body,
            events,
        })
    }

    /// The envelope up to and including `"events":[`.
    fn header(&self, chunk: u64, first_record: u64, last_record: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.max_bytes);
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
        out.extend_from_slice(br#","events":["#);
        out
    }
}

/// Up to ten messages within the batch byte limit: one SendMessageBatch call.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Batch {
    pub messages: Vec<Message>,
}

impl Batch {
    pub fn bytes(&self) -> usize {
        self.messages.iter().map(|m| m.body.len()).sum()
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
            || self.bytes + message.body.len() > self.max_bytes;
        let flushed = if full { self.finish() } else { None };
        self.bytes += message.body.len();
        self.current.messages.push(message);
        flushed
    }

    pub fn finish(&mut self) -> Option<Batch> {
        self.bytes = 0;
        (!self.current.messages.is_empty()).then(|| std::mem::take(&mut self.current))
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn import_id_is_stable_per_version() {
        let a = import_id(&source());
        assert_eq!(a, import_id(&source()));
        let mut other = source();
        other.version = "etag2".into();
        assert_ne!(a, import_id(&other));
    }

    #[test]
    fn messages_fill_up_to_the_limit_and_never_past_it() {
        let limit = 2048;
        let mut packer = Packer::new("id".into(), source(), limit);
        let mut messages = Vec::new();
        for record in 1..=200u64 {
            if let Some(m) = packer.push(record, &event(record as usize % 90)).unwrap() {
                messages.push(m);
            }
        }
        messages.extend(packer.finish());
        let mut next_record = 1;
        for (i, m) in messages.iter().enumerate() {
            assert!(
                m.body.len() <= limit,
                "message {} is {} bytes",
                i,
                m.body.len()
            );
            let env: Envelope<Value> = serde_json::from_slice(&m.body).unwrap();
            assert_eq!(env.schema, SCHEMA);
            assert_eq!(env.chunk, i as u64 + 1);
            assert_eq!(env.first_record, next_record);
            assert_eq!(
                env.events.len() as u64,
                env.last_record - env.first_record + 1
            );
            assert_eq!(env.source, source());
            for (range, ev) in m.events.iter().zip(&env.events) {
                let parsed: Value = serde_json::from_slice(&m.body[range.clone()]).unwrap();
                assert_eq!(&parsed, ev);
            }
            // Not wasteful: the next event would not have fitted.
            if i + 1 < messages.len() {
                let next = event(env.last_record as usize % 90 + 1).len();
                assert!(
                    m.body.len() + next + 1 > limit - 60,
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
        let big = vec![b'x'; max + 1];
        assert_eq!(
            packer.push(1, &big),
            Err(TooLarge {
                bytes: max + 1,
                limit: max
            })
        );
        let fits = event(max - event(0).len());
        assert_eq!(fits.len(), max);
        assert!(packer.push(2, &fits).unwrap().is_none());
        assert!(packer.finish().unwrap().body.len() <= 1024);
    }

    #[test]
    fn batches_respect_entry_and_byte_limits() {
        let msg = |chunk, len| Message {
            chunk,
            first_record: chunk,
            last_record: chunk,
            body: vec![b' '; len],
            events: vec![],
        };
        let mut b = Batcher::new(1000);
        let mut batches: Vec<Batch> = (1..=25).filter_map(|i| b.push(msg(i, 10))).collect();
        batches.extend(b.finish());
        assert_eq!(
            batches.iter().map(|b| b.messages.len()).collect::<Vec<_>>(),
            vec![10, 10, 5]
        );
        let mut b = Batcher::new(1000);
        let mut batches: Vec<Batch> = (1..=7).filter_map(|i| b.push(msg(i, 300))).collect();
        batches.extend(b.finish());
        assert_eq!(
            batches.iter().map(|b| b.messages.len()).collect::<Vec<_>>(),
            vec![3, 3, 1]
        );
        assert!(batches.iter().all(|b| b.bytes() <= 1000));
    }
}
