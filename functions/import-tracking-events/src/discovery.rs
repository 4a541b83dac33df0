//! One scheduled run: find the files a source names, import the ones not yet imported (oldest
//! first), and record each as done once its last chunk is delivered.
//!
//! With a state store, a file version is imported once: it is claimed before reading (a
//! conditional write, so an overlapping run skips it) and marked done after delivery. A changed
//! file has a new version and is imported again. Without one (local runs), every file the source
//! names is imported on every run.

use std::sync::Arc;

use chrono::Utc;
use serde::Serialize;

use crate::config::Config;
use crate::envelope::{self, SourceRef};
use crate::error::{ImportError, SourceError};
use crate::metrics;
use crate::pipeline::{self, Progress, Status, Summary};
use crate::request::ImportJob;
use crate::sink::Sink;
use crate::source::{Listed, Source, is_pattern};
use crate::state::{Checkpoint, Done, Failed, FileLease, Ledger, Once};

/// What one run did, over every file it imported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// The import id of the (first) file imported; `""` when nothing was new. Each file's own
    /// is in `files`.
    pub import_id: String,
    /// The source URI or pattern of the run.
    pub source: String,
    pub profile: String,
    /// `complete`: every new file was imported or set aside. `continued`: the run reached its
    /// deadline mid-file (the last of `files` says how far it got) or `MAX_FILES_PER_RUN`, and
    /// handed over to a new invocation.
    pub status: Status,
    pub files_imported: u64,
    /// Files already imported at their current version, set aside as failed at it, or being
    /// imported by another run.
    pub files_skipped: u64,
    /// Files this run set aside: they can never import at their current version (`InvalidFile`).
    pub files_failed: u64,
    pub records_read: u64,
    pub events_emitted: u64,
    pub records_rejected: u64,
    pub messages_sent: u64,
    pub batch_requests: u64,
    pub bytes_read: u64,
    pub elapsed_ms: u64,
    /// Each imported (or failed) file's own summary, in import order.
    pub files: Vec<Summary>,
}

impl RunSummary {
    fn new(job: &ImportJob) -> Self {
        RunSummary {
            import_id: String::new(),
            source: job.source.clone(),
            profile: job.profile.clone(),
            status: Status::Complete,
            files_imported: 0,
            files_skipped: 0,
            files_failed: 0,
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
        if self.import_id.is_empty() && file.status != Status::Failed {
            self.import_id = file.import_id.clone();
        }
        if file.status == Status::Failed {
            self.files_failed += 1;
        } else {
            self.files_imported += 1;
        }
        self.records_read += file.records_read;
        self.events_emitted += file.events_emitted;
        self.records_rejected += file.records_rejected;
        self.messages_sent += file.messages_sent;
        self.batch_requests += file.batch_requests;
        self.bytes_read += file.bytes_read;
        self.files.push(file);
    }
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
    // What the job names was admitted by `App::run_job`; every read below goes through the
    // connection's policy all the same.
    let job = &crate::profiles::resolve(job, source).await?;
    let files = files_of(job, source, once.is_some()).await?;
    tracing::info!(source = %job.source, files = files.len(), "run started");
    let mut run = Run {
        job,
        source,
        sink,
        config,
        progress,
        stop_at,
        ledger: once.map(|once| Ledger::new(&once, &job.source, config.checkpoint_interval)),
        summary: RunSummary::new(job),
    };
    let mut attempted = 0;
    for file in files {
        // Without state a later run could not tell the files this one did from the rest: the
        // limit needs once-only state to hand over.
        if attempted == config.max_files_per_run && run.ledger.is_some() {
            tracing::info!(
                max_files_per_run = attempted,
                "file limit of this run reached; the rest wait for a continuation or the next run"
            );
            run.summary.status = Status::Continued;
            break;
        }
        match run.file(file).await? {
            Next::Skipped => {}
            Next::Done => attempted += 1,
            Next::Stop => break,
        }
    }
    let mut summary = run.summary;
    summary.elapsed_ms = started.elapsed().as_millis() as u64;
    tracing::info!(
        source = %summary.source,
        files_imported = summary.files_imported,
        files_skipped = summary.files_skipped,
        files_failed = summary.files_failed,
        "run {}",
        summary.status.as_str()
    );
    Ok(summary)
}

/// Checks what a request names before anything is fetched or read: a built-in profile name
/// must exist, a profile URI and the source must be allowed ([`Source::allows`]).
pub fn admit(job: &ImportJob, source: &dyn Source) -> Result<(), ImportError> {
    if crate::profiles::is_uri(&job.profile) {
        source
            .allows(&job.profile)
            .map_err(ImportError::profile_unreadable(&job.profile))?;
    } else {
        shared::Profile::builtin(&job.profile)?;
    }
    source.allows(&job.source)?;
    Ok(())
}

/// The files of a run, oldest first; `[None]` for a single file read without state (no listing
/// needed, nor supported by every source).
async fn files_of(
    job: &ImportJob,
    source: &dyn Source,
    stateful: bool,
) -> Result<Vec<Option<Listed>>, ImportError> {
    let pattern = is_pattern(&job.source);
    if !stateful && !pattern {
        return Ok(vec![None]);
    }
    let mut listed = source.list(&job.source).await?;
    // A listed name the policy refuses (`..`, a `\`) would fail every run at the same place.
    listed.retain(|file| match source.allows(&file.uri) {
        Ok(()) => true,
        Err(err) => {
            tracing::warn!(file = %file.uri, error = %err, "listed, but not allowed; skipped");
            false
        }
    });
    if listed.is_empty() && !pattern {
        return Err(ImportError::Source(SourceError::NotFound {
            uri: job.source.clone(),
        }));
    }
    oldest_first(&mut listed);
    Ok(listed.into_iter().map(Some).collect())
}

/// What the run does after one file.
enum Next {
    /// Not this run's to import (done, set aside, or claimed by another run).
    Skipped,
    /// Imported, or set aside as failed: go on.
    Done,
    /// Stopped before the deadline: a continuation takes over.
    Stop,
}

/// One run's files, imported one after another.
struct Run<'a> {
    job: &'a ImportJob,
    source: &'a dyn Source,
    sink: Arc<dyn Sink>,
    config: &'a Config,
    progress: Arc<Progress>,
    stop_at: StopAt,
    /// This run's hold on the once-only state; `None` for runs without state.
    ledger: Option<Arc<Ledger>>,
    summary: RunSummary,
}

impl Run<'_> {
    /// Claims, imports and settles one file (`None`: the job's single file, without state).
    async fn file(&mut self, file: Option<Listed>) -> Result<Next, ImportError> {
        let mut lease = None;
        if let (Some(ledger), Some(listed)) = (&self.ledger, &file) {
            let claimed = ledger
                .claim(&listed.uri, &listed.version, self.job.retry_failed)
                .await?;
            let Some(claimed) = claimed else {
                self.summary.files_skipped += 1;
                return Ok(Next::Skipped);
            };
            lease = Some(claimed);
        }
        let uri = file.as_ref().map_or(&self.job.source, |f| &f.uri).clone();
        let imported = match self.import(&uri, lease.as_mut()).await {
            Ok(imported) => imported,
            Err(err) => return self.failed(file.as_ref(), lease, err).await,
        };
        if imported.status == Status::Continued {
            // The checkpoint holds the place; the next invocation claims the file again.
            if let Some(lease) = &lease {
                lease.release().await;
            }
            self.summary.status = Status::Continued;
            self.summary.add(imported);
            return Ok(Next::Stop);
        }
        if let Some(lease) = &lease {
            lease.done(done(&imported)).await?;
        }
        self.emit_metrics(&imported);
        if let Err(err) = self.source.finish(&uri, &self.job.after_import).await {
            // Failing now would make Lambda retry and deliver every event again; the file is
            // marked done, so leaving it in place is harmless.
            tracing::warn!(
                source = %uri,
                error = %shared::report(&err),
                "imported, but after_import failed; the file was left in place"
            );
        }
        self.summary.add(imported);
        Ok(Next::Done)
    }

    async fn import(
        &self,
        uri: &str,
        mut lease: Option<&mut FileLease>,
    ) -> Result<Summary, ImportError> {
        let file_job = ImportJob {
            source: uri.to_owned(),
            ..self.job.clone()
        };
        let resume = lease.as_mut().and_then(|lease| lease.take_resume());
        let options = pipeline::Options {
            resume,
            lease: lease.map(|lease| &*lease),
            // Without state there is nowhere to continue from: read to the end.
            stop_at: self.stop_at.filter(|_| self.ledger.is_some()),
        };
        pipeline::run_file(
            &file_job,
            self.source,
            Arc::clone(&self.sink),
            self.config,
            Arc::clone(&self.progress),
            options,
        )
        .await
    }

    /// After a file's import failed: a file that can never import at this version is set
    /// aside (with state) and the run goes on; any other failure ends the run, the claim
    /// released, so that the files after it wait and stay in order.
    async fn failed(
        &mut self,
        file: Option<&Listed>,
        lease: Option<FileLease>,
        err: ImportError,
    ) -> Result<Next, ImportError> {
        let (Some(lease), Some(file)) = (lease, file) else {
            return Err(err);
        };
        if !is_permanent(&err) {
            lease.release().await;
            return Err(err);
        }
        let message = shared::report(&err);
        tracing::error!(
            file = %file.uri,
            version = %file.version,
            error_type = err.kind(),
            error = %message,
            "the file can never import at this version; set aside until it changes"
        );
        let failed = Failed {
            version: file.version.clone(),
            error_type: err.kind().to_owned(),
            error: message.clone(),
            failed_at: Utc::now(),
        };
        let checkpoint = lease.failed(failed).await?;
        let summary = failed_summary(self.job, file, &err, message, checkpoint.as_ref());
        self.emit_metrics(&summary);
        self.summary.add(summary);
        Ok(Next::Done)
    }

    fn emit_metrics(&self, file: &Summary) {
        if self.config.emf_metrics {
            // Alone on stdout: CloudWatch Logs extracts metrics only from a bare EMF line.
            println!(
                "{}",
                metrics::emf_line(&self.job.source, file, Utc::now().timestamp_millis())
            );
        }
    }
}

/// A failure that retrying the same file version cannot fix: the file itself is unreadable as
/// its profile says (`InvalidFile`: a missing column, not gzip after all, a broken structure).
fn is_permanent(err: &ImportError) -> bool {
    err.kind() == "InvalidFile"
}

/// The summary entry of a file set aside: what its checkpoint says was delivered before the
/// failure (those records stay delivered), and the error.
fn failed_summary(
    job: &ImportJob,
    file: &Listed,
    err: &ImportError,
    message: String,
    checkpoint: Option<&Checkpoint>,
) -> Summary {
    let mark = checkpoint.map(|c| c.mark).unwrap_or_default();
    let source = SourceRef {
        uri: file.uri.clone(),
        version: file.version.clone(),
    };
    Summary {
        import_id: envelope::import_id(&source),
        source: file.uri.clone(),
        source_version: file.version.clone(),
        profile: job
            .loaded_profile
            .as_ref()
            .map_or_else(|| job.profile.clone(), |p| p.name.clone()),
        status: Status::Failed,
        error_type: Some(err.kind()),
        error: Some(message),
        compression: checkpoint.map_or(crate::decompress::Compression::None, |c| c.compression),
        bytes_read: 0,
        records_read: mark.through_record,
        events_emitted: mark.events,
        records_rejected: mark.rejected,
        messages_sent: mark.messages(),
        batch_requests: 0,
        message_bytes: 0,
        delivered_through_record: mark.through_record,
        resumed_from_record: 0,
        segments: checkpoint.map_or(1, |c| c.segments),
        elapsed_ms: 0,
        rejected: Vec::new(),
    }
}

/// What the state records of a file delivered whole: the version actually read (if the file
/// changed between listing and opening, the listed version was never imported and is new to
/// the next run).
fn done(imported: &Summary) -> Done {
    Done {
        version: imported.source_version.clone(),
        import_id: imported.import_id.clone(),
        imported_at: Utc::now(),
        records_read: imported.records_read,
        events_emitted: imported.events_emitted,
        records_rejected: imported.records_rejected,
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
