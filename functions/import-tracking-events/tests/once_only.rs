//! Scheduled runs over a pattern against a real local S3 and SQS (moto): each new file is
//! imported once, oldest first; a replaced file is imported again; overlapping runs never both
//! import a file; a failed file leaves no claim behind.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use import_tracking_events::Config;
use import_tracking_events::discovery::{self, RunSummary};
use import_tracking_events::envelope::{Envelope, Message};
use import_tracking_events::error::ImportError;
use import_tracking_events::error::SinkError;
use import_tracking_events::error::StateError;
use import_tracking_events::pipeline::{Progress, Status};
use import_tracking_events::request::ImportJob;
use import_tracking_events::sink::{FailedEntry, Sink, SqsSink};
use import_tracking_events::source::{FileSource, S3Source, Sources};
use import_tracking_events::state::{self, Claim, Ledger, Once, S3StateStore, StateStore};
use tokio::sync::oneshot;

struct Fixture {
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    bucket: String,
    state: S3StateStore,
    sources: Sources,
}

async fn fixture() -> Fixture {
    let shared = aws().await;
    let s3 = s3(&shared);
    let sqs = aws_sdk_sqs::Client::new(&shared);
    let bucket = unique("drop");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let state_bucket = unique("state");
    s3.create_bucket()
        .bucket(&state_bucket)
        .send()
        .await
        .unwrap();
    Fixture {
        state: S3StateStore::new(s3.clone(), state_bucket, "import-state/".into()),
        sources: Sources {
            s3: Some(S3Source::new(s3.clone())),
            file: FileSource,
        },
        queue_url: create_queue(&sqs, 262_144).await,
        s3,
        sqs,
        bucket,
    }
}

impl Fixture {
    async fn drop_file(&self, key: &str, body: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .unwrap();
    }

    fn pattern(&self) -> String {
        format!("s3://{}/outbound/TRACK_*.csv", self.bucket)
    }

    async fn run(&self, ttl: Duration) -> Result<RunSummary, ImportError> {
        self.run_job(
            &ImportJob {
                source: self.pattern(),
                profile: "reference".into(),
                ..ImportJob::default()
            },
            ttl,
        )
        .await
    }

    async fn run_job(&self, job: &ImportJob, ttl: Duration) -> Result<RunSummary, ImportError> {
        discovery::run(
            job,
            &self.sources.bind(&job.connection),
            Some(Once {
                store: Arc::new(self.state.clone()),
                claim_ttl: ttl,
            }),
            Arc::new(SqsSink::new(self.sqs.clone(), self.queue_url.clone())),
            &Config::default(),
            Arc::new(Progress::default()),
            None,
        )
        .await
    }

    /// The tracking numbers of every event on the queue, in arrival order per import.
    async fn delivered(&self) -> Vec<String> {
        drain(&self.sqs, &self.queue_url)
            .await
            .into_iter()
            .flat_map(|(_, env)| env.events)
            .map(|ev| {
                ev["tracking_info"]["tracking_number"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }
}

/// A small reference file whose tracking numbers all start with `tag`.
fn file(tag: &str, records: u64) -> Vec<u8> {
    let (text, n) = reference_file(150 * records as usize, 0);
    assert!(n >= records);
    String::from_utf8(text)
        .unwrap()
        .replace("1RC", tag)
        .into_bytes()
}

/// The data records of a file (every line but the header; none of them is rejected).
fn records_in(body: &[u8]) -> usize {
    body.split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .count()
        - 1
}

const MINUTE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn each_new_file_is_imported_once_and_a_replaced_one_again() {
    let f = fixture().await;
    // Names carry dates; the older one is written second, so mtime would order them wrongly.
    f.drop_file("outbound/TRACK_20261126_0800.csv", file("NEW", 20))
        .await;
    f.drop_file("outbound/TRACK_20261125_2000.csv", file("OLD", 20))
        .await;
    f.drop_file("outbound/README.txt", b"not matched".to_vec())
        .await;

    let first = f.run(MINUTE).await.unwrap();
    assert_eq!(first.files_imported, 2);
    assert_eq!(first.files_skipped, 0);
    let order: Vec<_> = first
        .files
        .iter()
        .map(|s| s.source.rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(
        order,
        ["TRACK_20261125_2000.csv", "TRACK_20261126_0800.csv"]
    );
    let events = f.delivered().await;
    assert_eq!(events.len() as u64, first.events_emitted);
    for tag in ["OLD", "NEW"] {
        let sent = events.iter().filter(|t| t.starts_with(tag)).count();
        assert_eq!(
            sent,
            records_in(&file(tag, 20)),
            "{tag}: every record, once"
        );
    }

    let second = f.run(MINUTE).await.unwrap();
    assert_eq!((second.files_imported, second.files_skipped), (0, 2));
    assert!(second.files.is_empty());
    assert!(f.delivered().await.is_empty(), "nothing is sent twice");

    // A replaced file is a new version.
    f.drop_file("outbound/TRACK_20261126_0800.csv", file("FIX", 5))
        .await;
    let third = f.run(MINUTE).await.unwrap();
    assert_eq!((third.files_imported, third.files_skipped), (1, 1));
    let events = f.delivered().await;
    assert!(!events.is_empty());
    assert!(events.iter().all(|t| t.starts_with("FIX")), "{events:?}");

    let saved = f
        .state
        .load(&state::connection_key(&f.pattern()), &f.pattern())
        .await
        .unwrap();
    assert_eq!(saved.state.done.len(), 2);
    assert!(saved.state.claims.is_empty(), "claims are released");
}

#[tokio::test]
async fn overlapping_runs_never_both_import_a_file() {
    let f = fixture().await;
    for day in 10..16 {
        f.drop_file(
            &format!("outbound/TRACK_202611{day}.csv"),
            file(&format!("D{day}"), 30),
        )
        .await;
    }
    let (a, b) = tokio::join!(f.run(MINUTE), f.run(MINUTE));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.files_imported + b.files_imported, 6, "{a:#?} {b:#?}");
    let mut imported: Vec<_> = a
        .files
        .iter()
        .chain(&b.files)
        .map(|s| s.source.clone())
        .collect();
    imported.sort();
    imported.dedup();
    assert_eq!(imported.len(), 6, "no file imported by both runs");
    let events = f.delivered().await;
    assert_eq!(events.len() as u64, a.events_emitted + b.events_emitted);
    let mut unique = events.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), events.len(), "every event delivered once");
}

/// A state store that stops its first write after the load that preceded it, until told to go
/// on: another run's write lands in between, so the store itself must refuse this one.
struct PausedWriter {
    inner: S3StateStore,
    pause: std::sync::Mutex<Option<(oneshot::Sender<()>, oneshot::Receiver<()>)>>,
    conflicts: AtomicU64,
}

#[async_trait::async_trait]
impl StateStore for PausedWriter {
    async fn load(&self, connection: &str, source: &str) -> Result<state::Versioned, StateError> {
        self.inner.load(connection, source).await
    }

    async fn store(
        &self,
        connection: &str,
        state: &state::State,
        tag: Option<&str>,
    ) -> Result<String, StateError> {
        let pause = self.pause.lock().unwrap().take();
        if let Some((loaded, go)) = pause {
            loaded.send(()).unwrap();
            go.await.unwrap();
        }
        let stored = self.inner.store(connection, state, tag).await;
        if matches!(stored, Err(StateError::Conflict { .. })) {
            self.conflicts.fetch_add(1, Ordering::SeqCst);
        }
        stored
    }

    async fn store_rejects(
        &self,
        connection: &str,
        import_id: &str,
        part: u64,
        body: Vec<u8>,
    ) -> Result<(), StateError> {
        self.inner
            .store_rejects(connection, import_id, part, body)
            .await
    }

    async fn load_rejects(
        &self,
        connection: &str,
        import_id: &str,
        part: u64,
    ) -> Result<Option<Vec<u8>>, StateError> {
        self.inner.load_rejects(connection, import_id, part).await
    }
}

/// Two runs claim one file at the same moment, forced to overlap: run A has loaded the state
/// document and is about to write its claim when run B claims the file. S3 must refuse A's
/// write (`If-None-Match: *` when the document is new, `If-Match` on the ETag A read when it
/// exists), and A, reloading, must find B's claim and skip the file.
#[tokio::test]
async fn a_claim_racing_another_is_refused_by_the_conditional_write() {
    let f = fixture().await;
    let source = f.pattern();
    let connection = state::connection_key(&source);
    let once = |store: Arc<dyn StateStore>| Once {
        store,
        claim_ttl: MINUTE,
    };
    for (round, name) in [("new document", "TRACK_1.csv"), ("existing", "TRACK_2.csv")] {
        let uri = format!("s3://{}/outbound/{name}", f.bucket);
        let (loaded_tx, loaded) = oneshot::channel();
        let (go, go_rx) = oneshot::channel();
        let paused = Arc::new(PausedWriter {
            inner: f.state.clone(),
            pause: std::sync::Mutex::new(Some((loaded_tx, go_rx))),
            conflicts: AtomicU64::new(0),
        });
        let a = Ledger::new(&once(paused.clone()), &source, MINUTE);
        let b = Ledger::new(&once(Arc::new(f.state.clone())), &source, MINUTE);
        let racing = tokio::spawn({
            let (a, uri) = (Arc::clone(&a), uri.clone());
            async move { a.claim(&uri, "v1", false).await.map(|l| l.is_some()) }
        });
        loaded.await.unwrap();
        let won = b.claim(&uri, "v1", false).await.unwrap();
        assert!(won.is_some(), "{round}: B claims the free file");
        go.send(()).unwrap();
        let a_claimed = racing.await.unwrap().unwrap();
        assert!(
            !a_claimed,
            "{round}: A, the slower writer, must not claim it too"
        );
        assert_eq!(
            paused.conflicts.load(Ordering::SeqCst),
            1,
            "{round}: S3 refused A's first write"
        );
        let saved = f.state.load(&connection, &source).await.unwrap().state;
        assert_eq!(saved.claims[&uri].run_id, b.run_id(), "{round}");
    }
}

#[tokio::test]
async fn a_live_claim_is_respected_and_an_expired_one_taken_over() {
    let f = fixture().await;
    f.drop_file("outbound/TRACK_20261126.csv", file("C", 10))
        .await;
    let uri = format!("s3://{}/outbound/TRACK_20261126.csv", f.bucket);
    let version = f.sources.s3.as_ref().unwrap();
    let listed = {
        use import_tracking_events::source::Source;
        version.list(&f.pattern()).await.unwrap()
    };
    let connection = state::connection_key(&f.pattern());
    let claim_by_other = |expires_in: chrono::Duration| {
        let (uri, version) = (uri.clone(), listed[0].version.clone());
        move |s: &mut state::State| {
            s.claims.insert(
                uri.clone(),
                Claim {
                    version: version.clone(),
                    run_id: "another-run".into(),
                    expires_at: chrono::Utc::now() + expires_in,
                },
            );
            Some(())
        }
    };
    state::update(
        &f.state,
        &connection,
        &f.pattern(),
        claim_by_other(chrono::Duration::minutes(5)),
    )
    .await
    .unwrap();
    let run = f.run(MINUTE).await.unwrap();
    assert_eq!((run.files_imported, run.files_skipped), (0, 1));
    assert!(f.delivered().await.is_empty());

    state::update(
        &f.state,
        &connection,
        &f.pattern(),
        claim_by_other(chrono::Duration::minutes(-1)),
    )
    .await
    .unwrap();
    let run = f.run(MINUTE).await.unwrap();
    assert_eq!((run.files_imported, run.files_skipped), (1, 0));
    assert_eq!(f.delivered().await.len() as u64, run.events_emitted);
}

/// A sink that refuses every message holding `tag` while `failing` is set.
struct Refusing {
    kept: Collect,
    tag: &'static str,
    failing: AtomicBool,
}

#[async_trait::async_trait]
impl Sink for Refusing {
    async fn send(&self, entries: &[&Message]) -> Result<Vec<FailedEntry>, SinkError> {
        let mut failed = Vec::new();
        let mut kept = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let body = entry.body();
            let refused = self.failing.load(Ordering::SeqCst)
                && String::from_utf8_lossy(&body).contains(self.tag);
            if refused {
                failed.push(FailedEntry {
                    index,
                    code: "ServiceUnavailable".into(),
                    message: "refused for the test".into(),
                });
            } else {
                kept.push(body);
            }
        }
        self.kept.0.lock().unwrap().extend(kept);
        Ok(failed)
    }
}

/// Three files, the second of which cannot be delivered: the first is done, the run ends with
/// the second's failure (its claim released), and the third is not even opened, so files stay
/// in order. The next run imports the second, then the third.
#[tokio::test]
async fn a_file_that_fails_ends_the_run_and_the_files_after_it_wait() {
    let dir = tempfile::tempdir().unwrap();
    let uri = |day: u32| format!("file://{}/TRACK_202611{day:02}.csv", dir.path().display());
    for (day, tag) in [(1, "AAA"), (2, "BBB"), (3, "CCC")] {
        let path = dir.path().join(format!("TRACK_202611{day:02}.csv"));
        std::fs::write(path, file(tag, 30)).unwrap();
    }
    let job = ImportJob {
        source: format!("file://{}/TRACK_*.csv", dir.path().display()),
        profile: "reference".into(),
        ..ImportJob::default()
    };
    let store: Arc<dyn StateStore> = Arc::new(state::MemoryStateStore::default());
    let sink = Arc::new(Refusing {
        kept: Collect::default(),
        tag: "BBB",
        failing: AtomicBool::new(true),
    });
    let config = Config {
        send_attempts: 2,
        send_retry_base: Duration::from_millis(1),
        ..Config::default()
    };
    let sources = Sources {
        s3: None,
        file: FileSource,
    };
    let source = sources.bind(&job.connection);
    let run = || {
        discovery::run(
            &job,
            &source,
            Some(Once {
                store: Arc::clone(&store),
                claim_ttl: MINUTE,
            }),
            sink.clone(),
            &config,
            Arc::new(Progress::default()),
            None,
        )
    };
    let err = run().await.unwrap_err();
    assert_eq!(err.kind(), "DeliveryFailed", "{err}");
    let connection = state::connection_key(&job.source);
    let doc = store.load(&connection, &job.source).await.unwrap().state;
    assert_eq!(doc.done.keys().cloned().collect::<Vec<_>>(), [uri(1)]);
    assert!(doc.claims.is_empty(), "the failed file's claim is released");
    assert!(
        doc.failed.is_empty(),
        "a delivery failure is not the file's fault"
    );
    assert!(
        !doc.checkpoints.contains_key(&uri(3)),
        "the third was never opened"
    );
    let tags = |bodies: &[Vec<u8>]| -> Vec<String> {
        let mut tags: Vec<String> = bodies
            .iter()
            .flat_map(|b| {
                serde_json::from_slice::<Envelope<serde_json::Value>>(b)
                    .unwrap()
                    .events
            })
            .map(|e| e["tracking_info"]["tracking_number"].as_str().unwrap()[..3].to_owned())
            .collect();
        tags.dedup();
        tags
    };
    assert_eq!(tags(&sink.kept.0.lock().unwrap()), ["AAA"]);

    sink.failing.store(false, Ordering::SeqCst);
    let next = run().await.unwrap();
    let files: Vec<&str> = next.files.iter().map(|f| f.source.as_str()).collect();
    assert_eq!(files, [uri(2), uri(3)]);
    assert_eq!((next.files_imported, next.files_skipped), (2, 1));
    assert_eq!(
        tags(&sink.kept.0.lock().unwrap()),
        ["AAA", "BBB", "CCC"],
        "every file's events after the one before"
    );
}

#[tokio::test]
async fn a_file_that_can_never_import_is_set_aside_and_a_new_version_imported() {
    let f = fixture().await;
    f.drop_file(
        "outbound/TRACK_20261126.csv",
        b"Wrong,Header\n1,2\n".to_vec(),
    )
    .await;
    let run = f.run(MINUTE).await.unwrap();
    assert_eq!((run.files_imported, run.files_failed), (0, 1));
    assert_eq!(run.files[0].error_type, Some("InvalidFile"));
    let saved = f
        .state
        .load(&state::connection_key(&f.pattern()), &f.pattern())
        .await
        .unwrap();
    assert!(saved.state.claims.is_empty(), "{:?}", saved.state.claims);
    assert!(saved.state.done.is_empty());
    let failed = &saved.state.failed[&format!("s3://{}/outbound/TRACK_20261126.csv", f.bucket)];
    assert_eq!(failed.error_type, "InvalidFile");
    assert!(failed.error.contains("lacks column"), "{}", failed.error);

    // The same version is skipped; fixed by the carrier, a new version is imported.
    let run = f.run(MINUTE).await.unwrap();
    assert_eq!((run.files_skipped, run.files_failed), (1, 0));
    f.drop_file("outbound/TRACK_20261126.csv", file("OK", 10))
        .await;
    let run = f.run(MINUTE).await.unwrap();
    assert_eq!(run.files_imported, 1);
    let saved = f
        .state
        .load(&state::connection_key(&f.pattern()), &f.pattern())
        .await
        .unwrap();
    assert!(saved.state.failed.is_empty(), "{:?}", saved.state.failed);
}

#[tokio::test]
async fn a_single_file_source_is_also_imported_once_per_version() {
    let f = fixture().await;
    f.drop_file("outbound/daily.csv", file("ONE", 10)).await;
    let job = ImportJob {
        source: format!("s3://{}/outbound/daily.csv", f.bucket),
        profile: "reference".into(),
        ..ImportJob::default()
    };
    let run = || f.run_job(&job, MINUTE);
    let first = run().await.unwrap();
    assert_eq!((first.files_imported, first.files_skipped), (1, 0));
    assert_eq!(first.import_id, first.files[0].import_id);
    let second = run().await.unwrap();
    assert_eq!((second.files_imported, second.files_skipped), (0, 1));
    assert_eq!(second.import_id, "", "nothing new, no import id");
    assert_eq!(f.delivered().await.len() as u64, first.events_emitted);

    let missing = ImportJob {
        source: format!("s3://{}/outbound/nope.csv", f.bucket),
        ..job.clone()
    };
    let err = f.run_job(&missing, MINUTE).await.unwrap_err();
    assert_eq!(err.kind(), "SourceNotFound", "{err}");
}

#[tokio::test]
async fn a_run_imports_at_most_max_files_per_run_and_the_next_takes_the_rest() {
    let f = fixture().await;
    for day in 1..=3 {
        f.drop_file(
            &format!("outbound/TRACK_2026110{day}.csv"),
            file(&format!("D{day}"), 5),
        )
        .await;
    }
    let config = Config {
        max_files_per_run: 2,
        ..Config::default()
    };
    let job = ImportJob {
        source: f.pattern(),
        profile: "reference".into(),
        ..ImportJob::default()
    };
    let run = || {
        discovery::run(
            &job,
            &f.sources,
            Some(Once {
                store: Arc::new(f.state.clone()),
                claim_ttl: MINUTE,
            }),
            Arc::new(SqsSink::new(f.sqs.clone(), f.queue_url.clone())),
            &config,
            Arc::new(Progress::default()),
            None,
        )
    };
    let first = run().await.unwrap();
    assert_eq!(
        (first.status, first.files_imported),
        (Status::Continued, 2),
        "the limit stops the run with files left"
    );
    let second = run().await.unwrap();
    assert_eq!(
        (second.status, second.files_imported, second.files_skipped),
        (Status::Complete, 1, 2)
    );
    assert!(second.files[0].source.ends_with("TRACK_20261103.csv"));
}
