//! The packing stage: restores record order behind the parallel encoders, packs events into
//! messages and messages into batches, interleaves the rejected records (counted, listed,
//! stored for replay), and gives each batch the settled point (a [`Mark`]) it completes, so
//! delivery can publish how far the file is safely delivered.
//!
//! Chunking depends on record numbers and bytes only, never on timing: a resumed import cuts
//! exactly the chunks an uninterrupted one would.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use shared::Position;
use tokio::sync::mpsc;

use super::{Encoded, MAX_REJECTIONS_LISTED, RejectedRecord};
use crate::envelope::{Batch, Batcher, Message, Packer, Piece};
use crate::error::ImportError;
use crate::state::{Mark, OpenLease};

/// A message never spans more records than this (it is closed early when it would), so that
/// a file of mostly rejected records still reaches settled points to checkpoint at. Real
/// messages hold a few hundred events, so this never cuts one in a healthy file; and because it
/// depends only on record numbers, chunking stays deterministic.
const MESSAGE_SPAN_RECORDS: u64 = 65_536;

/// The packer's running account of what is settled, over the whole file.
#[derive(Debug, Clone, Copy)]
struct Settled {
    events: u64,
    rejected: u64,
    /// The last event packed, and the rejected count when it was packed: the mark a message
    /// ending with it gets.
    last_event: Option<(Position, u64)>,
    /// The last record seen, event or rejected.
    last_record: Option<Position>,
    /// The furthest settled point reached so far, and the furthest sent down the pipeline.
    clean: Mark,
    sent: Mark,
}

impl From<Mark> for Settled {
    fn from(mark: Mark) -> Self {
        Settled {
            events: mark.events,
            rejected: mark.rejected,
            last_event: None,
            last_record: None,
            clean: mark,
            sent: mark,
        }
    }
}

impl Settled {
    /// The mark of a message just closed: it ends with the last event packed.
    fn message_mark(&self, message: &Message) -> Mark {
        let (position, rejected) = self.last_event.expect("a message holds an event");
        Mark::at(position, message.chunk + 1, self.events, rejected)
    }
}

/// The packer's output side: messages into batches, batches with their marks to delivery.
struct Out {
    batcher: Batcher,
    tx: mpsc::Sender<Batch>,
    /// Marks of messages handed to the batcher, by chunk, until their batch leaves.
    marks: VecDeque<(u64, Mark)>,
}

impl Out {
    async fn message(&mut self, message: Message, mark: Mark) -> Result<(), ImportError> {
        self.marks.push_back((message.chunk, mark));
        if let Some(full) = self.batcher.push(message) {
            self.send(full).await?;
        }
        Ok(())
    }

    async fn send(&mut self, mut batch: Batch) -> Result<(), ImportError> {
        let last = batch.messages.last().map(|m| m.chunk);
        while let Some(&(chunk, mark)) = self.marks.front() {
            if Some(chunk) > last {
                break;
            }
            batch.mark = Some(mark);
            self.marks.pop_front();
        }
        self.tx
            .send(batch)
            .await
            .map_err(|_| ImportError::Pipeline("delivery stopped before the import finished"))
    }

    /// Sends the batch being filled, then `mark` on its own.
    async fn mark(&mut self, mark: Mark) -> Result<(), ImportError> {
        if let Some(batch) = self.batcher.finish() {
            self.send(batch).await?;
        }
        self.send(Batch {
            messages: Vec::new(),
            mark: Some(mark),
        })
        .await
    }
}

/// The channels around the packer.
pub(super) struct PackIo {
    /// Encoded record batches, in any order.
    pub encoded: mpsc::Receiver<Encoded>,
    /// Where spent encoder buffers go back for reuse.
    pub spare: async_channel::Sender<Vec<u8>>,
    /// Batches for delivery.
    pub batches: mpsc::Sender<Batch>,
}

/// The packing stage: everything it needs is its own.
pub(super) struct PackStage {
    encoded: mpsc::Receiver<Encoded>,
    /// Where spent encoder buffers go back for reuse.
    spare: async_channel::Sender<Vec<u8>>,
    packer: Packer,
    out: Out,
    settled: Settled,
    /// Where rejected records are kept (runs with state).
    lease: Option<OpenLease>,
    /// Set by the reader when it stopped before the end of the file.
    stopped: Arc<AtomicBool>,
    /// The first rejected records, for the summary.
    listed: Vec<RejectedRecord>,
}

impl PackStage {
    pub(super) fn new(
        io: PackIo,
        packer: Packer,
        batcher: Batcher,
        from: Mark,
        lease: Option<OpenLease>,
        stopped: Arc<AtomicBool>,
    ) -> PackStage {
        PackStage {
            encoded: io.encoded,
            spare: io.spare,
            packer,
            out: Out {
                batcher,
                tx: io.batches,
                marks: VecDeque::new(),
            },
            settled: Settled::from(from),
            lease,
            stopped,
            listed: Vec::new(),
        }
    }

    /// Packs until the encoders are done; returns the rejected records to list.
    pub(super) async fn run(mut self) -> Result<Vec<RejectedRecord>, ImportError> {
        let mut waiting = BTreeMap::new();
        let mut next_seq = 0;
        while let Some(batch) = self.encoded.recv().await {
            waiting.insert(batch.seq, batch);
            while let Some(batch) = waiting.remove(&next_seq) {
                next_seq += 1;
                self.batch(batch).await?;
            }
        }
        if self.stopped.load(Ordering::SeqCst) {
            self.stop_early().await?;
        } else {
            self.finish().await?;
        }
        Ok(self.listed)
    }

    /// One encoded batch, in record order: its events, with its rejections between them.
    async fn batch(&mut self, batch: Encoded) -> Result<(), ImportError> {
        let mut rejections = batch.rejections.into_iter().peekable();
        let piece = Piece::new(batch.json, Some(self.spare.clone()));
        for (position, range) in batch.events {
            let record = position.record;
            while let Some((r, raw)) = rejections.next_if(|(r, _)| r.position.record < record) {
                self.reject(r.position, r.reason.to_string(), raw).await?;
            }
            self.span(record).await?;
            match self.packer.push(record, &piece, range) {
                Ok(flushed) => {
                    if let Some(message) = flushed {
                        let mark = self.settled.message_mark(&message);
                        self.out.message(message, mark).await?;
                        self.settled.clean = mark;
                    }
                    self.settled.events += 1;
                    self.settled.last_event = Some((position, self.settled.rejected));
                    self.settled.last_record = Some(position);
                }
                Err(too_large) => {
                    let reason = format!(
                        "its event is {} bytes, more than the {} a message can carry",
                        too_large.bytes, too_large.limit
                    );
                    self.reject(position, reason, String::new()).await?;
                }
            }
        }
        for (r, raw) in rejections {
            self.reject(r.position, r.reason.to_string(), raw).await?;
        }
        Ok(())
    }

    /// Stopped early: the message being filled is left for the next run to cut whole (a
    /// shorter one now would differ from the chunk an uninterrupted import makes).
    async fn stop_early(&mut self) -> Result<(), ImportError> {
        if self.settled.clean != self.settled.sent {
            self.out.mark(self.settled.clean).await?;
        } else if let Some(batch) = self.out.batcher.finish() {
            self.out.send(batch).await?;
        }
        Ok(())
    }

    /// The end of the file: the last message, and the end settled once everything before it
    /// is delivered.
    async fn finish(&mut self) -> Result<(), ImportError> {
        if let Some(message) = self.packer.finish() {
            let mark = self.settled.message_mark(&message);
            self.out.message(message, mark).await?;
        }
        let s = &self.settled;
        let end = match s.last_record {
            Some(last) => Mark::at(last, self.packer.next_chunk(), s.events, s.rejected),
            None => s.clean,
        };
        self.out.mark(end).await
    }

    /// Closes the message being filled when record `record` would make it span too many
    /// records.
    async fn span(&mut self, record: u64) -> Result<(), ImportError> {
        if self
            .packer
            .open_since()
            .is_some_and(|first| record >= first + MESSAGE_SPAN_RECORDS)
            && let Some(message) = self.packer.finish()
        {
            let mark = self.settled.message_mark(&message);
            self.out.message(message, mark).await?;
            self.settled.clean = mark;
        }
        Ok(())
    }

    /// Counts, lists and stores one rejected record, and moves the settled point past it when
    /// no message is open.
    async fn reject(
        &mut self,
        position: Position,
        reason: String,
        raw: String,
    ) -> Result<(), ImportError> {
        self.span(position.record).await?;
        self.settled.rejected += 1;
        self.settled.last_record = Some(position);
        self.store_reject(position, &reason, raw).await?;
        if self.listed.len() < MAX_REJECTIONS_LISTED {
            self.listed.push(RejectedRecord {
                record: position.record,
                line: position.line,
                byte: position.byte,
                reason,
            });
        }
        if self.packer.open_since().is_none() {
            let s = &mut self.settled;
            s.clean = Mark::at(position, self.packer.next_chunk(), s.events, s.rejected);
            // A long run of rejected records is checkpointed now and then on its own.
            if s.clean.through_record >= s.sent.through_record + MESSAGE_SPAN_RECORDS {
                self.out.mark(s.clean).await?;
                s.sent = s.clean;
            }
        }
        Ok(())
    }

    /// Writes a rejected record to the rejects object, when there is one.
    async fn store_reject(
        &self,
        position: Position,
        reason: &str,
        raw: String,
    ) -> Result<(), ImportError> {
        if let Some(lease) = &self.lease {
            lease.reject(position, reason, raw).await?;
        }
        Ok(())
    }
}
