//! The queue message contract that consumers code against is the JSON Schema committed in
//! `schema/`. It is generated from the Rust types, so this test fails whenever the types and the
//! committed file drift apart, and checks that what the pipeline really sends validates against
//! the committed file (not just against what the types claim).
//!
//! Regenerate after an intended change with
//! `UPDATE_SCHEMA=1 cargo test -p import-tracking-events --test schema`, then review
//! `git diff schema/`: a change that could reject a message valid before needs a new `SCHEMA`
//! version, not an edit of this one.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::Collect;

use import_tracking_events::Config;
use import_tracking_events::config::EnvelopeEncoding;
use import_tracking_events::envelope::{Envelope, SCHEMA};
use import_tracking_events::pipeline::{self, Progress};
use import_tracking_events::request::ImportJob;
use import_tracking_events::source::{FileSource, Sources};
use schemars::Schema;
use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use serde_json::{Value, json};
use shared::models::{StandardizedStatusCode, StandardizedStatusDetailCode};

const REGENERATE: &str = "UPDATE_SCHEMA=1 cargo test -p import-tracking-events --test schema";

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate sits in functions/")
}

fn schema_path() -> PathBuf {
    workspace()
        .join("schema")
        .join(format!("{SCHEMA}.schema.json"))
}

/// The schema of what the import sends (not of everything serde would accept).
fn generated() -> Value {
    let schema = SchemaSettings::draft2020_12()
        .for_serialize()
        .with(|s| {
            s.transforms.push(Box::new(RecursiveTransform(no_nulls)));
            s.transforms
                .push(Box::new(RecursiveTransform(standard_formats_only)));
        })
        .into_generator()
        .into_root_schema_for::<Envelope>();
    let mut schema = serde_json::to_value(schema).unwrap();
    // JSON has no comments; this tells whoever opens the file not to edit it by hand.
    schema["$comment"] = json!(format!(
        "The {SCHEMA} SQS message contract, generated from the Rust types by \
         functions/import-tracking-events/tests/schema.rs, which fails when they drift apart. \
         Do not edit; regenerate with: {REGENERATE}"
    ));
    schema
}

/// Absent optionals are left out of a message, never sent as `null`, but schemars describes an
/// `Option` as nullable; dropping the `null` keeps consumers' generated types and validators
/// from planning for values that never come.
fn no_nulls(schema: &mut Schema) {
    if let Some(Value::Array(types)) = schema.get_mut("type") {
        types.retain(|t| t != "null");
        if let [only] = types.as_slice() {
            let only = only.clone();
            schema.insert("type".into(), only);
        }
    }
    if let Some(Value::Array(alternatives)) = schema.get_mut("anyOf") {
        alternatives.retain(|a| a != &json!({"type": "null"}));
        if let [only] = alternatives.as_slice() {
            let only = only.clone();
            schema.remove("anyOf");
            for (key, value) in only.as_object().into_iter().flatten() {
                schema.insert(key.clone(), value.clone());
            }
        }
    }
}

/// schemars names Rust number types in `format` (`uint64`, `double`); strict validators such as
/// Ajv refuse to compile a schema with formats they do not know, and `minimum` already says what
/// matters. JSON Schema's own formats stay.
fn standard_formats_only(schema: &mut Schema) {
    const STANDARD: &[&str] = &[
        "date-time",
        "date",
        "time",
        "duration",
        "email",
        "hostname",
        "ipv4",
        "ipv6",
        "uri",
        "uri-reference",
        "uuid",
    ];
    if let Some(Value::String(format)) = schema.get("format")
        && !STANDARD.contains(&format.as_str())
    {
        schema.remove("format");
    }
}

fn updating() -> bool {
    std::env::var_os("UPDATE_SCHEMA").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The committed schema. While updating, the freshly generated one: the other tests in this
/// binary run concurrently with the rewrite and must not fail on the file being replaced.
fn committed() -> Value {
    if updating() {
        return generated();
    }
    let path = schema_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}\nGenerate it with: {REGENERATE}",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "{} is not JSON: {e}\nRegenerate: {REGENERATE}",
            path.display()
        )
    })
}

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&committed()).expect("the committed schema is a valid JSON Schema")
}

/// Every reason `message` fails validation, one per line; empty when it is valid.
fn errors(validator: &jsonschema::Validator, message: &Value) -> String {
    validator
        .iter_errors(message)
        .map(|e| format!("{} at {}\n", e, e.instance_path()))
        .collect()
}

#[test]
fn committed_schema_matches_the_types() {
    let generated = generated();
    let path = schema_path();
    if updating() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut text = serde_json::to_string_pretty(&generated).unwrap();
        text.push('\n');
        // Write then rename, so nothing ever reads half a schema.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        eprintln!(
            "wrote {}; review it with `git diff schema/`",
            path.display()
        );
        return;
    }
    // Compared as JSON values, so key order and whitespace in the file do not count as drift.
    assert!(
        committed() == generated,
        "{} no longer matches the Rust types of the queue message.\n\
         If the change is intended, regenerate it with:\n    {REGENERATE}\n\
         and review `git diff schema/` (bump SCHEMA for a change consumers could trip on).",
        path.display()
    );
}

/// Every message the real pipeline sends for the sample file, as parsed JSON.
async fn sample_messages() -> Vec<Value> {
    sample_messages_in(EnvelopeEncoding::Json).await
}

/// [`sample_messages`], with messages in `encoding`.
async fn sample_messages_in(encoding: EnvelopeEncoding) -> Vec<Value> {
    let path = workspace().join("events/sample-reference.csv");
    let sink = Arc::new(Collect::default());
    let job = ImportJob {
        source: path.to_str().unwrap().to_owned(),
        profile: "reference".into(),
        ..ImportJob::default()
    };
    let sources = Sources {
        s3: None,
        file: FileSource,
    };
    // Small messages, so the sample spans several chunks.
    let config = Config {
        max_message_bytes: 4_096,
        envelope_encoding: encoding,
        ..Config::default()
    };
    pipeline::run(
        &job,
        &sources,
        sink.clone(),
        &config,
        Arc::new(Progress::default()),
    )
    .await
    .expect("the sample file imports");
    let bodies = sink.0.lock().unwrap();
    bodies
        .iter()
        .map(|body| serde_json::from_slice(body).expect("a message body is JSON"))
        .collect()
}

#[tokio::test]
async fn every_message_of_the_sample_import_validates() {
    let validator = validator();
    let messages = sample_messages().await;
    assert!(
        messages.len() > 1,
        "the sample should span several chunks, got {}",
        messages.len()
    );
    for message in &messages {
        let errors = errors(&validator, message);
        assert!(
            errors.is_empty(),
            "chunk {} does not validate:\n{errors}",
            message["chunk"]
        );
    }
}

/// With `ENVELOPE_ENCODING=gzip` every message validates, carries `events_gzip` only, and its
/// events decode to exactly the events the JSON encoding sends, in order.
#[tokio::test]
async fn gzip_messages_validate_and_decode_to_the_same_events() {
    let validator = validator();
    let gzip = sample_messages_in(EnvelopeEncoding::Gzip).await;
    let json = sample_messages().await;
    let mut decoded = Vec::new();
    for message in &gzip {
        let errors = errors(&validator, message);
        assert!(errors.is_empty(), "chunk {}:\n{errors}", message["chunk"]);
        assert!(message.get("events").is_none(), "{message}");
        let envelope: Envelope<Value> = serde_json::from_value(message.clone()).unwrap();
        decoded.extend(envelope.decoded_events().unwrap());
    }
    let plain: Vec<Value> = json
        .iter()
        .flat_map(|m| m["events"].as_array().unwrap().clone())
        .collect();
    assert_eq!(decoded, plain);
    // Fewer bytes (these 4 KiB messages are mostly header); more messages, each bound to fit
    // its events however they compress.
    let bytes = |ms: &[Value]| ms.iter().map(|m| m.to_string().len()).sum::<usize>();
    assert!(
        bytes(&gzip) * 2 < bytes(&json),
        "{} vs {}",
        bytes(&gzip),
        bytes(&json)
    );

    // `events` and `events_gzip` together, or neither, is not a message.
    let mut both = gzip[0].clone();
    both["events"] = json[0]["events"].clone();
    assert!(!validator.is_valid(&both));
    let mut neither = gzip[0].clone();
    neither.as_object_mut().unwrap().remove("events_gzip");
    assert!(!validator.is_valid(&neither));
}

/// A real message with every status code replaced by codes no build knows yet.
async fn message_with_unknown_codes() -> Value {
    let mut message = sample_messages().await.swap_remove(0);
    let info = &mut message["events"][0]["tracking_info"];
    info["standardized_status_code"] = json!("ZZ");
    info["standardized_status_detail_code"] = json!("SOMETHING_NEWER");
    let events = info["events"]
        .as_array_mut()
        .expect("the sample's events carry scans");
    for event in events {
        event["status_code"] = json!("ZZ");
        event["status_detail_code"] = json!("SOMETHING_NEWER");
    }
    message
}

#[tokio::test]
async fn unknown_status_codes_still_validate() {
    let message = message_with_unknown_codes().await;
    let errors = errors(&validator(), &message);
    assert!(errors.is_empty(), "unknown codes were rejected:\n{errors}");

    // And the Rust types, which the schema speaks for, keep them too.
    let envelope: Envelope = serde_json::from_value(message).unwrap();
    let info = envelope.events[0].tracking_info.as_ref().unwrap();
    assert_eq!(
        info.standardized_status_code,
        Some(StandardizedStatusCode::Other("ZZ".into()))
    );
    assert_eq!(
        info.events.as_ref().unwrap()[0].status_detail_code,
        Some(StandardizedStatusDetailCode::Other(
            "SOMETHING_NEWER".into()
        ))
    );
}

#[test]
fn known_codes_are_listed_in_the_schema() {
    // The open enums still tell consumers what to expect: each known code is in the schema.
    let schema = committed().to_string();
    let status = StandardizedStatusCode::KNOWN.iter().map(|c| c.as_str());
    let detail = StandardizedStatusDetailCode::KNOWN
        .iter()
        .map(|c| c.as_str());
    for code in status.chain(detail) {
        assert!(schema.contains(&format!("\"{code}\"")), "{code} is missing");
    }
}

#[tokio::test]
async fn additive_keys_validate_but_broken_messages_do_not() {
    let validator = validator();
    let good = sample_messages().await.swap_remove(0);

    // Consumers must tolerate keys added later within v1.
    let mut extended = good.clone();
    extended["future_key"] = json!(true);
    extended["events"][0]["future_key"] = json!({"x": 1});
    let errors = errors(&validator, &extended);
    assert!(errors.is_empty(), "an added key was rejected:\n{errors}");

    type Breakage = fn(&mut Value);
    let broken: [(&str, Breakage); 7] = [
        ("missing chunk", |m| {
            m.as_object_mut().unwrap().remove("chunk");
        }),
        ("missing import_id", |m| {
            m.as_object_mut().unwrap().remove("import_id");
        }),
        ("chunk 0", |m| m["chunk"] = json!(0)),
        ("another schema version", |m| {
            m["schema"] = json!("tracking-events.v2")
        }),
        ("no events", |m| m["events"] = json!([])),
        ("a numeric status code", |m| {
            m["events"][0]["tracking_info"]["standardized_status_code"] = json!(5)
        }),
        ("geo without long", |m| {
            m["events"][0]["tracking_info"]["events"][0]["geo"] = json!({"lat": 1.0})
        }),
    ];
    for (what, break_it) in broken {
        let mut message = good.clone();
        break_it(&mut message);
        assert!(
            !validator.is_valid(&message),
            "a message with {what} validated"
        );
    }
}
