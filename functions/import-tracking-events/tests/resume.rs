//! Nothing lost, nothing invented when an import is cut short: a run that reaches its deadline
//! continues in new invocations, a dropped source connection is reopened where it broke (S3 on
//! moto and FTP, through proxies that cut them), and a process killed with SIGKILL resumes from
//! its checkpoint. Each test checks exact delivery: every good record is in exactly one chunk
//! number, chunks have no gaps, and a chunk sent twice is only one after the last checkpoint, and
//! then identical.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use common::cut::{CutProxy, Cuts, FtpCutProxy, socket_of};
use common::*;
use flate2::write::GzEncoder;
use import_tracking_events::envelope::Envelope;
use import_tracking_events::error::ContinueError;
use import_tracking_events::handler::{App, Continuation, Invocation};
use import_tracking_events::pipeline::{self, Progress, Status};
use import_tracking_events::request::ImportJob;
use import_tracking_events::source::{
    Connection, FileSource, Fingerprint, FtpSource, S3Source, SftpSource, Source, Sources,
};
use import_tracking_events::state::RejectLine;
use import_tracking_events::state::{self, MemoryStateStore, S3StateStore, StateStore};
use import_tracking_events::{Config, Summary};
use serde_json::{Value, json};

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// Records each continuation it is asked to start.
#[derive(Default)]
struct Recorded(Mutex<Vec<(String, Value)>>);

#[async_trait]
impl Continuation for Recorded {
    async fn start(&self, function: &str, payload: &Value) -> Result<(), ContinueError> {
        self.0
            .lock()
            .unwrap()
            .push((function.to_owned(), payload.clone()));
        Ok(())
    }
}

/// A file too long for one invocation: every invocation's deadline has already passed, so each
/// delivers a little, checkpoints and continues, until the file is whole. No chunk repeats.
#[tokio::test]
async fn a_file_outliving_its_deadline_continues_until_it_is_delivered_whole() {
    let bad_every = 7;
    // Each invocation reads a few thousand records before its first delivery lands (the
    // pipeline's buffers), so the file is several times that.
    let (csv, records) = reference_file(3_000_000, bad_every);
    // The state (checkpoints, and the rejects refilled part by part on every resume) in memory,
    // and in S3 on moto as deployed.
    let on_s3 = {
        let s3 = s3(&aws().await);
        let bucket = unique("continue-state");
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        S3StateStore::new(s3, bucket, "import-state/".into())
    };
    let cases: [(&str, Vec<u8>, Arc<dyn StateStore>); 3] = [
        (
            "plain.csv",
            csv.clone(),
            Arc::new(MemoryStateStore::default()),
        ),
        (
            "packed.csv.gz",
            gzip(&csv),
            Arc::new(MemoryStateStore::default()),
        ),
        ("on-s3.csv", csv.clone(), Arc::new(on_s3)),
    ];
    for (name, bytes, store) in cases {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let uri = format!("file://{}", path.display());
        let sink = Arc::new(Collect::default());
        let continuation = Arc::new(Recorded::default());
        let app = App {
            config: Config {
                max_message_bytes: 4096,
                ..Config::default()
            },
            source: Arc::new(Sources {
                s3: None,
                file: FileSource,
            }),
            sink: sink.clone(),
            state: Some(store.clone()),
            continuation: Some(continuation.clone()),
            secrets: Arc::new(shared::secrets::SecretResolver::from_env(
                std::time::Duration::ZERO,
            )),
        };
        let arn = "arn:aws:lambda:us-east-1:123456789012:function:import";
        let mut event =
            json!({"transaction_id": "t-1", "metadata": {"source": uri, "profile": "reference"}});
        let mut statuses = Vec::new();
        let last = loop {
            let invocation = Invocation {
                deadline: Some(tokio::time::Instant::now()),
                function_arn: Some(arn.into()),
            };
            let summary = app
                .handle_invocation(event.clone(), invocation)
                .await
                .unwrap();
            statuses.push(summary.status);
            if summary.status == Status::Complete {
                break summary;
            }
            assert!(statuses.len() < 100, "{name}: no end in sight");
            let (function, payload) = continuation.0.lock().unwrap().last().cloned().unwrap();
            assert_eq!(function, arn);
            assert_eq!(
                payload["continuation"]["segment"],
                json!(statuses.len() + 1),
                "{name}"
            );
            event = payload;
        };
        let segments = statuses.len() as u64;
        assert!(segments >= 3, "{name}: {statuses:?}");
        assert!(
            statuses[..statuses.len() - 1]
                .iter()
                .all(|s| *s == Status::Continued)
        );

        let good = good_records(records, bad_every);
        let chunks = exactly_once(&decode(&sink.0.lock().unwrap()), &good, u64::MAX);
        let file = &last.files[0];
        assert_eq!(file.segments, segments, "{name}");
        assert!(file.resumed_from_record > 0, "{name}");
        assert_eq!(file.records_read, records, "{name}: over the whole file");
        assert_eq!(file.events_emitted, good.len() as u64, "{name}");
        assert_eq!(file.records_rejected, records - good.len() as u64, "{name}");
        assert_eq!(file.messages_sent, chunks, "{name}");

        // Every rejected record is in the rejects object once, in order, with its raw text.
        let rejects = stored_rejects(store.as_ref(), &uri, &file.import_id).await;
        let rejected: Vec<u64> = rejects.iter().map(|r| r.record).collect();
        let expected: Vec<u64> = (1..=records).filter(|n| n % bad_every == 0).collect();
        assert_eq!(rejected, expected, "{name}: rejects object");
        assert!(
            rejects[0].raw.contains(&tracking_number(bad_every)),
            "{:?}",
            rejects[0]
        );
        assert!(rejects[0].raw.contains("2026-02-30"), "{:?}", rejects[0]);
        assert_eq!(rejects[0].line, bad_every + 1, "the header is line 1");
        assert!(!rejects[0].reason.is_empty());

        // Done: recorded as imported, no checkpoint or claim left behind.
        let doc = store
            .load(&state::connection_key(&uri), &uri)
            .await
            .unwrap()
            .state;
        assert!(
            doc.checkpoints.is_empty() && doc.claims.is_empty(),
            "{doc:?}"
        );
        assert_eq!(doc.done[&uri].events_emitted, good.len() as u64);
    }
}

/// Every line of an import's rejects object, read through the store part by part (the part
/// after the last is absent).
async fn stored_rejects(store: &dyn StateStore, source: &str, import_id: &str) -> Vec<RejectLine> {
    let connection = state::connection_key(source);
    let mut lines = Vec::new();
    for part in 0.. {
        let Some(body) = store
            .load_rejects(&connection, import_id, part)
            .await
            .unwrap()
        else {
            break;
        };
        let text = String::from_utf8(body).unwrap();
        let part_lines: Vec<RejectLine> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(
            part_lines.len() as u64 <= state::PART_RECORDS,
            "part {part}"
        );
        lines.extend(part_lines);
    }
    lines
}

fn s3_job(uri: &str) -> ImportJob {
    ImportJob {
        source: uri.to_owned(),
        profile: "reference".into(),
        ..ImportJob::default()
    }
}

async fn import_via(
    source: &dyn Source,
    uri: &str,
    config: &Config,
) -> (
    Result<Summary, import_tracking_events::ImportError>,
    Vec<Vec<u8>>,
) {
    let sink = Arc::new(Collect::default());
    let job = s3_job(uri);
    let run = pipeline::run(
        &job,
        source,
        sink.clone(),
        config,
        Arc::new(Progress::default()),
    );
    let result = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the import finished in time");
    let bodies = sink.0.lock().unwrap().clone();
    (result, bodies)
}

fn quick_retries() -> Config {
    Config {
        max_message_bytes: 16_384,
        source_retry_base: Duration::from_millis(20),
        ..Config::default()
    }
}

/// Imports `bytes` (named `name`) from `uri` through `source`, behind a proxy that must have cut
/// the transfer twice (`cuts`): every record arrives exactly once and no byte is read twice.
async fn survives_two_cuts(
    source: &dyn Source,
    uri: &str,
    cuts: &Cuts,
    bytes: &[u8],
    records: u64,
    name: &str,
) {
    let (result, bodies) = import_via(source, uri, &quick_retries()).await;
    let summary = result.unwrap_or_else(|e| panic!("{name}: {}", shared::report(&e)));
    assert_eq!(cuts.made(), 2, "{name}: the proxy cut twice");
    assert_eq!(summary.records_read, records, "{name}");
    assert_eq!(
        summary.bytes_read,
        bytes.len() as u64,
        "{name}: no byte read twice"
    );
    exactly_once(&decode(&bodies), &good_records(records, 0), u64::MAX);
}

/// A carrier server's setting, exported by scripts/local-stack.sh.
fn carrier_env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run under scripts/local-stack.sh"))
}

/// The test servers' account, with room for a slow machine.
fn carrier_login() -> Connection {
    Connection {
        username: Some(carrier_env("CARRIER_USER")),
        password: Some(carrier_env("CARRIER_PASSWORD").into()),
        connect_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(20),
        ..Connection::default()
    }
}

/// A proxy in front of a carrier server that cuts transfers: FTP's (which relays the data
/// connections too), or a plain TCP one (SFTP runs in one connection).
enum Cutter {
    Ftp(FtpCutProxy),
    Tcp(CutProxy),
}

impl Cutter {
    fn port(&self) -> u16 {
        match self {
            Cutter::Ftp(p) => p.addr.port(),
            Cutter::Tcp(p) => p.addr.port(),
        }
    }

    fn cuts(&self) -> &Cuts {
        match self {
            Cutter::Ftp(p) => &p.cuts,
            Cutter::Tcp(p) => &p.cuts,
        }
    }
}

/// A file, plain and gzip'd, on the `scheme` server, imported through `source` from a fresh
/// proxy that cuts each transfer twice, a third of the way through what is left to read.
async fn cut_twice_on_the_server(scheme: &str, source: &dyn Source) {
    let server = scheme.to_uppercase();
    let root = std::path::PathBuf::from(carrier_env(&format!("CARRIER_{server}_ROOT")));
    let dir = unique(&format!("{scheme}cut"));
    std::fs::create_dir_all(root.join(&dir)).unwrap();
    let upstream = format!(
        "{}:{}",
        carrier_env("CARRIER_HOST"),
        carrier_env(&format!("CARRIER_{server}_PORT"))
    )
    .parse()
    .unwrap();
    let (csv, records) = reference_file(1_500_000, 0);
    for (name, bytes) in [("plain.csv", csv.clone()), ("packed.csv.gz", gzip(&csv))] {
        std::fs::write(root.join(&dir).join(name), &bytes).unwrap();
        let cut_after = bytes.len() as u64 / 3;
        let proxy = match scheme {
            "ftp" => Cutter::Ftp(FtpCutProxy::start(upstream, cut_after, 2).await),
            _ => Cutter::Tcp(CutProxy::start(upstream, cut_after, 2).await),
        };
        let uri = format!("{scheme}://127.0.0.1:{}/{dir}/{name}", proxy.port());
        survives_two_cuts(source, &uri, proxy.cuts(), &bytes, records, name).await;
    }
}

/// S3 through a proxy that drops the download twice, mid-body: the object is reopened with a
/// `Range` at the next unread byte, plain and gzip'd alike, and the import is exact.
#[tokio::test]
async fn an_s3_download_cut_mid_body_is_reopened_where_it_broke() {
    let shared = aws().await;
    let direct = s3(&shared);
    let bucket = unique("cut");
    let (csv, records) = reference_file(2_000_000, 0);
    for (key, bytes) in [("plain.csv", csv.clone()), ("packed.csv.gz", gzip(&csv))] {
        put_object(&direct, &bucket, key, bytes.clone()).await;
        let proxy = CutProxy::start(socket_of(&endpoint()), bytes.len() as u64 / 3, 2).await;
        let via_proxy = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&shared)
                .endpoint_url(proxy.url())
                .force_path_style(true)
                .build(),
        );
        let source = S3Source::new(via_proxy);
        let uri = format!("s3://{bucket}/{key}");
        survives_two_cuts(&source, &uri, &proxy.cuts, &bytes, records, key).await;
    }
}

/// FTP through a proxy that closes the data connection twice mid-transfer: the file is
/// reopened with `REST` at the next unread byte.
#[tokio::test]
async fn an_ftp_transfer_cut_mid_file_is_reopened_with_rest() {
    cut_twice_on_the_server("ftp", &FtpSource::new(carrier_login())).await;
}

/// SFTP through a proxy that drops the SSH connection twice mid-file: the file is reopened in a
/// new session (its host key checked again) and read on from the next unread offset.
#[tokio::test]
async fn an_sftp_transfer_cut_mid_file_is_reopened_at_the_next_offset() {
    let source = SftpSource::new(Connection {
        host_key_fingerprint: Some(
            Fingerprint::parse(&carrier_env("CARRIER_SSH_HOST_KEY_FINGERPRINT")).unwrap(),
        ),
        ..carrier_login()
    });
    cut_twice_on_the_server("sftp", &source).await;
}

/// `tracking-import --time-limit 0`: each run stops once something new is delivered,
/// checkpoints and reports `continued` (exit code 0); running the same event again resumes there,
/// until a run reports `complete`. Without `STATE_BUCKET` there is nowhere to resume from, and
/// the time limit is ignored: the file is read to its end.
#[tokio::test]
async fn the_cli_time_limit_stops_and_the_next_run_resumes() {
    let shared = aws().await;
    let s3 = s3(&shared);
    let sqs = aws_sdk_sqs::Client::new(&shared);
    let state_bucket = new_bucket(&s3, "time-limit-state").await;
    let queue_url = create_queue(&sqs, 16_384).await;
    let (csv, records) = reference_file(800_000, 0);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("file.csv");
    std::fs::write(&path, &csv).unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        json!({"transaction_id": "t-1", "metadata": {"source": path, "profile": "reference"}})
            .to_string(),
    )
    .unwrap();
    let run = |state_bucket: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tracking-import"));
        cmd.arg("--event")
            .arg(&event)
            .args(["--time-limit", "0"])
            .env("AWS_ENDPOINT_URL", endpoint())
            .env("QUEUE_URL", &queue_url)
            .env("MAX_MESSAGE_BYTES", "16384")
            // Few records in flight, so that a stop leaves most of the file to the next runs; and
            // the reading thread encoding, as the template deploys it (the handler's tests use
            // an encoder thread).
            .env("ENCODE_WORKERS", "0")
            .env("SEND_CONCURRENCY", "1")
            .env_remove("STATE_BUCKET");
        if let Some(bucket) = state_bucket {
            cmd.env("STATE_BUCKET", bucket);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        summary
    };

    let mut summaries: Vec<Value> = Vec::new();
    while summaries.last().is_none_or(|s| s["status"] != "complete") {
        assert!(summaries.len() < 50, "no end in sight");
        let summary = run(Some(&state_bucket));
        if summary["status"] != "complete" {
            assert_eq!(summary["status"], "continued", "{summary}");
        }
        summaries.push(summary);
    }
    assert!(
        summaries.len() >= 2,
        "the first run stopped at its time limit"
    );
    let last = &summaries[summaries.len() - 1]["files"][0];
    assert_eq!(last["segments"], summaries.len());
    assert_eq!(last["records_read"], records, "counts over the whole file");
    for pair in summaries.windows(2) {
        let (before, after) = (&pair[0]["files"][0], &pair[1]["files"][0]);
        assert_eq!(
            after["resumed_from_record"], before["delivered_through_record"],
            "each run resumes where the one before stopped"
        );
    }
    let messages = drain_envelopes(&sqs, &queue_url).await;
    exactly_once(&messages, &good_records(records, 0), u64::MAX);

    // No state: the time limit cannot stop the run.
    let whole = run(None);
    assert_eq!(whole["status"], "complete", "{whole}");
    assert_eq!(whole["files"][0]["records_read"], records);
    assert_eq!(whole["files"][0]["resumed_from_record"], 0);
}

/// The CLI with S3 state and SQS on moto, its sends stalled mid-file by a proxy that stops
/// answering, killed with SIGKILL once a checkpoint is recorded, then run again once its claim
/// has lapsed: it resumes at the checkpoint, and only chunks after it are sent twice
/// (identically).
#[tokio::test]
async fn a_run_killed_with_sigkill_resumes_from_its_checkpoint() {
    let (csv, records) = reference_file(1_200_000, 0);
    killed_and_resumed("outbound/file.csv", csv, records, "reference").await;
}

/// The same for an XML document, which a resumed run reads again from its start, skipping the
/// records settled before the checkpoint: every record is delivered once per chunk id.
#[tokio::test]
async fn an_xml_document_killed_with_sigkill_resumes_from_its_checkpoint() {
    let (xml, records) = reference_xml(1_200_000);
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("xml-kill.toml");
    std::fs::write(
        &profile,
        "name = \"xml-kill\"\ncarrier_name = \"Reference\"\nformat = \"xml\"\n\
         record = \"File/Shipment/Event\"\n[columns]\ntracking_number = \"@tn\"\n\
         carrier_status_code = \"@code\"\nevent_date = \"@date\"\nevent_time = \"@time\"\n\
         city = \"../@city\"\n[datetime]\ntimezone = \"America/Chicago\"\n\
         [status_map]\nDL = [\"DE\", \"DELIVERED\"]\n",
    )
    .unwrap();
    killed_and_resumed("outbound/file.xml", xml, records, profile.to_str().unwrap()).await;
}

/// Shipments of ten events whose tracking numbers are those of [`reference_file`]'s records,
/// with the city on the shipment (so each record waits for its shipment to close).
fn reference_xml(bytes: usize) -> (Vec<u8>, u64) {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<File>\n");
    let mut n = 0u64;
    while out.len() < bytes {
        out.push_str("<Shipment city=\"Austin\">\n");
        for _ in 0..10 {
            n += 1;
            out.push_str(&format!(
                "  <Event tn=\"{}\" code=\"DL\" date=\"2026-11-{:02}\" time=\"{:02}:{:02}:00\"/>\n",
                tracking_number(n),
                n % 28 + 1,
                n % 24,
                n % 60
            ));
        }
        out.push_str("</Shipment>\n");
    }
    out.push_str("</File>\n");
    (out.into_bytes(), n)
}

/// Imports `body` (put at `key`) with `profile`, its sends stalled by a proxy, kills it with
/// SIGKILL once a checkpoint is recorded, runs it again once its claim has lapsed, and checks
/// that every record was delivered exactly once per chunk id.
async fn killed_and_resumed(key: &str, body: Vec<u8>, records: u64, profile: &str) {
    let shared = aws().await;
    let s3 = s3(&shared);
    let sqs = aws_sdk_sqs::Client::new(&shared);
    let bucket = unique("kill");
    let state_bucket = unique("kill-state");
    s3.create_bucket()
        .bucket(&state_bucket)
        .send()
        .await
        .unwrap();
    put_object(&s3, &bucket, key, body).await;
    let queue_url = create_queue(&sqs, 16_384).await;
    // SQS answers ~15 KB of responses (some ten batches, ~100 of the file's ~400 chunks), then nothing:
    // the first run cannot finish before the test kills it, however fast it runs.
    let stalling = CutProxy::start_stalling(socket_of(&endpoint()), 15_000).await;
    let uri = format!("s3://{bucket}/{key}");
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        json!({"transaction_id": "t-1", "metadata": {"source": uri, "profile": profile}})
            .to_string(),
    )
    .unwrap();
    let cli = |event: &Path, sqs: &str| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tracking-import"));
        cmd.arg("--event")
            .arg(event)
            .env("AWS_ENDPOINT_URL", endpoint())
            .env("AWS_ENDPOINT_URL_SQS", sqs)
            .env("QUEUE_URL", &queue_url)
            .env("STATE_BUCKET", &state_bucket)
            .env("MAX_MESSAGE_BYTES", "16384")
            .env("SEND_CONCURRENCY", "1")
            .env("CHECKPOINT_INTERVAL_MS", "100")
            .env("CLAIM_TTL_SECS", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    };
    let store = S3StateStore::new(s3.clone(), state_bucket.clone(), "import-state/".into());
    let connection = state::connection_key(&uri);
    let checkpoint = || async {
        store
            .load(&connection, &uri)
            .await
            .unwrap()
            .state
            .checkpoints
            .get(&uri)
            .cloned()
    };

    let mut first = cli(&event, &stalling.url()).spawn().unwrap();
    let mut waited = Duration::ZERO;
    loop {
        if checkpoint().await.is_some_and(|c| c.mark.next_chunk > 20) {
            break;
        }
        if first.try_wait().unwrap().is_some() {
            let out = first.wait_with_output().unwrap();
            panic!(
                "the first run ended, though its sends stall: {}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(
            waited < Duration::from_secs(120),
            "no checkpoint within two minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let last = checkpoint()
        .await
        .expect("the checkpoint outlives the process");
    assert!(last.mark.through_record > 0 && last.mark.through_record < records);

    // The dead run's claim lapses CLAIM_TTL_SECS after its last renewal; nothing renews it now.
    // (A run before that would skip the file.)
    let claim = store.load(&connection, &uri).await.unwrap().state.claims[&uri].clone();
    let left = (claim.expires_at - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(10)).await;
    let mut again = cli(&event, &endpoint());
    let second = tokio::task::spawn_blocking(move || again.output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let summary: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(summary["status"], "complete", "{summary}");
    assert_eq!(summary["files_imported"], 1, "{summary}");
    let file = &summary["files"][0];
    assert_eq!(file["resumed_from_record"], last.mark.through_record);
    assert_eq!(file["records_read"], records);
    assert_eq!(file["segments"], 2);
    assert!(
        checkpoint().await.is_none(),
        "done files keep no checkpoint"
    );

    let messages: Vec<Envelope<Value>> = drain(&sqs, &queue_url)
        .await
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    let chunks = exactly_once(&messages, &good_records(records, 0), last.mark.next_chunk);
    assert_eq!(file["messages_sent"], chunks);
}

/// Resuming after any record of any example carrier file (headerless, fixed width, tab and
/// single quotes, windows-1252, two-level codes, a time zone, a snapshot, header/detail lines,
/// XML and JSON documents) delivers exactly the events after that record, under the chunk
/// numbers an uninterrupted import gives them: the file is entered at the record's byte, with
/// the header line put back where the format has one, or read from its start when it has
/// context lines or is a document.
#[tokio::test]
async fn every_example_profile_resumes_after_any_record() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../profiles/examples");
    let examples = [
        ("headerless.toml", "headerless.csv"),
        ("fixed-width.toml", "fixed-width.txt"),
        ("tab-delimited.toml", "tab-delimited.tsv"),
        ("windows-1252.toml", "windows-1252.csv"),
        ("detail-codes.toml", "detail-codes.csv"),
        ("dst-chicago.toml", "dst-chicago.csv"),
        // Documents are read again from their start, skipping the settled records.
        ("xml-shipments.toml", "xml-shipments.xml"),
        ("json-shipments.toml", "json-shipments.json"),
        ("json-events.toml", "json-events.json"),
        ("x12-214-acme.toml", "x12-214-acme.edi"),
        ("iftsta-nordfrakt.toml", "iftsta-nordfrakt.edifact"),
        ("snapshot.toml", "snapshot.csv"),
        // Read again from its start (its shipment lines before the checkpoint fill the events
        // after it), skipping the settled records, one of them rejected.
        ("header-detail.toml", "header-detail.txt"),
    ];
    // One event per message, so chunk N holds the N-th event.
    let config = Config {
        max_message_bytes: 1024,
        ..Config::default()
    };
    for (profile_file, data_file) in examples {
        let profile_path = root.join(profile_file).display().to_string();
        let data = root.join(data_file);
        let profile = shared::Profile::from_toml(
            &std::fs::read_to_string(&profile_path).unwrap(),
            &profile_path,
        )
        .unwrap();
        let runs =
            resumes_after_each_record(&data, &profile_path, &profile, &config, |_, _| true).await;
        assert!(runs >= 3, "{data_file}: {runs} resumed runs");
    }
}

/// Gzip'd messages: resumed at the end of any message, the import sends the very bytes an
/// uninterrupted one sends after it (the same chunks, compressed the same), though the resumed
/// run's encoder batches, and so the pieces its events come in, start elsewhere.
#[tokio::test]
async fn gzip_messages_resume_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("ref.csv");
    std::fs::write(&data, reference_file(400_000, 97).0).unwrap();
    let config = Config {
        max_message_bytes: 16_384,
        envelope_encoding: import_tracking_events::config::EnvelopeEncoding::Gzip,
        ..Config::default()
    };
    let profile = shared::Profile::builtin("reference").unwrap();
    // Where a checkpoint can be: the end of a message (here, every third).
    let ends = |record: u64, all: &[Envelope<Value>]| {
        all.iter()
            .position(|m| m.last_record == record)
            .is_some_and(|i| i % 3 == 0)
    };
    let runs = resumes_after_each_record(&data, "reference", &profile, &config, ends).await;
    assert!(runs >= 10, "{runs} resumed runs");
}

/// Imports `data` whole, then resumed after each record `pick` chooses (given the whole run's
/// messages), with the checkpoint the uninterrupted run would have left there: each resumed run
/// must send exactly the messages the whole run sent after that record, under the same chunk
/// numbers.
async fn resumes_after_each_record(
    data: &Path,
    profile_name: &str,
    profile: &shared::Profile,
    config: &Config,
    pick: impl Fn(u64, &[Envelope<Value>]) -> bool,
) -> usize {
    use import_tracking_events::decompress::Compression;
    use import_tracking_events::state::{Checkpoint, Mark};
    let job = ImportJob {
        source: format!("file://{}", data.canonicalize().unwrap().display()),
        profile: profile_name.to_owned(),
        ..ImportJob::default()
    };
    let name = data.display().to_string();
    let run = |resume: Option<Checkpoint>| {
        let job = job.clone();
        let config = config.clone();
        async move {
            let sink = Arc::new(Collect::default());
            let options = pipeline::Options {
                resume,
                ..pipeline::Options::default()
            };
            let summary = pipeline::run_file(
                &job,
                &FileSource,
                sink.clone(),
                &config,
                Arc::new(Progress::default()),
                options,
            )
            .await
            .unwrap();
            let messages = decode(&sink.0.lock().unwrap());
            (summary, messages)
        }
    };
    let (whole, all) = run(None).await;
    assert!(whole.records_read >= 3, "{name}");
    // Where each record starts, as the reader reports it.
    let file = tokio::fs::File::open(data).await.unwrap();
    let mut reader = shared::RecordReader::new(file, profile);
    let headers: Vec<String> = reader
        .headers()
        .await
        .unwrap()
        .iter()
        .map(|h| String::from_utf8(h.to_vec()).unwrap())
        .collect();
    let mut positions = Vec::new();
    let mut record = shared::Record::default();
    while reader.read(&mut record).await.unwrap() {
        positions.push(record.position);
    }
    let mut resumed_runs = 0;
    for at in positions.iter().filter(|at| pick(at.record, &all)) {
        resumed_runs += 1;
        let settled: Vec<&Envelope<Value>> =
            all.iter().filter(|m| m.last_record <= at.record).collect();
        let events: usize = settled
            .iter()
            .map(|m| m.decoded_events().unwrap().len())
            .sum();
        let checkpoint = Checkpoint {
            version: whole.source_version.clone(),
            import_id: whole.import_id.clone(),
            compression: Compression::None,
            mark: Mark {
                through_record: at.record,
                line: at.line,
                byte: at.byte,
                next_chunk: settled.len() as u64 + 1,
                events: events as u64,
                rejected: 0,
            },
            headers: Some(headers.clone()),
            segments: 1,
            run_id: "r".into(),
            updated_at: chrono::Utc::now(),
        };
        let (resumed, tail) = run(Some(checkpoint)).await;
        let expected: Vec<&Envelope<Value>> =
            all.iter().filter(|m| m.first_record > at.record).collect();
        assert_eq!(
            tail.iter().collect::<Vec<_>>(),
            expected,
            "{name}: resumed after record {}",
            at.record
        );
        assert_eq!(resumed.records_read, whole.records_read, "{name}");
        assert_eq!(resumed.resumed_from_record, at.record);
    }
    resumed_runs
}
