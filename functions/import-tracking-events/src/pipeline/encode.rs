//! The encoding stage: threads that map records to Connect events through the profile and write
//! their JSON, in parallel, each on its own batch of records. The JSON of a batch becomes one
//! piece that messages point into; rejected records leave with their raw text.

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

/// One encoder thread and its channels.
pub(super) struct Encoder {
    pub mapper: Arc<Mapper>,
    /// The profile's delimiter, for rejected records' raw text.
    pub delimiter: u8,
    pub work: async_channel::Receiver<RecordBatch>,
    /// Where read batches go back, emptied, for the reader to refill.
    pub pool: async_channel::Sender<RecordBatch>,
    /// Spent JSON buffers, back from the messages that held them.
    pub spare: async_channel::Receiver<Vec<u8>>,
    pub out: mpsc::Sender<Encoded>,
}

impl Encoder {
    /// Maps and serializes record batches until the work channel closes (blocking: run it on a
    /// thread of its own).
    pub fn run(self) {
        while let Ok(batch) = self.work.recv_blocking() {
            let encoded = self.encode(&batch);
            if self.out.blocking_send(encoded).is_err() {
                return;
            }
            // The reader may already be done; a closed pool just drops the batch.
            let _ = self.pool.send_blocking(batch);
        }
    }

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
