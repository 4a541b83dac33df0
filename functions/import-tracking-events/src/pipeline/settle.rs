//! How a file's import ends, once its stages are done: the outcome ranked (the failure that
//! explains the others comes first), the summary of a finished import, and, whatever stopped an
//! import, a checkpoint of what was delivered so the next run resumes after it.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::time::Instant;

use super::{Progress, RejectedRecord, Status, Summary};
use crate::deliver::{self, Delivered};
use crate::error::{ImportError, StateError};
use crate::request::ImportJob;
use crate::state::{FileVersion, Mark, OpenLease};

/// How the stages ended.
pub(super) enum Outcome {
    /// Read to the end (or to an early stop) and delivered.
    Finished {
        delivered: Delivered,
        listed: Vec<RejectedRecord>,
    },
    Failed {
        /// What was delivered before the failure.
        delivered: Delivered,
        failure: ImportError,
    },
}

impl Outcome {
    /// The delivery error, if any, came first (it is why the others stopped); then a lost
    /// claim; then the packer's; then the reader's own.
    pub(super) fn rank(
        delivery: Result<Delivered, deliver::Failed>,
        follow: Result<(), StateError>,
        packed: Result<Vec<RejectedRecord>, ImportError>,
        read: Result<(), ImportError>,
    ) -> Outcome {
        let delivered = match delivery {
            Ok(delivered) => delivered,
            Err(failed) => {
                return Outcome::Failed {
                    delivered: failed.delivered,
                    failure: ImportError::Delivery {
                        delivered_through: failed.delivered.mark.through_record,
                        checkpointed: false,
                        source: failed.source,
                    },
                };
            }
        };
        let failed = |failure| Outcome::Failed { delivered, failure };
        match (follow, packed, read) {
            (Err(lost), ..) => failed(ImportError::State(lost)),
            (_, Err(err), _) => failed(err),
            (_, _, Err(err)) => failed(err),
            (Ok(()), Ok(listed), Ok(())) => Outcome::Finished { delivered, listed },
        }
    }
}

/// What settling an import needs of the file it imported.
pub(super) struct Settle<'a> {
    pub job: &'a ImportJob,
    /// The file's lease, for runs with state.
    pub lease: Option<OpenLease>,
    pub file: FileVersion,
    /// Where this run started (an earlier run's checkpoint, or the start of the file).
    pub from: Mark,
    pub profile: String,
    pub progress: Arc<Progress>,
    /// The run's bytes read before this file (one progress is shared by a run's files).
    pub bytes_before: u64,
    pub started: Instant,
}

impl Settle<'_> {
    /// The import's summary, or its failure after checkpointing what was delivered.
    pub(super) async fn run(self, outcome: Outcome, stopped: bool) -> Result<Summary, ImportError> {
        match outcome {
            Outcome::Finished { delivered, listed } => {
                self.finished(delivered, listed, stopped).await
            }
            Outcome::Failed { delivered, failure } => Err(self.failed(delivered, failure).await),
        }
    }

    async fn finished(
        self,
        delivered: Delivered,
        listed: Vec<RejectedRecord>,
        stopped: bool,
    ) -> Result<Summary, ImportError> {
        let end = delivered.mark;
        if let Some(lease) = &self.lease {
            if stopped {
                lease.save(end).await.map_err(ImportError::State)?;
            } else {
                lease.flush().await?;
            }
        }
        let summary = Summary {
            import_id: self.file.import_id,
            source: self.job.source.clone(),
            source_version: self.file.version,
            profile: self.profile,
            status: if stopped {
                Status::Continued
            } else {
                Status::Complete
            },
            error_type: None,
            error: None,
            compression: self.file.compression,
            bytes_read: self.progress.bytes_read.load(Ordering::Relaxed) - self.bytes_before,
            records_read: end.through_record,
            events_emitted: end.events,
            records_rejected: end.rejected,
            messages_sent: end.messages(),
            batch_requests: delivered.batch_requests,
            message_bytes: delivered.message_bytes,
            delivered_through_record: end.through_record,
            resumed_from_record: self.from.through_record,
            segments: self.file.segments,
            elapsed_ms: self.started.elapsed().as_millis() as u64,
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
        Ok(summary)
    }

    /// Whatever stopped the import, what was delivered stays delivered: the next run resumes
    /// after it instead of sending it all again.
    async fn failed(self, delivered: Delivered, mut failure: ImportError) -> ImportError {
        let Some(lease) = &self.lease else {
            return failure;
        };
        if matches!(failure, ImportError::State(StateError::ClaimLost { .. }))
            || delivered.mark.through_record <= self.from.through_record
        {
            return failure;
        }
        let source = &self.job.source;
        match lease.save(delivered.mark).await {
            Ok(()) => {
                if let ImportError::Delivery { checkpointed, .. } = &mut failure {
                    *checkpointed = true;
                }
                tracing::info!(
                    %source,
                    through_record = delivered.mark.through_record,
                    next_chunk = delivered.mark.next_chunk,
                    "import failed; checkpointed what was delivered"
                );
            }
            Err(err) => {
                tracing::warn!(%source, error = %shared::report(&err), "import failed and its checkpoint could not be saved")
            }
        }
        failure
    }
}
