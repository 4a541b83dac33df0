//! The encoding stage: threads that map records to Connect events through the profile and write
//! their JSON, in parallel, each on its own batch of records — or, with one CPU, the reading
//! thread itself, batch by batch ([`Handoff::Inline`]). The JSON of a batch becomes one piece
//! that messages point into; rejected records leave with their raw text.

use std::ops::Range;
use std::sync::Arc;

use shared::{Mapper, Position, Record, Rejection};
use tokio::sync::mpsc;

/// A slice of records on its way to an encoder; recycled through the pool.
pub(super) struct RecordBatch {
    pub seq: u64,
    pub records: Vec<Record>,
    pub len: usize,
}

impl RecordBatch {
    pub fn empty() -> RecordBatch {
        RecordBatch {
            seq: 0,
            records: Vec::new(),
            len: 0,
        }
    }
}

/// An encoder's output for one [`RecordBatch`].
pub(super) struct Encoded {
    pub seq: u64,
    pub json: Vec<u8>,
    /// Events as comma-separated JSON; each event's record position and byte range in `json`.
    pub events: Vec<(Position, Range<usize>)>,
    /// Rejected records, each with its raw text.
    pub rejections: Vec<(Rejection, String)>,
}

/// Mapping and writing records, wherever it runs.
#[derive(Clone)]
pub(super) struct Encoding {
    pub mapper: Arc<Mapper>,
    /// The profile's delimiter, for rejected records' raw text.
    pub delimiter: u8,
    /// Spent JSON buffers, back from the messages that held them.
    pub spare: async_channel::Receiver<Vec<u8>>,
}

/// Where the reader hands a filled batch.
pub(super) enum Handoff {
    /// To the encoder threads (more than one CPU: reading and encoding overlap).
    Encoders(async_channel::Sender<RecordBatch>),
    /// Encoded on the reading thread, then back to the pool. With one CPU nothing overlaps:
    /// handing batches to a thread only added context switches (three threads took turns on
    /// the CPU for every batch) and read the records back from colder cache.
    Inline {
        encoding: Encoding,
        out: mpsc::Sender<Encoded>,
        pool: async_channel::Sender<RecordBatch>,
    },
}

impl Handoff {
    /// Passes on a filled batch; `false` when the stages after the reader have gone away.
    pub async fn give(&self, batch: RecordBatch) -> bool {
        match self {
            Handoff::Encoders(work) => work.send(batch).await.is_ok(),
            Handoff::Inline {
                encoding,
                out,
                pool,
            } => {
                let encoded = encoding.encode(&batch);
                let sent = out.send(encoded).await.is_ok();
                // The pool holds every batch there is: this never waits.
                let _ = pool.try_send(batch);
                sent
            }
        }
    }
}

/// One encoder thread and its channels.
pub(super) struct Encoder {
    pub encoding: Encoding,
    pub work: async_channel::Receiver<RecordBatch>,
    /// Where read batches go back, emptied, for the reader to refill.
    pub pool: async_channel::Sender<RecordBatch>,
    pub out: mpsc::Sender<Encoded>,
}

impl Encoder {
    /// Maps and serializes record batches until the work channel closes (blocking: run it on a
    /// thread of its own).
    pub fn run(self) {
        while let Ok(batch) = self.work.recv_blocking() {
            let encoded = self.encoding.encode(&batch);
            if self.out.blocking_send(encoded).is_err() {
                return;
            }
            // The reader may already be done; a closed pool just drops the batch.
            let _ = self.pool.send_blocking(batch);
        }
    }
}

impl Encoding {
    fn encode(&self, batch: &RecordBatch) -> Encoded {
        // A recycled buffer already has the capacity a batch needs; a new one starts at a
        // typical size and grows once.
        let mut json = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(batch.len * 700));
        json.clear();
        let mut encoded = Encoded {
            seq: batch.seq,
            json,
            events: Vec::with_capacity(batch.len),
            rejections: Vec::new(),
        };
        // Each event's times are written here, then into the JSON, with no allocation.
        let mut times = String::with_capacity(64);
        for record in &batch.records[..batch.len] {
            match self.mapper.map_in(record, &mut times) {
                Ok((event, verbatim)) => {
                    if !encoded.events.is_empty() {
                        encoded.json.push(b',');
                    }
                    let start = encoded.json.len();
                    crate::json::write_event_from(&mut encoded.json, &event, &verbatim);
                    encoded
                        .events
                        .push((record.position, start..encoded.json.len()));
                }
                Err(rejection) => {
                    tracing::warn!(
                        record = rejection.position.record,
                        line = rejection.position.line,
                        byte = rejection.position.byte,
                        reason = %rejection.reason,
                        "record rejected"
                    );
                    let raw = record.raw_text(self.delimiter);
                    encoded.rejections.push((rejection, raw));
                }
            }
        }
        encoded
    }
}
