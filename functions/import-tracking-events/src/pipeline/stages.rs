//! The stages downstream of the reader, wired and spawned: encoder threads, the packer and
//! delivery, joined by bounded channels so memory stays flat whatever the file size; and
//! joining them when the reader is done.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::RejectedRecord;
use super::encode::{Encoded, Encoder, Encoding, Handoff, RecordBatch};
use super::pack::{PackIo, PackStage};
use crate::config::Config;
use crate::deliver::{self, Delivered, RetryPolicy};
use crate::envelope::{Batch, Batcher, Packer, SourceRef};
use crate::error::ImportError;
use crate::sink::Sink;
use crate::state::{Mark, OpenLease};

/// Encoded buffers kept for reuse. The pieces of a batch of messages come back together when it
/// is delivered: a pool smaller than that drops buffers the encoders then allocate afresh, and
/// every page of a fresh buffer is faulted in again. Buffers only wait here after being in use,
/// so peak memory is what the pipeline held at once.
const SPARE_BUFFERS: usize = 16;

/// The reader's ends of the channels.
pub(super) struct Upstream {
    /// Empty record batches to fill.
    pub pool: async_channel::Receiver<RecordBatch>,
    /// Where filled batches go.
    pub handoff: Handoff,
    /// The furthest settled point delivered.
    pub marks: watch::Receiver<Mark>,
}

/// The running stages after the reader.
pub(super) struct Downstream {
    encoders: Vec<JoinHandle<()>>,
    packing: JoinHandle<Result<Vec<RejectedRecord>, ImportError>>,
    delivery: JoinHandle<Result<Delivered, deliver::Failed>>,
}

/// What the stages start from.
pub(super) struct Wiring {
    pub mapper: Arc<shared::Mapper>,
    pub delimiter: u8,
    pub source: SourceRef,
    pub import_id: String,
    /// The settled point this run starts from.
    pub from: Mark,
    /// Where rejected records are kept (runs with state).
    pub lease: Option<OpenLease>,
    /// Set by the reader when it stops early.
    pub stopped: Arc<AtomicBool>,
}

/// `workers` encoder threads and the reader's way to them; none with 0, the reader then encodes.
fn encoders(
    workers: usize,
    encoding: Encoding,
    pool: async_channel::Sender<RecordBatch>,
    out: mpsc::Sender<Encoded>,
) -> (Handoff, Vec<JoinHandle<()>>) {
    if workers == 0 {
        let inline = Handoff::Inline {
            encoding,
            out,
            pool,
        };
        return (inline, Vec::new());
    }
    // Two read batches queued per encoder: with one, an encoder that finished often found the
    // queue empty and slept until the reader (sharing the cores with it) caught up; two took
    // `--sink null` on 200 MB from ~2.2 s to ~1.85 s on 2 cores, at no memory cost (the pool
    // bounds the batches, not this queue).
    let (work_tx, work_rx) = async_channel::bounded::<RecordBatch>(workers * 2);
    let threads = (0..workers)
        .map(|_| {
            let encoder = Encoder {
                encoding: encoding.clone(),
                work: work_rx.clone(),
                pool: pool.clone(),
                out: out.clone(),
            };
            tokio::task::spawn_blocking(move || encoder.run())
        })
        .collect();
    (Handoff::Encoders(work_tx), threads)
}

impl Downstream {
    /// Spawns the encoders, the packer and delivery; returns the reader's ends.
    pub(super) fn spawn(w: Wiring, sink: Arc<dyn Sink>, config: &Config) -> (Upstream, Downstream) {
        let workers = config.encode_workers;
        let (pool_tx, pool_rx) = async_channel::bounded::<RecordBatch>(workers * 2 + 2);
        for _ in 0..workers * 2 + 2 {
            let _ = pool_tx.try_send(RecordBatch::empty());
        }
        let (encoded_tx, encoded_rx) = mpsc::channel::<Encoded>((workers * 2).max(2));
        // Encoded buffers (~350 KiB each) come back from the messages for reuse: fresh ones
        // would be page-faulted in again for every batch.
        let (spare_tx, spare_rx) = async_channel::bounded::<Vec<u8>>(SPARE_BUFFERS);
        // One batch ready behind those in flight is enough to keep the sink busy; more would
        // only hold their pieces longer.
        let (batch_tx, batch_rx) = mpsc::channel::<Batch>(1);
        let (marks_tx, marks_rx) = watch::channel(w.from);

        let encoding = Encoding {
            mapper: w.mapper,
            delimiter: w.delimiter,
            spare: spare_rx,
        };
        let (handoff, encoders) = encoders(workers, encoding, pool_tx, encoded_tx);
        let packer = Packer::encoded(
            w.import_id,
            w.source,
            config.max_message_bytes,
            config.envelope_encoding,
        )
        .keeping_events(sink.writes_events())
        .starting_at_chunk(w.from.next_chunk);
        let io = PackIo {
            encoded: encoded_rx,
            spare: spare_tx,
            batches: batch_tx,
        };
        let batcher = Batcher::new(config.max_batch_bytes);
        let packing = PackStage::new(io, packer, batcher, w.from, w.lease, w.stopped);
        let retry = RetryPolicy {
            attempts: config.send_attempts,
            base_delay: config.send_retry_base,
        };
        let delivery = deliver::run(
            sink,
            batch_rx,
            config.send_concurrency,
            retry,
            w.from,
            Some(marks_tx),
        );
        let upstream = Upstream {
            pool: pool_rx,
            handoff,
            marks: marks_rx,
        };
        let downstream = Downstream {
            encoders,
            packing: tokio::spawn(packing.run()),
            delivery: tokio::spawn(delivery),
        };
        (upstream, downstream)
    }

    /// Waits for every stage; the packer's listed rejections and delivery's account.
    #[allow(clippy::type_complexity)]
    pub(super) async fn join(
        self,
    ) -> Result<
        (
            Result<Vec<RejectedRecord>, ImportError>,
            Result<Delivered, deliver::Failed>,
        ),
        ImportError,
    > {
        for encoder in self.encoders {
            encoder
                .await
                .map_err(|_| ImportError::Pipeline("an encoder thread panicked"))?;
        }
        let packed = self
            .packing
            .await
            .map_err(|_| ImportError::Pipeline("the packer task panicked"))?;
        let delivery = self
            .delivery
            .await
            .map_err(|_| ImportError::Pipeline("the delivery task panicked"))?;
        Ok((packed, delivery))
    }
}
