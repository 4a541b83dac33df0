//! Track end to end against a real local HTTP server (wiremock) replaying DHL-shaped answers:
//! the request DHL receives, the Connect response we build, and every failure's Lambda error
//! type. Call counts are exact, so no answer may race a clock: the timeouts are the function's
//! own generous defaults (a loaded machine never turns a prompt answer into a timeout and a
//! retry), the one timeout test uses a server that never answers while the test runs (every
//! attempt times out, however slow the machine), and only backoff is short. No test asserts on
//! elapsed time (what the retry loop chose to wait is read from its log line instead).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use test_support::capture_logs;
use track::{App, Config, TrackError};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

const PATH: &str = "/track/shipments";

/// A local DHL, and the Track function pointed at it.
struct Dhl {
    server: MockServer,
}

impl Dhl {
    /// A server with nothing mounted: mount with [`on_track`] for requests that need matching.
    async fn start() -> Dhl {
        Dhl {
            server: MockServer::start().await,
        }
    }

    /// A server giving `answer` to every tracking call.
    async fn answering(answer: ResponseTemplate) -> Dhl {
        let dhl = Dhl::start().await;
        dhl.mount(on_track().respond_with(answer)).await;
        dhl
    }

    /// A server giving `first` to the first `times` tracking calls and `then` to the rest.
    async fn answering_first(times: u64, first: ResponseTemplate, then: ResponseTemplate) -> Dhl {
        let dhl = Dhl::start().await;
        dhl.mount(
            on_track()
                .respond_with(first)
                .up_to_n_times(times)
                .with_priority(1),
        )
        .await;
        dhl.mount(on_track().respond_with(then)).await;
        dhl
    }

    async fn mount(&self, mock: Mock) {
        mock.mount(&self.server).await;
    }

    fn config(&self, extra: &[(&str, &str)]) -> Config {
        test_config(&self.server.uri(), extra)
    }

    /// The function as `main.rs` builds it, configured with `extra` over the test defaults.
    fn app_with(&self, extra: &[(&str, &str)]) -> App {
        track::build_app(&self.config(extra)).unwrap()
    }

    fn app(&self) -> App {
        self.app_with(&[])
    }

    /// Answers `payload` as a Lambda invocation with no deadline.
    async fn invoke(&self, payload: Value) -> Result<shared::models::TrackingResponse, TrackError> {
        self.app().handle(event(payload)).await
    }

    async fn calls(&self) -> usize {
        self.server.received_requests().await.map_or(0, |r| r.len())
    }
}

/// A mock of DHL's tracking endpoint; add matchers, then a response.
fn on_track() -> MockBuilder {
    Mock::given(method("GET")).and(path(PATH))
}

fn test_config(base_url: &str, extra: &[(&str, &str)]) -> Config {
    let base: [(&str, &str); 7] = [
        ("CARRIER_BASE_URL", base_url),
        ("CONNECT_TIMEOUT_MS", "3000"),
        ("READ_TIMEOUT_MS", "10000"),
        ("REQUEST_TIMEOUT_MS", "15000"),
        ("RETRY_ATTEMPTS", "3"),
        ("RETRY_BASE_MS", "5"),
        ("RETRY_MAX_MS", "50"),
    ];
    let lookup = |k: &str| {
        extra
            .iter()
            .chain(base.iter())
            .find(|(key, _)| *key == k)
            .map(|(_, v)| v.to_string())
    };
    Config::from_lookup(lookup).unwrap()
}

/// An invocation context whose deadline is `ms` from now.
fn deadline_in(ms: u64) -> Context {
    let mut context = Context::default();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    context.deadline = now_ms + ms;
    context
}

fn event(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

/// A request with the key in `authorization`, as Connect sends it.
fn request(tracking_number: &str) -> Value {
    json!({
        "transaction_id": "0f7bb0a8-6e27-4b1c-9d2a-7d8d6c9b1e55",
        "authorization": {"access_token": "key-from-token"},
        "identifiers": [{"type": "tracking_number", "value": tracking_number}]
    })
}

fn dhl_json(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body.to_string(), "application/json")
}

fn problem(status: u16, title: &str, detail: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(
        json!({"title": title, "status": status, "detail": detail}).to_string(),
        "application/problem+json",
    )
}

fn one_express_shipment() -> ResponseTemplate {
    dhl_json(json!({"shipments": [{"service": "express",
        "status": {"timestamp": "2026-11-20T09:00:00Z", "statusCode": "transit"}}]}))
}

fn diagnostic(err: TrackError) -> Diagnostic {
    Diagnostic::from(err)
}

#[tokio::test]
async fn delivered_shipment_with_proof_of_delivery_maps_every_field() {
    let dhl = Dhl::start().await;
    on_track()
        .and(query_param("trackingNumber", "1234567890"))
        .and(query_param_is_missing("service"))
        .and(header("DHL-API-Key", "key-from-token"))
        .and(header("accept", "application/json"))
        .respond_with(dhl_json(json!({"shipments": [{
            "id": "1234567890",
            "service": "express",
            "origin": {"address": {"addressLocality": "LEIPZIG - GERMANY", "countryCode": "DE"}},
            "destination": {"address": {"addressLocality": "LONDON - UK", "countryCode": "GB"}},
            "status": {
                "timestamp": "2026-11-20T10:45:13.123+00:00",
                "location": {"address": {"addressLocality": "London", "addressRegion": "England",
                                         "postalCode": "EC1A 1BB", "countryCode": "GB"}},
                "statusCode": "delivered", "status": "DELIVERED",
                "description": "Delivered - Signed for by: J SMITH"
            },
            "estimatedTimeOfDelivery": "2026-11-20T18:00:00+01:00",
            "details": {
                "product": {"productName": "EXPRESS WORLDWIDE"},
                "proofOfDelivery": {
                    "timestamp": "2026-11-20T10:45:13+00:00",
                    "signatureUrl": "https://proof.example/sig/1",
                    "documentUrl": "https://proof.example/pod/1",
                    "signed": {"givenName": "J", "familyName": "SMITH"}
                },
                "totalNumberOfPieces": 2,
                "pieceIds": ["JD014600006540528810", "JD014600006540528811"],
                "weight": {"value": 1.25, "unitText": "kg"},
                "dimensions": {"width": {"value": 20, "unitText": "cm"},
                               "height": {"value": 10, "unitText": "cm"},
                               "length": {"value": 30.5, "unitText": "cm"}}
            },
            // Not newest first, on purpose: DHL does not promise an order.
            "events": [
                {"timestamp": "2026-11-19T06:10:00+01:00", "statusCode": "transit",
                 "status": "PROCESSED", "description": "Processed at LEIPZIG - GERMANY",
                 "location": {"address": {"addressLocality": "LEIPZIG - GERMANY", "countryCode": "DE"}}},
                {"timestamp": "2026-11-20T10:45:13.123+00:00", "statusCode": "delivered",
                 "status": "DELIVERED", "description": "Delivered - Signed for by: J SMITH",
                 "location": {"address": {"addressLocality": "London", "addressRegion": "England",
                                          "postalCode": "EC1A 1BB", "countryCode": "GB"}}},
                {"timestamp": "2026-11-18T17:02:00.123456789-05:00", "statusCode": "pre-transit",
                 "status": "SHIPMENT INFORMATION RECEIVED"}
            ]
        }]})))
        .expect(1)
        .mount(&dhl.server)
        .await;

    let response = dhl.invoke(request("1234567890")).await.unwrap();
    assert_eq!(
        serde_json::to_value(&response).unwrap(),
        json!({"tracking_info": {
            "carrier_name": "DHL",
            "tracking_number": "1234567890",
            "standardized_status_code": "DE",
            "standardized_status_detail_code": "DELIVERED",
            "carrier_status_code": "delivered",
            "carrier_detail_code": "DELIVERED",
            "carrier_status_description": "Delivered - Signed for by: J SMITH",
            "estimated_delivery_datetime": "2026-11-20T17:00:00Z",
            "actual_delivery_datetime": "2026-11-20T10:45:13Z",
            "weight": 1.25,
            "dimensions": {"length": 30.5, "width": 20.0, "height": 10.0},
            "service": {"code": "express", "name": "EXPRESS WORLDWIDE"},
            "package_count": 2,
            "events": [
                {"event_datetime": "2026-11-20T10:45:13.123Z",
                 "event_datetime_local": "2026-11-20T10:45:13.123",
                 "event_code": "delivered", "carrier_detail_code": "DELIVERED",
                 "description": "Delivered - Signed for by: J SMITH",
                 "city": "London", "state": "England", "postal_code": "EC1A 1BB", "country": "GB",
                 "signer": "J SMITH", "proof_of_delivery_url": "https://proof.example/pod/1",
                 "status_code": "DE", "status_detail_code": "DELIVERED"},
                {"event_datetime": "2026-11-19T05:10:00Z",
                 "event_datetime_local": "2026-11-19T06:10:00",
                 "event_code": "transit", "carrier_detail_code": "PROCESSED",
                 "description": "Processed at LEIPZIG - GERMANY",
                 "city": "LEIPZIG - GERMANY", "country": "DE",
                 "status_code": "IT", "status_detail_code": "IN_TRANSIT"},
                {"event_datetime": "2026-11-18T22:02:00.123456789Z",
                 "event_datetime_local": "2026-11-18T17:02:00.123456789",
                 "event_code": "pre-transit", "carrier_detail_code": "SHIPMENT INFORMATION RECEIVED",
                 "description": "SHIPMENT INFORMATION RECEIVED",
                 "status_code": "AC", "status_detail_code": "ELEC_ADVICE_RECD_BY_CARRIER"}
            ]
        }})
    );
}

#[tokio::test]
async fn in_transit_times_without_offset_stay_local() {
    let dhl = Dhl::start().await;
    on_track()
        .and(query_param("trackingNumber", "GMDBD8E9CCE94842E495B7"))
        .and(query_param("recipientPostalCode", "S87FA"))
        .and(header("DHL-API-Key", "key-from-metadata"))
        .respond_with(dhl_json(json!({"shipments": [{
            "id": "GMDBD8E9CCE94842E495B7", "service": "ecommerce",
            "status": {"timestamp": "2023-01-29T16:02:00",
                       "location": {"address": {"countryCode": "GB", "addressLocality": "HEATHROW, GB"}},
                       "statusCode": "transit", "status": "ARRIVED AT CUSTOMS"},
            "estimatedTimeOfDelivery": "2023-02-01T00:00:00Z",
            "details": {"product": {"productName": "DHL Parcel Intl Standard"},
                        "weight": {"value": 0.831, "unitText": "LB"}},
            "events": [
                {"timestamp": "2023-01-29T16:02:00", "statusCode": "transit", "status": "ARRIVED AT CUSTOMS",
                 "location": {"address": {"countryCode": "GB", "addressLocality": "HEATHROW, GB"}}},
                {"timestamp": "2023-01-24T08:15:30.123456789", "statusCode": "transit", "status": "DEPARTED"},
                {"timestamp": "2023-01-20T10:21:25", "statusCode": "pre-transit", "status": "AWAITING SHIPMENT"},
                {"timestamp": "2023-01-11", "statusCode": "unknown", "status": "LABEL CREATED"}
            ]
        }]})))
        .expect(1)
        .mount(&dhl.server)
        .await;

    let response = dhl
        .invoke(json!({
            "transaction_id": "t-2",
            "tracking_number": "GMDBD8E9CCE94842E495B7",
            "metadata": {"api_key": "key-from-metadata", "recipientPostalCode": "S87FA"}
        }))
        .await
        .unwrap();
    let info = &response.tracking_info;
    assert_eq!(
        info.standardized_status_code.as_ref().unwrap().as_str(),
        "IT"
    );
    assert_eq!(
        info.carrier_detail_code.as_deref(),
        Some("ARRIVED AT CUSTOMS")
    );
    assert_eq!(
        info.estimated_delivery_datetime.as_deref(),
        Some("2023-02-01T00:00:00Z")
    );
    assert_eq!(info.actual_delivery_datetime, None);
    assert_eq!(info.weight, Some(0.831));
    let events = info.events.as_ref().unwrap();
    let times: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.event_datetime.as_deref(),
                e.event_datetime_local.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        times,
        [
            (None, Some("2023-01-29T16:02:00")),
            (None, Some("2023-01-24T08:15:30.123456789")),
            (None, Some("2023-01-20T10:21:25")),
            (None, Some("2023-01-11")),
        ]
    );
    assert_eq!(events[0].city.as_deref(), Some("HEATHROW, GB"));
    assert_eq!(events[3].status_code.as_ref().unwrap().as_str(), "UN");
    assert_eq!(
        events[3].status_detail_code.as_ref().unwrap().as_str(),
        "INFORMATION"
    );
    // The request's metadata goes back untouched: there was nothing to warn about.
    assert_eq!(
        response.metadata.map(Value::Object),
        Some(json!({"api_key": "key-from-metadata", "recipientPostalCode": "S87FA"}))
    );
}

fn two_shipments() -> ResponseTemplate {
    dhl_json(json!({"shipments": [
        {"id": "00340434161094042557", "service": "express",
         "status": {"timestamp": "2026-11-20T09:00:00Z", "statusCode": "transit", "status": "IN TRANSIT"}},
        {"id": "00340434161094042557", "service": "parcel-de",
         "status": {"timestamp": "2026-11-21T12:30:00+01:00", "statusCode": "delivered", "status": "ZU",
                    "description": "Die Sendung wurde zugestellt."}}
    ]}))
}

#[tokio::test]
async fn two_shipments_the_service_hint_picks_one() {
    let dhl = Dhl::start().await;
    on_track()
        .and(query_param("service", "parcel-de"))
        .respond_with(two_shipments())
        .expect(1)
        .mount(&dhl.server)
        .await;
    let mut req = request("00340434161094042557");
    req["attributes"] = json!([{"type": "service", "value": "parcel-de"}]);
    let response = dhl.invoke(req).await.unwrap();
    let info = &response.tracking_info;
    assert_eq!(
        info.service.as_ref().unwrap().code.as_deref(),
        Some("parcel-de")
    );
    assert_eq!(
        info.standardized_status_code.as_ref().unwrap().as_str(),
        "DE"
    );
    assert_eq!(info.carrier_detail_code.as_deref(), Some("ZU"));
    let warnings = &response.metadata.unwrap()["warning_messages"];
    assert_eq!(warnings.as_array().unwrap().len(), 1, "{warnings}");
    assert!(
        warnings[0]
            .as_str()
            .unwrap()
            .contains("used the one of service `parcel-de`")
    );
}

#[tokio::test]
async fn two_shipments_without_a_hint_take_the_first_and_warn() {
    let dhl = Dhl::start().await;
    on_track()
        .and(query_param_is_missing("service"))
        .respond_with(two_shipments())
        .expect(1)
        .mount(&dhl.server)
        .await;
    let response = dhl.invoke(request("00340434161094042557")).await.unwrap();
    assert_eq!(
        response
            .tracking_info
            .service
            .as_ref()
            .unwrap()
            .code
            .as_deref(),
        Some("express")
    );
    assert_eq!(
        response.metadata.map(Value::Object),
        Some(json!({"warning_messages": [
            "DHL returned 2 shipments for 00340434161094042557 (services: express, parcel-de); \
             used the first; send a `service` attribute to choose"
        ]}))
    );
}

#[tokio::test]
async fn not_found_is_tracking_number_not_found_without_retry() {
    let dhl = Dhl::answering(problem(
        404,
        "No result found",
        "No shipment with given tracking number found.",
    ))
    .await;
    let d = diagnostic(dhl.invoke(request("0000")).await.unwrap_err());
    assert_eq!(d.error_type, "TrackingNumberNotFound");
    assert!(
        d.error_message
            .contains("No shipment with given tracking number found."),
        "{}",
        d.error_message
    );
    assert_eq!(dhl.calls().await, 1);
}

#[tokio::test]
async fn a_refused_key_is_carrier_unauthorized_without_retry() {
    for status in [401, 403] {
        let dhl = Dhl::answering(problem(status, "Unauthorized", "Invalid credentials")).await;
        let d = diagnostic(dhl.invoke(request("1")).await.unwrap_err());
        assert_eq!(d.error_type, "CarrierUnauthorized", "{status}");
        assert!(
            d.error_message.contains(&format!("HTTP {status}")),
            "{}",
            d.error_message
        );
        assert_eq!(dhl.calls().await, 1, "{status}");
    }
}

#[tokio::test]
async fn a_request_dhl_rejects_is_an_invalid_request_without_retry() {
    let dhl = Dhl::answering(problem(
        400,
        "Bad Request",
        "Invalid value for parameter service",
    ))
    .await;
    let d = diagnostic(dhl.invoke(request("1")).await.unwrap_err());
    assert_eq!(d.error_type, "InvalidRequest");
    assert!(
        d.error_message
            .contains("Invalid value for parameter service"),
        "{}",
        d.error_message
    );
    assert_eq!(dhl.calls().await, 1);
}

#[tokio::test]
async fn rate_limited_once_then_answered() {
    let dhl = Dhl::answering_first(
        1,
        problem(429, "Too Many Requests", "Too Many Requests"),
        one_express_shipment(),
    )
    .await;
    let response = dhl.invoke(request("1")).await.unwrap();
    assert_eq!(
        response.tracking_info.carrier_status_code.as_deref(),
        Some("transit")
    );
    assert_eq!(dhl.calls().await, 2);
}

#[tokio::test]
async fn rate_limited_every_time_gives_up_as_rate_limited() {
    let dhl = Dhl::answering(problem(429, "Too Many Requests", "Too Many Requests")).await;
    let d = diagnostic(dhl.invoke(request("1")).await.unwrap_err());
    assert_eq!(d.error_type, "CarrierRateLimited");
    assert!(
        d.error_message.contains("after 3 attempt(s): HTTP 429"),
        "{}",
        d.error_message
    );
    assert_eq!(dhl.calls().await, 3);
}

#[tokio::test]
async fn retry_after_is_what_we_wait() {
    let dhl = Dhl::answering_first(
        1,
        problem(429, "Too Many Requests", "Too Many Requests").insert_header("Retry-After", "1"),
        one_express_shipment(),
    )
    .await;
    let app = dhl.app_with(&[("RETRY_MAX_MS", "2000")]);
    let logs = capture_logs();
    app.handle(event(request("1"))).await.unwrap();
    let text = logs.text();
    // Our own schedule is 5–10 ms here: a pause of 1000 ms can only be the header's.
    assert!(text.contains("delay_ms=1000"), "{text}");
    assert_eq!(dhl.calls().await, 2);
}

#[tokio::test]
async fn a_retry_after_past_the_invocation_deadline_fails_at_once() {
    let dhl = Dhl::answering(
        problem(503, "Service Unavailable", "down").insert_header("Retry-After", "5"),
    )
    .await;
    let app = dhl.app_with(&[("RETRY_MAX_MS", "10000")]);
    // 3 s left: the 5 s the server asks for would end past the deadline.
    let context = deadline_in(3_000);
    let logs = capture_logs();
    let err = app
        .handle(LambdaEvent::new(request("1"), context))
        .await
        .unwrap_err();
    let d = diagnostic(err);
    assert_eq!(d.error_type, "CarrierUnavailable");
    assert!(
        d.error_message.contains("after 1 attempt(s): HTTP 503"),
        "{}",
        d.error_message
    );
    let text = logs.text();
    assert!(
        text.contains("no time left before the invocation deadline"),
        "{text}"
    );
    assert!(!text.contains("retrying"), "{text}");
    assert_eq!(dhl.calls().await, 1);
}

#[tokio::test]
async fn server_errors_three_times_give_up_as_unavailable() {
    let dhl = Dhl::start().await;
    dhl.mount(
        on_track()
            .respond_with(ResponseTemplate::new(500))
            .expect(3),
    )
    .await;
    let d = diagnostic(dhl.invoke(request("1")).await.unwrap_err());
    assert_eq!(d.error_type, "CarrierUnavailable");
    assert!(
        d.error_message.contains("after 3 attempt(s): HTTP 500"),
        "{}",
        d.error_message
    );
    assert_eq!(dhl.calls().await, 3);
}

#[tokio::test]
async fn truncated_json_is_carrier_response_invalid() {
    let dhl = Dhl::answering(ResponseTemplate::new(200).set_body_raw(
        r#"{"shipments":[{"id":"1","service":"express","events":[{"timestamp":"2026-"#,
        "application/json",
    ))
    .await;
    let d = diagnostic(dhl.invoke(request("1")).await.unwrap_err());
    assert_eq!(d.error_type, "CarrierResponseInvalid");
    assert!(d.error_message.contains("EOF"), "{}", d.error_message);
    assert_eq!(dhl.calls().await, 1);
}

#[tokio::test]
async fn a_server_slower_than_the_read_timeout_is_unavailable() {
    // The server answers after a minute, long after the test is over: every attempt waits on it.
    let dhl = Dhl::answering(one_express_shipment().set_delay(Duration::from_secs(60))).await;
    // Only the read timeout can end an attempt in time for three of them before the deadline:
    // without it, the first attempt would run into the deadline and be the only one.
    let app = dhl.app_with(&[("READ_TIMEOUT_MS", "250"), ("REQUEST_TIMEOUT_MS", "60000")]);
    let context = deadline_in(20_000);
    let err = app
        .handle(LambdaEvent::new(request("1"), context))
        .await
        .unwrap_err();
    let d = diagnostic(err);
    assert_eq!(d.error_type, "CarrierUnavailable");
    assert!(
        d.error_message.contains("after 3 attempt(s)") && d.error_message.contains("timed out"),
        "{}",
        d.error_message
    );
    assert_eq!(dhl.calls().await, 3);
}

#[tokio::test]
async fn no_tracking_number_is_an_invalid_request_and_no_call() {
    let dhl = Dhl::start().await;
    for payload in [
        json!({
            "transaction_id": "t",
            "identifiers": [{"type": "carrier_transaction_id", "value": "x"}],
            "authorization": {"access_token": "k"}
        }),
        json!({"not": "a request"}),
    ] {
        let err = dhl.invoke(payload).await.unwrap_err();
        assert_eq!(diagnostic(err).error_type, "InvalidRequest");
    }
    assert_eq!(dhl.calls().await, 0);
}

#[tokio::test]
async fn without_any_api_key_nothing_is_called() {
    let dhl = Dhl::start().await;
    let err = dhl
        .invoke(json!({"transaction_id": "t", "tracking_number": "1"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "InvalidRequest");
    assert_eq!(dhl.calls().await, 0);
}

#[tokio::test]
async fn the_key_comes_from_the_token_then_metadata_then_configuration() {
    let dhl = Dhl::start().await;
    // Each key must be sent exactly once (checked when the server drops); any other key gets
    // wiremock's 404 and fails the call.
    for key in ["key-from-token", "key-from-metadata", "key-from-config"] {
        dhl.mount(
            on_track()
                .and(header("DHL-API-Key", key))
                .respond_with(one_express_shipment())
                .expect(1),
        )
        .await;
    }
    let app = dhl.app_with(&[("DHL_API_KEY", "key-from-config")]);
    for payload in [
        json!({"transaction_id": "t", "tracking_number": "1",
               "authorization": {"access_token": "key-from-token"},
               "metadata": {"api_key": "key-from-metadata"}}),
        json!({"transaction_id": "t", "tracking_number": "1",
               "authorization": {"access_token": " "},
               "metadata": {"api_key": "key-from-metadata"}}),
        json!({"transaction_id": "t", "tracking_number": "1"}),
    ] {
        app.handle(event(payload)).await.unwrap();
    }
    assert_eq!(dhl.calls().await, 3);
}

#[tokio::test]
async fn the_api_key_never_reaches_logs_or_errors() {
    const KEY: &str = "sk-LEAKCHECK-7f3a9c2e51";
    let dhl = Dhl::start().await;
    // A carrier that echoes the key it refuses, the worst case.
    dhl.mount(
        on_track()
            .and(header("DHL-API-Key", KEY))
            .respond_with(problem(
                401,
                "Unauthorized",
                &format!("Invalid API key {KEY}"),
            ))
            .expect(2),
    )
    .await;
    dhl.mount(
        on_track()
            .and(header("DHL-API-Key", KEY))
            .and(query_param("trackingNumber", "retry-me"))
            .respond_with(ResponseTemplate::new(503).set_body_string(KEY))
            .with_priority(1),
    )
    .await;

    let logs = capture_logs();
    let mut texts = Vec::new();
    let config = dhl.config(&[("DHL_API_KEY", KEY)]);
    texts.push(format!("{config:?}"));
    let app = track::build_app(&config).unwrap();
    for payload in [
        json!({"transaction_id": "t", "tracking_number": "1",
               "authorization": {"access_token": KEY}}),
        json!({"transaction_id": "t", "tracking_number": "1", "metadata": {"api_key": KEY}}),
        json!({"transaction_id": "t", "tracking_number": "retry-me"}),
        json!({"transaction_id": "t", "authorization": KEY}),
    ] {
        let err = app.handle(event(payload)).await.unwrap_err();
        texts.push(format!("{err} {err:?}"));
        texts.push(format!("{:?}", diagnostic(err)));
    }
    let logs = logs.text();
    assert!(logs.contains("CarrierUnauthorized"), "logs: {logs}");
    assert!(logs.contains("CarrierUnavailable"), "logs: {logs}");
    assert!(!logs.contains(KEY), "the key is in the logs: {logs}");
    for text in texts {
        assert!(!text.contains(KEY), "the key is in: {text}");
    }
    // The key really was sent (the mocks only answer to it): 2 refusals, 3 tries of retry-me.
    assert_eq!(dhl.calls().await, 2 + 3);
}

/// AWS configuration for moto (scripts/local-stack.sh): the secret-reference tests fail (never
/// skip) without it.
async fn moto() -> aws_config::SdkConfig {
    test_support::moto::sdk_config().await
}

/// `app` resolving secret references in moto.
fn with_moto_secrets(mut app: App, sdk: &aws_config::SdkConfig) -> App {
    app.secrets = Arc::new(shared::secrets::SecretResolver::new(
        sdk,
        Duration::from_secs(300),
    ));
    app
}

#[tokio::test]
async fn a_key_by_reference_is_resolved_before_dhl_is_called() {
    let sdk = moto().await;
    // The name the issue's example uses; created once per moto run (tests may share one).
    let created = aws_sdk_secretsmanager::Client::new(&sdk)
        .create_secret()
        .name("carrier-tracking/dhl")
        .secret_string(r#"{"api_key":"key-from-secrets-manager"}"#)
        .send()
        .await;
    if let Err(err) = created {
        let already = err
            .as_service_error()
            .is_some_and(|e| e.is_resource_exists_exception());
        assert!(already, "{err:?}");
    }
    let dhl = Dhl::start().await;
    dhl.mount(
        on_track()
            .and(header("DHL-API-Key", "key-from-secrets-manager"))
            .respond_with(one_express_shipment())
            .expect(2),
    )
    .await;
    let reference = "secretsmanager:carrier-tracking/dhl#api_key";
    let app = with_moto_secrets(dhl.app_with(&[("DHL_API_KEY", reference)]), &sdk);
    let logs = capture_logs();
    for payload in [
        json!({"transaction_id": "t", "tracking_number": "1", "metadata": {"api_key": reference}}),
        // The configured key is a reference too.
        json!({"transaction_id": "t", "tracking_number": "1"}),
    ] {
        app.handle(event(payload)).await.unwrap();
    }
    assert_eq!(dhl.calls().await, 2);
    let logs = logs.text();
    assert!(logs.contains("GetSecretValue"), "{logs}");
    assert!(!logs.contains("key-from-secrets-manager"), "{logs}");
}

#[tokio::test]
async fn a_key_reference_that_does_not_resolve_is_carrier_unauthorized() {
    let sdk = moto().await;
    let dhl = Dhl::start().await;
    let app = with_moto_secrets(dhl.app(), &sdk);
    let logs = capture_logs();
    for reference in [
        "secretsmanager:carrier-tracking/no-such-secret#api_key",
        "ssm:/carrier-tracking/no-such-parameter",
    ] {
        let err = app
            .handle(event(json!({"transaction_id": "t", "tracking_number": "1",
                                 "authorization": {"access_token": reference}})))
            .await
            .unwrap_err();
        let d = diagnostic(err);
        assert_eq!(d.error_type, "CarrierUnauthorized");
        assert!(
            d.error_message
                .starts_with(&format!("API key: {reference}: ")),
            "{}",
            d.error_message
        );
    }
    assert!(logs.text().contains("no-such-secret"), "{}", logs.text());
    assert_eq!(dhl.calls().await, 0);
}

#[tokio::test]
async fn the_sample_event_is_a_request_we_can_answer() {
    let sample: Value = serde_json::from_str(include_str!("../../../events/track.json")).unwrap();
    let dhl = Dhl::start().await;
    dhl.mount(
        on_track()
            .and(query_param("trackingNumber", "00340434161094042557"))
            .and(query_param("service", "parcel-de"))
            .and(query_param("recipientPostalCode", "53113"))
            .and(query_param("originCountryCode", "DE"))
            .and(header("DHL-API-Key", "replace-with-your-DHL-API-key"))
            .respond_with(two_shipments())
            .expect(1),
    )
    .await;
    // `cargo lambda watch` sends its timeout (600000 ms) where Lambda sends an epoch deadline.
    let mut context = Context::default();
    context.deadline = 600_000;
    let response = dhl
        .app()
        .handle(LambdaEvent::new(sample, context))
        .await
        .unwrap();
    assert_eq!(
        response
            .tracking_info
            .standardized_status_code
            .unwrap()
            .as_str(),
        "DE"
    );
}

/// A bare HTTP/1.1 server on 127.0.0.1 answering every request with `body`, keeping connections
/// open, and counting the connections it accepted (wiremock cannot tell).
fn keep_alive_server(body: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            counter.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                let mut line = String::new();
                loop {
                    // A GET has no body: a request ends at its blank line.
                    loop {
                        line.clear();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => break,
                            Ok(_) => {}
                        }
                    }
                    let response = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if writer.write_all(response.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, connections)
}

#[tokio::test]
async fn one_client_serves_every_invocation_over_one_connection() {
    let body = json!({"shipments": [{"service": "express"}]}).to_string();
    let (url, connections) = keep_alive_server(body);
    // Built once, as `main.rs` does; then invoked like a warm execution environment.
    let app = track::build_app(&test_config(&url, &[])).unwrap();
    for _ in 0..3 {
        app.handle(event(request("1"))).await.unwrap();
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
}
