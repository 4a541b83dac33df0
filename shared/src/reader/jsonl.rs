//! JSON Lines: one JSON object per line, the profile's columns naming its keys.
//!
//! Each line becomes a [`Record`] whose fields are the profile's keys in a fixed order, so the
//! mapper applies exactly the rules it applies to CSV. A line that is not a JSON object is not an
//! error of the file: it becomes a record marked `malformed`, rejected with its position like any
//! other bad record, and the lines after it are read as usual. A line in a legacy encoding is
//! decoded to UTF-8 before it is parsed.

use std::fmt::Write as _;

use csv_async::ByteRecord;
use encoding_rs::Encoding;
use serde_json::{Map, Value};
use tokio::io::AsyncRead;

use super::Record;
use super::decode::decode_into;
use super::lines::{LineReader, MAX_LINE_BYTES};
use crate::error::Position;
use crate::error::ReadError;
use crate::profile::{Column, Profile};

/// Streams records out of a JSON Lines file.
pub struct JsonLinesReader<R> {
    lines: LineReader<R>,
    /// The keys read from each object, in field order (each distinct key once).
    keys: Vec<String>,
    /// `None` for UTF-8; else each line is decoded before it is parsed.
    decoder: Option<&'static Encoding>,
    decoded: String,
    records: u64,
}

impl<R: AsyncRead + Unpin + Send> JsonLinesReader<R> {
    pub fn new(reader: R, profile: &Profile) -> Self {
        let mut keys: Vec<String> = Vec::new();
        for column in profile.columns.values() {
            if let Column::Name(key) = column
                && !keys.contains(key)
            {
                keys.push(key.clone());
            }
        }
        let decoder = profile.encoding.decoder();
        JsonLinesReader {
            lines: LineReader::new(reader, decoder.is_none()),
            keys,
            decoder,
            decoded: String::new(),
            records: 0,
        }
    }

    /// The keys every record's fields follow, as a header the mapper binds to.
    pub fn headers(&self) -> ByteRecord {
        ByteRecord::from(self.keys.clone())
    }

    pub async fn read(&mut self, out: &mut Record) -> Result<bool, ReadError> {
        loop {
            let Some(line) = self.lines.next(self.records + 1).await? else {
                return Ok(false);
            };
            let mut text = self.lines.line.trim_ascii();
            if text.is_empty() && !line.too_long {
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
            let mut fields = std::mem::take(&mut out.fields);
            fields.clear();
            if let Some(decoder) = self.decoder {
                self.decoded.clear();
                decode_into(decoder, text, &mut self.decoded);
                text = self.decoded.as_bytes();
            }
            if line.too_long {
                out.malformed = Some(format!("line is longer than {MAX_LINE_BYTES} bytes"));
            } else {
                match serde_json::from_slice::<Map<String, Value>>(text) {
                    Ok(object) => {
                        if let Err(reason) = fill(&mut fields, &self.keys, &object) {
                            out.malformed = Some(reason);
                        }
                    }
                    Err(err) => {
                        // serde's message may quote the value (a whole line of text).
                        let err = crate::error::excerpt(&err.to_string());
                        out.malformed = Some(format!("not a JSON object: {err}"));
                    }
                }
            }
            if out.malformed.is_some() {
                fields.clear();
            }
            out.fields = fields;
            return Ok(true);
        }
    }
}

/// Writes each key's value as text into `fields`: strings as they are, numbers and booleans as
/// JSON writes them, `null` or a missing key as empty (as a missing CSV field reads).
fn fill(
    fields: &mut csv_async::StringRecord,
    keys: &[String],
    object: &Map<String, Value>,
) -> Result<(), String> {
    let mut text = String::new();
    for key in keys {
        match object.get(key) {
            None | Some(Value::Null) => fields.push_field(""),
            Some(Value::String(s)) => fields.push_field(s),
            Some(Value::Number(n)) => {
                text.clear();
                let _ = write!(text, "{n}");
                fields.push_field(&text);
            }
            Some(Value::Bool(b)) => fields.push_field(if *b { "true" } else { "false" }),
            Some(Value::Array(_)) => {
                return Err(format!("key `{key}` holds an array, not a value"));
            }
            Some(Value::Object(_)) => {
                return Err(format!("key `{key}` holds an object, not a value"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile::from_toml(
            r#"
name = "t"
carrier_name = "T"
format = "jsonl"
[columns]
tracking_number = "tn"
carrier_status_code = "code"
event_date = "when"
weight = "w"
[datetime]
timezone = "UTC"
[status_map]
DL = ["DE", "DELIVERED"]
"#,
            "t.toml",
        )
        .unwrap()
    }

    async fn read_all(input: &[u8]) -> Vec<Record> {
        let p = profile();
        let mut reader = JsonLinesReader::new(input, &p);
        let mut out = Vec::new();
        let mut rec = Record::default();
        while reader.read(&mut rec).await.unwrap() {
            out.push(rec.clone());
        }
        out
    }

    #[tokio::test]
    async fn fields_follow_the_profile_keys_and_positions_count_lines_and_bytes() {
        let p = profile();
        let reader = JsonLinesReader::new(&b""[..], &p);
        let header: Vec<_> = reader.headers().iter().map(|h| h.to_vec()).collect();
        assert_eq!(
            header,
            [
                b"tn".to_vec(),
                b"code".to_vec(),
                b"when".to_vec(),
                b"w".to_vec()
            ]
        );

        let input = b"{\"tn\":\"A1\",\"code\":\"DL\",\"w\":2.5,\"extra\":[1]}\r\n\n  \n{\"code\":\"PU\",\"tn\":\"B2\",\"w\":null}";
        let recs = read_all(input).await;
        assert_eq!(recs.len(), 2);
        assert_eq!(
            recs[0].fields.iter().collect::<Vec<_>>(),
            ["A1", "DL", "", "2.5"]
        );
        assert_eq!(
            recs[0].position,
            Position {
                record: 1,
                line: 1,
                byte: 0
            }
        );
        assert_eq!(
            recs[1].fields.iter().collect::<Vec<_>>(),
            ["B2", "PU", "", ""]
        );
        assert_eq!(
            recs[1].position,
            Position {
                record: 2,
                line: 4,
                byte: 49
            },
            "blank lines count as lines, not records"
        );
        assert!(recs.iter().all(|r| r.malformed.is_none()));
    }

    #[tokio::test]
    async fn a_broken_line_is_a_malformed_record_and_reading_goes_on() {
        let input = b"{\"tn\":\"A1\"}\n{\"tn\": \"B2\", \n[1,2]\n{\"tn\":{\"x\":1}}\n\xff\xfe\n{\"tn\":\"C3\"}\n";
        let recs = read_all(input).await;
        let malformed: Vec<_> = recs.iter().map(|r| r.malformed.is_some()).collect();
        assert_eq!(malformed, [false, true, true, true, true, false]);
        assert!(
            recs[1]
                .malformed
                .as_ref()
                .unwrap()
                .contains("not a JSON object"),
            "{:?}",
            recs[1].malformed
        );
        assert!(recs[3].malformed.as_ref().unwrap().contains("key `tn`"));
        assert_eq!(recs[5].fields.get(0), Some("C3"));
        assert_eq!(recs[5].position.line, 6);
        assert!(
            recs[1].fields.is_empty(),
            "a malformed record has no fields"
        );
    }

    #[tokio::test]
    async fn a_byte_order_mark_is_skipped_and_legacy_encodings_are_decoded() {
        let recs = read_all(b"\xEF\xBB\xBF{\"tn\":\"A1\"}\n").await;
        assert_eq!(recs[0].fields.get(0), Some("A1"));

        let mut p = profile();
        p.encoding = crate::profile::TextEncoding::Windows1252;
        let mut reader = JsonLinesReader::new(&b"{\"tn\":\"Montr\xe9al\"}\n"[..], &p);
        let mut rec = Record::default();
        assert!(reader.read(&mut rec).await.unwrap());
        assert_eq!(rec.fields.get(0), Some("Montréal"));
    }

    #[tokio::test]
    async fn an_endless_line_is_rejected_without_holding_it() {
        let mut input = vec![b'{'; MAX_LINE_BYTES + 10];
        input.extend_from_slice(b"\n{\"tn\":\"A1\"}\n");
        let recs = read_all(&input).await;
        assert_eq!(recs.len(), 2);
        assert!(recs[0].malformed.as_ref().unwrap().contains("longer than"));
        assert_eq!(recs[1].fields.get(0), Some("A1"));
        assert_eq!(recs[1].position.byte, (MAX_LINE_BYTES + 11) as u64);
    }
}
