//! Header/detail files (`record_type` + `[record_types]`) from bytes to Connect JSON through the
//! reader and the mapper the import uses: context rows filling event rows, an event's own value
//! winning, unknown types rejected with their position and text, record numbers counting only
//! what is returned, per-field invalid text, and whole-file reentry.

use serde_json::Value;
use shared::reader::Reentry;
use shared::{Mapper, Position, Profile, Record, RecordReader, RejectReason};

/// Each record of `bytes` under `profile`: its position, and its event's JSON or the reason it
/// was rejected with its raw text.
async fn run(profile: &Profile, bytes: &[u8]) -> Vec<(Position, Result<Value, (String, String)>)> {
    let mut reader = RecordReader::new(bytes, profile);
    let headers = reader.headers().await.unwrap();
    let mapper = Mapper::new(profile, &headers).unwrap();
    let mut record = Record::default();
    let mut out = Vec::new();
    while reader.read(&mut record).await.unwrap() {
        let mapped = match mapper.map(&record) {
            Ok(event) => Ok(serde_json::to_value(&event).unwrap()),
            Err(rejection) => {
                assert_eq!(rejection.position, record.position);
                Err((rejection.reason.to_string(), record.raw_text(b',')))
            }
        };
        out.push((record.position, mapped));
    }
    out
}

fn at(record: u64, line: u64, byte: u64) -> Position {
    Position { record, line, byte }
}

/// (tracking number, carrier code, UTC time, city, service code) of an event.
fn summary(event: &Value) -> (String, String, String, String, String) {
    let info = &event["tracking_info"];
    let scan = &info["events"][0];
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    (
        text(&info["tracking_number"]),
        text(&info["carrier_status_code"]),
        text(&scan["event_datetime"]),
        text(&scan["city"]),
        text(&info["service"]["code"]),
    )
}

fn row(
    tn: &str,
    code: &str,
    utc: &str,
    city: &str,
    service: &str,
) -> (String, String, String, String, String) {
    (
        tn.into(),
        code.into(),
        utc.into(),
        city.into(),
        service.into(),
    )
}

const CSV_PROFILE: &str = r#"
name = "csv-hd"
carrier_name = "Lakeside Logistics"
record_type = "Type"

[record_types.S]
role = "context"
columns = { tracking_number = "Ref", service_code = "Service", city = "City" }

[record_types.E]
role = "event"
columns = { tracking_number = "Ref", carrier_status_code = "Code", event_date = "Date", event_time = "Time", city = "City" }

[record_types.Z]
role = "ignore"

[datetime]
timezone = "UTC"

[status_map]
PU = ["AC", "PICKED_UP"]
IT = ["IT", "IN_TRANSIT"]
"#;

#[tokio::test]
async fn a_csv_with_a_header_line_fills_events_from_the_shipment_row_before_them() {
    let profile = Profile::from_toml(CSV_PROFILE, "csv-hd.toml").unwrap();
    let csv = "Type,Ref,Service,Code,Date,Time,City\n\
               S,LL001,GND,,,,Austin\n\
               E,,,PU,2026-11-24,08:00:00,\n\
               E,,,IT,2026-11-24,18:30:00,Waco\n\
               Q,\"odd, row\"\n\
               S,LL002,EXP,,,,\n\
               Z,trailer\n\
               E,LL009,,IT,2026-11-25,07:15:00,Dallas\n\
               E,,,IT,2026-11-25,09:00:00,\n";
    let out = run(&profile, csv.as_bytes()).await;
    let events: Vec<_> = out
        .iter()
        .filter_map(|(_, r)| r.as_ref().ok().map(summary))
        .collect();
    assert_eq!(
        events,
        [
            row("LL001", "PU", "2026-11-24T08:00:00Z", "Austin", "GND"),
            row("LL001", "IT", "2026-11-24T18:30:00Z", "Waco", "GND"),
            // The event's own tracking number wins over the shipment row's.
            row("LL009", "IT", "2026-11-25T07:15:00Z", "Dallas", "EXP"),
            row("LL002", "IT", "2026-11-25T09:00:00Z", "", "EXP"),
        ]
    );
    let positions: Vec<Position> = out.iter().map(|(p, _)| *p).collect();
    assert_eq!(
        positions,
        [
            at(1, 3, 59),
            at(2, 4, 87),
            at(3, 5, 119),
            at(4, 8, 158),
            at(5, 9, 197)
        ]
    );
    assert_eq!(
        out[2].1,
        Err((
            "unknown record type `Q`".to_owned(),
            "Q,\"odd, row\"".to_owned()
        ))
    );
    assert_eq!(
        headers_of(&profile, csv.as_bytes()).await,
        [
            "tracking_number",
            "carrier_status_code",
            "event_date",
            "event_time",
            "city",
            "service_code"
        ]
    );
}

async fn headers_of(profile: &Profile, bytes: &[u8]) -> Vec<String> {
    let mut reader = RecordReader::new(bytes, profile);
    let headers = reader.headers().await.unwrap();
    headers
        .iter()
        .map(|h| String::from_utf8(h.to_vec()).unwrap())
        .collect()
}

#[tokio::test]
async fn a_headerless_csv_has_rows_of_different_widths() {
    let profile = Profile::from_toml(
        r#"
name = "pipes"
carrier_name = "Pipes"
delimiter = "|"
has_headers = false
record_type = 1
[record_types.H]
role = "context"
columns = { tracking_number = 2, service_code = 3 }
[record_types.D]
role = "event"
columns = { carrier_status_code = 2, event_date = 3, city = 4 }
[datetime]
date_format = "%Y%m%d"
timezone = "UTC"
"#,
        "pipes.toml",
    )
    .unwrap();
    let out = run(
        &profile,
        b"H|P-1|STD\nD|10|20261124|Ulm\nD|20|20261125\n\nH|P-2\nD|10|20261126|Bonn\n",
    )
    .await;
    let events: Vec<_> = out
        .iter()
        .map(|(_, r)| summary(r.as_ref().unwrap()))
        .collect();
    assert_eq!(
        events,
        [
            row("P-1", "10", "2026-11-24T00:00:00Z", "Ulm", "STD"),
            row("P-1", "20", "2026-11-25T00:00:00Z", "", "STD"),
            // A new shipment row replaces the last one whole: P-2 has no service.
            row("P-2", "10", "2026-11-26T00:00:00Z", "Bonn", ""),
        ]
    );
    assert_eq!(out[2].0, at(3, 6, 49));
}

const FIXED_PROFILE: &str = include_str!("../../profiles/examples/header-detail.toml");

#[tokio::test]
async fn the_fixed_width_example_with_its_override_trailer_and_unknown_row() {
    let profile = Profile::from_toml(FIXED_PROFILE, "header-detail.toml").unwrap();
    let file = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../profiles/examples/header-detail.txt"
    ))
    .unwrap();
    let out = run(&profile, &file).await;
    let weights: Vec<(Position, Option<f64>)> = out
        .iter()
        .map(|(p, r)| {
            (
                *p,
                r.as_ref()
                    .ok()
                    .map(|e| e["tracking_info"]["weight"].as_f64().unwrap()),
            )
        })
        .collect();
    assert_eq!(
        weights,
        [
            (at(1, 3, 58), Some(2.5)),
            // The hub's weight on the scan line wins over the shipment line's.
            (at(2, 4, 90), Some(2.75)),
            (at(3, 5, 128), Some(2.5)),
            (at(4, 7, 183), Some(0.8)),
            (at(5, 8, 215), None),
            (at(6, 9, 244), Some(0.8)),
        ]
    );
    assert_eq!(
        out[4].1,
        Err((
            "unknown record type `N`".to_owned(),
            "NPLEASE CALL BEFORE DELIVERY".to_owned()
        ))
    );
    assert_eq!(
        summary(out[5].1.as_ref().unwrap()),
        row(
            "RP0000000002",
            "IT",
            "2026-11-25T05:10:00Z",
            "Cheyenne",
            "EXP"
        )
    );
}

#[tokio::test]
async fn the_latest_context_row_wins_and_broken_text_is_rejected_per_field() {
    // Two context types: a shipment (S) and a stop (P), both giving the city.
    let profile = Profile::from_toml(
        r#"
name = "two"
carrier_name = "Two"
format = "fixed"
record_type = { start = 1, len = 1 }
[record_types.S]
role = "context"
columns = { tracking_number = { start = 2, len = 4 }, city = { start = 6, len = 6 } }
[record_types.P]
role = "context"
columns = { city = { start = 2, len = 6 } }
[record_types.E]
role = "event"
columns = { carrier_status_code = { start = 2, len = 2 }, event_date = { start = 4, len = 8 } }
[datetime]
date_format = "%Y%m%d"
timezone = "UTC"
"#,
        "two.toml",
    )
    .unwrap();
    let file = b"SA001Kiel\nEIT20261124\nPL\xc3\xbcbeck\nEIT20261125\nSA002Bre\xffen\nEIT20261126\nSA0\x0003Hamm\nEIT20261127\n";
    let out = run(&profile, file).await;
    let cities: Vec<&str> = out[..2]
        .iter()
        .map(|(_, r)| {
            r.as_ref().unwrap()["tracking_info"]["events"][0]["city"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(cities, ["Kiel", "Lübeck"], "the stop row, read last, wins");
    assert_eq!(
        out[2].1.as_ref().unwrap_err().0,
        RejectReason::InvalidUtf8 {
            column: "city".into()
        }
        .to_string()
    );
    assert_eq!(
        out[3].1.as_ref().unwrap_err().0,
        RejectReason::NulByte {
            column: "tracking_number".into()
        }
        .to_string()
    );
    assert_eq!(out[3].0, at(4, 8, 78));
}

#[test]
fn a_typed_file_is_reentered_from_its_start() {
    let profile = Profile::from_toml(FIXED_PROFILE, "header-detail.toml").unwrap();
    assert_eq!(Reentry::for_profile(&profile, None), Reentry::FromStart);
    let csv = Profile::from_toml(CSV_PROFILE, "csv-hd.toml").unwrap();
    assert_eq!(
        Reentry::for_profile(&csv, Some(&["Type".to_owned()])),
        Reentry::FromStart
    );
}

#[tokio::test]
async fn a_header_line_without_a_type_column_fails_naming_it() {
    let profile = Profile::from_toml(CSV_PROFILE, "csv-hd.toml").unwrap();
    let mut reader = RecordReader::new(&b"Kind,Ref,Service,Code,Date,Time,City\n"[..], &profile);
    let err = reader.headers().await.unwrap_err().to_string();
    assert_eq!(
        err,
        "profile `csv-hd`: the file's header lacks column `Type` (for `record_type`); header is: \"Kind,Ref,Service,Code,Date,Time,City\""
    );
}
