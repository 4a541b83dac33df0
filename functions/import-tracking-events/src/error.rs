//! Every way an import can fail, keeping the underlying error as its `source`.
//!
//! Per-record problems are not here: a bad record is a [`shared::Rejection`], counted and logged,
//! never an error of the import.

use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_sqs::operation::send_message_batch::SendMessageBatchError;

/// A failed import.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(
        "the event is neither a Connect ImportTrackingEvents request nor an EventBridge event carrying one"
    )]
    InvalidEvent(#[source] serde_json::Error),
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
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("reading {uri}")]
    Read {
        uri: String,
        #[source]
        source: shared::ReadError,
    },
    #[error("delivery failed; every record up to record {delivered_through} was delivered")]
    Delivery {
        delivered_through: u64,
        #[source]
        source: SinkError,
    },
    #[error("the import pipeline stopped unexpectedly: {0}")]
    Pipeline(&'static str),
}

/// A source that could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{uri}: not a supported source URI ({reason})")]
    BadUri { uri: String, reason: &'static str },
    #[error("{uri}: no such object")]
    NotFound { uri: String },
    #[error("{uri}: S3 GetObject failed")]
    S3 {
        uri: String,
        #[source]
        source: Box<aws_sdk_s3::error::SdkError<GetObjectError>>,
    },
    #[error("{path}: cannot open file")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A sink that could not take a batch.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("SQS SendMessageBatch failed")]
    Sqs(#[source] Box<aws_sdk_sqs::error::SdkError<SendMessageBatchError>>),
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
    /// A stable name for the kind of failure, for Lambda's `errorType`.
    pub fn kind(&self) -> &'static str {
        match self {
            ImportError::InvalidEvent(_) | ImportError::NoSource | ImportError::NoProfile => {
                "InvalidRequest"
            }
            ImportError::Config { .. } | ImportError::Env(_) => "InvalidConfiguration",
            ImportError::Profile(_) => "InvalidProfile",
            ImportError::Source(SourceError::NotFound { .. }) => "SourceNotFound",
            ImportError::Source(SourceError::BadUri { .. }) => "InvalidRequest",
            ImportError::Source(_) => "SourceUnavailable",
            ImportError::Read { .. } => "InvalidFile",
            ImportError::Delivery { .. } => "DeliveryFailed",
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
