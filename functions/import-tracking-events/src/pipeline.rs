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

use std::collections::BTreeMap;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use serde::Serialize;
use shared::profile::Format;
use shared::{Mapper, Position, Profile, Record, RecordReader, Rejection};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

use crate::config::Config;
use crate::decompress::{self, Compression};
use crate::deliver::{self, RetryPolicy};
use crate::envelope::{self, Batch, Batcher, Packer, Piece, SourceRef};
use crate::error::ImportError;
use crate::request::ImportJob;
use crate::sink::Sink;
use crate::source::Source;

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

/// What an import did: the Lambda result and the CLI's output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub import_id: String,
    pub source: String,
    pub source_version: String,
    pub profile: String,
    pub status: &'static str,
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
    rejections: Vec<Rejection>,
}

/// What the packer counted.
#[derive(Default)]
struct Packed {
    events: u64,
    rejected: u64,
    listed: Vec<RejectedRecord>,
}

/// Runs one import to completion.
pub async fn run(
    job: &ImportJob,
    source: &dyn Source,
    sink: Arc<dyn Sink>,
    config: &Config,
    progress: Arc<Progress>,
) -> Result<Summary, ImportError> {
    let started = Instant::now();
    // A run shares one Progress across its files (one live display); this file's own counts
    // are what it adds to it.
    let bytes_before = progress.bytes_read.load(Ordering::Relaxed);
    let records_before = progress.records_read.load(Ordering::Relaxed);
    let profile = Profile::builtin(&job.profile)?;
    if profile.format == Format::Api {
        return Err(shared::ProfileError::NotAFileProfile {
            profile: profile.name,
        }
        .into());
    }
    let opened = source.open(&job.source, 0).await?;
    progress
        .total_bytes
        .store(opened.size.unwrap_or(0), Ordering::Relaxed);
    let source_ref = SourceRef {
        uri: job.source.clone(),
        version: opened.version,
    };
    let import_id = envelope::import_id(&source_ref);
    tracing::info!(%import_id, source = %job.source, version = %source_ref.version, profile = %profile.name, "import started");

    let read_err = |source| ImportError::Read {
        uri: job.source.clone(),
        source,
    };
    // Counted before decompression: progress is measured against the source's size.
    let counted = Box::pin(Counting {
        inner: opened.body,
        progress: Arc::clone(&progress),
    });
    let (plain, compression) =
        decompress::detect(counted)
            .await
            .map_err(|source| ImportError::Read {
                uri: job.source.clone(),
                source: shared::ReadError::Io {
                    position: Position::default(),
                    source,
                },
            })?;
    let mut reader = RecordReader::new(plain, &profile);
    let headers = reader.headers().await.map_err(read_err)?;
    // A header that lacks a profile column fails here, before anything is sent.
    let mapper = Arc::new(Mapper::new(&profile, &headers).map_err(read_err)?);

    let workers = config.encode_workers;
    let (work_tx, work_rx) = async_channel::bounded::<RecordBatch>(workers);
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

    let encoders: Vec<_> = (0..workers)
        .map(|_| {
            let (mapper, work_rx, pool_tx, out, spare) = (
                Arc::clone(&mapper),
                work_rx.clone(),
                pool_tx.clone(),
                encoded_tx.clone(),
                spare_rx.clone(),
            );
            tokio::task::spawn_blocking(move || encode_loop(&mapper, work_rx, pool_tx, spare, out))
        })
        .collect();
    drop((work_rx, pool_tx, encoded_tx, spare_rx));

    let packer = Packer::new(
        import_id.clone(),
        source_ref.clone(),
        config.max_message_bytes,
    );
    let packing = tokio::spawn(pack(
        encoded_rx,
        spare_tx,
        packer,
        Batcher::new(config.max_batch_bytes),
        batch_tx,
    ));
    let delivery = tokio::spawn(deliver::run(
        sink,
        batch_rx,
        config.send_concurrency,
        RetryPolicy {
            attempts: config.send_attempts,
            base_delay: config.send_retry_base,
        },
    ));

    // Read in this task; stop early if the downstream stages have gone away.
    let mut seq = 0;
    let read_result = async {
        loop {
            let Ok(mut batch) = pool_rx.recv().await else {
                return Ok(());
            };
            batch.seq = seq;
            batch.len = 0;
            let mut eof = false;
            let mut failed = None;
            while batch.len < BATCH_RECORDS {
                if batch.records.len() == batch.len {
                    batch.records.push(Record::default());
                }
                match reader.read(&mut batch.records[batch.len]).await {
                    Ok(true) => batch.len += 1,
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
            }
            progress
                .records_read
                .fetch_add(batch.len as u64, Ordering::Relaxed);
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
    }
    .await;
    drop(work_tx);
    drop(pool_rx);

    for encoder in encoders {
        encoder
            .await
            .map_err(|_| ImportError::Pipeline("an encoder thread panicked"))?;
    }
    let packed = packing
        .await
        .map_err(|_| ImportError::Pipeline("the packer task panicked"))?;
    let delivered = delivery
        .await
        .map_err(|_| ImportError::Pipeline("the delivery task panicked"))??;
    // The delivery error, if any, came first (it is why the others stopped); then the packer's;
    // then the reader's own.
    let packed = packed?;
    read_result.map_err(read_err)?;

    let summary = Summary {
        import_id,
        source: job.source.clone(),
        source_version: source_ref.version,
        profile: profile.name,
        status: "complete",
        compression,
        bytes_read: progress.bytes_read.load(Ordering::Relaxed) - bytes_before,
        records_read: progress.records_read.load(Ordering::Relaxed) - records_before,
        events_emitted: packed.events,
        records_rejected: packed.rejected,
        messages_sent: delivered.messages,
        batch_requests: delivered.batch_requests,
        message_bytes: delivered.message_bytes,
        delivered_through_record: delivered.through_record,
        elapsed_ms: started.elapsed().as_millis() as u64,
        rejected: packed.listed,
    };
    tracing::info!(
        import_id = %summary.import_id,
        records_read = summary.records_read,
        events_emitted = summary.events_emitted,
        records_rejected = summary.records_rejected,
        messages_sent = summary.messages_sent,
        batch_requests = summary.batch_requests,
        elapsed_ms = summary.elapsed_ms,
        "import complete"
    );
    Ok(summary)
}

/// An encoder thread: maps and serializes record batches until the work channel closes.
fn encode_loop(
    mapper: &Mapper,
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
                    // sonic-rs: the same serde output as serde_json, with SIMD string escaping
                    // (serde_json's byte-at-a-time escaping was a quarter of the import's CPU).
                    sonic_rs::to_writer(&mut encoded.json, &event)
                        .expect("serializing to a Vec cannot fail");
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
                    encoded.rejections.push(rejection);
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

/// Restores record order and packs events into messages and batches.
async fn pack(
    mut encoded: mpsc::Receiver<Encoded>,
    spare: async_channel::Sender<Vec<u8>>,
    mut packer: Packer,
    mut batcher: Batcher,
    out: mpsc::Sender<Batch>,
) -> Result<Packed, ImportError> {
    let stopped = || ImportError::Pipeline("delivery stopped before the import finished");
    let mut packed = Packed::default();
    let mut waiting = BTreeMap::new();
    let mut next_seq = 0;
    while let Some(batch) = encoded.recv().await {
        waiting.insert(batch.seq, batch);
        while let Some(batch) = waiting.remove(&next_seq) {
            next_seq += 1;
            let mut rejections = batch.rejections.iter().peekable();
            let piece = Piece::new(batch.json, Some(spare.clone()));
            for (position, range) in batch.events {
                let record = position.record;
                // Interleave rejections so the listed ones stay in record order.
                while let Some(r) = rejections.next_if(|r| r.position.record < record) {
                    packed.note(r.into());
                }
                match packer.push(record, &piece, range) {
                    Ok(Some(message)) => {
                        packed.events += 1;
                        if let Some(full) = batcher.push(message) {
                            out.send(full).await.map_err(|_| stopped())?;
                        }
                    }
                    Ok(None) => packed.events += 1,
                    Err(too_large) => {
                        let reason = format!(
                            "its event is {} bytes, more than the {} a message can carry",
                            too_large.bytes, too_large.limit
                        );
                        tracing::warn!(record, %reason, "record rejected");
                        packed.note(RejectedRecord {
                            record,
                            line: position.line,
                            byte: position.byte,
                            reason,
                        });
                    }
                }
            }
            for r in rejections {
                packed.note(r.into());
            }
        }
    }
    if let Some(message) = packer.finish()
        && let Some(full) = batcher.push(message)
    {
        out.send(full).await.map_err(|_| stopped())?;
    }
    if let Some(last) = batcher.finish() {
        out.send(last).await.map_err(|_| stopped())?;
    }
    Ok(packed)
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
