//! The import end to end against a real local S3 and SQS (moto): streaming, packing, batching,
//! delivery and the summary, checked against what actually lands in the queue.

mod common;

use std::sync::Arc;

use common::*;
use import_tracking_events::config::EnvelopeEncoding;
use import_tracking_events::envelope::SCHEMA;
use import_tracking_events::error::{ImportError, SourceError};
use import_tracking_events::pipeline::{self, Progress};
use import_tracking_events::request::ImportJob;
use import_tracking_events::sink::SqsSink;
use import_tracking_events::source::{FileSource, S3Source, Sources};
use import_tracking_events::{Config, Summary};

struct Fixture {
    s3: aws_sdk_s3::Client,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    uri: String,
}

async fn fixture(file: Vec<u8>, max_message_bytes: usize) -> Fixture {
    let shared = aws().await;
    let s3 = s3(&shared);
    let sqs = aws_sdk_sqs::Client::new(&shared);
    let bucket = unique("drop");
    put_object(&s3, &bucket, "outbound/file.csv", file).await;
    let queue_url = create_queue(&sqs, max_message_bytes).await;
    Fixture {
        s3,
        sqs,
        queue_url,
        uri: format!("s3://{bucket}/outbound/file.csv"),
    }
}

async fn import(f: &Fixture, config: &Config) -> Result<Summary, ImportError> {
    let sources = Sources {
        s3: Some(S3Source::new(f.s3.clone())),
        file: FileSource,
    };
    let sink = Arc::new(SqsSink::new(f.sqs.clone(), f.queue_url.clone()));
    let job = ImportJob {
        transaction_id: None,
        source: f.uri.clone(),
        profile: "reference".into(),
        ..ImportJob::default()
    };
    pipeline::run(&job, &sources, sink, config, Arc::new(Progress::default())).await
}

#[tokio::test]
async fn a_multi_mb_object_streams_into_contiguous_chunks_with_every_good_record() {
    let (file, records) = reference_file(3_000_000, 997);
    let size = file.len() as u64;
    let f = fixture(file, 65_536).await;
    let config = Config {
        max_message_bytes: 65_536,
        max_batch_bytes: 262_144,
        ..Config::default()
    };
    let summary = import(&f, &config).await.unwrap();

    let bad = records / 997;
    assert_eq!(summary.bytes_read, size);
    assert_eq!(summary.records_read, records);
    assert_eq!(summary.records_rejected, bad);
    assert_eq!(summary.events_emitted, records - bad);
    assert_eq!(summary.rejected[0].record, 997);
    assert_eq!(summary.rejected[0].line, 998);
    assert_eq!(summary.delivered_through_record, records);

    let messages = drain(&f.sqs, &f.queue_url).await;
    assert_eq!(messages.len() as u64, summary.messages_sent);
    assert!(messages.len() > 200, "{} messages", messages.len());
    // Requests: one per batch of at most 4 messages of 64 KiB in 256 KiB.
    assert!(summary.batch_requests >= summary.messages_sent.div_ceil(4));
    let mut next_record = 1;
    for (i, (len, env)) in messages.iter().enumerate() {
        assert!(*len <= 65_536, "message {i} is {len} bytes");
        assert_eq!(env.schema, SCHEMA);
        assert_eq!(env.import_id, summary.import_id);
        assert_eq!(env.chunk, i as u64 + 1, "chunks are 1.. with no gap");
        assert_eq!(env.source.uri, f.uri);
        // A chunk starts right after the last one, at its first event: past a rejected record
        // (every 997th) that falls between two chunks.
        let first_event = if next_record % 997 == 0 {
            next_record + 1
        } else {
            next_record
        };
        assert_eq!(env.first_record, first_event, "chunk {}", env.chunk);
        for ev in &env.events {
            // Skip the rejected ones: every 997th record.
            if next_record % 997 == 0 {
                next_record += 1;
            }
            let tn = ev["tracking_info"]["tracking_number"].as_str().unwrap();
            assert_eq!(tn, tracking_number(next_record), "record {next_record}");
            next_record += 1;
        }
        assert_eq!(env.last_record, next_record - 1);
    }
    assert_eq!(next_record - 1 + u64::from(records % 997 == 0), records);
}

#[tokio::test]
async fn messages_and_batches_fill_to_the_byte_limits() {
    let (file, records) = reference_file(1_000_000, 0);
    let f = fixture(file, 262_144).await;
    let summary = import(&f, &Config::default()).await.unwrap();
    assert_eq!(summary.events_emitted, records);

    let messages = drain(&f.sqs, &f.queue_url).await;
    let largest_event = 700;
    for (i, (len, _)) in messages.iter().enumerate() {
        assert!(*len <= 262_144, "message {i}: {len} bytes");
        if i + 1 < messages.len() {
            assert!(
                *len > 262_144 - largest_event,
                "message {i} closed at {len} bytes with room left"
            );
        }
    }
    // Four nearly full 256 KiB messages fit a 1 MiB batch: requests ≈ bytes / 1 MiB.
    let total: u64 = messages.iter().map(|(len, _)| *len as u64).sum();
    assert_eq!(total, summary.message_bytes);
    assert_eq!(summary.batch_requests, summary.messages_sent.div_ceil(4));
    assert_eq!(summary.batch_requests, total.div_ceil(1_048_576));
}

/// Plain or gzip'd, the same file version makes the same messages on every run; gzip'd ones go
/// through SQS and decode to every event.
#[tokio::test]
async fn the_same_object_version_yields_the_same_chunks() {
    let (file, records) = reference_file(300_000, 50);
    let f = fixture(file, 65_536).await;
    for envelope_encoding in [EnvelopeEncoding::Json, EnvelopeEncoding::Gzip] {
        let config = Config {
            max_message_bytes: 16_384,
            envelope_encoding,
            ..Config::default()
        };
        let first = import(&f, &config).await.unwrap();
        let a = drain(&f.sqs, &f.queue_url).await;
        let second = import(&f, &config).await.unwrap();
        let b = drain(&f.sqs, &f.queue_url).await;
        assert_eq!(first.import_id, second.import_id);
        assert_eq!(a.len(), b.len());
        for ((_, x), (_, y)) in a.iter().zip(&b) {
            assert_eq!(x, y);
        }
        let events: usize = a
            .iter()
            .map(|(len, env)| {
                assert!(*len <= 16_384, "{len} bytes");
                env.decoded_events().unwrap().len()
            })
            .sum();
        assert_eq!(events as u64, records - records / 50);
        let gzipped = a.iter().all(|(_, env)| env.events_gzip.is_some());
        assert_eq!(gzipped, envelope_encoding == EnvelopeEncoding::Gzip);
    }
}

#[tokio::test]
async fn a_missing_object_is_a_clear_error() {
    let f = fixture(b"x".to_vec(), 65_536).await;
    let f = Fixture {
        uri: f.uri.replace("file.csv", "nope.csv"),
        ..f
    };
    let err = import(&f, &Config::default()).await.unwrap_err();
    assert!(
        matches!(err, ImportError::Source(SourceError::NotFound { .. })),
        "{err:?}"
    );
    assert_eq!(err.kind(), "SourceNotFound");
    assert!(err.to_string().contains("nope.csv"), "{err}");
}

#[tokio::test]
async fn a_header_without_a_profile_column_sends_nothing() {
    let file = "TrackingNumber,EventCode,EventDate,EventTime\n1RC1,DL,2026-11-24,10:00:00\n";
    let f = fixture(file.as_bytes().to_vec(), 65_536).await;
    let err = import(&f, &Config::default()).await.unwrap_err();
    let msg = shared::report(&err);
    assert!(
        msg.contains("EventDescription") && msg.contains("`reference`"),
        "{msg}"
    );
    assert_eq!(err.kind(), "InvalidFile");
    assert!(drain(&f.sqs, &f.queue_url).await.is_empty());
}
