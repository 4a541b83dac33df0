//! FTP, FTPS and SFTP sources against real servers on 127.0.0.1 (pyftpdlib and asyncssh, started
//! with throw-away keys and a throw-away CA by `scripts/local-stack.sh`), and S3 listing against
//! moto.
//!
//! Nothing here is skipped: without the servers' environment the tests fail and say how to run
//! them (`scripts/test.sh`).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use common::{aws, create_queue, drain, put_object, reference_file, s3, unique};
use import_tracking_events::error::SourceError;
use import_tracking_events::handler::App;
use import_tracking_events::sink::SqsSink;
use import_tracking_events::source::{
    AfterImport, Connection, FileSource, Fingerprint, FtpSource, Listed, S3Source, SftpSource,
    Source, Sources,
};
use import_tracking_events::{Config, ImportError};
use shared::secrets::SecretResolver;
use test_support::moto::keep_secret;
use tokio::io::AsyncReadExt;

/// A server setting exported by local-stack.sh.
fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: run the tests with scripts/test.sh, which starts the FTP, FTPS \
             and SFTP test servers on 127.0.0.1 (scripts/local-stack.sh)"
        )
    })
}

fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(path.as_ref())
        .unwrap_or_else(|e| panic!("{}: {e}", path.as_ref().display()))
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Server {
    Ftp,
    Ftps,
    Sftp,
}

const SERVERS: [Server; 3] = [Server::Ftp, Server::Ftps, Server::Sftp];

impl Server {
    fn scheme(self) -> &'static str {
        match self {
            Server::Ftp => "ftp",
            Server::Ftps => "ftps",
            Server::Sftp => "sftp",
        }
    }

    fn port(self) -> String {
        env(match self {
            Server::Ftp => "CARRIER_FTP_PORT",
            Server::Ftps => "CARRIER_FTPS_PORT",
            Server::Sftp => "CARRIER_SFTP_PORT",
        })
    }

    /// The directory the server serves as `/`.
    fn root(self) -> PathBuf {
        PathBuf::from(env(match self {
            Server::Ftp | Server::Ftps => "CARRIER_FTP_ROOT",
            Server::Sftp => "CARRIER_SFTP_ROOT",
        }))
    }

    fn uri(self, path: &str) -> String {
        format!(
            "{}://{}:{}/{path}",
            self.scheme(),
            env("CARRIER_HOST"),
            self.port()
        )
    }

    /// A fresh directory on the server; returns its name.
    fn dir(self) -> String {
        let name = unique(self.scheme());
        std::fs::create_dir_all(self.root().join(&name)).unwrap();
        name
    }

    fn put(self, path: &str, bytes: &[u8]) {
        std::fs::write(self.root().join(path), bytes).unwrap();
    }

    /// Password credentials, the CA for FTPS and the pinned host key for SFTP.
    fn connection(self) -> Connection {
        Connection {
            username: Some(env("CARRIER_USER")),
            password: Some(env("CARRIER_PASSWORD").into()),
            ca_certificate: Some(read(env("CARRIER_CA_CERT"))),
            host_key_fingerprint: Some(
                Fingerprint::parse(&env("CARRIER_SSH_HOST_KEY_FINGERPRINT")).unwrap(),
            ),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(20),
            ..Connection::default()
        }
    }

    fn source(self, connection: Connection) -> Box<dyn Source> {
        match self {
            Server::Ftp | Server::Ftps => Box::new(FtpSource::new(connection)),
            Server::Sftp => Box::new(SftpSource::new(connection)),
        }
    }
}

async fn read_all(source: &dyn Source, uri: &str, offset: u64) -> (Vec<u8>, String, Option<u64>) {
    let mut opened = source
        .open(uri, offset)
        .await
        .unwrap_or_else(|e| panic!("{uri}: {}", shared::report(&e)));
    let mut bytes = Vec::new();
    opened
        .body
        .read_to_end(&mut bytes)
        .await
        .unwrap_or_else(|e| panic!("{uri}: {e}"));
    (bytes, opened.version, opened.size)
}

/// The error's whole chain, as the function reports it, and its Debug form.
fn shown(err: &SourceError) -> String {
    format!("{} | {err:?}", shared::report(err))
}

#[tokio::test]
async fn every_server_streams_a_multi_mb_file_whole_and_from_an_offset() {
    let (file, _) = reference_file(3_000_000, 0);
    for server in SERVERS {
        let dir = server.dir();
        let path = format!("{dir}/TRACK_big.csv");
        server.put(&path, &file);
        let source = server.source(server.connection());
        let uri = server.uri(&path);

        let (bytes, version, size) = read_all(source.as_ref(), &uri, 0).await;
        assert_eq!(size, Some(file.len() as u64), "{server:?}");
        assert!(bytes == file, "{server:?}: {} bytes differ", bytes.len());
        let mtime = std::fs::metadata(server.root().join(&path))
            .unwrap()
            .modified()
            .unwrap()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(version, format!("{}+{mtime}", file.len()), "{server:?}");

        let offset = 1_234_567;
        let (tail, tail_version, _) = read_all(source.as_ref(), &uri, offset).await;
        assert_eq!(tail.len(), file.len() - offset as usize, "{server:?}");
        assert!(tail == file[offset as usize..], "{server:?}: tail differs");
        assert_eq!(tail_version, version, "{server:?}");

        // Several files in a row: each session ends cleanly and leaves nothing behind.
        for _ in 0..3 {
            let (again, _, _) = read_all(source.as_ref(), &uri, file.len() as u64 - 10).await;
            assert_eq!(again, &file[file.len() - 10..], "{server:?}");
        }
    }
}

#[tokio::test]
async fn sftp_authenticates_with_a_private_key_and_takes_the_user_from_the_uri() {
    let dir = Server::Sftp.dir();
    let path = format!("{dir}/a.csv");
    Server::Sftp.put(&path, b"0123456789");
    let source = SftpSource::new(Connection {
        password: None,
        private_key: Some(read(env("CARRIER_SSH_CLIENT_KEY")).into()),
        ..Server::Sftp.connection()
    });
    let (bytes, _, _) = read_all(&source, &Server::Sftp.uri(&path), 3).await;
    assert_eq!(bytes, b"3456789");

    let uri = format!(
        "sftp://{}@{}:{}/{path}",
        env("CARRIER_USER"),
        env("CARRIER_HOST"),
        Server::Sftp.port()
    );
    let source = SftpSource::new(Connection {
        username: None,
        ..Server::Sftp.connection()
    });
    let (bytes, _, _) = read_all(&source, &uri, 0).await;
    assert_eq!(bytes, b"0123456789");
}

#[tokio::test]
async fn a_missing_file_is_not_found_on_every_server() {
    for server in SERVERS {
        let dir = server.dir();
        let source = server.source(server.connection());
        let err = source
            .open(&server.uri(&format!("{dir}/missing.csv")), 0)
            .await
            .err()
            .unwrap();
        assert!(
            matches!(err, SourceError::NotFound { .. }),
            "{server:?}: {}",
            shown(&err)
        );
    }
}

#[tokio::test]
async fn a_wrong_password_is_a_clear_error_that_never_shows_the_password() {
    let wrong = format!("Wrong-{}-pw", unique("x"));
    for server in SERVERS {
        let dir = server.dir();
        server.put(&format!("{dir}/a.csv"), b"x");
        let source = server.source(Connection {
            password: Some(wrong.clone().into()),
            ..server.connection()
        });
        let err = source
            .open(&server.uri(&format!("{dir}/a.csv")), 0)
            .await
            .err()
            .unwrap();
        let text = shown(&err);
        assert!(
            matches!(err, SourceError::Unauthorized { .. }),
            "{server:?}: {text}"
        );
        assert!(text.contains("refused"), "{server:?}: {text}");
        assert!(text.contains(&env("CARRIER_USER")), "{server:?}: {text}");
        assert!(
            !text.contains(&wrong),
            "{server:?} leaks the password: {text}"
        );
        assert!(
            !text.contains(&env("CARRIER_PASSWORD")),
            "{server:?} leaks a password: {text}"
        );
        assert_eq!(
            ImportError::Source(err).kind(),
            "SourceUnauthorized",
            "{server:?}"
        );
    }
}

#[tokio::test]
async fn credentials_by_reference_are_resolved_before_connecting() {
    let sdk = aws().await;
    let resolver = SecretResolver::new(&sdk, Duration::from_secs(300));
    let login = serde_json::json!({"password": env("CARRIER_PASSWORD")}).to_string();
    let login = keep_secret(&sdk, &unique("carrier-tracking/login"), &login).await;
    let password = Some(format!("{login}#password").into());
    let ca = read(env("CARRIER_CA_CERT"));
    let ca = keep_secret(&sdk, &unique("/carrier-tracking/ca"), &ca).await;
    let key = read(env("CARRIER_SSH_CLIENT_KEY"));
    let key = keep_secret(&sdk, &unique("carrier-tracking/ssh-key"), &key).await;
    let connections = [
        Connection {
            password: password.clone(),
            ..Server::Ftp.connection()
        },
        Connection {
            password,
            ca_certificate: Some(ca),
            ..Server::Ftps.connection()
        },
        Connection {
            password: None,
            private_key: Some(key.into()),
            ..Server::Sftp.connection()
        },
    ];
    for (server, connection) in SERVERS.into_iter().zip(connections) {
        let path = format!("{}/a.csv", server.dir());
        server.put(&path, b"0123456789");
        let resolved = connection.resolve_secrets(&resolver).await.unwrap();
        let source = server.source(resolved);
        let (bytes, _, _) = read_all(source.as_ref(), &server.uri(&path), 0).await;
        assert_eq!(bytes, b"0123456789", "{server:?}");
    }
    assert!(!format!("{resolver:?}").contains(&env("CARRIER_PASSWORD")));
}

#[tokio::test]
async fn a_credential_reference_that_does_not_resolve_is_unauthorized() {
    let resolver = SecretResolver::new(&aws().await, Duration::from_secs(300));
    let missing = "secretsmanager:carrier-tracking/no-such-login#password";
    let connection = Connection {
        password: Some(missing.into()),
        ..Server::Ftp.connection()
    };
    let err = connection.resolve_secrets(&resolver).await.unwrap_err();
    let text = shown(&err);
    assert!(
        matches!(&err, SourceError::SecretUnresolved { key: "ftp_password", reference, .. } if reference == missing),
        "{text}"
    );
    let expected = format!("ftp_password: {missing}: Secrets Manager GetSecretValue failed: ");
    assert!(text.starts_with(&expected), "{text}");
    assert!(!text.contains(&env("CARRIER_PASSWORD")), "{text}");
    assert_eq!(ImportError::Source(err).kind(), "SourceUnauthorized");
}

#[tokio::test]
async fn sftp_refuses_a_server_whose_host_key_is_not_the_pinned_one() {
    let dir = Server::Sftp.dir();
    Server::Sftp.put(&format!("{dir}/a.csv"), b"x");
    let pinned = "SHA256:AAAAC3NzaC1lZDI1NTE5AAAAIGZha2UtaG9zdC1rZXk";
    let source = SftpSource::new(Connection {
        host_key_fingerprint: Some(Fingerprint::parse(pinned).unwrap()),
        ..Server::Sftp.connection()
    });
    let err = source
        .open(&Server::Sftp.uri(&format!("{dir}/a.csv")), 0)
        .await
        .err()
        .unwrap();
    let text = shown(&err);
    assert!(matches!(err, SourceError::HostKeyMismatch { .. }), "{text}");
    assert!(text.contains(pinned), "{text}");
    assert!(
        text.contains(&env("CARRIER_SSH_HOST_KEY_FINGERPRINT")),
        "{text}"
    );
    assert!(!text.contains(&env("CARRIER_PASSWORD")), "{text}");
    assert_eq!(ImportError::Source(err).kind(), "SourceUntrusted");
}

#[tokio::test]
async fn ftps_refuses_a_certificate_not_signed_by_the_supplied_ca() {
    let dir = Server::Ftps.dir();
    Server::Ftps.put(&format!("{dir}/a.csv"), b"x");
    let uri = Server::Ftps.uri(&format!("{dir}/a.csv"));
    for (what, ca) in [
        ("an unrelated CA", Some(read(env("CARRIER_OTHER_CA_CERT")))),
        ("the system roots only", None),
    ] {
        let source = FtpSource::new(Connection {
            ca_certificate: ca,
            ..Server::Ftps.connection()
        });
        let err = source.open(&uri, 0).await.err().unwrap();
        let text = shown(&err);
        assert!(matches!(err, SourceError::Tls { .. }), "{what}: {text}");
        assert!(text.contains("not trusted"), "{what}: {text}");
        assert!(!text.contains(&env("CARRIER_PASSWORD")), "{what}: {text}");
        assert_eq!(ImportError::Source(err).kind(), "SourceUntrusted");
    }
    // A CA setting that is not a certificate is a request error, not a refusal.
    let source = FtpSource::new(Connection {
        ca_certificate: Some("not a certificate".into()),
        ..Server::Ftps.connection()
    });
    let err = source.open(&uri, 0).await.err().unwrap();
    assert!(
        matches!(
            err,
            SourceError::InvalidSetting {
                key: "ca_certificate",
                ..
            }
        ),
        "{}",
        shown(&err)
    );
}

#[tokio::test]
async fn every_server_lists_a_glob_with_the_versions_open_gives() {
    for server in SERVERS {
        let dir = server.dir();
        for name in ["TRACK_20261126.csv", "TRACK_20261125.csv", "other.csv"] {
            server.put(&format!("{dir}/{name}"), name.as_bytes());
        }
        std::fs::create_dir(server.root().join(&dir).join("TRACK_dir.csv")).unwrap();
        let source = server.source(server.connection());
        let listed = source
            .list(&server.uri(&format!("{dir}/TRACK_*.csv")))
            .await
            .unwrap_or_else(|e| panic!("{server:?}: {}", shown(&e)));
        let uris: Vec<&str> = listed.iter().map(|l| l.uri.as_str()).collect();
        assert_eq!(
            uris,
            [
                server.uri(&format!("{dir}/TRACK_20261125.csv")),
                server.uri(&format!("{dir}/TRACK_20261126.csv"))
            ],
            "{server:?}"
        );
        for l in &listed {
            assert_eq!(l.size, 18, "{server:?}");
            assert!(l.modified.is_some(), "{server:?}");
            let opened = source.open(&l.uri, 0).await.unwrap();
            assert_eq!(opened.version, l.version, "{server:?}: {}", l.uri);
        }
        let none = source
            .list(&server.uri(&format!("{dir}/*.json")))
            .await
            .unwrap();
        assert!(none.is_empty(), "{server:?}: {none:?}");
        let err = source
            .list(&server.uri(&format!("{dir}/no-such-dir/*.csv")))
            .await
            .unwrap_err();
        assert!(
            matches!(err, SourceError::NotFound { .. }),
            "{server:?}: {}",
            shown(&err)
        );
    }
}

#[tokio::test]
async fn after_import_moves_or_deletes_the_file_on_every_server() {
    for server in SERVERS {
        let dir = server.dir();
        std::fs::create_dir(server.root().join(&dir).join("processed")).unwrap();
        server.put(&format!("{dir}/a.csv"), b"a");
        server.put(&format!("{dir}/b.csv"), b"b");
        let source = server.source(server.connection());
        source
            .finish(&server.uri(&format!("{dir}/a.csv")), &AfterImport::Keep)
            .await
            .unwrap();
        source
            .finish(
                &server.uri(&format!("{dir}/a.csv")),
                &AfterImport::parse("move:processed").unwrap(),
            )
            .await
            .unwrap_or_else(|e| panic!("{server:?}: {}", shown(&e)));
        source
            .finish(&server.uri(&format!("{dir}/b.csv")), &AfterImport::Delete)
            .await
            .unwrap_or_else(|e| panic!("{server:?}: {}", shown(&e)));
        let root = server.root().join(&dir);
        assert!(!root.join("a.csv").exists(), "{server:?}");
        assert_eq!(
            std::fs::read(root.join("processed/a.csv")).unwrap(),
            b"a",
            "{server:?}"
        );
        assert!(!root.join("b.csv").exists(), "{server:?}");
        let err = source
            .finish(&server.uri(&format!("{dir}/b.csv")), &AfterImport::Delete)
            .await
            .unwrap_err();
        assert!(
            matches!(err, SourceError::NotFound { .. }),
            "{server:?}: {}",
            shown(&err)
        );
    }
}

#[tokio::test]
async fn s3_lists_a_glob_across_pages_and_skips_deeper_keys() {
    let shared = aws().await;
    let client = s3(&shared);
    let bucket = unique("listing");
    put_object(&client, &bucket, "outbound/other.csv", b"o".to_vec()).await;
    // More matches than one ListObjectsV2 page (1000 keys) holds, and one key a level deeper.
    let keys: Vec<String> = (0..1003)
        .map(|n| format!("outbound/TRACK_{n:04}.csv.gz"))
        .chain(["outbound/TRACK_deeper/x.csv.gz".to_owned()])
        .collect();
    for chunk in keys.chunks(32) {
        let puts = chunk.iter().map(|key| {
            client
                .put_object()
                .bucket(&bucket)
                .key(key)
                .body(key.as_bytes().to_vec().into())
                .send()
        });
        for put in futures::future::join_all(puts).await {
            put.unwrap();
        }
    }
    let source = S3Source::new(client);
    let listed: Vec<Listed> = source
        .list(&format!("s3://{bucket}/outbound/TRACK_*.csv.gz"))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1003);
    assert_eq!(
        listed[0].uri,
        format!("s3://{bucket}/outbound/TRACK_0000.csv.gz")
    );
    assert_eq!(listed[0].size, "outbound/TRACK_0000.csv.gz".len() as u64);
    assert!(listed[0].modified.is_some());
    let opened = source.open(&listed[1002].uri, 0).await.unwrap();
    assert_eq!(opened.version, listed[1002].version);

    let err = source
        .finish(&listed[0].uri, &AfterImport::Delete)
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::Unsupported { .. }), "{err}");
}

#[tokio::test]
async fn a_plain_csv_imports_end_to_end_over_ftp_and_is_moved_after_import() {
    let server = Server::Ftp;
    let dir = server.dir();
    std::fs::create_dir(server.root().join(&dir).join("done")).unwrap();
    let sample = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/sample-reference.csv"),
    )
    .unwrap();
    server.put(&format!("{dir}/TRACK_1.csv"), &sample);

    let shared = aws().await;
    let sqs = aws_sdk_sqs::Client::new(&shared);
    let queue_url = create_queue(&sqs, 262_144).await;
    let app = App {
        config: Config::default(),
        source: Arc::new(Sources {
            s3: None,
            file: FileSource,
        }),
        sink: Arc::new(SqsSink::new(sqs.clone(), queue_url.clone())),
        state: None,
        continuation: None,
        secrets: Arc::new(shared::secrets::SecretResolver::from_env(
            std::time::Duration::ZERO,
        )),
    };
    // Credentials the way Connect hands them over: the password in connection_context.
    let event = serde_json::json!({
        "transaction_id": "ftp-e2e",
        "metadata": {
            "source": server.uri(&format!("{dir}/TRACK_1.csv")),
            "profile": "reference",
            "ftp_username": env("CARRIER_USER"),
            "after_import": "move:done"
        },
        "authorization": {"connection_context": {"ftp_password": env("CARRIER_PASSWORD")}}
    });
    let summary = app
        .handle(event)
        .await
        .unwrap_or_else(|e| panic!("{}", shared::report(&e)));
    assert_eq!(summary.records_read, 63);
    assert_eq!(summary.events_emitted, 61);
    assert_eq!(summary.records_rejected, 2);
    assert_eq!(summary.bytes_read, sample.len() as u64);
    let messages = drain(&sqs, &queue_url).await;
    let events: usize = messages.iter().map(|(_, e)| e.events.len()).sum();
    assert_eq!(events, 61);
    assert!(
        server.root().join(&dir).join("done/TRACK_1.csv").is_file(),
        "after_import moved the file"
    );
    assert!(!server.root().join(&dir).join("TRACK_1.csv").exists());

    // A wrong password fails the invocation with a stable kind and no secret.
    let event = serde_json::json!({
        "transaction_id": "ftp-e2e-2",
        "metadata": {
            "source": server.uri(&format!("{dir}/done/TRACK_1.csv")),
            "profile": "reference",
            "ftp_username": env("CARRIER_USER"),
            "ftp_password": "not-the-password"
        }
    });
    let err = app.handle(event).await.unwrap_err();
    assert_eq!(err.kind(), "SourceUnauthorized");
    assert!(!shared::report(&err).contains("not-the-password"));
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[tokio::test]
async fn gzipd_files_on_every_server_are_imported_once_through_the_handler() {
    let sample = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/sample-reference.csv"),
    )
    .unwrap();
    let shared = aws().await;
    let s3_client = s3(&shared);
    let state_bucket = unique("state");
    s3_client
        .create_bucket()
        .bucket(&state_bucket)
        .send()
        .await
        .unwrap();
    let sqs = aws_sdk_sqs::Client::new(&shared);
    let queue_url = create_queue(&sqs, 262_144).await;
    let app = App {
        config: Config::default(),
        source: Arc::new(Sources {
            s3: None,
            file: FileSource,
        }),
        sink: Arc::new(SqsSink::new(sqs.clone(), queue_url.clone())),
        state: Some(Arc::new(import_tracking_events::state::S3StateStore::new(
            s3_client,
            state_bucket,
            "import-state/".into(),
        ))),
        continuation: None,
        secrets: Arc::new(shared::secrets::SecretResolver::from_env(
            std::time::Duration::ZERO,
        )),
    };
    for server in SERVERS {
        let dir = server.dir();
        // One named .gz and one not: gzip is found by its magic bytes.
        server.put(&format!("{dir}/TRACK_20261125.csv.gz"), &gzip(&sample));
        server.put(&format!("{dir}/TRACK_20261126.csv"), &gzip(&sample));
        server.put(&format!("{dir}/other.csv"), &sample);
        let event = serde_json::json!({
            "transaction_id": format!("{server:?}-gzip"),
            "metadata": {
                "source": server.uri(&format!("{dir}/TRACK_*")),
                "profile": "reference",
                "ftp_username": env("CARRIER_USER"),
                "ftp_password": env("CARRIER_PASSWORD"),
                "ca_certificate": read(env("CARRIER_CA_CERT")),
                "host_key_fingerprint": env("CARRIER_SSH_HOST_KEY_FINGERPRINT"),
            }
        });
        let run = |event: serde_json::Value| {
            let app = &app;
            async move {
                app.handle(event)
                    .await
                    .unwrap_or_else(|e| panic!("{server:?}: {}", shared::report(&e)))
            }
        };

        let first = run(event.clone()).await;
        assert_eq!(first.files_imported, 2, "{server:?}");
        assert_eq!(first.events_emitted, 2 * 61, "{server:?}");
        // Each file counts only its own records, and the run totals them.
        assert_eq!(first.records_read, 2 * 63, "{server:?}");
        assert!(
            first.files.iter().all(|f| f.records_read == 63),
            "{server:?}"
        );
        for file in &first.files {
            assert_eq!(
                serde_json::to_value(file.compression).unwrap(),
                "gzip",
                "{server:?} {}",
                file.source
            );
        }
        assert!(first.files[0].source.ends_with("TRACK_20261125.csv.gz"));
        let events: usize = drain(&sqs, &queue_url)
            .await
            .iter()
            .map(|(_, e)| e.events.len())
            .sum();
        assert_eq!(events, 2 * 61, "{server:?}");

        let second = run(event.clone()).await;
        assert_eq!(
            (second.files_imported, second.files_skipped),
            (0, 2),
            "{server:?}"
        );
        assert!(drain(&sqs, &queue_url).await.is_empty(), "{server:?}");

        // The carrier replaces a file (new size, so a new version): imported again.
        let mut fixed = sample.clone();
        fixed.extend_from_slice(&sample[sample.iter().position(|&b| b == b'\n').unwrap() + 1..]);
        server.put(&format!("{dir}/TRACK_20261126.csv"), &gzip(&fixed));
        let third = run(event).await;
        assert_eq!(
            (third.files_imported, third.files_skipped),
            (1, 1),
            "{server:?}"
        );
        assert_eq!(third.records_read, 2 * 63, "{server:?}");
        drain(&sqs, &queue_url).await;
    }
}

/// A server that accepts the TCP connection and then never says a word (no FTP greeting, no SSH
/// banner): the CLI, configured with `SOURCE_CONNECT_TIMEOUT_MS`, gives up connecting after
/// exactly that long, as `SourceUnavailable` naming the URI and the limit.
#[test]
fn a_server_that_never_answers_times_out_after_source_connect_timeout_ms() {
    // Never accepted: the kernel completes each handshake and queues the connection.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    for scheme in ["ftp", "ftps", "sftp"] {
        let uri = format!("{scheme}://127.0.0.1:{port}/outbound/a.csv");
        let event = dir.path().join(format!("{scheme}.json"));
        let body = serde_json::json!({"transaction_id": "t", "metadata": {
            "source": uri, "profile": "reference",
            "ftp_username": "carrier", "ftp_password": "pw"}});
        std::fs::write(&event, body.to_string()).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tracking-import"))
            .arg("--event")
            .arg(&event)
            .args(["--sink", "null"])
            .env("SOURCE_CONNECT_TIMEOUT_MS", "300")
            .env_remove("SOURCE_READ_TIMEOUT_MS")
            .env_remove("STATE_BUCKET")
            .env_remove("ALLOWED_SOURCES")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{scheme}: {stderr}");
        assert_eq!(
            stderr.trim_end().lines().last().unwrap(),
            format!(
                "tracking-import: {uri}: connecting and logging in timed out after 300ms (SourceUnavailable)"
            ),
            "{scheme}"
        );
    }
}
