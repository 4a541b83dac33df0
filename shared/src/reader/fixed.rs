//! Fixed-width records: one line per record, each field a span of characters given by the
//! profile (`{ start = 1, len = 18 }`, 1-based), with trailing spaces trimmed.
//!
//! Spans count characters, not bytes, so a UTF-8 `é` is one column wide like an ASCII letter;
//! lines in a legacy encoding are decoded first. Each record carries one field per mapped column,
//! in [`Field`](crate::profile::Field) order, which is how the mapper finds them.

use encoding_rs::Encoding;
use tokio::io::AsyncRead;

use super::Record;
use super::decode::decode_into;
use super::lines::{LineReader, MAX_LINE_BYTES};
use crate::error::{Position, ReadError};
use crate::profile::{Column, Profile};

/// Streams records out of a fixed-width file.
pub struct FixedWidthReader<R> {
    lines: LineReader<R>,
    /// 0-based first character and length of each field, in field order.
    spans: Vec<(usize, usize)>,
    /// `None` for UTF-8.
    decoder: Option<&'static Encoding>,
    /// The first non-blank line is a title, not a record.
    skip_title: bool,
    /// The current line as text, and the byte offset of each of its characters (filled only
    /// for lines that are not pure ASCII).
    text: String,
    starts: Vec<usize>,
    records: u64,
}

impl<R: AsyncRead + Unpin + Send> FixedWidthReader<R> {
    pub fn new(reader: R, profile: &Profile) -> Self {
        FixedWidthReader::with_columns(reader, profile, profile.columns.values())
    }

    /// A reader cutting each line into `columns`, in their order, rather than the profile's
    /// `[columns]` (the typed layer reads every record type's spans at once).
    pub(super) fn with_columns<'c>(
        reader: R,
        profile: &Profile,
        columns: impl IntoIterator<Item = &'c Column>,
    ) -> Self {
        let spans = columns
            .into_iter()
            .map(|column| match column {
                Column::Span { start, len } => (start - 1, *len),
                // A validated fixed-width profile has spans only; anything else reads as empty.
                Column::Name(_) | Column::Position(_) => (usize::MAX, 0),
            })
            .collect();
        let decoder = profile.encoding.decoder();
        FixedWidthReader {
            lines: LineReader::new(reader, decoder.is_none()),
            spans,
            decoder,
            skip_title: profile.has_headers,
            text: String::new(),
            starts: Vec::new(),
            records: 0,
        }
    }

    /// Reads the next record into `out`; `false` at the end of the file. Blank lines are
    /// skipped and not counted as records.
    pub async fn read(&mut self, out: &mut Record) -> Result<bool, ReadError> {
        loop {
            let Some(line) = self.lines.next(self.records + 1).await? else {
                return Ok(false);
            };
            let bytes = self
                .lines
                .line
                .strip_suffix(b"\r")
                .unwrap_or(&self.lines.line);
            if bytes.trim_ascii().is_empty() && !line.too_long {
                continue;
            }
            if self.skip_title {
                self.skip_title = false;
                continue;
            }
            self.records += 1;
            out.position = Position {
                record: self.records,
                line: line.number,
                byte: line.byte,
            };
            out.invalid_utf8.clear();
            out.malformed = None;
            out.fields.clear();
            self.text.clear();
            if line.too_long {
                out.malformed = Some(format!("line is longer than {MAX_LINE_BYTES} bytes"));
                return Ok(true);
            }
            let clean = match self.decoder {
                Some(decoder) => decode_into(decoder, bytes, &mut self.text),
                None => match std::str::from_utf8(bytes) {
                    Ok(text) => {
                        self.text.push_str(text);
                        true
                    }
                    Err(_) => {
                        self.text.push_str(&String::from_utf8_lossy(bytes));
                        false
                    }
                },
            };
            self.split(clean, out);
            return Ok(true);
        }
    }

    /// The text of the line last read, decoded, without its line end (empty for a line too
    /// long to hold).
    pub(super) fn line_text(&self) -> &str {
        &self.text
    }

    /// Cuts `self.text` into the profile's spans. When the line had bytes that are not text,
    /// the fields holding their replacement character are marked, so only records whose used
    /// fields are broken get rejected.
    fn split(&mut self, clean: bool, out: &mut Record) {
        let text = self.text.as_str();
        let ascii = text.is_ascii();
        if !ascii {
            self.starts.clear();
            self.starts.extend(text.char_indices().map(|(i, _)| i));
        }
        let chars = if ascii { text.len() } else { self.starts.len() };
        let byte_at = |char_index: usize| -> usize {
            if char_index >= chars {
                text.len()
            } else if ascii {
                char_index
            } else {
                self.starts[char_index]
            }
        };
        for (i, &(start, len)) in self.spans.iter().enumerate() {
            let from = byte_at(start);
            let to = byte_at(start.saturating_add(len));
            let field = text[from..to].trim_end_matches(' ');
            if !clean && field.contains('\u{fffd}') {
                out.invalid_utf8.push(i);
            }
            out.fields.push_field(field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(extra: &str) -> Profile {
        Profile::from_toml(
            &format!(
                r#"
name = "t"
carrier_name = "T"
format = "fixed"
{extra}
[columns]
tracking_number = {{ start = 1, len = 6 }}
carrier_status_code = {{ start = 7, len = 2 }}
event_date = {{ start = 9, len = 8 }}
city = {{ start = 17, len = 10 }}
[datetime]
date_format = "%Y%m%d"
timezone = "UTC"
"#
            ),
            "t.toml",
        )
        .unwrap()
    }

    async fn read_all(input: &[u8], profile: &Profile) -> Vec<Record> {
        let mut reader = FixedWidthReader::new(input, profile);
        let mut out = Vec::new();
        let mut rec = Record::default();
        while reader.read(&mut rec).await.unwrap() {
            out.push(rec.clone());
        }
        out
    }

    fn fields(rec: &Record) -> Vec<&str> {
        rec.fields.iter().collect()
    }

    #[tokio::test]
    async fn spans_count_characters_and_trailing_spaces_go() {
        let p = profile("");
        let input =
            "1Z0001DL20261124Montréal  \r\n\n1Z0002PU20261125São Paulo X\n1Z3   IT20261126Ro\n";
        let recs = read_all(input.as_bytes(), &p).await;
        assert_eq!(fields(&recs[0]), ["1Z0001", "DL", "20261124", "Montréal"]);
        assert_eq!(fields(&recs[1]), ["1Z0002", "PU", "20261125", "São Paulo"]);
        // A short line: the spans past its end are empty.
        assert_eq!(fields(&recs[2]), ["1Z3", "IT", "20261126", "Ro"]);
        assert_eq!(
            recs[1].position,
            Position {
                record: 2,
                line: 3,
                byte: 30
            }
        );
    }

    #[tokio::test]
    async fn legacy_encodings_titles_and_broken_bytes() {
        let p = profile("encoding = \"windows-1252\"\nhas_headers = true");
        let input = b"TRACKING FILE 2026-11-24\n1Z0001DL20261124Montr\xe9al\n";
        let recs = read_all(input, &p).await;
        assert_eq!(recs.len(), 1, "the title line is not a record");
        assert_eq!(fields(&recs[0]), ["1Z0001", "DL", "20261124", "Montréal"]);
        assert_eq!(recs[0].position.line, 2);

        let p = profile("");
        let recs = read_all(b"1Z0001DL20261124Montr\xe9al\n", &p).await;
        assert_eq!(fields(&recs[0])[..3], ["1Z0001", "DL", "20261124"]);
        assert_eq!(recs[0].invalid_utf8, [3], "only the city is broken");
    }
}
