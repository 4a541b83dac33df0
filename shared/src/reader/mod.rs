//! Reading a carrier's file from any `AsyncRead`, one record at a time, as the bytes stream in.
//!
//! One [`RecordReader`] serves every file format a profile can name, so the pipeline and the
//! mapper see the same [`Record`] whatever the carrier sends. This module knows nothing of S3,
//! FTP or SQS, nor of compression: it is handed plain bytes. Text in a legacy encoding is
//! decoded per record, so records always hold UTF-8 and positions are offsets in the file.

mod bounds;
mod csv;
mod decode;
pub mod edi;
mod fixed;
mod jsonl;
mod lines;
mod resume;
mod tree;
mod typed;

pub use self::bounds::{MAX_RECORD_BYTES, RecordTooLong};
pub use self::csv::CsvReader;
pub use self::fixed::FixedWidthReader;
pub use self::jsonl::JsonLinesReader;
pub use self::lines::MAX_LINE_BYTES;
pub use self::resume::{Reentry, saved_headers};
pub use self::tree::{EdiReader, JsonDocumentReader, XmlReader};
pub use self::typed::TypedReader;

use csv_async::{ByteRecord, StringRecord};

/// Looks up an attribute of the node a document reader just opened (an XML attribute by local
/// name, an EDI element such as `02.4`); borrowed from the node where the reader can.
pub type Attributes<'a> = dyn FnMut(&str) -> Option<std::borrow::Cow<'a, str>> + 'a;
use tokio::io::AsyncRead;

use crate::error::{Position, ReadError};
use crate::profile::{Format, Profile};

/// A header line's names as columns are found by: trimmed, and the first without a UTF-8
/// byte-order mark.
pub fn header_names(header: &ByteRecord) -> Vec<&[u8]> {
    header
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = if i == 0 {
                h.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(h)
            } else {
                h
            };
            h.trim_ascii()
        })
        .collect()
}

/// Where column `name` is among a header's `names` (see [`header_names`]), or the error that
/// names it, the field it feeds and the header (an excerpt: a file may hold anything).
pub fn find_column(
    names: &[&[u8]],
    name: &str,
    profile: &str,
    field: &'static str,
) -> Result<usize, ReadError> {
    names
        .iter()
        .position(|h| *h == name.as_bytes())
        .ok_or_else(|| ReadError::MissingColumn {
            profile: profile.to_owned(),
            field,
            column: name.to_owned(),
            header: crate::error::excerpt(
                &names
                    .iter()
                    .map(|h| String::from_utf8_lossy(h))
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        })
}

/// One record and where it was in the file.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// The fields as text. When the record is not valid text in the file's encoding this is a
    /// lossy copy, and `invalid_utf8` lists the fields that are not (so only records whose
    /// *used* fields are broken get rejected, and nothing lossy is ever sent).
    pub fields: StringRecord,
    pub invalid_utf8: Vec<usize>,
    /// Set when the record as a whole could not be read (a JSON line that is not an object);
    /// the mapper rejects it with this reason, keeping its position.
    pub malformed: Option<String>,
    pub position: Position,
}

/// Streams the records of a file in the format its profile names.
pub enum RecordReader<R> {
    Csv(CsvReader<R>),
    JsonLines(JsonLinesReader<R>),
    Fixed(FixedWidthReader<R>),
    Xml(XmlReader<R>),
    Json(JsonDocumentReader<R>),
    /// X12 and EDIFACT interchanges.
    Edi(EdiReader<R>),
    /// A header/detail file (`record_type`), over a CSV or fixed-width reader (boxed: it holds
    /// one of them and the rows it keeps).
    Typed(Box<TypedReader<R>>),
}

impl<R: AsyncRead + Unpin + Send> RecordReader<R> {
    /// A reader for `profile`'s format. `Format::Api` profiles describe no file; they are refused
    /// when the profile is chosen for an import, and read here as CSV.
    pub fn new(reader: R, profile: &Profile) -> Self {
        if let Some(types) = &profile.record_types {
            return RecordReader::Typed(Box::new(TypedReader::new(reader, profile, types)));
        }
        match profile.format {
            Format::Jsonl => RecordReader::JsonLines(JsonLinesReader::new(reader, profile)),
            Format::Fixed => RecordReader::Fixed(FixedWidthReader::new(reader, profile)),
            Format::Xml => RecordReader::Xml(XmlReader::new(reader, profile)),
            Format::Json => RecordReader::Json(JsonDocumentReader::new(reader, profile)),
            Format::X12 | Format::Edifact => RecordReader::Edi(EdiReader::new(reader, profile)),
            Format::Csv | Format::Api => RecordReader::Csv(CsvReader::new(reader, profile)),
        }
    }

    /// The names records' fields are found by: the file's header line for CSV, the profile's
    /// keys for JSON Lines, its column paths for XML and JSON documents, the keys of the fields a
    /// header/detail file's records carry, nothing for positional columns (headerless CSV, fixed
    /// width). An error if a CSV file that should have a header has none.
    pub async fn headers(&mut self) -> Result<ByteRecord, ReadError> {
        match self {
            RecordReader::Csv(r) => r.headers().await,
            RecordReader::JsonLines(r) => Ok(r.headers()),
            RecordReader::Fixed(_) => Ok(ByteRecord::new()),
            RecordReader::Xml(r) => Ok(r.headers()),
            RecordReader::Json(r) => Ok(r.headers()),
            RecordReader::Edi(r) => Ok(r.headers()),
            RecordReader::Typed(r) => r.headers().await,
        }
    }

    /// Reads the next record into `out`; `false` at the end of the file. Blank lines are
    /// skipped and not counted as records.
    pub async fn read(&mut self, out: &mut Record) -> Result<bool, ReadError> {
        match self {
            RecordReader::Csv(r) => r.read(out).await,
            RecordReader::JsonLines(r) => r.read(out).await,
            RecordReader::Fixed(r) => r.read(out).await,
            RecordReader::Xml(r) => r.read(out).await,
            RecordReader::Json(r) => r.read(out).await,
            RecordReader::Edi(r) => r.read(out).await,
            RecordReader::Typed(r) => r.read(out).await,
        }
    }
}
