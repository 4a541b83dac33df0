//! SFTP sources, in pure Rust on tokio (russh + russh-sftp): no OpenSSH binary or C library.
//!
//! The server's host key is pinned by `host_key_fingerprint` when the connection gives one (without
//! it any key is accepted and its fingerprint logged, so it can be pinned). Authentication tries
//! `ssh_private_key`, then `ftp_password`. Files are read with pipelined SFTP reads from the
//! requested offset and streamed; at the end of a file the session is closed and the SSH
//! connection disconnected.

use std::io::SeekFrom;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh_sftp::client::SftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::client::fs::{File, Metadata};
use russh_sftp::protocol::StatusCode;
use secrecy::ExposeSecret;
use tokio::io::AsyncSeekExt;

use super::body::CloseAtEof;
use super::pattern::Pattern;
use super::timeout::{IdleTimeout, within};
use super::{
    AfterImport, Connection, Fingerprint, Listed, Location, Opened, Remote, Source,
    size_mtime_version,
};
use crate::error::SourceError;

/// `sftp://` URIs, with one connection's credentials.
#[derive(Debug, Clone)]
pub struct SftpSource {
    connection: Connection,
}

/// An authenticated SSH connection with its SFTP session.
struct Session {
    ssh: Handle<HostKeyCheck>,
    sftp: SftpSession,
}

impl Session {
    /// Ends the session politely; nothing is lost if the server already went away.
    async fn close(self) {
        let _ = self.sftp.close().await;
        if let Err(err) = self
            .ssh
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await
        {
            tracing::debug!(error = %err, "SSH disconnect failed");
        }
    }
}

/// Checks the server's host key against the pinned fingerprint, remembering what it saw so
/// that a mismatch can be reported with both fingerprints.
struct HostKeyCheck {
    expected: Option<Fingerprint>,
    seen: Arc<Mutex<Option<String>>>,
}

impl client::Handler for HostKeyCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        server_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let actual = match server_key {
            PublicKeyOrCertificate::PublicKey { key, .. } => key.fingerprint(HashAlg::Sha256),
            PublicKeyOrCertificate::Certificate(cert) => {
                cert.public_key().fingerprint(HashAlg::Sha256)
            }
        }
        .to_string();
        let trusted = match &self.expected {
            Some(expected) => expected.as_str() == actual,
            None => {
                tracing::warn!(
                    host_key_fingerprint = %actual,
                    "no host_key_fingerprint for this SFTP connection: accepting the server's key; pin it"
                );
                true
            }
        };
        *self.seen.lock().unwrap_or_else(|p| p.into_inner()) = Some(actual);
        Ok(trusted)
    }
}

impl SftpSource {
    pub fn new(connection: Connection) -> Self {
        SftpSource { connection }
    }

    /// Connects, verifies the host key, logs in and starts the SFTP subsystem, all within
    /// `SOURCE_CONNECT_TIMEOUT_MS`.
    async fn connect(&self, uri: &str) -> Result<(Remote, Session), SourceError> {
        let Location::Sftp(remote) = Location::parse(uri)? else {
            return Err(SourceError::BadUri {
                uri: uri.to_owned(),
                reason: "not an sftp:// URI",
            });
        };
        let c = &self.connection;
        let login = self.login(&remote)?;
        let session = within(c.connect_timeout, uri, "connecting and logging in", async {
            let mut ssh = self.handshake(uri, &remote).await?;
            self.authenticate(uri, &mut ssh, login).await?;
            let sftp = start_sftp(uri, &ssh).await?;
            sftp.set_timeout(c.read_timeout.as_secs().max(1));
            Ok(Session { ssh, sftp })
        })
        .await?;
        Ok((remote, session))
    }

    /// Who logs in, and with what: checked before any byte is sent.
    fn login(&self, remote: &Remote) -> Result<Login, SourceError> {
        let c = &self.connection;
        let user = remote
            .user
            .clone()
            .or_else(|| c.username.clone())
            .ok_or_else(|| SourceError::InvalidSetting {
                key: "ftp_username",
                reason: "SFTP needs a user name: set ftp_username or put user@ in the URI".into(),
                source: None,
            })?;
        let key = match &c.private_key {
            Some(pem) => Some(
                russh::keys::decode_secret_key(pem.expose_secret(), None).map_err(|e| {
                    SourceError::InvalidSetting {
                        key: "ssh_private_key",
                        reason: "not an unencrypted OpenSSH or PEM private key".into(),
                        source: Some(Box::new(e)),
                    }
                })?,
            ),
            None => None,
        };
        if key.is_none() && c.password.is_none() {
            return Err(SourceError::InvalidSetting {
                key: "ftp_password",
                reason: "SFTP needs ssh_private_key or ftp_password".into(),
                source: None,
            });
        }
        Ok(Login { user, key })
    }

    /// The SSH connection, to an address the policy checked, with the host key verified.
    async fn handshake(
        &self,
        uri: &str,
        remote: &Remote,
    ) -> Result<Handle<HostKeyCheck>, SourceError> {
        let c = &self.connection;
        let seen = Arc::new(Mutex::new(None));
        let check = HostKeyCheck {
            expected: c.host_key_fingerprint.clone(),
            seen: Arc::clone(&seen),
        };
        let config = Arc::new(client::Config {
            // While the pipeline is back-pressured the connection idles; keepalives stop servers
            // and NAT gateways from dropping it meanwhile.
            keepalive_interval: Some(Duration::from_secs(30)),
            ..client::Config::default()
        });
        // Only to addresses the policy resolved and checked (the network guard).
        let tcp = c.policy.connect(uri, remote).await?;
        client::connect_stream(config, tcp, check)
            .await
            .map_err(|source| {
                let actual = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
                match (&c.host_key_fingerprint, actual, source) {
                    (Some(expected), Some(actual), _) if expected.as_str() != actual => {
                        SourceError::HostKeyMismatch {
                            uri: uri.to_owned(),
                            expected: expected.to_string(),
                            actual,
                        }
                    }
                    (_, _, russh::Error::IO(source)) => SourceError::Connect {
                        uri: uri.to_owned(),
                        source,
                    },
                    (_, _, source) => ssh_err(uri, "handshake")(source),
                }
            })
    }

    /// Public key first (when there is one), then the password.
    async fn authenticate(
        &self,
        uri: &str,
        ssh: &mut Handle<HostKeyCheck>,
        login: Login,
    ) -> Result<(), SourceError> {
        let Login { user, key } = login;
        let mut tried = Vec::new();
        let mut authenticated = false;
        if let Some(key) = key {
            tried.push("public key");
            // RSA keys sign with the SHA-2 hash the server asks for; other keys have one.
            let hash = if key.algorithm().is_rsa() {
                ssh.best_supported_rsa_hash()
                    .await
                    .map_err(ssh_err(uri, "negotiating the RSA signature hash"))?
                    .flatten()
            } else {
                None
            };
            authenticated = ssh
                .authenticate_publickey(
                    user.as_str(),
                    PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                )
                .await
                .map_err(ssh_err(uri, "public key authentication"))?
                .success();
        }
        if !authenticated && let Some(password) = &self.connection.password {
            tried.push("password");
            authenticated = ssh
                .authenticate_password(user.as_str(), password.expose_secret())
                .await
                .map_err(ssh_err(uri, "password authentication"))?
                .success();
        }
        if authenticated {
            return Ok(());
        }
        Err(SourceError::Unauthorized {
            uri: uri.to_owned(),
            user,
            method: if tried.len() == 2 {
                "public key and password"
            } else {
                tried[0]
            },
            source: None,
        })
    }
}

/// Who logs in to an SFTP server: the user, and the private key when there is one (the
/// password stays in the connection).
struct Login {
    user: String,
    key: Option<russh::keys::PrivateKey>,
}

/// Opens a session channel running the SFTP subsystem.
async fn start_sftp(uri: &str, ssh: &Handle<HostKeyCheck>) -> Result<SftpSession, SourceError> {
    let channel = ssh
        .channel_open_session()
        .await
        .map_err(ssh_err(uri, "opening a session channel"))?;
    channel
        .request_subsystem(true, "sftp")
        .await
        .map_err(ssh_err(uri, "starting the sftp subsystem"))?;
    SftpSession::new(channel.into_stream())
        .await
        .map_err(sftp_err(uri, "init"))
}

#[async_trait]
impl Source for SftpSource {
    async fn open(&self, uri: &str, offset: u64) -> Result<Opened, SourceError> {
        let (remote, session) = self.connect(uri).await?;
        let path = remote.path.as_str();
        let (meta, file) = within(
            self.connection.read_timeout,
            uri,
            "opening the file",
            async {
                let meta = session
                    .sftp
                    .metadata(path)
                    .await
                    .map_err(not_found_or(uri, "stat"))?;
                let mut file = session
                    .sftp
                    .open(path)
                    .await
                    .map_err(not_found_or(uri, "open"))?;
                if offset > 0 {
                    file.seek(SeekFrom::Start(offset)).await.map_err(|source| {
                        SourceError::Connect {
                            uri: uri.to_owned(),
                            source,
                        }
                    })?;
                }
                Ok((meta, file))
            },
        )
        .await?;
        let size = meta.len();
        let body = CloseAtEof::new(file, |file: File| async move {
            // Every byte is read: closing can only fail in ways that lose nothing.
            let _ = file.close().await;
            session.close().await;
            Ok(())
        });
        Ok(Opened {
            body: Box::pin(IdleTimeout::new(body, self.connection.read_timeout)),
            version: size_mtime_version(size, modified(&meta)),
            size: Some(size),
        })
    }

    async fn list(&self, pattern_uri: &str) -> Result<Vec<Listed>, SourceError> {
        let (remote, session) = self.connect(pattern_uri).await?;
        let pattern = Pattern::parse(pattern_uri, &remote.path)?;
        let dir = match pattern.dir.trim_end_matches('/') {
            "" => "/",
            dir => dir,
        };
        let entries = within(
            self.connection.read_timeout,
            pattern_uri,
            "listing",
            async {
                session
                    .sftp
                    .read_dir(dir)
                    .await
                    .map_err(not_found_or(pattern_uri, "readdir"))
            },
        )
        .await?;
        session.close().await;
        let origin = remote.origin(pattern_uri);
        let mut listed: Vec<Listed> = entries
            .filter_map(|entry| {
                let name = entry.file_name();
                let meta = entry.metadata();
                (meta.file_type().is_file() && pattern.matches(&name)).then(|| {
                    let modified = modified(&meta);
                    Listed {
                        uri: format!("{origin}{}{name}", pattern.dir),
                        version: size_mtime_version(meta.len(), modified),
                        size: meta.len(),
                        modified,
                    }
                })
            })
            .collect();
        listed.sort_by(|a, b| a.uri.cmp(&b.uri));
        Ok(listed)
    }

    async fn finish(&self, uri: &str, action: &AfterImport) -> Result<(), SourceError> {
        if *action == AfterImport::Keep {
            return Ok(());
        }
        let (remote, session) = self.connect(uri).await?;
        let path = remote.path.as_str();
        let sftp = &session.sftp;
        let result = within(self.connection.read_timeout, uri, "after_import", async {
            match action.destination(path) {
                Some(to) => sftp
                    .rename(path, to)
                    .await
                    .map_err(not_found_or(uri, "rename (after_import move)")),
                None => sftp
                    .remove_file(path)
                    .await
                    .map_err(not_found_or(uri, "remove (after_import delete)")),
            }
        })
        .await;
        session.close().await;
        result
    }
}

fn modified(meta: &Metadata) -> Option<DateTime<Utc>> {
    meta.mtime
        .and_then(|secs| DateTime::<Utc>::from_timestamp(i64::from(secs), 0))
}

fn ssh_err<'a>(uri: &'a str, op: &'static str) -> impl FnOnce(russh::Error) -> SourceError + 'a {
    move |source| SourceError::Ssh {
        uri: uri.to_owned(),
        op,
        source: Box::new(source),
    }
}

fn sftp_err<'a>(uri: &'a str, op: &'static str) -> impl FnOnce(SftpError) -> SourceError + 'a {
    move |source| SourceError::Sftp {
        uri: uri.to_owned(),
        op,
        source: Box::new(source),
    }
}

fn not_found_or<'a>(uri: &'a str, op: &'static str) -> impl FnOnce(SftpError) -> SourceError + 'a {
    move |source| match &source {
        SftpError::Status(status) if status.status_code == StatusCode::NoSuchFile => {
            SourceError::NotFound {
                uri: uri.to_owned(),
            }
        }
        _ => sftp_err(uri, op)(source),
    }
}
