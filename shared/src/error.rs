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
    #[error("profile `{origin}` is not valid TOML for a profile")]
    Toml {
        origin: String,
        #[source]
        source: toml::de::Error,
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
    #[error("{profile}: `{key}` does not apply to format = \"{format}\"")]
    NotForFormat {
        profile: String,
        key: &'static str,
        format: &'static str,
    },
    #[error("{profile}: unknown time zone `{timezone}` in [datetime]")]
    UnknownTimezone { profile: String, timezone: String },
    #[error(
        "{profile}: the file's zone is unknown: map `utc_offset` in [columns], set [datetime] timezone, or read an offset with datetime_format"
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
}

/// A failure that ends reading a file: nothing after it can be trusted.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(
        "profile `{profile}`: the file's header lacks column `{column}` (for `{field}`); header is: {header}"
    )]
    MissingColumn {
        profile: String,
        field: &'static str,
        column: String,
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
