//! The reading stage: fills recycled record batches from the file's reader and hands them to the
//! encoders (or encodes them itself, with one CPU), numbering them so the packer can restore their order. It skips the records an
//! earlier run settled, shifts positions when the file was entered mid-way, and stops early at
//! the stop instant (once something new is delivered) or when the checkpointer says the file
//! was taken over.

use std::sync::atomic::{AtomicBool, Ordering};

use shared::{ReadError, Record, RecordReader};
use tokio::io::AsyncRead;
use tokio::sync::watch;
use tokio::time::Instant;

use super::encode::{Handoff, RecordBatch};
use super::start::Shift;
use super::{BATCH_RECORDS, Progress};
use crate::state::Mark;

/// When reading must stop before the end of the file.
pub(super) struct StopRule<'a> {
    /// The stop instant (the deadline less its margin), if any.
    pub at: Option<Instant>,
    /// Where this run started: stopping before anything past it is delivered would leave the
    /// next invocation exactly here.
    pub from: Mark,
    pub delivered: watch::Receiver<Mark>,
    /// Set by the checkpointer when the file was taken over.
    pub cancelled: &'a AtomicBool,
    /// Set here when reading stopped early; the packer then leaves the open message for the
    /// next run.
    pub stopped: &'a AtomicBool,
}

impl StopRule<'_> {
    fn due(&self) -> bool {
        let at_deadline = self.at.is_some_and(|t| Instant::now() >= t)
            && self.delivered.borrow().through_record > self.from.through_record;
        at_deadline || self.cancelled.load(Ordering::Relaxed)
    }
}

/// Marks reading stopped if the reading stage unwinds (a panic while it encodes a batch itself,
/// [`super::encode::Handoff::Inline`]): the packer then leaves its open message for the next
/// run, as after an early stop, instead of sending it short under a chunk number the next run
/// would fill differently.
struct StopOnUnwind<'a>(&'a AtomicBool);

impl Drop for StopOnUnwind<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

/// How one batch's filling ended.
enum Filled {
    /// The batch is full; the file goes on.
    Full,
    Eof,
    /// The file broke here; the records before it go on like any others.
    Failed(ReadError),
}

/// The reading stage.
pub(super) struct ReadStage<'a, R> {
    pub reader: RecordReader<R>,
    /// Empty batches, back from the encoders.
    pub pool: async_channel::Receiver<RecordBatch>,
    pub handoff: Handoff,
    pub progress: &'a Progress,
    /// Records up to this one were settled by an earlier run: read, not sent again.
    pub skip_through: u64,
    /// Added to the reader's positions (it counts from the bytes it is given).
    pub shift: Shift,
    pub stop: StopRule<'a>,
}

impl<R: AsyncRead + Unpin + Send> ReadStage<'_, R> {
    /// Reads to the end of the file, an early stop, or the first error that ends reading.
    pub async fn run(mut self) -> Result<(), ReadError> {
        // Dropped before `self` (and the hand-off's sender in it) when this unwinds.
        let _unwinding = StopOnUnwind(self.stop.stopped);
        let mut seq = 0;
        loop {
            if self.stop.due() {
                self.stop.stopped.store(true, Ordering::SeqCst);
                return Ok(());
            }
            let Ok(mut batch) = self.pool.recv().await else {
                return Ok(());
            };
            batch.seq = seq;
            batch.len = 0;
            let filled = self.fill(&mut batch).await;
            if batch.len > 0 {
                if !self.handoff.give(batch).await {
                    return Ok(());
                }
                seq += 1;
            }
            match filled {
                Filled::Full => {}
                Filled::Eof => return Ok(()),
                Filled::Failed(err) => return Err(err),
            }
        }
    }

    /// Reads records into `batch` until it holds [`BATCH_RECORDS`] new ones.
    async fn fill(&mut self, batch: &mut RecordBatch) -> Filled {
        let mut read = 0;
        let filled = loop {
            if batch.len == BATCH_RECORDS {
                break Filled::Full;
            }
            if batch.records.len() == batch.len {
                batch.records.push(Record::default());
            }
            let record = &mut batch.records[batch.len];
            match self.reader.read(record).await {
                Ok(true) => {}
                Ok(false) => break Filled::Eof,
                Err(err) => break Filled::Failed(err),
            }
            self.shift.apply(&mut record.position);
            if record.position.record <= self.skip_through {
                continue;
            }
            batch.len += 1;
            read += 1;
        };
        self.progress
            .records_read
            .fetch_add(read, Ordering::Relaxed);
        filled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwinding_marks_reading_stopped_and_a_normal_end_does_not() {
        let stopped = AtomicBool::new(false);
        drop(StopOnUnwind(&stopped));
        assert!(!stopped.load(Ordering::SeqCst));
        let unwound = std::panic::catch_unwind(|| {
            let _guard = StopOnUnwind(&stopped);
            panic!("a bug while encoding");
        });
        assert!(unwound.is_err());
        assert!(stopped.load(Ordering::SeqCst));
    }
}
