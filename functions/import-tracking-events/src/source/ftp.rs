//! FTP and FTPS sources: carriers' most common drop box.
//!
//! suppaftp on tokio; FTPS is explicit TLS (`AUTH TLS`, then `PROT P` for data) through rustls
//! with certificate verification always on (system roots plus the connection's `ca_certificate`).
//! Transfers are binary and passive; a file is streamed from its data connection as the pipeline
//! reads it, never buffered whole, and once the last byte is read the transfer's completion reply
//! is awaited and the control connection is closed with `QUIT`.

use std::io;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use secrecy::ExposeSecret;
use suppaftp::tokio::{AsyncRustlsConnector, AsyncRustlsFtpStream};
use suppaftp::types::FileType;
use suppaftp::{FtpError, Status};
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

use super::body::CloseAtEof;
use super::pattern::Pattern;
use super::timeout::{IdleTimeout, within};
use super::{
    AfterImport, Connection, Listed, Location, Opened, Remote, Source, size_mtime_version,
};
use crate::error::SourceError;

type Ftp = AsyncRustlsFtpStream;

/// `ftp://` and `ftps://` URIs, with one connection's credentials.
#[derive(Debug, Clone)]
pub struct FtpSource {
    connection: Connection,
}

impl FtpSource {
    pub fn new(connection: Connection) -> Self {
        FtpSource { connection }
    }

    /// Connects, secures (FTPS), logs in and switches to binary mode.
    async fn connect(&self, uri: &str, remote: &Remote, tls: bool) -> Result<Ftp, SourceError> {
        let c = &self.connection;
        within(c.connect_timeout, uri, "connecting and logging in", async {
            // Only to addresses the policy resolved and checked (the network guard).
            let tcp = c.policy.connect(uri, remote).await?;
            let mut ftp = Ftp::connect_with_stream(tcp)
                .await
                .map_err(ftp_err(uri, "greeting"))?;
            // Data connections go to the control connection's address whatever PASV says: servers
            // behind NAT advertise private addresses, and a hostile one could point us anywhere.
            ftp.set_passive_nat_workaround(true);
            if tls {
                let config = Arc::new(tls_config(c)?);
                let connector =
                    AsyncRustlsConnector::from(tokio_rustls::TlsConnector::from(config));
                ftp = ftp.into_secure(connector, &remote.host).await.map_err(
                    |source| match source {
                        FtpError::SecureError(_) => SourceError::Tls {
                            uri: uri.to_owned(),
                            source: Box::new(source),
                        },
                        other => ftp_err(uri, "AUTH TLS")(other),
                    },
                )?;
            }
            let user = remote
                .user
                .as_deref()
                .or(c.username.as_deref())
                .unwrap_or("anonymous");
            let password = match &c.password {
                Some(p) => p.expose_secret(),
                None if user == "anonymous" => "anonymous@",
                None => "",
            };
            ftp.login(user, password)
                .await
                .map_err(|source| match &source {
                    FtpError::UnexpectedResponse(r) if r.status == Status::NotLoggedIn => {
                        SourceError::Unauthorized {
                            uri: uri.to_owned(),
                            user: user.to_owned(),
                            method: "password",
                            source: Some(Box::new(source)),
                        }
                    }
                    _ => ftp_err(uri, "login")(source),
                })?;
            ftp.transfer_type(FileType::Binary)
                .await
                .map_err(ftp_err(uri, "TYPE I"))?;
            Ok(ftp)
        })
        .await
    }

    async fn connect_to(&self, uri: &str) -> Result<(Remote, Ftp), SourceError> {
        let (remote, tls) = match Location::parse(uri)? {
            Location::Ftp(remote) => (remote, false),
            Location::Ftps(remote) => (remote, true),
            _ => {
                return Err(SourceError::BadUri {
                    uri: uri.to_owned(),
                    reason: "not an ftp:// or ftps:// URI",
                });
            }
        };
        let ftp = self.connect(uri, &remote, tls).await?;
        Ok((remote, ftp))
    }
}

#[async_trait]
impl Source for FtpSource {
    async fn open(&self, uri: &str, offset: u64) -> Result<Opened, SourceError> {
        let (remote, mut ftp) = self.connect_to(uri).await?;
        let path = remote.path.as_str();
        let (size, modified, transfer) = within(
            self.connection.read_timeout,
            uri,
            "opening the file",
            async {
                let size = ftp.size(path).await.map_err(not_found_or(uri, "SIZE"))? as u64;
                // MDTM is an extension; without it the version is the size alone.
                let modified = ftp.mdtm(path).await.ok().map(|t| t.and_utc());
                if offset > 0 {
                    let offset = usize::try_from(offset).map_err(|_| SourceError::BadUri {
                        uri: uri.to_owned(),
                        reason: "offset too large for this platform",
                    })?;
                    ftp.resume_transfer(offset)
                        .await
                        .map_err(ftp_err(uri, "REST"))?;
                }
                let transfer = ftp
                    .retr_as_stream(path)
                    .await
                    .map_err(not_found_or(uri, "RETR"))?;
                Ok((size, modified, transfer))
            },
        )
        .await?;
        // At the end of the data, the file is only complete once the server says so (226).
        let body = CloseAtEof::new(transfer, |transfer| async move {
            transfer.finish().await.map_err(io::Error::other)?;
            quit(ftp).await;
            Ok(())
        });
        Ok(Opened {
            body: Box::pin(IdleTimeout::new(body, self.connection.read_timeout)),
            version: size_mtime_version(size, modified),
            size: Some(size),
        })
    }

    async fn list(&self, pattern_uri: &str) -> Result<Vec<Listed>, SourceError> {
        let (remote, mut ftp) = self.connect_to(pattern_uri).await?;
        let pattern = Pattern::parse(pattern_uri, &remote.path)?;
        let dir = match pattern.dir.trim_end_matches('/') {
            "" => "/",
            dir => dir,
        };
        let found = within(
            self.connection.read_timeout,
            pattern_uri,
            "listing",
            async {
                // CWD first: servers agree on 550 for a missing directory, not on what MLSD answers.
                ftp.cwd(dir)
                    .await
                    .map_err(not_found_or(pattern_uri, "CWD"))?;
                match ftp.mlsd(None).await {
                    Ok(lines) => Ok(lines
                        .iter()
                        .filter_map(|line| suppaftp::list::ListParser::parse_mlsd(line).ok())
                        .filter(|f| f.is_file() && pattern.matches(f.name()))
                        .map(|f| {
                            let modified = DateTime::<Utc>::from(f.modified());
                            (f.name().to_owned(), f.size() as u64, Some(modified))
                        })
                        .collect::<Vec<_>>()),
                    Err(FtpError::UnexpectedResponse(r))
                        if matches!(
                            r.status,
                            Status::BadCommand
                                | Status::NotImplemented
                                | Status::CommandNotImplemented
                        ) =>
                    {
                        list_without_mlsd(&mut ftp, pattern_uri, &pattern).await
                    }
                    Err(e) => Err(not_found_or(pattern_uri, "MLSD")(e)),
                }
            },
        )
        .await?;
        quit(ftp).await;
        let origin = remote.origin(pattern_uri);
        let mut listed: Vec<Listed> = found
            .into_iter()
            .map(|(name, size, modified)| Listed {
                uri: format!("{origin}{}{name}", pattern.dir),
                version: size_mtime_version(size, modified),
                size,
                modified,
            })
            .collect();
        listed.sort_by(|a, b| a.uri.cmp(&b.uri));
        Ok(listed)
    }

    async fn finish(&self, uri: &str, action: &AfterImport) -> Result<(), SourceError> {
        if *action == AfterImport::Keep {
            return Ok(());
        }
        let (remote, mut ftp) = self.connect_to(uri).await?;
        let path = remote.path.as_str();
        within(self.connection.read_timeout, uri, "after_import", async {
            match action.destination(path) {
                Some(to) => ftp
                    .rename(path, &to)
                    .await
                    .map_err(not_found_or(uri, "RNFR/RNTO (after_import move)")),
                None => ftp
                    .rm(path)
                    .await
                    .map_err(not_found_or(uri, "DELE (after_import delete)")),
            }
        })
        .await?;
        quit(ftp).await;
        Ok(())
    }
}

/// Listing (of the current directory) for servers without MLSD: NLST for names, then SIZE and
/// MDTM for each match (SIZE failing means a directory, which is skipped).
async fn list_without_mlsd(
    ftp: &mut Ftp,
    uri: &str,
    pattern: &Pattern,
) -> Result<Vec<(String, u64, Option<DateTime<Utc>>)>, SourceError> {
    let names = ftp.nlst(None).await.map_err(not_found_or(uri, "NLST"))?;
    let mut found = Vec::new();
    for entry in names {
        // Some servers answer NLST with paths, others with bare names.
        let name = entry.rsplit('/').next().unwrap_or(&entry).to_owned();
        if !pattern.matches(&name) {
            continue;
        }
        let path = format!("{}{name}", pattern.dir);
        let Ok(size) = ftp.size(&path).await else {
            continue;
        };
        let modified = ftp.mdtm(&path).await.ok().map(|t| t.and_utc());
        found.push((name, size as u64, modified));
    }
    Ok(found)
}

/// Ends a session politely; a failed `QUIT` loses nothing, so it is only logged.
async fn quit(mut ftp: Ftp) {
    if let Err(err) = ftp.quit().await {
        tracing::debug!(error = %err, "FTP QUIT failed");
    }
}

fn ftp_err<'a>(uri: &'a str, op: &'static str) -> impl FnOnce(FtpError) -> SourceError + 'a {
    move |source| SourceError::Ftp {
        uri: uri.to_owned(),
        op,
        source: Box::new(source),
    }
}

/// 550 ("file unavailable") is what servers answer for a missing file or directory.
fn not_found_or<'a>(uri: &'a str, op: &'static str) -> impl FnOnce(FtpError) -> SourceError + 'a {
    move |source| match &source {
        FtpError::UnexpectedResponse(r) if r.status == Status::FileUnavailable => {
            SourceError::NotFound {
                uri: uri.to_owned(),
            }
        }
        _ => ftp_err(uri, op)(source),
    }
}

/// rustls with the system roots plus `ca_certificate`; verification cannot be turned off.
fn tls_config(c: &Connection) -> Result<ClientConfig, SourceError> {
    static SYSTEM_ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    let system = SYSTEM_ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for err in &found.errors {
            tracing::debug!(error = %err, "skipping an unreadable system root certificate");
        }
        found.certs
    });
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(system.iter().cloned());
    if let Some(pem) = &c.ca_certificate {
        let bad = |reason: &str, source: Box<dyn std::error::Error + Send + Sync>| {
            SourceError::InvalidSetting {
                key: "ca_certificate",
                reason: reason.to_owned(),
                source: Some(source),
            }
        };
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let cert = cert.map_err(|e| bad("not a PEM certificate", Box::new(e)))?;
            roots
                .add(cert)
                .map_err(|e| bad("not a usable CA certificate", Box::new(e)))?;
            added += 1;
        }
        if added == 0 {
            return Err(SourceError::InvalidSetting {
                key: "ca_certificate",
                reason: "no -----BEGIN CERTIFICATE----- block found".into(),
                source: None,
            });
        }
    }
    // An explicit provider: the build links both aws-lc-rs and ring, so there is no single
    // process-wide default for rustls to pick.
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth())
}
