//! The log subscriber of every binary (both Lambdas and `tracking-import`), built in one place
//! for the one rule all must keep: no secret in a log line, whatever level an operator turns on.
//!
//! Two dependencies log secrets, both at TRACE only: suppaftp every FTP control command it sends,
//! `PASS <password>` included (through the `log` crate, whose records tracing-subscriber
//! forwards), and lambda_runtime the raw invocation payload, which holds an import's credentials or Track's
//! API key.
//! Those events are dropped before any filter from the environment is asked, so `RUST_LOG=trace`
//! or a Lambda log level of TRACE still shows everything else.

use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::util::SubscriberInitExt;

/// Whether an event or span may be logged at all: `false` for those that may carry a secret.
pub fn may_log(meta: &Metadata<'_>) -> bool {
    if *meta.level() != Level::TRACE {
        return true;
    }
    let target = meta.target();
    let of = |krate: &str| {
        target
            .strip_prefix(krate)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    };
    !(of("suppaftp") || (of("lambda_runtime") && meta.fields().field("body").is_some()))
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Text without colour: CloudWatch and files show escape codes as they are.
    Plain,
    /// Text coloured for a terminal.
    Ansi,
    /// One JSON object per line (Lambda's `AWS_LAMBDA_LOG_FORMAT=JSON`).
    Json,
}

/// The level filter lambda_runtime's `init_default_subscriber` uses: `AWS_LAMBDA_LOG_LEVEL`
/// (Lambda's logging configuration), else `RUST_LOG`, else INFO; and the format
/// `AWS_LAMBDA_LOG_FORMAT` asks for.
pub fn lambda_filter() -> (EnvFilter, Format) {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|l| l.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy();
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    (filter, if json { Format::Json } else { Format::Plain })
}

/// Lines in `format` to `writer`, for what `filter` and [`may_log`] let through. Installing it
/// (`SubscriberInitExt::init`) also forwards the `log` crate's records.
pub fn subscriber<W>(filter: EnvFilter, format: Format, writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let lines = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_ansi(format == Format::Ansi)
        .with_writer(writer);
    let lines = match format {
        Format::Json => lines.json().boxed(),
        Format::Plain | Format::Ansi => lines.boxed(),
    };
    tracing_subscriber::registry()
        .with(tracing_subscriber::filter::filter_fn(may_log))
        .with(filter)
        .with(lines)
}

/// Installs the Lambda functions' subscriber ([`lambda_filter`], lines to stdout) for the
/// process, forwarding the `log` crate's records.
pub fn init_lambda() {
    let (filter, format) = lambda_filter();
    subscriber(filter, format, std::io::stdout).init();
}
