//! Why this exists: a change to the import's shape must not change what consumers receive. This
//! runs the real pipeline over a file into a sink that keeps only a digest of every message body
//! (by chunk), so two builds can be compared byte for byte on any file size without a queue.
//!
//! ```text
//! cargo run --release --example chunk_digest -- FILE [PROFILE]    # prints: messages, bytes, digest
//! ```
//!
//! The digest is FNV-1a (64-bit) over the bodies in chunk order, each preceded by its chunk
//! number and length: stable across builds and machines.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use import_tracking_events::Config;
use import_tracking_events::envelope::Message;
use import_tracking_events::error::SinkError;
use import_tracking_events::pipeline::{self, Progress};
use import_tracking_events::request::ImportJob;
use import_tracking_events::sink::{FailedEntry, Sink};
use import_tracking_events::source::{FileSource, Sources};

/// Every body's (chunk, FNV-1a, length).
#[derive(Default)]
struct Digests(Mutex<Vec<(u64, u64, usize)>>);

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[async_trait]
impl Sink for Digests {
    async fn send(&self, entries: &[&Message]) -> Result<Vec<FailedEntry>, SinkError> {
        let mut kept = self.0.lock().unwrap();
        for m in entries {
            let body = m.body();
            kept.push((m.chunk, fnv1a(&body), body.len()));
        }
        Ok(Vec::new())
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let file = args.next().expect("usage: chunk_digest FILE [PROFILE]");
    let profile = args.next().unwrap_or_else(|| "reference".to_owned());
    let job = ImportJob {
        source: file,
        profile,
        ..ImportJob::default()
    };
    let sources = Sources {
        s3: None,
        file: FileSource,
    };
    let digests = Arc::new(Digests::default());
    let config = Config::from_env().expect("configuration");
    let summary = pipeline::run(
        &job,
        &sources,
        Arc::clone(&digests) as Arc<dyn Sink>,
        &config,
        Arc::new(Progress::default()),
    )
    .await
    .expect("the import runs");
    let mut all = digests.0.lock().unwrap().clone();
    all.sort();
    let mut combined = Vec::new();
    for (chunk, hash, len) in &all {
        combined.extend_from_slice(&chunk.to_le_bytes());
        combined.extend_from_slice(&(*len as u64).to_le_bytes());
        combined.extend_from_slice(&hash.to_le_bytes());
    }
    let bytes: usize = all.iter().map(|(_, _, len)| len).sum();
    println!(
        "messages {} bytes {bytes} digest {:016x} events {} rejected {}",
        all.len(),
        fnv1a(&combined),
        summary.events_emitted,
        summary.records_rejected
    );
}
