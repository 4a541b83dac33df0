//! Delimited text (CSV and its semicolon, pipe and tab cousins), on csv-async: RFC 4180 quoting
//! (or none), CRLF, blank lines, with or without a header line. Records are read into a
//! caller-owned [`Record`], so a steady-state import allocates nothing per record here.
//!
//! UTF-8 files are read as they are. Files in a legacy encoding are split on their own bytes
//! and each field is decoded to UTF-8 (see `decode`), so positions stay offsets in the file.

use csv_async::{AsyncReader, AsyncReaderBuilder, ByteRecord, StringRecord};
use encoding_rs::Encoding;
use tokio::io::AsyncRead;

use super::Record;
use super::bounds::RecordBounds;
use super::decode::decode_into;
use crate::error::{Position, ReadError};
use crate::profile::Profile;

/// Streams records out of a delimited file.
pub struct CsvReader<R> {
    inner: AsyncReader<RecordBounds<R>>,
    has_headers: bool,
    /// `None` for UTF-8, read without a decoding pass.
    decoder: Option<&'static Encoding>,
    /// The raw record and one decoded field, for files in a legacy encoding.
    raw: ByteRecord,
    field: String,
    /// What stands in the caller's record while its buffers are read into: an empty
    /// `StringRecord` allocates, so one is kept instead of made for every record.
    stand_in: Option<StringRecord>,
    /// A headerless UTF-8 file may start with a byte-order mark, which would stick to the first
    /// record's first field; set until that record is read.
    bom_pending: bool,
    /// Data records returned so far (blank lines are not records).
    records: u64,
    /// Where the record after the last one read starts: the position of a failure while
    /// reading it (csv's own position has by then moved on into the record).
    next: csv_async::Position,
}

impl<R: AsyncRead + Unpin + Send> CsvReader<R> {
    pub fn new(reader: R, profile: &Profile) -> Self {
        let mut builder = AsyncReaderBuilder::new();
        builder
            .delimiter(profile.delimiter)
            .has_headers(profile.has_headers)
            // Short and long records are the mapper's business (missing fields read as empty),
            // not a reason to stop the whole file.
            .flexible(true)
            // LF alone ends a record. With csv's default CRLF terminator, a record after a CRLF
            // line starts *at* the LF, so positions read one line and one byte early; here the
            // CR stays in the last field instead, where trimming removes it.
            .terminator(csv_async::Terminator::Any(b'\n'))
            .buffer_capacity(256 * 1024);
        match profile.quote {
            Some(quote) => builder.quote(quote),
            None => builder.quoting(false),
        };
        let decoder = profile.encoding.decoder();
        // Without quoting, a newline stands in for the quote byte: the bounds then see newlines
        // only, and no field is ever quoted.
        let bounds = RecordBounds::new(reader, profile.delimiter, profile.quote.unwrap_or(b'\n'));
        CsvReader {
            inner: builder.create_reader(bounds),
            has_headers: profile.has_headers,
            decoder,
            raw: ByteRecord::new(),
            field: String::new(),
            stand_in: None,
            bom_pending: !profile.has_headers && decoder.is_none(),
            records: 0,
            next: csv_async::Position::new(),
        }
    }

    /// The header record, as UTF-8; an error if the file has none. Empty when the profile says
    /// the file has no header line (its columns are positions).
    pub async fn headers(&mut self) -> Result<ByteRecord, ReadError> {
        if !self.has_headers {
            return Ok(ByteRecord::new());
        }
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
        let Some(decoder) = self.decoder else {
            return Ok(headers);
        };
        let mut decoded = ByteRecord::new();
        for header in &headers {
            self.field.clear();
            decode_into(decoder, header, &mut self.field);
            decoded.push_field(self.field.as_bytes());
        }
        Ok(decoded)
    }

    /// Reads the next record into `out`; `false` at the end of the file. Blank lines (including
    /// a lone CR of a CRLF file) are skipped.
    pub async fn read(&mut self, out: &mut Record) -> Result<bool, ReadError> {
        loop {
            let more = match self.decoder {
                None => self.read_utf8(out).await?,
                Some(decoder) => self.read_decoded(decoder, out).await?,
            };
            let blank = out.fields.len() == 1 && out.fields[0].trim_ascii().is_empty();
            if !more {
                return Ok(false);
            }
            if !blank {
                if self.bom_pending {
                    self.bom_pending = false;
                    strip_bom(out);
                }
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

    async fn read_utf8(&mut self, out: &mut Record) -> Result<bool, ReadError> {
        // Read bytes, then validate the whole record in one pass (csv's StringRecord does it
        // once per record instead of once per field); the buffers move, nothing is copied.
        let stand_in = self.stand_in.take().unwrap_or_default();
        let mut bytes = std::mem::replace(&mut out.fields, stand_in).into_byte_record();
        let read = self.inner.read_byte_record(&mut bytes).await;
        let position = bytes.position().cloned();
        match StringRecord::from_byte_record(bytes) {
            Ok(text) => {
                self.stand_in = Some(std::mem::replace(&mut out.fields, text));
                out.invalid_utf8.clear();
                out.malformed = None;
            }
            Err(err) => {
                let bytes = err.into_byte_record();
                out.invalid_utf8 = (0..bytes.len())
                    .filter(|&i| std::str::from_utf8(&bytes[i]).is_err())
                    .collect();
                let text = StringRecord::from_byte_record_lossy(bytes);
                self.stand_in = Some(std::mem::replace(&mut out.fields, text));
                out.malformed = None;
            }
        }
        self.finish(read, position.as_ref(), out)
    }

    async fn read_decoded(
        &mut self,
        decoder: &'static Encoding,
        out: &mut Record,
    ) -> Result<bool, ReadError> {
        let read = self.inner.read_byte_record(&mut self.raw).await;
        out.fields.clear();
        out.invalid_utf8.clear();
        out.malformed = None;
        for (i, field) in self.raw.iter().enumerate() {
            self.field.clear();
            if !decode_into(decoder, field, &mut self.field) {
                out.invalid_utf8.push(i);
            }
            out.fields.push_field(&self.field);
        }
        let position = self.raw.position().cloned();
        self.finish(read, position.as_ref(), out)
    }

    /// Records the position of the record just read, or turns csv's error into ours.
    fn finish(
        &mut self,
        read: Result<bool, csv_async::Error>,
        position: Option<&csv_async::Position>,
        out: &mut Record,
    ) -> Result<bool, ReadError> {
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

/// Removes a UTF-8 byte-order mark from the first field (once per file, so rebuilding is fine).
fn strip_bom(out: &mut Record) {
    let Some(first) = out.fields.get(0) else {
        return;
    };
    let Some(rest) = first.strip_prefix('\u{feff}') else {
        return;
    };
    let mut fields = StringRecord::with_capacity(out.fields.as_slice().len(), out.fields.len());
    fields.push_field(rest);
    for field in out.fields.iter().skip(1) {
        fields.push_field(field);
    }
    out.fields = fields;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(extra: &str, columns: &str) -> Profile {
        Profile::from_toml(
            &format!(
                "name = \"t\"\ncarrier_name = \"T\"\n{extra}\n[columns]\n{columns}\n\
                 [datetime]\ntimezone = \"UTC\"\n"
            ),
            "t.toml",
        )
        .unwrap()
    }

    const NAMED: &str =
        "tracking_number = \"tn\"\ncarrier_status_code = \"code\"\nevent_date = \"d\"";
    const POSITIONS: &str = "tracking_number = 1\ncarrier_status_code = 2\nevent_date = 3";

    async fn read_all(input: &[u8], profile: &Profile) -> (Vec<String>, Vec<Record>) {
        let mut reader = CsvReader::new(input, profile);
        let headers = reader.headers().await.unwrap();
        let headers = headers
            .iter()
            .map(|h| String::from_utf8(h.to_vec()).unwrap())
            .collect();
        let mut out = Vec::new();
        let mut rec = Record::default();
        while reader.read(&mut rec).await.unwrap() {
            out.push(rec.clone());
        }
        (headers, out)
    }

    fn fields(rec: &Record) -> Vec<&str> {
        rec.fields.iter().collect()
    }

    #[tokio::test]
    async fn semicolon_tab_and_pipe_delimiters() {
        for (delimiter, sep) in [
            ("\";\"", ";"),
            ("\"\\t\"", "\t"),
            ("\"tab\"", "\t"),
            ("'|'", "|"),
        ] {
            let p = profile(&format!("delimiter = {delimiter}"), NAMED);
            let input = format!("tn{sep}code{sep}d\n1Z{sep}DL{sep}\"a{sep}b\"\n");
            let (headers, recs) = read_all(input.as_bytes(), &p).await;
            assert_eq!(headers, ["tn", "code", "d"], "{delimiter}");
            assert_eq!(
                fields(&recs[0]),
                ["1Z", "DL", &format!("a{sep}b")],
                "{delimiter}"
            );
        }
    }

    #[tokio::test]
    async fn quote_character_and_no_quoting() {
        let p = profile("quote = \"'\"", NAMED);
        let (_, recs) = read_all(b"tn,code,d\n'1Z,9',\"DL\",x\n", &p).await;
        assert_eq!(fields(&recs[0]), ["1Z,9", "\"DL\"", "x"]);

        let p = profile("quote = \"\"", NAMED);
        let (_, recs) = read_all(b"tn,code,d\n\"1Z,DL,5\" inch\n", &p).await;
        assert_eq!(fields(&recs[0]), ["\"1Z", "DL", "5\" inch"]);
    }

    #[tokio::test]
    async fn headerless_records_start_at_line_one_without_a_bom() {
        let p = profile("has_headers = false", POSITIONS);
        let (headers, recs) = read_all(b"\xEF\xBB\xBF1Z,DL,2026-11-24\r\n\r\n2Z,PU,x\n", &p).await;
        assert!(headers.is_empty());
        assert_eq!(fields(&recs[0]), ["1Z", "DL", "2026-11-24\r"]);
        assert_eq!(
            recs[0].position,
            Position {
                record: 1,
                line: 1,
                byte: 0
            }
        );
        assert_eq!(fields(&recs[1]), ["2Z", "PU", "x"]);
        assert_eq!(
            recs[1].position,
            Position {
                record: 2,
                line: 3,
                byte: 23
            }
        );
    }

    #[tokio::test]
    async fn windows_1252_fields_and_headers_are_decoded_and_bytes_are_file_offsets() {
        let p = profile(
            "encoding = \"windows-1252\"\ndelimiter = \";\"",
            "tracking_number = \"N\u{b0}\"\ncarrier_status_code = \"code\"\nevent_date = \"d\"\ncity = \"Ville\"",
        );
        let input = b"N\xb0;code;d;Ville\n1Z;DL;x;Montr\xe9al\n2Z;DL;x;S\xe3o Paulo\n";
        let (headers, recs) = read_all(input, &p).await;
        assert_eq!(headers, ["N°", "code", "d", "Ville"]);
        assert_eq!(fields(&recs[0]), ["1Z", "DL", "x", "Montréal"]);
        assert_eq!(fields(&recs[1]), ["2Z", "DL", "x", "São Paulo"]);
        assert!(recs.iter().all(|r| r.invalid_utf8.is_empty()));
        // Offsets in the file as it is (one byte per accented letter), not in the UTF-8 copy.
        assert_eq!(recs[1].position.byte, 33);
        assert_eq!(recs[1].position.line, 3);

        let p = profile("encoding = \"iso-8859-1\"", NAMED);
        let (_, recs) = read_all(b"tn,code,d\nZ\xfcrich,\x80,x\n", &p).await;
        assert_eq!(fields(&recs[0]), ["Zürich", "€", "x"]);
    }
}
