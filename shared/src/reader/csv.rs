//! Delimited text (CSV and its semicolon, pipe and tab cousins), on csv-async: RFC 4180 quoting,
//! CRLF, blank lines. Records are read into a caller-owned [`Record`], so a steady-state import
//! allocates nothing per record here.

use csv_async::{AsyncReader, AsyncReaderBuilder, ByteRecord, StringRecord};
use tokio::io::AsyncRead;

use super::Record;
use super::bounds::RecordBounds;
use crate::error::{Position, ReadError};

/// Streams records out of a delimited file.
pub struct CsvReader<R> {
    inner: AsyncReader<RecordBounds<R>>,
    /// Data records returned so far (blank lines are not records).
    records: u64,
    /// Where the record after the last one read starts: the position of a failure while
    /// reading it (csv's own position has by then moved on into the record).
    next: csv_async::Position,
}

impl<R: AsyncRead + Unpin + Send> CsvReader<R> {
    pub fn new(reader: R, delimiter: u8) -> Self {
        let inner = AsyncReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(true)
            // Short and long records are the mapper's business (missing fields read as empty),
            // not a reason to stop the whole file.
            .flexible(true)
            // LF alone ends a record. With csv's default CRLF terminator, a record after a CRLF
            // line starts *at* the LF, so positions read one line and one byte early; here the
            // CR stays in the last field instead, where trimming removes it.
            .terminator(csv_async::Terminator::Any(b'\n'))
            .buffer_capacity(256 * 1024)
            .create_reader(RecordBounds::new(reader, delimiter, b'"'));
        CsvReader {
            inner,
            records: 0,
            next: csv_async::Position::new(),
        }
    }

    /// The header record; an error if the file has none.
    pub async fn headers(&mut self) -> Result<ByteRecord, ReadError> {
        let headers = self
            .inner
            .byte_headers()
            .await
            .map_err(|source| ReadError::Csv {
                position: Position::default(),
                source,
            })?;
        if headers.is_empty() || (headers.len() == 1 && headers[0].trim_ascii().is_empty()) {
            return Err(ReadError::NoHeader);
        }
        let headers = headers.clone();
        self.next = self.inner.position().clone();
        Ok(headers)
    }

    /// Reads the next record into `out`; `false` at the end of the file. Blank lines (including
    /// a lone CR of a CRLF file) are skipped.
    pub async fn read(&mut self, out: &mut Record) -> Result<bool, ReadError> {
        loop {
            let more = self.read_any(out).await?;
            let blank = out.fields.len() == 1 && out.fields[0].trim_ascii().is_empty();
            if !more {
                return Ok(false);
            }
            if !blank {
                self.records += 1;
                out.position.record = self.records;
                // The file ended inside a quoted field: the record holding its opening quote
                // is the last one, and runs to the end of the file.
                if let Some(at) = self.inner.get_ref().unterminated_quote()
                    && (out.position.byte..self.inner.position().byte()).contains(&at)
                {
                    out.malformed = Some(format!(
                        "the quoted field opened at byte {at} is never closed: the record runs to the end of the file"
                    ));
                }
                return Ok(true);
            }
        }
    }

    async fn read_any(&mut self, out: &mut Record) -> Result<bool, ReadError> {
        // Read bytes, then validate the whole record in one pass (csv's StringRecord does it
        // once per record instead of once per field); the buffers move, nothing is copied.
        let mut bytes = std::mem::take(&mut out.fields).into_byte_record();
        let read = self.inner.read_byte_record(&mut bytes).await;
        let position = bytes.position().cloned();
        match StringRecord::from_byte_record(bytes) {
            Ok(text) => {
                out.fields = text;
                out.invalid_utf8.clear();
                out.malformed = None;
            }
            Err(err) => {
                let bytes = err.into_byte_record();
                out.invalid_utf8 = (0..bytes.len())
                    .filter(|&i| std::str::from_utf8(&bytes[i]).is_err())
                    .collect();
                out.fields = StringRecord::from_byte_record_lossy(bytes);
                out.malformed = None;
            }
        }
        match read {
            Ok(more) => {
                self.next = self.inner.position().clone();
                if let Some(pos) = position {
                    out.position = Position {
                        record: pos.record(),
                        line: pos.line(),
                        byte: pos.byte(),
                    };
                }
                Ok(more)
            }
            Err(source) => {
                // An I/O error carries no position, and `out` may still hold an older record's:
                // the record being read is the one after the last returned.
                let position = source.position().map_or(
                    Position {
                        record: self.records + 1,
                        line: self.next.line(),
                        byte: self.next.byte(),
                    },
                    |p| Position {
                        record: p.record(),
                        line: p.line(),
                        byte: p.byte(),
                    },
                );
                Err(ReadError::Csv { position, source })
            }
        }
    }
}
