//! No FTP, FTPS or SFTP secret in a log line, an error or the Lambda's answer, on the path where
//! one is most likely to slip out: a login the server refuses.
//!
//! Every log event of this test process, at TRACE and from every crate (suppaftp and russh log
//! through the `log` crate, which the subscriber forwards), goes through the binaries' own
//! subscriber (`shared::logging::subscriber`) into a buffer that is searched for each secret. The CLI and
//! the Lambda binary are also run at TRACE, to check the subscriber is the one they install.
//!
//! Needs the FTP/FTPS/SFTP servers of `scripts/local-stack.sh`; fails without them.

mod common;

use std::sync::{Arc, OnceLock};

use import_tracking_events::handler::App;
use import_tracking_events::sink::NullSink;
use import_tracking_events::source::{FileSource, Sources};
use import_tracking_events::{Config, ImportError};
use serde_json::{Value, json};
use shared::logging::{self, Format};
use test_support::LogBuffer;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::util::SubscriberInitExt;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests with scripts/test.sh, which starts the FTP, FTPS \
             and SFTP test servers on 127.0.0.1 (scripts/local-stack.sh)"
        )
    })
}

/// The process-wide capture, installed once (a global subscriber sees every thread, including
/// the blocking pool and the SSH client's tasks).
fn logs() -> LogBuffer {
    static LOGS: OnceLock<LogBuffer> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = LogBuffer::default();
        let writer = logs.clone();
        logging::subscriber(EnvFilter::new("trace"), Format::Plain, move || {
            writer.clone()
        })
        .try_init()
        .expect("the only subscriber of this test process");
        logs
    })
    .clone()
}

#[derive(Clone, Copy, Debug)]
enum Server {
    Ftp,
    Ftps,
    Sftp,
}

impl Server {
    fn uri(self, name: &str) -> String {
        let (scheme, port, root) = match self {
            Server::Ftp => ("ftp", "CARRIER_FTP_PORT", "CARRIER_FTP_ROOT"),
            Server::Ftps => ("ftps", "CARRIER_FTPS_PORT", "CARRIER_FTP_ROOT"),
            Server::Sftp => ("sftp", "CARRIER_SFTP_PORT", "CARRIER_SFTP_ROOT"),
        };
        let dir = common::unique("secrets");
        let path = std::path::Path::new(&env(root)).join(&dir);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join(name), format!("{}\n", common::HEADER)).unwrap();
        format!(
            "{scheme}://{}:{}/{dir}/{name}",
            env("CARRIER_HOST"),
            env(port)
        )
    }

    /// An import request for `uri` with the server's trust settings and `credentials`.
    fn event(self, uri: &str, credentials: Value) -> Value {
        let mut metadata = json!({
            "source": uri,
            "profile": "reference",
            "ftp_username": env("CARRIER_USER"),
        });
        match self {
            Server::Ftp => {}
            Server::Ftps => {
                metadata["ca_certificate"] = std::fs::read_to_string(env("CARRIER_CA_CERT"))
                    .unwrap()
                    .into();
            }
            Server::Sftp => {
                metadata["host_key_fingerprint"] = env("CARRIER_SSH_HOST_KEY_FINGERPRINT").into();
            }
        }
        for (key, value) in credentials.as_object().unwrap() {
            metadata[key] = value.clone();
        }
        json!({"transaction_id": "secrets", "metadata": metadata})
    }
}

fn app() -> App {
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

/// Every form the failure takes on its way out: Display, Debug, the whole chain, and the
/// Lambda's error answer.
fn shown(err: ImportError) -> Vec<String> {
    vec![
        err.to_string(),
        format!("{err:?}"),
        shared::report(&err),
        serde_json::to_string(&lambda_runtime::Diagnostic::from(err)).unwrap(),
    ]
}

/// Runs `event`, which must fail with `kind`, and checks no `secret` is shown or logged. The
/// logs must hold `evidence` (lines the attempt logged), so a capture that saw nothing cannot
/// pass for one that saw no secret.
async fn refused(event: Value, kind: &str, secrets: &[&str], evidence: &[&str]) -> String {
    let logs = logs();
    let err = app().handle(event).await.unwrap_err();
    assert_eq!(err.kind(), kind, "{}", shared::report(&err));
    let message = shared::report(&err);
    let logged = logs.text();
    for text in shown(err).iter().chain([&logged]) {
        for secret in secrets {
            assert!(!text.contains(secret), "{secret:?} shown in:\n{text}");
        }
    }
    for line in evidence {
        assert!(logged.contains(line), "{line:?} not logged:\n{logged}");
    }
    message
}

const PASSWORD: &str = "s3cr3t-Pa55-xyz";

#[tokio::test]
async fn a_refused_ftp_password_is_never_logged_or_shown() {
    let uri = Server::Ftp.uri("a.csv");
    let password = format!("{PASSWORD}-ftp");
    let message = refused(
        Server::Ftp.event(&uri, json!({"ftp_password": password})),
        "SourceUnauthorized",
        &[&password],
        // Ours, and suppaftp's own (forwarded from the `log` crate).
        &[
            &format!("source={uri}"),
            &format!("Signin in with user '{}'", env("CARRIER_USER")),
        ],
    )
    .await;
    assert!(
        message.contains("refused password authentication"),
        "{message}"
    );
}

#[tokio::test]
async fn a_refused_ftps_password_is_never_logged_or_shown() {
    let uri = Server::Ftps.uri("a.csv");
    let password = format!("{PASSWORD}-ftps");
    refused(
        Server::Ftps.event(&uri, json!({"ftp_password": password})),
        "SourceUnauthorized",
        &[&password],
        &[
            &format!("source={uri}"),
            &format!("Signin in with user '{}'", env("CARRIER_USER")),
        ],
    )
    .await;
}

#[tokio::test]
async fn a_refused_sftp_password_is_never_logged_or_shown() {
    let uri = Server::Sftp.uri("a.csv");
    let password = format!("{PASSWORD}-sftp");
    refused(
        Server::Sftp.event(&uri, json!({"ftp_password": password})),
        "SourceUnauthorized",
        &[&password],
        // Ours, and russh's own (forwarded from the `log` crate).
        &[&format!("source={uri}"), "userauth_failure"],
    )
    .await;
}

/// An SSH key the server does not accept, made for this test.
fn unknown_key() -> String {
    use russh::keys::ssh_key::{LineEnding, PrivateKey, private::Ed25519Keypair};
    let key = PrivateKey::from(Ed25519Keypair::from_seed(&[0x5e; 32]));
    key.to_openssh(LineEnding::LF).unwrap().to_string()
}

#[tokio::test]
async fn a_refused_sftp_key_is_never_logged_or_shown() {
    let uri = Server::Sftp.uri("a.csv");
    let key = unknown_key();
    // The whole key and each line of its body: any piece of it would be a leak.
    let mut secrets: Vec<&str> = vec![&key];
    secrets.extend(key.lines().filter(|l| !l.starts_with("-----")));
    let message = refused(
        Server::Sftp.event(&uri, json!({"ssh_private_key": key})),
        "SourceUnauthorized",
        &secrets,
        // Ours, and russh's own (forwarded from the `log` crate).
        &[&format!("source={uri}"), "userauth_failure"],
    )
    .await;
    assert!(
        message.contains("refused public key authentication"),
        "{message}"
    );
}

#[tokio::test]
async fn a_private_key_that_does_not_parse_is_never_logged_or_shown() {
    let uri = Server::Sftp.uri("a.csv");
    let body = format!("{PASSWORD}-key-body");
    let key =
        format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\n");
    let message = refused(
        Server::Sftp.event(&uri, json!({"ssh_private_key": key})),
        "InvalidRequest",
        &[&body],
        &[&format!("source={uri}")],
    )
    .await;
    assert!(message.starts_with("ssh_private_key: "), "{message}");
}

/// A CLI run at TRACE against the FTP server with a wrong password: the CLI's own subscriber
/// (and its `log` forwarding) must drop the secret too.
#[test]
fn the_cli_at_trace_never_logs_a_refused_password() {
    let uri = Server::Ftp.uri("a.csv");
    let password = format!("{PASSWORD}-cli");
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        Server::Ftp
            .event(&uri, json!({"ftp_password": password}))
            .to_string(),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tracking-import"))
        .arg("--event")
        .arg(&event)
        .args(["--sink", "null"])
        .env("RUST_LOG", "trace")
        .env_remove("STATE_BUCKET")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.trim_end().ends_with("(SourceUnauthorized)"),
        "{stderr}"
    );
    // suppaftp's TRACE lines are the ones that would carry it; its other lines still show.
    assert!(
        stderr.contains(&format!("Signin in with user '{}'", env("CARRIER_USER"))),
        "{stderr}"
    );
    assert!(
        !stdout.contains(&password) && !stderr.contains(&password),
        "{stderr}"
    );
}

/// The Lambda binary at TRACE (Lambda's log level setting) answering an FTP import with a wrong
/// password: neither its log output nor its error answer holds the password.
#[tokio::test]
async fn the_lambda_at_trace_never_logs_or_answers_a_refused_password() {
    let uri = Server::Ftp.uri("a.csv");
    let password = format!("{PASSWORD}-lambda");
    let event = Server::Ftp.event(&uri, json!({"ftp_password": password}));
    let mut api = common::runtime_api::RuntimeApi::start(vec![event.to_string().into()]).await;
    let output = tempfile::NamedTempFile::new().unwrap();
    let mut lambda =
        common::runtime_api::lambda(env!("CARGO_BIN_EXE_import-tracking-events"), &api, &output)
            .env("AWS_LAMBDA_LOG_LEVEL", "TRACE")
            // The operator lists the test server: loopback is refused otherwise.
            .env(
                "ALLOWED_SOURCES",
                format!("ftp://127.0.0.1:{}/", env("CARRIER_FTP_PORT")),
            )
            .spawn()
            .unwrap();
    let logs = || std::fs::read_to_string(output.path()).unwrap();
    let (id, kind, answer) = tokio::select! {
        answer = api.answer() => answer,
        status = lambda.wait() => panic!("the function exited ({status:?}):\n{}", logs()),
    };
    lambda.kill().await.unwrap();
    assert_eq!((id.as_str(), kind.as_str()), ("invocation-1", "error"));
    assert_eq!(answer["errorType"], "SourceUnauthorized");
    let logs = logs();
    assert!(
        logs.contains(&format!("Signin in with user '{}'", env("CARRIER_USER"))),
        "{logs}"
    );
    assert!(!answer.to_string().contains(&password), "{answer}");
    assert!(!logs.contains(&password), "{logs}");
}
