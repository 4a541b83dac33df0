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

use std::collections::BTreeMap;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use serde::Serialize;
use shared::profile::{Format, TextEncoding};
use shared::{Mapper, Position, Profile, Record, RecordReader, Rejection};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::checkpoint::{FileVersion, Mark, Tracker};
use crate::config::Config;
use crate::decompress::{self, Compression};
use crate::deliver::{self, RetryPolicy};
use crate::envelope::{self, Batch, Batcher, Message, Packer, Piece, SourceRef};
use crate::error::{ImportError, SourceError, StateError};
use crate::rejects::{self, RejectLine, Rejects};
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

impl From<&Rejection> for RejectedRecord {
    fn from(r: &Rejection) -> Self {
        RejectedRecord {
            record: r.position.record,
            line: r.position.line,
            byte: r.position.byte,
            reason: r.reason.to_string(),
        }
    }
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

/// A slice of records on its way to an encoder; recycled through the pool.
struct RecordBatch {
    seq: u64,
    records: Vec<Record>,
    len: usize,
}

/// An encoder's output for one [`RecordBatch`].
struct Encoded {
    seq: u64,
    json: Vec<u8>,
    /// Events as comma-separated JSON; each event's record position and byte range in `json`.
    events: Vec<(Position, Range<usize>)>,
    /// Rejected records, each with its raw text.
    rejections: Vec<(Rejection, String)>,
}

/// What the packer lists in the summary (its counts travel in marks).
#[derive(Default)]
struct Packed {
    rejected: u64,
    listed: Vec<RejectedRecord>,
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

/// Where reading starts and how the positions it reports map back onto the file.
struct Start {
    /// Byte offset to open the source at.
    offset: u64,
    /// Records up to this one were settled by an earlier run: read, but not sent again.
    skip_through: u64,
    /// The header line to put back in front of a CSV opened mid-file.
    header: Option<Vec<u8>>,
    /// Added to the positions the reader reports (it counts from the bytes it is given).
    shift: Shift,
}

#[derive(Debug, Clone, Copy, Default)]
struct Shift {
    record: u64,
    line: i64,
    byte: i64,
}

impl Shift {
    fn apply(&self, p: &mut Position) {
        p.record += self.record;
        p.line = p.line.saturating_add_signed(self.line);
        p.byte = p.byte.saturating_add_signed(self.byte);
    }
}

impl Start {
    fn beginning() -> Start {
        Start {
            offset: 0,
            skip_through: 0,
            header: None,
            shift: Shift::default(),
        }
    }

    /// Resuming after `checkpoint`: at the byte of its last settled record (skipping that one
    /// record) when the file can be entered there, else from the start skipping every settled
    /// record (a gzip stream has no way in but its beginning).
    fn after(checkpoint: &Checkpoint, profile: &Profile) -> Start {
        let mark = checkpoint.mark;
        if mark.through_record == 0 {
            return Start::beginning();
        }
        let from_start = Start {
            skip_through: mark.through_record,
            ..Start::beginning()
        };
        // The reader opened mid-file still expects the file's first line when it has one.
        let header = match profile.format {
            Format::Jsonl => None,
            _ if !profile.has_headers => None,
            // Any non-blank line: the fixed-width reader skips its first one as the title.
            Format::Fixed => Some(b"-\n".to_vec()),
            _ => match &checkpoint.headers {
                // Rewritten as UTF-8: only safe when the file's encoding reads it back alike.
                Some(fields)
                    if profile.encoding == TextEncoding::Utf8
                        || fields.iter().all(|f| f.is_ascii()) =>
                {
                    Some(header_line(fields, profile))
                }
                _ => return from_start,
            },
        };
        if checkpoint.compression != Compression::None {
            return from_start;
        }
        let (header_bytes, header_lines) = header.as_ref().map_or((0, 0), |h| {
            (
                h.len() as i64,
                h.iter().filter(|&&b| b == b'\n').count() as i64,
            )
        });
        Start {
            offset: mark.byte,
            skip_through: mark.through_record,
            shift: Shift {
                record: mark.through_record - 1,
                line: mark.line as i64 - 1 - header_lines,
                byte: mark.byte as i64 - header_bytes,
            },
            header,
        }
    }
}

/// The header fields as one line of the profile's CSV dialect, for a reader that starts
/// mid-file.
fn header_line(fields: &[String], profile: &Profile) -> Vec<u8> {
    let mut builder = csv::WriterBuilder::new();
    builder
        .delimiter(profile.delimiter)
        .terminator(csv::Terminator::Any(b'\n'));
    match profile.quote {
        Some(quote) => builder.quote(quote),
        None => builder.quote_style(csv::QuoteStyle::Never),
    };
    let mut writer = builder.from_writer(Vec::new());
    writer
        .write_record(fields)
        .expect("writing to a Vec cannot fail");
    writer.into_inner().expect("writing to a Vec cannot fail")
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
        headers: (profile.format != Format::Jsonl)
            .then(|| {
                headers
                    .iter()
                    .map(|h| std::str::from_utf8(h).ok().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            })
            .flatten(),
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
        let _ = pool_tx.try_send(RecordBatch {
            seq: 0,
            records: Vec::new(),
            len: 0,
        });
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
            let (mapper, work_rx, pool_tx, out, spare) = (
                Arc::clone(&mapper),
                work_rx.clone(),
                pool_tx.clone(),
                encoded_tx.clone(),
                spare_rx.clone(),
            );
            let delimiter = profile.delimiter;
            tokio::task::spawn_blocking(move || {
                encode_loop(&mapper, delimiter, work_rx, pool_tx, spare, out)
            })
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
    let packing = tokio::spawn(pack(
        encoded_rx,
        spare_tx,
        packer,
        Batcher::new(config.max_batch_bytes),
        batch_tx,
        Settled::from(mark),
        rejects
            .clone()
            .map(|r| (r, source_ref.clone(), import_id.clone())),
        Arc::clone(&stopped),
    ));
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
    let mut seq = 0;
    let skip_through = start.skip_through;
    let shift = start.shift;
    let delivered_marks = marks_rx.clone();
    let reading = async {
        let work_tx = work_tx;
        loop {
            // Stopping before anything new is settled would leave the next invocation exactly
            // here, so at least one mark past the start is delivered first.
            let due = stop_at.is_some_and(|t| Instant::now() >= t)
                && delivered_marks.borrow().through_record > mark.through_record;
            if due || cancelled.load(Ordering::Relaxed) {
                stopped.store(true, Ordering::SeqCst);
                return Ok(());
            }
            let Ok(mut batch) = pool_rx.recv().await else {
                return Ok(());
            };
            batch.seq = seq;
            batch.len = 0;
            let mut eof = false;
            let mut read = 0;
            let mut failed = None;
            while batch.len < BATCH_RECORDS {
                if batch.records.len() == batch.len {
                    batch.records.push(Record::default());
                }
                let record = &mut batch.records[batch.len];
                match reader.read(record).await {
                    Ok(true) => {}
                    Ok(false) => {
                        eof = true;
                        break;
                    }
                    // The records read before the failure go on like any others: what the
                    // file held up to the point where it broke is delivered, not dropped.
                    Err(err) => {
                        failed = Some(err);
                        break;
                    }
                }
                shift.apply(&mut record.position);
                if record.position.record <= skip_through {
                    continue;
                }
                batch.len += 1;
                read += 1;
            }
            progress.records_read.fetch_add(read, Ordering::Relaxed);
            if batch.len > 0 {
                if work_tx.send(batch).await.is_err() {
                    return Ok(());
                }
                seq += 1;
            }
            if let Some(err) = failed {
                return Err(err);
            }
            if eof {
                return Ok(());
            }
        }
    };
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
    drop(pool_rx);

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
        (Ok(_), Ok(()), Ok(packed), Ok(())) => {
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
                rejected: packed.listed,
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
    let (position, io) = match source {
        shared::ReadError::Io { position, source } => (position, source),
        shared::ReadError::Csv { position, source }
            if matches!(source.kind(), csv_async::ErrorKind::Io(_)) =>
        {
            let csv_async::ErrorKind::Io(io) = source.into_kind() else {
                unreachable!("matched above")
            };
            (position, io)
        }
        other => {
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

/// An encoder thread: maps and serializes record batches until the work channel closes.
fn encode_loop(
    mapper: &Mapper,
    delimiter: u8,
    work: async_channel::Receiver<RecordBatch>,
    pool: async_channel::Sender<RecordBatch>,
    spare: async_channel::Receiver<Vec<u8>>,
    out: mpsc::Sender<Encoded>,
) {
    while let Ok(batch) = work.recv_blocking() {
        // A recycled buffer already has the capacity a batch needs; a new one starts at a
        // typical size and grows once.
        let mut json = spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(batch.len * 700));
        json.clear();
        let mut encoded = Encoded {
            seq: batch.seq,
            json,
            events: Vec::with_capacity(batch.len),
            rejections: Vec::new(),
        };
        for record in &batch.records[..batch.len] {
            match mapper.map(record) {
                Ok(event) => {
                    if !encoded.events.is_empty() {
                        encoded.json.push(b',');
                    }
                    let start = encoded.json.len();
                    crate::json::write_event(&mut encoded.json, &event);
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
                    let raw = raw_text(record, delimiter);
                    encoded.rejections.push((rejection, raw));
                }
            }
        }
        if out.blocking_send(encoded).is_err() {
            return;
        }
        // The reader may already be done; a closed pool just drops the batch.
        let _ = pool.send_blocking(batch);
    }
}

/// A rejected record's fields as one CSV line, for the rejects object.
fn raw_text(record: &Record, delimiter: u8) -> String {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    let _ = writer.write_record(record.fields.iter());
    let mut bytes = writer.into_inner().unwrap_or_default();
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    }
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

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

/// Where the packer writes rejects: the store's writer, and what each line names.
type RejectsOut = (Arc<tokio::sync::Mutex<Rejects>>, SourceRef, String);

/// The packer's output side: messages into batches, batches with their marks to delivery.
struct Out {
    batcher: Batcher,
    tx: mpsc::Sender<Batch>,
    /// Marks of messages handed to the batcher, by chunk, until their batch leaves.
    marks: std::collections::VecDeque<(u64, Mark)>,
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

/// Restores record order and packs events into messages and batches, each batch carrying the
/// settled point it completes; rejected records are written to `rejects` in order.
#[allow(clippy::too_many_arguments)]
async fn pack(
    mut encoded: mpsc::Receiver<Encoded>,
    spare: async_channel::Sender<Vec<u8>>,
    mut packer: Packer,
    batcher: Batcher,
    tx: mpsc::Sender<Batch>,
    mut settled: Settled,
    rejects: Option<RejectsOut>,
    stopped: Arc<AtomicBool>,
) -> Result<Packed, ImportError> {
    let mut out = Out {
        batcher,
        tx,
        marks: Default::default(),
    };
    let mut packed = Packed::default();
    let mut waiting = BTreeMap::new();
    let mut next_seq = 0;
    while let Some(batch) = encoded.recv().await {
        waiting.insert(batch.seq, batch);
        while let Some(batch) = waiting.remove(&next_seq) {
            next_seq += 1;
            let mut rejections = batch.rejections.into_iter().peekable();
            let piece = Piece::new(batch.json, Some(spare.clone()));
            for (position, range) in batch.events {
                let record = position.record;
                // Interleave rejections so they stay in record order.
                while let Some((r, raw)) = rejections.next_if(|(r, _)| r.position.record < record) {
                    let reason = r.reason.to_string();
                    reject(
                        &mut packer,
                        &mut out,
                        &mut settled,
                        &mut packed,
                        &rejects,
                        r.position,
                        reason,
                        raw,
                    )
                    .await?;
                }
                if let Some(mark) = span(&mut packer, &mut out, &settled, record).await? {
                    settled.clean = mark;
                }
                match packer.push(record, &piece, range) {
                    Ok(flushed) => {
                        if let Some(message) = flushed {
                            let mark = settled.message_mark(&message);
                            out.message(message, mark).await?;
                            settled.clean = mark;
                        }
                        settled.events += 1;
                        settled.last_event = Some((position, settled.rejected));
                        settled.last_record = Some(position);
                    }
                    Err(too_large) => {
                        let reason = format!(
                            "its event is {} bytes, more than the {} a message can carry",
                            too_large.bytes, too_large.limit
                        );
                        reject(
                            &mut packer,
                            &mut out,
                            &mut settled,
                            &mut packed,
                            &rejects,
                            position,
                            reason,
                            String::new(),
                        )
                        .await?;
                    }
                }
            }
            for (r, raw) in rejections {
                let reason = r.reason.to_string();
                reject(
                    &mut packer,
                    &mut out,
                    &mut settled,
                    &mut packed,
                    &rejects,
                    r.position,
                    reason,
                    raw,
                )
                .await?;
            }
        }
    }
    if stopped.load(Ordering::SeqCst) {
        // Stopped early: the message being filled is left for the next run to cut whole (a
        // shorter one now would differ from the chunk an uninterrupted import makes).
        if settled.clean != settled.sent {
            out.mark(settled.clean).await?;
        } else if let Some(batch) = out.batcher.finish() {
            out.send(batch).await?;
        }
        return Ok(packed);
    }
    if let Some(message) = packer.finish() {
        let mark = settled.message_mark(&message);
        out.message(message, mark).await?;
    }
    // The end of the file is settled once everything before it is delivered.
    let end = match settled.last_record {
        Some(last) => Mark::at(last, packer.next_chunk(), settled.events, settled.rejected),
        None => settled.clean,
    };
    out.mark(end).await?;
    Ok(packed)
}

impl Settled {
    /// The mark of a message just closed: it ends with the last event packed.
    fn message_mark(&self, message: &Message) -> Mark {
        let (position, rejected) = self.last_event.expect("a message holds an event");
        Mark::at(position, message.chunk + 1, self.events, rejected)
    }
}

/// Closes the message being filled when record `record` would make it span too many records.
async fn span(
    packer: &mut Packer,
    out: &mut Out,
    settled: &Settled,
    record: u64,
) -> Result<Option<Mark>, ImportError> {
    if packer
        .open_since()
        .is_some_and(|first| record >= first + MESSAGE_SPAN_RECORDS)
        && let Some(message) = packer.finish()
    {
        let mark = settled.message_mark(&message);
        out.message(message, mark).await?;
        return Ok(Some(mark));
    }
    Ok(None)
}

/// Counts, lists and stores one rejected record, and moves the settled point past it when no
/// message is open.
#[allow(clippy::too_many_arguments)]
async fn reject(
    packer: &mut Packer,
    out: &mut Out,
    settled: &mut Settled,
    packed: &mut Packed,
    rejects: &Option<RejectsOut>,
    position: Position,
    reason: String,
    mut raw: String,
) -> Result<(), ImportError> {
    if let Some(mark) = span(packer, out, settled, position.record).await? {
        settled.clean = mark;
    }
    settled.rejected += 1;
    settled.last_record = Some(position);
    if let Some((writer, source, import_id)) = rejects {
        let raw_truncated = rejects::cap_raw(&mut raw);
        writer
            .lock()
            .await
            .add(&RejectLine {
                import_id: import_id.clone(),
                source: source.uri.clone(),
                version: source.version.clone(),
                record: position.record,
                line: position.line,
                byte: position.byte,
                reason: reason.clone(),
                raw,
                raw_truncated,
            })
            .await?;
    }
    packed.note(RejectedRecord {
        record: position.record,
        line: position.line,
        byte: position.byte,
        reason,
    });
    if packer.open_since().is_none() {
        settled.clean = Mark::at(
            position,
            packer.next_chunk(),
            settled.events,
            settled.rejected,
        );
        // A long run of rejected records is checkpointed now and then on its own.
        if settled.clean.through_record >= settled.sent.through_record + MESSAGE_SPAN_RECORDS {
            out.mark(settled.clean).await?;
            settled.sent = settled.clean;
        }
    }
    Ok(())
}

impl Packed {
    fn note(&mut self, rejected: RejectedRecord) {
        self.rejected += 1;
        if self.listed.len() < MAX_REJECTIONS_LISTED {
            self.listed.push(rejected);
        }
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
