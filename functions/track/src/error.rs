//! Every way a Track invocation can fail, each with a stable Lambda `errorType` the platform can
//! act on, keeping the underlying error as its `source`.
//!
//! No variant holds the API key: it lives only in [`crate::secret::ApiKey`], which cannot be
//! printed, so no error message or log line built from these can carry it.

/// A failed Track.
#[derive(Debug, thiserror::Error)]
pub enum TrackError {
    /// The reason is ours, not serde's: serde quotes offending values, which may be secrets.
    #[error("the event is not a Connect TrackingRequest: {reason}")]
    InvalidEvent { reason: String },
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    #[error("the carrier rejected the request as invalid (HTTP {status}){}", detail_suffix(.detail))]
    CarrierRejected { status: u16, detail: Option<String> },
    #[error("tracking number {tracking_number:?} not found by the carrier{}", detail_suffix(.detail))]
    TrackingNumberNotFound {
        tracking_number: String,
        detail: Option<String>,
    },
    #[error("the carrier refused the API key (HTTP {status}){}", detail_suffix(.detail))]
    CarrierUnauthorized { status: u16, detail: Option<String> },
    #[error("the carrier kept rate-limiting after {attempts} attempt(s)")]
    CarrierRateLimited {
        attempts: u32,
        #[source]
        source: Transient,
    },
    #[error("the carrier was unavailable after {attempts} attempt(s)")]
    CarrierUnavailable {
        attempts: u32,
        #[source]
        source: Transient,
    },
    #[error("the carrier's response could not be understood")]
    CarrierResponseInvalid(#[source] InvalidResponse),
    #[error("configuration: {var}: {reason}")]
    Config { var: &'static str, reason: String },
    #[error(transparent)]
    Profile(#[from] shared::ProfileError),
    #[error("building the HTTP client failed")]
    HttpClient(#[source] reqwest::Error),
}

/// A failure worth another attempt. The last one becomes the `source` of the final error.
#[derive(Debug, thiserror::Error)]
pub enum Transient {
    #[error("HTTP 429 Too Many Requests{}", detail_suffix(.detail))]
    RateLimited { detail: Option<String> },
    #[error("HTTP {status}{}", detail_suffix(.detail))]
    Status { status: u16, detail: Option<String> },
    #[error("the request failed")]
    Http(#[source] reqwest::Error),
    #[error("the invocation deadline left no time for an attempt")]
    NoTimeLeft,
}

/// A response that is not what the carrier's API documents.
#[derive(Debug, thiserror::Error)]
pub enum InvalidResponse {
    #[error("the body is not the documented JSON")]
    Json(#[source] serde_json::Error),
    #[error("unexpected HTTP status {status}{}", detail_suffix(.detail))]
    UnexpectedStatus { status: u16, detail: Option<String> },
}

fn detail_suffix(detail: &Option<String>) -> String {
    detail
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default()
}

impl TrackError {
    /// A stable name for the kind of failure, for Lambda's `errorType`.
    pub fn kind(&self) -> &'static str {
        match self {
            TrackError::InvalidEvent { .. }
            | TrackError::InvalidRequest(_)
            | TrackError::CarrierRejected { .. } => "InvalidRequest",
            TrackError::TrackingNumberNotFound { .. } => "TrackingNumberNotFound",
            TrackError::CarrierUnauthorized { .. } => "CarrierUnauthorized",
            TrackError::CarrierRateLimited { .. } => "CarrierRateLimited",
            TrackError::CarrierUnavailable { .. } => "CarrierUnavailable",
            TrackError::CarrierResponseInvalid(_) => "CarrierResponseInvalid",
            TrackError::Config { .. } | TrackError::Profile(_) | TrackError::HttpClient(_) => {
                "InvalidConfiguration"
            }
        }
    }

    /// The error for retries that ran out (or ran into the deadline) on `last`.
    pub fn exhausted(attempts: u32, last: Transient) -> TrackError {
        match last {
            Transient::RateLimited { .. } => TrackError::CarrierRateLimited {
                attempts,
                source: last,
            },
            _ => TrackError::CarrierUnavailable {
                attempts,
                source: last,
            },
        }
    }
}

impl From<TrackError> for lambda_runtime::Diagnostic {
    fn from(err: TrackError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: err.kind().to_owned(),
            error_message: shared::report(&err),
        }
    }
}

impl From<shared::env::EnvError> for TrackError {
    fn from(err: shared::env::EnvError) -> Self {
        TrackError::Config {
            var: err.var,
            reason: err.reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_types_are_stable_and_messages_keep_the_cause() {
        let err = TrackError::exhausted(
            3,
            Transient::Status {
                status: 503,
                detail: Some("Service Unavailable".into()),
            },
        );
        let d = lambda_runtime::Diagnostic::from(err);
        assert_eq!(d.error_type, "CarrierUnavailable");
        assert_eq!(
            d.error_message,
            "the carrier was unavailable after 3 attempt(s): HTTP 503: Service Unavailable"
        );
        let err = TrackError::exhausted(2, Transient::RateLimited { detail: None });
        assert_eq!(err.kind(), "CarrierRateLimited");
        let err = TrackError::CarrierRejected {
            status: 400,
            detail: None,
        };
        assert_eq!(err.kind(), "InvalidRequest");
    }
}
