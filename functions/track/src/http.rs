//! One HTTP exchange with a carrier, as every adapter (and the OAuth token cache) needs it: send
//! with this attempt's time budget, read the body to the end, and sort out what another attempt
//! may fix (transport failures, 408, 429, 5xx, with the server's `Retry-After`) from what the
//! caller must read itself. One place, so that DHL, UPS, FedEx and the token endpoints retry alike.

use std::time::{Duration, SystemTime};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::error::Transient;
use crate::retry::{Attempt, parse_retry_after};

/// The longest carrier message we repeat in an error.
pub const MAX_DETAIL_CHARS: usize = 300;

/// A carrier's answer that another attempt would not change.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// Sends `request` within `budget` (and never longer than `request_timeout`). `Ok` is an answer
/// for the caller to read; `Err` is the attempt to hand back to the retry loop as it is.
/// `detail` reduces an error body to one short, secret-free line.
pub async fn exchange<T>(
    carrier: &'static str,
    request: reqwest::RequestBuilder,
    budget: Duration,
    request_timeout: Duration,
    detail: impl Fn(&[u8]) -> Option<String>,
) -> Result<Reply, Attempt<T>> {
    let response = request
        .timeout(budget.min(request_timeout))
        .send()
        .await
        .map_err(transport)?;
    let status = response.status();
    let retry_after = retry_after(response.headers());
    let body = response.bytes().await.map_err(transport)?;
    tracing::debug!(
        carrier,
        status = status.as_u16(),
        bytes = body.len(),
        "carrier answered"
    );
    let cause = match status {
        StatusCode::TOO_MANY_REQUESTS => Transient::RateLimited {
            detail: detail(&body),
        },
        s if s.is_server_error() || s == StatusCode::REQUEST_TIMEOUT => Transient::Status {
            status: s.as_u16(),
            detail: detail(&body),
        },
        _ => {
            return Ok(Reply {
                status,
                body: body.to_vec(),
            });
        }
    };
    Err(Attempt::Retry { cause, retry_after })
}

fn transport<T>(err: reqwest::Error) -> Attempt<T> {
    Attempt::Retry {
        cause: Transient::Http(err),
        retry_after: None,
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// `text` cut to [`MAX_DETAIL_CHARS`].
pub fn short(text: &str) -> String {
    text.chars().take(MAX_DETAIL_CHARS).collect()
}

/// The carrier's own words from an error body, as one short line: UPS's
/// `{"response":{"errors":[{code,message}]}}`, FedEx's `{"errors":[{code,message}]}`, or
/// OAuth's `{"error","error_description"}`. `None` for anything else. Callers scrub secrets.
pub fn error_detail(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Body {
        response: Option<Errors>,
        #[serde(flatten)]
        errors: Errors,
        error: Option<String>,
        error_description: Option<String>,
    }
    #[derive(serde::Deserialize, Default)]
    struct Errors {
        #[serde(default)]
        errors: Vec<CodeMessage>,
    }
    let body: Body = serde_json::from_slice(body).ok()?;
    let mut errors = body.response.unwrap_or_default().errors;
    errors.extend(body.errors.errors);
    let mut parts: Vec<String> = errors.iter().filter_map(CodeMessage::line).collect();
    let oauth = CodeMessage {
        code: body.error,
        message: body.error_description,
    };
    parts.extend(oauth.line());
    (!parts.is_empty()).then(|| short(&parts.join("; ")))
}

/// A carrier's `{code, message}` pair (UPS and FedEx both write their errors and warnings so).
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct CodeMessage {
    pub code: Option<String>,
    pub message: Option<String>,
}

impl CodeMessage {
    /// `code: message`, or whichever of them there is.
    pub fn line(&self) -> Option<String> {
        fn clean(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        match (clean(&self.code), clean(&self.message)) {
            (Some(code), Some(message)) => Some(format!("{code}: {message}")),
            (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
            (None, None) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_of_every_shape_become_one_line() {
        let read = |json: &str| error_detail(json.as_bytes());
        assert_eq!(
            read(r#"{"response":{"errors":[{"code":"250002","message":"Invalid Authentication Information."}]}}"#)
                .as_deref(),
            Some("250002: Invalid Authentication Information.")
        );
        assert_eq!(
            read(r#"{"transactionId":"x","errors":[{"code":"NOT.AUTHORIZED.ERROR","message":"Bad token"},{"code":"X"}]}"#)
                .as_deref(),
            Some("NOT.AUTHORIZED.ERROR: Bad token; X")
        );
        assert_eq!(
            read(
                r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#
            )
            .as_deref(),
            Some("invalid_client: Client authentication failed")
        );
        assert_eq!(read("<html>"), None);
        assert_eq!(read("{}"), None);
    }
}
