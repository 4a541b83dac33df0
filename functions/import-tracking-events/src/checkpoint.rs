//! Checkpoints: how far a file is delivered, kept in the state store while importing, so that a
//! run cut short — by the deadline, a crash, a lost connection or spent send retries — is resumed
//! by the next one where delivery stopped, not from the start.
//!
//! A [`Mark`] is a point in the file where everything before is settled: every record up to
//! `through_record` is either in a chunk confirmed delivered or rejected, and the next message
//! is chunk `next_chunk`. Packing is greedy and starts a new message at such a point, so a run
//! resumed from a mark cuts exactly the chunks an uninterrupted run would have: a consumer that
//! drops replays by (`import_id`, `chunk`) sees every event once.
//!
//! The [`Tracker`] writes marks as delivery confirms them (at most every `CHECKPOINT_INTERVAL_MS`)
//! and renews the run's claim on the file each time, so a live run keeps its file and a dead
//! one's claim lapses after `CLAIM_TTL_SECS`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{Duration as ChronoDuration, Utc};
use serde::{Deserialize, Serialize};
use shared::Position;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::decompress::Compression;
use crate::error::StateError;
use crate::rejects::Rejects;
use crate::state::{self, Checkpoint, Claim, StateStore};

/// A settled point of a file: the resume point of a checkpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    /// Every record up to and including this one (1-based; 0 = none) is delivered or rejected.
    pub through_record: u64,
    /// Where record `through_record` starts: reading resumes there, skipping that one record
    /// (a record's end is not known until the next is read).
    pub line: u64,
    pub byte: u64,
    /// The chunk number of the next message.
    pub next_chunk: u64,
    /// Events and rejected records up to `through_record`, over the whole file.
    pub events: u64,
    pub rejected: u64,
}

impl Mark {
    /// The start of a file.
    pub fn start() -> Mark {
        Mark {
            next_chunk: 1,
            ..Mark::default()
        }
    }

    /// A mark at record `position`.
    pub fn at(position: Position, next_chunk: u64, events: u64, rejected: u64) -> Mark {
        Mark {
            through_record: position.record,
            line: position.line,
            byte: position.byte,
            next_chunk,
            events,
            rejected,
        }
    }

    /// Messages delivered up to the mark.
    pub fn messages(&self) -> u64 {
        self.next_chunk.saturating_sub(1)
    }
}

/// What a checkpoint records besides its mark: fixed for one file version.
#[derive(Debug, Clone)]
pub struct FileVersion {
    pub version: String,
    pub import_id: String,
    pub compression: Compression,
    pub headers: Option<Vec<String>>,
    /// Invocations that worked on this version, this one included.
    pub segments: u64,
}

/// Writes one file's checkpoints for one run.
pub struct Tracker {
    pub store: Arc<dyn StateStore>,
    /// The state document ([`state::connection_key`]) and the run's source, as discovery has them.
    pub connection: String,
    pub source: String,
    /// The file being imported.
    pub uri: String,
    pub run_id: String,
    pub claim_ttl: Duration,
    /// Least time between two checkpoints while marks advance.
    pub interval: Duration,
}

impl Tracker {
    /// Records `mark` (after persisting the rejects it covers) and renews this run's claim.
    /// Fails with [`StateError::ClaimLost`] when another run has taken the file over.
    pub async fn save(
        &self,
        file: &FileVersion,
        mark: Mark,
        rejects: Option<&Arc<tokio::sync::Mutex<Rejects>>>,
    ) -> Result<(), StateError> {
        if let Some(rejects) = rejects {
            rejects.lock().await.flush().await?;
        }
        let ttl = ChronoDuration::from_std(self.claim_ttl).unwrap_or(ChronoDuration::minutes(2));
        let saved = state::update(
            self.store.as_ref(),
            &self.connection,
            &self.source,
            |state| {
                let now = Utc::now();
                if let Some(other) = state.claimed_by_other(&self.uri, &self.run_id, now) {
                    return Some(Err(other.run_id.clone()));
                }
                state.claims.insert(
                    self.uri.clone(),
                    Claim {
                        version: file.version.clone(),
                        run_id: self.run_id.clone(),
                        expires_at: now + ttl,
                    },
                );
                state.checkpoints.insert(
                    self.uri.clone(),
                    Checkpoint {
                        version: file.version.clone(),
                        import_id: file.import_id.clone(),
                        compression: file.compression,
                        mark,
                        headers: file.headers.clone(),
                        segments: file.segments,
                        run_id: self.run_id.clone(),
                        updated_at: now,
                    },
                );
                Some(Ok(()))
            },
        )
        .await?;
        match saved {
            Some(Err(run)) => Err(StateError::ClaimLost {
                uri: self.uri.clone(),
                run,
            }),
            _ => {
                tracing::debug!(file = %self.uri, through_record = mark.through_record, next_chunk = mark.next_chunk, "checkpoint saved");
                Ok(())
            }
        }
    }

    /// Saves marks as `marks` advances until its sender is dropped: at most every `interval`,
    /// and at least every quarter of the claim's lifetime (to renew the claim) even when
    /// nothing moves. A failed write is logged and retried with the next mark: a missed
    /// checkpoint only means more to repeat after a crash. A lost claim is returned at once.
    pub async fn follow(
        &self,
        file: &FileVersion,
        mut marks: watch::Receiver<Mark>,
        rejects: Option<&Arc<tokio::sync::Mutex<Rejects>>>,
    ) -> Result<(), StateError> {
        let renew_every = (self.claim_ttl / 4).max(Duration::from_millis(250));
        let mut saved = *marks.borrow();
        let mut saved_at = Instant::now();
        let mut open = true;
        while open {
            let dirty = *marks.borrow() != saved;
            let due = saved_at + if dirty { self.interval } else { renew_every };
            tokio::select! {
                changed = marks.changed() => {
                    open = changed.is_ok();
                    continue;
                }
                _ = tokio::time::sleep_until(due) => {}
            }
            let mark = *marks.borrow_and_update();
            match self.save(file, mark, rejects).await {
                Ok(()) => saved = mark,
                Err(err @ StateError::ClaimLost { .. }) => return Err(err),
                Err(err) => {
                    tracing::warn!(file = %self.uri, error = %shared::report(&err), "checkpoint not saved; will retry");
                }
            }
            saved_at = Instant::now();
        }
        Ok(())
    }
}
