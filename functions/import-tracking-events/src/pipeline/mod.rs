//! The import pipeline: source bytes → records → events → messages → batches → sink.
//!
//! ```text
//!  reader task ──RecordBatch──▶ encoder threads (N) ──Encoded──▶ packer task ──Batch──▶ delivery
//!  (csv parse)                  (map + JSON, parallel)           (in order)             (M in flight)
//! ```
//!
//! Every stage is joined by a bounded channel, so memory stays flat whatever the file size and
//! the source keeps flowing while sends wait (until the channels fill, which is the back-pressure
//! we want). Record batches are recycled through a pool, so the reader allocates nothing in the
//! steady state. The packer restores record order, which keeps chunking deterministic however
//! the encoders interleave.
//!
//! Batches carry [`Mark`]s (settled points of the file); delivery publishes the furthest one
//! whose batches all landed, and the file's [`OpenLease`] checkpoints it. An import resumed from a
//! checkpoint reopens the file at the mark's byte (or, for gzip, reads from the start) and skips
//! the settled records, so it cuts the same chunks the interrupted run would have.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use serde::Serialize;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::Instant;

mod encode;
mod open;
mod pack;
mod read;
mod settle;
mod stages;
mod start;

use self::encode::Encoded;
use self::open::OpenedFile;
use self::read::{ReadStage, StopRule};
use self::settle::{Outcome, Settle};
use self::stages::{Downstream, Wiring};
use crate::config::Config;
use crate::decompress::Compression;
use crate::error::{ImportError, SourceError};
use crate::request::ImportJob;
use crate::sink::Sink;
use crate::source::Source;
use crate::state::{Checkpoint, FileLease, OpenLease};

/// Records handed to an encoder at a time: large enough to amortize channel hops, small enough
/// that the buffers held along the pipeline stay a few MiB. A batch's JSON (~350 KiB) becomes a
/// piece that lives until every message referencing it is sent, so with SQS it is the piece size
/// that sets memory: at 2048 records, pieces held by queued and in-flight batches were 21 MB.
const BATCH_RECORDS: usize = 512;
/// Rejections listed in the summary (all are counted and logged).
const MAX_REJECTIONS_LISTED: usize = 100;

/// Live counters, for a progress display.
#[derive(Debug, Default)]
pub struct Progress {
    pub bytes_read: AtomicU64,
    pub records_read: AtomicU64,
    /// Size of the source, when known (0 until opened or when unknown).
    pub total_bytes: AtomicU64,
}

/// A rejected record as the summary lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedRecord {
    pub record: u64,
    pub line: u64,
    pub byte: u64,
    pub reason: String,
}

/// How a file's import, or a whole run, ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Everything was read and delivered.
    Complete,
    /// Stopped before the deadline (or `MAX_FILES_PER_RUN`) with a checkpoint to go on from.
    Continued,
    /// The file can never import at this version (`InvalidFile`): it is set aside.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Complete => "complete",
            Status::Continued => "continued",
            Status::Failed => "failed",
        }
    }
}

/// What an import did: the Lambda result and the CLI's output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub import_id: String,
    pub source: String,
    pub source_version: String,
    pub profile: String,
    /// `complete`; `continued` when the run stopped before its deadline and left a checkpoint
    /// for the next invocation to resume from; `failed` when the file was set aside.
    pub status: Status,
    /// For a `failed` file: the error's `errorType` and message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `gzip` when the source was decompressed while reading, else `none`.
    pub compression: Compression,
    /// Bytes read from the source (compressed bytes, for a gzip'd source).
    pub bytes_read: u64,
    pub records_read: u64,
    pub events_emitted: u64,
    pub records_rejected: u64,
    pub messages_sent: u64,
    pub batch_requests: u64,
    pub message_bytes: u64,
    pub delivered_through_record: u64,
    /// The record an earlier run's checkpoint settled, which this run resumed after (0: the
    /// file was read from its start).
    pub resumed_from_record: u64,
    /// Invocations that have worked on this file version, this one included.
    pub segments: u64,
    pub elapsed_ms: u64,
    /// The first rejected records (all are counted in `records_rejected` and logged).
    pub rejected: Vec<RejectedRecord>,
}

/// How a file's import may be resumed, checkpointed and cut short.
#[derive(Default)]
pub struct Options<'a> {
    /// The run's claim on the file: checkpoints and rejects go to the state store through it;
    /// `None` for runs without state.
    pub lease: Option<&'a FileLease>,
    /// Where an earlier run stopped on this file version.
    pub resume: Option<Checkpoint>,
    /// Stop reading at this instant, deliver what was read, checkpoint, and answer
    /// `continued` (the handler's deadline less its margin).
    pub stop_at: Option<Instant>,
}

/// Runs one import to completion, from the start of the file, without checkpoints.
pub async fn run(
    job: &ImportJob,
    source: &dyn Source,
    sink: Arc<dyn Sink>,
    config: &Config,
    progress: Arc<Progress>,
) -> Result<Summary, ImportError> {
    run_file(job, source, sink, config, progress, Options::default()).await
}

/// Runs one import of a file: resumed from `options.resume` when given, checkpointed through
/// `options.tracker`, and stopped early at `options.stop_at`.
pub async fn run_file(
    job: &ImportJob,
    source: &dyn Source,
    sink: Arc<dyn Sink>,
    config: &Config,
    progress: Arc<Progress>,
    options: Options<'_>,
) -> Result<Summary, ImportError> {
    FileImport {
        job,
        source,
        sink,
        config,
        progress,
        options,
    }
    .run()
    .await
}

/// One file version's import, from opening it to its summary.
pub struct FileImport<'a> {
    pub job: &'a ImportJob,
    pub source: &'a dyn Source,
    pub sink: Arc<dyn Sink>,
    pub config: &'a Config,
    /// Shared by a run's files (one live display).
    pub progress: Arc<Progress>,
    pub options: Options<'a>,
}

impl FileImport<'_> {
    /// Opens the file, spawns the stages, reads (while following delivery to checkpoint it),
    /// and settles the outcome.
    pub async fn run(self) -> Result<Summary, ImportError> {
        let started = Instant::now();
        // This file's own counts are what it adds to the run's progress.
        let bytes_before = self.progress.bytes_read.load(Ordering::Relaxed);
        let Options {
            lease,
            resume,
            stop_at,
        } = self.options;
        let (job, config) = (self.job, self.config);
        let opened = OpenedFile::open(job, self.source, config, &self.progress, resume).await?;
        let lease: Option<OpenLease> = match lease {
            Some(lease) => Some(lease.open(opened.file.clone(), opened.mark).await?),
            None => None,
        };
        let stopped = Arc::new(AtomicBool::new(false));
        let wiring = Wiring {
            mapper: opened.mapper,
            delimiter: opened.profile.delimiter,
            source: opened.source_ref.clone(),
            import_id: opened.file.import_id.clone(),
            from: opened.mark,
            lease: lease.clone(),
            stopped: Arc::clone(&stopped),
        };
        let (upstream, downstream) = Downstream::spawn(wiring, self.sink, config);

        // Read in this task; stop early if the downstream stages have gone away, at the stop
        // instant, or when the checkpointer finds the file taken over.
        let cancelled = AtomicBool::new(false);
        let reading = ReadStage {
            reader: opened.reader,
            pool: upstream.pool,
            handoff: upstream.handoff,
            progress: &self.progress,
            skip_through: opened.start.skip_through,
            shift: opened.start.shift,
            stop: StopRule {
                at: stop_at,
                from: opened.mark,
                delivered: upstream.marks.clone(),
                cancelled: &cancelled,
                stopped: &stopped,
            },
        }
        .run();
        let following = async {
            let Some(lease) = &lease else {
                return Ok(());
            };
            let followed = lease.follow(upstream.marks).await;
            if followed.is_err() {
                cancelled.store(true, Ordering::Relaxed);
            }
            followed
        };
        let (read, follow) = tokio::join!(reading, following);
        let (packed, delivery) = downstream.join().await?;
        let read = read.map_err(|err| read_error(&job.source, err));
        let outcome = Outcome::rank(delivery, follow, packed, read);
        let settle = Settle {
            job,
            lease,
            file: opened.file,
            from: opened.mark,
            profile: opened.profile.name,
            progress: self.progress,
            bytes_before,
            started,
        };
        settle.run(outcome, stopped.load(Ordering::SeqCst)).await
    }
}

/// A read error as the import reports it: a source that could not be reopened (or changed
/// under us) is the source's failure, not the file's, whichever layer it came up through.
fn read_error(uri: &str, source: shared::ReadError) -> ImportError {
    let (position, io) = match source.into_io() {
        Ok(io) => io,
        Err(other) => {
            return ImportError::Read {
                uri: uri.to_owned(),
                source: other,
            };
        }
    };
    if io.get_ref().is_some_and(|e| e.is::<SourceError>()) {
        let inner = io
            .into_inner()
            .and_then(|e| e.downcast::<SourceError>().ok());
        return ImportError::Source(*inner.expect("checked above"));
    }
    ImportError::Read {
        uri: uri.to_owned(),
        source: shared::ReadError::Io {
            position,
            source: io,
        },
    }
}

/// Counts bytes as they are read from the source.
struct Counting<R> {
    inner: R,
    progress: Arc<Progress>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counting<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = buf.filled().len() - before;
        self.progress
            .bytes_read
            .fetch_add(read as u64, Ordering::Relaxed);
        result
    }
}
