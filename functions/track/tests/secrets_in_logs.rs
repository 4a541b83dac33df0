//! No DHL API key in a log line, an error or the Lambda's answer when DHL refuses it (401), even
//! when DHL echoes it back; no UPS client secret or token either, from the binary run with
//! `CARRIER=ups`.
//!
//! Every log event of this test process, at TRACE and from every crate (the `log` crate's records,
//! reqwest's among them, included: the subscriber forwards them), goes through the binaries' own
//! subscriber (`shared::logging::subscriber`) into a buffer that is searched for the key. The
//! Lambda binary is also run at TRACE against a stand-in Runtime API, where lambda_runtime itself
//! would log the raw invocation, key included.

use std::sync::OnceLock;

use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use shared::logging::{self, Format};
use test_support::LogBuffer;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::SubscriberInitExt;
use track::Config;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "s3cr3t-Pa55-xyz-dhl-key";

/// The process-wide capture, installed once.
fn logs() -> LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = LogBuffer::default();
        let writer = logs.clone();
        logging::subscriber(EnvFilter::new("trace"), Format::Plain, move || {
            writer.clone()
        })
        .try_init()
        .expect("the only subscriber of this test process");
        logs
    })
    .clone()
}

/// A DHL that refuses `KEY` with a 401 whose detail repeats it, the worst case.
async fn refusing_dhl() -> MockServer {
    let dhl = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/track/shipments"))
        .and(header("DHL-API-Key", KEY))
        .respond_with(
            ResponseTemplate::new(401).set_body_raw(
                json!({"title": "Unauthorized", "status": 401,
                       "detail": format!("Invalid API key {KEY}")})
                .to_string(),
                "application/problem+json",
            ),
        )
        .mount(&dhl)
        .await;
    dhl
}

#[tokio::test]
async fn a_refused_api_key_is_never_logged_or_shown() {
    let logs = logs();
    let dhl = refusing_dhl().await;
    let base = dhl.uri();
    let config = Config::from_lookup(|k| match k {
        "CARRIER_BASE_URL" => Some(base.clone()),
        "DHL_API_KEY" => Some(KEY.to_owned()),
        "RETRY_ATTEMPTS" => Some("1".to_owned()),
        _ => None,
    })
    .unwrap();
    let mut shown = vec![format!("{config:?}")];
    let app = track::build_app(&config).unwrap();
    // The key from each place a request can carry it, and from the configuration.
    for payload in [
        json!({"transaction_id": "t", "tracking_number": "1",
               "authorization": {"access_token": KEY}}),
        json!({"transaction_id": "t", "tracking_number": "2", "metadata": {"api_key": KEY}}),
        json!({"transaction_id": "t", "tracking_number": "3"}),
    ] {
        let err = app
            .handle(LambdaEvent::new(payload, Context::default()))
            .await
            .unwrap_err();
        shown.push(err.to_string());
        shown.push(format!("{err:?}"));
        shown.push(shared::report(&err));
        let answer = Diagnostic::from(err);
        assert_eq!(answer.error_type, "CarrierUnauthorized");
        shown.push(serde_json::to_string(&answer).unwrap());
    }
    // DHL saw the key three times: it was sent, and refused.
    assert_eq!(dhl.received_requests().await.unwrap().len(), 3);
    let logged = logs.text();
    // Evidence the capture saw the calls: hyper's connections to DHL, and our refusals.
    let port = dhl.address().port();
    for line in [
        format!("connecting to 127.0.0.1:{port}"),
        "CarrierUnauthorized".to_owned(),
    ] {
        assert!(logged.contains(&line), "{line:?} not logged:\n{logged}");
    }
    for text in shown.iter().chain([&logged]) {
        assert!(!text.contains(KEY), "the key is in:\n{text}");
    }
}

/// The Track binary at TRACE (Lambda's log level setting): lambda_runtime logs each raw
/// invocation at TRACE, which would put `authorization.access_token` in the logs.
#[tokio::test]
async fn the_lambda_at_trace_never_logs_or_answers_the_key() {
    let dhl = refusing_dhl().await;
    let event = json!({"transaction_id": "t", "tracking_number": "1",
                       "authorization": {"access_token": KEY}});
    let mut api =
        test_support::runtime_api::RuntimeApi::start(vec![event.to_string().into()]).await;
    let output = tempfile::NamedTempFile::new().unwrap();
    let mut lambda = test_support::runtime_api::lambda(env!("CARGO_BIN_EXE_track"), &api, &output)
        .env("CARRIER_BASE_URL", dhl.uri())
        .env("RETRY_ATTEMPTS", "1")
        .env("AWS_LAMBDA_LOG_LEVEL", "TRACE")
        .env_remove("DHL_API_KEY")
        .spawn()
        .unwrap();
    let logs = || std::fs::read_to_string(output.path()).unwrap();
    let (id, kind, answer): (String, String, Value) = tokio::select! {
        answer = api.answer() => answer,
        status = lambda.wait() => panic!("the function exited ({status:?}):\n{}", logs()),
    };
    lambda.kill().await.unwrap();
    assert_eq!((id.as_str(), kind.as_str()), ("invocation-1", "error"));
    assert_eq!(answer["errorType"], "CarrierUnauthorized");
    assert_eq!(dhl.received_requests().await.unwrap().len(), 1);
    let logs = logs();
    // TRACE is on: the runtime's own trace lines are there, only the payload is not.
    assert!(logs.contains("TRACE"), "{logs}");
    assert!(!answer.to_string().contains(KEY), "{answer}");
    assert!(!logs.contains(KEY), "{logs}");
}

/// The Track binary with `CARRIER=ups` and the client credentials in its environment, at TRACE:
/// two invocations of one execution environment share one token, and neither the client secret
/// nor the token reaches the logs or the answers.
#[tokio::test]
async fn the_lambda_with_ups_reuses_its_token_and_never_logs_it() {
    const SECRET: &str = "ups-S3CR3T-client-secret-99";
    const TOKEN: &str = "ups-TOKEN-never-logged-31";
    let ups = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/security/v1/oauth/token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(
                json!({"access_token": TOKEN, "expires_in": "14399", "token_type": "Bearer"})
                    .to_string(),
                "application/json",
            ),
        )
        .expect(1)
        .mount(&ups)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/track/v1/details/1Z023E2X0214323462"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            test_support::fixtures::text("ups/in-transit.json"),
            "application/json",
        ))
        .expect(2)
        .mount(&ups)
        .await;
    let event = json!({"transaction_id": "t", "tracking_number": "1Z023E2X0214323462"});
    let payloads = vec![event.to_string().into(), event.to_string().into()];
    let mut api = test_support::runtime_api::RuntimeApi::start(payloads).await;
    let output = tempfile::NamedTempFile::new().unwrap();
    let mut lambda = test_support::runtime_api::lambda(env!("CARGO_BIN_EXE_track"), &api, &output)
        .env("CARRIER", "ups")
        .env("CARRIER_BASE_URL", ups.uri())
        .env("CARRIER_CLIENT_ID", "ups-client")
        .env("CARRIER_CLIENT_SECRET", SECRET)
        .env("AWS_LAMBDA_LOG_LEVEL", "TRACE")
        .spawn()
        .unwrap();
    let logs = || std::fs::read_to_string(output.path()).unwrap();
    let mut answers = Vec::new();
    for _ in 0..2 {
        tokio::select! {
            answer = api.answer() => answers.push(answer),
            status = lambda.wait() => panic!("the function exited ({status:?}):\n{}", logs()),
        }
    }
    lambda.kill().await.unwrap();
    for (_, kind, answer) in &answers {
        assert_eq!(kind, "response", "{answer}");
        assert_eq!(answer["tracking_info"]["standardized_status_code"], "IT");
        assert_eq!(answer["tracking_info"]["carrier_name"], "UPS");
    }
    let logs = logs();
    assert!(logs.contains("fetching an OAuth token"), "{logs}");
    for text in [logs, format!("{answers:?}")] {
        assert!(!text.contains(SECRET), "the secret is in:\n{text}");
        assert!(!text.contains(TOKEN), "the token is in:\n{text}");
    }
}
