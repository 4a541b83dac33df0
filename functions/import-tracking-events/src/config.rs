//! Configuration, read once from the environment into a typed struct.

use std::sync::Arc;
use std::time::Duration;

use shared::env;

use crate::error::ImportError;
use crate::source::AccessPolicy;

/// Everything the import reads from its environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `QUEUE_URL`: where events go (required by the SQS sink only).
    pub queue_url: Option<String>,
    /// `MAX_MESSAGE_BYTES`: the largest message body (the queue's `MaximumMessageSize`).
    pub max_message_bytes: usize,
    /// `MAX_BATCH_BYTES`: the largest SendMessageBatch payload.
    pub max_batch_bytes: usize,
    /// `SEND_CONCURRENCY`: SendMessageBatch calls in flight.
    pub send_concurrency: usize,
    /// `ENCODE_WORKERS`: threads mapping and encoding records (default: the CPUs we have, up to
    /// 4); 0 maps and encodes on the reading thread, the default with one CPU (a Lambda function
    /// up to 1769 MB), where threads would only take turns.
    pub encode_workers: usize,
    /// `SEND_ATTEMPTS`: attempts for entries SQS reports as failed, before the import fails.
    pub send_attempts: usize,
    /// `SEND_RETRY_BASE_MS`: first backoff delay for failed entries (doubles, with jitter).
    pub send_retry_base: Duration,
    /// `DEFAULT_SOURCE`: source URI when the request names none (classic schedules).
    pub default_source: Option<String>,
    /// `DEFAULT_PROFILE`: profile when the request names none.
    pub default_profile: Option<String>,
    /// `S3_FORCE_PATH_STYLE`: path-style S3 addressing (local endpoints); defaults to on when
    /// `AWS_ENDPOINT_URL` is set.
    pub s3_force_path_style: bool,
    /// `SOURCE_CONNECT_TIMEOUT_MS`: connecting to and logging in to an FTP/SFTP server.
    pub source_connect_timeout: Duration,
    /// `SOURCE_READ_TIMEOUT_MS`: the longest an FTP/SFTP server may keep us waiting for data.
    pub source_read_timeout: Duration,
    /// `STATE_BUCKET`: where imported file versions are recorded (once-only). Without it every
    /// file a source names is imported on every run.
    pub state_bucket: Option<String>,
    /// `STATE_PREFIX`: key prefix of the state documents in `STATE_BUCKET`.
    pub state_prefix: String,
    /// `SOURCE_RETRIES`: reopens of a source whose connection dropped mid-stream, in a row
    /// without progress, before the import fails.
    pub source_retries: usize,
    /// `SOURCE_RETRY_BASE_MS`: first delay before reopening (doubles, with jitter).
    pub source_retry_base: Duration,
    /// `CHECKPOINT_INTERVAL_MS`: least time between two checkpoints while delivery advances;
    /// a crash repeats at most about this much work.
    pub checkpoint_interval: Duration,
    /// `DEADLINE_MARGIN_MS`: how long before the invocation's deadline the import stops
    /// reading, lets in-flight sends finish, checkpoints and continues in a new invocation.
    pub deadline_margin: Duration,
    /// `CLAIM_TTL_SECS`: how long a run's claim on a file holds if the run dies without
    /// releasing it. Longer than the function's timeout, so a live run keeps its claim.
    pub claim_ttl: Duration,
    /// `EMF_METRICS`: print one CloudWatch Embedded Metric Format line per imported file on
    /// stdout. On by default inside Lambda (`AWS_LAMBDA_FUNCTION_NAME` set), off elsewhere, where
    /// stdout carries the CLI's summary or events.
    pub emf_metrics: bool,
    /// `ALLOWED_SOURCES` (with where the import runs): which URIs a request may name and which
    /// addresses it may reach. See [`AccessPolicy`].
    pub access: Arc<AccessPolicy>,
    /// `MAX_FILES_PER_RUN`: files one run imports (or sets aside) at most; the rest wait for the
    /// next run or a continuation.
    pub max_files_per_run: usize,
    /// `SECRET_CACHE_SECS`: how long a resolved credential reference is reused.
    pub secret_cache: Duration,
    /// `ENVELOPE_ENCODING`: `json` (the events as a JSON array, the default) or `gzip` (the
    /// array gzip'd and base64'd under `events_gzip`, same header keys).
    pub envelope_encoding: EnvelopeEncoding,
}

/// How a message carries its events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EnvelopeEncoding {
    /// `"events":[…]`.
    #[default]
    Json,
    /// `"events_gzip":"<base64 of the gzip of the JSON array>"`.
    Gzip,
}

impl std::str::FromStr for EnvelopeEncoding {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(EnvelopeEncoding::Json),
            "gzip" => Ok(EnvelopeEncoding::Gzip),
            other => Err(format!("{other:?} is neither json nor gzip")),
        }
    }
}

/// SQS's own limits.
pub const SQS_MAX_ENTRIES: usize = 10;
pub const SQS_MAX_MESSAGE_BYTES: usize = 1024 * 1024;

impl Default for Config {
    fn default() -> Self {
        Config {
            queue_url: None,
            max_message_bytes: 256 * 1024,
            max_batch_bytes: 1024 * 1024,
            send_concurrency: 4,
            encode_workers: match std::thread::available_parallelism().map_or(1, |n| n.get()) {
                1 => 0,
                cpus => cpus.min(4),
            },
            send_attempts: 5,
            send_retry_base: Duration::from_millis(100),
            default_source: None,
            default_profile: None,
            s3_force_path_style: false,
            source_connect_timeout: Duration::from_secs(15),
            source_read_timeout: Duration::from_secs(60),
            state_bucket: None,
            state_prefix: "import-state/".to_owned(),
            source_retries: 4,
            source_retry_base: Duration::from_millis(250),
            checkpoint_interval: Duration::from_secs(2),
            deadline_margin: Duration::from_secs(30),
            // Checkpoints renew the claim (at least every quarter of this) while a run lives,
            // so it only has to outlast a stalled run's pauses; a dead run's file is free
            // again two minutes after its last checkpoint.
            claim_ttl: Duration::from_secs(120),
            emf_metrics: false,
            access: Arc::new(AccessPolicy::allow_all()),
            max_files_per_run: 100,
            secret_cache: shared::secrets::DEFAULT_CACHE_TTL,
            envelope_encoding: EnvelopeEncoding::Json,
        }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ImportError> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ImportError> {
        let d = Config::default();
        let in_lambda = env::value(&get, "AWS_LAMBDA_FUNCTION_NAME").is_some();
        let config = Config {
            queue_url: env::value(&get, "QUEUE_URL"),
            max_message_bytes: env::number(&get, "MAX_MESSAGE_BYTES", d.max_message_bytes)?,
            max_batch_bytes: env::number(&get, "MAX_BATCH_BYTES", d.max_batch_bytes)?,
            send_concurrency: env::number(&get, "SEND_CONCURRENCY", d.send_concurrency)?,
            encode_workers: env::number(&get, "ENCODE_WORKERS", d.encode_workers)?,
            send_attempts: env::number(&get, "SEND_ATTEMPTS", d.send_attempts)?,
            send_retry_base: Duration::from_millis(env::number(
                &get,
                "SEND_RETRY_BASE_MS",
                d.send_retry_base.as_millis() as u64,
            )?),
            default_source: env::value(&get, "DEFAULT_SOURCE"),
            default_profile: env::value(&get, "DEFAULT_PROFILE"),
            s3_force_path_style: env::boolean(
                &get,
                "S3_FORCE_PATH_STYLE",
                env::value(&get, "AWS_ENDPOINT_URL").is_some(),
            )?,
            source_connect_timeout: Duration::from_millis(env::number(
                &get,
                "SOURCE_CONNECT_TIMEOUT_MS",
                d.source_connect_timeout.as_millis() as u64,
            )?),
            source_read_timeout: Duration::from_millis(env::number(
                &get,
                "SOURCE_READ_TIMEOUT_MS",
                d.source_read_timeout.as_millis() as u64,
            )?),
            state_bucket: env::value(&get, "STATE_BUCKET"),
            state_prefix: env::value(&get, "STATE_PREFIX").unwrap_or(d.state_prefix),
            source_retries: env::number(&get, "SOURCE_RETRIES", d.source_retries)?,
            source_retry_base: Duration::from_millis(env::number(
                &get,
                "SOURCE_RETRY_BASE_MS",
                d.source_retry_base.as_millis() as u64,
            )?),
            checkpoint_interval: Duration::from_millis(env::number(
                &get,
                "CHECKPOINT_INTERVAL_MS",
                d.checkpoint_interval.as_millis() as u64,
            )?),
            deadline_margin: Duration::from_millis(env::number(
                &get,
                "DEADLINE_MARGIN_MS",
                d.deadline_margin.as_millis() as u64,
            )?),
            claim_ttl: Duration::from_secs(env::number(
                &get,
                "CLAIM_TTL_SECS",
                d.claim_ttl.as_secs(),
            )?),
            emf_metrics: env::boolean(&get, "EMF_METRICS", in_lambda)?,
            access: Arc::new(
                AccessPolicy::new(env::value(&get, "ALLOWED_SOURCES").as_deref(), in_lambda)
                    .map_err(|reason| ImportError::Config {
                        var: "ALLOWED_SOURCES",
                        reason,
                    })?
                    .refusing_bucket(env::value(&get, "STATE_BUCKET").as_deref()),
            ),
            max_files_per_run: env::number(&get, "MAX_FILES_PER_RUN", d.max_files_per_run)?,
            secret_cache: shared::secrets::cache_ttl(&get)?,
            envelope_encoding: env::parsed(&get, "ENVELOPE_ENCODING", d.envelope_encoding)?,
        };
        config.validate()
    }

    fn validate(self) -> Result<Config, ImportError> {
        let bad = |var, reason: String| Err(ImportError::Config { var, reason });
        if !(1024..=SQS_MAX_MESSAGE_BYTES).contains(&self.max_message_bytes) {
            return bad(
                "MAX_MESSAGE_BYTES",
                format!(
                    "{} is outside 1024..={SQS_MAX_MESSAGE_BYTES}",
                    self.max_message_bytes
                ),
            );
        }
        if self.max_batch_bytes < self.max_message_bytes {
            return bad(
                "MAX_BATCH_BYTES",
                format!(
                    "{} is smaller than MAX_MESSAGE_BYTES ({})",
                    self.max_batch_bytes, self.max_message_bytes
                ),
            );
        }
        for (var, v) in [
            (
                "SOURCE_CONNECT_TIMEOUT_MS",
                self.source_connect_timeout.as_millis() as usize,
            ),
            (
                "SOURCE_READ_TIMEOUT_MS",
                self.source_read_timeout.as_millis() as usize,
            ),
            ("CLAIM_TTL_SECS", self.claim_ttl.as_secs() as usize),
            ("SEND_CONCURRENCY", self.send_concurrency),
            ("SEND_ATTEMPTS", self.send_attempts),
            ("MAX_FILES_PER_RUN", self.max_files_per_run),
        ] {
            if v == 0 {
                return bad(var, "must be at least 1".into());
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, ImportError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_match_the_sqs_limits() {
        let c = from(&[]).unwrap();
        assert_eq!(c.max_message_bytes, 262_144);
        assert_eq!(c.max_batch_bytes, 1_048_576);
        assert_eq!(c.send_concurrency, 4);
        assert!(!c.s3_force_path_style);
        assert_eq!(c.queue_url, None);
    }

    #[test]
    fn the_access_policy_is_strict_inside_lambda_only() {
        let cli = from(&[]).unwrap();
        assert!(cli.access.check("/etc/passwd").is_ok());
        let lambda = from(&[("AWS_LAMBDA_FUNCTION_NAME", "f")]).unwrap();
        assert!(lambda.access.check("file:///proc/self/environ").is_err());
        assert!(lambda.access.check("s3://b/k.csv").is_ok());
        let listed = from(&[("ALLOWED_SOURCES", "s3://drop/outbound/")]).unwrap();
        assert!(listed.access.check("/etc/passwd").is_err());
        assert!(listed.access.check("s3://drop/outbound/a.csv").is_ok());
    }

    #[test]
    fn values_are_parsed_and_checked() {
        let c = from(&[
            ("QUEUE_URL", "http://127.0.0.1:1/q"),
            ("MAX_MESSAGE_BYTES", "4096"),
            ("SEND_CONCURRENCY", "2"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
        ])
        .unwrap();
        assert_eq!(c.max_message_bytes, 4096);
        assert_eq!(c.send_concurrency, 2);
        assert!(c.s3_force_path_style);
        assert_eq!(c.queue_url.as_deref(), Some("http://127.0.0.1:1/q"));

        let err = from(&[("MAX_MESSAGE_BYTES", "lots")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("MAX_MESSAGE_BYTES") && err.contains("lots"),
            "{err}"
        );
        let err = from(&[("MAX_MESSAGE_BYTES", "2000000")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("MAX_MESSAGE_BYTES"), "{err}");
        let err = from(&[("MAX_BATCH_BYTES", "1000")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("MAX_BATCH_BYTES"), "{err}");
        let err = from(&[("SEND_CONCURRENCY", "0")]).unwrap_err().to_string();
        assert!(err.contains("SEND_CONCURRENCY"), "{err}");
        // 0 encoder threads: the reading thread encodes.
        assert_eq!(from(&[("ENCODE_WORKERS", "0")]).unwrap().encode_workers, 0);
        let err = from(&[("ALLOWED_SOURCES", "s3://b/,carrier-drop")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("ALLOWED_SOURCES"), "{err}");
        assert_eq!(from(&[]).unwrap().max_files_per_run, 100);
        assert_eq!(from(&[]).unwrap().envelope_encoding, EnvelopeEncoding::Json);
        let gzip = from(&[("ENVELOPE_ENCODING", "gzip")]).unwrap();
        assert_eq!(gzip.envelope_encoding, EnvelopeEncoding::Gzip);
        let err = from(&[("ENVELOPE_ENCODING", "zstd")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ENVELOPE_ENCODING") && err.contains("zstd"),
            "{err}"
        );
    }
}
