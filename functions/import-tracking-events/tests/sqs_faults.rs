//! Delivery under SQS faults, end to end: the real `SqsSink` (aws-sdk-sqs) and real moto, with a
//! fault-injecting HTTP proxy between them. moto never fails an entry of SendMessageBatch on its
//! own, so without the proxy the partial-failure path (entries in `Failed`, resent alone) and
//! the SDK-level retries (throttling, 503) would only ever be exercised against test doubles.
//!
//! The proxy decides faults by chunk number, not by request order, so what it injects — and so
//! every request the pipeline must make — is the same on every run whatever the concurrency.

mod common;

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue, TRANSFER_ENCODING};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use import_tracking_events::discovery;
use import_tracking_events::envelope::Envelope;
use import_tracking_events::error::{ImportError, SinkError};
use import_tracking_events::pipeline::{self, Progress, Status};
use import_tracking_events::request::ImportJob;
use import_tracking_events::sink::SqsSink;
use import_tracking_events::source::{FileSource, S3Source, Sources};
use import_tracking_events::state::Once;
use import_tracking_events::state::{self, MemoryStateStore, StateStore};
use import_tracking_events::{Config, Summary};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// How many times the proxy reports a chunk as failed before letting it through.
type FailurePlan = fn(u64) -> u32;
/// Whether to refuse a whole SendMessageBatch request the first time its chunk list is seen,
/// which the SDK must retry by itself (the pipeline never sees it).
type RefusalPlan = fn(&[u64]) -> Option<Refusal>;

const FOREVER: u32 = u32::MAX;
const INJECTED_CODE: &str = "InternalError";
const INJECTED_MESSAGE: &str = "injected by test proxy";
/// The pipeline's batches: 10 messages of at most 16 KiB stay far below `MAX_BATCH_BYTES`, so
/// batch `n` is exactly chunks `10n+1..=10n+10`. The expected requests are derived from that.
const MESSAGE_BYTES: usize = 16_384;
const ENTRIES_PER_BATCH: u64 = 10;
/// About 175 chunks (18 batches). Reading the queue back costs moto time per message that grows
/// with the queue's length (~15 s for a 1 MB file's 350 chunks), so the file is no larger than
/// the faults below need.
const FILE_BYTES: usize = 500_000;
/// Upper bound for one import through the proxy; a hang must fail the test, not stall CI.
const RUN_LIMIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// 400 with SQS's modelled throttling error, which the SDK classifies as throttling.
    Throttled,
    /// 503, which the SDK classifies as transient.
    Unavailable,
}

/// What the proxy saw and did.
#[derive(Debug, Default)]
struct Counts {
    /// SendMessageBatch requests answered with 200 (forwarded, or all entries failed by us).
    batch_requests: u64,
    /// The chunk list of each of those, in arrival order.
    batch_lists: Vec<Vec<u64>>,
    /// SendMessageBatch requests refused before they reached moto.
    refused: u64,
    /// Entries reported in `Failed` by the proxy.
    injected: u64,
    /// Other requests, forwarded unchanged.
    other_requests: u64,
    /// Anything that went wrong inside the proxy; a proxy bug must fail the test, not pass as a
    /// fault the SDK quietly retries.
    errors: Vec<String>,
}

#[derive(Default)]
struct State {
    counts: Counts,
    failed_so_far: HashMap<u64, u32>,
    seen_lists: HashSet<Vec<u64>>,
}

struct Shared {
    upstream: String,
    client: Client<HttpConnector, Full<Bytes>>,
    fail: FailurePlan,
    refuse: RefusalPlan,
    /// Once set, no entry is failed any more (the fault has passed).
    healed: std::sync::atomic::AtomicBool,
    state: Mutex<State>,
}

/// The proxy, listening on 127.0.0.1 until dropped.
struct Proxy {
    url: String,
    shared: Arc<Shared>,
    accept: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl Proxy {
    async fn start(upstream: String, fail: FailurePlan, refuse: RefusalPlan) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
            fail,
            refuse,
            healed: Default::default(),
            state: Mutex::new(State::default()),
        });
        let for_accept = Arc::clone(&shared);
        let accept = tokio::spawn(async move {
            loop {
                let stream = match listener.accept().await {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        // Usually transient (a connection reset before accept); pausing keeps a
                        // persistent error from spinning, and the import's time limit bounds it.
                        for_accept.error(format!("accept: {e}"));
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                let shared = Arc::clone(&for_accept);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = Arc::clone(&shared);
                        async move { Ok::<_, Infallible>(shared.handle(req).await) }
                    });
                    // A connection the client drops mid-request is not a fault of the import.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Proxy {
            url,
            shared,
            accept,
        }
    }

    /// Stops injecting entry failures.
    fn heal(&self) {
        self.shared
            .healed
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    fn counts<T>(&self, f: impl FnOnce(&Counts) -> T) -> T {
        f(&self.shared.state.lock().unwrap().counts)
    }
}

type Reply = Response<Full<Bytes>>;

impl Shared {
    async fn handle(&self, req: Request<Incoming>) -> Reply {
        let is_batch = req
            .headers()
            .get("x-amz-target")
            .is_some_and(|v| v.as_bytes() == b"AmazonSQS.SendMessageBatch");
        let result = async {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| format!("reading the request: {e}"))?
                .to_bytes();
            let req = Request::from_parts(parts, body);
            if is_batch {
                self.send_message_batch(req).await
            } else {
                self.state.lock().unwrap().counts.other_requests += 1;
                self.forward(req).await
            }
        }
        .await;
        result.unwrap_or_else(|e| {
            self.error(e.clone());
            reply(StatusCode::BAD_GATEWAY, json!({ "proxy_error": e }))
        })
    }

    fn error(&self, e: String) {
        self.state.lock().unwrap().counts.errors.push(e);
    }

    async fn send_message_batch(&self, req: Request<Bytes>) -> Result<Reply, String> {
        let mut doc: Value =
            serde_json::from_slice(req.body()).map_err(|e| format!("request JSON: {e}"))?;
        let entries = doc["Entries"]
            .as_array()
            .ok_or("request without Entries")?
            .clone();
        let chunks = entries
            .iter()
            .map(chunk_of)
            .collect::<Result<Vec<u64>, String>>()?;

        let (kept, failed) = {
            let mut state = self.state.lock().unwrap();
            let first_sighting = state.seen_lists.insert(chunks.clone());
            if first_sighting && let Some(refusal) = (self.refuse)(&chunks) {
                state.counts.refused += 1;
                return Ok(refused(refusal));
            }
            state.counts.batch_requests += 1;
            state.counts.batch_lists.push(chunks.clone());
            let (mut kept, mut failed) = (Vec::new(), Vec::new());
            for (entry, &chunk) in entries.into_iter().zip(&chunks) {
                let so_far = state.failed_so_far.entry(chunk).or_default();
                if !self.healed.load(std::sync::atomic::Ordering::SeqCst)
                    && *so_far < (self.fail)(chunk)
                {
                    *so_far += 1;
                    failed.push(json!({
                        "Id": entry["Id"],
                        "SenderFault": false,
                        "Code": INJECTED_CODE,
                        "Message": INJECTED_MESSAGE,
                    }));
                } else {
                    kept.push(entry);
                }
            }
            state.counts.injected += failed.len() as u64;
            (kept, failed)
        };

        // SQS refuses an empty batch, so a batch we fail whole never reaches moto.
        if kept.is_empty() {
            return Ok(reply(
                StatusCode::OK,
                json!({ "Successful": [], "Failed": failed }),
            ));
        }
        doc["Entries"] = Value::Array(kept);
        let (parts, _) = req.into_parts();
        let body = serde_json::to_vec(&doc).map_err(|e| e.to_string())?;
        let response = self
            .forward(Request::from_parts(parts, Bytes::from(body)))
            .await?;
        if response.status() != StatusCode::OK || failed.is_empty() {
            return Ok(response);
        }
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        let mut out: Value =
            serde_json::from_slice(&body).map_err(|e| format!("moto's response JSON: {e}"))?;
        match out.get_mut("Failed").and_then(Value::as_array_mut) {
            Some(list) => list.extend(failed),
            None => out["Failed"] = Value::Array(failed),
        }
        let body = serde_json::to_vec(&out).map_err(|e| e.to_string())?;
        Ok(with_body(Response::from_parts(parts, ()), body.into()))
    }

    /// Sends the request to moto as it is but for the address and the body's length.
    async fn forward(&self, req: Request<Bytes>) -> Result<Reply, String> {
        let (mut parts, body) = req.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = format!("{}{path}", self.upstream)
            .parse()
            .map_err(|e| format!("upstream URI: {e}"))?;
        parts.headers.remove(TRANSFER_ENCODING);
        parts
            .headers
            .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        let response = tokio::time::timeout(
            Duration::from_secs(10),
            self.client
                .request(Request::from_parts(parts, Full::new(body))),
        )
        .await
        .map_err(|_| "moto did not answer within 10 s".to_owned())?
        .map_err(|e| format!("forwarding to moto: {e}"))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("reading moto's response: {e}"))?
            .to_bytes();
        Ok(with_body(Response::from_parts(parts, ()), body))
    }
}

/// The `chunk` of the envelope an entry carries.
fn chunk_of(entry: &Value) -> Result<u64, String> {
    let body = entry["MessageBody"]
        .as_str()
        .ok_or("entry without MessageBody")?;
    let envelope: Value =
        serde_json::from_str(body).map_err(|e| format!("MessageBody is not JSON: {e}"))?;
    envelope["chunk"]
        .as_u64()
        .ok_or_else(|| "MessageBody without a chunk".to_owned())
}

fn with_body(head: Response<()>, body: Bytes) -> Reply {
    let (mut parts, ()) = head.into_parts();
    parts.headers.remove(TRANSFER_ENCODING);
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
    Response::from_parts(parts, Full::new(body))
}

fn reply(status: StatusCode, body: Value) -> Reply {
    let mut head = Response::new(());
    *head.status_mut() = status;
    head.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    with_body(head, serde_json::to_vec(&body).unwrap().into())
}

/// What SQS's JSON protocol answers when it refuses a request.
fn refused(refusal: Refusal) -> Reply {
    let (status, code, fault) = match refusal {
        Refusal::Throttled => (StatusCode::BAD_REQUEST, "RequestThrottled", "Sender"),
        Refusal::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "Server",
        ),
    };
    let mut response = reply(
        status,
        json!({
            "__type": format!("com.amazonaws.sqs#{code}"),
            "message": INJECTED_MESSAGE,
        }),
    );
    response.headers_mut().insert(
        "x-amzn-query-error",
        HeaderValue::from_str(&format!("{code};{fault}")).unwrap(),
    );
    response
}

/// The requests the pipeline must make for `chunks` messages: for each batch, the full batch,
/// then only the entries still failing, round after round. Returns each request's chunk list
/// (sorted), the injected failures and the refusals.
fn expected_requests(
    chunks: u64,
    fail: FailurePlan,
    refuse: RefusalPlan,
) -> (Vec<Vec<u64>>, u64, u64) {
    let (mut lists, mut injected, mut refusals) = (Vec::new(), 0, 0);
    let mut seen = HashSet::new();
    for start in (1..=chunks).step_by(ENTRIES_PER_BATCH as usize) {
        let batch: Vec<u64> = (start..=chunks.min(start + ENTRIES_PER_BATCH - 1)).collect();
        for round in 0.. {
            let list: Vec<u64> = batch
                .iter()
                .copied()
                .filter(|&c| fail(c) >= round)
                .collect();
            if list.is_empty() {
                break;
            }
            if seen.insert(list.clone()) && refuse(&list).is_some() {
                refusals += 1;
            }
            injected += list.iter().filter(|&&c| fail(c) > round).count() as u64;
            lists.push(list);
        }
    }
    lists.sort();
    (lists, injected, refusals)
}

struct Fixture {
    s3: aws_sdk_s3::Client,
    /// Straight to moto: setting up and reading back must not go through the faults.
    sqs: aws_sdk_sqs::Client,
    /// Through the proxy, retrying like the Lambda's client (src/aws.rs) but with short
    /// backoff, so refused requests cost milliseconds.
    sqs_via_proxy: aws_sdk_sqs::Client,
    queue_url: String,
    uri: String,
    records: u64,
    proxy: Proxy,
}

async fn fixture(fail: FailurePlan, refuse: RefusalPlan) -> Fixture {
    let shared = aws().await;
    let s3 = s3(&shared);
    let sqs = aws_sdk_sqs::Client::new(&shared);
    let (file, records) = reference_file(FILE_BYTES, 0);
    let bucket = unique("faults");
    put_object(&s3, &bucket, "outbound/file.csv", file).await;
    let queue_url = create_queue(&sqs, MESSAGE_BYTES).await;
    let proxy = Proxy::start(endpoint(), fail, refuse).await;
    let sqs_via_proxy = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&shared)
            .endpoint_url(&proxy.url)
            .retry_config(
                // The production policy (8 attempts), with backoff shortened for the test.
                import_tracking_events::aws::retry_config()
                    .with_initial_backoff(Duration::from_millis(10))
                    .with_max_backoff(Duration::from_millis(200)),
            )
            .build(),
    );
    Fixture {
        s3,
        sqs,
        sqs_via_proxy,
        queue_url,
        uri: format!("s3://{bucket}/outbound/file.csv"),
        records,
        proxy,
    }
}

async fn import(f: &Fixture, config: &Config) -> Result<Summary, ImportError> {
    let sources = Sources {
        s3: Some(S3Source::new(f.s3.clone())),
        file: FileSource,
    };
    let sink = Arc::new(SqsSink::new(f.sqs_via_proxy.clone(), f.queue_url.clone()));
    let job = ImportJob {
        transaction_id: None,
        source: f.uri.clone(),
        profile: "reference".into(),
        ..ImportJob::default()
    };
    let run = pipeline::run(&job, &sources, sink, config, Arc::new(Progress::default()));
    tokio::time::timeout(RUN_LIMIT, run)
        .await
        .expect("the import finished in time")
}

/// Checks that `messages` are the chunks `expected` (in order) of one import, each holding its
/// records' events in order; returns the number of events.
fn check_chunks(messages: &[(usize, Envelope<Value>)], expected: &[u64]) -> u64 {
    let chunks: Vec<u64> = messages.iter().map(|(_, e)| e.chunk).collect();
    assert_eq!(chunks, expected, "the chunks on the queue");
    let import_id = &messages[0].1.import_id;
    let mut events = 0;
    let mut previous_last = None;
    for (len, env) in messages {
        assert!(*len <= MESSAGE_BYTES, "chunk {} is {len} bytes", env.chunk);
        assert_eq!(&env.import_id, import_id);
        // Contiguous records across consecutive chunks: nothing was lost between them.
        if let Some((chunk, last)) = previous_last
            && chunk + 1 == env.chunk
        {
            assert_eq!(env.first_record, last + 1, "chunk {}", env.chunk);
        }
        let records: Vec<u64> = (env.first_record..=env.last_record).collect();
        assert_eq!(env.events.len(), records.len(), "chunk {}", env.chunk);
        for (ev, record) in env.events.iter().zip(records) {
            let tn = ev["tracking_info"]["tracking_number"].as_str().unwrap();
            assert_eq!(tn, tracking_number(record), "chunk {}", env.chunk);
        }
        events += env.events.len() as u64;
        previous_last = Some((env.chunk, env.last_record));
    }
    events
}

/// Chunks 1, 4, 7, … fail once; 4, 13, 22, … fail twice; the batch of chunks 51..=60 fails whole
/// once (so that request never reaches moto).
fn flaky(chunk: u64) -> u32 {
    match chunk {
        51..=60 => 1,
        c if c % 9 == 4 => 2,
        c if c % 3 == 1 => 1,
        _ => 0,
    }
}

/// The first try of a request whose first chunk is 11, 51, 91, … is throttled; of one starting at
/// 31, 71, 111, … it gets a 503. That is every fourth batch each, and some resends too (31 fails
/// twice, so its batch is refused on each of its three rounds).
fn throttle_some(chunks: &[u64]) -> Option<Refusal> {
    match chunks[0] % 40 {
        11 => Some(Refusal::Throttled),
        31 => Some(Refusal::Unavailable),
        _ => None,
    }
}

fn never(_: &[u64]) -> Option<Refusal> {
    None
}

#[tokio::test]
async fn failed_entries_are_resent_alone_and_every_record_lands_exactly_once() {
    let f = fixture(flaky, throttle_some).await;
    let config = Config {
        max_message_bytes: MESSAGE_BYTES,
        send_retry_base: Duration::from_millis(5),
        ..Config::default()
    };
    let summary = import(&f, &config).await.unwrap();
    assert_eq!(summary.status, Status::Complete);
    assert_eq!(summary.records_read, f.records);
    assert_eq!(summary.events_emitted, f.records);
    assert_eq!(summary.delivered_through_record, f.records);

    let chunks = summary.messages_sent;
    assert!(
        chunks > 60,
        "{chunks} chunks: the whole-batch failure needs 60"
    );
    let (lists, injected, refusals) = expected_requests(chunks, flaky, throttle_some);
    let batches = chunks.div_ceil(ENTRIES_PER_BATCH);
    f.proxy.counts(|c| {
        assert!(c.errors.is_empty(), "proxy errors: {:?}", c.errors);
        assert_eq!(c.other_requests, 0, "the sink only sends batches");
        assert!(c.injected > 0);
        assert_eq!(c.injected, injected, "entries failed by the proxy");
        assert!(c.refused > 0);
        assert_eq!(c.refused, refusals, "requests refused by the proxy");
        assert_eq!(c.batch_requests, summary.batch_requests);
        assert!(summary.batch_requests > batches);
        // Each request carried exactly the entries expected: failed ones alone, none twice.
        let mut seen = c.batch_lists.clone();
        seen.sort();
        assert_eq!(seen, lists);
    });

    let messages = drain(&f.sqs, &f.queue_url).await;
    assert_eq!(messages.len() as u64, chunks);
    let all: Vec<u64> = (1..=chunks).collect();
    let events = check_chunks(&messages, &all);
    assert_eq!(messages[0].1.import_id, summary.import_id);
    assert_eq!(messages[0].1.first_record, 1);
    assert_eq!(messages.last().unwrap().1.last_record, f.records);
    assert_eq!(events, summary.events_emitted);
    assert_eq!(events, f.records);
    let bytes: u64 = messages.iter().map(|(len, _)| *len as u64).sum();
    assert_eq!(bytes, summary.message_bytes);
}

/// The failing chunk sits mid-batch, so the batch's other entries land before the run fails.
const STUCK_CHUNK: u64 = 25;

fn stuck(chunk: u64) -> u32 {
    if chunk == STUCK_CHUNK { FOREVER } else { 0 }
}

#[tokio::test]
async fn an_entry_failing_forever_fails_the_import_at_the_last_complete_batch() {
    let f = fixture(stuck, never).await;
    let config = Config {
        max_message_bytes: MESSAGE_BYTES,
        send_retry_base: Duration::from_millis(5),
        send_concurrency: 1,
        send_attempts: 3,
        ..Config::default()
    };
    let err = import(&f, &config).await.unwrap_err();
    assert_eq!(err.kind(), "DeliveryFailed");
    let ImportError::Delivery {
        delivered_through,
        checkpointed: false,
        source:
            SinkError::EntriesFailed {
                failed,
                attempts,
                code,
                message,
            },
    } = err
    else {
        panic!("unexpected error: {err:?}");
    };
    assert_eq!((failed, attempts), (1, 3));
    assert_eq!(
        (code.as_str(), message.as_str()),
        (INJECTED_CODE, INJECTED_MESSAGE)
    );

    // One request in flight at a time: batches 1..=10 and 11..=20 land, then 21..=30 lands but
    // for 25, which is tried twice more alone. Nothing after that batch is ever sent.
    f.proxy.counts(|c| {
        assert!(c.errors.is_empty(), "proxy errors: {:?}", c.errors);
        assert_eq!(
            c.batch_lists,
            vec![
                (1..=10).collect(),
                (11..=20).collect(),
                (21..=30).collect(),
                vec![STUCK_CHUNK],
                vec![STUCK_CHUNK],
            ]
        );
        assert_eq!(c.injected, 3);
        assert_eq!(c.refused, 0);
    });

    let messages = drain(&f.sqs, &f.queue_url).await;
    let landed: Vec<u64> = (1..=30).filter(|&c| c != STUCK_CHUNK).collect();
    check_chunks(&messages, &landed);
    let last_record = |chunk: u64| {
        messages
            .iter()
            .find(|(_, e)| e.chunk == chunk)
            .map(|(_, e)| e.last_record)
            .unwrap()
    };
    // The watermark advances by whole batches: chunks 21..=24 are on the queue, but their batch
    // failed, so only the records of chunks 1..=20 are reported as delivered.
    assert_eq!(delivered_through, last_record(20));
    assert!(delivered_through < last_record(STUCK_CHUNK - 1));
}

/// The same stuck entry, with a state store: the failed run checkpoints what was delivered and
/// says so; once the fault passes, the next run resumes at the checkpoint, and the only chunks
/// sent twice are those of the failed batch (after the checkpoint), identical both times.
#[tokio::test]
async fn spent_retries_checkpoint_what_was_delivered_and_the_next_run_resumes_there() {
    let f = fixture(stuck, never).await;
    let config = Config {
        max_message_bytes: MESSAGE_BYTES,
        send_retry_base: Duration::from_millis(5),
        send_concurrency: 1,
        send_attempts: 3,
        ..Config::default()
    };
    let store: Arc<dyn StateStore> = Arc::new(MemoryStateStore::default());
    let sources = Sources {
        s3: Some(S3Source::new(f.s3.clone())),
        file: FileSource,
    };
    let sink: Arc<dyn import_tracking_events::sink::Sink> =
        Arc::new(SqsSink::new(f.sqs_via_proxy.clone(), f.queue_url.clone()));
    let job = ImportJob {
        source: f.uri.clone(),
        profile: "reference".into(),
        ..ImportJob::default()
    };
    let run = || {
        discovery::run(
            &job,
            &sources,
            Some(Once {
                store: Arc::clone(&store),
                claim_ttl: Duration::from_secs(60),
            }),
            Arc::clone(&sink),
            &config,
            Arc::new(Progress::default()),
            None,
        )
    };
    let err = tokio::time::timeout(RUN_LIMIT, run())
        .await
        .unwrap()
        .unwrap_err();
    let ImportError::Delivery {
        delivered_through,
        checkpointed: true,
        ..
    } = &err
    else {
        panic!("unexpected error: {err:?}");
    };
    let delivered_through = *delivered_through;
    assert!(
        err.to_string().contains("checkpointed")
            && err.to_string().contains(&delivered_through.to_string()),
        "{err}"
    );
    let doc = store
        .load(&state::connection_key(&f.uri), &f.uri)
        .await
        .unwrap()
        .state;
    let checkpoint = doc.checkpoints.get(&f.uri).expect("a checkpoint").clone();
    assert_eq!(checkpoint.mark.through_record, delivered_through);
    assert_eq!(checkpoint.mark.next_chunk, 21, "chunks 1..=20 landed whole");
    assert!(doc.claims.is_empty(), "the failed run released its claim");

    f.proxy.heal();
    let summary = tokio::time::timeout(RUN_LIMIT, run())
        .await
        .unwrap()
        .unwrap();
    let file = &summary.files[0];
    assert_eq!(file.resumed_from_record, delivered_through);
    assert_eq!(file.records_read, f.records);

    let messages = drain(&f.sqs, &f.queue_url).await;
    let mut first: HashMap<u64, Envelope<Value>> = HashMap::new();
    for (_, m) in &messages {
        if let Some(earlier) = first.insert(m.chunk, m.clone()) {
            assert!(
                m.chunk >= 21,
                "chunk {} settled before the checkpoint came again",
                m.chunk
            );
            assert_eq!(&earlier, m, "chunk {} differs on replay", m.chunk);
        }
    }
    let mut unique: Vec<(usize, Envelope<Value>)> = Vec::new();
    let mut seen = HashSet::new();
    for (len, m) in messages {
        if seen.insert(m.chunk) {
            unique.push((len, m));
        }
    }
    let expected: Vec<u64> = (1..=unique.len() as u64).collect();
    assert_eq!(check_chunks(&unique, &expected), f.records);
    assert_eq!(file.messages_sent, expected.len() as u64);
}
