//! The source port: open a carrier file as a byte stream, at a byte offset.
//!
//! Offsets exist so a later run can resume mid-file (S3 `Range`, FTP `REST`). Adapters own their
//! protocol types; the pipeline sees only an `AsyncRead` and a version string.

mod file;
mod s3;

pub use file::FileSource;
pub use s3::S3Source;

use std::pin::Pin;

use async_trait::async_trait;
use tokio::io::AsyncRead;

use crate::error::SourceError;

/// An opened object: its bytes from the requested offset, and what identifies this version.
pub struct Opened {
    pub body: Pin<Box<dyn AsyncRead + Send>>,
    /// Changes whenever the object's content does (S3 ETag; size + mtime for files).
    pub version: String,
    /// Total size of the object, when known.
    pub size: Option<u64>,
}

/// Something that can open a carrier file by URI.
#[async_trait]
pub trait Source: Send + Sync {
    async fn open(&self, uri: &str, offset: u64) -> Result<Opened, SourceError>;
}

/// A source URI, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    S3 { bucket: String, key: String },
    File { path: String },
}

impl Location {
    pub fn parse(uri: &str) -> Result<Location, SourceError> {
        let bad = |reason| SourceError::BadUri {
            uri: uri.to_owned(),
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
        if uri.contains("://") {
            return Err(bad("supported schemes: s3://, file://, or a plain path"));
        }
        if uri.is_empty() {
            return Err(bad("empty"));
        }
        Ok(Location::File {
            path: uri.to_owned(),
        })
    }
}

/// Dispatches on the URI's scheme to the adapter that serves it.
pub struct Sources {
    pub s3: Option<S3Source>,
    pub file: FileSource,
}

#[async_trait]
impl Source for Sources {
    async fn open(&self, uri: &str, offset: u64) -> Result<Opened, SourceError> {
        match Location::parse(uri)? {
            Location::S3 { .. } => match &self.s3 {
                Some(s3) => s3.open(uri, offset).await,
                None => Err(SourceError::BadUri {
                    uri: uri.to_owned(),
                    reason: "no S3 client is configured",
                }),
            },
            Location::File { .. } => self.file.open(uri, offset).await,
        }
    }
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
}
