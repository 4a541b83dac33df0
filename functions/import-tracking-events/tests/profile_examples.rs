//! Every example in `profiles/examples/` imported end to end through the `tracking-import`
//! binary, with its profile given by path (or `file://` / `s3://` URI), as a carrier's profile
//! would be given to the Lambda in `metadata.profile`: no rebuild, no built-in profile.
//!
//! The s3:// cases and the "nothing sent" check need moto (`scripts/test.sh` starts it).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("the crate sits in functions/")
}

fn example(name: &str) -> PathBuf {
    workspace().join("profiles/examples").join(name)
}

/// What one run of the binary printed.
struct Run {
    output: Output,
    /// Events written by `--sink stdout`, one JSON per line.
    events: Vec<Value>,
}

impl Run {
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The run summary (on stderr with `--sink stdout`, on stdout otherwise).
    fn summary(&self) -> Value {
        assert!(self.output.status.success(), "failed: {}", self.stderr());
        let text = if self.events.is_empty() && !self.output.stdout.is_empty() {
            &self.output.stdout
        } else {
            &self.output.stderr
        };
        serde_json::from_slice(text).unwrap_or_else(|e| {
            panic!(
                "no summary ({e}) in: {}",
                String::from_utf8_lossy(text).into_owned()
            )
        })
    }

    /// The only file's rejections: (record, line, byte, reason).
    fn rejected(&self) -> Vec<(u64, u64, u64, String)> {
        self.summary()["files"][0]["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["record"].as_u64().unwrap(),
                    r["line"].as_u64().unwrap(),
                    r["byte"].as_u64().unwrap(),
                    r["reason"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }
}

/// Runs `tracking-import` from the workspace root with the invocation event `metadata` and
/// `args` (e.g. `--sink stdout`).
fn import(metadata: Value, args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        serde_json::to_vec(&json!({"transaction_id": "examples", "metadata": metadata})).unwrap(),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tracking-import"));
    command
        .current_dir(workspace())
        .arg("--event")
        .arg(&event)
        .args(args)
        // Rejections are logged as warnings; the summary lists them, and is all we parse.
        .env("RUST_LOG", "error")
        .env_remove("STATE_BUCKET")
        .env_remove("QUEUE_URL");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    // Every byte written is UTF-8, whatever the file's encoding.
    let stdout = String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8");
    let events = if args.contains(&"stdout") {
        stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    } else {
        Vec::new()
    };
    Run { output, events }
}

/// Imports `profiles/examples/<file>` with the profile `profiles/examples/<profile>`, both as
/// relative paths, into the stdout sink.
fn import_example(file: &str, profile: &str) -> Run {
    import(
        json!({
            "source": format!("profiles/examples/{file}"),
            "profile": format!("profiles/examples/{profile}"),
        }),
        &["--sink", "stdout"],
        &[],
    )
}

fn event(v: &Value) -> &Value {
    &v["tracking_info"]["events"][0]
}

fn pair(v: &Value) -> (&str, &str) {
    let info = &v["tracking_info"];
    (
        info["standardized_status_code"].as_str().unwrap(),
        info["standardized_status_detail_code"].as_str().unwrap(),
    )
}

#[test]
fn dst_in_chicago_on_both_2026_change_dates() {
    let run = import_example("dst-chicago.csv", "dst-chicago.toml");
    let times: Vec<(&str, &str)> = run
        .events
        .iter()
        .map(|e| {
            (
                event(e)["event_datetime_local"].as_str().unwrap(),
                event(e)["event_datetime"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        times,
        [
            ("2026-03-07T14:15:00", "2026-03-07T20:15:00Z"),
            ("2026-03-08T01:30:00", "2026-03-08T07:30:00Z"),
            // 02:30 on 2026-03-08 does not exist: rejected (below), not sent.
            ("2026-03-08T03:30:00", "2026-03-08T08:30:00Z"),
            // 01:30 on 2026-11-01 happens twice: the earlier instant, CDT.
            ("2026-11-01T01:30:00", "2026-11-01T06:30:00Z"),
            ("2026-11-01T02:30:00", "2026-11-01T08:30:00Z"),
            ("2026-11-01T11:05:00", "2026-11-01T17:05:00Z"),
        ]
    );
    assert_eq!(
        run.events[3],
        json!({
            "tracking_info": {
                "carrier_name": "Prairie Freight",
                "tracking_number": "PF0000000002",
                "standardized_status_code": "IT",
                "standardized_status_detail_code": "HUB_SCAN_IN",
                "carrier_status_code": "AR",
                "events": [{
                    "event_datetime": "2026-11-01T06:30:00Z",
                    "event_datetime_local": "2026-11-01T01:30:00",
                    "event_code": "AR",
                    "city": "Peoria",
                    "state": "IL",
                    "status_code": "IT",
                    "status_detail_code": "HUB_SCAN_IN"
                }]
            },
            "warning_messages": [
                "local time 2026-11-01T01:30:00 is ambiguous (repeated by a daylight-saving change); the earlier instant was used"
            ]
        })
    );
    let warned = run
        .events
        .iter()
        .filter(|e| e.get("warning_messages").is_some())
        .count();
    assert_eq!(warned, 1, "only the repeated hour warns");
    assert_eq!(
        run.rejected(),
        [(
            3,
            4,
            128,
            "2026-03-08T02:30:00 does not exist in America/Chicago (skipped by a daylight-saving change)"
                .to_owned()
        )]
    );
    let summary = run.summary();
    assert_eq!(summary["profile"], "profiles/examples/dst-chicago.toml");
    assert_eq!(summary["files"][0]["profile"], "dst-chicago");
    assert_eq!(
        (
            summary["records_read"].as_u64(),
            summary["events_emitted"].as_u64()
        ),
        (Some(7), Some(6))
    );
}

#[test]
fn windows_1252_with_semicolons_comes_out_as_utf8() {
    let raw = std::fs::read(example("windows-1252.csv")).unwrap();
    assert!(
        std::str::from_utf8(&raw).is_err(),
        "the sample is not UTF-8"
    );
    assert!(raw.windows(8).any(|w| w == b"Montr\xe9al"), "é is one byte");

    let run = import_example("windows-1252.csv", "windows-1252.toml");
    let cities: Vec<(&str, &str, &str)> = run
        .events
        .iter()
        .map(|e| {
            (
                event(e)["city"].as_str().unwrap(),
                event(e)["country"].as_str().unwrap(),
                event(e)["description"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cities,
        [
            ("Montréal", "CA", "Colis pris en charge"),
            ("São Paulo", "BR", "En transit – aéroport"),
            ("Zürich", "CH", "Livré, reçu par le gardien"),
            ("Kraków", "PL", "Doréci"),
        ]
    );
    assert_eq!(
        run.events[0]["tracking_info"]["carrier_name"],
        "Transports Européens"
    );
    // Day-first dates and the offset column (header "Décalage", decoded too).
    assert_eq!(
        event(&run.events[1])["event_datetime"],
        "2026-11-21T21:40:00Z"
    );
    assert_eq!(
        event(&run.events[1])["event_datetime_local"],
        "2026-11-21T18:40:00"
    );
    assert_eq!(run.summary()["records_rejected"], 0);
}

#[test]
fn tab_delimited_with_single_quotes_and_one_iso_datetime_column() {
    let run = import_example("tab-delimited.tsv", "tab-delimited.toml");
    assert_eq!(run.events.len(), 3);
    let delivered = &run.events[2];
    assert_eq!(pair(delivered), ("DE", "DELIVERED"));
    assert_eq!(
        event(delivered)["description"],
        "Left with \"front desk\"\tlobby"
    );
    assert_eq!(event(delivered)["signer"], "O'Brien");
    assert_eq!(event(delivered)["event_datetime"], "2026-11-24T21:02:55Z");
    assert_eq!(
        event(delivered)["event_datetime_local"],
        "2026-11-24T13:02:55"
    );
    assert_eq!(
        delivered["tracking_info"]["actual_delivery_datetime"],
        "2026-11-24T21:02:55Z"
    );
    assert_eq!(
        event(&run.events[0])["event_datetime"],
        "2026-11-23T16:00:00Z"
    );
}

#[test]
fn headerless_pipe_delimited_columns_by_position() {
    let run = import_example("headerless.csv", "headerless.toml");
    let got: Vec<(&str, &str, &str, &str)> = run
        .events
        .iter()
        .map(|e| {
            (
                e["tracking_info"]["tracking_number"].as_str().unwrap(),
                e["tracking_info"]["carrier_status_code"].as_str().unwrap(),
                event(e)["event_datetime"].as_str().unwrap(),
                event(e)["postal_code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("PP77001", "10", "2026-11-24T08:15:00Z", "10115"),
            ("PP77001", "50", "2026-11-24T19:30:00Z", "20095"),
            ("PP77001", "90", "2026-11-25T10:10:10Z", "80331"),
        ]
    );
    assert_eq!(pair(&run.events[2]), ("DE", "DELIVERED"));
    // The first line is a record, not a header.
    assert_eq!(run.summary()["records_read"], 3);
}

#[test]
fn fixed_width_with_a_title_line_and_multibyte_characters() {
    let run = import_example("fixed-width.txt", "fixed-width.toml");
    assert_eq!(
        run.events[1],
        json!({
            "tracking_info": {
                "carrier_name": "Northern Mainframe Express",
                "tracking_number": "NME000000001",
                "standardized_status_code": "IT",
                "standardized_status_detail_code": "HUB_SCAN_OUT",
                "carrier_status_code": "DEP",
                "weight": 2.5,
                "events": [{
                    "event_datetime": "2026-11-24T22:30:00Z",
                    "event_datetime_local": "2026-11-24T17:30:00",
                    "event_code": "DEP",
                    "city": "Trois-Rivières",
                    "state": "QC",
                    "country": "CA",
                    "status_code": "IT",
                    "status_detail_code": "HUB_SCAN_OUT"
                }]
            }
        })
    );
    let cities: Vec<&str> = run
        .events
        .iter()
        .map(|e| event(e)["city"].as_str().unwrap())
        .collect();
    assert_eq!(cities, ["Montréal", "Trois-Rivières", "Québec"]);
    let summary = run.summary();
    assert_eq!(summary["records_read"], 3, "the title line is no record");
    assert_eq!(summary["records_rejected"], 0);
}

/// One Ridgeline Parcel event as the import writes it: the shipment line's tracking number,
/// service and weight (unless the scan line has its own), the scan line's status, time and place.
#[allow(clippy::too_many_arguments)]
fn ridgeline(
    tracking_number: &str,
    service: &str,
    weight: f64,
    (code, status, detail): (&str, &str, &str),
    (utc, local): (&str, &str),
    (city, state): (&str, &str),
) -> Value {
    let mut info = json!({
        "carrier_name": "Ridgeline Parcel",
        "tracking_number": tracking_number,
        "standardized_status_code": status,
        "standardized_status_detail_code": detail,
        "carrier_status_code": code,
        "weight": weight,
        "service": {"code": service},
        "events": [{
            "event_datetime": utc,
            "event_datetime_local": local,
            "event_code": code,
            "city": city,
            "state": state,
            "status_code": status,
            "status_detail_code": detail
        }]
    });
    if status == "DE" {
        info["actual_delivery_datetime"] = json!(utc);
    }
    json!({ "tracking_info": info })
}

#[test]
fn header_detail_lines_fill_each_scan_from_its_shipment_line() {
    let run = import_example("header-detail.txt", "header-detail.toml");
    const PU: (&str, &str, &str) = ("PU", "AC", "PICKED_UP");
    const IT: (&str, &str, &str) = ("IT", "IT", "IN_TRANSIT");
    const DL: (&str, &str, &str) = ("DL", "DE", "DELIVERED");
    assert_eq!(
        run.events,
        [
            ridgeline(
                "RP0000000001",
                "GND",
                2.5,
                PU,
                ("2026-11-24T15:15:00Z", "2026-11-24T08:15:00"),
                ("Denver", "CO")
            ),
            // The hub's weight on the scan line wins over the shipment line's 2.50.
            ridgeline(
                "RP0000000001",
                "GND",
                2.75,
                IT,
                ("2026-11-25T01:40:00Z", "2026-11-24T18:40:00"),
                ("Pueblo", "CO")
            ),
            ridgeline(
                "RP0000000001",
                "GND",
                2.5,
                DL,
                ("2026-11-25T18:02:00Z", "2026-11-25T11:02:00"),
                ("Santa Fe", "NM")
            ),
            ridgeline(
                "RP0000000002",
                "EXP",
                0.8,
                PU,
                ("2026-11-24T16:30:00Z", "2026-11-24T09:30:00"),
                ("Boulder", "CO")
            ),
            // After the rejected note line, still the second shipment's.
            ridgeline(
                "RP0000000002",
                "EXP",
                0.8,
                IT,
                ("2026-11-25T05:10:00Z", "2026-11-24T22:10:00"),
                ("Cheyenne", "WY")
            ),
        ]
    );
    // Records are what is returned (events and rejected lines): the note is record 5, on line 8.
    assert_eq!(
        run.rejected(),
        [(5, 8, 215, "unknown record type `N`".to_owned())]
    );
    let summary = run.summary();
    assert_eq!(
        (
            summary["records_read"].as_u64(),
            summary["events_emitted"].as_u64(),
            summary["records_rejected"].as_u64()
        ),
        (Some(6), Some(5), Some(1))
    );
}

#[test]
fn a_snapshot_replaces_with_every_shipment_field_and_a_carrier_per_line() {
    let run = import_example("snapshot.csv", "snapshot.toml");
    assert_eq!(
        run.events,
        [
            json!({
                "tracking_info": {
                    "carrier_name": "Swift Courier",
                    "tracking_number": "SC100200300",
                    "standardized_status_code": "DE",
                    "standardized_status_detail_code": "DELIVERED",
                    "carrier_status_code": "DL",
                    "shipped_datetime": "2026-11-22",
                    // The Delivered column wins over the delivered status's time (19:05Z).
                    "actual_delivery_datetime": "2026-11-24T19:01:00Z",
                    "shipping_problem": false,
                    "dimensions": {"length": 30.0, "width": 20.0, "height": 10.5},
                    "packaging": "Box",
                    "package_count": 2,
                    "events": [{
                        "event_datetime": "2026-11-24T19:05:00Z",
                        "event_datetime_local": "2026-11-24T14:05:00",
                        "event_code": "DLV-FRONT",
                        "proof_of_delivery_url": "https://pod.example.com/SC100200300",
                        "status_code": "DE",
                        "status_detail_code": "DELIVERED"
                    }]
                },
                "update_method": "replace"
            }),
            json!({
                "tracking_info": {
                    "carrier_name": "Parcel Aggregator",
                    "tracking_number": "AG555000111",
                    "standardized_status_code": "EX",
                    "standardized_status_detail_code": "UNSPECIFIED_EXCEPTION",
                    "carrier_status_code": "EX",
                    "shipped_datetime": "2026-11-23T21:00:00Z",
                    "shipping_problem": true,
                    "shipping_problem_code": "DAMAGED",
                    "shipping_problem_description": "Crushed corner, contents checked",
                    "packaging": "Envelope",
                    "package_count": 1,
                    "events": [{
                        "event_datetime": "2026-11-24T14:30:00Z",
                        "event_datetime_local": "2026-11-24T09:30:00",
                        "event_code": "EX-DMG",
                        "status_code": "EX",
                        "status_detail_code": "UNSPECIFIED_EXCEPTION"
                    }]
                },
                "update_method": "replace"
            }),
            json!({
                "tracking_info": {
                    "carrier_name": "Metro Express",
                    "tracking_number": "ME42",
                    "standardized_status_code": "IT",
                    "standardized_status_detail_code": "IN_TRANSIT",
                    "carrier_status_code": "IT",
                    "dimensions": {"length": 12.0},
                    "packaging": "Pak",
                    "events": [{
                        "event_datetime": "2026-11-24T16:00:00Z",
                        "event_datetime_local": "2026-11-24T11:00:00",
                        "event_code": "IT",
                        "status_code": "IT",
                        "status_detail_code": "IN_TRANSIT"
                    }]
                },
                "update_method": "replace",
                "warning_messages": [
                    "shipped_datetime \"yesterday\" is not a date or date-time; omitted",
                    "shipping_problem \"maybe\" is not true or false (yes/no, y/n, 1/0); omitted",
                    "package_count \"-1\" is not a whole number from 0; omitted",
                    "width \"abc\" is not a number; omitted"
                ]
            }),
        ]
    );
    assert_eq!(run.summary()["records_rejected"], 0);
}

#[test]
fn several_carrier_codes_map_to_one_pair() {
    let run = import_example("status-groups.csv", "status-groups.toml");
    let pairs: Vec<(&str, (&str, &str))> = run
        .events
        .iter()
        .map(|e| {
            (
                e["tracking_info"]["carrier_status_code"].as_str().unwrap(),
                pair(e),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("H1", ("IT", "HUB_SCAN_IN")),
            ("T2", ("IT", "IN_TRANSIT")),
            ("H3", ("IT", "HUB_SCAN_IN")),
            ("HX", ("IT", "HUB_SCAN_IN")),
            ("DL", ("DE", "DELIVERED")),
            ("ZZ", ("UN", "CARRIER_STATUS_NOT_MAPPED")),
        ]
    );
    assert_eq!(
        run.events[5]["warning_messages"],
        json!(["carrier status code \"ZZ\" is not in the status map of profile `status-groups`"])
    );
}

/// (carrier code, detail code, standardized pair) of every event.
fn detail_pairs(run: &Run) -> Vec<(String, Option<String>, (String, String))> {
    run.events
        .iter()
        .map(|e| {
            let info = &e["tracking_info"];
            let (s, d) = pair(e);
            (
                info["carrier_status_code"].as_str().unwrap().to_owned(),
                info["carrier_detail_code"].as_str().map(str::to_owned),
                (s.to_owned(), d.to_owned()),
            )
        })
        .collect()
}

fn expected_detail_pairs() -> Vec<(String, Option<String>, (String, String))> {
    [
        ("EX", Some("07"), ("EX", "REFUSED_BY_CUSTOMER")),
        ("EX", Some("12"), ("EX", "ADDRESS_QUERY")),
        ("EX", Some("99"), ("EX", "UNSPECIFIED_EXCEPTION")),
        ("EX", None, ("EX", "UNSPECIFIED_EXCEPTION")),
        ("AT", Some("01"), ("AT", "ATTEMPTED_DELIVERY")),
        ("AT", Some("03"), ("AT", "ATTEMPTED_DELIVERY_FINAL")),
        ("DL", None, ("DE", "DELIVERED")),
    ]
    .into_iter()
    .map(|(c, d, (s, sd))| {
        (
            c.to_owned(),
            d.map(str::to_owned),
            (s.to_owned(), sd.to_owned()),
        )
    })
    .collect()
}

#[test]
fn a_two_level_carrier_maps_by_detail_code_with_a_fallback() {
    let run = import_example("detail-codes.csv", "detail-codes.toml");
    assert_eq!(detail_pairs(&run), expected_detail_pairs());
    assert!(
        run.events
            .iter()
            .all(|e| e.get("warning_messages").is_none())
    );
}

#[test]
fn a_file_uri_profile_and_the_profile_flag() {
    let profile = format!("file://{}", example("status-groups.toml").to_str().unwrap());
    let run = import(
        json!({"source": example("status-groups.csv"), "profile": profile}),
        &["--sink", "null"],
        &[],
    );
    let summary = run.summary();
    assert_eq!(summary["profile"], profile.as_str());
    assert_eq!(summary["files"][0]["profile"], "status-groups");
    assert_eq!(summary["events_emitted"], 6);

    // --profile wins over the event's metadata.profile.
    let run = import(
        json!({"source": "profiles/examples/headerless.csv", "profile": "reference"}),
        &[
            "--sink",
            "stdout",
            "--profile",
            "profiles/examples/headerless.toml",
        ],
        &[],
    );
    assert_eq!(run.events.len(), 3);
    assert_eq!(run.summary()["files"][0]["profile"], "headerless");
}

/// An S3 client on moto, and the env that points the binary at it.
async fn moto() -> (aws_sdk_s3::Client, aws_sdk_sqs::Client, String) {
    let endpoint = common::endpoint();
    let shared = common::aws().await;
    (
        common::s3(&shared),
        aws_sdk_sqs::Client::new(&shared),
        endpoint,
    )
}

#[tokio::test]
async fn an_s3_profile_is_loaded_through_the_s3_source() {
    let (s3, _, endpoint) = moto().await;
    let bucket = common::unique("profiles");
    let toml = std::fs::read(example("detail-codes.toml")).unwrap();
    common::put_object(&s3, &bucket, "carriers/two-level.toml", toml).await;
    let profile = format!("s3://{bucket}/carriers/two-level.toml");
    let run = tokio::task::spawn_blocking(move || {
        import(
            json!({"source": "profiles/examples/detail-codes.csv", "profile": profile}),
            &["--sink", "stdout"],
            &[("AWS_ENDPOINT_URL", &endpoint)],
        )
    })
    .await
    .unwrap();
    assert_eq!(detail_pairs(&run), expected_detail_pairs());
    assert_eq!(run.summary()["files"][0]["profile"], "detail-codes");
}

#[tokio::test]
async fn an_unreadable_profile_uri_fails_before_anything_is_sent() {
    let (s3, sqs, endpoint) = moto().await;
    let bucket = common::unique("profiles");
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    let queue_url = common::create_queue(&sqs, 262_144).await;
    let missing = format!("s3://{bucket}/missing.toml");
    let run = {
        let (missing, endpoint, queue_url) = (missing.clone(), endpoint.clone(), queue_url.clone());
        tokio::task::spawn_blocking(move || {
            import(
                json!({"source": "profiles/examples/status-groups.csv", "profile": missing}),
                &["--sink", "sqs"],
                &[("AWS_ENDPOINT_URL", &endpoint), ("QUEUE_URL", &queue_url)],
            )
        })
        .await
        .unwrap()
    };
    assert!(!run.output.status.success());
    let stderr = run.stderr();
    assert!(
        stderr.contains(&format!("cannot read profile {missing}"))
            && stderr.contains("no such object")
            && stderr.contains("(InvalidProfile)"),
        "{stderr}"
    );
    assert!(run.output.stdout.is_empty());
    assert!(
        common::drain(&sqs, &queue_url).await.is_empty(),
        "nothing was sent"
    );

    // The same for a local path, and for a profile file that does not validate.
    let run = import(
        json!({"source": "profiles/examples/status-groups.csv", "profile": "profiles/examples/nope.toml"}),
        &["--sink", "stdout"],
        &[],
    );
    assert!(!run.output.status.success());
    assert!(run.events.is_empty());
    let stderr = run.stderr();
    assert!(
        stderr.contains("cannot read profile profiles/examples/nope.toml"),
        "{stderr}"
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(example("status-groups.toml"))
            .unwrap()
            .replace("\"HUB_SCAN_IN\"", "\"HUB_SCAN_INN\""),
    )
    .unwrap();
    let run = import(
        json!({"source": "profiles/examples/status-groups.csv", "profile": bad}),
        &["--sink", "stdout"],
        &[],
    );
    assert!(!run.output.status.success());
    assert!(run.events.is_empty());
    let stderr = run.stderr();
    assert!(
        stderr.contains(bad.to_str().unwrap())
            && stderr.contains("status_group[1].to")
            && stderr.contains("`HUB_SCAN_INN`"),
        "{stderr}"
    );
}

/// `xml-shipments.toml`: windows-1252 text (Montréal, the en dash of `&#8211;`) comes out as UTF-8; `Text` is the element's own text, not its `<b>` child's; `Service` follows the events it belongs to.
#[test]
fn an_xml_file_with_namespaces_attributes_cdata_and_values_after_its_events() {
    let run = import_example("xml-shipments.xml", "xml-shipments.toml");
    assert_eq!(
        Value::Array(run.events.clone()),
        json!([
            {
                "tracking_info": {
                    "carrier_name": "Acme Parcel & Freight",
                    "tracking_number": "AP100200300",
                    "standardized_status_code": "AC",
                    "standardized_status_detail_code": "PICKED_UP",
                    "carrier_status_code": "PU",
                    "carrier_status_description": "Picked up <counter 3>",
                    "service": {
                        "code": "EXP"
                    },
                    "events": [
                        {
                            "event_datetime": "2026-11-26T14:15:00Z",
                            "event_datetime_local": "2026-11-26T09:15:00",
                            "event_code": "PU",
                            "description": "Picked up <counter 3>",
                            "city": "Montréal",
                            "country": "CA",
                            "status_code": "AC",
                            "status_detail_code": "PICKED_UP"
                        }
                    ]
                }
            },
            {
                "tracking_info": {
                    "carrier_name": "Acme Parcel & Freight",
                    "tracking_number": "AP100200300",
                    "standardized_status_code": "DE",
                    "standardized_status_detail_code": "DELIVERED",
                    "carrier_status_code": "DL",
                    "carrier_status_description": "Delivered – signed by",
                    "actual_delivery_datetime": "2026-11-27T19:02:00Z",
                    "service": {
                        "code": "EXP"
                    },
                    "events": [
                        {
                            "event_datetime": "2026-11-27T19:02:00Z",
                            "event_datetime_local": "2026-11-27T14:02:00",
                            "event_code": "DL",
                            "description": "Delivered – signed by",
                            "city": "Québec",
                            "country": "CA",
                            "status_code": "DE",
                            "status_detail_code": "DELIVERED"
                        }
                    ]
                }
            },
            {
                "tracking_info": {
                    "carrier_name": "Acme Parcel & Freight",
                    "tracking_number": "AP100200301",
                    "standardized_status_code": "UN",
                    "standardized_status_detail_code": "CARRIER_STATUS_NOT_MAPPED",
                    "carrier_status_code": "ZZ",
                    "service": {
                        "code": "STD"
                    },
                    "events": [
                        {
                            "event_datetime": "2026-11-27T13:00:00Z",
                            "event_datetime_local": "2026-11-27T08:00:00",
                            "event_code": "ZZ",
                            "city": "Trois-Rivières",
                            "status_code": "UN",
                            "status_detail_code": "CARRIER_STATUS_NOT_MAPPED"
                        }
                    ]
                },
                "warning_messages": [
                    "carrier status code \"ZZ\" is not in the status map of profile `xml-shipments`"
                ]
            }
        ])
    );
    assert_eq!(
        run.rejected(),
        [
            (4, 32, 1180, "column `Time`: \"27/11/2026 10:30\" is not a date and time of format \"%Y-%m-%dT%H:%M:%S\"".to_owned())
        ]
    );
}

/// `json-shipments.toml`: each event takes its shipment's tracking number and service, before or after the events; `2.50` is a number, `null` nothing.
#[test]
fn a_json_document_of_shipments_holding_event_arrays() {
    let run = import_example("json-shipments.json", "json-shipments.toml");
    assert_eq!(
        Value::Array(run.events.clone()),
        json!([
            {
                "tracking_info": {
                    "carrier_name": "Jetstream Logistics",
                    "tracking_number": "JS0001",
                    "standardized_status_code": "IT",
                    "standardized_status_detail_code": "HUB_SCAN_IN",
                    "carrier_status_code": "A1",
                    "weight": 2.5,
                    "service": {
                        "code": "GND",
                        "name": "Ground"
                    },
                    "events": [
                        {
                            "event_datetime": "2026-11-25T16:40:00Z",
                            "event_datetime_local": "2026-11-25T16:40:00",
                            "event_code": "A1",
                            "city": "Memphis",
                            "state": "TN",
                            "status_code": "IT",
                            "status_detail_code": "HUB_SCAN_IN"
                        }
                    ]
                }
            },
            {
                "tracking_info": {
                    "carrier_name": "Jetstream Logistics",
                    "tracking_number": "JS0001",
                    "standardized_status_code": "DE",
                    "standardized_status_detail_code": "DELIVERED",
                    "carrier_status_code": "D1",
                    "actual_delivery_datetime": "2026-11-26T11:05:00Z",
                    "service": {
                        "code": "GND",
                        "name": "Ground"
                    },
                    "events": [
                        {
                            "event_datetime": "2026-11-26T11:05:00Z",
                            "event_datetime_local": "2026-11-26T11:05:00",
                            "event_code": "D1",
                            "city": "Atlanta",
                            "state": "GA",
                            "status_code": "DE",
                            "status_detail_code": "DELIVERED"
                        }
                    ]
                }
            },
            {
                "tracking_info": {
                    "carrier_name": "Jetstream Logistics",
                    "tracking_number": "JS0002",
                    "standardized_status_code": "IT",
                    "standardized_status_detail_code": "HUB_SCAN_IN",
                    "carrier_status_code": "A1",
                    "events": [
                        {
                            "event_datetime": "2026-11-26T07:00:00Z",
                            "event_datetime_local": "2026-11-26T07:00:00",
                            "event_code": "A1",
                            "city": "Reno",
                            "state": "NV",
                            "status_code": "IT",
                            "status_detail_code": "HUB_SCAN_IN"
                        }
                    ]
                }
            }
        ])
    );
    assert_eq!(
        run.rejected(),
        [(
            4,
            13,
            482,
            "column `at`: \"yesterday\" is not a date and time of format \"%+\"".to_owned()
        )]
    );
}

/// `json-events.toml`: record = "." makes each element of the root array a record.
#[test]
fn a_json_document_whose_events_are_the_top_level_array() {
    let run = import_example("json-events.json", "json-events.toml");
    assert_eq!(
        Value::Array(run.events.clone()),
        json!([
            {
                "tracking_info": {
                    "carrier_name": "Express Europe",
                    "tracking_number": "EV-1",
                    "standardized_status_code": "AC",
                    "standardized_status_detail_code": "PICKED_UP",
                    "carrier_status_code": "PU",
                    "events": [
                        {
                            "event_datetime": "2026-11-26T08:15:00Z",
                            "event_datetime_local": "2026-11-26T09:15:00",
                            "event_code": "PU",
                            "city": "Lyon",
                            "country": "FR",
                            "status_code": "AC",
                            "status_detail_code": "PICKED_UP"
                        }
                    ]
                }
            },
            {
                "tracking_info": {
                    "carrier_name": "Express Europe",
                    "tracking_number": "EV-1",
                    "standardized_status_code": "DE",
                    "standardized_status_detail_code": "DELIVERED",
                    "carrier_status_code": "DL",
                    "actual_delivery_datetime": "2026-11-27T13:02:00Z",
                    "events": [
                        {
                            "event_datetime": "2026-11-27T13:02:00Z",
                            "event_datetime_local": "2026-11-27T14:02:00",
                            "event_code": "DL",
                            "city": "Paris",
                            "country": "FR",
                            "signer": "M. Dupont",
                            "status_code": "DE",
                            "status_detail_code": "DELIVERED"
                        }
                    ]
                }
            }
        ])
    );
    assert_eq!(
        run.rejected(),
        [(3, 4, 235, "no tracking number".to_owned())]
    );
}

/// `x12-214-acme.toml` extends the built-in `x12-214`: two interchanges with `|`, `^`, `>` and
/// newline terminators; an L11 2I tracking number, else B10-01; AT7-07 time codes (CT and ET by
/// date, PT, LT kept local only); an appointment-only AT7 skipped; AT8 weight and pieces for its
/// LX loop; the carrier named by the profile; a code only the carrier's profile maps.
#[test]
fn an_x12_214_feed_through_a_profile_extending_the_built_in_one() {
    let run = import_example("x12-214-acme.edi", "x12-214-acme.toml");
    assert_eq!(
        Value::Array(run.events.clone()),
        json!([
            {
                "tracking_info": {
                    "carrier_name": "Acme Motor Freight",
                    "tracking_number": "1Z0000000001",
                    "standardized_status_code": "AC",
                    "standardized_status_detail_code": "PICKED_UP",
                    "carrier_status_code": "AF",
                    "carrier_detail_code": "NS",
                    "weight": 25.5,
                    "package_count": 2,
                    "events": [
                        {
                            "event_datetime": "2026-11-27T14:15:00Z",
                            "event_datetime_local": "2026-11-27T08:15:00",
                            "event_code": "AF",
                            "carrier_detail_code": "NS",
                            "city": "CHICAGO",
                            "state": "IL",
                            "country": "US",
                            "status_code": "AC",
                            "status_detail_code": "PICKED_UP"
                        }
                    ]
                }
            },
            {
                "tracking_info": {
                    "carrier_name": "Acme Motor Freight",
                    "tracking_number": "1Z0000000001",
                    "standardized_status_code": "IT",
                    "standardized_status_detail_code": "IN_TRANSIT",
                    "carrier_status_code": "X6",
                    "carrier_detail_code": "NS",
                    "weight": 25.5,
                    "package_count": 2,
                    "events": [
                        {
                            "event_datetime": "2026-11-27T20:30:45Z",
                            "event_datetime_local": "2026-11-27T15:30:45",
                            "event_code": "X6",
                            "carrier_detail_code": "NS",
                            "city": "TOLEDO",
                            "state": "OH",
                            "country": "US",
                            "status_code": "IT",
                            "status_detail_code": "IN_TRANSIT"
                        }
                    ]
                }
            },
            {
                "tracking_info": {
                    "carrier_name": "Acme Motor Freight",
                    "tracking_number": "PRO200",
                    "standardized_status_code": "DE",
                    "standardized_status_detail_code": "DELIVERED",
                    "carrier_status_code": "D1",
                    "carrier_detail_code": "NS",
                    "events": [
                        {
                            "event_datetime_local": "2026-11-28T05:42:00",
                            "event_code": "D1",
                            "carrier_detail_code": "NS",
                            "city": "BOSTON^SOUTH",
                            "state": "MA",
                            "country": "US",
                            "status_code": "DE",
                            "status_detail_code": "DELIVERED"
                        }
                    ]
                }
            },
            {
                "tracking_info": {
                    "carrier_name": "Acme Motor Freight",
                    "tracking_number": "PRO200",
                    "standardized_status_code": "EX",
                    "standardized_status_detail_code": "UNSPECIFIED_EXCEPTION",
                    "carrier_status_code": "ZZ",
                    "carrier_detail_code": "NS",
                    "events": [
                        {
                            "event_datetime": "2026-11-28T11:00:00Z",
                            "event_datetime_local": "2026-11-28T06:00:00",
                            "event_code": "ZZ",
                            "carrier_detail_code": "NS",
                            "status_code": "EX",
                            "status_detail_code": "UNSPECIFIED_EXCEPTION"
                        }
                    ]
                }
            },
            {
                "tracking_info": {
                    "carrier_name": "Acme Motor Freight",
                    "tracking_number": "1Z0000000003",
                    "standardized_status_code": "IT",
                    "standardized_status_detail_code": "OUT_FOR_DELIVERY",
                    "carrier_status_code": "X1",
                    "carrier_detail_code": "NS",
                    "events": [
                        {
                            "event_datetime": "2026-11-28T15:00:00Z",
                            "event_datetime_local": "2026-11-28T07:00:00",
                            "event_code": "X1",
                            "carrier_detail_code": "NS",
                            "city": "RENO",
                            "state": "NV",
                            "country": "US",
                            "status_code": "IT",
                            "status_detail_code": "OUT_FOR_DELIVERY"
                        }
                    ]
                }
            }
        ])
    );
    assert!(run.rejected().is_empty());
}

/// `iftsta-nordfrakt.toml` extends the built-in `edifact-iftsta`: a UNA, release characters
/// (`?:`, `?+`, `??`, `?'`), ISO-8859-1 text (UNOC), an `RFF+CN` overriding the consignment's
/// reference, DTM format qualifiers 205 and 303 (instants), 204 (local), and a status group
/// without a DTM taking the message's DTM+137 (203, then 102: local), the country from a
/// UN/LOCODE, the city from the LOC's name else its code, a code only the carrier's map lacks.
#[test]
fn an_iftsta_feed_through_a_profile_extending_the_built_in_one() {
    let run = import_example("iftsta-nordfrakt.edifact", "iftsta-nordfrakt.toml");
    assert_eq!(
        Value::Array(run.events.clone()),
        json!([
            {
                "tracking_info": {
                    "carrier_name": "Nordfrakt",
                    "tracking_number": "NF100200300",
                    "standardized_status_code": "AC",
                    "standardized_status_detail_code": "PICKED_UP",
                    "carrier_status_code": "PU",
                    "carrier_status_description": "Picked up at sender",
                    "events": [
                        {
                            "event_datetime": "2026-11-27T09:15:00Z",
                            "event_datetime_local": "2026-11-27T10:15:00",
                            "event_code": "PU",
                            "description": "Picked up at sender",
                            "city": "Oslo",
                            "country": "NO",
                            "status_code": "AC",
                            "status_detail_code": "PICKED_UP"
                        }
                    ]
                }
            },
            {
                "tracking_info": {
                    "carrier_name": "Nordfrakt",
                    "tracking_number": "NF-ALT-77",
                    "standardized_status_code": "IT",
                    "standardized_status_detail_code": "IN_TRANSIT",
                    "carrier_status_code": "TR",
                    "carrier_status_description": "In transit: hub + sort",
                    "events": [
                        {
                            "event_datetime_local": "2026-11-27T18:30:00",
                            "event_code": "TR",
                            "description": "In transit: hub + sort",
                            "city": "SEGOT",
                            "country": "SE",
                            "status_code": "IT",
                            "status_detail_code": "IN_TRANSIT"
                        }
                    ]
                }
            },
            {
                "tracking_info": {
                    "carrier_name": "Nordfrakt",
                    "tracking_number": "NF100200301",
                    "standardized_status_code": "DE",
                    "standardized_status_detail_code": "DELIVERED",
                    "carrier_status_code": "DL",
                    "carrier_detail_code": "NB",
                    "carrier_status_description": "Delivered",
                    "events": [
                        {
                            "event_datetime_local": "2026-11-27T23:00:00",
                            "event_code": "DL",
                            "carrier_detail_code": "NB",
                            "description": "Delivered",
                            "status_code": "DE",
                            "status_detail_code": "DELIVERED"
                        }
                    ]
                }
            },
            {
                "tracking_info": {
                    "carrier_name": "Nordfrakt",
                    "tracking_number": "NF100200302",
                    "standardized_status_code": "UN",
                    "standardized_status_detail_code": "CARRIER_STATUS_NOT_MAPPED",
                    "carrier_status_code": "XX",
                    "carrier_status_description": "Scan ?42",
                    "events": [
                        {
                            "event_datetime": "2026-11-28T06:45:00Z",
                            "event_datetime_local": "2026-11-28T07:45:00",
                            "event_code": "XX",
                            "description": "Scan ?42",
                            "city": "Århus",
                            "country": "DK",
                            "status_code": "UN",
                            "status_detail_code": "CARRIER_STATUS_NOT_MAPPED"
                        }
                    ]
                },
                "warning_messages": [
                    "carrier status code \"XX\" is not in the status map of profile `nordfrakt-iftsta`"
                ]
            },
            {
                "tracking_info": {
                    "carrier_name": "Nordfrakt",
                    "tracking_number": "NF100200302",
                    "standardized_status_code": "DE",
                    "standardized_status_detail_code": "DELIVERED",
                    "carrier_status_code": "DL",
                    "carrier_status_description": "Delivered",
                    "events": [
                        {
                            "event_datetime_local": "2026-11-28T00:00:00",
                            "event_code": "DL",
                            "description": "Delivered",
                            "status_code": "DE",
                            "status_detail_code": "DELIVERED"
                        }
                    ]
                }
            }
        ])
    );
    assert!(run.rejected().is_empty());

    // The built-in alone: the sender (UNB-02) names the carrier, and no code is mapped.
    let run = import(
        json!({"source": "profiles/examples/iftsta-nordfrakt.edifact", "profile": "edifact-iftsta"}),
        &["--sink", "stdout"],
        &[],
    );
    assert_eq!(run.events.len(), 5);
    for event in &run.events {
        assert_eq!(event["tracking_info"]["carrier_name"], "NORDFRAKT");
        assert_eq!(pair(event), ("UN", "CARRIER_STATUS_NOT_MAPPED"));
        assert_eq!(event["warning_messages"].as_array().map(Vec::len), Some(1));
    }
}
