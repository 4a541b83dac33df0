//! One file version's life in the state store, owned by one value: a run claims the file
//! ([`Ledger::claim`] → [`FileLease`]), opens it at the version it actually reads
//! ([`FileLease::open`] → [`OpenLease`]), writes rejected records and checkpoints that renew the
//! claim while delivery confirms them, and finally records the file done, set aside as failed,
//! or releases it for the next run.
//!
//! Every change is a compare-and-swap of the connection's document ([`super::update`]), so the
//! claim a checkpoint renews is the one this run holds: when another run has taken a lapsed claim
//! over, the checkpoint fails with [`StateError::ClaimLost`] and the import stops.

use std::sync::Arc;
use std::time::Duration;

use chrono::{Duration as ChronoDuration, Utc};
use shared::Position;
use tokio::sync::{Mutex, watch};
use tokio::time::Instant;

use super::rejects::{self, RejectLine, Rejects};
use super::{Checkpoint, Claim, Done, Failed, FileVersion, Mark, State, StateStore};
use crate::error::StateError;

/// Where a run keeps its once-only state and checkpoints, and how long its claims last.
#[derive(Clone)]
pub struct Once {
    pub store: Arc<dyn StateStore>,
    pub claim_ttl: Duration,
}

/// One run's hold on a connection's state document: which document, and which run it is.
pub struct Ledger {
    store: Arc<dyn StateStore>,
    /// The document's name ([`super::connection_key`] of `source`).
    connection: String,
    /// The run's source URI or pattern.
    source: String,
    run_id: String,
    claim_ttl: Duration,
    /// Least time between two checkpoints while marks advance.
    interval: Duration,
}

impl Ledger {
    /// The ledger of a new run (a fresh run id) on `source`.
    pub fn new(once: &Once, source: &str, checkpoint_interval: Duration) -> Arc<Ledger> {
        Arc::new(Ledger {
            store: Arc::clone(&once.store),
            connection: super::connection_key(source),
            source: source.to_owned(),
            run_id: uuid::Uuid::new_v4().to_string(),
            claim_ttl: once.claim_ttl,
            interval: checkpoint_interval,
        })
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Claims `uri` at `version` for this run, unless it is done at this version, set aside as
    /// failed at it (claimed all the same with `retry_failed`), or held by another run's live
    /// claim. `None` when it is not this run's to import.
    pub async fn claim(
        self: &Arc<Self>,
        uri: &str,
        version: &str,
        retry_failed: bool,
    ) -> Result<Option<FileLease>, StateError> {
        let resume = self
            .update(|state| {
                let now = Utc::now();
                if state.is_done(uri, version) {
                    return None;
                }
                if !retry_failed && state.is_failed(uri, version) {
                    tracing::info!(file = %uri, "set aside as failed at this version; skipped");
                    return None;
                }
                if let Some(other) = state.claimed_by_other(uri, &self.run_id, now) {
                    tracing::info!(file = %uri, run = %other.run_id, "another run is importing this file");
                    return None;
                }
                // A checkpoint of another version is of a file that has since been replaced.
                if state.checkpoints.get(uri).is_some_and(|c| c.version != version) {
                    state.checkpoints.remove(uri);
                }
                state.claims.insert(uri.to_owned(), self.claim_at(version, now));
                Some(state.checkpoint(uri, version).cloned())
            })
            .await?;
        Ok(resume.map(|resume| FileLease {
            ledger: Arc::clone(self),
            uri: uri.to_owned(),
            resume,
        }))
    }

    fn claim_at(&self, version: &str, now: chrono::DateTime<Utc>) -> Claim {
        let ttl = ChronoDuration::from_std(self.claim_ttl).unwrap_or(ChronoDuration::minutes(2));
        Claim {
            version: version.to_owned(),
            run_id: self.run_id.clone(),
            expires_at: now + ttl,
        }
    }

    async fn update<T>(
        &self,
        change: impl FnMut(&mut State) -> Option<T> + Send,
    ) -> Result<Option<T>, StateError> {
        super::update(self.store.as_ref(), &self.connection, &self.source, change).await
    }
}

/// A run's claim on one file: where it resumes, and how the file's import ends in the store.
pub struct FileLease {
    ledger: Arc<Ledger>,
    uri: String,
    /// The checkpoint an earlier run left at the claimed version.
    resume: Option<Checkpoint>,
}

impl FileLease {
    /// Where an earlier run stopped on the claimed version (taken once, by the import).
    pub fn take_resume(&mut self) -> Option<Checkpoint> {
        self.resume.take()
    }

    /// Starts checkpointing `file` (the version actually opened) from `from`: the rejects object
    /// is reloaded up to the rejections `from` covers.
    pub async fn open(&self, file: FileVersion, from: Mark) -> Result<OpenLease, StateError> {
        let ledger = &self.ledger;
        let rejects = Rejects::resume(
            Arc::clone(&ledger.store),
            ledger.connection.clone(),
            file.import_id.clone(),
            from.rejected,
        )
        .await?;
        Ok(OpenLease(Arc::new(Open {
            ledger: Arc::clone(ledger),
            uri: self.uri.clone(),
            file,
            rejects: Mutex::new(rejects),
        })))
    }

    /// Records the file done (at the version `done` names, the one actually read), dropping
    /// this run's claim, its checkpoint and any earlier failure.
    pub async fn done(&self, done: Done) -> Result<(), StateError> {
        let uri = &self.uri;
        self.ledger
            .update(|state| {
                state.release(uri, &self.ledger.run_id);
                state.checkpoints.remove(uri);
                state.failed.remove(uri);
                state.done.insert(uri.clone(), done.clone());
                Some(())
            })
            .await?;
        Ok(())
    }

    /// Sets the file aside as failed at `failed.version` and drops this run's claim; returns
    /// the checkpoint of that version (what was delivered before the failure), if any.
    pub async fn failed(&self, failed: Failed) -> Result<Option<Checkpoint>, StateError> {
        let uri = &self.uri;
        let checkpoint = self
            .ledger
            .update(|state| {
                state.release(uri, &self.ledger.run_id);
                let checkpoint = state.checkpoint(uri, &failed.version).cloned();
                state.failed.insert(uri.clone(), failed.clone());
                Some(checkpoint)
            })
            .await?;
        Ok(checkpoint.flatten())
    }

    /// Drops this run's claim (its checkpoint stays), so the next run need not wait for it to
    /// lapse. Best effort: an unreleased claim only delays the next run until it lapses.
    pub async fn release(&self) {
        let released = self
            .ledger
            .update(|state| state.release(&self.uri, &self.ledger.run_id).then_some(()))
            .await;
        if let Err(err) = released {
            tracing::warn!(file = %self.uri, error = %shared::report(&err), "could not release the claim");
        }
    }
}

/// A claimed file being imported at a known version: its checkpoints and rejected records.
/// Cheap to clone; the stages that write rejects or follow delivery each hold one.
#[derive(Clone)]
pub struct OpenLease(Arc<Open>);

struct Open {
    ledger: Arc<Ledger>,
    uri: String,
    file: FileVersion,
    rejects: Mutex<Rejects>,
}

impl OpenLease {
    /// Adds a rejected record (its raw text capped at [`super::MAX_RAW_BYTES`]) to the rejects
    /// object; a full part is written at once, the rest with the next checkpoint.
    pub async fn reject(
        &self,
        position: Position,
        reason: &str,
        mut raw: String,
    ) -> Result<(), StateError> {
        let raw_truncated = rejects::cap_raw(&mut raw);
        let open = &self.0;
        let line = RejectLine {
            import_id: open.file.import_id.clone(),
            source: open.uri.clone(),
            version: open.file.version.clone(),
            record: position.record,
            line: position.line,
            byte: position.byte,
            reason: reason.to_owned(),
            raw,
            raw_truncated,
        };
        open.rejects.lock().await.add(&line).await
    }

    /// Writes the rejects not yet stored.
    pub async fn flush(&self) -> Result<(), StateError> {
        self.0.rejects.lock().await.flush().await
    }

    /// Records `mark` (after storing the rejects it covers) and renews this run's claim.
    /// Fails with [`StateError::ClaimLost`] when another run has taken the file over.
    pub async fn save(&self, mark: Mark) -> Result<(), StateError> {
        self.flush().await?;
        let Open {
            ledger, uri, file, ..
        } = self.0.as_ref();
        let saved = ledger
            .update(|state| {
                let now = Utc::now();
                if let Some(other) = state.claimed_by_other(uri, &ledger.run_id, now) {
                    return Some(Err(other.run_id.clone()));
                }
                state
                    .claims
                    .insert(uri.clone(), ledger.claim_at(&file.version, now));
                state
                    .checkpoints
                    .insert(uri.clone(), checkpoint(file, mark, &ledger.run_id, now));
                Some(Ok(()))
            })
            .await?;
        if let Some(Err(run)) = saved {
            return Err(StateError::ClaimLost {
                uri: uri.clone(),
                run,
            });
        }
        tracing::debug!(file = %uri, through_record = mark.through_record, next_chunk = mark.next_chunk, "checkpoint saved");
        Ok(())
    }

    /// Saves marks as `marks` advances until its sender is dropped: at most every checkpoint
    /// interval, and at least every quarter of the claim's lifetime (to renew the claim) even
    /// when nothing moves. A failed write is logged and retried with the next mark: a missed
    /// checkpoint only means more to repeat after a crash. A lost claim is returned at once.
    pub async fn follow(&self, mut marks: watch::Receiver<Mark>) -> Result<(), StateError> {
        let ledger = &self.0.ledger;
        let renew_every = (ledger.claim_ttl / 4).max(Duration::from_millis(250));
        let mut saved = *marks.borrow();
        let mut saved_at = Instant::now();
        let mut open = true;
        while open {
            let dirty = *marks.borrow() != saved;
            let due = saved_at + if dirty { ledger.interval } else { renew_every };
            tokio::select! {
                changed = marks.changed() => {
                    open = changed.is_ok();
                    continue;
                }
                _ = tokio::time::sleep_until(due) => {}
            }
            let mark = *marks.borrow_and_update();
            match self.save(mark).await {
                Ok(()) => saved = mark,
                Err(err @ StateError::ClaimLost { .. }) => return Err(err),
                Err(err) => {
                    tracing::warn!(file = %self.0.uri, error = %shared::report(&err), "checkpoint not saved; will retry");
                }
            }
            saved_at = Instant::now();
        }
        Ok(())
    }
}

fn checkpoint(
    file: &FileVersion,
    mark: Mark,
    run_id: &str,
    now: chrono::DateTime<Utc>,
) -> Checkpoint {
    Checkpoint {
        version: file.version.clone(),
        import_id: file.import_id.clone(),
        compression: file.compression,
        mark,
        headers: file.headers.clone(),
        segments: file.segments,
        run_id: run_id.to_owned(),
        updated_at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decompress::Compression;
    use crate::state::MemoryStateStore;

    const URI: &str = "s3://drop/TRACK_1.csv";
    const SOURCE: &str = "s3://drop/TRACK_*.csv";

    fn ledger(store: &Arc<MemoryStateStore>, claim_ttl: Duration) -> Arc<Ledger> {
        let once = Once {
            store: Arc::clone(store) as Arc<dyn StateStore>,
            claim_ttl,
        };
        Ledger::new(&once, SOURCE, Duration::from_secs(1))
    }

    async fn state(store: &MemoryStateStore) -> State {
        let connection = super::super::connection_key(SOURCE);
        store.load(&connection, SOURCE).await.unwrap().state
    }

    /// Writes of the document so far: the memory store's tag counts them.
    async fn writes(store: &MemoryStateStore) -> u64 {
        let connection = super::super::connection_key(SOURCE);
        let tag = store.load(&connection, SOURCE).await.unwrap().tag;
        tag.map_or(0, |t| t.parse().unwrap())
    }

    fn version(version: &str) -> FileVersion {
        FileVersion {
            version: version.into(),
            import_id: format!("import-{version}"),
            compression: Compression::None,
            headers: Some(vec!["tracking_number".into()]),
            segments: 1,
        }
    }

    fn mark(through_record: u64) -> Mark {
        Mark {
            through_record,
            line: through_record + 1,
            byte: through_record * 40,
            next_chunk: through_record / 10 + 1,
            events: through_record,
            rejected: 0,
        }
    }

    fn done(version: &str) -> Done {
        Done {
            version: version.into(),
            import_id: format!("import-{version}"),
            imported_at: Utc::now(),
            records_read: 3,
            events_emitted: 3,
            records_rejected: 0,
        }
    }

    const LONG: Duration = Duration::from_secs(120);

    #[tokio::test]
    async fn a_file_version_is_claimed_by_one_run_and_never_again_once_done() {
        let store = Arc::new(MemoryStateStore::default());
        let (a, b) = (ledger(&store, LONG), ledger(&store, LONG));
        let lease = a.claim(URI, "v1", false).await.unwrap().expect("free");
        assert!(
            b.claim(URI, "v1", false).await.unwrap().is_none(),
            "a live claim of another run keeps the file"
        );
        lease.done(done("v1")).await.unwrap();
        let after = state(&store).await;
        assert!(after.claims.is_empty(), "done drops the claim");
        assert!(after.is_done(URI, "v1"));
        assert!(b.claim(URI, "v1", false).await.unwrap().is_none(), "done");
        assert!(
            a.claim(URI, "v1", false).await.unwrap().is_none(),
            "not even by the run that did it"
        );
        let changed = b.claim(URI, "v2", false).await.unwrap();
        assert!(changed.is_some(), "a new version is a new file to import");
    }

    #[tokio::test]
    async fn a_checkpoint_renews_the_claim_and_the_next_claim_resumes_from_it() {
        let store = Arc::new(MemoryStateStore::default());
        let (a, b) = (ledger(&store, LONG), ledger(&store, LONG));
        let lease = a.claim(URI, "v1", false).await.unwrap().unwrap();
        let claimed_until = state(&store).await.claims[URI].expires_at;
        let open = lease.open(version("v1"), Mark::start()).await.unwrap();
        open.save(mark(40)).await.unwrap();
        let saved = state(&store).await;
        assert!(saved.claims[URI].expires_at >= claimed_until, "renewed");
        assert_eq!(saved.claims[URI].run_id, a.run_id());
        let checkpoint = saved.checkpoint(URI, "v1").expect("saved");
        assert_eq!(checkpoint.mark, mark(40));
        assert_eq!(checkpoint.import_id, "import-v1");
        assert_eq!(checkpoint.run_id, a.run_id());

        lease.release().await;
        let after = state(&store).await;
        assert!(after.claims.is_empty(), "released");
        assert_eq!(after.checkpoint(URI, "v1"), Some(checkpoint), "kept");
        let mut next = b.claim(URI, "v1", false).await.unwrap().unwrap();
        assert_eq!(next.take_resume().map(|c| c.mark), Some(mark(40)));
        assert_eq!(next.take_resume(), None, "taken once");
    }

    #[tokio::test]
    async fn a_checkpoint_of_a_replaced_version_is_dropped_when_the_new_one_is_claimed() {
        let store = Arc::new(MemoryStateStore::default());
        let (a, b) = (ledger(&store, LONG), ledger(&store, LONG));
        let lease = a.claim(URI, "v1", false).await.unwrap().unwrap();
        let open = lease.open(version("v1"), Mark::start()).await.unwrap();
        open.save(mark(10)).await.unwrap();
        lease.release().await;
        let mut replaced = b.claim(URI, "v2", false).await.unwrap().unwrap();
        assert_eq!(replaced.take_resume(), None);
        assert!(state(&store).await.checkpoints.is_empty());
    }

    #[tokio::test]
    async fn a_lapsed_claim_is_taken_over_and_its_run_stops_at_the_next_checkpoint() {
        let store = Arc::new(MemoryStateStore::default());
        // A zero lifetime: the claim has lapsed as soon as it is written.
        let (a, b) = (ledger(&store, Duration::ZERO), ledger(&store, LONG));
        let lease = a.claim(URI, "v1", false).await.unwrap().unwrap();
        let open = lease.open(version("v1"), Mark::start()).await.unwrap();
        let mut taken = b.claim(URI, "v1", false).await.unwrap().expect("lapsed");
        assert_eq!(taken.take_resume(), None);
        let err = open.save(mark(10)).await.unwrap_err();
        match err {
            StateError::ClaimLost { uri, run } => {
                assert_eq!(uri, URI);
                assert_eq!(run, b.run_id());
            }
            other => panic!("expected ClaimLost, got {other}"),
        }
        let after = state(&store).await;
        assert!(after.checkpoints.is_empty(), "the lost run wrote nothing");
        assert_eq!(after.claims[URI].run_id, b.run_id());
        lease.release().await;
        assert_eq!(
            state(&store).await.claims[URI].run_id,
            b.run_id(),
            "releasing does not drop another run's claim"
        );
    }

    #[tokio::test]
    async fn a_failed_version_is_set_aside_until_it_changes_or_a_run_retries_it() {
        let store = Arc::new(MemoryStateStore::default());
        let a = ledger(&store, LONG);
        let lease = a.claim(URI, "v1", false).await.unwrap().unwrap();
        let open = lease.open(version("v1"), Mark::start()).await.unwrap();
        open.save(mark(20)).await.unwrap();
        let failed = Failed {
            version: "v1".into(),
            error_type: "InvalidFile".into(),
            error: "no tracking_number column".into(),
            failed_at: Utc::now(),
        };
        let delivered = lease.failed(failed.clone()).await.unwrap();
        assert_eq!(delivered.map(|c| c.mark), Some(mark(20)));
        let after = state(&store).await;
        assert!(after.claims.is_empty());
        assert_eq!(after.failed[URI], failed);
        assert!(a.claim(URI, "v1", false).await.unwrap().is_none());
        let mut retried = a.claim(URI, "v1", true).await.unwrap().expect("retry");
        assert_eq!(retried.take_resume().map(|c| c.mark), Some(mark(20)));
        retried.done(done("v1")).await.unwrap();
        assert!(state(&store).await.failed.is_empty(), "done clears it");
        assert!(a.claim(URI, "v2", false).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn rejects_are_stored_with_the_checkpoint_that_covers_them() {
        let store = Arc::new(MemoryStateStore::default());
        let a = ledger(&store, LONG);
        let lease = a.claim(URI, "v1", false).await.unwrap().unwrap();
        let open = lease.open(version("v1"), Mark::start()).await.unwrap();
        let at = |record| Position {
            record,
            line: record + 1,
            byte: record * 40,
        };
        open.reject(at(2), "no tracking number", ",DL,2026-11-26".into())
            .await
            .unwrap();
        let long = "x".repeat(super::super::MAX_RAW_BYTES + 10);
        open.reject(at(5), "bad date", long).await.unwrap();
        let connection = super::super::connection_key(SOURCE);
        assert!(
            store.rejects().is_empty(),
            "a part is written when full or with a checkpoint"
        );
        open.save(mark(6)).await.unwrap();
        let parts = store.rejects();
        let part = &parts[&super::super::rejects_key(&connection, "import-v1", 0)];
        let lines: Vec<RejectLine> = part
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!((lines[0].record, lines[0].line, lines[0].byte), (2, 3, 80));
        assert_eq!(lines[0].source, URI);
        assert_eq!(lines[0].version, "v1");
        assert_eq!(lines[0].import_id, "import-v1");
        assert_eq!(lines[0].raw, ",DL,2026-11-26");
        assert!(!lines[0].raw_truncated);
        assert_eq!(lines[1].raw.len(), super::super::MAX_RAW_BYTES);
        assert!(lines[1].raw_truncated);
    }

    #[tokio::test(start_paused = true)]
    async fn following_delivery_renews_an_idle_claim_and_saves_marks_at_the_interval() {
        let store = Arc::new(MemoryStateStore::default());
        // Renewals every 2 s (a quarter of the claim), marks at most every 1 s.
        let a = ledger(&store, Duration::from_secs(8));
        let lease = a.claim(URI, "v1", false).await.unwrap().unwrap();
        let open = lease.open(version("v1"), Mark::start()).await.unwrap();
        let (tx, rx) = watch::channel(Mark::start());
        let claimed = writes(&store).await;
        let following = tokio::spawn({
            let open = open.clone();
            async move { open.follow(rx).await }
        });
        tokio::time::sleep(Duration::from_millis(5_500)).await;
        assert_eq!(
            writes(&store).await - claimed,
            2,
            "renewed at 2 s and 4 s while idle"
        );
        tx.send(mark(30)).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            writes(&store).await - claimed,
            3,
            "a new mark is due at once"
        );
        tx.send(mark(60)).unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            writes(&store).await - claimed,
            3,
            "not again within the interval"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(writes(&store).await - claimed, 4);
        assert_eq!(
            state(&store).await.checkpoint(URI, "v1").unwrap().mark,
            mark(60)
        );
        drop(tx);
        following.await.unwrap().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn following_stops_with_claim_lost_when_another_run_took_the_file() {
        let store = Arc::new(MemoryStateStore::default());
        let a = ledger(&store, Duration::ZERO);
        let b = ledger(&store, LONG);
        let lease = a.claim(URI, "v1", false).await.unwrap().unwrap();
        let open = lease.open(version("v1"), Mark::start()).await.unwrap();
        let (_tx, rx) = watch::channel(Mark::start());
        let _taken = b.claim(URI, "v1", false).await.unwrap().unwrap();
        let err = open.follow(rx).await.unwrap_err();
        assert!(matches!(err, StateError::ClaimLost { .. }), "{err}");
    }
}
