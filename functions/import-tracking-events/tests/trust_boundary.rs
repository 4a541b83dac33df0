//! The trust boundary, through the Lambda binary as Lambda runs it (the Runtime API stand-in):
//! a request is what a shipper typed into a form, so whatever it names must not make the import
//! read the function's own environment, reach its network, or leak a file's content; and a file
//! that can never import is set aside instead of holding back its connection forever.

mod common;

use std::time::Duration;

use common::runtime_api::{RuntimeApi, lambda};
use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A value only the function's environment holds: no answer or log line may show it.
const PROBE: &str = "probe-value-7f3a9c-must-never-leave";

/// Runs the Lambda binary with `env` over `payloads`; returns each answer's (kind, body) and
/// everything the function logged.
async fn invoke(env: &[(&str, String)], payloads: &[Value]) -> (Vec<(String, Value)>, String) {
    let bodies = payloads
        .iter()
        .map(|p| p.to_string().into_bytes())
        .collect();
    let mut api = RuntimeApi::start(bodies).await;
    let output = tempfile::NamedTempFile::new().unwrap();
    let mut command = lambda(env!("CARGO_BIN_EXE_import-tracking-events"), &api, &output);
    command.env("SECRET_PROBE", PROBE);
    for (key, value) in env {
        command.env(key, value);
    }
    let mut function = command.spawn().unwrap();
    let logs = || std::fs::read_to_string(output.path()).unwrap();
    let mut answers = Vec::new();
    while answers.len() < payloads.len() {
        tokio::select! {
            (_, kind, body) = api.answer() => answers.push((kind, body)),
            status = function.wait() => panic!("the function exited ({status:?}):\n{}", logs()),
        }
    }
    function.kill().await.unwrap();
    let logs = logs();
    for (_, body) in &answers {
        assert!(!body.to_string().contains(PROBE), "{body}");
    }
    assert!(!logs.contains(PROBE), "{logs}");
    (answers, logs)
}

fn request(source: &str, profile: &str) -> Value {
    json!({"transaction_id": "t", "metadata": {"source": source, "profile": profile}})
}

/// The answer's errorType and message, for an answer that must be an error.
fn refusal(answer: &(String, Value)) -> (&str, &str) {
    let (kind, body) = answer;
    assert_eq!(kind, "error", "{body}");
    (
        body["errorType"].as_str().unwrap(),
        body["errorMessage"].as_str().unwrap(),
    )
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests with scripts/test.sh, which starts the servers")
    })
}

#[tokio::test]
async fn a_request_cannot_make_the_import_read_local_files() {
    let payloads = [
        request("file:///proc/self/environ", "reference"),
        request("/proc/self/environ", "reference"),
        request("s3://carrier-drop/outbound/a.csv", "/etc/passwd"),
        request(
            "s3://carrier-drop/outbound/a.csv",
            "file:///proc/self/environ",
        ),
    ];
    let (answers, _) = invoke(&[], &payloads).await;
    for (answer, payload) in answers.iter().zip(&payloads) {
        let (error_type, message) = refusal(answer);
        assert_eq!(error_type, "SourceNotAllowed", "{message}");
        let named = payload["metadata"]["profile"]
            .as_str()
            .filter(|p| p.contains('/'))
            .or(payload["metadata"]["source"].as_str())
            .unwrap();
        assert!(message.contains(named), "{message}");
        assert!(message.contains("inside Lambda"), "{message}");
        assert!(!message.contains("AWS_SECRET_ACCESS_KEY"), "{message}");
    }

    // Listed by the operator, a local file is read; a CLI outside Lambda reads it anyway.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.csv");
    std::fs::write(&file, format!("{HEADER}\n")).unwrap();
    let listed = [("ALLOWED_SOURCES", format!("{}/", dir.path().display()))];
    let file_uri = format!("file://{}", file.display());
    // A listed profile's `extends` is read like the profile, through the same list.
    let profile = dir.path().join("evil.toml");
    std::fs::write(
        &profile,
        "extends = \"file:///proc/self/environ\"\nname = \"evil\"\n",
    )
    .unwrap();
    let (answers, _) = invoke(
        &listed,
        &[
            request(&file_uri, "reference"),
            request("file:///proc/self/environ", "reference"),
            request(&file_uri, &format!("file://{}", profile.display())),
        ],
    )
    .await;
    assert_eq!(answers[0].0, "response", "{}", answers[0].1);
    assert_eq!(answers[0].1["files"][0]["records_read"], 0);
    assert_eq!(refusal(&answers[1]).0, "SourceNotAllowed");
    let (error_type, message) = refusal(&answers[2]);
    assert_eq!(error_type, "SourceNotAllowed", "{message}");
    assert!(message.contains("/proc/self/environ"), "{message}");
}

/// Listens on `addr` and counts what connects; any connection made before `count` is called
/// has completed its handshake, so it is already waiting in the backlog.
struct Listener(TcpListener);

impl Listener {
    async fn bind(addr: &str) -> Option<Listener> {
        TcpListener::bind(addr).await.ok().map(Listener)
    }

    fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }

    async fn count(&self) -> usize {
        let mut n = 0;
        while let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(200), self.0.accept()).await
        {
            n += 1;
        }
        n
    }
}

#[tokio::test]
async fn servers_on_loopback_are_never_reached_unless_listed_by_address_and_port() {
    let v4 = Listener::bind("127.0.0.1:0").await.unwrap();
    let v6 = Listener::bind("[::1]:0").await;
    let port = v4.port();
    let mut sources = vec![
        format!("ftp://127.0.0.1:{port}/outbound/a.csv"),
        format!("ftps://127.0.0.1:{port}/outbound/a.csv"),
        format!("sftp://acme@127.0.0.1:{port}/outbound/a.csv"),
        // A name that resolves to loopback is judged by the address it resolves to.
        format!("ftp://localhost:{port}/outbound/TRACK_*.csv"),
    ];
    match &v6 {
        Some(v6) => sources.push(format!("sftp://acme@[::1]:{}/a.csv", v6.port())),
        // No IPv6 loopback here: the guard still refuses it before connecting.
        None => sources.push(format!("sftp://acme@[::1]:{port}/a.csv")),
    }
    let payloads: Vec<Value> = sources
        .iter()
        .map(|s| {
            let mut r = request(s, "reference");
            r["metadata"]["ftp_password"] = "pw".into();
            r
        })
        .collect();
    let (answers, _) = invoke(&[], &payloads).await;
    for (answer, source) in answers.iter().zip(&sources) {
        let (error_type, message) = refusal(answer);
        assert_eq!(error_type, "SourceNotAllowed", "{source}: {message}");
        assert!(message.contains("loopback"), "{message}");
    }
    assert_eq!(v4.count().await, 0, "a refused server saw a connection");
    if let Some(v6) = &v6 {
        assert_eq!(v6.count().await, 0, "a refused server saw a connection");
    }

    // Listed by address and port, the same server is reached (and answers nonsense here).
    let listed = [
        ("ALLOWED_SOURCES", format!("ftp://127.0.0.1:{port}/")),
        ("SOURCE_CONNECT_TIMEOUT_MS", "500".to_owned()),
    ];
    let (answers, _) = invoke(&listed, &payloads[..1]).await;
    assert_eq!(refusal(&answers[0]).0, "SourceUnavailable");
    assert_eq!(v4.count().await, 1, "the listed server was reached once");
}

#[tokio::test]
async fn a_list_matches_buckets_hosts_and_paths_exactly() {
    let listed = [(
        "ALLOWED_SOURCES",
        "s3://carrier-drop/outbound/, sftp://sftp.carrier.example/".to_owned(),
    )];
    let refused = [
        request("s3://carrier-drop-evil/outbound/a.csv", "reference"),
        request("s3://carrier-drop/outbound-evil/a.csv", "reference"),
        request("s3://carrier-drop/outbound/../state/x.json", "reference"),
        request("s3://other/outbound/a.csv", "reference"),
        request("sftp://sftp.carrier.example.evil.net/a.csv", "reference"),
        request("sftp://sftp.carrier.example:2222/a.csv", "reference"),
        // A profile URI obeys the same list.
        request(
            "s3://carrier-drop/outbound/a.csv",
            "s3://carrier-drop/profiles/acme.toml",
        ),
    ];
    let (answers, _) = invoke(&listed, &refused).await;
    for (answer, payload) in answers.iter().zip(&refused) {
        let (error_type, message) = refusal(answer);
        assert_eq!(error_type, "SourceNotAllowed", "{payload}: {message}");
        assert!(message.contains("ALLOWED_SOURCES"), "{message}");
    }
    assert!(refusal(&answers[6]).1.contains("profiles/acme.toml"));

    // What the list allows gets past it (and then finds no such bucket on the local S3); the
    // import's own state bucket is refused even when the list would allow it.
    let state_bucket = unique("own-state");
    let settings = [
        (
            "ALLOWED_SOURCES",
            "s3://carrier-drop/outbound/, s3://".to_owned(),
        ),
        ("STATE_BUCKET", state_bucket.clone()),
        ("AWS_ENDPOINT_URL", endpoint()),
    ];
    let payloads = [
        request(
            &format!("s3://{}/outbound/a.csv", unique("carrier-drop")),
            "reference",
        ),
        request(
            &format!("s3://{state_bucket}/import-state/x.json"),
            "reference",
        ),
    ];
    let (answers, _) = invoke(&settings, &payloads).await;
    // Listing a bucket the local S3 does not have: past the policy, the bucket is unavailable.
    let (error_type, message) = refusal(&answers[0]);
    assert_eq!(
        error_type, "SourceUnavailable",
        "allowed, then not there: {message}"
    );
    let (error_type, message) = refusal(&answers[1]);
    assert_eq!(error_type, "SourceNotAllowed");
    assert!(message.contains("state bucket"), "{message}");
}

/// Runs the FTP conversation up to PASV by hand: what the server itself answers.
async fn pasv_answer(port: u16) -> String {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut last = String::new();
    for command in [
        None,
        Some(format!("USER {}", env("CARRIER_USER"))),
        Some(format!("PASS {}", env("CARRIER_PASSWORD"))),
        Some("PASV".to_owned()),
    ] {
        if let Some(command) = command {
            write
                .write_all(format!("{command}\r\n").as_bytes())
                .await
                .unwrap();
        }
        last = lines.next_line().await.unwrap().unwrap();
    }
    last
}

#[tokio::test]
async fn a_pasv_answer_pointing_elsewhere_is_not_followed() {
    let port: u16 = env("CARRIER_FTP_PASV_ELSEWHERE_PORT").parse().unwrap();
    let answer = pasv_answer(port).await;
    assert!(
        answer.starts_with("227") && answer.contains("127,0,0,2,"),
        "the server points its data connection elsewhere: {answer}"
    );

    let dir = unique("pasv");
    let root = std::path::PathBuf::from(env("CARRIER_FTP_ROOT")).join(&dir);
    std::fs::create_dir_all(&root).unwrap();
    let (body, records) = reference_file(20_000, 0);
    std::fs::write(root.join("a.csv"), body).unwrap();
    let shared = aws().await;
    let sqs = aws_sdk_sqs::Client::new(&shared);
    let queue_url = create_queue(&sqs, 262_144).await;
    let mut event = request(&format!("ftp://127.0.0.1:{port}/{dir}/a.csv"), "reference");
    event["metadata"]["ftp_username"] = env("CARRIER_USER").into();
    event["metadata"]["ftp_password"] = env("CARRIER_PASSWORD").into();
    let settings = [
        ("ALLOWED_SOURCES", format!("ftp://127.0.0.1:{port}/")),
        ("AWS_ENDPOINT_URL", endpoint()),
        ("QUEUE_URL", queue_url.clone()),
    ];
    let (answers, logs) = invoke(&settings, &[event]).await;
    let (kind, summary) = &answers[0];
    assert_eq!(kind, "response", "{summary}\n{logs}");
    assert_eq!(summary["status"], "complete");
    assert_eq!(summary["records_read"], records);
    let delivered: usize = drain(&sqs, &queue_url)
        .await
        .iter()
        .map(|(_, e)| e.events.len())
        .sum();
    assert_eq!(delivered as u64, records);
}

/// A pattern run's state: its files and S3 buckets on moto.
struct Drop {
    s3: aws_sdk_s3::Client,
    bucket: String,
    state_bucket: String,
    queue_url: String,
}

impl Drop {
    async fn new() -> Drop {
        let shared = aws().await;
        let s3 = s3(&shared);
        let bucket = unique("poison");
        let state_bucket = unique("poison-state");
        for b in [&bucket, &state_bucket] {
            s3.create_bucket().bucket(b).send().await.unwrap();
        }
        let sqs = aws_sdk_sqs::Client::new(&shared);
        let queue_url = create_queue(&sqs, 262_144).await;
        Drop {
            s3,
            bucket,
            state_bucket,
            queue_url,
        }
    }

    async fn put(&self, name: &str, body: String) {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(format!("outbound/{name}"))
            .body(body.into_bytes().into())
            .send()
            .await
            .unwrap();
    }

    async fn run(&self, retry_failed: bool) -> (Value, String) {
        let mut event = request(
            &format!("s3://{}/outbound/TRACK_*.csv", self.bucket),
            "reference",
        );
        if retry_failed {
            event["metadata"]["retry_failed"] = true.into();
        }
        let settings = [
            ("AWS_ENDPOINT_URL", endpoint()),
            ("QUEUE_URL", self.queue_url.clone()),
            ("STATE_BUCKET", self.state_bucket.clone()),
        ];
        let (mut answers, logs) = invoke(&settings, &[event]).await;
        let (kind, summary) = answers.remove(0);
        assert_eq!(kind, "response", "{summary}\n{logs}");
        (summary, logs)
    }
}

fn good(tag: &str) -> String {
    format!(
        "{HEADER}\n{tag}0001,DL,Delivered,2026-11-26,10:00:00,-06:00,Austin,TX,78701,US,J,,,,GND,1\n"
    )
}

#[tokio::test]
async fn a_file_that_can_never_import_is_set_aside_until_it_changes() {
    let d = Drop::new().await;
    d.put("TRACK_20261101.csv", good("A")).await;
    d.put("TRACK_20261102.csv", "Wrong,Header\n1,2\n".into())
        .await;
    d.put("TRACK_20261103.csv", good("C")).await;

    let (first, logs) = d.run(false).await;
    assert_eq!(
        (
            &first["status"],
            &first["files_imported"],
            &first["files_failed"]
        ),
        (&json!("complete"), &json!(2), &json!(1)),
        "{first}"
    );
    let failed = &first["files"][1];
    assert!(
        failed["source"]
            .as_str()
            .unwrap()
            .ends_with("TRACK_20261102.csv")
    );
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error_type"], "InvalidFile");
    assert!(
        failed["error"].as_str().unwrap().contains("lacks column"),
        "{failed}"
    );
    assert_eq!(
        first["files"][2]["status"], "complete",
        "the file after it went on"
    );
    // The alarm's inputs: an EMF line counting the failed file, and an ERROR log line.
    assert!(
        logs.lines().any(|l| l.contains("\"FilesFailed\":1")),
        "{logs}"
    );
    assert!(
        logs.lines()
            .any(|l| l.contains("ERROR") && l.contains("set aside")),
        "{logs}"
    );

    let (second, _) = d.run(false).await;
    assert_eq!(
        (
            &second["files_imported"],
            &second["files_skipped"],
            &second["files_failed"]
        ),
        (&json!(0), &json!(3), &json!(0)),
        "the bad version stays set aside: {second}"
    );
    let (retried, _) = d.run(true).await;
    assert_eq!(
        (&retried["files_imported"], &retried["files_failed"]),
        (&json!(0), &json!(1)),
        "retry_failed tries it again: {retried}"
    );

    d.put("TRACK_20261102.csv", good("B")).await;
    let (fixed, _) = d.run(false).await;
    assert_eq!(
        (&fixed["files_imported"], &fixed["files_failed"]),
        (&json!(1), &json!(0)),
        "a new version is imported: {fixed}"
    );
    assert!(
        fixed["files"][0]["source"]
            .as_str()
            .unwrap()
            .ends_with("TRACK_20261102.csv")
    );
}

#[tokio::test]
async fn credential_references_resolve_in_the_function_and_a_missing_one_is_unauthorized() {
    let port = env("CARRIER_FTP_PORT");
    let dir = unique("refs");
    let root = std::path::PathBuf::from(env("CARRIER_FTP_ROOT")).join(&dir);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("a.csv"), good("R")).unwrap();
    let shared = aws().await;
    let name = unique("carrier-tracking/ftp-login");
    let login = json!({"ftp_password": env("CARRIER_PASSWORD")}).to_string();
    let reference = test_support::moto::keep_secret(&shared, &name, &login).await;
    let sqs = aws_sdk_sqs::Client::new(&shared);
    let queue_url = create_queue(&sqs, 262_144).await;
    let event = |password: &str| {
        let mut r = request(&format!("ftp://127.0.0.1:{port}/{dir}/a.csv"), "reference");
        r["authorization"] = json!({"connection_context": {
            "ftp_username": env("CARRIER_USER"), "ftp_password": password}});
        r
    };
    let reference = format!("{reference}#ftp_password");
    let missing = "secretsmanager:carrier-tracking/no-such-secret#ftp_password";
    let settings = [
        ("ALLOWED_SOURCES", format!("ftp://127.0.0.1:{port}/")),
        ("AWS_ENDPOINT_URL", endpoint()),
        ("QUEUE_URL", queue_url),
    ];
    let (answers, logs) = invoke(&settings, &[event(&reference), event(missing)]).await;
    assert_eq!(answers[0].0, "response", "{}\n{logs}", answers[0].1);
    assert_eq!(answers[0].1["events_emitted"], 1);
    let (error_type, message) = refusal(&answers[1]);
    assert_eq!(error_type, "SourceUnauthorized", "{message}");
    assert!(message.contains(missing), "names the reference: {message}");
    let password = env("CARRIER_PASSWORD");
    assert!(!logs.contains(&password), "{logs}");
    assert!(
        !answers
            .iter()
            .any(|(_, a)| a.to_string().contains(&password))
    );

    // A server no entry names (here any ftp:// host is allowed, but none is named) never gets a
    // resolved secret: a shipper could otherwise send another connection's password anywhere.
    let unnamed = [
        ("ALLOWED_SOURCES", "ftp://".to_owned()),
        ("AWS_ENDPOINT_URL", endpoint()),
    ];
    let (answers, _) = invoke(&unnamed, &[event(&reference)]).await;
    let (error_type, message) = refusal(&answers[0]);
    assert_eq!(error_type, "SourceNotAllowed", "{message}");
    assert!(message.contains("credential reference"), "{message}");
}
