//! Local files, for the CLI and for tests: `file:///abs/path` or a plain path.

use std::io::SeekFrom;
use std::time::UNIX_EPOCH;

use async_trait::async_trait;
use tokio::io::{AsyncSeekExt, BufReader};

use super::{Location, Opened, Source};
use crate::error::SourceError;

#[derive(Debug, Clone, Default)]
pub struct FileSource;

#[async_trait]
impl Source for FileSource {
    async fn open(&self, uri: &str, offset: u64) -> Result<Opened, SourceError> {
        let Location::File { path } = Location::parse(uri)? else {
            return Err(SourceError::BadUri {
                uri: uri.to_owned(),
                reason: "not a file path",
            });
        };
        let io_err = |source| SourceError::File {
            path: path.clone(),
            source,
        };
        let mut file = tokio::fs::File::open(&path).await.map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                SourceError::NotFound {
                    uri: uri.to_owned(),
                }
            } else {
                io_err(source)
            }
        })?;
        let meta = file.metadata().await.map_err(io_err)?;
        let mtime = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        if offset > 0 {
            file.seek(SeekFrom::Start(offset)).await.map_err(io_err)?;
        }
        Ok(Opened {
            body: Box::pin(BufReader::with_capacity(256 * 1024, file)),
            version: format!("{}+{}", meta.len(), mtime),
            size: Some(meta.len()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn opens_at_an_offset_and_versions_by_size_and_mtime() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(&path, b"0123456789").unwrap();
        let uri = format!("file://{}", path.display());
        let mut opened = FileSource.open(&uri, 4).await.unwrap();
        let mut rest = String::new();
        opened.body.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "456789");
        assert_eq!(opened.size, Some(10));
        assert!(opened.version.starts_with("10+"), "{}", opened.version);

        let missing = FileSource.open("/no/such/file.csv", 0).await.err().unwrap();
        assert!(matches!(missing, SourceError::NotFound { .. }), "{missing}");
    }
}
