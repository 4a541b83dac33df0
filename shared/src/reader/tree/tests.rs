//! The document readers end to end over bytes: paths, ancestors after their records, positions,
//! encodings, and how broken documents end.

use crate::error::ReadError;
use crate::profile::Profile;
use crate::reader::{Record, RecordReader};

pub(super) fn profile(format: &str, record: &str, columns: &str, extra: &str) -> Profile {
    let text = format!(
        r#"
name = "t"
carrier_name = "T"
format = "{format}"
record = "{record}"
{extra}
[datetime]
datetime_format = "%Y-%m-%dT%H:%M:%S"
timezone = "UTC"
[columns]
{columns}
"#
    );
    Profile::from_toml(&text, "t").unwrap()
}

/// Every record as (header → value) pairs with its position, then how reading ended.
/// A record read: its (header, value) pairs and its (record, line, byte).
type Read = (Vec<(String, String)>, (u64, u64, u64));

async fn read_all(profile: &Profile, bytes: &[u8]) -> (Vec<Read>, Option<ReadError>) {
    let mut reader = RecordReader::new(bytes, profile);
    let headers = reader.headers().await.unwrap();
    let names: Vec<String> = headers
        .iter()
        .map(|h| String::from_utf8(h.to_vec()).unwrap())
        .collect();
    let mut out = Vec::new();
    let mut record = Record::default();
    loop {
        match reader.read(&mut record).await {
            Ok(true) => {
                let p = record.position;
                let fields = match &record.malformed {
                    Some(reason) => vec![("malformed".to_owned(), reason.clone())],
                    None => names
                        .iter()
                        .cloned()
                        .zip(record.fields.iter().map(str::to_owned))
                        .filter(|(_, v)| !v.is_empty())
                        .collect(),
                };
                out.push((fields, (p.record, p.line, p.byte)));
            }
            Ok(false) => return (out, None),
            Err(err) => return (out, Some(err)),
        }
    }
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

const XML_COLUMNS: &str = r#"
tracking_number = "../../@id"
carrier_status_code = "Code"
carrier_status_description = "Text"
event_datetime = "Time"
city = "Where/City"
service_code = "../../Service"
company = "/TrackingFile/Header/Carrier"
"#;

const XML: &str = r#"<?xml version="1.0"?>
<tf:TrackingFile xmlns:tf="urn:x">
  <tf:Header><tf:Carrier>Acme &amp; Co</tf:Carrier></tf:Header>
  <tf:Shipment id="1Z1">
    <tf:Events>
      <tf:Event><tf:Code>PU</tf:Code><tf:Text><![CDATA[Picked <up>]]></tf:Text>
        <tf:Time>2026-11-26T09:15:00</tf:Time><tf:Where><tf:City> Montr&#233;al </tf:City></tf:Where></tf:Event>
      <tf:Event><tf:Code>DL</tf:Code><tf:Text>Left <b>at</b> door</tf:Text><tf:Time>2026-11-27T14:02:00</tf:Time></tf:Event>
    </tf:Events>
    <tf:Service>EXP</tf:Service>
  </tf:Shipment>
  <tf:Shipment id="1Z2"><tf:Service>STD</tf:Service><tf:Events>
    <tf:Event><tf:Code>IT</tf:Code><tf:Time>2026-11-27T08:00:00</tf:Time></tf:Event>
  </tf:Events></tf:Shipment>
</tf:TrackingFile>
"#;

#[tokio::test]
async fn xml_records_take_ancestor_values_from_before_and_after_them() {
    let profile = profile("xml", "TrackingFile/Shipment/Events/Event", XML_COLUMNS, "");
    let (records, end) = read_all(&profile, XML.as_bytes()).await;
    assert!(end.is_none(), "{end:?}");
    let at = |needle: &str| XML.find(needle).unwrap() as u64;
    assert_eq!(
        records,
        vec![
            (
                pairs(&[
                    ("../../@id", "1Z1"),
                    ("Code", "PU"),
                    ("Text", "Picked <up>"),
                    ("Time", "2026-11-26T09:15:00"),
                    ("Where/City", "Montréal"),
                    ("/TrackingFile/Header/Carrier", "Acme & Co"),
                    ("../../Service", "EXP"),
                ]),
                (1, 6, at("<tf:Event><tf:Code>PU")),
            ),
            (
                // Only the element's own text: `<b>at</b>` is a child's.
                pairs(&[
                    ("../../@id", "1Z1"),
                    ("Code", "DL"),
                    ("Text", "Left  door"),
                    ("Time", "2026-11-27T14:02:00"),
                    ("/TrackingFile/Header/Carrier", "Acme & Co"),
                    ("../../Service", "EXP"),
                ]),
                (2, 8, at("<tf:Event><tf:Code>DL")),
            ),
            (
                pairs(&[
                    ("../../@id", "1Z2"),
                    ("Code", "IT"),
                    ("Time", "2026-11-27T08:00:00"),
                    ("/TrackingFile/Header/Carrier", "Acme & Co"),
                    ("../../Service", "STD"),
                ]),
                (3, 13, at("<tf:Event><tf:Code>IT")),
            ),
        ]
    );
}

#[tokio::test]
async fn a_declared_single_byte_encoding_is_decoded_and_positions_stay_file_bytes() {
    let mut bytes = b"<?xml version=\"1.0\" encoding=\"windows-1252\"?>\n<F>".to_vec();
    bytes.extend_from_slice(b"<E><Code>\xC9T\xC9</Code><Time>2026-01-01T00:00:00</Time></E>\n");
    let second = bytes.len() as u64;
    bytes.extend_from_slice(b"<E><Code>\x80</Code></E></F>");
    let profile = profile(
        "xml",
        "F/E",
        "tracking_number = \"Code\"\ncarrier_status_code = \"Code\"\nevent_datetime = \"Time\"",
        "",
    );
    let (records, end) = read_all(&profile, &bytes).await;
    assert!(end.is_none(), "{end:?}");
    assert_eq!(records[0].0[0], ("Code".into(), "ÉTÉ".into()));
    assert_eq!(records[1].0[0], ("Code".into(), "€".into()));
    assert_eq!(records[1].1, (2, 3, second));
}

#[tokio::test]
async fn the_profiles_encoding_applies_without_a_declaration() {
    let bytes = b"<F><E><Code>S\xE3o</Code></E></F>";
    let columns =
        "tracking_number = \"Code\"\ncarrier_status_code = \"Code\"\nevent_datetime = \"Code\"";
    let latin = profile("xml", "F/E", columns, "encoding = \"iso-8859-1\"");
    let (records, end) = read_all(&latin, bytes).await;
    assert!(end.is_none());
    assert_eq!(records[0].0[0].1, "São");
    // Read as UTF-8, the same bytes are not a well-formed document.
    let utf8 = profile("xml", "F/E", columns, "");
    let (records, end) = read_all(&utf8, bytes).await;
    assert!(records.is_empty());
    assert!(matches!(end, Some(ReadError::Malformed { .. })), "{end:?}");
}

#[tokio::test]
async fn a_malformed_document_delivers_the_records_before_the_break() {
    let xml = "<F>\n<E><C>1</C></E>\n<E><C>2</C></E>\n<E><C>3</D></E>\n</F>";
    let profile = profile(
        "xml",
        "F/E",
        "tracking_number = \"C\"\ncarrier_status_code = \"C\"\nevent_datetime = \"C\"",
        "",
    );
    let (records, end) = read_all(&profile, xml.as_bytes()).await;
    assert_eq!(records.len(), 2);
    match end {
        Some(ReadError::Malformed { format, line, .. }) => {
            assert_eq!((format, line), ("XML", 4));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn entities_declared_in_a_doctype_fail_the_file_unexpanded() {
    let columns = "tracking_number = \"C\"\ncarrier_status_code = \"C\"\nevent_datetime = \"C\"";
    let profile = profile("xml", "F/E", columns, "");
    for xml in [
        "<?xml version=\"1.0\"?>\n<!DOCTYPE F [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n<F><E><C>&x;</C></E></F>",
        "<!DOCTYPE F [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><F><E><C>&b;</C></E></F>",
    ] {
        let (records, end) = read_all(&profile, xml.as_bytes()).await;
        assert!(records.is_empty());
        let err = end.expect("fails").to_string();
        assert!(err.contains("DOCTYPE declares entities"), "{err}");
    }
    let (_, end) = read_all(&profile, b"<F><E><C>&x;</C></E></F>").await;
    assert!(end.unwrap().to_string().contains("undefined entity `&x;`"));
}

#[tokio::test]
async fn empty_and_truncated_documents_fail_after_their_complete_records() {
    let columns = "tracking_number = \"C\"\ncarrier_status_code = \"C\"\nevent_datetime = \"C\"";
    let xml = profile("xml", "F/E", columns, "");
    let (records, end) = read_all(&xml, b"").await;
    assert!(records.is_empty());
    assert!(end.unwrap().to_string().contains("no root element"));
    let (records, end) = read_all(&xml, b"<F><E><C>1</C></E><E><C>2</C>").await;
    assert_eq!(records.len(), 1);
    assert!(end.unwrap().to_string().contains("ends inside an element"));

    let json = profile("json", ".", columns, "");
    let (records, end) = read_all(&json, br#"[{"C": 1}, {"C": 2}, {"C""#).await;
    assert_eq!(records.len(), 2);
    let err = end.unwrap().to_string();
    assert!(err.contains("not well-formed JSON"), "{err}");
}

const JSON_SHIPMENTS: &str = r#"{"carrier": "Acme", "shipments": [
  {"events": [
     {"code": "PU", "at": "2026-11-26T09:15:00", "weight": 1.50, "signed": false},
     {"code": "DL", "at": "2026-11-27T14:02:00", "weight": null}
   ], "tracking": "1Z1"},
  {"tracking": "1Z2", "events": {"code": "IT", "at": "2026-11-27T08:00:00"}}
]}"#;

#[tokio::test]
async fn json_arrays_are_transparent_and_parents_are_one_step_up() {
    let columns = r#"
tracking_number = "../tracking"
carrier_status_code = "code"
event_datetime = "at"
weight = "weight"
signer = "signed"
company = "/carrier"
"#;
    let profile = profile("json", "shipments/events", columns, "");
    let (records, end) = read_all(&profile, JSON_SHIPMENTS.as_bytes()).await;
    assert!(end.is_none(), "{end:?}");
    let at = |needle: &str| JSON_SHIPMENTS.find(needle).unwrap() as u64;
    assert_eq!(
        records,
        vec![
            (
                pairs(&[
                    ("../tracking", "1Z1"),
                    ("code", "PU"),
                    ("at", "2026-11-26T09:15:00"),
                    ("/carrier", "Acme"),
                    ("signed", "false"),
                    ("weight", "1.50"),
                ]),
                (1, 3, at(r#"{"code": "PU""#)),
            ),
            (
                pairs(&[
                    ("../tracking", "1Z1"),
                    ("code", "DL"),
                    ("at", "2026-11-27T14:02:00"),
                    ("/carrier", "Acme"),
                ]),
                (2, 4, at(r#"{"code": "DL""#)),
            ),
            (
                pairs(&[
                    ("../tracking", "1Z2"),
                    ("code", "IT"),
                    ("at", "2026-11-27T08:00:00"),
                    ("/carrier", "Acme"),
                ]),
                (3, 6, at(r#"{"code": "IT""#)),
            ),
        ]
    );
}

#[tokio::test]
async fn a_top_level_array_of_events_is_read_with_record_dot() {
    let json = "[\n{\"n\": \"A\", \"c\": \"X\"},\n{\"n\": \"B\", \"c\": \"Y\"}\n]";
    let columns = "tracking_number = \"n\"\ncarrier_status_code = \"c\"\nevent_datetime = \"c\"";
    let profile = profile("json", ".", columns, "");
    let (records, end) = read_all(&profile, json.as_bytes()).await;
    assert!(end.is_none());
    assert_eq!(
        records,
        vec![
            (pairs(&[("n", "A"), ("c", "X")]), (1, 2, 2)),
            (
                pairs(&[("n", "B"), ("c", "Y")]),
                (2, 3, json.find("{\"n\": \"B\"").unwrap() as u64)
            ),
        ]
    );
}

#[tokio::test]
async fn a_hold_larger_than_the_limit_rejects_its_records_and_reading_goes_on() {
    let big = "x".repeat(crate::reader::MAX_RECORD_BYTES as usize + 1);
    let xml = format!(
        "<F><S><E><C>1</C></E><E><C>2</C></E><N>{big}</N><E><C>3</C></E></S><S><N>n</N><E><C>4</C></E></S></F>"
    );
    let columns = "tracking_number = \"C\"\ncarrier_status_code = \"C\"\nevent_datetime = \"C\"\nsigner = \"../N\"";
    let profile = profile("xml", "F/S/E", columns, "");
    let (records, end) = read_all(&profile, xml.as_bytes()).await;
    assert!(end.is_none(), "{end:?}");
    let reason = format!(
        "the `S` element holding this record is larger than {} bytes; its records are not read",
        crate::reader::MAX_RECORD_BYTES
    );
    let malformed = pairs(&[("malformed", &reason)]);
    assert_eq!(records.len(), 4);
    for (i, record) in records.iter().take(3).enumerate() {
        assert_eq!(record.0, malformed);
        assert_eq!(record.1.0, i as u64 + 1);
    }
    assert_eq!(records[3].0, pairs(&[("C", "4"), ("../N", "n")]));
}

/// Past the limit a hold keeps nothing per record: a hold of any size costs what one record
/// does, and its records still come out, numbered and rejected.
#[test]
fn an_oversized_hold_keeps_nothing_per_record() {
    use super::Assembler;
    let columns = "tracking_number = \"C\"\ncarrier_status_code = \"C\"\nevent_datetime = \"C\"\nsigner = \"../N\"";
    let profile = profile("xml", "F/S/E", columns, "");
    let mut a = Assembler::new(&profile);
    let mut none = |_: &str| None;
    let at = crate::error::Position::default();
    for name in ["", "F", "S", "N"] {
        a.open(name, &mut none, at);
    }
    a.text(
        &"x".repeat(crate::reader::MAX_RECORD_BYTES as usize + 1),
        false,
    );
    a.close();
    for _ in 0..10_000 {
        a.open("E", &mut none, at);
        a.open("C", &mut none, at);
        a.text("1", false);
        a.close();
        a.close();
    }
    assert!(a.instances.len() <= 2, "{} instances", a.instances.len());
    assert!(a.chains.is_empty() && a.pending.is_empty());
    let mut record = Record::default();
    let mut rejected = 0;
    while a.pop_ready(&mut record) {
        rejected += 1;
        assert_eq!(record.position.record, rejected);
        assert!(record.malformed.as_deref().unwrap().contains("larger than"));
    }
    assert_eq!(rejected, 10_000);
    // The next hold is read as usual.
    a.close();
    a.open("S", &mut none, at);
    a.open("E", &mut none, at);
    a.open("C", &mut none, at);
    a.text("2", false);
    for _ in 0..3 {
        a.close();
    }
    assert!(a.pop_ready(&mut record));
    assert_eq!(
        (record.malformed.as_deref(), record.position.record),
        (None, 10_001)
    );
    assert_eq!(record.fields.get(0), Some("2"));
}

#[tokio::test]
async fn a_condition_on_an_attribute_picks_the_first_sibling_that_meets_it() {
    let xml = r#"<F><S><Ref type="PO">P-1</Ref><Ref type="TRK">T-1</Ref><Ref type="TRK">T-2</Ref>
<E code="X"/></S><S><E code="Y"/></S></F>"#;
    let columns = "tracking_number = \"../Ref[@type=TRK]\"\ncarrier_status_code = \"@code\"\nevent_datetime = \"@code\"";
    let profile = profile("xml", "F/S/E", columns, "");
    let (records, end) = read_all(&profile, xml.as_bytes()).await;
    assert!(end.is_none(), "{end:?}");
    let values: Vec<Vec<(String, String)>> = records.into_iter().map(|(v, _)| v).collect();
    assert_eq!(
        values,
        [
            pairs(&[("../Ref[@type=TRK]", "T-1"), ("@code", "X")]),
            // No reference meets the condition in the second shipment: empty.
            pairs(&[("@code", "Y")]),
        ]
    );
}

const X12_214: &str = "ISA*00*          *00*          *ZZ*CARRIERX       *ZZ*SHIPPERY       *250314*0930*U*00401*000000101*0*P*>~
GS*QM*CARRIERX*SHIPPERY*20250314*0930*101*X*004010~
ST*214*0001~
B10*PRO5521*SHIP9981*CRRX~
L11*BOL4471*BM~
L11*TRK00012345*2I~
LX*1~
AT7*X1*NS***20250313*1420*CT~
MS1*CHICAGO*IL*US~
AT7*D1*NS***20250314*0912*ET~
MS1*BOSTON*MA*US~
AT8*G*L*12.5*1~
SE*11*0001~
GE*1*101~
IEA*1*000000101~
";

/// A profile reading every AT7 of an X12 214 as a record (status as tracking number, AT7-05 as
/// the date, UTC), plus `columns`.
fn at7_profile(columns: &str) -> Profile {
    let text = format!(
        "name = \"t\"\ncarrier_name = \"T\"\nformat = \"x12\"\nrecord = \"ISA/GS/ST/LX/AT7\"\n\
         [datetime]\ndate_format = \"%Y%m%d\"\ntimezone = \"UTC\"\n[columns]\n\
         tracking_number = \"@01\"\ncarrier_status_code = \"@01\"\nevent_date = \"@05\"\n{columns}"
    );
    Profile::from_toml(&text, "t").unwrap()
}

#[tokio::test]
async fn x12_segments_are_nodes_with_elements_as_attributes_nested_by_loop() {
    let columns = r#"
tracking_number = "../../L11[@02=2I]/@01"
carrier_status_code = "@01"
carrier_detail_code = "@02"
event_date = "@05"
event_time = "@06"
utc_offset = "@07"
city = "MS1/@01"
state = "MS1/@02"
weight = "../AT8/@03"
company = "/ISA/GS/@02"
"#;
    let text = format!(
        "name = \"t\"\ncarrier_name = \"T\"\nformat = \"x12\"\nrecord = \"ISA/GS/ST/LX/AT7\"\n\
         [datetime]\ndate_format = \"%Y%m%d\"\ntime_format = \"%H%M\"\n[columns]\n{columns}"
    );
    let profile = Profile::from_toml(&text, "t").unwrap();
    let (records, end) = read_all(&profile, X12_214.as_bytes()).await;
    assert!(end.is_none(), "{end:?}");
    let at = |needle: &str| X12_214.find(needle).unwrap() as u64;
    let common = [
        ("../../L11[@02=2I]/@01", "TRK00012345"),
        ("/ISA/GS/@02", "CARRIERX"),
        ("../AT8/@03", "12.5"),
    ];
    let event = |own: &[(&'static str, &'static str)]| {
        let mut all: Vec<(&str, &str)> = vec![common[0]];
        all.extend_from_slice(own);
        all.extend_from_slice(&common[1..]);
        pairs(&all)
    };
    assert_eq!(
        records,
        vec![
            (
                event(&[
                    ("@01", "X1"),
                    ("@02", "NS"),
                    ("@05", "20250313"),
                    ("@06", "1420"),
                    ("@07", "CT"),
                    ("MS1/@01", "CHICAGO"),
                    ("MS1/@02", "IL"),
                ]),
                (1, 8, at("AT7*X1")),
            ),
            (
                event(&[
                    ("@01", "D1"),
                    ("@02", "NS"),
                    ("@05", "20250314"),
                    ("@06", "0912"),
                    ("@07", "ET"),
                    ("MS1/@01", "BOSTON"),
                    ("MS1/@02", "MA"),
                ]),
                (2, 10, at("AT7*D1")),
            ),
        ]
    );
}

#[tokio::test]
async fn edifact_composites_are_numbered_components_and_latin1_is_decoded() {
    let file = b"UNA:+.? '\nUNB+UNOC:3+CARRIERX:ZZ+SHIPPERY:ZZ+250314:0930+IC0001'\n\
UNH+M1+IFTSTA:D:01B:UN'\nBGM+23+ST0001+9'\nCNI+1+REF778812'\nSTS+1+21:::Delivered'\n\
RFF+BM:BOL4471'\nDTM+334:202503140912?+0100:205'\nLOC+14+DKCPH::6:K\xF8benhavn'\n\
UNT+8+M1'\nUNZ+1+IC0001'\n"
        .to_vec();
    let columns = r#"
tracking_number = "../@02"
carrier_status_code = "@02.1"
carrier_status_description = "@02.4"
event_datetime = "DTM[@01.1=334]/@01.2"
city = "LOC/@02.4"
"#;
    let text = format!(
        "name = \"t\"\ncarrier_name = \"T\"\nformat = \"edifact\"\nrecord = \"UNB/UNH/CNI/STS\"\n\
         [datetime]\ndatetime_format = \"%Y%m%d%H%M%z\"\n[columns]\n{columns}"
    );
    let profile = Profile::from_toml(&text, "t").unwrap();
    let (records, end) = read_all(&profile, &file).await;
    assert!(end.is_none(), "{end:?}");
    assert_eq!(
        records,
        vec![(
            pairs(&[
                ("../@02", "REF778812"),
                ("@02.1", "21"),
                ("@02.4", "Delivered"),
                ("DTM[@01.1=334]/@01.2", "202503140912+0100"),
                ("LOC/@02.4", "København"),
            ]),
            (
                1,
                6,
                file.windows(4).position(|w| w == b"STS+").unwrap() as u64
            ),
        )]
    );
}

#[tokio::test]
async fn an_interchange_without_its_trailer_fails_after_its_closed_messages() {
    let cut = X12_214.split("GE*").next().unwrap().to_owned();
    let profile = at7_profile("");
    let (records, end) = read_all(&profile, cut.as_bytes()).await;
    assert_eq!(
        records.len(),
        2,
        "the transaction set closed by its SE is read"
    );
    let err = end.unwrap().to_string();
    assert!(err.contains("ends inside `GS`"), "{err}");
}

#[tokio::test]
async fn a_message_whose_trailer_disagrees_has_its_records_rejected() {
    let profile = at7_profile("");
    for (trailer, reason) in [
        (
            "SE*12*0001~",
            "SE-01 says 12 segments, the message has 11: its records are not read",
        ),
        (
            "SE*11*0002~",
            "SE-02 does not repeat the message's reference \"0001\": its records are not read",
        ),
    ] {
        let file = X12_214.replace("SE*11*0001~", trailer);
        let (records, end) = read_all(&profile, file.as_bytes()).await;
        assert!(end.is_none(), "{end:?}");
        let rejected: Vec<_> = records
            .iter()
            .map(|(fields, p)| (fields.clone(), p.0))
            .collect();
        assert_eq!(
            rejected,
            [
                (pairs(&[("malformed", reason)]), 1),
                (pairs(&[("malformed", reason)]), 2)
            ]
        );
    }
}

#[tokio::test]
async fn alternatives_take_the_first_path_that_has_a_value() {
    // The tracking number: an L11 qualified 2I, else B10-01.
    let columns = r#"
tracking_number = ["../../L11[@02=2I]/@01", "../../B10/@01"]
carrier_status_code = "@01"
event_date = "@05"
"#;
    let text = format!(
        "name = \"t\"\ncarrier_name = \"T\"\nformat = \"x12\"\nrecord = \"ISA/GS/ST/LX/AT7\"\n\
         [datetime]\ndate_format = \"%Y%m%d\"\ntimezone = \"UTC\"\n[columns]\n{columns}"
    );
    let profile = Profile::from_toml(&text, "t").unwrap();
    let header = "../../L11[@02=2I]/@01 | ../../B10/@01";
    let without = X12_214
        .replace("L11*TRK00012345*2I~\n", "")
        .replace("SE*11*", "SE*10*");
    for (file, expected) in [(X12_214.to_owned(), "TRK00012345"), (without, "PRO5521")] {
        let (records, end) = read_all(&profile, file.as_bytes()).await;
        assert!(end.is_none(), "{end:?}");
        assert_eq!(records.len(), 2);
        for (fields, _) in &records {
            assert_eq!(fields[0], (header.to_owned(), expected.to_owned()));
        }
    }
    let bad = text.replace("\"../../B10/@01\"", "3");
    let err = crate::report(&Profile::from_toml(&bad, "t").unwrap_err());
    assert!(err.contains("or an array of them"), "{err}");
}

/// AT7-07 places AT7-05/06: a fixed offset, a zone's civil time by the date, or (LT, none, an
/// unknown code) local time only, never passed off as UTC.
#[tokio::test]
async fn x12_time_codes_place_event_times() {
    let mut file = String::from(X12_214.split("LX*1~").next().unwrap());
    let scans = [
        ("CT", "20260710", "1420"),
        ("CT", "20261210", "1420"),
        ("ES", "20260710", "0912"),
        ("NT", "20261210", "0800"),
        ("LT", "20260710", "0600"),
        ("", "20260710", "0600"),
        ("ZZ", "20260710", "0600"),
    ];
    file.push_str("LX*1~\n");
    for (code, date, time) in scans {
        file.push_str(&format!("AT7*X1*NS***{date}*{time}*{code}~\n"));
    }
    let segments = 6 + scans.len();
    file.push_str(&format!(
        "SE*{segments}*0001~\nGE*1*101~\nIEA*1*000000101~\n"
    ));
    let text = "name = \"t\"\ncarrier_name = \"T\"\nformat = \"x12\"\nrecord = \"ISA/GS/ST/LX/AT7\"\n\
         [datetime]\ndate_format = \"%Y%m%d\"\ntime_format = \"%H%M\"\nutc_offset_codes = \"x12\"\n\
         [columns]\ntracking_number = \"../../L11[@02=2I]/@01\"\ncarrier_status_code = \"@01\"\n\
         event_date = \"@05\"\nevent_time = \"@06\"\nutc_offset = \"@07\"";
    let profile = Profile::from_toml(text, "t").unwrap();
    let mut reader = RecordReader::new(file.as_bytes(), &profile);
    let mapper = crate::Mapper::new(&profile, &reader.headers().await.unwrap()).unwrap();
    let mut record = Record::default();
    let mut times = Vec::new();
    while reader.read(&mut record).await.unwrap() {
        let event = mapper.map(&record).unwrap();
        let scan = &event
            .tracking_info
            .as_ref()
            .unwrap()
            .events
            .as_ref()
            .unwrap()[0];
        let warned = event
            .warning_messages
            .iter()
            .flatten()
            .filter(|w| w.contains("is not an X12 time code"))
            .count();
        times.push((
            scan.event_datetime.as_deref().map(str::to_owned),
            scan.event_datetime_local.as_deref().unwrap().to_owned(),
            warned,
        ));
    }
    let t =
        |utc: Option<&str>, local: &str, warned| (utc.map(str::to_owned), local.to_owned(), warned);
    assert_eq!(
        times,
        [
            t(Some("2026-07-10T19:20:00Z"), "2026-07-10T14:20:00", 0),
            t(Some("2026-12-10T20:20:00Z"), "2026-12-10T14:20:00", 0),
            t(Some("2026-07-10T14:12:00Z"), "2026-07-10T09:12:00", 0),
            t(Some("2026-12-10T11:30:00Z"), "2026-12-10T08:00:00", 0),
            t(None, "2026-07-10T06:00:00", 0),
            t(None, "2026-07-10T06:00:00", 0),
            t(None, "2026-07-10T06:00:00", 1),
        ]
    );
}

/// `record = "…/AT7[@01]"`: an AT7 that carries only an appointment (AT7-03) is neither an
/// event nor a reject; the records around it are numbered without it.
#[tokio::test]
async fn a_record_condition_skips_nodes_that_do_not_meet_it() {
    let file = X12_214
        .replace("AT7*D1*NS***", "AT7***AA**20250314*0800*ET~\nAT7*D1*NS***")
        .replace("SE*11*", "SE*12*");
    let text = "name = \"t\"\ncarrier_name = \"T\"\nformat = \"x12\"\nrecord = \"ISA/GS/ST/LX/AT7[@01]\"\n\
         [datetime]\ndate_format = \"%Y%m%d\"\ntimezone = \"UTC\"\n[columns]\n\
         tracking_number = \"@01\"\ncarrier_status_code = \"@01\"\nevent_date = \"@05\"\ncity = \"MS1/@01\"";
    let profile = Profile::from_toml(text, "t").unwrap();
    let (records, end) = read_all(&profile, file.as_bytes()).await;
    assert!(end.is_none(), "{end:?}");
    let seen: Vec<(String, u64)> = records
        .iter()
        .map(|(fields, p)| (fields[0].1.clone(), p.0))
        .collect();
    assert_eq!(seen, [("X1".to_owned(), 1), ("D1".to_owned(), 2)]);
    // The appointment's segments are not the next record's: D1 keeps its own MS1.
    assert_eq!(records[1].0.last().unwrap().1, "BOSTON");
}

/// Nodes kept between the hold and the record count against the limit like records do, so a
/// hold of a million empty loops is rejected, not kept; a large value's buffer is not kept for
/// the next hold.
#[test]
fn every_kept_node_counts_and_large_buffers_are_released() {
    use super::Assembler;
    let columns = "tracking_number = \"C\"\ncarrier_status_code = \"C\"\nevent_datetime = \"C\"\nsigner = \"../../@x\"";
    let profile = profile("xml", "F/S/L/E", columns, "");
    let mut a = Assembler::new(&profile);
    let mut none = |_: &str| None;
    let at = crate::error::Position::default();
    for name in ["", "F", "S"] {
        a.open(name, &mut none, at);
    }
    for _ in 0..200_000 {
        a.open("L", &mut none, at);
        a.close();
    }
    assert!(a.instances.len() < 200_000, "{} kept", a.instances.len());
    a.open("L", &mut none, at);
    a.open("E", &mut none, at);
    a.close();
    a.close();
    a.close();
    let mut record = Record::default();
    assert!(a.pop_ready(&mut record));
    assert!(record.malformed.as_deref().unwrap().contains("larger than"));

    // A hold with a 1 MiB value, then another: the slot's buffer is not the 1 MiB one.
    let columns = "tracking_number = \"C\"\ncarrier_status_code = \"C\"\nevent_datetime = \"C\"\nsigner = \"../N\"";
    let profile = super::tests::profile("xml", "F/S/E", columns, "");
    let mut a = Assembler::new(&profile);
    for name in ["", "F"] {
        a.open(name, &mut none, at);
    }
    for big in [true, false] {
        a.open("S", &mut none, at);
        a.open("N", &mut none, at);
        a.text(if big { "x" } else { "y" }, false);
        if big {
            a.text(&"x".repeat(1024 * 1024), false);
        }
        a.close();
        a.open("E", &mut none, at);
        a.close();
        a.close();
        assert!(a.pop_ready(&mut record));
    }
    let capacity: usize = a
        .instances
        .iter()
        .flat_map(|v| &v.slots)
        .map(|s| s.text.capacity())
        .sum();
    assert!(capacity < 1024 * 1024, "{capacity} bytes kept");
}

#[tokio::test]
async fn one_xml_event_past_the_limit_fails_the_file_and_xmlns_is_no_attribute() {
    let columns = "tracking_number = \"@tf\"\ncarrier_status_code = \"C\"\nevent_datetime = \"C\"";
    let profile = profile("xml", "F/E", columns, "");
    let xml = r#"<F xmlns:tf="urn:x"><E xmlns:tf="urn:y"><C>1</C></E></F>"#;
    let (records, end) = read_all(&profile, xml.as_bytes()).await;
    assert!(end.is_none(), "{end:?}");
    assert_eq!(records[0].0, pairs(&[("C", "1")]), "xmlns:tf is not @tf");

    let big = format!(
        "<F><E><C>1</C></E><E><C>{}</C></E></F>",
        "x".repeat(crate::reader::MAX_RECORD_BYTES as usize + 2 * 1024 * 1024)
    );
    let (records, end) = read_all(&profile, big.as_bytes()).await;
    assert_eq!(records.len(), 1);
    let err = end.unwrap().to_string();
    assert!(
        err.contains("one text, tag or comment is longer than 16777216 bytes"),
        "{err}"
    );
}

#[tokio::test]
async fn a_json_byte_order_mark_counts_in_positions() {
    let json = "\u{feff}[{\"n\": \"A\", \"c\": \"X\"}]";
    let columns = "tracking_number = \"n\"\ncarrier_status_code = \"c\"\nevent_datetime = \"c\"";
    let profile = profile("json", ".", columns, "");
    let (records, end) = read_all(&profile, json.as_bytes()).await;
    assert!(end.is_none());
    assert_eq!(records[0].1, (1, 1, json.find('{').unwrap() as u64));
}

/// A message closed by the next one without its SE is rejected; a bad trailer rejects its own
/// message's records only, even when the records are held for the whole group.
#[tokio::test]
async fn edi_trailers_vouch_for_their_own_message_only() {
    let profile = at7_profile("carrier_name = \"../../../@02\"");
    let head = X12_214.split("ST*214").next().unwrap();
    let message = |n: u32, count: u32, trailer: bool| {
        let mut m = format!("ST*214*{n:04}~\nLX*1~\nAT7*X{n}*NS***20250313*1420*CT~\n");
        if trailer {
            m.push_str(&format!("SE*{count}*{n:04}~\n"));
        }
        m
    };
    let file = format!(
        "{head}{}{}{}{}GE*4*101~\nIEA*1*000000101~\n",
        message(1, 4, true),
        message(2, 9, true),
        message(3, 4, false),
        message(4, 4, true)
    );
    let (records, end) = read_all(&profile, file.as_bytes()).await;
    assert!(end.is_none(), "{end:?}");
    let outcome: Vec<(String, String)> = records
        .into_iter()
        .map(|(fields, _)| fields[0].clone())
        .collect();
    assert_eq!(
        outcome,
        [
            ("@01".to_owned(), "X1".to_owned()),
            (
                "malformed".to_owned(),
                "SE-01 says 9 segments, the message has 4: its records are not read".to_owned()
            ),
            (
                "malformed".to_owned(),
                "the message ends without its SE trailer: its records are not read".to_owned()
            ),
            ("@01".to_owned(), "X4".to_owned()),
        ]
    );
}

/// An envelope trailer (GE, IEA, UNE, UNZ) that miscounts or names another reference fails the
/// file at its end, with the trailer's line and byte: every message was vouched for by its own
/// trailer and is read, including those of envelopes after it.
#[tokio::test]
async fn x12_envelope_trailers_must_count_what_they_hold() {
    let x12 = at7_profile("");
    let twice = format!("{X12_214}{X12_214}");
    let (records, end) = read_all(&x12, twice.as_bytes()).await;
    assert_eq!((records.len(), end.is_none()), (4, true), "{end:?}");
    // (what is replaced in the first interchange, by what, the segment reported, the reason)
    for (from, to, at, reason) in [
        (
            "GE*1*101~",
            "GE*2*101~",
            "GE*2",
            "GE-01 says 2 transaction sets, the functional group has 1",
        ),
        (
            "GE*1*101~",
            "GE*1*102~",
            "GE*1*102",
            "GE-02 does not repeat the functional group's control reference \"101\"",
        ),
        (
            "IEA*1*000000101~",
            "IEA*3*000000101~",
            "IEA*3",
            "IEA-01 says 3 functional groups, the interchange has 1",
        ),
        (
            "GE*1*101~\n",
            "",
            "IEA*",
            "IEA closes the interchange while its functional group has no GE trailer",
        ),
        (
            "IEA*1*000000101~\n",
            "",
            "ISA*",
            "ISA opens while the interchange before it has no IEA trailer",
        ),
        (
            "GE*1*101~\nIEA*1*000000101~\n",
            "",
            "ISA*",
            "ISA opens while the interchange before it has no IEA trailer",
        ),
    ] {
        // The first interchange is broken; the second is still read.
        let file = twice.replacen(from, to, 1);
        let (records, end) = read_all(&x12, file.as_bytes()).await;
        assert_eq!(records.len(), 4, "{reason}");
        assert!(records.iter().all(|(fields, _)| fields[0].0 == "@01"));
        // The reported segment is the first after the replacement.
        let replaced = twice.find(from).unwrap();
        let byte = replaced + file[replaced..].find(at).unwrap();
        let line = file[..byte].matches('\n').count() + 1;
        assert_eq!(
            end.map(|e| e.to_string()),
            Some(format!(
                "the file is not well-formed X12 at line {line}, byte {byte}: {reason}"
            ))
        );
    }
}

/// UNZ counts an interchange's groups when it has UNGs, else its messages; UNE a group's
/// messages; each repeats its header's reference.
#[tokio::test]
async fn edifact_envelope_trailers_count_groups_or_messages() {
    let edifact = "name = \"t\"\ncarrier_name = \"T\"\nformat = \"edifact\"\nrecord = \"UNB/UNH/CNI/STS\"\n\
         [datetime]\ndate_format = \"%Y%m%d\"\ntimezone = \"UTC\"\n[columns]\n\
         tracking_number = \"../@02\"\ncarrier_status_code = \"@02.1\"\nevent_date = \"DTM/@01.2\"";
    let edifact = Profile::from_toml(edifact, "t").unwrap();
    let message = |reference: &str| {
        format!(
            "UNH+{reference}+IFTSTA:D:01B:UN'\nCNI+1+REF1'\nSTS+1+21'\nDTM+334:20250314:102'\nUNT+5+{reference}'\n"
        )
    };
    let interchange = |body: &str, trailer: &str| {
        format!("UNB+UNOC:3+CARRIERX:ZZ+SHIPPERY:ZZ+250314:0930+IC1'\n{body}{trailer}\n")
    };
    let two = format!("{}{}", message("M1"), message("M2"));
    let grouped =
        format!("UNG+IFTSTA+CARRIERX+SHIPPERY+250314:0930+G1+UN+D:01B'\n{two}UNE+2+G1'\n");
    for (file, reason) in [
        (interchange(&two, "UNZ+2+IC1'"), None),
        (interchange(&grouped, "UNZ+1+IC1'"), None),
        (
            interchange(&two, "UNZ+1+IC1'"),
            Some("UNZ-01 says 1 messages, the interchange has 2"),
        ),
        (
            interchange(&grouped, "UNZ+2+IC1'"),
            Some("UNZ-01 says 2 groups, the interchange has 1"),
        ),
        (
            interchange(&grouped.replace("UNE+2+G1", "UNE+2+G9"), "UNZ+1+IC1'"),
            Some("UNE-02 does not repeat the group's control reference \"G1\""),
        ),
    ] {
        let (records, end) = read_all(&edifact, file.as_bytes()).await;
        assert_eq!(records.len(), 2, "{file}");
        let end = end.map(|e| e.to_string());
        match reason {
            None => assert_eq!(end, None, "{file}"),
            Some(reason) => assert!(
                end.as_deref().is_some_and(|e| e.ends_with(reason)),
                "{end:?}"
            ),
        }
    }
}

/// `event_datetime_format` reads from the DTM `event_datetime` came from: a status DTM without
/// its format qualifier gives no code (and the record is rejected for it), never the message
/// DTM's qualifier for the status DTM's value.
#[tokio::test]
async fn a_format_code_comes_from_the_dtm_its_value_came_from() {
    let profile = Profile::builtin("edifact-iftsta").unwrap();
    let file = |status_dtm: &str| {
        let segments = 5 + usize::from(!status_dtm.is_empty());
        format!(
            "UNB+UNOC:3+CARRIERX:ZZ+SHIPPERY:ZZ+250314:0930+IC1'\nUNH+M1+IFTSTA:D:01B:UN'\n\
             DTM+137:202503140930:203'\nCNI+1+REF1'\nSTS+1+21'\n{status_dtm}UNT+{segments}+M1'\nUNZ+1+IC1'\n"
        )
    };
    let value_and_code = |records: &[Read]| {
        let get = |name: &str| {
            records[0]
                .0
                .iter()
                .find(|(h, _)| h.starts_with(name))
                .map(|(_, v)| v.clone())
        };
        (get("DTM[@01.1=334]/@01.2"), get("DTM[@01.1=334]/@01.3"))
    };
    let (records, end) = read_all(&profile, file("DTM+334:20250314:102'\n").as_bytes()).await;
    assert!(end.is_none(), "{end:?}");
    assert_eq!(
        value_and_code(&records),
        (Some("20250314".into()), Some("102".into()))
    );
    // No qualifier on the status DTM: its value, and no code (not DTM+137's 203).
    let (records, _) = read_all(&profile, file("DTM+334:20250314'\n").as_bytes()).await;
    assert_eq!(value_and_code(&records), (Some("20250314".into()), None));
    // No status DTM: the message DTM's value and code together.
    let (records, _) = read_all(&profile, file("").as_bytes()).await;
    assert_eq!(
        value_and_code(&records),
        (Some("202503140930".into()), Some("203".into()))
    );
}
