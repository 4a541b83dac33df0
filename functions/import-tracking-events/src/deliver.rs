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
use tokio::sync::mpsc;

use crate::envelope::Batch;
use crate::error::{ImportError, SinkError};
use crate::sink::Sink;

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
    /// Every record up to this one is delivered.
    pub through_record: u64,
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

/// Tracks the contiguous prefix of delivered chunks.
#[derive(Debug)]
struct Watermark {
    next_chunk: u64,
    through_record: u64,
    done: BTreeMap<u64, u64>,
}

impl Watermark {
    fn new(first_chunk: u64) -> Self {
        Watermark {
            next_chunk: first_chunk,
            through_record: 0,
            done: BTreeMap::new(),
        }
    }

    fn complete(&mut self, batch: &Batch) {
        for m in &batch.messages {
            self.done.insert(m.chunk, m.last_record);
        }
        while let Some(last) = self.done.remove(&self.next_chunk) {
            self.through_record = last;
            self.next_chunk += 1;
        }
    }
}

/// Drains `batches` into `sink` with at most `concurrency` requests in flight.
pub async fn run(
    sink: Arc<dyn Sink>,
    mut batches: mpsc::Receiver<Batch>,
    concurrency: usize,
    policy: RetryPolicy,
) -> Result<Delivered, ImportError> {
    let mut delivered = Delivered::default();
    let mut watermark = Watermark::new(1);
    let mut in_flight = FuturesUnordered::new();
    let mut open = true;
    loop {
        tokio::select! {
            batch = batches.recv(), if open && in_flight.len() < concurrency => match batch {
                Some(batch) => {
                    let sink = Arc::clone(&sink);
                    in_flight.push(async move {
                        let result = send_batch(sink.as_ref(), &batch, policy).await;
                        (batch, result)
                    });
                }
                None => open = false,
            },
            Some((batch, result)) = in_flight.next(), if !in_flight.is_empty() => match result {
                Ok(requests) => {
                    delivered.batch_requests += requests;
                    delivered.messages += batch.messages.len() as u64;
                    delivered.message_bytes += batch.bytes() as u64;
                    watermark.complete(&batch);
                    delivered.through_record = watermark.through_record;
                }
                Err(source) => {
                    return Err(ImportError::Delivery {
                        delivered_through: watermark.through_record,
                        source,
                    });
                }
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

    fn batch(chunks: std::ops::RangeInclusive<u64>) -> Batch {
        Batch {
            messages: chunks.map(|c| message(c, 64)).collect(),
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
        let err = run(sink, rx, 1, FAST).await.unwrap_err();
        match err {
            ImportError::Delivery {
                delivered_through,
                source:
                    SinkError::EntriesFailed {
                        failed, attempts, ..
                    },
            } => {
                assert_eq!(delivered_through, 100, "chunks 1..=10 landed");
                assert_eq!((failed, attempts), (1, 3));
            }
            other => panic!("unexpected {other}"),
        }
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
        let delivered = run(sink, rx, 4, FAST).await.unwrap();
        producer.await.unwrap();
        assert_eq!(delivered.messages, 50);
        assert_eq!(delivered.batch_requests, 11);
        assert_eq!(delivered.through_record, 500);
    }
}
