//! What reaches the sink does not depend on how the carrier packed the file: gzip'd or not,
//! named `.gz` or not, CSV or JSON Lines. Runs the real pipeline over files on disk.

mod common;

use std::io::Write;
use std::sync::Arc;

use common::Collect;

use flate2::write::GzEncoder;
use import_tracking_events::decompress::Compression;
use import_tracking_events::envelope::Envelope;
use import_tracking_events::error::ImportError;
use import_tracking_events::pipeline::{self, Progress};
use import_tracking_events::request::ImportJob;
use import_tracking_events::source::{FileSource, Sources};
use import_tracking_events::{Config, Summary};
use serde_json::Value;

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../events/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Imports `bytes` (written to a temp file called `name`) and returns the summary and every
/// event sent, in order.
async fn import(
    name: &str,
    bytes: &[u8],
    profile: &str,
) -> (Result<Summary, ImportError>, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let sink = Arc::new(Collect::default());
    let job = ImportJob {
        source: path.to_str().unwrap().to_owned(),
        profile: profile.into(),
        ..ImportJob::default()
    };
    let sources = Sources {
        s3: None,
        file: FileSource,
    };
    let config = Config {
        max_message_bytes: 8_192,
        ..Config::default()
    };
    let result = pipeline::run(
        &job,
        &sources,
        sink.clone(),
        &config,
        Arc::new(Progress::default()),
    )
    .await;
    let events = sink
        .0
        .lock()
        .unwrap()
        .iter()
        .flat_map(|body| {
            serde_json::from_slice::<Envelope<Value>>(body)
                .unwrap()
                .events
        })
        .collect();
    (result, events)
}

#[tokio::test]
async fn a_gzipd_file_imports_the_same_events_whatever_its_name() {
    let csv = sample("sample-reference.csv");
    let (plain, expected) = import("drop.csv", &csv, "reference").await;
    let plain = plain.unwrap();
    assert_eq!(plain.compression, Compression::None);
    assert_eq!(expected.len() as u64, plain.events_emitted);

    let gz = gzip(&csv);
    for name in ["drop.csv.gz", "drop.csv"] {
        let (summary, events) = import(name, &gz, "reference").await;
        let summary = summary.unwrap();
        assert_eq!(summary.compression, Compression::Gzip, "{name}");
        assert_eq!(
            summary.bytes_read,
            gz.len() as u64,
            "compressed bytes are counted"
        );
        assert_eq!(summary.records_read, plain.records_read);
        assert_eq!(summary.rejected, plain.rejected);
        assert_eq!(events, expected, "{name}");
    }
}

#[tokio::test]
async fn a_truncated_gzip_file_fails_as_an_invalid_file() {
    let (file, _) = {
        let mut text = sample("sample-reference.csv");
        let body = text.split_off(text.iter().position(|&b| b == b'\n').unwrap() + 1);
        for _ in 0..200 {
            text.extend_from_slice(&body);
        }
        (gzip(&text), ())
    };
    let cut = &file[..file.len() * 2 / 3];
    let (result, _) = import("drop.csv.gz", cut, "reference").await;
    let err = result.unwrap_err();
    assert_eq!(err.kind(), "InvalidFile", "{err:?}");
    let text = shared::report(&err);
    assert!(text.contains("drop.csv.gz"), "{text}");
}

#[tokio::test]
async fn json_lines_import_with_their_broken_line_counted() {
    let (summary, events) = import(
        "drop.jsonl",
        &sample("sample-reference.jsonl"),
        "reference-jsonl",
    )
    .await;
    let summary = summary.unwrap();
    let (csv, csv_events) = import("drop.csv", &sample("sample-reference.csv"), "reference").await;
    let csv = csv.unwrap();
    assert_eq!(summary.records_read, csv.records_read + 1);
    assert_eq!(summary.records_rejected, csv.records_rejected + 1);
    assert_eq!(events.len(), csv_events.len());
    let broken = &summary.rejected[0];
    assert_eq!((broken.record, broken.line), (11, 11));
    assert!(
        broken.reason.contains("not a JSON object"),
        "{}",
        broken.reason
    );
    // Same events, record for record (the rejections name each file's own columns).
    for (j, c) in events.iter().zip(&csv_events) {
        assert_eq!(
            j["tracking_info"], c["tracking_info"],
            "tracking_info differs"
        );
    }
}
