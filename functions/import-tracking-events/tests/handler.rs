//! The Lambda handler against local S3/SQS, fed the sample events shipped in `events/`, so a
//! sample that stops matching what the handler accepts fails here.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use import_tracking_events::handler::App;
use import_tracking_events::sink::SqsSink;
use import_tracking_events::source::{FileSource, S3Source, Sources};
use import_tracking_events::{Config, ImportError};
use serde_json::Value;

const SAMPLE_S3_URI: &str = "s3://carrier-drop/outbound/sample-reference.csv";

fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

/// A sample event with its S3 source pointed at this test's bucket.
fn sample_event(name: &str, bucket: &str) -> Value {
    let text = std::fs::read_to_string(repo_root().join("events").join(name)).unwrap();
    let text = text.replace(
        SAMPLE_S3_URI,
        &format!("s3://{bucket}/outbound/sample-reference.csv"),
    );
    // Plain paths in samples are relative to the repository root.
    let text = text.replace(
        "\"events/sample-reference.csv\"",
        &format!(
            "\"{}\"",
            repo_root().join("events/sample-reference.csv").display()
        ),
    );
    serde_json::from_str(&text).unwrap()
}

async fn app(bucket: &str) -> (App, aws_sdk_sqs::Client, String) {
    let shared = aws().await;
    let s3 = s3(&shared);
    let sample = std::fs::read(repo_root().join("events/sample-reference.csv")).unwrap();
    put_object(&s3, bucket, "outbound/sample-reference.csv", sample).await;
    let sqs = aws_sdk_sqs::Client::new(&shared);
    let queue_url = create_queue(&sqs, 262_144).await;
    let config = Config {
        default_source: Some(format!("s3://{bucket}/outbound/sample-reference.csv")),
        default_profile: Some("reference".into()),
        ..Config::default()
    };
    let app = App {
        config,
        source: Arc::new(Sources {
            s3: Some(S3Source::new(s3)),
            file: FileSource,
        }),
        sink: Arc::new(SqsSink::new(sqs.clone(), queue_url.clone())),
        state: None,
        continuation: None,
        secrets: Arc::new(shared::secrets::SecretResolver::from_env(
            std::time::Duration::ZERO,
        )),
    };
    (app, sqs, queue_url)
}

#[tokio::test]
async fn every_sample_import_event_imports_the_sample_file() {
    let bucket = unique("carrier-drop");
    let (app, sqs, queue_url) = app(&bucket).await;
    for name in [
        "import-s3.json",
        "import-file.json",
        "import-eventbridge.json",
        "import-schedule.json",
    ] {
        let summary = app
            .handle(sample_event(name, &bucket))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(summary.records_read, 63, "{name}");
        assert_eq!(summary.events_emitted, 61, "{name}");
        assert_eq!(summary.records_rejected, 2, "{name}");
        assert_eq!(summary.profile, "reference", "{name}");
        let messages = drain(&sqs, &queue_url).await;
        assert_eq!(messages.len(), 1, "{name}");
        let (_, envelope) = &messages[0];
        assert_eq!(envelope.events.len(), 61, "{name}");
        assert_eq!(envelope.import_id, summary.import_id, "{name}");
        // The unmapped carrier code is kept, as UN with a warning.
        let last = envelope.events.last().unwrap();
        assert_eq!(last["tracking_info"]["standardized_status_code"], "UN");
        assert!(last["warning_messages"][0].as_str().unwrap().contains("ZZ"));
    }
}

#[tokio::test]
async fn bad_input_is_a_clear_error_with_a_stable_kind() {
    let bucket = unique("carrier-drop");
    let (app, _, _) = app(&bucket).await;
    let cases: [(Value, &str, &str); 3] = [
        (
            serde_json::json!("not an object"),
            "InvalidRequest",
            "Connect",
        ),
        (
            serde_json::json!({"transaction_id":"t","metadata":{"source":"s3://b/k.csv","profile":"nope"}}),
            "InvalidProfile",
            "nope",
        ),
        (
            serde_json::json!({"transaction_id":"t","metadata":{"source":format!("s3://{bucket}/outbound/missing.csv")}}),
            "SourceNotFound",
            "missing.csv",
        ),
    ];
    for (event, kind, needle) in cases {
        let err: ImportError = app.handle(event).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{err}");
        let diagnostic = lambda_runtime::Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, kind);
        assert!(
            diagnostic.error_message.contains(needle),
            "{}",
            diagnostic.error_message
        );
    }
}
