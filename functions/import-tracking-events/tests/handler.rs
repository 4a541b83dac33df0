//! The Lambda handler against local S3/SQS, fed the sample events shipped in `events/`, so a
//! sample that stops matching what the handler accepts fails here; and the Lambda binary as Lambda
//! runs it (test-support's Runtime API stand-in), for what only the binary's wiring does: a run out
//! of time continues through the real SDK's asynchronous invoke of the function itself (against
//! test-support's stand-in of the Lambda Invoke API), a continuation that cannot be started is
//! `ContinuationFailed`, and EMF metric lines go to stdout inside Lambda but not from the CLI.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::*;
use import_tracking_events::handler::App;
use import_tracking_events::sink::SqsSink;
use import_tracking_events::source::{FileSource, S3Source, Sources};
use import_tracking_events::state::{self, S3StateStore, StateStore};
use import_tracking_events::{Config, ImportError};
use serde_json::{Value, json};
use test_support::invoke_api::{InvokeApi, Reply, event_invoke};
use test_support::runtime_api::{DEADLINE, FUNCTION_ARN, Function};

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

/// A carrier file in a directory of its own, which the Lambda is allowed to read; the state
/// bucket and the queue (16 KiB messages) on moto.
struct CarrierDrop {
    dir: tempfile::TempDir,
    uri: String,
    records: u64,
    state_bucket: String,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    s3: aws_sdk_s3::Client,
}

impl CarrierDrop {
    async fn new(file: &[u8], records: u64) -> CarrierDrop {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("TRACK_1.csv");
        std::fs::write(&path, file).unwrap();
        let shared = aws().await;
        let s3 = s3(&shared);
        let state_bucket = new_bucket(&s3, "continue-state").await;
        let sqs = aws_sdk_sqs::Client::new(&shared);
        let queue_url = create_queue(&sqs, 16_384).await;
        CarrierDrop {
            uri: format!("file://{}", path.display()),
            dir,
            records,
            state_bucket,
            sqs,
            queue_url,
            s3,
        }
    }

    fn event(&self) -> Value {
        json!({"transaction_id": "t-continue", "metadata": {"source": self.uri, "profile": "reference"}})
    }

    /// The Lambda binary with no time to read: its deadline less `DEADLINE_MARGIN_MS` has
    /// passed, so each invocation stops once something new is delivered, checkpoints, and
    /// continues through the Lambda Invoke API at `invoke` (the SDK's own endpoint setting).
    async fn out_of_time(&self, invoke: &InvokeApi) -> Function {
        let env = [
            ("ALLOWED_SOURCES", format!("{}/", self.dir.path().display())),
            ("AWS_ENDPOINT_URL", endpoint()),
            ("AWS_ENDPOINT_URL_LAMBDA", invoke.url().to_owned()),
            ("QUEUE_URL", self.queue_url.clone()),
            ("STATE_BUCKET", self.state_bucket.clone()),
            ("MAX_MESSAGE_BYTES", "16384".to_owned()),
            // Few records in flight, so that a stop leaves most of the file to continuations.
            ("ENCODE_WORKERS", "1".to_owned()),
            ("SEND_CONCURRENCY", "1".to_owned()),
            ("DEADLINE_MARGIN_MS", DEADLINE.as_millis().to_string()),
        ];
        Function::start(env!("CARGO_BIN_EXE_import-tracking-events"), &env).await
    }

    /// The file's checkpoint in the state bucket.
    async fn checkpointed_through(&self) -> u64 {
        let store = S3StateStore::new(
            self.s3.clone(),
            self.state_bucket.clone(),
            "import-state/".into(),
        );
        let doc = store
            .load(&state::connection_key(&self.uri), &self.uri)
            .await
            .unwrap()
            .state;
        doc.checkpoints[&self.uri].mark.through_record
    }
}

/// A chain of invocations that ended with the file imported.
struct Chain {
    /// Each invocation's summary, in order.
    summaries: Vec<Value>,
    /// Requests the Invoke API got for each hand-over (more than one: the SDK retried).
    attempts: Vec<usize>,
}

/// Invokes `function` with `event`, then with each continuation it hands over, until the import
/// completes. Every hand-over must have reached `invoke` as an asynchronous (`Event`) invoke of
/// the function's own ARN, signed for Lambda, carrying the original event and the next segment.
async fn until_complete(function: &mut Function, invoke: &InvokeApi, event: &Value) -> Chain {
    let mut payload = event.clone();
    let mut seen = invoke.invoked().len();
    let mut attempts = Vec::new();
    let mut summaries = Vec::new();
    for segment in 1..50 {
        let (kind, summary) = function.invoke(&payload).await;
        assert_eq!(kind, "response", "{summary}\n{}", function.stdout());
        let invoked = invoke.invoked();
        let new = &invoked[seen..];
        seen = invoked.len();
        let status = summary["status"].clone();
        summaries.push(summary);
        if status == "complete" {
            assert_eq!(new, [], "a complete run hands nothing over");
            return Chain {
                summaries,
                attempts,
            };
        }
        assert_eq!(status, "continued", "{summaries:?}");
        payload = json!({"continuation": {"segment": segment + 1, "event": event}});
        let expected = event_invoke(FUNCTION_ARN, payload.clone());
        assert!(
            !new.is_empty() && new.iter().all(|i| *i == expected),
            "segment {segment} handed over {new:#?}, expected {expected:#?}"
        );
        attempts.push(new.len());
    }
    panic!("no end in sight after 50 invocations");
}

#[tokio::test]
async fn a_run_out_of_time_continues_by_invoking_itself_until_the_file_is_whole() {
    let (file, records) = reference_file(800_000, 0);
    let drop = CarrierDrop::new(&file, records).await;
    // Lambda fails the first hand-over, then throttles it: the SDK retries both.
    let invoke = InvokeApi::start([Reply::SERVICE_ERROR, Reply::THROTTLED]).await;
    let mut function = drop.out_of_time(&invoke).await;

    let chain = until_complete(&mut function, &invoke, &drop.event()).await;
    let invocations = chain.summaries.len();
    assert!(invocations >= 2, "the first invocation ran out of time");
    // One hand-over per continued invocation; the first was retried twice.
    let mut attempts = vec![1; invocations - 1];
    attempts[0] = 3;
    assert_eq!(chain.attempts, attempts);
    let file = &chain.summaries[invocations - 1]["files"][0];
    assert_eq!(file["segments"], invocations);
    assert_eq!(
        file["records_read"], drop.records,
        "counts over the whole file"
    );
    assert_eq!(file["events_emitted"], drop.records);
    let messages = drain_envelopes(&drop.sqs, &drop.queue_url).await;
    let chunks = exactly_once(&messages, &good_records(drop.records, 0), u64::MAX);
    assert!(chunks > 1);
}

#[tokio::test]
async fn a_continuation_lambda_refuses_is_continuation_failed_and_the_retry_resumes() {
    let (file, records) = reference_file(800_000, 0);
    let drop = CarrierDrop::new(&file, records).await;
    // The role may not invoke the function: not retried, the invocation fails.
    let invoke = InvokeApi::start([Reply::ACCESS_DENIED]).await;
    let mut function = drop.out_of_time(&invoke).await;
    let event = drop.event();

    let (kind, error) = function.invoke(&event).await;
    assert_eq!(kind, "error", "{error}");
    assert_eq!(error["errorType"], "ContinuationFailed", "{error}");
    let through = drop.checkpointed_through().await;
    assert!(through > 0 && through < records, "{through}");
    let message = error["errorMessage"].as_str().unwrap();
    let expected = format!(
        "stopped before the deadline with records up to {through} delivered and checkpointed, but the continuation could not be started; a retry or the next run resumes from the checkpoint: invoking {FUNCTION_ARN} asynchronously failed: "
    );
    assert!(message.starts_with(&expected), "{message}");
    assert!(message.contains("AccessDeniedException"), "{message}");
    let segment_2 = json!({"continuation": {"segment": 2, "event": event}});
    assert_eq!(invoke.invoked(), [event_invoke(FUNCTION_ARN, segment_2)]);

    // Lambda's retry of the original event resumes at the checkpoint.
    let chain = until_complete(&mut function, &invoke, &event).await;
    assert_eq!(
        chain.summaries[0]["files"][0]["resumed_from_record"],
        through
    );
    assert!(
        chain.attempts.iter().all(|&a| a == 1),
        "{:?}",
        chain.attempts
    );
    let last = &chain.summaries[chain.summaries.len() - 1]["files"][0];
    assert_eq!(last["segments"], 1 + chain.summaries.len());
    assert_eq!(last["records_read"], records);
    let messages = drain_envelopes(&drop.sqs, &drop.queue_url).await;
    exactly_once(&messages, &good_records(records, 0), u64::MAX);
}

/// The EMF lines in `output`: whole lines that are JSON objects with an `_aws` member.
fn emf_lines(output: &str) -> Vec<Value> {
    output
        .lines()
        .filter(|l| l.contains("\"_aws\""))
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a bare EMF line ({e}): {l}"))
        })
        .collect()
}

#[tokio::test]
async fn emf_lines_go_to_stdout_inside_lambda_and_not_from_the_cli() {
    let sample = repo_root().join("events/sample-reference.csv");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sample.csv");
    std::fs::copy(&sample, &path).unwrap();
    let event = json!({"transaction_id": "t-emf", "metadata": {
        "source": format!("file://{}", path.display()), "profile": "reference"}});
    let shared = aws().await;
    let sqs = aws_sdk_sqs::Client::new(&shared);
    let queue_url = create_queue(&sqs, 262_144).await;

    // Inside Lambda, EMF_METRICS unset: one line per file, alone on stdout.
    let env = [
        ("ALLOWED_SOURCES", format!("{}/", dir.path().display())),
        ("AWS_ENDPOINT_URL", endpoint()),
        ("QUEUE_URL", queue_url.clone()),
    ];
    let mut function = Function::start(env!("CARGO_BIN_EXE_import-tracking-events"), &env).await;
    let (kind, summary) = function.invoke(&event).await;
    assert_eq!(kind, "response", "{summary}");
    let lines = emf_lines(&function.stdout());
    assert_eq!(lines.len(), 1, "{}", function.stdout());
    let emf = &lines[0];
    assert_eq!(
        emf["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "CarrierTracking/Import"
    );
    assert_eq!(emf["Function"], "import-tracking-events");
    assert_eq!(emf["Connection"], event["metadata"]["source"]);
    assert_eq!(
        (
            &emf["RecordsRead"],
            &emf["EventsEmitted"],
            &emf["RecordsRejected"]
        ),
        (&json!(63), &json!(61), &json!(2))
    );
    assert_eq!(emf["FilesFailed"], 0);
    assert_eq!(emf["ImportId"], summary["import_id"]);
    assert_eq!(emf_lines(&function.stderr()), Vec::<Value>::new());

    // The CLI, EMF_METRICS unset: stdout is the summary alone; set, the same line appears.
    let event_file = dir.path().join("event.json");
    std::fs::write(&event_file, event.to_string()).unwrap();
    let cli = |emf: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tracking-import"));
        command
            .arg("--event")
            .arg(&event_file)
            .args(["--sink", "null"])
            .env_remove("AWS_LAMBDA_FUNCTION_NAME")
            .env_remove("STATE_BUCKET")
            .env_remove("EMF_METRICS");
        if let Some(emf) = emf {
            command.env("EMF_METRICS", emf);
        }
        let out = command.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (stdout, stderr) = cli(None);
    let summary: Value = serde_json::from_str(&stdout).expect("stdout is the summary alone");
    assert_eq!(summary["records_read"], 63);
    assert_eq!(emf_lines(&stdout), Vec::<Value>::new());
    assert_eq!(emf_lines(&stderr), Vec::<Value>::new());
    let (stdout, _) = cli(Some("true"));
    let lines = emf_lines(&stdout);
    assert_eq!(lines.len(), 1, "{stdout}");
    assert_eq!(lines[0]["Function"], "ImportTrackingEvents");
    assert_eq!(lines[0]["RecordsRead"], 63);
}
