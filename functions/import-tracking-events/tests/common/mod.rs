//! Shared fixtures for tests against the local moto server started by `scripts/test.sh`.

// Each test binary uses a part of this module.
#![allow(dead_code, unused_imports)]

pub mod cut;

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, QueueAttributeName};
use import_tracking_events::envelope::{Envelope, Message};
use import_tracking_events::error::SinkError;
use import_tracking_events::sink::{FailedEntry, Sink};
use serde_json::Value;

pub const HEADER: &str = "TrackingNumber,EventCode,EventDescription,EventDate,EventTime,UtcOffset,City,StateProvince,PostalCode,CountryCode,SignedBy,Latitude,Longitude,EstimatedDelivery,ServiceCode,Weight";

pub use test_support::moto::{endpoint, unique};
pub use test_support::runtime_api;

/// An SDK configuration for the local moto server.
pub async fn aws() -> aws_config::SdkConfig {
    test_support::moto::sdk_config().await
}

pub fn s3(shared: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(shared)
            .force_path_style(true)
            .build(),
    )
}

/// A new, empty bucket whose name starts with `prefix`.
pub async fn new_bucket(s3: &aws_sdk_s3::Client, prefix: &str) -> String {
    let bucket = unique(prefix);
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    bucket
}

pub async fn put_object(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) {
    s3.create_bucket().bucket(bucket).send().await.unwrap();
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into())
        .send()
        .await
        .unwrap();
}

pub async fn create_queue(sqs: &aws_sdk_sqs::Client, max_message_bytes: usize) -> String {
    sqs.create_queue()
        .queue_name(unique("events"))
        .attributes(
            QueueAttributeName::MaximumMessageSize,
            max_message_bytes.to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap()
}

/// Every message on the queue (deleted as read), decoded.
pub async fn drain(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<(usize, Envelope<Value>)> {
    let mut out: Vec<(usize, Envelope<Value>)> = Vec::new();
    let mut empty_polls = 0;
    while empty_polls < 2 {
        let got = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .visibility_timeout(600)
            .send()
            .await
            .unwrap();
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            empty_polls += 1;
            continue;
        }
        let mut deletes = Vec::new();
        for (n, m) in messages.into_iter().enumerate() {
            let body = m.body.unwrap();
            out.push((body.len(), serde_json::from_str(&body).unwrap()));
            deletes.push(
                DeleteMessageBatchRequestEntry::builder()
                    .id(n.to_string())
                    .receipt_handle(m.receipt_handle.unwrap())
                    .build()
                    .unwrap(),
            );
        }
        let deleted = sqs
            .delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(deletes))
            .send()
            .await
            .unwrap();
        assert_eq!(deleted.failed, [], "every message read is deleted");
    }
    out.sort_by_key(|(_, e)| e.chunk);
    out
}

/// Every message on the queue (deleted as read), as envelopes in chunk order.
pub async fn drain_envelopes(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<Envelope<Value>> {
    drain(sqs, queue_url)
        .await
        .into_iter()
        .map(|(_, m)| m)
        .collect()
}

/// A deterministic reference-layout file of about `bytes` bytes. Every `bad_every`-th record
/// (if non-zero) has an impossible date. Returns the file and its record count.
pub fn reference_file(bytes: usize, bad_every: u64) -> (Vec<u8>, u64) {
    const CODES: [(&str, &str); 6] = [
        ("MI", "Shipment information received"),
        ("PU", "Picked up"),
        ("AR", "Arrived at hub, \"Dallas\""),
        ("DP", "Departed hub"),
        ("OD", "Out for delivery"),
        ("DL", "Delivered, front door"),
    ];
    let mut out = String::with_capacity(bytes + 256);
    out.push_str(HEADER);
    out.push_str("\r\n");
    let mut n = 0u64;
    while out.len() < bytes {
        n += 1;
        let (code, desc) = CODES[(n % 6) as usize];
        let day = if bad_every > 0 && n.is_multiple_of(bad_every) {
            "2026-02-30".to_owned()
        } else {
            format!("2026-11-{:02}", n % 28 + 1)
        };
        out.push_str(&format!(
            "1RC{n:015},{code},\"{}\",{day},{:02}:{:02}:{:02},-06:00,Austin,TX,78701,US,{},30.2672,-97.7431,,GND,{}.5\r\n",
            desc.replace('"', "\"\""),
            n % 24,
            n % 60,
            (n * 7) % 60,
            if code == "DL" { "J SMITH" } else { "" },
            n % 50
        ));
    }
    (out.into_bytes(), n)
}

/// The tracking number of record `n` in [`reference_file`].
pub fn tracking_number(n: u64) -> String {
    format!("1RC{n:015}")
}

/// The good records of a [`reference_file`] with `bad_every`.
pub fn good_records(records: u64, bad_every: u64) -> Vec<u64> {
    (1..=records)
        .filter(|n| bad_every == 0 || !n.is_multiple_of(bad_every))
        .collect()
}

/// Checks that `messages` deliver exactly `good` (tracking numbers of these records, in order)
/// under one import id, chunk numbers 1..=N without gaps; a chunk may appear more than once only
/// from `replays_from` on, and its copies must be identical. Returns the number of chunks.
pub fn exactly_once(messages: &[Envelope<Value>], good: &[u64], replays_from: u64) -> u64 {
    let mut chunks: BTreeMap<u64, &Envelope<Value>> = BTreeMap::new();
    for m in messages {
        assert_eq!(m.import_id, messages[0].import_id, "one import id");
        if let Some(earlier) = chunks.insert(m.chunk, m) {
            assert!(
                m.chunk >= replays_from,
                "chunk {} was sent twice, but it was settled before the last checkpoint (chunk {replays_from} on may repeat)",
                m.chunk
            );
            assert_eq!(
                earlier, m,
                "a replayed chunk {} differs from the first",
                m.chunk
            );
        }
    }
    let numbers: Vec<u64> = chunks.keys().copied().collect();
    assert_eq!(
        numbers,
        (1..=numbers.len() as u64).collect::<Vec<_>>(),
        "chunk numbers have no gaps"
    );
    let delivered: Vec<String> = chunks
        .values()
        .flat_map(|m| m.events.iter())
        .map(|e| {
            e["tracking_info"]["tracking_number"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let expected: Vec<String> = good.iter().map(|&n| tracking_number(n)).collect();
    assert_eq!(delivered.len(), expected.len(), "events delivered");
    assert!(delivered == expected, "every good record once, in order");
    numbers.len() as u64
}

/// Message bodies as envelopes.
pub fn decode(bodies: &[Vec<u8>]) -> Vec<Envelope<Value>> {
    bodies
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect()
}

/// Keeps every message body it is sent.
#[derive(Default)]
pub struct Collect(pub Mutex<Vec<Vec<u8>>>);

#[async_trait]
impl Sink for Collect {
    async fn send(&self, entries: &[&Message]) -> Result<Vec<FailedEntry>, SinkError> {
        let mut kept = self.0.lock().unwrap();
        kept.extend(entries.iter().map(|m| m.body()));
        Ok(Vec::new())
    }
}
