//! OAuth2 client credentials for the carriers that issue short-lived tokens (UPS, FedEx, and
//! whichever comes next): the token exchange, and the cache that keeps one token per (carrier,
//! base URL, client id) for the life of the execution environment.
//!
//! - A token is reused until 60 s before it expires ([`REFRESH_MARGIN`]); the expiry is measured
//!   on a [`Clock`], so tests move time instead of waiting for it.
//! - Concurrent invocations that find no usable token wait on one fetch (single flight: a
//!   `tokio::sync::Mutex` per key), so a burst costs one token request, not one each.
//! - A tracking call answered 401 drops that token, fetches a new one and retries once
//!   ([`OAuth::authorized`]).
//! - The token request goes through the same retry loop, deadline and timeouts as tracking calls.
//! - A token lives only in [`AccessToken`], which cannot be printed; the client secret only in
//!   [`ClientSecret`]. A token is only reused for the secret it was fetched with.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::time::Instant;

use crate::carrier::TrackQuery;
use crate::error::{TrackError, Transient};
use crate::http;
use crate::retry::{Attempt, RetryPolicy};
use crate::secret::ClientSecret;

/// How long before its expiry a token stops being handed out.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Where "now" comes from for token expiry.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Instant;
}

/// The runtime's monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to: for tests and benchmarks of token expiry.
#[derive(Debug)]
pub struct ManualClock(Mutex<Instant>);

impl ManualClock {
    pub fn new() -> ManualClock {
        ManualClock(Mutex::new(Instant::now()))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A bearer token. `Debug` shows `[redacted]`; the text only leaves as a sensitive header.
#[derive(Clone)]
pub struct AccessToken(Arc<SecretString>);

impl AccessToken {
    fn new(token: String) -> AccessToken {
        AccessToken(Arc::new(SecretString::from(token)))
    }

    /// `Bearer <token>`, marked sensitive so that HTTP-level logging skips it; `None` if the
    /// carrier's token holds characters a header cannot carry.
    pub fn bearer(&self) -> Option<HeaderValue> {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", self.0.expose_secret())).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    /// `text` with the token replaced, in case a carrier ever echoes it in an error.
    fn scrub(&self, text: &str) -> String {
        text.replace(self.0.expose_secret(), "[redacted]")
    }

    /// Whether this is the very token `other` is (not merely an equal string).
    fn is(&self, other: &AccessToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

/// How a token endpoint wants the client to prove who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic `client_id:client_secret` (UPS).
    Basic,
    /// `client_id` and `client_secret` in the form body (FedEx).
    Form,
}

/// A carrier's token endpoint.
#[derive(Debug, Clone)]
pub struct TokenEndpoint {
    /// The carrier's display name, for messages.
    pub carrier: &'static str,
    /// `CARRIER_BASE_URL`, part of the cache key.
    pub base_url: reqwest::Url,
    /// The token URL under it.
    pub url: reqwest::Url,
    pub auth: ClientAuth,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    carrier: &'static str,
    base_url: String,
    client_id: String,
}

/// A token and what decides whether it may be handed out again.
struct Entry {
    token: AccessToken,
    /// The secret it was fetched with: another secret for the same id must prove itself.
    secret: ClientSecret,
    /// Reused until then; `None` when the carrier gave no usable lifetime (never reused).
    refresh_at: Option<Instant>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Entry>>>;

/// The tokens of one execution environment, shared by every invocation (and every adapter).
pub struct TokenCache {
    clock: Arc<dyn Clock>,
    slots: Mutex<HashMap<Key, Slot>>,
}

impl TokenCache {
    pub fn new(clock: Arc<dyn Clock>) -> TokenCache {
        TokenCache {
            clock,
            slots: Mutex::default(),
        }
    }

    fn slot(&self, key: Key) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(slots.entry(key).or_default())
    }
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let slots = self.slots.lock().map_or(0, |s| s.len());
        f.debug_struct("TokenCache")
            .field("clock", &self.clock)
            .field("keys", &slots)
            .finish()
    }
}

/// What one authorized call came to.
#[derive(Debug)]
pub enum Authorized<T> {
    /// Done, one way or the other.
    Done(Result<T, TrackError>),
    /// The carrier refused the token (HTTP 401): with this error if a fresh one is refused too.
    TokenRejected(TrackError),
}

/// One carrier's OAuth: its token endpoint, the HTTP client, the retry policy, the cache.
#[derive(Debug, Clone)]
pub struct OAuth {
    pub endpoint: TokenEndpoint,
    pub client: reqwest::Client,
    pub retry: RetryPolicy,
    pub request_timeout: Duration,
    pub cache: Arc<TokenCache>,
}

/// The client id and secret a call uses.
struct Credentials<'a> {
    id: &'a str,
    secret: &'a ClientSecret,
}

impl OAuth {
    /// Runs `call` with a token for the query's client credentials. A call answered 401 drops
    /// that token, and runs once more with a new one.
    pub async fn authorized<T, F, Fut>(
        &self,
        query: &TrackQuery,
        deadline: Instant,
        call: F,
    ) -> Result<T, TrackError>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Authorized<T>>,
    {
        let credentials = match (query.client_id.as_deref(), query.client_secret.as_ref()) {
            (Some(id), Some(secret)) => Credentials { id, secret },
            _ => {
                return Err(TrackError::NoClientCredentials {
                    carrier: self.endpoint.carrier,
                });
            }
        };
        let slot = self.cache.slot(Key {
            carrier: self.endpoint.carrier,
            base_url: self.endpoint.base_url.to_string(),
            client_id: credentials.id.to_owned(),
        });
        let token = self.token(&slot, &credentials, deadline, None).await?;
        let refused = match call(token.clone()).await {
            Authorized::Done(result) => return result,
            Authorized::TokenRejected(err) => err,
        };
        tracing::info!(
            carrier = self.endpoint.carrier,
            error = %shared::report(&refused),
            "the carrier refused the token; fetching a new one"
        );
        let token = self
            .token(&slot, &credentials, deadline, Some(&token))
            .await?;
        match call(token).await {
            Authorized::Done(result) => result,
            Authorized::TokenRejected(err) => Err(err),
        }
    }

    /// One tracking call under a bearer token, through the retry loop; the JSON of its 200 as
    /// `T`. `request` builds the call around the `Authorization` header value. 401 refreshes the
    /// token once ([`OAuth::authorized`]); 403 is `CarrierUnauthorized`, 404
    /// `TrackingNumberNotFound`, 400/422 `CarrierRejected`.
    pub async fn track_json<T: serde::de::DeserializeOwned>(
        &self,
        query: &TrackQuery,
        deadline: Instant,
        request: impl Fn(HeaderValue) -> reqwest::RequestBuilder,
    ) -> Result<T, TrackError> {
        let carrier = self.endpoint.carrier;
        let request = &request;
        self.authorized(query, deadline, |token| async move {
            let Some(bearer) = token.bearer() else {
                let why = "the token holds characters an HTTP header cannot carry";
                return Authorized::Done(Err(TrackError::CarrierResponseInvalid(
                    serde::de::Error::custom(why),
                )));
            };
            let detail = |body: &[u8]| http::error_detail(body).map(|d| token.scrub(&d));
            let read = self
                .retry
                .run(deadline, |_, budget| {
                    let sent = request(bearer.clone());
                    async move {
                        match http::exchange(carrier, sent, budget, self.request_timeout, detail)
                            .await
                        {
                            Ok(reply) => Attempt::Done(Ok(classify(reply, query, detail))),
                            Err(retry) => retry,
                        }
                    }
                })
                .await;
            match read {
                Ok(Reading::Body(body)) => Authorized::Done(
                    serde_json::from_slice(&body).map_err(TrackError::CarrierResponseInvalid),
                ),
                Ok(Reading::TokenRefused(err)) => Authorized::TokenRejected(err),
                Ok(Reading::Failed(err)) | Err(err) => Authorized::Done(Err(err)),
            }
        })
        .await
    }

    /// A usable token: the cached one, else a new one (fetched while holding the key's lock, so
    /// concurrent callers wait for it). `rejected` is a token the carrier refused: dropped.
    async fn token(
        &self,
        slot: &Slot,
        credentials: &Credentials<'_>,
        deadline: Instant,
        rejected: Option<&AccessToken>,
    ) -> Result<AccessToken, TrackError> {
        let until = deadline
            .checked_sub(self.retry.deadline_margin)
            .unwrap_or(deadline);
        let mut entry = tokio::time::timeout_at(until, slot.lock())
            .await
            .map_err(|_| TrackError::exhausted(0, Transient::NoTimeLeft))?;
        if rejected.is_some_and(|r| entry.as_ref().is_some_and(|e| e.token.is(r))) {
            *entry = None;
        }
        let now = self.cache.clock.now();
        if let Some(cached) = entry
            .as_ref()
            .filter(|e| e.refresh_at.is_some_and(|at| now < at) && e.secret == *credentials.secret)
        {
            tracing::debug!(carrier = self.endpoint.carrier, "reusing the cached token");
            return Ok(cached.token.clone());
        }
        let (token, lifetime) = self.fetch(credentials, deadline).await?;
        *entry = Some(Entry {
            token: token.clone(),
            secret: credentials.secret.clone(),
            refresh_at: lifetime
                .and_then(|l| l.checked_sub(REFRESH_MARGIN))
                .map(|reusable| now + reusable),
        });
        Ok(token)
    }

    /// A new token and its lifetime, through the retry loop.
    async fn fetch(
        &self,
        credentials: &Credentials<'_>,
        deadline: Instant,
    ) -> Result<(AccessToken, Option<Duration>), TrackError> {
        tracing::info!(carrier = self.endpoint.carrier, "fetching an OAuth token");
        let answer = self
            .retry
            .run(deadline, |attempt, budget| {
                tracing::debug!(
                    carrier = self.endpoint.carrier,
                    attempt,
                    budget_ms = budget.as_millis() as u64,
                    "calling the token endpoint"
                );
                self.fetch_attempt(credentials, budget)
            })
            .await?;
        let lifetime = answer.expires_in.as_ref().and_then(ExpiresIn::duration);
        if lifetime.is_none() {
            tracing::warn!(
                carrier = self.endpoint.carrier,
                "the token came without a usable expires_in; it is used for this call only"
            );
        }
        Ok((AccessToken::new(answer.access_token), lifetime))
    }

    async fn fetch_attempt(
        &self,
        credentials: &Credentials<'_>,
        budget: Duration,
    ) -> Attempt<TokenAnswer> {
        let secret = credentials.secret;
        let mut form = vec![("grant_type", "client_credentials")];
        let mut request = self
            .client
            .post(self.endpoint.url.clone())
            .header(ACCEPT, "application/json");
        match self.endpoint.auth {
            ClientAuth::Basic => {
                request = request.basic_auth(credentials.id, Some(secret.expose()));
            }
            ClientAuth::Form => {
                form.extend([
                    ("client_id", credentials.id),
                    ("client_secret", secret.expose()),
                ]);
            }
        }
        let request = request.form(&form);
        let detail = |body: &[u8]| http::error_detail(body).map(|d| secret.scrub(&d));
        let carrier = self.endpoint.carrier;
        let reply =
            match http::exchange(carrier, request, budget, self.request_timeout, detail).await {
                Ok(reply) => reply,
                Err(retry) => return retry,
            };
        let status = reply.status.as_u16();
        Attempt::Done(match reply.status {
            StatusCode::OK => {
                serde_json::from_slice(&reply.body).map_err(TrackError::CarrierResponseInvalid)
            }
            StatusCode::BAD_REQUEST | StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(TrackError::TokenRefused {
                    carrier,
                    status,
                    detail: detail(&reply.body),
                })
            }
            _ => Err(TrackError::CarrierUnexpectedStatus {
                status,
                detail: detail(&reply.body),
            }),
        })
    }
}

/// A tracking answer, as far as HTTP tells.
enum Reading {
    Body(Vec<u8>),
    TokenRefused(TrackError),
    Failed(TrackError),
}

fn classify(
    reply: http::Reply,
    query: &TrackQuery,
    detail: impl Fn(&[u8]) -> Option<String>,
) -> Reading {
    let status = reply.status.as_u16();
    let detail = detail(&reply.body);
    Reading::Failed(match reply.status {
        StatusCode::OK => return Reading::Body(reply.body),
        StatusCode::UNAUTHORIZED => {
            return Reading::TokenRefused(TrackError::CarrierUnauthorized { status, detail });
        }
        StatusCode::FORBIDDEN => TrackError::CarrierUnauthorized { status, detail },
        StatusCode::NOT_FOUND => TrackError::TrackingNumberNotFound {
            tracking_number: query.tracking_number.clone(),
            detail,
        },
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
            TrackError::CarrierRejected { status, detail }
        }
        _ => TrackError::CarrierUnexpectedStatus { status, detail },
    })
}

/// The token endpoint's answer (RFC 6749 §5.1).
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<ExpiresIn>,
}

/// Seconds, as a number (FedEx, the RFC) or as a string of digits (UPS).
#[derive(Deserialize)]
#[serde(untagged)]
enum ExpiresIn {
    Seconds(u64),
    Text(String),
}

impl ExpiresIn {
    fn duration(&self) -> Option<Duration> {
        match self {
            ExpiresIn::Seconds(s) => Some(*s),
            ExpiresIn::Text(t) => t.trim().parse().ok(),
        }
        .map(Duration::from_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_in_is_a_number_or_a_string_of_digits() {
        let read = |json: &str| {
            serde_json::from_str::<TokenAnswer>(json)
                .unwrap()
                .expires_in
                .and_then(|e| e.duration())
        };
        assert_eq!(
            read(r#"{"access_token":"t","expires_in":3599}"#),
            Some(Duration::from_secs(3599))
        );
        assert_eq!(
            read(r#"{"access_token":"t","expires_in":"14399"}"#),
            Some(Duration::from_secs(14399))
        );
        assert_eq!(read(r#"{"access_token":"t","expires_in":"soon"}"#), None);
        assert_eq!(read(r#"{"access_token":"t"}"#), None);
    }

    #[test]
    fn a_token_is_never_printed() {
        let token = AccessToken::new("eyJ-secret-token".into());
        assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
        let header = token.bearer().unwrap();
        assert!(header.is_sensitive());
        assert_eq!(header.to_str().unwrap(), "Bearer eyJ-secret-token");
        assert!(token.is(&token.clone()));
        assert!(!token.is(&AccessToken::new("eyJ-secret-token".into())));
    }

    #[test]
    fn the_manual_clock_moves_only_when_told() {
        let clock = ManualClock::new();
        let start = clock.now();
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(61));
        assert_eq!(clock.now() - start, Duration::from_secs(61));
    }
}
