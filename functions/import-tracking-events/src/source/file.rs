//! Local files, for the CLI and for tests: `file:///abs/path` or a plain path.

use std::fs::Metadata;
use std::io::SeekFrom;
use std::time::UNIX_EPOCH;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::io::{AsyncSeekExt, BufReader};

use super::pattern::Pattern;
use super::{AfterImport, Listed, Location, Opened, Source};
use crate::error::SourceError;

fn path_of(uri: &str) -> Result<String, SourceError> {
    match Location::parse(uri)? {
        Location::File { path } => Ok(path),
        _ => Err(SourceError::BadUri {
            uri: uri.to_owned(),
            reason: "not a file path",
        }),
    }
}

/// Size and modification time in nanoseconds: what changes when the file does.
fn version(meta: &Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{}+{}", meta.len(), mtime)
}

#[derive(Debug, Clone, Default)]
pub struct FileSource;

#[async_trait]
impl Source for FileSource {
    async fn open(&self, uri: &str, offset: u64) -> Result<Opened, SourceError> {
        let path = path_of(uri)?;
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
        if offset > 0 {
            file.seek(SeekFrom::Start(offset)).await.map_err(io_err)?;
        }
        Ok(Opened {
            body: Box::pin(BufReader::with_capacity(256 * 1024, file)),
            version: version(&meta),
            size: Some(meta.len()),
        })
    }

    async fn list(&self, pattern_uri: &str) -> Result<Vec<Listed>, SourceError> {
        let path = path_of(pattern_uri)?;
        let pattern = Pattern::parse(pattern_uri, &path)?;
        let prefix = if pattern_uri.starts_with("file://") {
            "file://"
        } else {
            ""
        };
        let dir = if pattern.dir.is_empty() {
            "."
        } else {
            pattern.dir.as_str()
        };
        let io_err = |source| SourceError::File {
            path: dir.to_owned(),
            source,
        };
        let mut entries = tokio::fs::read_dir(dir).await.map_err(io_err)?;
        let mut listed = Vec::new();
        while let Some(entry) = entries.next_entry().await.map_err(io_err)? {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if !pattern.matches(&name) {
                continue;
            }
            // Follows symlinks, as open does.
            let meta = tokio::fs::metadata(entry.path()).await.map_err(io_err)?;
            if !meta.is_file() {
                continue;
            }
            listed.push(Listed {
                uri: format!("{prefix}{}{name}", pattern.dir),
                version: version(&meta),
                size: meta.len(),
                modified: meta.modified().ok().map(DateTime::<Utc>::from),
            });
        }
        listed.sort_by(|a, b| a.uri.cmp(&b.uri));
        Ok(listed)
    }

    async fn finish(&self, uri: &str, action: &AfterImport) -> Result<(), SourceError> {
        let path = path_of(uri)?;
        let io_err = |source| SourceError::File {
            path: path.clone(),
            source,
        };
        match action {
            AfterImport::Keep => Ok(()),
            AfterImport::Delete => tokio::fs::remove_file(&path).await.map_err(io_err),
            AfterImport::Move(_) => {
                let to = action.destination(&path).expect("a move has a destination");
                tokio::fs::rename(&path, &to).await.map_err(io_err)
            }
        }
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

    #[tokio::test]
    async fn lists_a_pattern_with_the_versions_open_gives_and_moves_or_deletes() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["TRACK_2.csv", "TRACK_1.csv", "other.csv"] {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        std::fs::create_dir(dir.path().join("TRACK_dir.csv")).unwrap();
        std::fs::create_dir(dir.path().join("done")).unwrap();
        let pattern = format!("file://{}/TRACK_*.csv", dir.path().display());
        let listed = FileSource.list(&pattern).await.unwrap();
        let uris: Vec<_> = listed.iter().map(|l| l.uri.as_str()).collect();
        let base = format!("file://{}", dir.path().display());
        assert_eq!(
            uris,
            [
                format!("{base}/TRACK_1.csv").as_str(),
                format!("{base}/TRACK_2.csv").as_str()
            ]
        );
        let opened = FileSource.open(&listed[0].uri, 0).await.unwrap();
        assert_eq!(opened.version, listed[0].version);
        assert_eq!(listed[0].size, 11);
        assert!(listed[0].modified.is_some());

        FileSource
            .finish(&listed[0].uri, &AfterImport::Move("done".into()))
            .await
            .unwrap();
        assert!(dir.path().join("done/TRACK_1.csv").is_file());
        FileSource
            .finish(&listed[1].uri, &AfterImport::Delete)
            .await
            .unwrap();
        assert!(!dir.path().join("TRACK_2.csv").exists());
        assert!(FileSource.list(&pattern).await.unwrap().is_empty());
    }
}
