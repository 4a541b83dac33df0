//! What the fuzz targets in `fuzz/` run, here so that `cargo test` replays their corpus through
//! the very same code on stable Rust (`tests/fuzz_corpus.rs`). Built only with the `fuzzing`
//! feature.
//!
//! Each function takes arbitrary bytes, must return normally whatever they are, and asserts the
//! invariants a carrier file's import relies on; a failed assertion is a finding like a panic.

use futures::executor::block_on;

use crate::profile::{Column, Format};
use crate::{Mapper, Profile, Record, RecordReader};

/// Example profiles of the structured formats (XML, JSON documents), which no built-in profile
/// reads.
const DOCUMENT_EXAMPLES: [(&str, &str); 3] = [
    (
        "xml-shipments",
        include_str!("../../profiles/examples/xml-shipments.toml"),
    ),
    (
        "json-shipments",
        include_str!("../../profiles/examples/json-shipments.toml"),
    ),
    (
        "json-events",
        include_str!("../../profiles/examples/json-events.toml"),
    ),
];

/// The profiles that describe a file, loaded once: parsing them on every input would be most of
/// the fuzzer's time, spent on the same TOML. The built-in ones (CSV, JSON Lines) in their
/// order, then the document examples; a seed's first byte, modulo their number, picks one.
fn file_profiles() -> &'static [Profile] {
    static PROFILES: std::sync::OnceLock<Vec<Profile>> = std::sync::OnceLock::new();
    PROFILES.get_or_init(|| {
        let documents = DOCUMENT_EXAMPLES
            .iter()
            .map(|(name, text)| Profile::from_toml(text, name).expect("the examples load"));
        Profile::builtin_names()
            .map(|name| Profile::builtin(name).expect("built-in profiles load"))
            .filter(|p| p.format != Format::Api)
            .chain(documents)
            .collect()
    })
}

/// The `parse_map` target: the first byte picks a built-in file profile, the rest is the file.
pub fn parse_map(data: &[u8]) {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let profiles = file_profiles();
    let profile = &profiles[usize::from(pick) % profiles.len()];
    read_and_map(profile, file);
}

/// The `edi` target: the first byte's lowest bit picks X12 or EDIFACT, the rest is an
/// interchange. It is read segment by segment (positions forward and inside the file, errors
/// with a message), then as records through the built-in `x12-214` or `edifact-iftsta` profile
/// and mapped, with [`parse_map`]'s checks.
pub fn edi(data: &[u8]) {
    use crate::reader::edi::{Segment, SegmentReader, Syntax};
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let (syntax, name) = match pick & 1 {
        0 => (Syntax::X12, "x12-214"),
        _ => (Syntax::Edifact, "edifact-iftsta"),
    };
    block_on(async {
        let mut segments = SegmentReader::new(file, syntax);
        let mut segment = Segment::default();
        let mut last: Option<(u64, u64)> = None;
        loop {
            match segments.next(&mut segment).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(err) => {
                    assert!(!crate::report(&err).is_empty());
                    break;
                }
            }
            let at = (segment.line, segment.byte);
            assert!(
                last.is_none_or(|l| at.0 >= l.0 && at.1 > l.1),
                "{at:?} after {last:?}"
            );
            assert!(at.1 < file.len() as u64, "{at:?} past the end");
            assert!(segment.tag().len() <= file.len());
            last = Some(at);
        }
    });
    let profile = file_profiles()
        .iter()
        .find(|p| p.name == name)
        .expect("the EDI profiles are built in");
    read_and_map(profile, file);
}

/// The `profile` target: a profile's TOML, optionally followed by a NUL byte and a file that
/// the profile, if it loads, then reads and maps.
pub fn profile(data: &[u8]) {
    let (toml, file) = match data.iter().position(|&b| b == 0) {
        Some(nul) => (&data[..nul], Some(&data[nul + 1..])),
        None => (data, None),
    };
    let Ok(text) = std::str::from_utf8(toml) else {
        return;
    };
    let profile = match Profile::from_toml(text, "fuzz.toml") {
        Ok(profile) => profile,
        Err(err) => {
            assert!(!crate::report(&err).is_empty());
            return;
        }
    };
    // What validation promises the reader and the mapper.
    if profile.format != Format::Api {
        use crate::profile::Field;
        // What records carry: `[columns]`, or a header/detail profile's context and event types.
        let columns = profile.record_columns();
        for field in [Field::TrackingNumber, Field::CarrierStatusCode] {
            assert!(columns.contains_key(&field), "{field:?} unmapped");
        }
        // The event's time: a date (with or without its own time column), or one datetime.
        assert!(
            columns.contains_key(&Field::EventDate) || columns.contains_key(&Field::EventDateTime),
            "no event time mapped"
        );
        assert!(
            profile.record_types.is_none() || profile.columns.is_empty(),
            "a header/detail profile maps its columns per type"
        );
        if let Some(file) = file {
            read_and_map(&profile, file);
        }
        // The profile's own column names are a header it binds to, whatever they are.
        let names: Option<Vec<&str>> = profile
            .columns
            .values()
            .map(|c| match c {
                Column::Name(name) if is_plain(name, &profile) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        if profile.format == Format::Csv
            && profile.has_headers
            && profile.record_types.is_none()
            && let Some(header) = names
        {
            let headers = csv_async::ByteRecord::from(header);
            Mapper::new(&profile, &headers).expect("a header of the profile's own columns binds");
        }
        typed_header_binds(&profile);
    } else {
        assert!(profile.columns.is_empty());
    }
}

/// A header/detail CSV profile reads a header line of its own column names (the type column's
/// and every type's), and its records bind to the mapper.
fn typed_header_binds(profile: &Profile) {
    let Some(types) = &profile.record_types else {
        return;
    };
    if profile.format != Format::Csv || !profile.has_headers {
        return;
    }
    // Names a header line carries as they are, in any encoding and quoting.
    let names: Option<Vec<&str>> = std::iter::once(&types.column)
        .chain(types.types.values().flat_map(|t| t.columns.values()))
        .map(|c| match c {
            Column::Name(name)
                if !name.is_empty()
                    && name.is_ascii()
                    && is_plain(name, profile)
                    && profile.quote.is_none_or(|q| !name.as_bytes().contains(&q)) =>
            {
                Some(name.as_str())
            }
            _ => None,
        })
        .collect();
    let Some(names) = names else {
        return;
    };
    let line = names.join(&char::from(profile.delimiter).to_string()) + "\n";
    block_on(async {
        let mut reader = RecordReader::new(line.as_bytes(), profile);
        let headers = reader
            .headers()
            .await
            .expect("a header line of the profile's own columns reads");
        Mapper::new(profile, &headers).expect("a header/detail file's records bind");
    });
}

/// A column name a CSV header can carry unquoted and unchanged (trimmed, no delimiter, no
/// quote, no newline, no byte-order mark).
fn is_plain(column: &str, profile: &Profile) -> bool {
    column.trim_ascii() == column
        && !column.starts_with('\u{feff}')
        && !column
            .bytes()
            .any(|b| b == profile.delimiter || b == b'"' || b == b'\n' || b == b'\r')
}

/// Reads every record of `file` and maps it, checking positions and events.
fn read_and_map(profile: &Profile, file: &[u8]) {
    block_on(async {
        let mut reader = RecordReader::new(file, profile);
        let headers = match reader.headers().await {
            Ok(headers) => headers,
            Err(err) => {
                assert!(!crate::report(&err).is_empty());
                return;
            }
        };
        let mapper = match Mapper::new(profile, &headers) {
            Ok(mapper) => mapper,
            Err(err) => {
                assert!(!crate::report(&err).is_empty());
                return;
            }
        };
        let mut record = Record::default();
        let mut count = 0u64;
        let (mut last_line, mut last_byte) = (0u64, None::<u64>);
        loop {
            match reader.read(&mut record).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(err) => {
                    assert!(!crate::report(&err).is_empty());
                    break;
                }
            }
            count += 1;
            let at = record.position;
            assert_eq!(at.record, count, "records are numbered 1, 2, 3…");
            // A document may hold several records on one line.
            let document = profile.format.is_document();
            assert!(
                at.line > last_line || (document && at.line == last_line),
                "lines move forward: {at:?} after {last_line}"
            );
            assert!(
                last_byte.is_none_or(|b| at.byte > b),
                "bytes move forward: {at:?} after {last_byte:?}"
            );
            assert!(at.byte < file.len() as u64, "{at:?} past the end");
            (last_line, last_byte) = (at.line, Some(at.byte));
            match mapper.map(&record) {
                Ok(event) => {
                    let json = serde_json::to_vec(&event).expect("an event serializes");
                    let back: serde_json::Value =
                        serde_json::from_slice(&json).expect("an event is valid JSON");
                    let info = &back["tracking_info"];
                    let number = info["tracking_number"].as_str().expect("a tracking number");
                    assert!(!number.is_empty() && !number.contains('\0'), "{number:?}");
                    // A time is sent in UTC, or as local time only where the file gives no
                    // zone (an X12 `LT`, an EDIFACT time without one); never neither.
                    let scan = &info["events"][0];
                    use crate::profile::Zone;
                    assert!(
                        scan["event_datetime"].is_string()
                            || (matches!(profile.datetime.zone, Zone::X12Codes | Zone::Local)
                                && scan["event_datetime_local"].is_string()),
                        "{scan}"
                    );
                }
                Err(rejection) => {
                    assert_eq!(rejection.position, at);
                    assert!(!rejection.to_string().is_empty());
                }
            }
        }
    });
}
