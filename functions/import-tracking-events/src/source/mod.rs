//! The source port: open a carrier file as a byte stream at a byte offset, list the files a
//! pattern matches, and tidy a file away once it is imported.
//!
//! Offsets exist so a later run can resume mid-file (S3 `Range`, FTP `REST`, SFTP offset reads).
//! Adapters own their protocol types; the pipeline sees only an `AsyncRead` and a version string.
//! Remote servers need the request's credentials, so the handler binds [`Sources`] to the job's
//! [`Connection`] ([`Sources::bind`]) and hands the pipeline the bound dispatcher.

mod body;
mod connection;
mod file;
mod ftp;
mod pattern;
mod policy;
mod reopen;
mod s3;
mod sftp;
mod timeout;

pub use connection::{Connection, Fingerprint};
pub use file::FileSource;
pub use ftp::FtpSource;
pub use pattern::is_pattern;
pub use policy::{AccessPolicy, NonPublic, non_public};
pub use reopen::{ReopenPolicy, Reopening};
pub use s3::S3Source;
pub use sftp::SftpSource;

pub use shared::error::without_userinfo;

use std::pin::Pin;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::io::AsyncRead;

use crate::error::SourceError;

/// An opened object: its bytes from the requested offset, and what identifies this version.
pub struct Opened {
    pub body: Pin<Box<dyn AsyncRead + Send>>,
    /// Changes whenever the object's content does (S3 ETag; size + mtime for files and servers).
    pub version: String,
    /// Total size of the object, when known.
    pub size: Option<u64>,
}

/// One file a pattern matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The file's own URI (same scheme, user, host and port as the pattern).
    pub uri: String,
    /// The same string [`Opened::version`] gives for this file, so the two can be compared.
    pub version: String,
    pub size: u64,
    pub modified: Option<DateTime<Utc>>,
}

/// What to do with a file on its server once it has been imported (`after_import`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AfterImport {
    #[default]
    Keep,
    /// Rename it into this directory: absolute when it starts with `/`, else relative to the
    /// file's own directory. The directory must exist.
    Move(String),
    Delete,
}

impl AfterImport {
    /// Parses `keep`, `delete` or `move:<dir>`.
    pub fn parse(value: &str) -> Result<AfterImport, SourceError> {
        let bad = |reason: &str| SourceError::InvalidSetting {
            key: "after_import",
            reason: format!("{value:?}: {reason}"),
            source: None,
        };
        match value.trim() {
            "keep" => Ok(AfterImport::Keep),
            "delete" => Ok(AfterImport::Delete),
            v => match v.strip_prefix("move:") {
                Some(dir) if dir.split(['/', '\\']).any(|s| s.trim() == "..") => {
                    Err(bad("move: may not climb out with `..`"))
                }
                Some(dir) if !dir.trim().is_empty() => Ok(AfterImport::Move(
                    dir.trim().trim_end_matches('/').to_owned(),
                )),
                Some(_) => Err(bad("move: needs a directory, e.g. move:processed")),
                None => Err(bad("expected keep, delete or move:<dir>")),
            },
        }
    }

    /// Where `move:` puts the file at `path` (None for keep and delete).
    fn destination(&self, path: &str) -> Option<String> {
        let AfterImport::Move(dir) = self else {
            return None;
        };
        let (parent, name) = match path.rsplit_once('/') {
            Some((parent, name)) => (Some(parent), name),
            None => (None, path),
        };
        let dir = match parent {
            Some(parent) if !dir.starts_with('/') => format!("{parent}/{dir}"),
            _ => dir.clone(),
        };
        Some(format!("{dir}/{name}"))
    }
}

/// Something that can open, list and tidy carrier files by URI.
#[async_trait]
pub trait Source: Send + Sync {
    async fn open(&self, uri: &str, offset: u64) -> Result<Opened, SourceError>;

    /// Whether `uri` may be read at all ([`AccessPolicy`]); checked before anything is read.
    fn allows(&self, _uri: &str) -> Result<(), SourceError> {
        Ok(())
    }

    /// The files that `pattern_uri` matches, sorted by URI. The last path segment may be a glob
    /// (`*`, `?`, `[a-z]`, `{a,b}`); the directories before it may not.
    async fn list(&self, pattern_uri: &str) -> Result<Vec<Listed>, SourceError> {
        Err(SourceError::Unsupported {
            uri: pattern_uri.to_owned(),
            what: "listing",
        })
    }

    /// Applies `after_import` to an imported file. Adapters that cannot move or delete say so
    /// with [`SourceError::Unsupported`]; `keep` always succeeds.
    async fn finish(&self, uri: &str, action: &AfterImport) -> Result<(), SourceError> {
        match action {
            AfterImport::Keep => Ok(()),
            _ => Err(SourceError::Unsupported {
                uri: uri.to_owned(),
                what: "after_import move/delete",
            }),
        }
    }
}

/// A server named by an `ftp://`, `ftps://` or `sftp://` URI.
///
/// Paths are taken literally (no percent-decoding, as for S3 keys) and are absolute on the
/// server, which for the chrooted accounts carriers hand out is the account's own root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub host: String,
    pub port: u16,
    /// The user named in the URI, if any; it wins over `ftp_username`.
    pub user: Option<String>,
    /// Absolute path on the server, starting with `/`.
    pub path: String,
}

impl Remote {
    /// `scheme://[user@]host[:port]` (the URI without its path), for building listed URIs.
    fn origin<'u>(&self, uri: &'u str) -> &'u str {
        let after_scheme = uri.find("://").map_or(0, |i| i + 3);
        let path_at = uri[after_scheme..]
            .find('/')
            .map_or(uri.len(), |i| after_scheme + i);
        &uri[..path_at]
    }
}

/// A source URI, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    S3 {
        bucket: String,
        key: String,
    },
    File {
        path: String,
    },
    Ftp(Remote),
    /// FTP with explicit TLS (`AUTH TLS`).
    Ftps(Remote),
    Sftp(Remote),
}

impl Location {
    pub fn parse(uri: &str) -> Result<Location, SourceError> {
        let bad = |reason| SourceError::BadUri {
            uri: without_userinfo(uri),
            reason,
        };
        if let Some(rest) = uri.strip_prefix("s3://") {
            let (bucket, key) = rest
                .split_once('/')
                .ok_or_else(|| bad("expected s3://bucket/key"))?;
            if bucket.is_empty() || key.is_empty() {
                return Err(bad("expected s3://bucket/key"));
            }
            return Ok(Location::S3 {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
            });
        }
        if let Some(path) = uri.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad("file URIs take an absolute path: file:///dir/file.csv"));
            }
            return Ok(Location::File {
                path: path.to_owned(),
            });
        }
        for (scheme, port, make) in [
            ("ftp://", 21, Location::Ftp as fn(Remote) -> Location),
            ("ftps://", 21, Location::Ftps),
            ("sftp://", 22, Location::Sftp),
        ] {
            if let Some(rest) = uri.strip_prefix(scheme) {
                return parse_remote(rest, port).map(make).map_err(bad);
            }
        }
        if uri.contains("://") {
            return Err(bad(
                "supported schemes: s3://, file://, ftp://, ftps://, sftp://, or a plain path",
            ));
        }
        if uri.is_empty() {
            return Err(bad("empty"));
        }
        Ok(Location::File {
            path: uri.to_owned(),
        })
    }
}

/// Parses `[user@]host[:port]/path` (IPv6 hosts in brackets).
fn parse_remote(rest: &str, default_port: u16) -> Result<Remote, &'static str> {
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => return Err("expected scheme://[user@]host[:port]/path"),
    };
    let (user, host_port) = match authority.rsplit_once('@') {
        Some((user, host_port)) => {
            if user.contains(':') {
                // A password in a URI ends up in logs and summaries; it belongs in ftp_password.
                return Err("no password in the URI: put it in the ftp_password metadata");
            }
            if user.is_empty() {
                return Err("empty user name before @");
            }
            (Some(user.to_owned()), host_port)
        }
        None => (None, authority),
    };
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or("unclosed [ in the host")?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err("unexpected text after ]"),
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err("no host");
    }
    let port = match port {
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p != 0)
            .ok_or("bad port")?,
        None => default_port,
    };
    if path.len() < 2 {
        return Err("no path after the host");
    }
    Ok(Remote {
        host: host.to_owned(),
        port,
        user,
        path: path.to_owned(),
    })
}

/// Dispatches on the URI's scheme to the adapter that serves it.
///
/// Used unbound (as a [`Source`] itself) it reaches remote servers anonymously with default
/// timeouts; the handler binds it to the request's [`Connection`] instead.
pub struct Sources {
    pub s3: Option<S3Source>,
    pub file: FileSource,
}

impl Sources {
    /// This dispatcher with the credentials and timeouts of one connection.
    pub fn bind<'a>(&'a self, connection: &'a Connection) -> Bound<'a> {
        Bound {
            sources: self,
            connection,
        }
    }
}

#[async_trait]
impl Source for Sources {
    async fn open(&self, uri: &str, offset: u64) -> Result<Opened, SourceError> {
        let connection = Connection::default();
        self.bind(&connection).open(uri, offset).await
    }

    async fn list(&self, pattern_uri: &str) -> Result<Vec<Listed>, SourceError> {
        let connection = Connection::default();
        self.bind(&connection).list(pattern_uri).await
    }

    async fn finish(&self, uri: &str, action: &AfterImport) -> Result<(), SourceError> {
        let connection = Connection::default();
        self.bind(&connection).finish(uri, action).await
    }
}

/// [`Sources`] bound to one connection's credentials.
pub struct Bound<'a> {
    sources: &'a Sources,
    connection: &'a Connection,
}

impl Bound<'_> {
    /// The adapter for `uri`'s scheme, once the connection's policy allows `uri`.
    fn adapter(&self, uri: &str) -> Result<Box<dyn Source + '_>, SourceError> {
        let location = Location::parse(uri)?;
        self.connection.policy.check(uri)?;
        Ok(match location {
            Location::S3 { .. } => match &self.sources.s3 {
                Some(s3) => Box::new(s3.clone()),
                None => {
                    return Err(SourceError::BadUri {
                        uri: uri.to_owned(),
                        reason: "no S3 client is configured",
                    });
                }
            },
            Location::File { .. } => Box::new(self.sources.file.clone()),
            Location::Ftp(_) | Location::Ftps(_) => {
                Box::new(FtpSource::new(self.connection.clone()))
            }
            Location::Sftp(_) => Box::new(SftpSource::new(self.connection.clone())),
        })
    }
}

#[async_trait]
impl Source for Bound<'_> {
    fn allows(&self, uri: &str) -> Result<(), SourceError> {
        self.connection.policy.check(uri)
    }

    async fn open(&self, uri: &str, offset: u64) -> Result<Opened, SourceError> {
        self.adapter(uri)?.open(uri, offset).await
    }

    async fn list(&self, pattern_uri: &str) -> Result<Vec<Listed>, SourceError> {
        self.adapter(pattern_uri)?.list(pattern_uri).await
    }

    async fn finish(&self, uri: &str, action: &AfterImport) -> Result<(), SourceError> {
        // A file is moved only to where the connection may read: the policy's prefixes hold.
        if let Ok(Location::Ftp(r) | Location::Ftps(r) | Location::Sftp(r)) = Location::parse(uri)
            && let Some(destination) = action.destination(&r.path)
        {
            let moved_to = format!("{}{destination}", r.origin(uri));
            self.connection.policy.check(&moved_to)?;
        }
        self.adapter(uri)?.finish(uri, action).await
    }
}

/// `size+seconds`: the version of a file on a server that offers no content hash.
fn size_mtime_version(size: u64, modified: Option<DateTime<Utc>>) -> String {
    format!("{size}+{}", modified.map_or(0, |t| t.timestamp()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris() {
        assert_eq!(
            Location::parse("s3://bucket/dir/file.csv").unwrap(),
            Location::S3 {
                bucket: "bucket".into(),
                key: "dir/file.csv".into()
            }
        );
        assert_eq!(
            Location::parse("file:///tmp/a.csv").unwrap(),
            Location::File {
                path: "/tmp/a.csv".into()
            }
        );
        assert_eq!(
            Location::parse("events/a.csv").unwrap(),
            Location::File {
                path: "events/a.csv".into()
            }
        );
        for bad in [
            "s3://bucket",
            "s3:///key",
            "file://rel/a.csv",
            "gopher://x/y",
            "",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn remote_uris() {
        assert_eq!(
            Location::parse("ftp://carrier.example/outbound/TRACK_*.csv").unwrap(),
            Location::Ftp(Remote {
                host: "carrier.example".into(),
                port: 21,
                user: None,
                path: "/outbound/TRACK_*.csv".into()
            })
        );
        assert_eq!(
            Location::parse("ftps://acme@127.0.0.1:2121/a.csv").unwrap(),
            Location::Ftps(Remote {
                host: "127.0.0.1".into(),
                port: 2121,
                user: Some("acme".into()),
                path: "/a.csv".into()
            })
        );
        assert_eq!(
            Location::parse("sftp://[::1]:2222/in/a.csv").unwrap(),
            Location::Sftp(Remote {
                host: "::1".into(),
                port: 2222,
                user: None,
                path: "/in/a.csv".into()
            })
        );
        assert_eq!(
            Location::parse("sftp://h/a.csv").unwrap(),
            Location::Sftp(Remote {
                host: "h".into(),
                port: 22,
                user: None,
                path: "/a.csv".into()
            })
        );
        for bad in [
            "ftp://host",
            "ftp://host/",
            "ftp:///a.csv",
            "ftp://host:0/a.csv",
            "ftp://host:x/a.csv",
            "sftp://@host/a.csv",
            "ftp://[::1/a.csv",
        ] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
        let err = Location::parse("ftp://u:hunter2@host/a.csv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ftp_password"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn after_import() {
        assert_eq!(AfterImport::parse("keep").unwrap(), AfterImport::Keep);
        assert_eq!(AfterImport::parse(" delete ").unwrap(), AfterImport::Delete);
        let moved = AfterImport::parse("move:processed/").unwrap();
        assert_eq!(moved, AfterImport::Move("processed".into()));
        assert_eq!(
            moved.destination("/outbound/a.csv").as_deref(),
            Some("/outbound/processed/a.csv")
        );
        assert_eq!(
            moved.destination("/a.csv").as_deref(),
            Some("/processed/a.csv")
        );
        assert_eq!(
            AfterImport::Move("/archive".into())
                .destination("/outbound/a.csv")
                .as_deref(),
            Some("/archive/a.csv")
        );
        for bad in [
            "",
            "move:",
            "remove",
            "move",
            "move:../..",
            "move:a/../../etc",
        ] {
            let err = AfterImport::parse(bad).unwrap_err().to_string();
            assert!(err.contains("after_import"), "{err}");
        }
    }
}
