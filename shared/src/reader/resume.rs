//! What a reader needs to be opened again in the middle of its file, and what it keeps of a
//! rejected record: the format knowledge the import's pipeline must not have.
//!
//! A checkpoint records the byte where a settled record starts. Reopened there, a reader that
//! expects a header line (CSV with headers, fixed width with a title line) is given one in front
//! of the tail; a format whose header cannot be rebuilt faithfully, or a header/detail file (whose
//! context rows before the checkpoint matter), is read from the start instead, skipping the
//! settled records.

use csv_async::ByteRecord;

use super::Record;
use crate::profile::{Format, Profile, TextEncoding};

/// How to enter a file mid-way for `profile`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reentry {
    /// Open the file at the checkpoint's byte and put `prefix` in front of it (empty when the
    /// format needs nothing).
    AtByte { prefix: Vec<u8> },
    /// The header cannot be rebuilt as the file had it: read from the start, skipping.
    FromStart,
}

impl Reentry {
    /// How to reenter a file of `profile` whose header fields a checkpoint saved as `saved`
    /// (see [`saved_headers`]).
    pub fn for_profile(profile: &Profile, saved: Option<&[String]>) -> Reentry {
        // A header/detail file's context rows before the checkpoint would be lost.
        if profile.record_types.is_some() {
            return Reentry::FromStart;
        }
        let prefix = match profile.format {
            // A document's records depend on the elements around them: read from the start.
            Format::Xml | Format::Json | Format::X12 | Format::Edifact => {
                return Reentry::FromStart;
            }
            Format::Jsonl => Vec::new(),
            _ if !profile.has_headers => Vec::new(),
            // Any non-blank line: the fixed-width reader skips its first one as the title.
            Format::Fixed => b"-\n".to_vec(),
            Format::Csv | Format::Api => match saved {
                // Rewritten as UTF-8: only safe when the file's encoding reads it back alike.
                Some(fields)
                    if profile.encoding == TextEncoding::Utf8
                        || fields.iter().all(|f| f.is_ascii()) =>
                {
                    header_line(fields, profile)
                }
                _ => return Reentry::FromStart,
            },
        };
        Reentry::AtByte { prefix }
    }
}

/// What a checkpoint keeps of a file's header to reenter it later: the CSV header fields (as
/// UTF-8; `None` when they are not), nothing for formats whose names come from the profile.
pub fn saved_headers(profile: &Profile, headers: &ByteRecord) -> Option<Vec<String>> {
    if profile.format == Format::Jsonl
        || profile.format.is_document()
        || profile.record_types.is_some()
    {
        return None;
    }
    headers
        .iter()
        .map(|h| std::str::from_utf8(h).ok().map(str::to_owned))
        .collect()
}

/// The header fields as one line of the profile's CSV dialect.
fn header_line(fields: &[String], profile: &Profile) -> Vec<u8> {
    let mut builder = csv::WriterBuilder::new();
    builder
        .delimiter(profile.delimiter)
        .terminator(csv::Terminator::Any(b'\n'));
    match profile.quote {
        Some(quote) => builder.quote(quote),
        None => builder.quote_style(csv::QuoteStyle::Never),
    };
    let mut writer = builder.from_writer(Vec::new());
    writer
        .write_record(fields)
        .expect("writing to a Vec cannot fail");
    writer.into_inner().expect("writing to a Vec cannot fail")
}

impl Record {
    /// The record's fields as one CSV line (no terminator), for an operator to read and replay a
    /// rejected record: a CSV record as it was, a JSON line as the values of the profile's keys.
    pub fn raw_text(&self, delimiter: u8) -> String {
        let mut writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let _ = writer.write_record(self.fields.iter());
        let mut bytes = writer.into_inner().unwrap_or_default();
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
        }
        String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(toml_extra: &str, format: &str) -> Profile {
        let text = format!(
            "name = \"p\"\ncarrier_name = \"P\"\nformat = \"{format}\"\n{toml_extra}\n[columns]\ntracking_number = \"tn\"\ncarrier_status_code = \"code\"\nevent_date = \"date\"\n[datetime]\ntimezone = \"UTC\"\n[status_map]\nDL = [\"DE\", \"DELIVERED\"]\n"
        );
        Profile::from_toml(&text, "p").unwrap()
    }

    #[test]
    fn csv_gets_its_header_back_in_its_own_dialect() {
        let p = profile("delimiter = \";\"", "csv");
        let fields = ["tn".to_owned(), "a;b".to_owned()];
        assert_eq!(
            Reentry::for_profile(&p, Some(&fields)),
            Reentry::AtByte {
                prefix: b"tn;\"a;b\"\n".to_vec()
            }
        );
        assert_eq!(Reentry::for_profile(&p, None), Reentry::FromStart);
    }

    #[test]
    fn a_non_ascii_header_in_a_legacy_encoding_is_read_from_the_start() {
        let p = profile("encoding = \"windows-1252\"", "csv");
        let ascii = ["tn".to_owned()];
        let accented = ["Städt".to_owned()];
        assert!(matches!(
            Reentry::for_profile(&p, Some(&ascii)),
            Reentry::AtByte { .. }
        ));
        assert_eq!(
            Reentry::for_profile(&p, Some(&accented)),
            Reentry::FromStart
        );
    }

    #[test]
    fn json_lines_need_no_header_and_keep_none() {
        let p = profile("", "jsonl");
        assert_eq!(
            Reentry::for_profile(&p, None),
            Reentry::AtByte { prefix: Vec::new() }
        );
        assert_eq!(saved_headers(&p, &ByteRecord::from(vec!["tn"])), None);
        let csv = profile("", "csv");
        assert_eq!(
            saved_headers(&csv, &ByteRecord::from(vec!["tn", "code"])),
            Some(vec!["tn".to_owned(), "code".to_owned()])
        );
    }

    #[test]
    fn raw_text_quotes_as_csv_does() {
        let record = Record {
            fields: csv_async::StringRecord::from(vec!["1Z", "a,b", "say \"hi\""]),
            ..Record::default()
        };
        assert_eq!(record.raw_text(b','), "1Z,\"a,b\",\"say \"\"hi\"\"\"");
    }
}
