//! Connect's shipment fields beyond the scan itself, from a carrier's columns to JSON: shipped and
//! delivered times under the profile's date-time rules, the problem flag, packaging, piece count,
//! dimensions, a proof-of-delivery link, an event code of its own, a carrier per row, and
//! `update_method` (left out for append, `"replace"` for snapshot files).

use serde_json::{Value, json};
use shared::{Mapper, Profile, Record, RecordReader};

/// The JSON of every record of `csv` (all must map) under a profile with `columns` and
/// `datetime` and `extra` top-level keys.
async fn events(extra: &str, columns: &str, datetime: &str, csv: &str) -> Vec<String> {
    let toml = format!(
        "name = \"p\"\ncarrier_name = \"Default Carrier\"\n{extra}\n[columns]\n\
         tracking_number = \"tn\"\ncarrier_status_code = \"code\"\n{columns}\n\
         [datetime]\n{datetime}\n[status_map]\nDL = [\"DE\", \"DELIVERED\"]\nIT = [\"IT\", \"IN_TRANSIT\"]\n"
    );
    let profile = Profile::from_toml(&toml, "p.toml").unwrap();
    let mut reader = RecordReader::new(csv.as_bytes(), &profile);
    let mapper = Mapper::new(&profile, &reader.headers().await.unwrap()).unwrap();
    let mut record = Record::default();
    let mut out = Vec::new();
    while reader.read(&mut record).await.unwrap() {
        out.push(serde_json::to_string(&mapper.map(&record).unwrap()).unwrap());
    }
    out
}

fn value(json: &str) -> Value {
    serde_json::from_str(json).unwrap()
}

const ALL: &str = "carrier_name = \"carrier\"\nevent_datetime = \"at\"\n\
                   shipped_datetime = \"shipped\"\nactual_delivery_datetime = \"delivered\"\n\
                   shipping_problem = \"problem\"\nshipping_problem_code = \"pcode\"\n\
                   shipping_problem_description = \"ptext\"\npackaging = \"pack\"\n\
                   package_count = \"pieces\"\nlength = \"l\"\nwidth = \"w\"\nheight = \"h\"\n\
                   event_code = \"scan\"\nproof_of_delivery_url = \"pod\"";
const HEADER: &str =
    "carrier,tn,code,at,shipped,delivered,problem,pcode,ptext,pack,pieces,l,w,h,scan,pod\n";

#[tokio::test]
async fn every_shipment_field_and_replace_in_the_exact_json() {
    let csv = format!(
        "{HEADER}Swift,S1,DL,2026-11-24 14:05,2026-11-22 09:30,2026-11-24T19:01:00Z,YES,D1,Dented,Box,2,30,20,10.5,DLV,https://p.example/S1\n"
    );
    let out = events(
        "update_method = \"replace\"",
        ALL,
        "datetime_format = \"%Y-%m-%d %H:%M\"\ntimezone = \"America/New_York\"",
        &csv,
    )
    .await;
    assert_eq!(
        out,
        [concat!(
            r#"{"tracking_info":{"carrier_name":"Swift","tracking_number":"S1","#,
            r#""standardized_status_code":"DE","standardized_status_detail_code":"DELIVERED","#,
            r#""carrier_status_code":"DL","shipped_datetime":"2026-11-22T14:30:00Z","#,
            r#""actual_delivery_datetime":"2026-11-24T19:01:00Z","shipping_problem":true,"#,
            r#""shipping_problem_code":"D1","shipping_problem_description":"Dented","#,
            r#""dimensions":{"length":30.0,"width":20.0,"height":10.5},"packaging":"Box","#,
            r#""package_count":2,"events":[{"event_datetime":"2026-11-24T19:05:00Z","#,
            r#""event_datetime_local":"2026-11-24T14:05:00","event_code":"DLV","#,
            r#""proof_of_delivery_url":"https://p.example/S1","status_code":"DE","#,
            r#""status_detail_code":"DELIVERED"}]},"update_method":"replace"}"#
        )]
    );
}

#[tokio::test]
async fn append_is_left_out_and_empty_columns_fall_back_to_the_profile() {
    let csv = format!("{HEADER},S2,DL,2026-11-24 14:05,,,,,,,,,,,,\n");
    let out = events(
        "",
        ALL,
        "datetime_format = \"%Y-%m-%d %H:%M\"\ntimezone = \"UTC\"",
        &csv,
    )
    .await;
    // The profile's carrier, the carrier code as event code, and the delivered status's time.
    assert_eq!(
        out,
        [concat!(
            r#"{"tracking_info":{"carrier_name":"Default Carrier","tracking_number":"S2","#,
            r#""standardized_status_code":"DE","standardized_status_detail_code":"DELIVERED","#,
            r#""carrier_status_code":"DL","actual_delivery_datetime":"2026-11-24T14:05:00Z","#,
            r#""events":[{"event_datetime":"2026-11-24T14:05:00Z","#,
            r#""event_datetime_local":"2026-11-24T14:05:00","event_code":"DL","#,
            r#""status_code":"DE","status_detail_code":"DELIVERED"}]}}"#
        )]
    );
}

#[tokio::test]
async fn values_that_do_not_read_are_left_out_with_a_warning() {
    let csv = format!("{HEADER}X,S3,DL,2026-11-24 14:05,soon,never,maybe,,,,1.5,-1,abc,inf,,\n");
    let out = events(
        "",
        ALL,
        "datetime_format = \"%Y-%m-%d %H:%M\"\ntimezone = \"UTC\"",
        &csv,
    )
    .await;
    let event = value(&out[0]);
    let info = &event["tracking_info"];
    for key in [
        "shipped_datetime",
        "shipping_problem",
        "package_count",
        "dimensions",
    ] {
        assert!(info.get(key).is_none(), "{key}: {info}");
    }
    // The delivered status still gives the delivery time when the column does not read.
    assert_eq!(info["actual_delivery_datetime"], "2026-11-24T14:05:00Z");
    assert_eq!(
        event["warning_messages"],
        json!([
            "shipped_datetime \"soon\" is not a date or date-time; omitted",
            "actual_delivery_datetime \"never\" is not a date or date-time; omitted",
            "shipping_problem \"maybe\" is not true or false (yes/no, y/n, 1/0); omitted",
            "package_count \"1.5\" is not a whole number from 0; omitted",
            "length \"-1\" is not a number; omitted",
            "width \"abc\" is not a number; omitted",
            "height \"inf\" is not a number; omitted",
        ])
    );
}

#[tokio::test]
async fn problem_flags_in_every_spelling() {
    let rows: String = ["true", "False", "yes", "NO", "y", "N", "1", "0"]
        .iter()
        .map(|flag| format!("S,DL,2026-11-24,{flag}\n"))
        .collect();
    let out = events(
        "",
        "event_date = \"d\"\nshipping_problem = \"p\"",
        "timezone = \"UTC\"",
        &format!("tn,code,d,p\n{rows}"),
    )
    .await;
    let flags: Vec<bool> = out
        .iter()
        .map(|e| {
            value(e)["tracking_info"]["shipping_problem"]
                .as_bool()
                .unwrap()
        })
        .collect();
    assert_eq!(flags, [true, false, true, false, true, false, true, false]);
}

/// Shipped times under each way a profile gives the zone: a named zone (across a
/// daylight-saving change), the offset column, an offset in the value; and separate date and
/// time formats.
#[tokio::test]
async fn shipped_times_follow_the_event_times_zone_rules() {
    let shipped = |extra: &'static str,
                   datetime: &'static str,
                   header: &'static str,
                   rows: &'static str| async move {
        let out = events(
            "",
            &format!("shipped_datetime = \"s\"\n{extra}"),
            datetime,
            &format!("{header}\n{rows}"),
        )
        .await;
        out.iter()
            .map(|e| {
                value(e)["tracking_info"]["shipped_datetime"]
                    .as_str()
                    .unwrap_or("-")
                    .to_owned()
            })
            .collect::<Vec<_>>()
    };
    // Date and time formats: a date, or a date and a time with a space between.
    assert_eq!(
        shipped(
            "event_date = \"d\"",
            "date_format = \"%d.%m.%Y\"\ntime_format = \"%H%M\"\ntimezone = \"Europe/Berlin\"",
            "tn,code,d,s",
            "A,IT,24.11.2026,23.11.2026\nB,IT,24.11.2026,23.11.2026 0815\nC,IT,24.11.2026,2026-11-23T08:15:00+01:00\nD,IT,24.11.2026,29.03.2026 0230\n",
        )
        .await,
        [
            "2026-11-23",
            "2026-11-23T07:15:00Z",
            "2026-11-23T07:15:00Z",
            // 02:30 does not exist in Berlin that night: the date alone does not read either.
            "-",
        ]
    );
    // The record's own offset column.
    assert_eq!(
        shipped(
            "event_date = \"d\"\nutc_offset = \"o\"",
            "",
            "tn,code,d,o,s",
            "A,IT,2026-11-24,-06:00,2026-11-23 08:15:00\n",
        )
        .await,
        ["2026-11-23T14:15:00Z"]
    );
    // An offset in each value.
    assert_eq!(
        shipped(
            "event_datetime = \"at\"",
            "datetime_format = \"%Y%m%d%H%M%z\"",
            "tn,code,at,s",
            "A,IT,202611241000+0100,202611230815-0500\n",
        )
        .await,
        ["2026-11-23T13:15:00Z"]
    );
}
