//! The bad-input corpus (`tests/bad-input/`, whose README.md tables each case's expected outcome),
//! one test per case. Files go through the real `tracking-import` binary; events through the
//! Lambda handler (`App::handle`) and, for bytes that are not JSON at all, through the Lambda
//! binary itself against a stand-in Runtime API. Every case must end by itself, without a panic
//! (release builds abort on one), with exactly the documented result: an error of a stable kind
//! whose message says what is wrong, or exact counts with each rejected record's line and reason.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::Arc;

use common::HEADER;
use import_tracking_events::handler::App;
use import_tracking_events::sink::NullSink;
use import_tracking_events::source::{FileSource, Sources};
use import_tracking_events::{Config, ImportError};
use serde_json::{Value, json};

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/bad-input")
        .join(name)
}

/// What one run of `tracking-import` did.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `tracking-import --event <event> --sink <sink>` on a clean environment and checks that it
/// ended by itself: an exit code (not a signal, as an abort would be) and no panic message.
fn cli(event: &Path, sink: &str) -> Run {
    cli_with(event, sink, &[])
}

/// [`cli`] with `env` set too.
fn cli_with(event: &Path, sink: &str, env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_tracking-import"))
        .envs(env.iter().copied())
        .arg("--event")
        .arg(event)
        .args(["--sink", sink])
        .current_dir(corpus(""))
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .env("RUST_BACKTRACE", "0")
        // No once-only state, no queue, no defaults: the event alone decides.
        .env_remove("STATE_BUCKET")
        .env_remove("QUEUE_URL")
        .env_remove("DEFAULT_SOURCE")
        .env_remove("DEFAULT_PROFILE")
        .env_remove("EMF_METRICS")
        .env_remove("AWS_LAMBDA_FUNCTION_NAME")
        .output()
        .expect("tracking-import runs");
    let run = Run {
        status: out.status,
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    };
    assert!(
        run.status.code().is_some(),
        "killed by a signal ({:?}); stderr:\n{}",
        run.status,
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    run
}

/// Imports `file` with `profile` through the CLI, events to stdout.
fn import(file: &Path, profile: &str) -> Run {
    import_with(file, profile, &[])
}

/// [`import`] with `env` set too.
fn import_with(file: &Path, profile: &str, env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.json");
    let body = json!({"transaction_id": "bad-input", "metadata": {
        "source": file.to_str().unwrap(), "profile": profile}});
    std::fs::write(&event, body.to_string()).unwrap();
    cli_with(&event, "stdout", env)
}

/// A run that failed: exit code 1 and the error line, which must be the last line of stderr.
fn failure(run: &Run) -> &str {
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    run.stderr.trim_end().lines().last().unwrap()
}

/// A run that completed: its events (stdout, one per line) and its summary (the JSON that
/// closes stderr, after any log lines).
fn completed(run: &Run) -> (Vec<Value>, Value) {
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    let events = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let start = if run.stderr.starts_with("{\n") {
        0
    } else {
        run.stderr.find("\n{\n").expect("a summary") + 1
    };
    let summary: Value = serde_json::from_str(&run.stderr[start..]).unwrap();
    assert_eq!(summary["status"], "complete");
    assert_eq!(summary["files"].as_array().unwrap().len(), 1);
    (events, summary)
}

/// `(records_read, events_emitted, records_rejected)` of a summary, checked against the file's
/// own summary and the events actually written.
fn counts(summary: &Value, events: &[Value]) -> (u64, u64, u64) {
    let get = |v: &Value, k: &str| v[k].as_u64().unwrap();
    let file = &summary["files"][0];
    for key in ["records_read", "events_emitted", "records_rejected"] {
        assert_eq!(get(summary, key), get(file, key), "{key}");
    }
    assert_eq!(get(summary, "events_emitted"), events.len() as u64);
    (
        get(summary, "records_read"),
        get(summary, "events_emitted"),
        get(summary, "records_rejected"),
    )
}

fn tracking_numbers(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["tracking_info"]["tracking_number"].as_str().unwrap())
        .collect()
}

/// The summary's rejected records as `(record, line, byte, reason)`.
fn rejected(summary: &Value) -> Vec<(u64, u64, u64, String)> {
    summary["files"][0]["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["record"].as_u64().unwrap(),
                r["line"].as_u64().unwrap(),
                r["byte"].as_u64().unwrap(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The byte offset where 1-based `line` of `text` starts.
fn line_start(text: &[u8], line: usize) -> u64 {
    let newlines = text.iter().enumerate().filter(|(_, b)| **b == b'\n');
    newlines.map(|(i, _)| i as u64 + 1).nth(line - 2).unwrap()
}

/// Tracking number `n` as the corpus files write it.
fn tn(n: u64) -> String {
    format!("1RC{n:015}")
}

/// A reference-profile record for tracking number `n`.
fn row(n: u64, description: &str, note: &str) -> String {
    format!(
        "{},DL,{description},2026-11-08,13:50:10,-06:00,Austin,TX,78701,US,J SMITH,30.2672,-97.7431,2026-11-09,GND,1.5,{note}\n",
        tn(n)
    )
}

#[test]
fn an_empty_file_fails_as_having_no_header() {
    let file = corpus("empty.csv");
    let run = import(&file, "reference");
    assert_eq!(
        failure(&run),
        format!(
            "tracking-import: reading {}: the file is empty: no header line (InvalidFile)",
            file.display()
        )
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn a_header_only_file_imports_nothing_and_completes() {
    let run = import(&corpus("header-only.csv"), "reference");
    let (events, summary) = completed(&run);
    assert_eq!(counts(&summary, &events), (0, 0, 0));
    assert_eq!(summary["messages_sent"], 0);
}

#[test]
fn a_header_missing_a_required_column_fails_naming_it() {
    let file = corpus("missing-column.csv");
    let run = import(&file, "reference");
    assert_eq!(
        failure(&run),
        format!(
            "tracking-import: reading {}: profile `reference`: the file's header lacks column `EventDate` (for `event_date`); header is: {:?} (InvalidFile)",
            file.display(),
            // Quoted, escaped and cut to its first 120 characters.
            format!("{}…", &HEADER.replace("EventDate,", "")[..120])
        )
    );
    assert_eq!(
        run.stdout, "",
        "nothing is sent before the header is checked"
    );
}

#[test]
fn a_file_with_another_delimiter_fails_saying_so() {
    let file = corpus("wrong-delimiter.csv");
    let run = import(&file, "reference");
    assert_eq!(
        failure(&run),
        format!(
            "tracking-import: reading {}: profile `reference`: the file's header is a single column, but splits at ';': the file looks ';'-delimited, and the profile's delimiter is ',' (InvalidFile)",
            file.display()
        )
    );
    assert_eq!(run.stdout, "");
}

#[test]
fn a_quote_left_open_at_the_end_rejects_the_record_it_opens_in() {
    let file = corpus("unterminated-quote.csv");
    let text = std::fs::read_to_string(&file).unwrap();
    let record_2 = text.find(&tn(2)).unwrap() as u64;
    let quote = text.find("\"Delivered, front door").unwrap() as u64;
    let (events, summary) = completed(&import(&file, "reference"));
    // Line 4 is inside the open quote: it is part of record 2's text, not a record of its own.
    assert_eq!(counts(&summary, &events), (2, 1, 1));
    assert_eq!(tracking_numbers(&events), [tn(1)]);
    assert_eq!(
        rejected(&summary),
        [(
            2,
            3,
            record_2,
            format!(
                "the quoted field opened at byte {quote} is never closed: the record runs to the end of the file"
            )
        )]
    );
}

#[test]
fn a_10_mb_field_is_read_and_only_an_event_too_large_to_send_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big-field.csv");
    let big = "x".repeat(10 * 1024 * 1024);
    let mut out = std::fs::File::create(&file).unwrap();
    writeln!(out, "{HEADER},Note").unwrap();
    // In a mapped column (twice in the event: as the description of the shipment and of its
    // event), then a plain record, then in a column the profile does not map.
    out.write_all(row(1, &big, "").as_bytes()).unwrap();
    out.write_all(row(2, "Delivered", "").as_bytes()).unwrap();
    out.write_all(row(3, "Delivered", &big).as_bytes()).unwrap();
    drop(out);

    let run = import(&file, "reference");
    let (events, summary) = completed(&run);
    assert_eq!(counts(&summary, &events), (3, 2, 1));
    assert_eq!(tracking_numbers(&events), [tn(2), tn(3)]);
    let rejected = rejected(&summary);
    assert_eq!(rejected.len(), 1);
    let (record, line, byte, reason) = &rejected[0];
    assert_eq!((*record, *line, *byte), (1, 2, HEADER.len() as u64 + 6));
    // Record 1's event is record 2's (sent, and on stdout byte for byte as encoded) with the
    // 10 MiB text in place of `Delivered`, which an event carries twice: as the shipment's
    // description and as its event's.
    let sent = run.stdout.lines().next().unwrap();
    assert_eq!(sent.matches("Delivered").count(), 2, "{sent}");
    let size = sent.len() - 2 * "Delivered".len() + 2 * big.len();
    // The limit is the queue's 256 KiB less the envelope, which names the (temporary) file.
    let limit: u64 = reason
        .rsplit_once("more than the ")
        .and_then(|(_, rest)| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{reason}"));
    let uri = file.to_str().unwrap().len() as u64;
    assert!(
        (256 * 1024 - 2048..=256 * 1024 - uri).contains(&limit),
        "{limit}"
    );
    assert_eq!(
        reason,
        &format!("its event is {size} bytes, more than the {limit} a message can carry")
    );
}

#[test]
fn a_record_over_16_mib_fails_the_file_after_the_records_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("huge-record.csv");
    let mut out = std::fs::File::create(&file).unwrap();
    writeln!(out, "{HEADER},Note").unwrap();
    let record_1 = row(1, "Delivered", "");
    out.write_all(record_1.as_bytes()).unwrap();
    // 17 MiB in a column the profile does not map: too long to hold, whatever is in it.
    let huge = "x".repeat(17 * 1024 * 1024);
    out.write_all(row(2, "Delivered", &huge).as_bytes())
        .unwrap();
    out.write_all(row(3, "Delivered", "").as_bytes()).unwrap();
    drop(out);

    let run = import(&file, "reference");
    let record_2 = (HEADER.len() + ",Note\n".len() + record_1.len()) as u64;
    assert_eq!(
        failure(&run),
        format!(
            "tracking-import: reading {}: reading the file failed at record 2 (line 3, byte {record_2}): the record starting at byte {record_2} is longer than 16777216 bytes (a quote that is never closed, or not a delimited text file) (InvalidFile)",
            file.display()
        )
    );
    let events: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(tracking_numbers(&events), [tn(1)]);
}

#[test]
fn invalid_utf8_rejects_the_record_only_where_a_mapped_column_has_it() {
    let (events, summary) = completed(&import(&corpus("invalid-utf8.csv"), "reference"));
    // Record 2's invalid byte is in `Note`, which the profile does not map.
    assert_eq!(counts(&summary, &events), (3, 2, 1));
    assert_eq!(tracking_numbers(&events), [tn(2), tn(3)]);
    assert_eq!(
        rejected(&summary),
        [(
            1,
            2,
            HEADER.len() as u64 + 6,
            "column `City` is not valid UTF-8".to_owned()
        )]
    );
    assert!(
        !events.iter().any(|e| e.to_string().contains('\u{fffd}')),
        "nothing lossy is sent"
    );
}

/// With one CPU the reading thread maps and encodes itself (`ENCODE_WORKERS=0`, the default
/// there): the same events in the same order, and the same rejections, as encoder threads.
#[test]
fn encoding_on_the_reading_thread_sends_what_encoder_threads_send() {
    let (text, records) = common::reference_file(3_000_000, 97);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reference.csv");
    std::fs::write(&file, &text).unwrap();
    let [inline, threads] = ["0", "3"].map(|workers| {
        let run = import_with(&file, "reference", &[("ENCODE_WORKERS", workers)]);
        completed(&run)
    });
    assert_eq!(counts(&inline.1, &inline.0), counts(&threads.1, &threads.0));
    let (read, sent, bad) = counts(&inline.1, &inline.0);
    assert_eq!((read, sent + bad), (records, records));
    assert!(bad > 100 && sent > 20_000, "{read} {sent} {bad}");
    assert!(inline.0 == threads.0, "the events differ");
    assert_eq!(rejected(&inline.1), rejected(&threads.1));
}

#[test]
fn nul_bytes_reject_the_records_whose_mapped_columns_hold_them() {
    let file = corpus("nul-bytes.csv");
    let text = std::fs::read(&file).unwrap();
    let (events, summary) = completed(&import(&file, "reference"));
    // Record 4's NUL is in `Note`, which the profile does not map.
    assert_eq!(counts(&summary, &events), (4, 2, 2));
    assert_eq!(tracking_numbers(&events), [tn(1), tn(4)]);
    assert_eq!(
        rejected(&summary),
        [
            (
                2,
                3,
                line_start(&text, 3),
                "column `EventDescription` contains a NUL byte".to_owned()
            ),
            (
                3,
                4,
                line_start(&text, 4),
                "column `TrackingNumber` contains a NUL byte".to_owned()
            ),
        ]
    );
}

#[test]
fn a_truncated_gzip_stream_fails_after_delivering_every_whole_record_before_the_cut() {
    let (plain, records) = common::reference_file(2_000_000, 0);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cut.csv.gz");
    std::fs::write(&file, &gz[..gz.len() / 2]).unwrap();

    let run = import(&file, "reference");
    let error = failure(&run);
    // The record the stream broke in: what flate2 can still decompress of the first half.
    let mut decoded = Vec::new();
    let _ = std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&gz[..gz.len() / 2]),
        &mut decoded,
    );
    let whole = decoded.iter().filter(|&&b| b == b'\n').count() as u64 - 1;
    let broken_at = decoded.iter().rposition(|&b| b == b'\n').unwrap() + 1;
    assert!(whole > 0 && whole < records, "{whole} of {records}");
    assert_eq!(
        error,
        format!(
            "tracking-import: reading {}: reading the file failed at record {} (line {}, byte {broken_at}): the gzip stream ends before its end marker: the file is truncated: unexpected end of file (InvalidFile)",
            file.display(),
            whole + 1,
            whole + 2
        )
    );
    let events: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected: Vec<String> = (1..=whole).map(common::tracking_number).collect();
    assert_eq!(tracking_numbers(&events), expected);
}

#[test]
fn a_json_lines_file_with_one_broken_line_rejects_that_line_only() {
    let file = corpus("broken-line.jsonl");
    let text = std::fs::read_to_string(&file).unwrap();
    let line_2 = text.find('\n').unwrap() as u64 + 1;
    let (events, summary) = completed(&import(&file, "reference-jsonl"));
    assert_eq!(counts(&summary, &events), (3, 2, 1));
    assert_eq!(tracking_numbers(&events), [tn(1), tn(3)]);
    assert_eq!(
        rejected(&summary),
        [(
            2,
            2,
            line_2,
            "not a JSON object: EOF while parsing a string at line 1 column 60".to_owned()
        )]
    );
}

#[test]
fn a_row_of_a_type_the_profile_does_not_list_is_rejected_and_reading_goes_on() {
    let file = corpus("unknown-record-type.txt");
    let text = std::fs::read(&file).unwrap();
    let (events, summary) = completed(&import(&file, "unknown-record-type.toml"));
    assert_eq!(counts(&summary, &events), (3, 2, 1));
    // Both event lines take the tracking number of the H line before them.
    let got: Vec<(&str, &str)> = events
        .iter()
        .map(|e| {
            let info = &e["tracking_info"];
            (
                info["tracking_number"].as_str().unwrap(),
                info["carrier_status_code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [("1RC000000000000001", "IT"), ("1RC000000000000001", "DL")]
    );
    assert_eq!(
        rejected(&summary),
        [(
            2,
            3,
            line_start(&text, 3),
            "unknown record type `9`".to_owned()
        )]
    );
}

/// A profile file named by the event (a path, relative to where the CLI runs) is loaded before
/// anything is read, and one that does not load fails the run naming the file and the key.
#[test]
fn a_profile_with_an_unknown_field_or_key_fails_to_load_naming_it() {
    let load = |profile: &str| {
        // A file whose records would be sent under a profile that loads.
        let run = import(&corpus("nul-bytes.csv"), profile);
        assert_eq!(run.stdout, "", "nothing is sent");
        failure(&run).to_owned()
    };
    assert_eq!(
        load("unknown-field.toml"),
        "tracking-import: profile `acme-town` (unknown-field.toml): unknown Connect field `town` in [columns]; known fields: tracking_number, carrier_status_code, carrier_detail_code, carrier_status_description, event_date, event_time, event_datetime, event_datetime_format, utc_offset, city, state, postal_code, country, company, signer, latitude, longitude, estimated_delivery, service_code, service_name, weight, shipped_datetime, actual_delivery_datetime, proof_of_delivery_url, shipping_problem, shipping_problem_code, shipping_problem_description, packaging, package_count, length, width, height, event_code, carrier_name (InvalidProfile)"
    );
    let message = load("unknown-key.toml");
    assert!(
        message.starts_with(
            "tracking-import: profile `unknown-key.toml` is not valid TOML for a profile: "
        ),
        "{message}"
    );
    assert!(
        message.contains("unknown field `timezone`") && message.contains("line 4"),
        "{message}"
    );
    assert!(message.ends_with(" (InvalidProfile)"), "{message}");
}

#[test]
fn an_event_file_that_is_not_json_fails_saying_so() {
    let event = corpus("not-json.json");
    let run = cli(&event, "null");
    assert_eq!(
        failure(&run),
        format!(
            "tracking-import: {}: the event is not JSON: expected ident at line 1 column 2 (InvalidRequest)",
            event.display()
        )
    );
}

#[test]
fn an_unknown_profile_name_fails_listing_the_built_in_ones() {
    let run = cli(&corpus("unknown-profile.json"), "null");
    assert_eq!(
        failure(&run),
        "tracking-import: unknown profile `acme-express`: neither a built-in profile (reference, dhl, reference-jsonl, ups, fedex, x12-214, edifact-iftsta) nor a profile URI (s3://…, file://… or a path to a .toml file) (InvalidProfile)"
    );
    assert_eq!(run.stdout, "");
}

/// An App on local files only, sending nowhere.
fn local_app() -> App {
    App {
        config: Config::default(),
        source: Arc::new(Sources {
            s3: None,
            file: FileSource,
        }),
        sink: Arc::new(NullSink),
        state: None,
        continuation: None,
        secrets: Arc::new(shared::secrets::SecretResolver::from_env(
            std::time::Duration::ZERO,
        )),
    }
}

/// What the Lambda runtime sends back for a failed invocation.
fn lambda_error(err: ImportError) -> Value {
    serde_json::to_value(lambda_runtime::Diagnostic::from(err)).unwrap()
}

#[tokio::test]
async fn the_handler_answers_events_that_are_not_requests_with_invalid_request() {
    let app = local_app();
    let text = std::fs::read_to_string(corpus("not-json.json")).unwrap();
    // What reaches the handler when a caller sends the text as a JSON string, or other JSON
    // that is not an object.
    for event in [json!(text), json!(null), json!(42), json!([1, 2])] {
        let err = app.handle(event.clone()).await.unwrap_err();
        let answer = lambda_error(err);
        assert_eq!(answer["errorType"], "InvalidRequest", "{event}");
        let message = answer["errorMessage"].as_str().unwrap();
        assert!(
            message.starts_with("the event is neither a Connect ImportTrackingEvents request nor an EventBridge event carrying one: invalid type: "),
            "{message}"
        );
    }
}

#[tokio::test]
async fn the_handler_answers_an_unknown_profile_with_invalid_profile() {
    let text = std::fs::read_to_string(corpus("unknown-profile.json")).unwrap();
    let err = local_app()
        .handle(serde_json::from_str(&text).unwrap())
        .await
        .unwrap_err();
    assert_eq!(
        lambda_error(err),
        json!({"errorType": "InvalidProfile", "errorMessage":
            "unknown profile `acme-express`: neither a built-in profile (reference, dhl, reference-jsonl, ups, fedex, x12-214, edifact-iftsta) nor a profile URI (s3://…, file://… or a path to a .toml file)"})
    );
}

/// Bytes that are not JSON never reach the handler: Lambda's runtime client parses the payload
/// first. Run the real Lambda binary against a stand-in Runtime API: the bad invocation is
/// answered with an error, and the function stays up and answers the next one.
#[tokio::test]
async fn the_lambda_answers_a_payload_that_is_not_json_and_serves_the_next() {
    let not_json = std::fs::read(corpus("not-json.json")).unwrap();
    let unknown_profile = std::fs::read(corpus("unknown-profile.json")).unwrap();
    let mut api = common::runtime_api::RuntimeApi::start(vec![not_json, unknown_profile]).await;
    let output = tempfile::NamedTempFile::new().unwrap();
    let mut lambda =
        common::runtime_api::lambda(env!("CARGO_BIN_EXE_import-tracking-events"), &api, &output)
            .spawn()
            .unwrap();
    let logs = || std::fs::read_to_string(output.path()).unwrap();

    let mut answers = Vec::new();
    while answers.len() < 2 {
        tokio::select! {
            answer = api.answer() => answers.push(answer),
            status = lambda.wait() => panic!(
                "the function exited ({status:?}) after {} answers:\n{}", answers.len(), logs()
            ),
        }
    }
    assert!(
        lambda.try_wait().unwrap().is_none(),
        "the function exited after a bad invocation"
    );
    lambda.kill().await.unwrap();
    assert!(!logs().contains("panicked"), "{}", logs());

    let (id, kind, body) = &answers[0];
    assert_eq!((id.as_str(), kind.as_str()), ("invocation-1", "error"));
    // The runtime's own naming (the type name of a reference to its error).
    assert_eq!(
        body["errorType"],
        "&lambda_runtime::deserializer::DeserializeError"
    );
    assert_eq!(
        body["errorMessage"].as_str().unwrap().trim_end(),
        "failed to deserialize the incoming data into the function's payload type: expected ident at line 1 column 2"
    );
    let (id, kind, body) = &answers[1];
    assert_eq!((id.as_str(), kind.as_str()), ("invocation-2", "error"));
    assert_eq!(body["errorType"], "InvalidProfile");
}

/// A profile from `profiles/examples/`, by path.
fn example_profile(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../profiles/examples")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

/// Events written to stdout before a run failed.
fn sent_before_failing(run: &Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn a_malformed_xml_document_fails_after_the_shipments_before_the_break() {
    let file = corpus("malformed.xml");
    let text = std::fs::read_to_string(&file).unwrap();
    let run = import(&file, &example_profile("xml-shipments.toml"));
    let byte = text.find("</tf:Cod>").unwrap();
    let line = text[..byte].matches('\n').count() + 1;
    assert_eq!(
        failure(&run),
        format!(
            "tracking-import: reading {}: the file is not well-formed XML at line {line}, byte {byte}: ill-formed document: expected `</tf:Code>`, but `</tf:Cod>` was found (InvalidFile)",
            file.display()
        )
    );
    assert_eq!(
        tracking_numbers(&sent_before_failing(&run)),
        ["BAD1", "BAD2"]
    );
}

/// Neither a billion-laughs bomb nor an external entity is ever expanded: a DOCTYPE declaring
/// entities fails the file before any element is read.
#[test]
fn xml_entity_declarations_fail_the_file_unexpanded() {
    for name in ["entity-bomb.xml", "external-entity.xml"] {
        let file = corpus(name);
        let text = std::fs::read_to_string(&file).unwrap();
        let byte = text.find("<!DOCTYPE").unwrap();
        let run = import(&file, &example_profile("xml-shipments.toml"));
        assert_eq!(
            failure(&run),
            format!(
                "tracking-import: reading {}: the file is not well-formed XML at line 2, byte {byte}: the DOCTYPE declares entities; DTDs and entities are never loaded or expanded (InvalidFile)",
                file.display()
            )
        );
        assert!(run.stdout.is_empty(), "{name}: {}", run.stdout);
    }
}

/// A JSON document cut short: the shipment whose array closed is sent; the one still open when
/// the file ended is not (its values could have come after its events).
#[test]
fn an_unclosed_json_array_fails_after_the_shipments_that_closed() {
    let file = corpus("unclosed-array.json");
    let text = std::fs::read_to_string(&file).unwrap();
    let run = import(&file, &example_profile("json-shipments.toml"));
    let lines = text.matches('\n').count() + 1;
    assert_eq!(
        failure(&run),
        format!(
            "tracking-import: reading {}: the file is not well-formed JSON at line {lines}, byte {}: the document ends early (a truncated file) (InvalidFile)",
            file.display(),
            text.len() - 1
        )
    );
    assert_eq!(tracking_numbers(&sent_before_failing(&run)), ["UA1", "UA1"]);
}

/// A shipment holding 20 MB of a value its events need: its events are rejected (not held), and
/// the shipments after it are read. (One text of 20 MB would fail the file instead: no single
/// XML event may pass the limit.)
#[test]
fn a_20_mb_shipment_rejects_its_events_and_reading_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big-shipment.xml");
    let event = |code: &str| {
        format!(
            "<Events><Event><Code>{code}</Code><Time>2026-11-27T14:02:00</Time></Event></Events>"
        )
    };
    // 20 MiB of text in 1 MiB runs (between references): no one XML event is past the limit,
    // the shipment is.
    let big = vec!["S".repeat(1024 * 1024); 20].join("&amp;");
    let text = format!(
        "<TrackingFile>\n<Shipment id=\"OK1\">{}<Service>EXP</Service></Shipment>\n<Shipment id=\"BIG\">{}<Service>{big}</Service></Shipment>\n<Shipment id=\"OK2\">{}</Shipment>\n</TrackingFile>\n",
        event("PU"),
        event("DL"),
        event("DL")
    );
    std::fs::write(&file, &text).unwrap();
    let (events, summary) = completed(&import(&file, &example_profile("xml-shipments.toml")));
    assert_eq!(counts(&summary, &events), (3, 2, 1));
    assert_eq!(tracking_numbers(&events), ["OK1", "OK2"]);
    let byte = text.find("<Event><Code>DL").unwrap() as u64;
    assert_eq!(
        rejected(&summary),
        [(
            2,
            3,
            byte,
            "the `Shipment` element holding this record is larger than 16777216 bytes; its records are not read".to_owned()
        )]
    );
}

/// An X12 message whose SE count disagrees: its records are rejected, with their positions and
/// the reason; the messages around it are sent.
#[test]
fn an_x12_message_with_a_wrong_segment_count_rejects_its_records_only() {
    let file = corpus("wrong-se-count.edi");
    let text = std::fs::read_to_string(&file).unwrap();
    let (events, summary) = completed(&import(&file, &example_profile("x12-214-acme.toml")));
    assert_eq!(counts(&summary, &events), (5, 3, 2));
    assert_eq!(
        tracking_numbers(&events),
        ["1Z0000000001", "1Z0000000001", "1Z0000000003"]
    );
    let reason = "SE-01 says 9 segments, the message has 7: its records are not read";
    let at = |needle: &str| {
        let byte = text.find(needle).unwrap();
        (text[..byte].matches('\n').count() as u64 + 1, byte as u64)
    };
    let ((l1, b1), (l2, b2)) = (at("AT7|D1"), at("AT7|ZZ"));
    assert_eq!(
        rejected(&summary),
        [
            (3, l1, b1, reason.to_owned()),
            (4, l2, b2, reason.to_owned())
        ]
    );
}

/// Broken interchanges fail the file: an ISA that is not X12's fixed 106 characters before
/// anything is read; a missing IEA after the interchange's complete messages.
#[test]
fn broken_x12_envelopes_fail_the_file_saying_why() {
    let profile = example_profile("x12-214-acme.toml");
    let file = corpus("short-isa.edi");
    let run = import(&file, &profile);
    assert_eq!(
        failure(&run),
        format!(
            "tracking-import: reading {}: the file is not well-formed X12 at line 1, byte 0: the ISA segment is not X12's fixed 106 characters: its element separator '|' is not at character 81 (InvalidFile)",
            file.display()
        )
    );
    assert!(run.stdout.is_empty());

    let file = corpus("missing-iea.edi");
    let text = std::fs::read_to_string(&file).unwrap();
    let run = import(&file, &profile);
    let last = text.trim_end().rfind('\n').unwrap() + 1;
    assert_eq!(
        failure(&run),
        format!(
            "tracking-import: reading {}: the file is not well-formed X12 at line {}, byte {last}: the interchange ends inside `ISA`: its trailer is missing (a truncated file) (InvalidFile)",
            file.display(),
            text.trim_end().matches('\n').count() + 1,
        )
    );
    assert_eq!(sent_before_failing(&run).len(), 5);
}

/// A functional group whose GE miscounts its transaction sets: every message vouched for by its
/// own SE is sent, the second interchange's too, and then the file fails naming the GE.
#[test]
fn an_x12_group_whose_ge_miscounts_fails_the_file_after_every_message() {
    let file = corpus("wrong-ge-count.edi");
    let text = std::fs::read_to_string(&file).unwrap();
    let run = import(&file, &example_profile("x12-214-acme.toml"));
    let byte = text.find("GE|3|201").unwrap();
    assert_eq!(
        failure(&run),
        format!(
            "tracking-import: reading {}: the file is not well-formed X12 at line {}, byte {byte}: GE-01 says 3 transaction sets, the functional group has 1 (InvalidFile)",
            file.display(),
            text[..byte].matches('\n').count() + 1
        )
    );
    assert_eq!(
        sent_before_failing(&run).len(),
        5,
        "every message of both interchanges"
    );
}

/// A release character before a segment's terminator makes the terminator data: the segment
/// runs into the next one, the message comes up a segment short, and its count says so.
#[test]
fn a_release_character_at_the_end_of_a_value_swallows_the_terminator() {
    let file = corpus("release-at-end.edifact");
    let text = std::fs::read_to_string(&file).unwrap();
    let (events, summary) = completed(&import(
        &file,
        corpus("iftsta-paths.toml").to_str().unwrap(),
    ));
    assert_eq!(counts(&summary, &events), (2, 1, 1));
    assert_eq!(tracking_numbers(&events), ["REF1"]);
    let byte = text.find("STS+1+21:::Left").unwrap();
    assert_eq!(
        rejected(&summary),
        [(
            2,
            text[..byte].matches('\n').count() as u64 + 1,
            byte as u64,
            "UNT-01 says 5 segments, the message has 4: its records are not read".to_owned()
        )]
    );
}

/// A 20 MB segment is never held: the file fails after the messages before it.
#[test]
fn a_20_mb_segment_fails_the_file_after_the_messages_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big-segment.edi");
    let src = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../profiles/examples/x12-214-acme.edi"),
    )
    .unwrap();
    let huge = format!("L11|{}|ZZ\n", "X".repeat(20 * 1024 * 1024));
    let text = src.replacen("B10|PRO300", &format!("{huge}B10|PRO300"), 1);
    std::fs::write(&file, &text).unwrap();
    let run = import(&file, &example_profile("x12-214-acme.toml"));
    let byte = text.find("L11|XXX").unwrap();
    assert_eq!(
        failure(&run),
        format!(
            "tracking-import: reading {}: the file is not well-formed X12 at line {}, byte {byte}: a segment longer than 16777216 bytes (InvalidFile)",
            file.display(),
            text[..byte].matches('\n').count() + 1
        )
    );
    assert_eq!(
        sent_before_failing(&run).len(),
        4,
        "the two messages before it"
    );
}
