//! Every way a Track invocation can fail, in one enum, each with a stable Lambda `errorType` the
//! platform can act on, keeping the underlying error as its `source`.
//!
//! No variant holds a credential or a token: they live only in [`crate::secret::Secret`] and
//! [`crate::oauth::AccessToken`], which cannot be printed, so no error message or log line built
//! from these can carry them.

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
    /// The API key is a secret reference that did not resolve (missing, not readable, no such
    /// JSON key): the message names the reference, never a value.
    #[error("API key: {0}")]
    ApiKeyUnresolved(#[source] shared::secrets::SecretError),
    /// The OAuth client secret is a reference that did not resolve.
    #[error("client secret: {0}")]
    ClientSecretUnresolved(#[source] shared::secrets::SecretError),
    /// The carrier's token endpoint refused the client credentials (400/401/403).
    #[error("{carrier} refused the client credentials at its token endpoint (HTTP {status}){}", detail_suffix(.detail))]
    TokenRefused {
        carrier: &'static str,
        status: u16,
        detail: Option<String>,
    },
    /// An OAuth carrier needs client credentials and none were found anywhere.
    #[error(
        "no {carrier} client credentials: send client_id and client_secret in authorization.connection_context or metadata, or configure CARRIER_CLIENT_ID and CARRIER_CLIENT_SECRET"
    )]
    NoClientCredentials { carrier: &'static str },
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
    #[error("the carrier's response is not the documented JSON")]
    CarrierResponseInvalid(#[source] serde_json::Error),
    #[error("the carrier answered with unexpected HTTP status {status}{}", detail_suffix(.detail))]
    CarrierUnexpectedStatus { status: u16, detail: Option<String> },
    #[error("configuration: {var}: {reason}")]
    Config { var: &'static str, reason: String },
    #[error("configuration")]
    Env(#[from] shared::env::EnvError),
    #[error("configuration: CARRIER_BASE_URL: {value:?} is not a URL")]
    BaseUrl {
        value: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Profile(#[from] shared::ProfileError),
    #[error("building the HTTP client failed")]
    HttpClient(#[source] reqwest::Error),
}

/// Why one attempt failed in a way another attempt may not. Never returned by itself: the retry
/// loop keeps the last one as the `source` of [`TrackError::CarrierRateLimited`] or
/// [`TrackError::CarrierUnavailable`], so the final message still says what went wrong.
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
            | TrackError::NoClientCredentials { .. }
            | TrackError::CarrierRejected { .. } => "InvalidRequest",
            TrackError::TrackingNumberNotFound { .. } => "TrackingNumberNotFound",
            // The key Track was told to use cannot be had: to the platform, the same as a key
            // the carrier refused (the connection's credentials must be fixed).
            TrackError::CarrierUnauthorized { .. }
            | TrackError::ApiKeyUnresolved(_)
            | TrackError::ClientSecretUnresolved(_)
            | TrackError::TokenRefused { .. } => "CarrierUnauthorized",
            TrackError::CarrierRateLimited { .. } => "CarrierRateLimited",
            TrackError::CarrierUnavailable { .. } => "CarrierUnavailable",
            TrackError::CarrierResponseInvalid(_) | TrackError::CarrierUnexpectedStatus { .. } => {
                "CarrierResponseInvalid"
            }
            TrackError::Config { .. }
            | TrackError::Env(_)
            | TrackError::BaseUrl { .. }
            | TrackError::Profile(_)
            | TrackError::HttpClient(_) => "InvalidConfiguration",
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
        let err = TrackError::CarrierUnexpectedStatus {
            status: 302,
            detail: None,
        };
        assert_eq!(err.kind(), "CarrierResponseInvalid");
    }
}
