//! Delivery: batches go to the sink with several in flight; entries the sink reports as failed
//! are resent alone, with exponential backoff and jitter, until they land or attempts run out.
//!
//! Batches can complete out of order, so delivery keeps a watermark: the last record of the
//! longest run of consecutive chunks whose batches landed whole. That is what an error reports
//! as safe (chunks of a batch that failed part-way may also be on the queue; a consumer drops
//! any replay of them by (`import_id`, `chunk`)).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::{mpsc, watch};

use crate::envelope::Batch;
use crate::error::SinkError;
use crate::sink::Sink;
use crate::state::Mark;

/// How hard to try before giving up on an entry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: usize,
    pub base_delay: Duration,
}

/// What delivery did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    pub messages: u64,
    pub batch_requests: u64,
    pub message_bytes: u64,
    /// The furthest mark whose batch, and every batch before it, landed.
    pub mark: Mark,
}

/// Delivery that stopped at an entry it could not send.
#[derive(Debug)]
pub struct Failed {
    pub delivered: Delivered,
    pub source: SinkError,
}

/// Sends one batch, resending failed entries alone. Returns the number of requests made.
pub async fn send_batch(
    sink: &dyn Sink,
    batch: &Batch,
    policy: RetryPolicy,
) -> Result<u64, SinkError> {
    let mut pending: Vec<usize> = (0..batch.messages.len()).collect();
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(policy.base_delay)
        .with_max_delay(Duration::from_secs(20))
        .with_jitter()
        .with_max_times(policy.attempts.saturating_sub(1))
        .build();
    let mut requests = 0;
    loop {
        let entries: Vec<_> = pending.iter().map(|&i| &batch.messages[i]).collect();
        requests += 1;
        let failed = sink.send(&entries).await?;
        if failed.is_empty() {
            return Ok(requests);
        }
        let Some(delay) = delays.next() else {
            let last = &failed[failed.len() - 1];
            return Err(SinkError::EntriesFailed {
                failed: failed.len(),
                attempts: policy.attempts,
                code: last.code.clone(),
                message: last.message.clone(),
            });
        };
        tracing::warn!(
            failed = failed.len(),
            code = %failed[0].code,
            delay_ms = delay.as_millis() as u64,
            "sink reported failed entries; resending them"
        );
        pending = failed.iter().map(|f| pending[f.index]).collect();
        tokio::time::sleep(delay).await;
    }
}

/// The furthest mark of the longest run of consecutive batches that landed.
#[derive(Debug)]
struct Watermark {
    next_seq: u64,
    mark: Mark,
    done: BTreeMap<u64, Option<Mark>>,
}

impl Watermark {
    fn new(start: Mark) -> Self {
        Watermark {
            next_seq: 0,
            mark: start,
            done: BTreeMap::new(),
        }
    }

    /// Records batch `seq` as landed; true when the mark moved.
    fn complete(&mut self, seq: u64, mark: Option<Mark>) -> bool {
        self.done.insert(seq, mark);
        let before = self.mark;
        while let Some(mark) = self.done.remove(&self.next_seq) {
            if let Some(mark) = mark {
                self.mark = mark;
            }
            self.next_seq += 1;
        }
        self.mark != before
    }
}

/// Drains `batches` into `sink` with at most `concurrency` requests in flight, publishing the
/// delivered mark on `marks` as it advances (from `start`, where the import began).
pub async fn run(
    sink: Arc<dyn Sink>,
    mut batches: mpsc::Receiver<Batch>,
    concurrency: usize,
    policy: RetryPolicy,
    start: Mark,
    marks: Option<watch::Sender<Mark>>,
) -> Result<Delivered, Failed> {
    let mut delivered = Delivered {
        mark: start,
        ..Delivered::default()
    };
    let mut watermark = Watermark::new(start);
    let mut in_flight = FuturesUnordered::new();
    let mut next_seq = 0;
    let mut open = true;
    let mut landed = |delivered: &mut Delivered, seq: u64, mark: Option<Mark>| {
        if watermark.complete(seq, mark) {
            delivered.mark = watermark.mark;
            if let Some(marks) = &marks {
                marks.send_replace(watermark.mark);
            }
        }
    };
    loop {
        tokio::select! {
            batch = batches.recv(), if open && in_flight.len() < concurrency => match batch {
                Some(batch) => {
                    let seq = next_seq;
                    next_seq += 1;
                    if batch.messages.is_empty() {
                        landed(&mut delivered, seq, batch.mark);
                        continue;
                    }
                    let sink = Arc::clone(&sink);
                    in_flight.push(async move {
                        let result = send_batch(sink.as_ref(), &batch, policy).await;
                        (seq, batch, result)
                    });
                }
                None => open = false,
            },
            Some((seq, batch, result)) = in_flight.next(), if !in_flight.is_empty() => match result {
                Ok(requests) => {
                    delivered.batch_requests += requests;
                    delivered.messages += batch.messages.len() as u64;
                    delivered.message_bytes += batch.bytes() as u64;
                    landed(&mut delivered, seq, batch.mark);
                }
                Err(source) => return Err(Failed { delivered, source }),
            },
            else => break,
        }
    }
    Ok(delivered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::Message;
    use crate::envelope::tests::message;
    use crate::sink::FailedEntry;
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// Fails each entry whose chunk is listed, the given number of times, then accepts it.
    struct Flaky {
        failures: Mutex<BTreeMap<u64, usize>>,
        seen: Mutex<Vec<Vec<u64>>>,
    }

    #[async_trait]
    impl Sink for Flaky {
        async fn send(&self, entries: &[&Message]) -> Result<Vec<FailedEntry>, SinkError> {
            self.seen
                .lock()
                .unwrap()
                .push(entries.iter().map(|m| m.chunk).collect());
            let mut failures = self.failures.lock().unwrap();
            let mut failed = Vec::new();
            for (index, m) in entries.iter().enumerate() {
                if let Some(left) = failures.get_mut(&m.chunk).filter(|n| **n > 0) {
                    *left -= 1;
                    failed.push(FailedEntry {
                        index,
                        code: "ServiceUnavailable".into(),
                        message: "try again".into(),
                    });
                }
            }
            Ok(failed)
        }
    }

    /// Chunks `chunks`, ten records each, with the mark of their last record.
    fn batch(chunks: std::ops::RangeInclusive<u64>) -> Batch {
        let last = *chunks.end();
        Batch {
            messages: chunks.map(|c| message(c, 64)).collect(),
            mark: Some(Mark {
                through_record: last * 10,
                next_chunk: last + 1,
                ..Mark::default()
            }),
        }
    }

    const FAST: RetryPolicy = RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(1),
    };

    #[tokio::test]
    async fn only_failed_entries_are_resent() {
        let sink = Flaky {
            failures: Mutex::new(BTreeMap::from([(2, 1), (4, 2)])),
            seen: Mutex::new(vec![]),
        };
        let requests = send_batch(&sink, &batch(1..=5), FAST).await.unwrap();
        assert_eq!(requests, 3);
        assert_eq!(
            *sink.seen.lock().unwrap(),
            vec![vec![1, 2, 3, 4, 5], vec![2, 4], vec![4]]
        );
    }

    #[tokio::test]
    async fn entries_failing_past_the_budget_fail_the_import_with_the_watermark() {
        let sink: Arc<dyn Sink> = Arc::new(Flaky {
            failures: Mutex::new(BTreeMap::from([(13, 99)])),
            seen: Mutex::new(vec![]),
        });
        let (tx, rx) = mpsc::channel(8);
        for b in [batch(1..=10), batch(11..=20), batch(21..=25)] {
            tx.send(b).await.unwrap();
        }
        drop(tx);
        let err = run(sink, rx, 1, FAST, Mark::start(), None)
            .await
            .unwrap_err();
        assert_eq!(
            err.delivered.mark.through_record, 100,
            "chunks 1..=10 landed"
        );
        assert_eq!(err.delivered.mark.next_chunk, 11);
        match err.source {
            SinkError::EntriesFailed {
                failed, attempts, ..
            } => assert_eq!((failed, attempts), (1, 3)),
            other => panic!("unexpected {other}"),
        }
    }

    #[tokio::test]
    async fn what_a_resumed_run_delivered_starts_at_its_checkpoint() {
        // Resumed after record 300 (chunk 30): with nothing landed, delivered is the checkpoint,
        // not the start of the file, so a failure does not write a checkpoint that goes back.
        let from = Mark {
            through_record: 300,
            line: 301,
            byte: 9_000,
            next_chunk: 31,
            events: 290,
            rejected: 10,
        };
        let refusing: Arc<dyn Sink> = Arc::new(Flaky {
            failures: Mutex::new(BTreeMap::from([(31, 99)])),
            seen: Mutex::new(vec![]),
        });
        let (tx, rx) = mpsc::channel(1);
        tx.send(batch(31..=35)).await.unwrap();
        drop(tx);
        let err = run(refusing, rx, 1, FAST, from, None).await.unwrap_err();
        assert_eq!(err.delivered.mark, from);
        let (tx, rx) = mpsc::channel(1);
        drop(tx);
        let idle: Arc<dyn Sink> = Arc::new(Flaky {
            failures: Mutex::new(BTreeMap::new()),
            seen: Mutex::new(vec![]),
        });
        let nothing = run(idle, rx, 1, FAST, from, None).await.unwrap();
        assert_eq!(nothing.mark, from);
    }

    #[tokio::test]
    async fn concurrent_delivery_counts_everything() {
        let sink: Arc<dyn Sink> = Arc::new(Flaky {
            failures: Mutex::new(BTreeMap::from([(3, 1)])),
            seen: Mutex::new(vec![]),
        });
        let (tx, rx) = mpsc::channel(2);
        let producer = tokio::spawn(async move {
            for start in (1..=50).step_by(5) {
                tx.send(batch(start..=start + 4)).await.unwrap();
            }
        });
        let (marks, mut seen) = watch::channel(Mark::start());
        let delivered = run(sink, rx, 4, FAST, Mark::start(), Some(marks))
            .await
            .unwrap();
        producer.await.unwrap();
        assert_eq!(delivered.messages, 50);
        assert_eq!(delivered.batch_requests, 11);
        assert_eq!(delivered.mark.through_record, 500);
        assert_eq!(seen.borrow_and_update().next_chunk, 51);
    }

    #[tokio::test]
    async fn the_mark_waits_for_every_earlier_batch() {
        let mut w = Watermark::new(Mark::start());
        let mark = |r| {
            Some(Mark {
                through_record: r,
                ..Mark::default()
            })
        };
        assert!(!w.complete(1, mark(20)), "batch 0 is still out");
        assert!(!w.complete(2, None));
        assert!(w.complete(0, mark(10)));
        assert_eq!(w.mark.through_record, 20, "0 and 1 landed; 2 has no mark");
        assert!(w.complete(3, mark(40)));
        assert_eq!(w.mark.through_record, 40);
    }
}
