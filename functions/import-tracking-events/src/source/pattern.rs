//! Pattern URIs for discovery: a directory, then a glob for the file name
//! (`outbound/TRACK_*.csv`). Matching is globset's, not hand-rolled.

use globset::{GlobBuilder, GlobMatcher};

use crate::error::SourceError;

const GLOB_CHARS: &[char] = &['*', '?', '[', '{'];

/// True when the URI's last path segment is a glob (`*`, `?`, `[…]`, `{…}`): the source names
/// files to discover rather than one file.
pub fn is_pattern(uri: &str) -> bool {
    uri.rsplit('/')
        .next()
        .is_some_and(|name| name.contains(GLOB_CHARS))
}

/// A pattern's directory and its compiled file-name glob.
pub(super) struct Pattern {
    /// Everything up to and including the last `/` of the path ("" when there is none).
    pub dir: String,
    name: String,
    matcher: GlobMatcher,
}

impl Pattern {
    /// Splits `path` (the path or key part of `uri`) into directory and glob.
    pub fn parse(uri: &str, path: &str) -> Result<Pattern, SourceError> {
        let (dir, name) = match path.rfind('/') {
            Some(i) => path.split_at(i + 1),
            None => ("", path),
        };
        if dir.contains(GLOB_CHARS) {
            return Err(SourceError::BadUri {
                uri: uri.to_owned(),
                reason: "only the last path segment may be a pattern",
            });
        }
        if name.is_empty() {
            return Err(SourceError::BadUri {
                uri: uri.to_owned(),
                reason: "the pattern needs a file name part, e.g. dir/*.csv",
            });
        }
        let matcher = GlobBuilder::new(name)
            .literal_separator(true)
            .backslash_escape(false)
            .build()
            .map_err(|source| SourceError::BadPattern {
                uri: uri.to_owned(),
                source,
            })?
            .compile_matcher();
        Ok(Pattern {
            dir: dir.to_owned(),
            name: name.to_owned(),
            matcher,
        })
    }

    pub fn matches(&self, file_name: &str) -> bool {
        self.matcher.is_match(file_name)
    }

    /// The file-name text before the first wildcard: a server-side prefix filter for S3.
    pub fn literal_prefix(&self) -> &str {
        let end = self.name.find(GLOB_CHARS).unwrap_or(self.name.len());
        &self.name[..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_the_last_segment_only() {
        let p = Pattern::parse("ftp://h/outbound/TRACK_*.csv", "/outbound/TRACK_*.csv").unwrap();
        assert_eq!(p.dir, "/outbound/");
        assert_eq!(p.literal_prefix(), "TRACK_");
        assert!(p.matches("TRACK_20261126.csv"));
        assert!(!p.matches("TRACK_20261126.csv.gz"));
        assert!(!p.matches("other.csv"));

        let p = Pattern::parse("s3://b/*.csv.gz", "*.csv.gz").unwrap();
        assert_eq!(p.dir, "");
        assert_eq!(p.literal_prefix(), "");
        assert!(p.matches("a.csv.gz"));

        let p = Pattern::parse("x", "/in/day?.csv").unwrap();
        assert!(p.matches("day1.csv") && !p.matches("day12.csv"));

        let exact = Pattern::parse("x", "/in/a.csv").unwrap();
        assert!(exact.matches("a.csv") && !exact.matches("b.csv"));

        assert!(Pattern::parse("x", "/in*/a.csv").is_err());
        assert!(Pattern::parse("x", "/in/").is_err());
        assert!(Pattern::parse("x", "/in/[a.csv").is_err());
    }
}
