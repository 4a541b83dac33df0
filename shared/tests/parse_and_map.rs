//! The record rules of the reference profile, end to end from CSV bytes to Connect JSON.

use serde_json::{Value, json};
use shared::verbatim::{Verbatim, canonical, needs_escape};
use shared::{Mapper, Profile, ReadError, Record, RecordReader, RejectReason};

const HEADER: &str = "TrackingNumber,EventCode,EventDescription,EventDate,EventTime,UtcOffset,City,StateProvince,PostalCode,CountryCode,SignedBy,Latitude,Longitude,EstimatedDelivery,ServiceCode,Weight";

/// Every record of `csv` as JSON (or the rejection), in order.
async fn run(csv: &[u8]) -> Result<Vec<Result<Value, shared::Rejection>>, ReadError> {
    let profile = Profile::builtin("reference").unwrap();
    let mut reader = RecordReader::new(csv, &profile);
    let headers = reader.headers().await?;
    let mapper = Mapper::new(&profile, &headers)?;
    let mut record = Record::default();
    let mut out = Vec::new();
    let mut times = String::new();
    while reader.read(&mut record).await? {
        let json = |ev: shared::EventRef| serde_json::to_value(&ev).unwrap();
        let mapped = mapper.map(&record).map(json);
        // What the import calls: the same event, its times written into the caller's buffer.
        let into_buffer = mapper.map_in(&record, &mut times).map(|(event, verbatim)| {
            assert_verbatim(&record, &event, &verbatim);
            json(event)
        });
        assert_eq!(format!("{mapped:?}"), format!("{into_buffer:?}"));
        out.push(mapped);
    }
    Ok(out)
}

/// What `map_in` says can be written as it is, is: the plain text is the record's and needs no
/// escaping, and each number's text reads as the event's number.
fn assert_verbatim(record: &Record, event: &shared::EventRef, verbatim: &Verbatim) {
    let text = record.fields.as_byte_record().as_slice();
    let plain: &[u8] = if needs_escape(text) { &[] } else { text };
    assert_eq!(verbatim.plain, plain);
    // The times, written by the mapper, are the event's and need no escaping.
    assert!(!needs_escape(verbatim.times));
    let local = event
        .tracking_info
        .as_ref()
        .unwrap()
        .events
        .as_ref()
        .unwrap()[0]
        .event_datetime_local
        .as_deref()
        .unwrap();
    assert!(verbatim.is_plain(local));
    let info = event.tracking_info.as_ref().unwrap();
    let dimensions = info.dimensions.clone().unwrap_or_default();
    let geo = info.events.as_ref().unwrap()[0].geo;
    for (text, number) in [
        (verbatim.weight, info.weight),
        (verbatim.length, dimensions.length),
        (verbatim.width, dimensions.width),
        (verbatim.height, dimensions.height),
        (verbatim.lat, geo.as_ref().map(|g| g.lat)),
        (verbatim.long, geo.as_ref().map(|g| g.long)),
    ] {
        if let Some(text) = text {
            assert_eq!(canonical(text), number, "{text}");
        }
    }
}

fn file(rows: &[&str]) -> Vec<u8> {
    let mut s = String::from(HEADER);
    for r in rows {
        s.push('\n');
        s.push_str(r);
    }
    s.push('\n');
    s.into_bytes()
}

#[tokio::test]
async fn the_issue_example_maps_exactly() {
    let out = run(&file(&[
        r#"1RC000000000000001,DL,"Delivered, front door",2026-11-24,14:32:05,-06:00,Austin,TX,78701,US,J SMITH,30.2672,-97.7431,,GND,2.4"#,
    ]))
    .await
    .unwrap();
    assert_eq!(out.len(), 1);
    let expected = json!({
        "tracking_info": {
            "carrier_name": "Reference Carrier",
            "tracking_number": "1RC000000000000001",
            "standardized_status_code": "DE",
            "standardized_status_detail_code": "DELIVERED",
            "carrier_status_code": "DL",
            "carrier_status_description": "Delivered, front door",
            "actual_delivery_datetime": "2026-11-24T20:32:05Z",
            "weight": 2.4,
            "service": {"code": "GND"},
            "events": [{
                "event_datetime": "2026-11-24T20:32:05Z",
                "event_datetime_local": "2026-11-24T14:32:05",
                "event_code": "DL",
                "description": "Delivered, front door",
                "city": "Austin",
                "state": "TX",
                "postal_code": "78701",
                "country": "US",
                "signer": "J SMITH",
                "geo": {"lat": 30.2672, "long": -97.7431},
                "status_code": "DE",
                "status_detail_code": "DELIVERED"
            }]
        }
    });
    // `update_method` is append, Connect's default: the key is left out.
    assert_eq!(out[0].as_ref().unwrap(), &expected);
}

/// The import writes a record's text and its numbers as they are where it can: what the mapper
/// says of the issue example's record.
#[tokio::test]
async fn the_mapper_says_what_can_be_written_as_it_is() {
    let csv = file(&[
        r#"1RC1,DL,"Delivered, front door",2026-11-24,14:32:05,-06:00,Austin,TX,78701,US,,30.2672,-97.74310,,GND,2.4"#,
        r#"1RC1,DL,"Left at ""back"" door",2026-11-24,14:32:05,-06:00,Austin,TX,78701,US,,30.2672,-97.7431,,GND,2"#,
    ]);
    let profile = Profile::builtin("reference").unwrap();
    let mut reader = RecordReader::new(&csv[..], &profile);
    let mapper = Mapper::new(&profile, &reader.headers().await.unwrap()).unwrap();
    let (mut record, mut times) = (Record::default(), String::new());
    assert!(reader.read(&mut record).await.unwrap());
    let (_, verbatim) = mapper.map_in(&record, &mut times).unwrap();
    assert_eq!(verbatim.plain, record.fields.as_byte_record().as_slice());
    // -97.74310 has a trailing zero: the JSON writes -97.7431, so it is formatted.
    let numbers = (verbatim.weight, verbatim.lat, verbatim.long);
    assert_eq!(numbers, (Some("2.4"), Some("30.2672"), None));
    assert!(reader.read(&mut record).await.unwrap());
    let (_, verbatim) = mapper.map_in(&record, &mut times).unwrap();
    // A quote in the record: every value is escaped as needed; "2" is written 2.0.
    assert!(verbatim.plain.is_empty());
    let numbers = (verbatim.weight, verbatim.lat, verbatim.long);
    assert_eq!(numbers, (None, Some("30.2672"), Some("-97.7431")));
}

#[tokio::test]
async fn quoting_bom_crlf_blank_lines_and_trimming() {
    let csv = format!(
        "\u{feff}{HEADER}\r\n\r\n  1RC1  ,IT,\"In \"\"transit\"\"\nto hub\",2026-11-24,08:00:00,+01:00, Paris ,,75001,FR,,,,,,\r\n\r\n"
    );
    let out = run(csv.as_bytes()).await.unwrap();
    assert_eq!(out.len(), 1);
    let ev = out[0].as_ref().unwrap();
    let csv2 = csv.replace("  1RC1  ,IT", " ,IT");
    let rejected = run(csv2.as_bytes()).await.unwrap()[0].clone().unwrap_err();
    // Line 3 (after the header and a blank CRLF line), at the byte right after "\r\n\r\n".
    assert_eq!((rejected.position.record, rejected.position.line), (1, 3));
    assert_eq!(rejected.position.byte, 3 + HEADER.len() as u64 + 4);
    let info = &ev["tracking_info"];
    assert_eq!(info["tracking_number"], "1RC1");
    assert_eq!(info["carrier_status_description"], "In \"transit\"\nto hub");
    let event = &info["events"][0];
    assert_eq!(event["city"], "Paris");
    assert_eq!(event["event_datetime"], "2026-11-24T07:00:00Z");
    assert_eq!(event["status_detail_code"], "IN_TRANSIT");
    // Empty columns are omitted, not sent as "" or null.
    assert!(event.get("state").is_none() && event.get("signer").is_none());
    assert!(event.get("geo").is_none() && info.get("weight").is_none());
    assert!(info.get("actual_delivery_datetime").is_none());
}

#[tokio::test]
async fn column_order_does_not_matter_and_extra_columns_are_ignored() {
    let csv = "Extra,UtcOffset,EventTime,EventDate,EventCode,TrackingNumber,EventDescription,City,StateProvince,PostalCode,CountryCode,SignedBy,Latitude,Longitude,EstimatedDelivery,ServiceCode,Weight,More\n\
               x,+00:00,23:59:59,2026-12-31,SP,ABC,Locker,Leeds,,LS1,GB,,53.8,-1.55,2027-01-05,,,y\n";
    let out = run(csv.as_bytes()).await.unwrap();
    let info = &out[0].as_ref().unwrap()["tracking_info"];
    assert_eq!(info["tracking_number"], "ABC");
    assert_eq!(info["standardized_status_code"], "SP");
    assert_eq!(info["actual_delivery_datetime"], "2026-12-31T23:59:59Z");
    assert_eq!(info["estimated_delivery_datetime"], "2027-01-05");
    assert_eq!(
        info["events"][0]["geo"],
        json!({"lat": 53.8, "long": -1.55})
    );
}

#[tokio::test]
async fn unmapped_code_is_kept_as_unknown_with_a_warning() {
    let out = run(&file(&[
        "T1,ZZ,Mystery,2026-11-24,10:00:00,-05:00,,,,,,,,,,",
    ]))
    .await
    .unwrap();
    let ev = out[0].as_ref().unwrap();
    assert_eq!(ev["tracking_info"]["standardized_status_code"], "UN");
    assert_eq!(
        ev["tracking_info"]["standardized_status_detail_code"],
        "CARRIER_STATUS_NOT_MAPPED"
    );
    assert_eq!(ev["tracking_info"]["events"][0]["status_code"], "UN");
    assert_eq!(ev["tracking_info"]["carrier_status_code"], "ZZ");
    let warnings = ev["warning_messages"].as_array().unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].as_str().unwrap().contains("\"ZZ\""),
        "{warnings:?}"
    );
}

#[tokio::test]
async fn geo_needs_both_coordinates() {
    let out = run(&file(&[
        "T1,IT,,2026-11-24,10:00:00,-05:00,,,,,,30.1,,,,",
        "T2,IT,,2026-11-24,10:00:00,-05:00,,,,,,abc,-97,,,",
        "T3,IT,,2026-11-24,10:00:00,-05:00,,,,,,95,-97,,,",
        "T4,IT,,2026-11-24,10:00:00,-05:00,,,,,,0,0,,,",
    ]))
    .await
    .unwrap();
    for ev in &out[..3] {
        assert!(
            ev.as_ref().unwrap()["tracking_info"]["events"][0]
                .get("geo")
                .is_none()
        );
    }
    assert_eq!(
        out[3].as_ref().unwrap()["tracking_info"]["events"][0]["geo"],
        json!({"lat": 0.0, "long": 0.0})
    );
}

#[tokio::test]
async fn bad_records_are_rejected_with_their_position_and_the_rest_go_on() {
    let out = run(&file(&[
        ",DL,,2026-11-24,10:00:00,-05:00,,,,,,,,,,", // record 1: no tracking number
        "T2,DL,,2026-02-30,10:00:00,-05:00,,,,,,,,,,", // record 2: no such date
        "T3,DL,,2026-11-24,10:00:00,+25:99,,,,,,,,,,", // record 3: no such offset
        "T4,DL,\"two\nlines\",2026-11-24,25:00:00,-05:00,,,,,,,,,,", // record 4: no such time
        "T5,DL,,2026-11-24,10:00:00,-05:00,,,,,,,,,,", // record 5: fine
    ]))
    .await
    .unwrap();
    assert_eq!(out.len(), 5);
    let rej = |i: usize| out[i].as_ref().unwrap_err().clone();
    assert_eq!(rej(0).reason, RejectReason::MissingTrackingNumber);
    assert_eq!((rej(0).position.record, rej(0).position.line), (1, 2));
    assert_eq!(rej(0).position.byte, HEADER.len() as u64 + 1);
    assert!(
        matches!(rej(1).reason, RejectReason::InvalidDate { ref value, .. } if value == "2026-02-30")
    );
    assert_eq!((rej(1).position.record, rej(1).position.line), (2, 3));
    assert!(
        matches!(rej(2).reason, RejectReason::InvalidOffset { ref value, .. } if value == "+25:99")
    );
    assert!(matches!(rej(3).reason, RejectReason::InvalidTime { .. }));
    assert_eq!((rej(3).position.record, rej(3).position.line), (4, 5));
    // The quoted newline in record 4 moves record 5 one line down.
    let ok = out[4].as_ref().unwrap();
    assert_eq!(ok["tracking_info"]["tracking_number"], "T5");
    let msg = rej(1).to_string();
    assert!(
        msg.contains("record 2") && msg.contains("line 3") && msg.contains("EventDate"),
        "{msg}"
    );
}

#[tokio::test]
async fn invalid_utf8_in_a_used_field_rejects_only_that_record() {
    let mut csv = file(&["T1,DL,,2026-11-24,10:00:00,-05:00,S\u{e3}o Paulo,,,,,,,,,"]);
    csv.extend_from_slice(b"T2,DL,,2026-11-24,10:00:00,-05:00,S\xE3o Paulo,,,,,,,,,\n");
    // Invalid bytes in a column the profile does not use do not matter.
    csv.extend_from_slice(b"T3,DL,,2026-11-24,10:00:00,-05:00,Lima,,,,,,,,,,\xFF\n");
    let out = run(&csv).await.unwrap();
    assert_eq!(
        out[2].as_ref().unwrap()["tracking_info"]["events"][0]["city"],
        "Lima"
    );
    assert_eq!(
        out[0].as_ref().unwrap()["tracking_info"]["events"][0]["city"],
        "S\u{e3}o Paulo"
    );
    assert!(
        matches!(out[1].as_ref().unwrap_err().reason, RejectReason::InvalidUtf8 { ref column } if column == "City")
    );
}

#[tokio::test]
async fn a_header_missing_a_profile_column_fails_before_any_record() {
    let csv = HEADER.replace(",UtcOffset", "") + "\nT1,DL,,2026-11-24,10:00:00,Austin,,,,,,,,,\n";
    let err = run(csv.as_bytes()).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("UtcOffset") && msg.contains("`reference`"),
        "{msg}"
    );
}

#[tokio::test]
async fn an_empty_file_has_no_header() {
    assert!(matches!(run(b"").await.unwrap_err(), ReadError::NoHeader));
}

#[tokio::test]
async fn borrowed_and_owned_events_serialize_identically() {
    let out = run(&file(&[
        r#"1RC9,RS,"Return, ""sender""",2026-03-08,02:30:00,-06:00,Zürich,ZH,8001,CH,,47.37,8.54,2026-03-10T12:00:00+01:00,EXP,0.5"#,
    ]))
    .await
    .unwrap();
    let borrowed = out[0].as_ref().unwrap();
    let owned: shared::models::ImportedTrackingEvent =
        serde_json::from_value(borrowed.clone()).unwrap();
    assert_eq!(&serde_json::to_value(&owned).unwrap(), borrowed);
    assert_eq!(
        owned
            .tracking_info
            .unwrap()
            .estimated_delivery_datetime
            .as_deref(),
        Some("2026-03-10T11:00:00Z")
    );
}

/// Every record of a sample file in `events/`, mapped with a built-in profile.
async fn map_sample(file: &str, profile: &str) -> Vec<Result<Value, shared::Rejection>> {
    let profile = Profile::builtin(profile).unwrap();
    let bytes = std::fs::read(format!("{}/../events/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut reader = RecordReader::new(&bytes[..], &profile);
    let headers = reader.headers().await.unwrap();
    let mapper = Mapper::new(&profile, &headers).unwrap();
    let mut record = Record::default();
    let mut out = Vec::new();
    while reader.read(&mut record).await.unwrap() {
        out.push(
            mapper
                .map(&record)
                .map(|ev| serde_json::to_value(&ev).unwrap()),
        );
    }
    out
}

#[tokio::test]
async fn json_lines_follow_the_same_rules_as_csv() {
    let csv = map_sample("sample-reference.csv", "reference").await;
    let jsonl = map_sample("sample-reference.jsonl", "reference-jsonl").await;
    // The JSON Lines sample is the CSV sample's records, plus one line cut short (line 11).
    assert_eq!(jsonl.len(), csv.len() + 1);
    let broken = jsonl[10].as_ref().unwrap_err();
    assert_eq!((broken.position.record, broken.position.line), (11, 11));
    assert!(
        matches!(&broken.reason, RejectReason::Malformed(m) if m.contains("not a JSON object")),
        "{broken}"
    );
    let rest = jsonl[..10].iter().chain(&jsonl[11..]);
    for (i, (c, j)) in csv.iter().zip(rest).enumerate() {
        match (c, j) {
            // Identical events; warnings name the profile, which differs.
            (Ok(c), Ok(j)) => assert_eq!(
                c.to_string(),
                j.to_string().replace("`reference-jsonl`", "`reference`"),
                "record {}",
                i + 1
            ),
            // Same rule broken; the reasons name each file's own column.
            (Err(c), Err(j)) => assert_eq!(
                std::mem::discriminant(&c.reason),
                std::mem::discriminant(&j.reason),
                "record {}: {c} / {j}",
                i + 1
            ),
            _ => panic!("record {}: csv {c:?} but jsonl {j:?}", i + 1),
        }
    }
    assert!(csv.iter().filter(|r| r.is_ok()).count() > 50);
}
