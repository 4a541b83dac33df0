//! `tracking-import`: run the import pipeline from the command line, with the same event JSON
//! the Lambda function takes. `--profile` names the profile instead of the event (a built-in
//! name, a path or a URI, as `metadata.profile` takes).
//!
//! The summary goes to stdout (to stderr with `--sink stdout`, which writes one event per line
//! there); progress goes to stderr, as a bar when stderr is a terminal.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use import_tracking_events::pipeline::Progress;
use import_tracking_events::sink::{NullSink, Sink, SqsSink, StdoutSink};
use import_tracking_events::{Config, ImportError, aws, request};
use indicatif::{ProgressBar, ProgressStyle};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::SubscriberInitExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SinkKind {
    /// SendMessageBatch to QUEUE_URL.
    Sqs,
    /// One ImportedTrackingEvent JSON per line on stdout.
    Stdout,
    /// Encode and batch everything, send nothing.
    Null,
}

/// Import a carrier's bulk tracking file, as the ImportTrackingEvents function does.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The invocation event (a Connect request, or an EventBridge event carrying one).
    #[arg(long, value_name = "FILE")]
    event: PathBuf,
    /// Where the events go.
    #[arg(long, value_enum, default_value_t = SinkKind::Sqs)]
    sink: SinkKind,
    /// Stop reading after this many seconds, deliver what was read, checkpoint, and report
    /// `"status": "continued"`; running the same event again resumes there. Needs STATE_BUCKET
    /// (without state there is nowhere to resume from, and the file is read to its end).
    #[arg(long, value_name = "SECS")]
    time_limit: Option<f64>,
    /// The profile, instead of the event's `metadata.profile`: a built-in name, or a TOML
    /// profile's path or URI (`file://…`, `s3://…`).
    #[arg(long, value_name = "NAME|URI")]
    profile: Option<String>,
    /// Import file versions that an earlier run set aside as failed again (the same as
    /// `metadata.retry_failed = true`).
    #[arg(long)]
    retry_failed: bool,
}

fn main() -> ExitCode {
    import_tracking_events::memory::tune_allocator();
    let args = Args::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    let format = if std::io::stderr().is_terminal() {
        shared::logging::Format::Ansi
    } else {
        shared::logging::Format::Plain
    };
    shared::logging::subscriber(filter, format, std::io::stderr).init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("tracking-import: {} ({})", shared::report(&err), err.kind());
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), ImportError> {
    let mut config = Config::from_env()?;
    let text = std::fs::read_to_string(&args.event).map_err(|e| ImportError::Config {
        var: "--event",
        reason: format!("cannot read {}: {e}", args.event.display()),
    })?;
    let event = serde_json::from_str(&text).map_err(|source| ImportError::EventNotJson {
        origin: args.event.display().to_string(),
        source,
    })?;
    if args.profile.is_some() {
        // The event need not name a profile when the command line does.
        config.default_profile.clone_from(&args.profile);
    }
    let mut job = request::resolve(event, &config)?;
    if let Some(profile) = &args.profile {
        job.profile = profile.clone();
    }
    job.retry_failed |= args.retry_failed;

    // AWS configuration only when AWS is used: a local file into the null or stdout sink needs
    // no credentials and makes no network call.
    let needs_aws = args.sink == SinkKind::Sqs
        || job.source.starts_with("s3://")
        || job.profile.starts_with("s3://")
        || config.state_bucket.is_some();
    let shared = if needs_aws {
        Some(aws::load().await)
    } else {
        None
    };
    let sink: Arc<dyn Sink> = match args.sink {
        SinkKind::Sqs => {
            let queue_url = config.queue_url.clone().ok_or(ImportError::Config {
                var: "QUEUE_URL",
                reason: "required with --sink sqs".into(),
            })?;
            let shared = shared.as_ref().expect("loaded for the SQS sink");
            Arc::new(SqsSink::new(aws::sqs(shared), queue_url))
        }
        SinkKind::Stdout => {
            // One batch at a time keeps the lines in record order.
            config.send_concurrency = 1;
            Arc::new(StdoutSink::default())
        }
        SinkKind::Null => Arc::new(NullSink),
    };
    // The same app as the Lambda's, without continuations: a stopped run resumes next time.
    let app = aws::app(config, shared.as_ref(), sink, false);

    let progress = Arc::new(Progress::default());
    let (bar, reporter) = if std::io::stderr().is_terminal() {
        let (bar, task) = spawn_progress_bar(Arc::clone(&progress));
        (Some(bar), task)
    } else {
        (None, spawn_progress_lines(Arc::clone(&progress)))
    };
    let stop_at = args
        .time_limit
        .map(|secs| tokio::time::Instant::now() + Duration::from_secs_f64(secs.max(0.0)));
    let result = app.run_job(job, stop_at, progress).await;
    reporter.abort();
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let summary = result?;
    let json = serde_json::to_string_pretty(&summary).expect("a summary serializes");
    if args.sink == SinkKind::Stdout {
        eprintln!("{json}");
    } else {
        println!("{json}");
    }
    Ok(())
}

fn spawn_progress_bar(progress: Arc<Progress>) -> (ProgressBar, tokio::task::JoinHandle<()>) {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
        )
        .expect("a valid template"),
    );
    let shown = bar.clone();
    let task = tokio::spawn(async move {
        loop {
            shown.set_length(progress.total_bytes.load(Ordering::Relaxed));
            shown.set_position(progress.bytes_read.load(Ordering::Relaxed));
            shown.set_message(format!(
                "{} records",
                progress.records_read.load(Ordering::Relaxed)
            ));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    (bar, task)
}

/// Without a terminal (logs, CI), a line every few seconds instead of a bar.
fn spawn_progress_lines(progress: Arc<Progress>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.tick().await;
        loop {
            tick.tick().await;
            let bytes = progress.bytes_read.load(Ordering::Relaxed);
            let total = progress.total_bytes.load(Ordering::Relaxed);
            eprintln!(
                "tracking-import: {} records, {:.1}/{:.1} MB, {:.1} MB/s",
                progress.records_read.load(Ordering::Relaxed),
                bytes as f64 / 1e6,
                total as f64 / 1e6,
                bytes as f64 / 1e6 / started.elapsed().as_secs_f64()
            );
        }
    })
}
