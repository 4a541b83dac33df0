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
//! whose batches all landed, and the [`Tracker`] checkpoints it. An import resumed from a
//! checkpoint reopens the file at the mark's byte (or, for gzip, reads from the start) and skips
//! the settled records, so it cuts the same chunks the interrupted run would have.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use serde::Serialize;
use shared::profile::Format;
use shared::{Mapper, Position, Profile, RecordReader};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

mod encode;
mod pack;
mod read;
mod start;

use self::encode::{Encoded, Encoder, RecordBatch};
use self::pack::{PackIo, PackStage, RejectsOut};
use self::read::{ReadStage, StopRule};
use self::start::Start;
use crate::checkpoint::{FileVersion, Mark, Tracker};
use crate::config::Config;
use crate::decompress::{self, Compression};
use crate::deliver::{self, RetryPolicy};
use crate::envelope::{self, Batch, Batcher, Packer, SourceRef};
use crate::error::{ImportError, SourceError, StateError};
use crate::rejects::Rejects;
use crate::request::ImportJob;
use crate::sink::Sink;
use crate::source::{ReopenPolicy, Reopening, Source};
use crate::state::Checkpoint;

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
pub struct Options {
    /// Records checkpoints and rejects in the state store; `None` for runs without state.
    pub tracker: Option<Tracker>,
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
    options: Options,
) -> Result<Summary, ImportError> {
    let started = Instant::now();
    // A run shares one Progress across its files (one live display); this file's own counts
    // are what it adds to it.
    let bytes_before = progress.bytes_read.load(Ordering::Relaxed);
    let profile: Profile = crate::profiles::for_job(job, source).await?;
    if profile.format == Format::Api {
        return Err(shared::ProfileError::NotAFileProfile {
            profile: profile.name,
        }
        .into());
    }
    let Options {
        tracker,
        mut resume,
        stop_at,
    } = options;
    let mut start = resume
        .as_ref()
        .map_or_else(Start::beginning, |c| Start::after(c, &profile));
    let mut opened = source.open(&job.source, start.offset).await?;
    if let Some(checkpoint) = &resume
        && checkpoint.version != opened.version
    {
        // Replaced since it was listed: a new version, imported from its start.
        tracing::info!(source = %job.source, "the file changed since its checkpoint; starting over");
        resume = None;
        start = Start::beginning();
        opened = source.open(&job.source, 0).await?;
    }
    let mark = resume.as_ref().map_or_else(Mark::start, |c| c.mark);
    progress
        .total_bytes
        .store(opened.size.unwrap_or(0), Ordering::Relaxed);
    let source_ref = SourceRef {
        uri: job.source.clone(),
        version: opened.version.clone(),
    };
    let import_id = envelope::import_id(&source_ref);
    tracing::info!(
        %import_id,
        source = %job.source,
        version = %source_ref.version,
        profile = %profile.name,
        resumed_from_record = mark.through_record,
        offset = start.offset,
        "import started"
    );

    let read_err = |source: shared::ReadError| read_error(&job.source, source);
    let reopening = Reopening::new(
        source,
        &job.source,
        start.offset,
        opened,
        ReopenPolicy {
            attempts: config.source_retries,
            base_delay: config.source_retry_base,
        },
    );
    // Counted before decompression: progress is measured against the source's size.
    let counted: decompress::Body<'_> = Box::pin(Counting {
        inner: reopening,
        progress: Arc::clone(&progress),
    });
    let (plain, compression) = if start.offset > 0 {
        // Mid-file bytes are not a magic number; the checkpoint said the file is plain.
        (counted, Compression::None)
    } else {
        decompress::detect(counted).await.map_err(|source| {
            read_err(shared::ReadError::Io {
                position: Position::default(),
                source,
            })
        })?
    };
    let plain: decompress::Body<'_> = match start.header.take() {
        Some(header) => Box::pin(std::io::Cursor::new(header).chain(plain)),
        None => plain,
    };
    let mut reader = RecordReader::new(plain, &profile);
    let headers = reader.headers().await.map_err(read_err)?;
    // A header that lacks a profile column fails here, before anything is sent.
    let mapper = Arc::new(Mapper::new(&profile, &headers).map_err(read_err)?);
    let file = FileVersion {
        version: source_ref.version.clone(),
        import_id: import_id.clone(),
        compression,
        headers: shared::reader::saved_headers(&profile, &headers),
        segments: resume.as_ref().map_or(1, |c| c.segments + 1),
    };
    let rejects = match &tracker {
        Some(t) => Some(Arc::new(tokio::sync::Mutex::new(
            Rejects::resume(
                Arc::clone(&t.store),
                t.connection.clone(),
                import_id.clone(),
                mark.rejected,
            )
            .await?,
        ))),
        None => None,
    };

    let workers = config.encode_workers;
    // Two read batches queued per encoder: with one, an encoder that finished often found the
    // queue empty and slept until the reader (sharing the cores with it) caught up; two took
    // `--sink null` on 200 MB from ~2.2 s to ~1.85 s on 2 cores, at no memory cost (the pool
    // below bounds the batches, not this queue).
    let (work_tx, work_rx) = async_channel::bounded::<RecordBatch>(workers * 2);
    let (pool_tx, pool_rx) = async_channel::bounded::<RecordBatch>(workers * 2 + 2);
    for _ in 0..workers * 2 + 2 {
        let _ = pool_tx.try_send(RecordBatch::empty());
    }
    let (encoded_tx, encoded_rx) = mpsc::channel::<Encoded>(workers * 2);
    // Encoded buffers (~350 KiB each) come back from the messages for reuse: fresh ones would be
    // page-faulted in again for every batch.
    let (spare_tx, spare_rx) = async_channel::bounded::<Vec<u8>>(workers * 2);
    // One batch ready behind those in flight is enough to keep the sink busy; more would only
    // hold their pieces longer.
    let (batch_tx, batch_rx) = mpsc::channel::<Batch>(1);
    let (marks_tx, marks_rx) = watch::channel(mark);

    let encoders: Vec<_> = (0..workers)
        .map(|_| {
            let encoder = Encoder {
                mapper: Arc::clone(&mapper),
                delimiter: profile.delimiter,
                work: work_rx.clone(),
                pool: pool_tx.clone(),
                spare: spare_rx.clone(),
                out: encoded_tx.clone(),
            };
            tokio::task::spawn_blocking(move || encoder.run())
        })
        .collect();
    drop((work_rx, pool_tx, encoded_tx, spare_rx));

    let packer = Packer::new(
        import_id.clone(),
        source_ref.clone(),
        config.max_message_bytes,
    )
    .starting_at_chunk(mark.next_chunk);
    let stopped = Arc::new(AtomicBool::new(false));
    let packing = tokio::spawn(
        PackStage::new(
            PackIo {
                encoded: encoded_rx,
                spare: spare_tx,
                batches: batch_tx,
            },
            packer,
            Batcher::new(config.max_batch_bytes),
            mark,
            rejects.clone().map(|writer| RejectsOut {
                writer,
                source: source_ref.clone(),
                import_id: import_id.clone(),
            }),
            Arc::clone(&stopped),
        )
        .run(),
    );
    let delivery = tokio::spawn(deliver::run(
        sink,
        batch_rx,
        config.send_concurrency,
        RetryPolicy {
            attempts: config.send_attempts,
            base_delay: config.send_retry_base,
        },
        mark,
        Some(marks_tx),
    ));

    // Read in this task; stop early if the downstream stages have gone away, at the stop
    // instant, or when the checkpointer finds the file taken over.
    let cancelled = AtomicBool::new(false);
    let reading = ReadStage {
        reader,
        pool: pool_rx,
        work: work_tx,
        progress: &progress,
        skip_through: start.skip_through,
        shift: start.shift,
        stop: StopRule {
            at: stop_at,
            from: mark,
            delivered: marks_rx.clone(),
            cancelled: &cancelled,
            stopped: &stopped,
        },
    }
    .run();
    let following = async {
        match &tracker {
            Some(tracker) => {
                let followed = tracker.follow(&file, marks_rx, rejects.as_ref()).await;
                if followed.is_err() {
                    cancelled.store(true, Ordering::Relaxed);
                }
                followed
            }
            None => Ok(()),
        }
    };
    let (read_result, follow_result) = tokio::join!(reading, following);

    for encoder in encoders {
        encoder
            .await
            .map_err(|_| ImportError::Pipeline("an encoder thread panicked"))?;
    }
    let packed = packing
        .await
        .map_err(|_| ImportError::Pipeline("the packer task panicked"))?;
    let delivery = delivery
        .await
        .map_err(|_| ImportError::Pipeline("the delivery task panicked"))?;
    let delivered = match &delivery {
        Ok(d) => *d,
        Err(failed) => failed.delivered,
    };
    let stopped = stopped.load(Ordering::SeqCst);
    // The delivery error, if any, came first (it is why the others stopped); then a lost claim;
    // then the packer's; then the reader's own.
    let failure = match (delivery, follow_result, packed, read_result) {
        (Err(failed), ..) => Some(ImportError::Delivery {
            delivered_through: failed.delivered.mark.through_record,
            checkpointed: false,
            source: failed.source,
        }),
        (_, Err(lost), ..) => Some(ImportError::State(lost)),
        (_, _, Err(err), _) => Some(err),
        (_, _, _, Err(err)) => Some(read_err(err)),
        (Ok(_), Ok(()), Ok(listed), Ok(())) => {
            let final_mark = delivered.mark;
            let continued = stopped;
            if continued && let Some(tracker) = &tracker {
                tracker
                    .save(&file, final_mark, rejects.as_ref())
                    .await
                    .map_err(ImportError::State)?;
            } else if let Some(rejects) = &rejects {
                rejects.lock().await.flush().await?;
            }
            let summary = Summary {
                import_id,
                source: job.source.clone(),
                source_version: source_ref.version,
                profile: profile.name,
                status: if continued {
                    Status::Continued
                } else {
                    Status::Complete
                },
                error_type: None,
                error: None,
                compression,
                bytes_read: progress.bytes_read.load(Ordering::Relaxed) - bytes_before,
                records_read: final_mark.through_record,
                events_emitted: final_mark.events,
                records_rejected: final_mark.rejected,
                messages_sent: final_mark.messages(),
                batch_requests: delivered.batch_requests,
                message_bytes: delivered.message_bytes,
                delivered_through_record: final_mark.through_record,
                resumed_from_record: mark.through_record,
                segments: file.segments,
                elapsed_ms: started.elapsed().as_millis() as u64,
                rejected: listed,
            };
            tracing::info!(
                import_id = %summary.import_id,
                status = summary.status.as_str(),
                records_read = summary.records_read,
                events_emitted = summary.events_emitted,
                records_rejected = summary.records_rejected,
                messages_sent = summary.messages_sent,
                batch_requests = summary.batch_requests,
                elapsed_ms = summary.elapsed_ms,
                "import {}",
                summary.status.as_str()
            );
            return Ok(summary);
        }
    };
    let mut failure = failure.expect("every other case returned");
    // Whatever stopped the import, what was delivered stays delivered: the next run resumes
    // after it instead of sending it all again.
    if let Some(tracker) = &tracker
        && !matches!(failure, ImportError::State(StateError::ClaimLost { .. }))
        && delivered.mark.through_record > mark.through_record
    {
        match tracker.save(&file, delivered.mark, rejects.as_ref()).await {
            Ok(()) => {
                if let ImportError::Delivery { checkpointed, .. } = &mut failure {
                    *checkpointed = true;
                }
                tracing::info!(
                    source = %job.source,
                    through_record = delivered.mark.through_record,
                    next_chunk = delivered.mark.next_chunk,
                    "import failed; checkpointed what was delivered"
                );
            }
            Err(err) => {
                tracing::warn!(source = %job.source, error = %shared::report(&err), "import failed and its checkpoint could not be saved")
            }
        }
    }
    Err(failure)
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
