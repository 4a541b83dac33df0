//! What the UPS and FedEx tests share: a local OAuth carrier (wiremock) with its token and
//! tracking endpoints, the Track function built against it with a hand-moved clock, and the token
//! cache scenarios every OAuth adapter must pass (run by `ups_http.rs` and `fedex_http.rs` with
//! their carrier). No test waits on the wall clock: token expiry moves a [`ManualClock`].

#![allow(dead_code)] // each test binary uses its own part

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{Value, json};
pub use test_support::capture_logs;
use track::oauth::ManualClock;
use track::{App, Config, TrackError};
use wiremock::matchers::{body_string, header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

pub const CLIENT_ID: &str = "client-id-0001";
pub const CLIENT_SECRET: &str = "cs-S3CR3T-never-shown-42";
pub const TRANSACTION_ID: &str = "0f7bb0a8-6e27-4b1c-9d2a-7d8d6c9b1e55";

/// UPS or FedEx, as the tests need to tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Ups,
    Fedex,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Ups => "ups",
            Kind::Fedex => "fedex",
        }
    }

    pub fn display(self) -> &'static str {
        match self {
            Kind::Ups => "UPS",
            Kind::Fedex => "FedEx",
        }
    }

    fn token_path(self) -> &'static str {
        match self {
            Kind::Ups => "/security/v1/oauth/token",
            Kind::Fedex => "/oauth/token",
        }
    }

    /// A number each adapter's fixtures use.
    pub fn number(self) -> &'static str {
        match self {
            Kind::Ups => "1Z023E2X0214323462",
            Kind::Fedex => "794843185271",
        }
    }
}

/// A local UPS or FedEx, and the Track function pointed at it.
pub struct Carrier {
    pub kind: Kind,
    pub server: MockServer,
    pub clock: Arc<ManualClock>,
}

impl Carrier {
    pub async fn start(kind: Kind) -> Carrier {
        Carrier {
            kind,
            server: MockServer::start().await,
            clock: Arc::new(ManualClock::new()),
        }
    }

    /// The token endpoint, matching exactly the request the carrier documents for
    /// `CLIENT_ID`/`CLIENT_SECRET` (anything else gets wiremock's 404).
    pub fn on_token(&self) -> MockBuilder {
        let mock = Mock::given(method("POST"))
            .and(path(self.kind.token_path()))
            .and(header("content-type", "application/x-www-form-urlencoded"));
        match self.kind {
            Kind::Ups => {
                let basic = base64::engine::general_purpose::STANDARD
                    .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
                mock.and(header("authorization", format!("Basic {basic}").as_str()))
                    .and(body_string("grant_type=client_credentials"))
            }
            Kind::Fedex => mock.and(body_string(format!(
                "grant_type=client_credentials&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"
            ))),
        }
    }

    /// The tracking endpoint for `number` under `Bearer <token>`, as the carrier documents it.
    pub fn on_track(&self, number: &str, token: &str) -> MockBuilder {
        let bearer = format!("Bearer {token}");
        match self.kind {
            Kind::Ups => Mock::given(method("GET"))
                .and(path(format!("/api/track/v1/details/{number}")))
                .and(wiremock::matchers::query_param("locale", "en_US"))
                .and(header("transId", TRANSACTION_ID))
                .and(header("transactionSrc", "shipengine-connect-track"))
                .and(header("authorization", bearer.as_str())),
            Kind::Fedex => Mock::given(method("POST"))
                .and(path("/track/v1/trackingnumbers"))
                .and(header("authorization", bearer.as_str()))
                .and(wiremock::matchers::body_json(json!({
                    "includeDetailedScans": true,
                    "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": number}}]
                }))),
        }
    }

    /// A token answer as this carrier writes it (UPS: `expires_in` a string; FedEx: a number).
    pub fn token(&self, token: &str, expires_in: u64) -> ResponseTemplate {
        let body = match self.kind {
            Kind::Ups => json!({"token_type": "Bearer", "issued_at": "1764000000000",
                "client_id": CLIENT_ID, "access_token": token, "scope": "",
                "expires_in": expires_in.to_string(), "refresh_count": "0", "status": "approved"}),
            Kind::Fedex => json!({"access_token": token, "token_type": "bearer",
                "expires_in": expires_in, "scope": "CXS-TP"}),
        };
        json_answer(200, body)
    }

    /// Mounts a token endpoint answering `token` (lifetime `expires_in`) to every request.
    pub async fn issue(&self, token: &str, expires_in: u64) {
        self.on_token()
            .respond_with(self.token(token, expires_in))
            .mount(&self.server)
            .await;
    }

    /// Mounts a token endpoint answering `first` once, then `then` (both living `expires_in`).
    pub async fn issue_in_turn(&self, first: &str, then: &str, expires_in: u64) {
        self.on_token()
            .respond_with(self.token(first, expires_in))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
        self.issue(then, expires_in).await;
    }

    /// Mounts a tracking endpoint answering fixture `name` for `number` under `token`.
    pub async fn answer(&self, number: &str, token: &str, name: &str) {
        self.on_track(number, token)
            .respond_with(fixture(name))
            .mount(&self.server)
            .await;
    }

    /// Mounts this carrier's in-transit fixture for its number under `token`.
    pub async fn answer_in_transit(&self, token: &str) {
        let name = format!("{}/in-transit.json", self.kind.name());
        self.answer(self.kind.number(), token, &name).await;
    }

    pub fn config(&self, extra: &[(&str, &str)]) -> Config {
        let uri = self.server.uri();
        let base = [
            ("CARRIER", self.kind.name()),
            ("CARRIER_BASE_URL", uri.as_str()),
            ("CONNECT_TIMEOUT_MS", "500"),
            ("READ_TIMEOUT_MS", "1000"),
            ("REQUEST_TIMEOUT_MS", "2000"),
            ("RETRY_ATTEMPTS", "3"),
            ("RETRY_BASE_MS", "5"),
            ("RETRY_MAX_MS", "50"),
        ];
        Config::from_lookup(|k| {
            extra
                .iter()
                .chain(base.iter())
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap()
    }

    /// The function as `main.rs` builds it, on this carrier's hand-moved clock.
    pub fn app(&self) -> App {
        self.app_with(&[])
    }

    pub fn app_with(&self, extra: &[(&str, &str)]) -> App {
        track::build_app_with(&self.config(extra), self.clock.clone()).unwrap()
    }

    /// (token requests, tracking requests) the carrier received.
    pub async fn calls(&self) -> (usize, usize) {
        (self.token_calls().await, self.track_calls().await)
    }

    /// Requests the carrier received at its token endpoint.
    pub async fn token_calls(&self) -> usize {
        self.calls_to(self.kind.token_path()).await
    }

    /// Requests the carrier received anywhere else.
    pub async fn track_calls(&self) -> usize {
        let all = self.server.received_requests().await.unwrap_or_default();
        all.len() - self.token_calls().await
    }

    async fn calls_to(&self, wanted: &str) -> usize {
        let all = self.server.received_requests().await.unwrap_or_default();
        all.iter().filter(|r| r.url.path() == wanted).count()
    }
}

/// A Connect request for `number`, the client credentials in `connection_context`.
pub fn request(number: &str) -> Value {
    json!({
        "transaction_id": TRANSACTION_ID,
        "authorization": {"connection_context": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}},
        "identifiers": [{"type": "tracking_number", "value": number}]
    })
}

pub fn event(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

pub fn json_answer(status: u16, body: Value) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(body.to_string(), "application/json")
}

/// A 200 with the shared fixture `name` (`test-support/fixtures/`).
pub fn fixture(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(test_support::fixtures::text(name), "application/json")
}

pub fn diagnostic(err: TrackError) -> Diagnostic {
    Diagnostic::from(err)
}

/// The response as JSON, for exact comparisons.
pub async fn track_json(app: &App, number: &str) -> Value {
    let response = app.handle(event(request(number))).await.unwrap();
    serde_json::to_value(response).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The token cache scenarios, run for each OAuth carrier.

/// The cached token serves later invocations until `expires_in − 60 s`; at that instant (not a
/// second earlier) a second token is fetched and used.
pub async fn a_token_is_reused_until_60_s_before_it_expires(kind: Kind) {
    let carrier = Carrier::start(kind).await;
    let number = kind.number();
    carrier.issue_in_turn("tok-1", "tok-2", 600).await;
    carrier.answer_in_transit("tok-1").await;
    carrier.answer_in_transit("tok-2").await;
    let app = carrier.app();
    for _ in 0..3 {
        app.handle(event(request(number))).await.unwrap();
    }
    assert_eq!(carrier.token_calls().await, 1);
    // 600 s − 60 s = 540 s: at 539 s the first token still serves.
    carrier.clock.advance(Duration::from_secs(539));
    app.handle(event(request(number))).await.unwrap();
    assert_eq!(carrier.token_calls().await, 1);
    carrier.clock.advance(Duration::from_secs(1));
    app.handle(event(request(number))).await.unwrap();
    app.handle(event(request(number))).await.unwrap();
    assert_eq!(carrier.token_calls().await, 2);
    let bearers = bearers(&carrier).await;
    assert_eq!(
        bearers,
        ["tok-1", "tok-1", "tok-1", "tok-1", "tok-2", "tok-2"].map(|t| format!("Bearer {t}"))
    );
}

/// The `Authorization` of every tracking call, in order.
async fn bearers(carrier: &Carrier) -> Vec<String> {
    let token_path = carrier.kind.token_path();
    carrier
        .server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() != token_path)
        .filter_map(|r| {
            r.headers
                .get("authorization")?
                .to_str()
                .ok()
                .map(str::to_owned)
        })
        .collect()
}

/// A tracking call answered 401 drops the token, fetches one new token and succeeds with it;
/// a second 401 (for the new token too) is `CarrierUnauthorized`, after exactly one refetch.
pub async fn a_401_refetches_the_token_once(kind: Kind) {
    let carrier = Carrier::start(kind).await;
    let number = kind.number();
    carrier.issue_in_turn("tok-stale", "tok-fresh", 3600).await;
    let refused = json_answer(
        401,
        json!({"errors": [{"code": "401", "message": "Unauthorized"}]}),
    );
    carrier
        .on_track(number, "tok-stale")
        .respond_with(refused.clone())
        .mount(&carrier.server)
        .await;
    carrier
        .answer(
            number,
            "tok-fresh",
            &format!("{}/in-transit.json", kind.name()),
        )
        .await;
    let app = carrier.app();
    let response = track_json(&app, number).await;
    assert_eq!(response["tracking_info"]["standardized_status_code"], "IT");
    assert_eq!(carrier.calls().await, (2, 2));
    // The fresh token is the cached one now: no further token request.
    track_json(&app, number).await;
    assert_eq!(carrier.calls().await, (2, 3));

    // A carrier refusing every token: one refetch, then the error.
    let carrier = Carrier::start(kind).await;
    carrier.issue("tok-any", 3600).await;
    carrier
        .on_track(number, "tok-any")
        .respond_with(refused)
        .mount(&carrier.server)
        .await;
    let err = carrier
        .app()
        .handle(event(request(number)))
        .await
        .unwrap_err();
    let d = diagnostic(err);
    assert_eq!(d.error_type, "CarrierUnauthorized");
    assert!(d.error_message.contains("HTTP 401"), "{}", d.error_message);
    assert_eq!(carrier.calls().await, (2, 2));
}

/// A token endpoint refusing the client credentials (401, and 400 as OAuth servers answer
/// `invalid_client`) is `CarrierUnauthorized` naming the carrier, at once, without a tracking
/// call, and never repeats the secret even when the carrier echoes it.
pub async fn a_refused_client_is_carrier_unauthorized(kind: Kind) {
    for status in [401, 400] {
        let carrier = Carrier::start(kind).await;
        carrier
            .on_token()
            .respond_with(json_answer(
                status,
                json!({"error": "invalid_client",
                       "error_description": format!("bad secret {CLIENT_SECRET}")}),
            ))
            .mount(&carrier.server)
            .await;
        let err = carrier
            .app()
            .handle(event(request(kind.number())))
            .await
            .unwrap_err();
        let d = diagnostic(err);
        assert_eq!(d.error_type, "CarrierUnauthorized", "{status}");
        assert_eq!(
            d.error_message,
            format!(
                "{} refused the client credentials at its token endpoint (HTTP {status}): \
                 invalid_client: bad secret [redacted]",
                kind.display()
            )
        );
        assert_eq!(carrier.calls().await, (1, 0));
    }
}

/// A token endpoint answering 429 is retried like a tracking call (its `Retry-After` honoured);
/// one that keeps answering 429 is `CarrierRateLimited` after RETRY_ATTEMPTS token requests.
pub async fn a_rate_limited_token_endpoint_is_retried(kind: Kind) {
    let carrier = Carrier::start(kind).await;
    let number = kind.number();
    let limited = json_answer(
        429,
        json!({"response": {"errors": [{"code": "429",
        "message": "Quota Limit Exceeded"}]}}),
    )
    .insert_header("Retry-After", "0");
    carrier
        .on_token()
        .respond_with(limited.clone())
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&carrier.server)
        .await;
    carrier.issue("tok-1", 3600).await;
    carrier.answer_in_transit("tok-1").await;
    let logs = capture_logs();
    track_json(&carrier.app(), number).await;
    assert_eq!(carrier.calls().await, (2, 1));
    // The server's Retry-After (0 s), not our own 5–10 ms schedule.
    assert!(logs.text().contains("delay_ms=0"), "{}", logs.text());

    let carrier = Carrier::start(kind).await;
    carrier
        .on_token()
        .respond_with(limited)
        .mount(&carrier.server)
        .await;
    let err = carrier
        .app()
        .handle(event(request(number)))
        .await
        .unwrap_err();
    let d = diagnostic(err);
    assert_eq!(d.error_type, "CarrierRateLimited");
    assert_eq!(
        d.error_message,
        "the carrier kept rate-limiting after 3 attempt(s): HTTP 429 Too Many Requests: \
         429: Quota Limit Exceeded"
    );
    assert_eq!(carrier.calls().await, (3, 0));
}

/// Five invocations at once on a cold environment: one token request between them.
pub async fn concurrent_invocations_share_one_token_request(kind: Kind) {
    let carrier = Carrier::start(kind).await;
    let number = kind.number();
    // The token takes a while, so that every invocation arrives while it is being fetched.
    carrier
        .on_token()
        .respond_with(
            carrier
                .token("tok-1", 3600)
                .set_delay(Duration::from_millis(200)),
        )
        .mount(&carrier.server)
        .await;
    carrier.answer_in_transit("tok-1").await;
    let app = carrier.app();
    let calls: Vec<_> = (0..5)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.handle(event(request(number))).await })
        })
        .collect();
    for call in calls {
        call.await.unwrap().unwrap();
    }
    assert_eq!(carrier.calls().await, (1, 5));
}

/// Neither the client secret nor a token reaches a log line (TRACE, every crate), an error, or
/// `Debug` of the configuration, on success and on refusal.
pub async fn secrets_and_tokens_are_never_shown(kind: Kind) {
    const TOKEN: &str = "eyJ-TOKEN-never-shown-77";
    let carrier = Carrier::start(kind).await;
    let number = kind.number();
    carrier.issue(TOKEN, 3600).await;
    let refused = json_answer(
        401,
        json!({"errors": [{"code": "401",
        "message": format!("token {TOKEN} refused")}]}),
    );
    carrier
        .on_track("refuse-me", TOKEN)
        .respond_with(refused)
        .mount(&carrier.server)
        .await;
    carrier.answer_in_transit(TOKEN).await;
    let logs = capture_logs();
    let config = carrier.config(&[("CARRIER_CLIENT_SECRET", CLIENT_SECRET)]);
    let mut shown = vec![format!("{config:?}")];
    let app = carrier.app();
    track_json(&app, number).await;
    let err = app.handle(event(request("refuse-me"))).await.unwrap_err();
    shown.push(format!("{err} {err:?}"));
    shown.push(format!("{:?}", diagnostic(err)));
    let logs = logs.text();
    assert!(logs.contains("fetching an OAuth token"), "{logs}");
    assert!(logs.contains("CarrierUnauthorized"), "{logs}");
    for text in shown.iter().chain([&logs]) {
        assert!(!text.contains(CLIENT_SECRET), "the secret is in:\n{text}");
        assert!(!text.contains(TOKEN), "the token is in:\n{text}");
    }
    // The token really was sent: one success, and a refusal plus its one retry.
    assert_eq!(carrier.calls().await, (2, 3));
}

/// The token cache scenarios as tests of one carrier's test binary.
#[macro_export]
macro_rules! token_cache_tests {
    ($kind:expr) => {
        #[tokio::test]
        async fn a_token_is_reused_until_60_s_before_it_expires() {
            common::a_token_is_reused_until_60_s_before_it_expires($kind).await;
        }

        #[tokio::test]
        async fn a_401_refetches_the_token_once() {
            common::a_401_refetches_the_token_once($kind).await;
        }

        #[tokio::test]
        async fn a_refused_client_is_carrier_unauthorized() {
            common::a_refused_client_is_carrier_unauthorized($kind).await;
        }

        #[tokio::test]
        async fn a_rate_limited_token_endpoint_is_retried() {
            common::a_rate_limited_token_endpoint_is_retried($kind).await;
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn five_concurrent_invocations_make_one_token_request() {
            common::concurrent_invocations_share_one_token_request($kind).await;
        }

        #[tokio::test]
        async fn secrets_and_tokens_are_never_shown() {
            common::secrets_and_tokens_are_never_shown($kind).await;
        }
    };
}

/// Answers the sample event `sample` (its own placeholder credentials, which `token` must match)
/// and gives the standardized status.
pub async fn sample_status(carrier: &Carrier, sample: &str, token: MockBuilder) -> Value {
    let sample: Value = serde_json::from_str(sample).unwrap();
    token
        .respond_with(carrier.token("tok-sample", 3600))
        .expect(1)
        .mount(&carrier.server)
        .await;
    let track = match carrier.kind {
        Kind::Ups => Mock::given(path(format!(
            "/api/track/v1/details/{}",
            Kind::Ups.number()
        )))
        .and(header(
            "transId",
            sample["transaction_id"].as_str().unwrap(),
        )),
        Kind::Fedex => Mock::given(path("/track/v1/trackingnumbers")),
    };
    track
        .and(header("authorization", "Bearer tok-sample"))
        .respond_with(fixture(&format!("{}/in-transit.json", carrier.kind.name())))
        .expect(1)
        .mount(&carrier.server)
        .await;
    let response = carrier.app().handle(event(sample)).await.unwrap();
    serde_json::to_value(response).unwrap()["tracking_info"]["standardized_status_code"].clone()
}

/// `fields` of every event of a `TrackingResponse`'s JSON, in order (absent: `null`).
pub fn event_fields(response: &Value, fields: &[&str]) -> Vec<Value> {
    let events = response["tracking_info"]["events"].as_array().unwrap();
    events
        .iter()
        .map(|e| fields.iter().map(|f| e[*f].clone()).collect())
        .collect()
}
