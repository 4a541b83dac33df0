//! Every way an import can fail, keeping the underlying error as its `source`.
//!
//! Per-record problems are not here: a bad record is a [`shared::Rejection`], counted and logged,
//! never an error of the import.

/// The protocol or SDK error underneath a domain error. Adapters box their own error types
/// into it, so no SDK or protocol type leaks into the domain (or into the code that matches on
/// these enums); the chain is still there for logs and `report`.
pub type Cause = Box<dyn std::error::Error + Send + Sync>;

/// A failed import.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(
        "the event is neither a Connect ImportTrackingEvents request nor an EventBridge event carrying one"
    )]
    InvalidEvent(#[source] serde_json::Error),
    /// The CLI's `--event` file does not parse (Lambda's runtime parses the payload itself).
    #[error("{origin}: the event is not JSON")]
    EventNotJson {
        origin: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("no source to import: set metadata.source in the request or DEFAULT_SOURCE")]
    NoSource,
    #[error("no profile: set metadata.profile in the request or DEFAULT_PROFILE")]
    NoProfile,
    #[error("configuration: {var}: {reason}")]
    Config { var: &'static str, reason: String },
    #[error("configuration: {0}")]
    Env(#[from] shared::env::EnvError),
    #[error(transparent)]
    Profile(#[from] shared::ProfileError),
    #[error("cannot read profile {uri}")]
    ProfileUnreadable {
        uri: String,
        #[source]
        source: SourceError,
    },
    #[error("reading profile {uri} failed")]
    ProfileRead {
        uri: String,
        #[source]
        source: std::io::Error,
    },
    #[error("profile {uri} is larger than {limit} bytes; is it really a profile?")]
    ProfileTooLarge { uri: String, limit: u64 },
    #[error("profile {uri} is not UTF-8 text")]
    ProfileNotText {
        uri: String,
        #[source]
        source: std::string::FromUtf8Error,
    },
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("reading {uri}")]
    Read {
        uri: String,
        #[source]
        source: shared::ReadError,
    },
    #[error(
        "delivery failed; every record up to record {delivered_through} was delivered{}",
        if *.checkpointed { " and checkpointed: the next run resumes after it" } else { "" }
    )]
    Delivery {
        delivered_through: u64,
        /// The delivered part is recorded in the state store.
        checkpointed: bool,
        #[source]
        source: SinkError,
    },
    #[error(transparent)]
    State(#[from] StateError),
    #[error(
        "stopped before the deadline with records up to {through_record} delivered and checkpointed, but the continuation could not be started; a retry or the next run resumes from the checkpoint"
    )]
    Continue {
        through_record: u64,
        #[source]
        source: ContinueError,
    },
    #[error("the import pipeline stopped unexpectedly: {0}")]
    Pipeline(&'static str),
}

/// A source that could not be opened, read, listed or tidied.
///
/// No variant carries a password or a private key: connection errors name the URI, the user and
/// what failed, and keep the protocol error as their source.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{uri}: not a supported source URI ({reason})")]
    BadUri { uri: String, reason: &'static str },
    #[error("{uri}: not a valid file-name pattern")]
    BadPattern {
        uri: String,
        #[source]
        source: globset::Error,
    },
    /// A connection setting (`after_import`, a key, a certificate, a fingerprint) is unusable.
    /// The reason never quotes a secret's value.
    #[error("{key}: {reason}")]
    InvalidSetting {
        key: &'static str,
        reason: String,
        #[source]
        source: Option<Cause>,
    },
    /// A URI or address the connection's policy refuses (`ALLOWED_SOURCES`, the network guard).
    #[error("{uri}: not allowed: {rule}")]
    NotAllowed { uri: String, rule: String },
    /// A credential is a secret reference (see [`shared::secrets`]) that did not resolve. The
    /// message names the credential and the reference, never a value.
    #[error("{key}: {source}")]
    SecretUnresolved {
        key: &'static str,
        reference: String,
        source: shared::secrets::SecretError,
    },
    #[error("{uri}: {what} is not supported for this kind of source")]
    Unsupported { uri: String, what: &'static str },
    #[error("{uri}: no such object")]
    NotFound { uri: String },
    #[error(
        "{uri}: the connection dropped at byte {offset} and reopening it failed {attempts} times in a row"
    )]
    Cut {
        uri: String,
        offset: u64,
        attempts: usize,
        #[source]
        source: std::io::Error,
    },
    #[error("{uri}: the file changed while it was being read (version {was}, now {now})")]
    Changed {
        uri: String,
        was: String,
        now: String,
    },
    #[error("{uri}: S3 GetObject failed")]
    S3 {
        uri: String,
        #[source]
        source: Cause,
    },
    #[error("{uri}: S3 ListObjectsV2 failed")]
    S3List {
        uri: String,
        #[source]
        source: Cause,
    },
    #[error("{path}: cannot open file")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{uri}: cannot connect to the server")]
    Connect {
        uri: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{uri}: {op} timed out after {after:?}")]
    Timeout {
        uri: String,
        op: &'static str,
        after: std::time::Duration,
    },
    #[error(
        "{uri}: the server refused {method} authentication for user {user:?}; check the connection's credentials"
    )]
    Unauthorized {
        uri: String,
        user: String,
        method: &'static str,
        #[source]
        source: Option<Cause>,
    },
    #[error(
        "{uri}: the server's host key has fingerprint {actual}, not the pinned host_key_fingerprint {expected}; refusing to connect"
    )]
    HostKeyMismatch {
        uri: String,
        expected: String,
        actual: String,
    },
    #[error(
        "{uri}: TLS handshake failed: the server's certificate is not trusted (not signed by a system root or by ca_certificate) or not valid for this host"
    )]
    Tls {
        uri: String,
        #[source]
        source: Cause,
    },
    #[error("{uri}: FTP {op} failed")]
    Ftp {
        uri: String,
        op: &'static str,
        #[source]
        source: Cause,
    },
    #[error("{uri}: SSH {op} failed")]
    Ssh {
        uri: String,
        op: &'static str,
        #[source]
        source: Cause,
    },
    #[error("{uri}: SFTP {op} failed")]
    Sftp {
        uri: String,
        op: &'static str,
        #[source]
        source: Cause,
    },
}

/// The state store (what was imported) could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("state of connection {connection} changed while it was being updated")]
    Conflict { connection: String },
    #[error("{uri}: run {run} took this file over (this run's claim lapsed); stopping")]
    ClaimLost { uri: String, run: String },
    #[error("{uri}: reading import state failed")]
    S3Get {
        uri: String,
        #[source]
        source: Cause,
    },
    #[error("{uri}: writing import state failed")]
    S3Put {
        uri: String,
        #[source]
        source: Cause,
    },
    #[error("{uri}: reading import state failed")]
    Read {
        uri: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{uri}: import state is larger than {limit} bytes")]
    TooLarge { uri: String, limit: u64 },
    #[error("{uri}: import state is not a state document")]
    Corrupt {
        uri: String,
        #[source]
        source: serde_json::Error,
    },
}

/// A sink that could not take a batch.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("SQS SendMessageBatch failed")]
    Sqs(#[source] Cause),
    #[error(
        "{failed} entries were still failing after {attempts} attempts; last: {code}: {message}"
    )]
    EntriesFailed {
        failed: usize,
        attempts: usize,
        code: String,
        message: String,
    },
    #[error("a message body is not UTF-8 text")]
    NotText(#[source] std::string::FromUtf8Error),
    #[error("writing events to stdout")]
    Stdout(#[source] std::io::Error),
}

impl ImportError {
    /// The error for a profile URI whose source failed or refused it.
    pub fn profile_unreadable(uri: &str) -> impl FnOnce(SourceError) -> ImportError + '_ {
        move |source| ImportError::ProfileUnreadable {
            uri: uri.to_owned(),
            source,
        }
    }

    /// A stable name for the kind of failure, for Lambda's `errorType`.
    pub fn kind(&self) -> &'static str {
        match self {
            ImportError::InvalidEvent(_)
            | ImportError::EventNotJson { .. }
            | ImportError::NoSource
            | ImportError::NoProfile => "InvalidRequest",
            ImportError::Config { .. } | ImportError::Env(_) => "InvalidConfiguration",
            // The request named what this deployment may not read or reach; nothing was.
            ImportError::Source(SourceError::NotAllowed { .. })
            | ImportError::ProfileUnreadable {
                source: SourceError::NotAllowed { .. },
                ..
            } => "SourceNotAllowed",
            ImportError::Profile(_)
            | ImportError::ProfileTooLarge { .. }
            | ImportError::ProfileNotText { .. } => "InvalidProfile",
            // A profile that is not there, or a URI no source serves, will not appear by retrying;
            // a server or bucket that did not answer might.
            ImportError::ProfileUnreadable {
                source:
                    SourceError::NotFound { .. }
                    | SourceError::BadUri { .. }
                    | SourceError::BadPattern { .. }
                    | SourceError::Unsupported { .. }
                    | SourceError::InvalidSetting { .. },
                ..
            } => "InvalidProfile",
            ImportError::ProfileUnreadable { .. } | ImportError::ProfileRead { .. } => {
                "SourceUnavailable"
            }
            ImportError::Source(SourceError::NotFound { .. }) => "SourceNotFound",
            ImportError::Source(
                SourceError::BadUri { .. }
                | SourceError::BadPattern { .. }
                | SourceError::InvalidSetting { .. }
                | SourceError::Unsupported { .. },
            ) => "InvalidRequest",
            // The credentials are wrong: retrying cannot help, the connection must be fixed.
            // So is a credential whose secret is missing or may not be read.
            ImportError::Source(
                SourceError::Unauthorized { .. } | SourceError::SecretUnresolved { .. },
            ) => "SourceUnauthorized",
            // The server is not the one the connection pinned or trusts: possibly an attack.
            ImportError::Source(SourceError::HostKeyMismatch { .. } | SourceError::Tls { .. }) => {
                "SourceUntrusted"
            }
            ImportError::Source(_) => "SourceUnavailable",
            ImportError::Read { .. } => "InvalidFile",
            ImportError::Delivery { .. } => "DeliveryFailed",
            ImportError::State(_) => "StateUnavailable",
            ImportError::Continue { .. } => "ContinuationFailed",
            ImportError::Pipeline(_) => "InternalError",
        }
    }
}

impl From<ImportError> for lambda_runtime::Diagnostic {
    fn from(err: ImportError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: err.kind().to_owned(),
            error_message: shared::report(&err),
        }
    }
}

/// A continuation that could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ContinueError {
    #[error("invoking {function} asynchronously failed")]
    Invoke {
        function: String,
        #[source]
        source: Cause,
    },
}
