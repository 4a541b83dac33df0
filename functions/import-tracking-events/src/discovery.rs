//! One scheduled run: find the files a source names, import the ones not yet imported (oldest
//! first), and record each as done once its last chunk is delivered.
//!
//! With a state store, a file version is imported once: it is claimed before reading (a
//! conditional write, so an overlapping run skips it) and marked done after delivery. A changed
//! file has a new version and is imported again. Without one (local runs), every file the source
//! names is imported on every run.

use std::sync::Arc;

use chrono::{Duration as ChronoDuration, Utc};
use serde::Serialize;

use crate::checkpoint::Tracker;
use crate::config::Config;
use crate::error::ImportError;
use crate::metrics;
use crate::pipeline::{self, Progress, Summary};
use crate::request::ImportJob;
use crate::sink::Sink;
use crate::source::{Listed, Source, is_pattern};
use crate::state::{self, Checkpoint, Claim, Done, StateStore};

/// What one run did, over every file it imported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// The import id of the (first) file imported; `""` when nothing was new. Each file's own
    /// is in `files`.
    pub import_id: String,
    /// The source URI or pattern of the run.
    pub source: String,
    pub profile: String,
    /// `complete`: every new file was imported. `continued`: the run reached its deadline
    /// mid-file, checkpointed, and handed over to a new invocation (the last of `files` says
    /// how far it got).
    pub status: &'static str,
    pub files_imported: u64,
    /// Files already imported at their current version, or being imported by another run.
    pub files_skipped: u64,
    pub records_read: u64,
    pub events_emitted: u64,
    pub records_rejected: u64,
    pub messages_sent: u64,
    pub batch_requests: u64,
    pub bytes_read: u64,
    pub elapsed_ms: u64,
    /// Each imported file's own summary, in import order.
    pub files: Vec<Summary>,
}

impl RunSummary {
    fn new(job: &ImportJob) -> Self {
        RunSummary {
            import_id: String::new(),
            source: job.source.clone(),
            profile: job.profile.clone(),
            status: "complete",
            files_imported: 0,
            files_skipped: 0,
            records_read: 0,
            events_emitted: 0,
            records_rejected: 0,
            messages_sent: 0,
            batch_requests: 0,
            bytes_read: 0,
            elapsed_ms: 0,
            files: Vec::new(),
        }
    }

    fn add(&mut self, file: Summary) {
        if self.files.is_empty() {
            self.import_id = file.import_id.clone();
        }
        self.files_imported += 1;
        self.records_read += file.records_read;
        self.events_emitted += file.events_emitted;
        self.records_rejected += file.records_rejected;
        self.messages_sent += file.messages_sent;
        self.batch_requests += file.batch_requests;
        self.bytes_read += file.bytes_read;
        self.files.push(file);
    }
}

/// Where a run keeps its once-only state and checkpoints, and how long its claims last.
pub struct Once {
    pub store: Arc<dyn StateStore>,
    pub claim_ttl: std::time::Duration,
}

/// When a run must stop reading to leave time for delivering, checkpointing and handing over.
pub type StopAt = Option<tokio::time::Instant>;

/// Runs `job`: every new file its source names, one after another.
pub async fn run(
    job: &ImportJob,
    source: &dyn Source,
    once: Option<Once>,
    sink: Arc<dyn Sink>,
    config: &Config,
    progress: Arc<Progress>,
    stop_at: StopAt,
) -> Result<RunSummary, ImportError> {
    let started = std::time::Instant::now();
    let job = &crate::profiles::resolve(job, source).await?;
    let mut summary = RunSummary::new(job);
    let pattern = is_pattern(&job.source);
    let files = match (&once, pattern) {
        // A single file without state: no listing needed (nor supported by every source).
        (None, false) => vec![None],
        _ => {
            let mut listed = source.list(&job.source).await?;
            if listed.is_empty() && !pattern {
                return Err(ImportError::Source(crate::error::SourceError::NotFound {
                    uri: job.source.clone(),
                }));
            }
            oldest_first(&mut listed);
            listed.into_iter().map(Some).collect()
        }
    };
    tracing::info!(source = %job.source, files = files.len(), "run started");

    let connection = state::connection_key(&job.source);
    let run_id = uuid::Uuid::new_v4().to_string();
    for file in files {
        let uri = file
            .as_ref()
            .map_or(job.source.as_str(), |f| f.uri.as_str());
        let mut resume = None;
        if let (Some(once), Some(file)) = (&once, &file) {
            match claim(once, &connection, &job.source, &run_id, file).await? {
                Claimed::No => {
                    summary.files_skipped += 1;
                    continue;
                }
                Claimed::Yes(checkpoint) => resume = checkpoint,
            }
        }
        let file_job = ImportJob {
            source: uri.to_owned(),
            ..job.clone()
        };
        let options = pipeline::Options {
            tracker: once.as_ref().map(|once| Tracker {
                store: Arc::clone(&once.store),
                connection: connection.clone(),
                source: job.source.clone(),
                uri: uri.to_owned(),
                run_id: run_id.clone(),
                claim_ttl: once.claim_ttl,
                interval: config.checkpoint_interval,
            }),
            resume,
            // Without state there is nowhere to continue from: read to the end.
            stop_at: stop_at.filter(|_| once.is_some()),
        };
        let result = pipeline::run_file(
            &file_job,
            source,
            Arc::clone(&sink),
            config,
            Arc::clone(&progress),
            options,
        )
        .await;
        let imported = match result {
            Ok(imported) => imported,
            Err(err) => {
                if let (Some(once), Some(file)) = (&once, &file) {
                    release(once, &connection, &job.source, &run_id, &file.uri).await;
                }
                return Err(err);
            }
        };
        if imported.status == "continued" {
            // The checkpoint holds the place; the next invocation claims the file again.
            if let (Some(once), Some(file)) = (&once, &file) {
                release(once, &connection, &job.source, &run_id, &file.uri).await;
            }
            summary.status = "continued";
            summary.add(imported);
            break;
        }
        if let Some(once) = &once {
            mark_done(once, &connection, &job.source, &run_id, &imported).await?;
        }
        if config.emf_metrics {
            // Alone on stdout: CloudWatch Logs extracts metrics only from a bare EMF line.
            println!(
                "{}",
                metrics::emf_line(&job.source, &imported, Utc::now().timestamp_millis())
            );
        }
        if let Err(err) = source.finish(uri, &job.after_import).await {
            // Failing now would make Lambda retry and deliver every event again; the file is
            // marked done, so leaving it in place is harmless.
            tracing::warn!(
                source = %uri,
                error = %shared::report(&err),
                "imported, but after_import failed; the file was left in place"
            );
        }
        summary.add(imported);
    }
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    tracing::info!(
        source = %summary.source,
        files_imported = summary.files_imported,
        files_skipped = summary.files_skipped,
        "run complete"
    );
    Ok(summary)
}

/// Whether a run may import a file, and from where.
enum Claimed {
    /// Done at this version, or another run holds it.
    No,
    /// Claimed; resume from this checkpoint if an earlier run left one at this version.
    Yes(Option<Checkpoint>),
}

/// Claims `file` for this run.
async fn claim(
    once: &Once,
    connection: &str,
    source: &str,
    run_id: &str,
    file: &Listed,
) -> Result<Claimed, ImportError> {
    let ttl = ChronoDuration::from_std(once.claim_ttl).unwrap_or(ChronoDuration::minutes(2));
    let claimed = state::update(once.store.as_ref(), connection, source, |state| {
        let now = Utc::now();
        if state.is_done(&file.uri, &file.version) {
            return None;
        }
        if let Some(other) = state.claimed_by_other(&file.uri, run_id, now) {
            tracing::info!(file = %file.uri, run = %other.run_id, "another run is importing this file");
            return None;
        }
        // A checkpoint of another version is of a file that has since been replaced.
        if state
            .checkpoints
            .get(&file.uri)
            .is_some_and(|c| c.version != file.version)
        {
            state.checkpoints.remove(&file.uri);
        }
        state.claims.insert(
            file.uri.clone(),
            Claim {
                version: file.version.clone(),
                run_id: run_id.to_owned(),
                expires_at: now + ttl,
            },
        );
        Some(state.checkpoint(&file.uri, &file.version).cloned())
    })
    .await?;
    Ok(match claimed {
        Some(checkpoint) => Claimed::Yes(checkpoint),
        None => Claimed::No,
    })
}

/// Records `imported` as done and drops this run's claim on it.
async fn mark_done(
    once: &Once,
    connection: &str,
    source: &str,
    run_id: &str,
    imported: &Summary,
) -> Result<(), ImportError> {
    state::update(once.store.as_ref(), connection, source, |state| {
        if state
            .claims
            .get(&imported.source)
            .is_some_and(|c| c.run_id == run_id)
        {
            state.claims.remove(&imported.source);
        }
        state.checkpoints.remove(&imported.source);
        state.done.insert(
            imported.source.clone(),
            Done {
                // What was actually read: if the file changed between listing and opening, the
                // listed version was never imported and will be seen as new next run.
                version: imported.source_version.clone(),
                import_id: imported.import_id.clone(),
                imported_at: Utc::now(),
                records_read: imported.records_read,
                events_emitted: imported.events_emitted,
                records_rejected: imported.records_rejected,
            },
        );
        Some(())
    })
    .await?;
    Ok(())
}

/// Drops this run's claim after a failure, so the next run need not wait for it to expire.
/// Best effort: an unreleased claim only delays the retry until it expires.
async fn release(once: &Once, connection: &str, source: &str, run_id: &str, uri: &str) {
    let released = state::update(once.store.as_ref(), connection, source, |state| {
        let ours = state.claims.get(uri).is_some_and(|c| c.run_id == run_id);
        ours.then(|| state.claims.remove(uri))
    })
    .await;
    if let Err(err) = released {
        tracing::warn!(file = %uri, error = %shared::report(&err), "could not release the claim");
    }
}

/// Orders files oldest first: by the date their names carry when every name carries one
/// (`TRACK_20261126_0800.csv`), else by modification time; the URI breaks ties.
pub fn oldest_first(files: &mut [Listed]) {
    let keys: Option<Vec<String>> = files.iter().map(|f| name_date(&f.uri)).collect();
    match keys {
        Some(keys) => {
            let mut keyed: Vec<(String, Listed)> =
                keys.into_iter().zip(files.iter().cloned()).collect();
            keyed.sort_by(|(a, fa), (b, fb)| a.cmp(b).then_with(|| fa.uri.cmp(&fb.uri)));
            for (slot, (_, file)) in files.iter_mut().zip(keyed) {
                *slot = file;
            }
        }
        None => files.sort_by(|a, b| a.modified.cmp(&b.modified).then_with(|| a.uri.cmp(&b.uri))),
    }
}

/// The digits of a file name from its first plausible date on (`YYYYMMDD…`, separators allowed:
/// `2026-11-26`, `2026_11_26T08`). The digits after the date (a time, a sequence) order files
/// within a day.
fn name_date(uri: &str) -> Option<String> {
    let name = uri.rsplit('/').next().unwrap_or(uri).as_bytes();
    let mut i = 0;
    while i < name.len() {
        if !name[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        // One group: runs of digits joined by single separators.
        let mut runs: Vec<String> = vec![String::new()];
        let mut j = i;
        while j < name.len() {
            let b = name[j];
            if b.is_ascii_digit() {
                runs.last_mut().expect("non-empty").push(b as char);
            } else if matches!(b, b'-' | b'_' | b'T' | b'.')
                && name.get(j + 1).is_some_and(u8::is_ascii_digit)
            {
                runs.push(String::new());
            } else {
                break;
            }
            j += 1;
        }
        // The date may start at any run of the group (`v2_20261126`).
        for start in 0..runs.len() {
            let digits = runs[start..].concat();
            if is_date_prefix(&digits) {
                return Some(digits);
            }
        }
        i = j;
    }
    None
}

fn is_date_prefix(digits: &str) -> bool {
    let field = |r: std::ops::Range<usize>| digits.get(r).and_then(|s| s.parse::<u32>().ok());
    matches!(
        (field(0..4), field(4..6), field(6..8)),
        (Some(1990..=2100), Some(1..=12), Some(1..=31))
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn listed(uri: &str, modified_hour: u32) -> Listed {
        Listed {
            uri: uri.into(),
            version: "v".into(),
            size: 1,
            modified: Some(
                Utc.with_ymd_and_hms(2026, 11, 26, modified_hour, 0, 0)
                    .unwrap(),
            ),
        }
    }

    fn order(files: &[(&str, u32)]) -> Vec<String> {
        let mut files: Vec<_> = files.iter().map(|(u, h)| listed(u, *h)).collect();
        oldest_first(&mut files);
        files.into_iter().map(|f| f.uri).collect()
    }

    #[test]
    fn dated_names_sort_by_their_date_not_their_mtime() {
        assert_eq!(
            order(&[
                ("ftp://h/out/TRACK_20261126_0800.csv", 1),
                ("ftp://h/out/TRACK_20261125_2000.csv", 9),
                ("ftp://h/out/TRACK_20261126_0200.csv", 5),
            ]),
            [
                "ftp://h/out/TRACK_20261125_2000.csv",
                "ftp://h/out/TRACK_20261126_0200.csv",
                "ftp://h/out/TRACK_20261126_0800.csv"
            ]
        );
        assert_eq!(
            order(&[
                ("s3://b/track-2026-11-26.csv.gz", 1),
                ("s3://b/track-2026-11-02.csv.gz", 2)
            ]),
            [
                "s3://b/track-2026-11-02.csv.gz",
                "s3://b/track-2026-11-26.csv.gz"
            ]
        );
    }

    #[test]
    fn undated_names_sort_by_modification_time() {
        assert_eq!(
            order(&[
                ("s3://b/b.csv", 3),
                ("s3://b/a.csv", 7),
                ("s3://b/c.csv", 1)
            ]),
            ["s3://b/c.csv", "s3://b/b.csv", "s3://b/a.csv"]
        );
        // One undated name among dated ones: names cannot order them all, so mtime does.
        assert_eq!(
            order(&[("s3://b/TRACK_20261126.csv", 3), ("s3://b/latest.csv", 1)]),
            ["s3://b/latest.csv", "s3://b/TRACK_20261126.csv"]
        );
    }

    #[test]
    fn name_dates() {
        assert_eq!(
            name_date("TRACK_20261126_0800.csv").as_deref(),
            Some("202611260800")
        );
        assert_eq!(
            name_date("x/2026-11-26T08.csv").as_deref(),
            Some("2026112608")
        );
        assert_eq!(name_date("batch_12345678.csv"), None, "not a date");
        assert_eq!(name_date("track.csv"), None);
        assert_eq!(name_date("v2_20261126.csv").as_deref(), Some("20261126"));
    }
}
