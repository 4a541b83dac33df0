//! Each profile feature end to end, from a carrier's bytes to Connect JSON: time zones across
//! daylight-saving changes, chrono formats and combined columns, legacy encodings, positional
//! and fixed-width columns, and status maps with several codes or two levels.

use serde_json::Value;
use shared::{Mapper, Profile, ReadError, Record, RecordReader, RejectReason, Rejection};

/// Every record of `bytes` under the profile `toml`, as JSON or the rejection, in order.
async fn run(toml: &str, bytes: &[u8]) -> Result<Vec<Result<Value, Rejection>>, ReadError> {
    let profile = Profile::from_toml(toml, "test.toml").unwrap();
    let mut reader = RecordReader::new(bytes, &profile);
    let headers = reader.headers().await?;
    let mapper = Mapper::new(&profile, &headers)?;
    let mut record = Record::default();
    let mut out = Vec::new();
    while reader.read(&mut record).await? {
        out.push(
            mapper
                .map(&record)
                .map(|ev| serde_json::to_value(&ev).unwrap()),
        );
    }
    Ok(out)
}

fn event(v: &Result<Value, Rejection>) -> &Value {
    &v.as_ref().unwrap()["tracking_info"]["events"][0]
}

fn info(v: &Result<Value, Rejection>) -> &Value {
    &v.as_ref().unwrap()["tracking_info"]
}

const CHICAGO: &str = r#"
name = "chicago"
carrier_name = "Chicago Carrier"
[columns]
tracking_number = "tn"
carrier_status_code = "code"
event_date = "date"
event_time = "time"
[datetime]
date_format = "%m/%d/%Y"
time_format = "%H%M"
timezone = "America/Chicago"
[status_map]
IT = ["IT", "IN_TRANSIT"]
"#;

#[tokio::test]
async fn daylight_saving_changes_in_a_named_zone() {
    let csv = "tn,code,date,time\n\
               A,IT,03/08/2026,0130\n\
               B,IT,03/08/2026,0230\n\
               C,IT,03/08/2026,0330\n\
               D,IT,11/01/2026,0130\n\
               E,IT,11/01/2026,0230\n";
    let out = run(CHICAGO, csv.as_bytes()).await.unwrap();
    // Before spring forward: CST, -06:00.
    assert_eq!(event(&out[0])["event_datetime"], "2026-03-08T07:30:00Z");
    // 02:30 on 2026-03-08 is skipped: rejected with its position.
    let skipped = out[1].as_ref().unwrap_err();
    assert_eq!(
        skipped.reason,
        RejectReason::NonexistentLocalTime {
            local: "2026-03-08T02:30:00".into(),
            timezone: "America/Chicago".into()
        }
    );
    assert_eq!((skipped.position.record, skipped.position.line), (2, 3));
    // After: CDT, -05:00.
    assert_eq!(event(&out[2])["event_datetime"], "2026-03-08T08:30:00Z");
    // 01:30 on 2026-11-01 happens twice: the earlier instant (CDT), with a warning.
    let ambiguous = out[3].as_ref().unwrap();
    assert_eq!(event(&out[3])["event_datetime"], "2026-11-01T06:30:00Z");
    assert_eq!(
        event(&out[3])["event_datetime_local"],
        "2026-11-01T01:30:00"
    );
    assert_eq!(
        ambiguous["warning_messages"],
        serde_json::json!([
            "local time 2026-11-01T01:30:00 is ambiguous (repeated by a daylight-saving change); the earlier instant was used"
        ])
    );
    // 02:30 after fall back is plain CST.
    assert_eq!(event(&out[4])["event_datetime"], "2026-11-01T08:30:00Z");
    assert!(out[4].as_ref().unwrap().get("warning_messages").is_none());
}

#[tokio::test]
async fn a_combined_column_with_or_without_its_own_offset() {
    let with_zone = r#"
name = "combined"
carrier_name = "C"
[columns]
tracking_number = "tn"
carrier_status_code = "code"
event_datetime = "at"
[datetime]
datetime_format = "%d.%m.%Y %H:%M"
timezone = "Europe/Berlin"
[status_map]
IT = ["IT", "IN_TRANSIT"]
"#;
    let out = run(
        with_zone,
        b"tn,code,at\nA,IT,24.11.2026 14:32\nB,IT,2026-11-24\n",
    )
    .await
    .unwrap();
    assert_eq!(event(&out[0])["event_datetime"], "2026-11-24T13:32:00Z");
    assert_eq!(
        event(&out[0])["event_datetime_local"],
        "2026-11-24T14:32:00"
    );
    assert_eq!(
        out[1].as_ref().unwrap_err().reason.to_string(),
        "column `at`: \"2026-11-24\" is not a date and time of format \"%d.%m.%Y %H:%M\""
    );

    let in_value = with_zone
        .replace("%d.%m.%Y %H:%M", "%Y-%m-%dT%H:%M:%S%:z")
        .replace("timezone = \"Europe/Berlin\"\n", "");
    let out = run(&in_value, b"tn,code,at\nA,IT,2026-11-24T14:32:05+05:30\n")
        .await
        .unwrap();
    assert_eq!(event(&out[0])["event_datetime"], "2026-11-24T09:02:05Z");
    assert_eq!(
        event(&out[0])["event_datetime_local"],
        "2026-11-24T14:32:05"
    );
}

#[tokio::test]
async fn windows_1252_text_comes_out_as_utf8() {
    let profile = r#"
name = "latin"
carrier_name = "Transportes Latinos"
delimiter = ";"
encoding = "windows-1252"
[columns]
tracking_number = "Num"
carrier_status_code = "Code"
carrier_status_description = "Libell\u00e9"
event_date = "Date"
city = "Ville"
[datetime]
timezone = "UTC"
[status_map]
LIV = ["DE", "DELIVERED"]
"#;
    let file = b"Num;Code;Libell\xe9;Date;Ville\nA1;LIV;Livr\xe9 \x96 re\xe7u;2026-11-24;Montr\xe9al\nA2;LIV;Entregue;2026-11-24;S\xe3o Paulo\n";
    let out = run(profile, file).await.unwrap();
    assert_eq!(event(&out[0])["city"], "Montréal");
    assert_eq!(event(&out[0])["description"], "Livré – reçu");
    assert_eq!(event(&out[1])["city"], "São Paulo");
}

#[tokio::test]
async fn headerless_records_are_read_by_position() {
    let profile = r#"
name = "positions"
carrier_name = "P"
delimiter = "|"
has_headers = false
[columns]
tracking_number = 2
carrier_status_code = 1
event_date = 3
city = 5
[datetime]
date_format = "%Y%m%d"
timezone = "UTC"
[status_map]
D = ["DE", "DELIVERED"]
"#;
    let out = run(profile, b"D|1Z1|20261124|x|Lyon\nD|1Z2|20261131\n")
        .await
        .unwrap();
    assert_eq!(info(&out[0])["tracking_number"], "1Z1");
    assert_eq!(event(&out[0])["city"], "Lyon");
    let bad = out[1].as_ref().unwrap_err();
    assert_eq!(
        bad.reason.to_string(),
        "column `#3`: \"20261131\" is not a date of format \"%Y%m%d\""
    );
    assert_eq!((bad.position.record, bad.position.line), (2, 2));
}

#[tokio::test]
async fn fixed_width_records_are_cut_by_characters() {
    let profile = r#"
name = "fixed"
carrier_name = "F"
format = "fixed"
[columns]
tracking_number = { start = 1, len = 10 }
carrier_status_code = { start = 11, len = 3 }
event_date = { start = 14, len = 8 }
event_time = { start = 22, len = 4 }
city = { start = 26, len = 12 }
country = { start = 38, len = 2 }
[datetime]
date_format = "%Y%m%d"
time_format = "%H%M"
timezone = "America/Chicago"
[status_map]
DEL = ["DE", "DELIVERED"]
"#;
    let file = "1Z00000001DEL202611241432Montréal    CA\n1Z00000002DEL202611311432Chicago     US\n";
    let out = run(profile, file.as_bytes()).await.unwrap();
    assert_eq!(info(&out[0])["tracking_number"], "1Z00000001");
    assert_eq!(event(&out[0])["city"], "Montréal");
    assert_eq!(event(&out[0])["country"], "CA");
    assert_eq!(event(&out[0])["event_datetime"], "2026-11-24T20:32:00Z");
    // "Montréal" is 8 characters but 9 bytes: the second line starts at byte 41 of the file.
    let bad = out[1].as_ref().unwrap_err();
    assert_eq!(
        (bad.position.record, bad.position.line, bad.position.byte),
        (2, 2, 41)
    );
    assert_eq!(
        bad.reason.to_string(),
        "column `characters 14-21`: \"20261131\" is not a date of format \"%Y%m%d\""
    );
}

const TWO_LEVEL: &str = r#"
name = "two-level"
carrier_name = "T"
[columns]
tracking_number = "tn"
carrier_status_code = "code"
carrier_detail_code = "detail"
event_date = "date"
[datetime]
timezone = "UTC"
[status_map]
DL = ["DE", "DELIVERED"]
[status_map.EX]
"*" = ["EX", "UNSPECIFIED_EXCEPTION"]
"07" = ["EX", "REFUSED_BY_CUSTOMER"]
[status_map.HD]
C1 = ["EX", "HELD_BY_CUSTOMS"]
[[status_group]]
codes = ["A1", "A2", "A3"]
to = ["IT", "IN_TRANSIT"]
"#;

#[tokio::test]
async fn status_maps_with_several_codes_and_two_levels() {
    let csv = "tn,code,detail,date\n\
               1,A1,,2026-11-24\n\
               2,A3,,2026-11-24\n\
               3,EX,07,2026-11-24\n\
               4,EX,99,2026-11-24\n\
               5,EX,,2026-11-24\n\
               6,HD,C1,2026-11-24\n\
               7,HD,C2,2026-11-24\n\
               8,DL,07,2026-11-24\n";
    let out = run(TWO_LEVEL, csv.as_bytes()).await.unwrap();
    let pair = |i: usize| {
        let t = info(&out[i]);
        (
            t["standardized_status_code"].as_str().unwrap().to_owned(),
            t["standardized_status_detail_code"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    };
    let expect = [
        ("IT", "IN_TRANSIT"),
        ("IT", "IN_TRANSIT"),
        ("EX", "REFUSED_BY_CUSTOMER"),
        ("EX", "UNSPECIFIED_EXCEPTION"),
        ("EX", "UNSPECIFIED_EXCEPTION"),
        ("EX", "HELD_BY_CUSTOMS"),
        ("UN", "CARRIER_STATUS_NOT_MAPPED"),
        ("DE", "DELIVERED"),
    ];
    for (i, (status, detail)) in expect.into_iter().enumerate() {
        assert_eq!(
            pair(i),
            (status.to_owned(), detail.to_owned()),
            "record {}",
            i + 1
        );
    }
    assert_eq!(info(&out[2])["carrier_detail_code"], "07");
    assert_eq!(event(&out[2])["carrier_detail_code"], "07");
    assert_eq!(
        out[6].as_ref().unwrap()["warning_messages"][0],
        "carrier status code \"HD\" (detail code \"C2\") is not in the status map of profile `two-level`"
    );
}
