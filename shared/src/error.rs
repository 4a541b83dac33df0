//! Errors of the shared crate: loading a profile, reading a carrier file, and the per-record
//! rejections that are counted rather than fatal.

use std::fmt;

/// Where a record sits in its file. `record` counts data records from 1 (the header is not one);
/// `line` is the 1-based line the record starts on; `byte` the offset of its first byte.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub record: u64,
    pub line: u64,
    pub byte: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "record {} (line {}, byte {})",
            self.record, self.line, self.byte
        )
    }
}

/// A profile that cannot be used. Messages name the profile (and the file it came from, when it
/// was loaded from one) and the offending key.
///
/// `profile` is that label, ready to print: ``profile `acme` (s3://bucket/acme.toml)``.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error(
        "unknown profile `{name}`: neither a built-in profile ({known}) nor a profile URI (s3://…, file://… or a path to a .toml file)"
    )]
    UnknownProfile { name: String, known: String },
    #[error(
        "profile `{origin}`: extends = {extends:?} names no built-in profile (built in: {known}) nor a profile URI that could be read, or extends more than 4 deep"
    )]
    BadExtends {
        origin: String,
        extends: String,
        known: String,
    },
    #[error("profile `{origin}` is not valid TOML for a profile")]
    Toml {
        origin: String,
        #[source]
        source: TomlSyntax,
    },
    #[error("{profile}: unknown Connect field `{field}` in [columns]; known fields: {known}")]
    UnknownField {
        profile: String,
        field: String,
        known: String,
    },
    #[error("{profile}: [columns] {field}: {reason}")]
    BadColumn {
        profile: String,
        field: &'static str,
        reason: String,
    },
    #[error("{profile}: format \"api\" reads no file, so [columns] must be empty")]
    ColumnsForApi { profile: String },
    #[error(
        "profile `{profile}` describes a carrier API, not a file; an import needs a file profile"
    )]
    NotAFileProfile { profile: String },
    #[error("{profile}: [columns] must map `{field}`")]
    MissingField {
        profile: String,
        field: &'static str,
    },
    #[error(
        "{profile}: [columns] must map the event time: `event_date` (and `event_time` when the time has its own column) or `event_datetime`"
    )]
    NoEventTime { profile: String },
    #[error("{profile}: {key}: unknown standardized status code `{code}`")]
    UnknownStatusCode {
        profile: String,
        key: String,
        code: String,
    },
    #[error("{profile}: {key}: unknown standardized status detail code `{code}`")]
    UnknownDetailCode {
        profile: String,
        key: String,
        code: String,
    },
    #[error("{profile}: {key}: {reason}")]
    BadStatusEntry {
        profile: String,
        key: String,
        reason: String,
    },
    #[error("{profile}: {key}: carrier code {code:?} is mapped more than once")]
    DuplicateCode {
        profile: String,
        key: String,
        code: String,
    },
    #[error(
        "{profile}: delimiter must be a single byte (or \"tab\"), and not a line end; got {delimiter:?}"
    )]
    BadDelimiter { profile: String, delimiter: String },
    #[error(
        "{profile}: quote must be a single byte other than the delimiter and line ends, or \"\" for no quoting; got {quote:?}"
    )]
    BadQuote { profile: String, quote: String },
    #[error(
        "{profile}: unknown encoding {encoding:?}; supported: \"utf-8\", \"windows-1252\", \"iso-8859-1\""
    )]
    UnknownEncoding { profile: String, encoding: String },
    #[error(
        "{profile}: format = \"{format}\" needs `record`, the path of one event's element or object"
    )]
    NoRecordPath {
        profile: String,
        format: &'static str,
    },
    #[error("{profile}: {key}: path {path:?} {reason}")]
    BadPath {
        profile: String,
        key: String,
        path: String,
        reason: crate::path::PathError,
    },
    #[error("{profile}: `{key}` does not apply to format = \"{format}\"")]
    NotForFormat {
        profile: String,
        key: &'static str,
        format: &'static str,
    },
    #[error("{profile}: unknown time zone `{timezone}` in [datetime]")]
    UnknownTimezone { profile: String, timezone: String },
    #[error(
        "{profile}: the file's zone is unknown: map `utc_offset` in [columns], set [datetime] timezone (an IANA zone, or \"local\" when only local times are known), or read an offset with datetime_format"
    )]
    NoZone { profile: String },
    #[error("{profile}: [datetime] {key} = {format:?} {reason}")]
    BadFormat {
        profile: String,
        key: &'static str,
        format: String,
        reason: &'static str,
    },
    #[error("{profile}: [datetime] {reason}")]
    BadDateTime {
        profile: String,
        reason: &'static str,
    },
    /// `record_type` / `[record_types]` of a header/detail file; `key` is the offending key,
    /// e.g. `record_types.H.columns.town`.
    #[error("{profile}: {key}: {reason}")]
    BadRecordTypes {
        profile: String,
        key: String,
        reason: String,
    },
}

/// A failure that ends reading a file: nothing after it can be trusted.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(
        "profile `{profile}`: the file's header lacks column `{column}` (for `{field}`); header is: {header:?}"
    )]
    MissingColumn {
        profile: String,
        field: &'static str,
        column: String,
        /// An [`excerpt`] of the header line: a file may be anything, even the environment.
        header: String,
    },
    /// The header is one column that another delimiter would split: the file was written with
    /// a different delimiter than the profile's (or for another profile).
    #[error(
        "profile `{profile}`: the file's header is a single column, but splits at {found:?}: the file looks {found:?}-delimited, and the profile's delimiter is {expected:?}"
    )]
    WrongDelimiter {
        profile: String,
        expected: char,
        found: char,
    },
    #[error("the file is empty: no header line")]
    NoHeader,
    /// A structured document (XML, JSON) broke off or is not well-formed: the records before
    /// the break were read; nothing after it can be.
    #[error("the file is not well-formed {format} at line {line}, byte {byte}: {reason}")]
    Malformed {
        format: &'static str,
        line: u64,
        byte: u64,
        reason: String,
    },
    #[error("reading the file failed at {position}")]
    Io {
        position: Position,
        #[source]
        source: std::io::Error,
    },
    #[error("reading the file failed at {position}")]
    Csv {
        position: Position,
        #[source]
        source: csv_async::Error,
    },
}

impl ReadError {
    /// The I/O error underneath, with where it happened, if this is one (whichever reader's
    /// layer it came up through); else the error itself. The import tells a source that failed
    /// from a file that is broken by it.
    pub fn into_io(self) -> Result<(Position, std::io::Error), ReadError> {
        match self {
            ReadError::Io { position, source } => Ok((position, source)),
            ReadError::Csv { position, source }
                if matches!(source.kind(), csv_async::ErrorKind::Io(_)) =>
            {
                match source.into_kind() {
                    csv_async::ErrorKind::Io(io) => Ok((position, io)),
                    _ => unreachable!("matched above"),
                }
            }
            other => Err(other),
        }
    }
}

/// Why one record was rejected. The record is counted and logged, never sent, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    #[error("{0}")]
    Malformed(String),
    #[error("no tracking number")]
    MissingTrackingNumber,
    #[error("column `{column}` is not valid UTF-8")]
    InvalidUtf8 { column: String },
    /// A NUL is valid UTF-8 but never text: a binary or UTF-16 file, or a corrupt one. Sending
    /// it on would put it in a tracking number or an address.
    #[error("column `{column}` contains a NUL byte")]
    NulByte { column: String },
    #[error("column `{column}`: {value:?} is not a date of format {format:?}")]
    InvalidDate {
        column: String,
        value: String,
        format: String,
    },
    #[error("column `{column}`: {value:?} is not a time of format {format:?}")]
    InvalidTime {
        column: String,
        value: String,
        format: String,
    },
    #[error("column `{column}`: {value:?} is not a date and time of format {format:?}")]
    InvalidDateTime {
        column: String,
        value: String,
        format: String,
    },
    #[error("column `{column}`: no datetime_format is given for format code {code:?}")]
    UnknownDateTimeFormat { column: String, code: String },
    #[error("column `{column}`: {value:?} is not a UTC offset (like -06:00)")]
    InvalidOffset { column: String, value: String },
    #[error("{local} does not exist in {timezone} (skipped by a daylight-saving change)")]
    NonexistentLocalTime { local: String, timezone: String },
}

/// A rejected record: where it was and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{position} rejected: {reason}")]
pub struct Rejection {
    pub position: Position,
    pub reason: RejectReason,
}

/// The most characters of a file's content (a header, a field, a TOML line) that an error
/// message or a log line quotes: whatever a request points the import at, an error never
/// repeats more of it than this.
pub const EXCERPT_CHARS: usize = 120;

/// `uri` without the user-info part of its authority, for messages, metrics and logs that
/// must not repeat a password someone put in a URI (`scheme://user:pass@host/…` →
/// `scheme://host/…`). Anything that is not `scheme://…` is returned as it is.
pub fn without_userinfo(uri: &str) -> String {
    let Some(scheme_end) = uri.find("://") else {
        return uri.to_owned();
    };
    let authority_start = scheme_end + 3;
    let rest = &uri[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_len].rfind('@') {
        Some(at) => format!("{}{}", &uri[..authority_start], &rest[at + 1..]),
        None => uri.to_owned(),
    }
}

/// At most [`EXCERPT_CHARS`] characters of `text`, with `…` when cut. Messages print it with
/// `{:?}`, so control characters and quotes come out escaped.
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Where and why a profile's TOML does not parse, quoting at most an [`excerpt`] of the line.
/// (toml's own message prints the whole offending line: for a file that is not a profile at all,
/// `/etc/passwd` say, that line is the secret.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TomlSyntax {
    pub line: usize,
    pub column: usize,
    /// toml's description of the problem, without its quote of the line; cut to an excerpt
    /// (it may quote a key or a value) and printed escaped.
    pub message: String,
    /// The offending line, cut to an excerpt.
    pub near: String,
}

impl TomlSyntax {
    pub fn new(err: &toml::de::Error, text: &str) -> TomlSyntax {
        let at = err.span().map_or(0, |s| s.start.min(text.len()));
        let before = text.get(..at).unwrap_or("");
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[line_start..]
            .find('\n')
            .map_or(text.len(), |i| line_start + i);
        TomlSyntax {
            line: before.matches('\n').count() + 1,
            column: text
                .get(line_start..at)
                .map_or(1, |s| s.chars().count() + 1),
            message: excerpt(err.message().trim()),
            near: excerpt(text[line_start..line_end].trim_end_matches('\r')),
        }
    }
}

impl fmt::Display for TomlSyntax {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {} (near {:?})",
            self.line,
            self.column,
            self.message.escape_debug(),
            self.near
        )
    }
}

impl std::error::Error for TomlSyntax {}

/// An error and its chain of causes on one line: `top: cause: root cause`.
pub fn report(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        // Transparent wrappers repeat their inner message; say it once.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}

#[cfg(test)]
mod excerpt_tests {
    use super::*;

    #[test]
    fn excerpts_cut_at_120_characters() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(500);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), 121, "120 characters and the ellipsis");
        assert!(cut.ends_with('…'));
        assert_eq!(excerpt(&"x".repeat(120)), "x".repeat(120), "120 fit whole");
    }

    #[test]
    fn a_file_that_is_not_toml_is_quoted_only_in_part() {
        let secret = format!("root:{}:0:0:root:/root:/bin/bash", "s".repeat(300));
        let text = format!("{secret}\ndaemon:x:1:1\n");
        let err = crate::Profile::from_toml(&text, "/etc/passwd").unwrap_err();
        let shown = report(&err);
        assert!(shown.contains("line 1, column"), "{shown}");
        assert!(shown.contains("root:sss"), "the line is quoted: {shown}");
        let near = shown.split("(near ").nth(1).unwrap();
        assert!(
            near.chars().count() <= 120 + 5,
            "an excerpt, quoted: {near}"
        );
        assert!(!shown.contains("daemon"), "{shown}");
        // A second-line error names its own line.
        let err = crate::Profile::from_toml("name = \"a\"\n= broken", "p.toml").unwrap_err();
        assert!(
            report(&err).contains("line 2, column 1"),
            "{}",
            report(&err)
        );
    }
}
