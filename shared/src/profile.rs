//! Carrier profiles: how one carrier's bulk file maps onto Connect fields, written in TOML so a
//! new carrier needs a profile, not code.
//!
//! A profile is validated completely when it loads (unknown fields, codes, zones and formats are
//! errors naming the file and the key), so that a bad profile fails before a single record is
//! read. Built-in profiles and profiles loaded from a URI go through the same [`Profile::from_toml`].

mod record_types;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono_tz::Tz;
use serde::Deserialize;

pub use self::record_types::{RecordType, RecordTypes, Role};
use crate::error::ProfileError;
use crate::models::{StandardizedStatusCode, StandardizedStatusDetailCode, UpdateMethod};
use crate::path::{ALTERNATIVES, Condition, NodePath, PathError, RecordPath};

/// Profiles compiled into the binaries, by name.
const BUILTIN: &[(&str, &str)] = &[
    ("reference", include_str!("../../profiles/reference.toml")),
    ("dhl", include_str!("../../profiles/dhl.toml")),
    (
        "reference-jsonl",
        include_str!("../../profiles/reference-jsonl.toml"),
    ),
    ("ups", include_str!("../../profiles/ups.toml")),
    ("fedex", include_str!("../../profiles/fedex.toml")),
    ("x12-214", include_str!("../../profiles/x12-214.toml")),
    (
        "edifact-iftsta",
        include_str!("../../profiles/edifact-iftsta.toml"),
    ),
];

/// The Connect-side fields a column can feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    TrackingNumber,
    CarrierStatusCode,
    CarrierDetailCode,
    CarrierStatusDescription,
    EventDate,
    EventTime,
    EventDateTime,
    /// The code naming `event_datetime`'s format, when `datetime_format` is a table by code.
    EventDateTimeFormat,
    UtcOffset,
    City,
    State,
    PostalCode,
    Country,
    Company,
    Signer,
    Latitude,
    Longitude,
    EstimatedDelivery,
    ServiceCode,
    ServiceName,
    Weight,
    ShippedDatetime,
    ActualDeliveryDatetime,
    ProofOfDeliveryUrl,
    ShippingProblem,
    ShippingProblemCode,
    ShippingProblemDescription,
    Packaging,
    PackageCount,
    Length,
    Width,
    Height,
    /// Replaces the carrier status code as the scan event's `event_code`.
    EventCode,
    /// The row's carrier, for files that mix carriers; the profile's `carrier_name` otherwise.
    CarrierName,
}

impl Field {
    pub const ALL: [Field; 34] = [
        Field::TrackingNumber,
        Field::CarrierStatusCode,
        Field::CarrierDetailCode,
        Field::CarrierStatusDescription,
        Field::EventDate,
        Field::EventTime,
        Field::EventDateTime,
        Field::EventDateTimeFormat,
        Field::UtcOffset,
        Field::City,
        Field::State,
        Field::PostalCode,
        Field::Country,
        Field::Company,
        Field::Signer,
        Field::Latitude,
        Field::Longitude,
        Field::EstimatedDelivery,
        Field::ServiceCode,
        Field::ServiceName,
        Field::Weight,
        Field::ShippedDatetime,
        Field::ActualDeliveryDatetime,
        Field::ProofOfDeliveryUrl,
        Field::ShippingProblem,
        Field::ShippingProblemCode,
        Field::ShippingProblemDescription,
        Field::Packaging,
        Field::PackageCount,
        Field::Length,
        Field::Width,
        Field::Height,
        Field::EventCode,
        Field::CarrierName,
    ];

    /// The key used in a profile's `[columns]`.
    pub fn key(self) -> &'static str {
        match self {
            Field::TrackingNumber => "tracking_number",
            Field::CarrierStatusCode => "carrier_status_code",
            Field::CarrierDetailCode => "carrier_detail_code",
            Field::CarrierStatusDescription => "carrier_status_description",
            Field::EventDate => "event_date",
            Field::EventTime => "event_time",
            Field::EventDateTime => "event_datetime",
            Field::EventDateTimeFormat => "event_datetime_format",
            Field::UtcOffset => "utc_offset",
            Field::City => "city",
            Field::State => "state",
            Field::PostalCode => "postal_code",
            Field::Country => "country",
            Field::Company => "company",
            Field::Signer => "signer",
            Field::Latitude => "latitude",
            Field::Longitude => "longitude",
            Field::EstimatedDelivery => "estimated_delivery",
            Field::ServiceCode => "service_code",
            Field::ServiceName => "service_name",
            Field::Weight => "weight",
            Field::ShippedDatetime => "shipped_datetime",
            Field::ActualDeliveryDatetime => "actual_delivery_datetime",
            Field::ProofOfDeliveryUrl => "proof_of_delivery_url",
            Field::ShippingProblem => "shipping_problem",
            Field::ShippingProblemCode => "shipping_problem_code",
            Field::ShippingProblemDescription => "shipping_problem_description",
            Field::Packaging => "packaging",
            Field::PackageCount => "package_count",
            Field::Length => "length",
            Field::Width => "width",
            Field::Height => "height",
            Field::EventCode => "event_code",
            Field::CarrierName => "carrier_name",
        }
    }

    fn from_key(key: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.key() == key)
    }

    /// Position in [`Field::ALL`], used to index per-field tables.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The file formats a profile can describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Delimited text, with a header line unless `has_headers = false`.
    Csv,
    /// JSON Lines: one object per line; `[columns]` name its keys.
    Jsonl,
    /// Fixed-width lines; `[columns]` give each field's character span.
    Fixed,
    /// An XML document: `record` is the element of one event, `[columns]` are paths from it.
    Xml,
    /// A whole JSON document (not one object per line): `record` and `[columns]` are paths of
    /// object keys, arrays transparent.
    Json,
    /// An X12 interchange: segments are nodes (ISA > GS > ST > loops), elements their
    /// attributes (`@01`, `@02.1` for a component).
    X12,
    /// An EDIFACT interchange, read like X12 (UNB > UNH > groups).
    Edifact,
    /// No file: a carrier HTTP API (Track). Only `name`, `carrier_name` and the status map
    /// apply; `[columns]` must be empty.
    Api,
}

impl Format {
    /// The name a profile's `format` key uses.
    pub fn key(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Fixed => "fixed",
            Format::Xml => "xml",
            Format::Json => "json",
            Format::X12 => "x12",
            Format::Edifact => "edifact",
            Format::Api => "api",
        }
    }

    /// A document read through `record` and column paths, not line by line.
    pub fn is_document(self) -> bool {
        matches!(
            self,
            Format::Xml | Format::Json | Format::X12 | Format::Edifact
        )
    }

    /// A document whose root is below a nameless document node (XML's root element, EDI's
    /// interchanges), so `record` paths start with the root's name.
    pub fn has_document_node(self) -> bool {
        matches!(self, Format::Xml | Format::X12 | Format::Edifact)
    }
}

/// Where a field's value sits in a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Column {
    /// A header name (CSV with a header line) or an object key (JSON Lines).
    Name(String),
    /// A 1-based position in a delimited record without a header line.
    Position(usize),
    /// 1-based first character and length in characters, in a fixed-width record.
    Span { start: usize, len: usize },
}

impl std::fmt::Display for Column {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Column::Name(name) => f.write_str(name),
            Column::Position(n) => write!(f, "#{n}"),
            Column::Span { start, len } => write!(f, "characters {start}-{}", start + len - 1),
        }
    }
}

/// Characters `start..start + len` (1-based) of a value; a shorter value keeps what it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub start: usize,
    pub len: usize,
}

impl Part {
    /// The part of `text`.
    pub fn of(self, text: &str) -> &str {
        let mut bounds = text
            .char_indices()
            .map(|(at, _)| at)
            .chain(std::iter::once(text.len()))
            .skip(self.start - 1);
        let Some(from) = bounds.next() else {
            return "";
        };
        let to = bounds.nth(self.len - 1).unwrap_or(text.len());
        &text[from..to]
    }
}

/// The character encoding of a carrier file. Records always come out as UTF-8.
///
/// Every supported encoding is ASCII-compatible, so delimiters, quotes and line ends are found
/// on the file's own bytes and only field text is decoded: positions stay offsets in the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TextEncoding {
    #[default]
    Utf8,
    Windows1252,
    /// Read as windows-1252, its superset, as the WHATWG Encoding Standard (and every browser)
    /// does: files labelled ISO-8859-1 routinely hold windows-1252's `€`, `œ` or curly quotes in
    /// 0x80–0x9F, where strict ISO-8859-1 has only invisible control codes.
    Iso8859_1,
}

impl TextEncoding {
    fn parse(label: &str) -> Option<TextEncoding> {
        match label.to_ascii_lowercase().as_str() {
            "utf-8" | "utf8" => Some(TextEncoding::Utf8),
            "windows-1252" | "cp1252" => Some(TextEncoding::Windows1252),
            "iso-8859-1" | "latin1" => Some(TextEncoding::Iso8859_1),
            _ => None,
        }
    }

    /// The name a profile's `encoding` key uses.
    pub fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Windows1252 => "windows-1252",
            TextEncoding::Iso8859_1 => "iso-8859-1",
        }
    }

    /// The decoder to run over field text, or `None` for UTF-8, which is read as it is (no
    /// decoding pass on the common path).
    pub fn decoder(self) -> Option<&'static encoding_rs::Encoding> {
        match self {
            TextEncoding::Utf8 => None,
            TextEncoding::Windows1252 | TextEncoding::Iso8859_1 => Some(encoding_rs::WINDOWS_1252),
        }
    }
}

/// Where the zone of a local event time comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Zone {
    /// The file has a `utc_offset` column.
    OffsetColumn,
    /// The file has no zone; its times are local to this IANA zone (or UTC).
    Named(Tz),
    /// `datetime_format` reads an offset (`%z`, `%:z`, ...) from the value itself.
    InValue,
    /// `timezone = "local"`: times are local to the event, its zone unknown; they are sent as
    /// `event_datetime_local` only, never passed off as UTC.
    Local,
    /// The `utc_offset` column holds an X12 time code (AT7-07): `UT`, `ET`, `CS`, `LT`...
    /// (`utc_offset_codes = "x12"`); `LT`, no code or an unknown one leave the time local.
    X12Codes,
}

/// How dates and times are written in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct DateTimeSpec {
    pub date_format: String,
    pub time_format: String,
    /// The format of the `event_datetime` column, when date and time share one column.
    pub datetime_format: Option<String>,
    /// `datetime_format` as a table: the format for each code of the `event_datetime_format`
    /// column (EDIFACT's DTM format qualifier: `102`, `203`, `205`…).
    pub datetime_formats: BTreeMap<String, String>,
    pub zone: Zone,
}

/// A carrier code's standardized meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusPair {
    pub status: StandardizedStatusCode,
    pub detail: StandardizedStatusDetailCode,
}

impl StatusPair {
    /// Whether the status says the package was delivered (to its address or a service point).
    pub fn delivered(&self) -> bool {
        matches!(
            self.status,
            StandardizedStatusCode::Delivered | StandardizedStatusCode::DeliveredToServicePoint
        )
    }
}

/// A loaded, validated profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub carrier_name: String,
    pub format: Format,
    /// CSV field separator.
    pub delimiter: u8,
    /// CSV quote character; `None` when quoting is off (`quote = ""`).
    pub quote: Option<u8>,
    /// CSV: the first line names the columns. Fixed width: the first line is a title to skip.
    pub has_headers: bool,
    pub encoding: TextEncoding,
    /// Where each mapped field is found. For XML and JSON documents each is a
    /// [`Column::Name`] holding a [`NodePath`](crate::path::NodePath) as written.
    pub columns: BTreeMap<Field, Column>,
    /// The characters a field keeps of its column's value (`{ path = "LOC/@02.1", start = 1,
    /// len = 2 }`: the country that starts a UN/LOCODE).
    pub parts: BTreeMap<Field, Part>,
    /// XML and JSON documents: the names from the root down to one event's element or object
    /// (empty for `record = "."`, the root itself).
    pub record: Option<Vec<String>>,
    /// A condition the record's node must meet to be one (`record = "…/AT7[@01]"`); nodes that
    /// do not are skipped, neither events nor rejects.
    pub record_condition: Option<Condition>,
    pub datetime: DateTimeSpec,
    /// Carrier status code → standardized pair (codes of a `[[status_group]]` included, and a
    /// two-level entry's `"*"`, which stands for the code alone).
    pub status_map: BTreeMap<String, StatusPair>,
    /// Carrier status code → carrier detail code → pair, for carriers with two levels. Looked up
    /// first when a record has a detail code; `status_map` is the fallback.
    pub detail_map: BTreeMap<String, BTreeMap<String, StatusPair>>,
    /// Header/detail files: where a row says its type, and each type's role and columns.
    /// `columns` is then empty; [`Profile::record_columns`] is what records carry.
    pub record_types: Option<RecordTypes>,
    /// `append` (the default: events add to what Connect holds, and the key is left out of the
    /// JSON) or `replace` (snapshot files: every event says `"update_method":"replace"`).
    pub update_method: UpdateMethod,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileToml {
    name: String,
    carrier_name: String,
    #[serde(default = "default_format")]
    format: Format,
    delimiter: Option<String>,
    quote: Option<String>,
    has_headers: Option<bool>,
    encoding: Option<String>,
    /// XML and JSON documents: the path of one event's element or object.
    record: Option<String>,
    /// Header names, positions or spans, depending on the format: checked per key below, so an
    /// error names the key.
    #[serde(default)]
    columns: BTreeMap<String, toml::Value>,
    #[serde(default)]
    datetime: DateTimeToml,
    /// `CODE = [status, detail]`, or `CODE = { "<detail code>" = [status, detail], "*" = ... }`.
    #[serde(default)]
    status_map: BTreeMap<String, toml::Value>,
    #[serde(default)]
    status_group: Vec<StatusGroupToml>,
    update_method: Option<UpdateMethod>,
    /// The column holding a header/detail file's record type, and `[record_types.<type>]`.
    record_type: Option<toml::Value>,
    record_types: Option<BTreeMap<String, record_types::RecordTypeToml>>,
}

impl ProfileToml {
    /// The profile's keys, over those of the built-in profile it `extends`, if any.
    fn parse(text: &str, origin: &str, bases: &Bases) -> Result<ProfileToml, ProfileError> {
        let syntax = |err: toml::de::Error| ProfileError::Toml {
            origin: origin.to_owned(),
            source: crate::error::TomlSyntax::new(&err, text),
        };
        let table: toml::Table = toml::from_str(text).map_err(syntax)?;
        if !table.contains_key("extends") {
            // Parsed from the text, so a mistake's line and column are the file's.
            return toml::from_str(text).map_err(syntax);
        }
        let merged = extended(table, origin, bases, 0)?;
        ProfileToml::deserialize(toml::Value::Table(merged)).map_err(syntax)
    }
}

/// Profiles that others extend by URI (`extends = "s3://bucket/carrier-base.toml"`), by that
/// URI, as their loader read them.
pub type Bases = BTreeMap<String, String>;

/// `table` over the profile its `extends` names (built in, or one of `bases`; itself extending,
/// at most a few deep): tables merge key by key, anything else is replaced. A profile that names
/// its carrier drops the carrier column its base reads from the file.
fn extended(
    mut table: toml::Table,
    origin: &str,
    bases: &Bases,
    depth: usize,
) -> Result<toml::Table, ProfileError> {
    let Some(base) = table.remove("extends") else {
        return Ok(table);
    };
    let name = base.as_str().unwrap_or_default();
    let text = BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
        .or_else(|| bases.get(name).map(String::as_str))
        .filter(|_| depth < 4)
        .ok_or_else(|| ProfileError::BadExtends {
            origin: origin.to_owned(),
            // Named by the file: a password in a URI there is not repeated.
            extends: crate::error::without_userinfo(name),
            known: Profile::builtin_names().collect::<Vec<_>>().join(", "),
        })?;
    let base: toml::Table = toml::from_str(text).map_err(|err| ProfileError::Toml {
        origin: name.to_owned(),
        source: crate::error::TomlSyntax::new(&err, text),
    })?;
    let mut merged = extended(base, name, bases, depth + 1)?;
    let names_carrier = table.contains_key("carrier_name")
        && !table
            .get("columns")
            .and_then(toml::Value::as_table)
            .is_some_and(|c| c.contains_key("carrier_name"));
    if names_carrier && let Some(toml::Value::Table(columns)) = merged.get_mut("columns") {
        columns.remove("carrier_name");
    }
    merge(&mut merged, table);
    Ok(merged)
}

/// Merges `over` into `base`: tables key by key, other values replaced.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (key, value) in over {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(over)) => merge(inner, over),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DateTimeToml {
    date_format: Option<String>,
    time_format: Option<String>,
    datetime_format: Option<DateTimeFormatToml>,
    timezone: Option<String>,
    /// `"x12"`: the `utc_offset` column holds X12 time codes, not offsets.
    utc_offset_codes: Option<String>,
}

/// `datetime_format = "%d.%m.%Y %H:%M"`, or `datetime_format = { 102 = "%Y%m%d", … }` keyed
/// by the code the `event_datetime_format` column gives.
#[derive(Deserialize)]
#[serde(untagged)]
enum DateTimeFormatToml {
    One(String),
    ByCode(BTreeMap<String, String>),
}

/// Several carrier codes with one meaning.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusGroupToml {
    codes: Vec<String>,
    to: (String, String),
}

fn default_format() -> Format {
    Format::Csv
}

/// The detail-code key of a two-level status entry that stands for "any other detail code, or
/// none".
pub const ANY_DETAIL: &str = "*";

/// Fields every file profile must map: without them a record cannot become an event. The event
/// time is required too, as `event_date` (+ `event_time`) or `event_datetime`.
const REQUIRED: [Field; 2] = [Field::TrackingNumber, Field::CarrierStatusCode];

impl Profile {
    /// Names of the profiles built into this binary.
    pub fn builtin_names() -> impl Iterator<Item = &'static str> {
        BUILTIN.iter().map(|(name, _)| *name)
    }

    /// Loads a built-in profile by name.
    pub fn builtin(name: &str) -> Result<Profile, ProfileError> {
        let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name).ok_or_else(|| {
            ProfileError::UnknownProfile {
                name: name.to_owned(),
                known: Profile::builtin_names().collect::<Vec<_>>().join(", "),
            }
        })?;
        Profile::from_toml(text, name)
    }

    /// Parses and validates a profile. `origin` names it in errors (a built-in name or the URI
    /// it was loaded from).
    pub fn from_toml(text: &str, origin: &str) -> Result<Profile, ProfileError> {
        Profile::from_toml_over(text, origin, &Bases::new())
    }

    /// What a profile's text `extends`, if anything: a built-in name or a URI for the loader
    /// to fetch into the [`Bases`] of [`Profile::from_toml_over`].
    pub fn extends(text: &str, origin: &str) -> Result<Option<String>, ProfileError> {
        let table: toml::Table = toml::from_str(text).map_err(|err| ProfileError::Toml {
            origin: origin.to_owned(),
            source: crate::error::TomlSyntax::new(&err, text),
        })?;
        Ok(table
            .get("extends")
            .and_then(toml::Value::as_str)
            .map(str::to_owned))
    }

    /// [`Profile::from_toml`] for a profile whose `extends` (or its bases') names a profile
    /// loaded from a URI: `bases` holds those profiles' texts by the URI named.
    pub fn from_toml_over(
        text: &str,
        origin: &str,
        bases: &Bases,
    ) -> Result<Profile, ProfileError> {
        let raw = ProfileToml::parse(text, origin, bases)?;
        let profile = if raw.name == origin {
            format!("profile `{}`", raw.name)
        } else {
            format!("profile `{}` ({origin})", raw.name)
        };
        let profile = profile.as_str();
        let format = raw.format;
        let is_file = format != Format::Api;
        let dialect = Dialect::parse(profile, &raw)?;
        let (record, record_condition) = match record_path(profile, format, raw.record.as_deref())?
        {
            Some((steps, condition)) => (Some(steps), condition),
            None => (None, None),
        };
        let record_types = record_types::parse(
            record_types::Shape {
                profile,
                format,
                has_headers: dialect.has_headers,
            },
            raw.record_type,
            raw.record_types,
            !raw.columns.is_empty(),
        )?;
        let (columns, parts) = columns(
            profile,
            format,
            dialect.has_headers,
            record.as_deref(),
            raw.columns,
        )?;
        // A header/detail profile's fields are checked over its record types.
        if record_types.is_none() {
            check_required(profile, format, &columns)?;
        }

        let fields = record_types
            .as_ref()
            .map_or(Cow::Borrowed(&columns), |t| Cow::Owned(named(t)));
        let datetime = datetime(profile, is_file, &fields, raw.datetime)?;
        let (status_map, detail_map) = status_maps(profile, raw.status_map, raw.status_group)?;

        Ok(Profile {
            name: raw.name,
            carrier_name: raw.carrier_name,
            format,
            delimiter: dialect.delimiter,
            quote: dialect.quote,
            has_headers: dialect.has_headers,
            encoding: dialect.encoding,
            columns,
            parts,
            record,
            record_condition,
            datetime,
            status_map,
            detail_map,
            record_types,
            update_method: raw.update_method.unwrap_or_default(),
        })
    }

    /// Where the mapper finds each field in a record: the profile's `[columns]`, or for a
    /// header/detail profile every field its context and event types map, named by its key
    /// (the typed reader's records carry one field per such key).
    pub fn record_columns(&self) -> Cow<'_, BTreeMap<Field, Column>> {
        match &self.record_types {
            None => Cow::Borrowed(&self.columns),
            Some(types) => Cow::Owned(named(types)),
        }
    }
}

/// The fields of a typed profile's records, each named by its key.
fn named(types: &RecordTypes) -> BTreeMap<Field, Column> {
    types
        .fields()
        .into_iter()
        .map(|field| (field, Column::Name(field.key().to_owned())))
        .collect()
}

fn not_for(profile: &str, key: &'static str, format: Format) -> ProfileError {
    ProfileError::NotForFormat {
        profile: profile.to_owned(),
        key,
        format: format.key(),
    }
}

/// How a file's text is laid out: the keys that only some formats take, checked against the
/// format.
struct Dialect {
    delimiter: u8,
    quote: Option<u8>,
    has_headers: bool,
    encoding: TextEncoding,
}

impl Dialect {
    fn parse(profile: &str, raw: &ProfileToml) -> Result<Dialect, ProfileError> {
        let format = raw.format;
        let is_file = format != Format::Api;
        for (key, given) in [
            ("delimiter", raw.delimiter.is_some()),
            ("quote", raw.quote.is_some()),
        ] {
            if given && format != Format::Csv {
                return Err(not_for(profile, key, format));
            }
        }
        if raw.has_headers.is_some() && !matches!(format, Format::Csv | Format::Fixed) {
            return Err(not_for(profile, "has_headers", format));
        }
        if raw.encoding.is_some() && !is_file {
            return Err(not_for(profile, "encoding", format));
        }
        if raw.update_method.is_some() && !is_file {
            return Err(not_for(profile, "update_method", format));
        }
        let delimiter = match raw.delimiter.as_deref() {
            None => b',',
            Some(d) => parse_delimiter(d).ok_or_else(|| ProfileError::BadDelimiter {
                profile: profile.to_owned(),
                delimiter: d.to_owned(),
            })?,
        };
        let encoding = match raw.encoding.as_deref() {
            None => TextEncoding::Utf8,
            Some(e) => TextEncoding::parse(e).ok_or_else(|| ProfileError::UnknownEncoding {
                profile: profile.to_owned(),
                encoding: e.to_owned(),
            })?,
        };
        if format == Format::Json && encoding != TextEncoding::Utf8 {
            // RFC 8259: JSON exchanged between systems is UTF-8.
            return Err(not_for(profile, "encoding", format));
        }
        Ok(Dialect {
            delimiter,
            quote: parse_quote(profile, raw.quote.as_deref(), delimiter)?,
            has_headers: raw.has_headers.unwrap_or(format == Format::Csv),
            encoding,
        })
    }
}

/// `quote`: one byte other than the delimiter and line ends, `""` for none; `"` by default.
fn parse_quote(
    profile: &str,
    quote: Option<&str>,
    delimiter: u8,
) -> Result<Option<u8>, ProfileError> {
    match quote {
        None => Ok(Some(b'"')),
        Some("") => Ok(None),
        Some(q) => match q.as_bytes() {
            [b] if *b != delimiter && *b != b'\n' && *b != b'\r' => Ok(Some(*b)),
            _ => Err(ProfileError::BadQuote {
                profile: profile.to_owned(),
                quote: q.to_owned(),
            }),
        },
    }
}

/// The columns a profile maps, and the parts of values some fields keep.
type Columns = (BTreeMap<Field, Column>, BTreeMap<Field, Part>);

/// `[columns]`: each key a Connect field, each value in the shape its format needs (paths of a
/// document checked against its `record`).
fn columns(
    profile: &str,
    format: Format,
    has_headers: bool,
    record: Option<&[String]>,
    raw: BTreeMap<String, toml::Value>,
) -> Result<Columns, ProfileError> {
    let mut columns = BTreeMap::new();
    let mut parts = BTreeMap::new();
    for (key, value) in raw {
        let field = Field::from_key(&key).ok_or_else(|| ProfileError::UnknownField {
            profile: profile.to_owned(),
            field: key.clone(),
            known: Field::ALL.map(Field::key).join(", "),
        })?;
        let (value, part) = part(profile, format, field, value)?;
        let column = column(profile, format, has_headers, field, value)?;
        if let (Some(record), Column::Name(path)) = (record, &column) {
            check_path(profile, format, record, field, path)?;
        }
        columns.insert(field, column);
        if let Some(part) = part {
            parts.insert(field, part);
        }
    }
    Ok((columns, parts))
}

/// Splits `{ path = "LOC/@02.1", start = 1, len = 2 }` (`name = …` for a header name or an
/// object key) into the column and the part of its value to keep. A fixed-width span, also a
/// table, is left whole.
fn part(
    profile: &str,
    format: Format,
    field: Field,
    value: toml::Value,
) -> Result<(toml::Value, Option<Part>), ProfileError> {
    let toml::Value::Table(mut table) = value else {
        return Ok((value, None));
    };
    if format == Format::Fixed {
        return Ok((toml::Value::Table(table), None));
    }
    let bad = |reason: String| ProfileError::BadColumn {
        profile: profile.to_owned(),
        field: field.key(),
        reason,
    };
    let key = if format.is_document() { "path" } else { "name" };
    let whole = table.remove(key).ok_or_else(|| {
        bad(format!(
            "a part of a value is {{ {key} = …, start = 1, len = 2 }}: `{key}` is missing"
        ))
    })?;
    let mut number = |name: &str| {
        table
            .remove(name)
            .as_ref()
            .and_then(from_one)
            .ok_or_else(|| bad(format!("`{name}` must be a whole number from 1")))
    };
    let part = Part {
        start: number("start")?,
        len: number("len")?,
    };
    if let Some(other) = table.keys().next() {
        return Err(bad(format!(
            "unknown key `{other}`; a part of a value has {key}, start and len"
        )));
    }
    Ok((whole, Some(part)))
}

/// What `[columns]` must map for a file (the required fields), and may not for an API.
fn check_required(
    profile: &str,
    format: Format,
    columns: &BTreeMap<Field, Column>,
) -> Result<(), ProfileError> {
    if format == Format::Api {
        if columns.is_empty() {
            return Ok(());
        }
        return Err(ProfileError::ColumnsForApi {
            profile: profile.to_owned(),
        });
    }
    match REQUIRED.into_iter().find(|f| !columns.contains_key(f)) {
        Some(field) => Err(ProfileError::MissingField {
            profile: profile.to_owned(),
            field: field.key(),
        }),
        None => Ok(()),
    }
}

/// `record`: required by XML and JSON documents, meaningless for line formats.
fn record_path(
    profile: &str,
    format: Format,
    record: Option<&str>,
) -> Result<Option<RecordPath>, ProfileError> {
    let document = format.is_document();
    match record {
        None if document => Err(ProfileError::NoRecordPath {
            profile: profile.to_owned(),
            format: format.key(),
        }),
        None => Ok(None),
        Some(_) if !document => Err(not_for(profile, "record", format)),
        Some(text) => {
            NodePath::parse_record(text)
                .map(Some)
                .map_err(|reason| ProfileError::BadPath {
                    profile: profile.to_owned(),
                    key: "record".into(),
                    path: text.to_owned(),
                    reason,
                })
        }
    }
}

/// How deep a document's records sit: an XML root element is one level below the document,
/// a JSON root value is the document itself.
pub fn record_depth(format: Format, record: &[String]) -> usize {
    match format {
        _ if format.has_document_node() => record.len().max(1),
        _ => record.len(),
    }
}

/// A column path of an XML or JSON profile: well formed, not above the root, attributes only
/// in XML.
fn check_path(
    profile: &str,
    format: Format,
    record: &[String],
    field: Field,
    text: &str,
) -> Result<(), ProfileError> {
    for text in text.split(ALTERNATIVES) {
        let bad = |reason| ProfileError::BadPath {
            profile: profile.to_owned(),
            key: format!("[columns] {}", field.key()),
            path: text.to_owned(),
            reason,
        };
        let path = NodePath::parse(text).map_err(bad)?;
        // A document node holds no values: `..` may reach the root element, not above it.
        let top = usize::from(format.has_document_node());
        if path.up + top > record_depth(format, record) {
            return Err(bad(PathError::AboveRoot));
        }
        if let (Format::Json, Some(attribute)) = (format, &path.attribute) {
            return Err(bad(PathError::Attribute(format!("@{attribute}"))));
        }
    }
    Ok(())
}

/// A single byte, or `tab` / `\t` spelled out (a TOML basic string's `"\t"` is already a tab).
fn parse_delimiter(text: &str) -> Option<u8> {
    match text {
        "tab" | "\\t" => Some(b'\t'),
        _ => match text.as_bytes() {
            [b'\n' | b'\r'] => None,
            [b] => Some(*b),
            _ => None,
        },
    }
}

/// A whole number from 1 (a 1-based character or a length in characters), if `value` is one.
fn from_one(value: &toml::Value) -> Option<usize> {
    value
        .as_integer()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n >= 1)
}

/// One `[columns]` value, in the shape its format needs.
fn column(
    profile: &str,
    format: Format,
    has_headers: bool,
    field: Field,
    value: toml::Value,
) -> Result<Column, ProfileError> {
    use toml::Value;
    let bad = |reason: String| ProfileError::BadColumn {
        profile: profile.to_owned(),
        field: field.key(),
        reason,
    };
    let got = value.type_str();
    match (format, has_headers, value) {
        (Format::Fixed, _, Value::Table(table)) => {
            let mut start = None;
            let mut len = None;
            for (key, v) in table {
                let slot = match key.as_str() {
                    "start" => &mut start,
                    "len" => &mut len,
                    _ => {
                        return Err(bad(format!(
                            "unknown key `{key}`; a span has start and len"
                        )));
                    }
                };
                *slot = Some(
                    from_one(&v)
                        .ok_or_else(|| bad(format!("`{key}` must be a whole number from 1")))?,
                );
            }
            match (start, len) {
                (Some(start), Some(len)) => Ok(Column::Span { start, len }),
                _ => Err(bad(
                    "a span needs both start and len: { start = 1, len = 10 }".into(),
                )),
            }
        }
        (Format::Fixed, ..) => Err(bad(format!(
            "expected a character span {{ start = N, len = M }} (1-based), got a {got}"
        ))),
        (Format::Csv, false, Value::Integer(n)) => usize::try_from(n)
            .ok()
            .filter(|n| *n >= 1)
            .map(Column::Position)
            .ok_or_else(|| bad(format!("position {n}: positions count from 1"))),
        (Format::Csv, false, _) => Err(bad(format!(
            "with has_headers = false, give the column's 1-based position (e.g. 3), not a {got}"
        ))),
        (Format::Csv | Format::Jsonl, _, Value::String(name)) => Ok(Column::Name(name)),
        (Format::Xml | Format::Json | Format::X12 | Format::Edifact, _, Value::String(path)) => {
            Ok(Column::Name(path))
        }
        // Alternatives: the first path that has a value.
        (Format::Xml | Format::Json | Format::X12 | Format::Edifact, _, Value::Array(paths))
            if !paths.is_empty() && paths.iter().all(Value::is_str) =>
        {
            let paths: Vec<&str> = paths.iter().filter_map(Value::as_str).collect();
            Ok(Column::Name(paths.join(ALTERNATIVES)))
        }
        (Format::Csv, true, Value::Integer(_)) => Err(bad(
            "a position needs has_headers = false; with a header line, give the header's name"
                .into(),
        )),
        (Format::Csv | Format::Api, ..) => Err(bad(format!("expected a header name, got a {got}"))),
        (Format::Jsonl, ..) => Err(bad(format!("expected an object key, got a {got}"))),
        (Format::Xml | Format::Json | Format::X12 | Format::Edifact, ..) => Err(bad(format!(
            "expected a path from the record (e.g. \"Where/City\" or \"../@id\") or an array of them, got a {got}"
        ))),
    }
}

/// Validates `[datetime]` against the columns it reads, and finds the zone.
fn datetime(
    profile: &str,
    is_file: bool,
    columns: &BTreeMap<Field, Column>,
    raw: DateTimeToml,
) -> Result<DateTimeSpec, ProfileError> {
    let date_format = raw.date_format.unwrap_or_else(|| "%Y-%m-%d".into());
    let time_format = raw.time_format.unwrap_or_else(|| "%H:%M:%S".into());
    check_format(profile, "date_format", &date_format, Want::Date)?;
    for format in time_format.split(crate::datetime::FORMATS) {
        check_format(profile, "time_format", format, Want::Time)?;
    }
    let (datetime_format, datetime_formats) = match raw.datetime_format {
        None => (None, BTreeMap::new()),
        Some(DateTimeFormatToml::One(format)) => (Some(format), BTreeMap::new()),
        Some(DateTimeFormatToml::ByCode(formats)) => (None, formats),
    };
    let combined = combined_formats(
        profile,
        is_file,
        columns,
        &datetime_format,
        &datetime_formats,
    )?;
    let zone = zone(
        profile,
        is_file,
        columns,
        raw.timezone,
        raw.utc_offset_codes,
        combined,
    )?;
    Ok(DateTimeSpec {
        date_format,
        time_format,
        datetime_format,
        datetime_formats,
        zone,
    })
}

/// Which combined formats a profile's values have: none (a date and a time column), all with an
/// offset, or some local.
#[derive(Clone, Copy, PartialEq)]
enum Combined {
    None,
    AllOffsets,
    SomeLocal,
}

/// Checks `datetime_format` (one format, or a table by code) against the columns it reads.
fn combined_formats(
    profile: &str,
    is_file: bool,
    columns: &BTreeMap<Field, Column>,
    one: &Option<String>,
    by_code: &BTreeMap<String, String>,
) -> Result<Combined, ProfileError> {
    let bad = |reason: &'static str| ProfileError::BadDateTime {
        profile: profile.to_owned(),
        reason,
    };
    let combined = columns.contains_key(&Field::EventDateTime);
    let separate =
        columns.contains_key(&Field::EventDate) || columns.contains_key(&Field::EventTime);
    let coded = columns.contains_key(&Field::EventDateTimeFormat);
    if combined && separate {
        return Err(bad(
            "map either `event_datetime` or `event_date` (+ `event_time`), not both",
        ));
    }
    if coded == by_code.is_empty() {
        return Err(bad(
            "a table of datetime_format by code reads the code from the `event_datetime_format` column: map both or neither",
        ));
    }
    let formats: Vec<&String> = one.iter().chain(by_code.values()).collect();
    match (formats.is_empty(), combined) {
        (false, false) => {
            return Err(bad(
                "datetime_format reads the `event_datetime` column: map it in [columns]",
            ));
        }
        (true, true) => return Err(bad("the `event_datetime` column needs a datetime_format")),
        (true, false) if is_file && !columns.contains_key(&Field::EventDate) => {
            return Err(ProfileError::NoEventTime {
                profile: profile.to_owned(),
            });
        }
        (true, false) => return Ok(Combined::None),
        (false, true) => {}
    }
    // A date alone is a format of a table (EDIFACT's `102`: the start of that day); one
    // combined column with dates alone is `event_date`.
    check_combined(profile, &formats, !by_code.is_empty())
}

/// Checks each combined format reads what it must: an instant when it has an offset, else a
/// date and time (or, with `date_alone`, a date).
fn check_combined(
    profile: &str,
    formats: &[&String],
    date_alone: bool,
) -> Result<Combined, ProfileError> {
    let mut all_offsets = true;
    for format in formats {
        let read_as = crate::datetime::Combined::new(format);
        let offset = read_as.has_offset();
        all_offsets &= offset;
        let want = if offset {
            Want::Instant
        } else {
            Want::DateTime
        };
        check_format(profile, "datetime_format", format, want).or_else(|err| {
            // Only a format with no time item at all reads as a date alone.
            let alone = date_alone && !offset && read_as.is_date_only();
            match alone.then(|| check_format(profile, "datetime_format", format, Want::Date)) {
                Some(Ok(())) => Ok(()),
                _ => Err(err),
            }
        })?;
    }
    Ok(if all_offsets {
        Combined::AllOffsets
    } else {
        Combined::SomeLocal
    })
}

/// The zone that places the profile's local times.
fn zone(
    profile: &str,
    is_file: bool,
    columns: &BTreeMap<Field, Column>,
    timezone: Option<String>,
    utc_offset_codes: Option<String>,
    combined: Combined,
) -> Result<Zone, ProfileError> {
    let bad = |reason: &'static str| ProfileError::BadDateTime {
        profile: profile.to_owned(),
        reason,
    };
    let in_value = combined == Combined::AllOffsets;
    if let Some(codes) = &utc_offset_codes {
        if codes != "x12" {
            return Err(bad(
                "utc_offset_codes: the only code list is \"x12\" (X12 list 623)",
            ));
        }
        if timezone.is_some() || in_value || !columns.contains_key(&Field::UtcOffset) {
            return Err(bad(
                "utc_offset_codes reads the `utc_offset` column: map it, and set no timezone",
            ));
        }
        return Ok(Zone::X12Codes);
    }
    Ok(match (timezone, in_value) {
        // An API's timestamps carry their own zone (or none, and stay local).
        _ if !is_file => Zone::Named(Tz::UTC),
        (Some(_), true) => {
            return Err(bad(
                "timezone is set, but datetime_format reads an offset from each value: keep one",
            ));
        }
        (Some(tz), false) if tz == LOCAL_TIME => Zone::Local,
        (Some(tz), false) => {
            Zone::Named(
                tz.parse::<Tz>()
                    .map_err(|_| ProfileError::UnknownTimezone {
                        profile: profile.to_owned(),
                        timezone: tz.clone(),
                    })?,
            )
        }
        (None, true) => Zone::InValue,
        (None, false) if columns.contains_key(&Field::UtcOffset) => Zone::OffsetColumn,
        (None, false) => {
            return Err(ProfileError::NoZone {
                profile: profile.to_owned(),
            });
        }
    })
}

/// `timezone = "local"`: the file's times are local to each event, zone unknown.
pub const LOCAL_TIME: &str = "local";

/// What a chrono format must be able to read.
#[derive(Clone, Copy)]
enum Want {
    Date,
    Time,
    DateTime,
    Instant,
}

/// Rejects chrono formats with unknown specifiers, or that cannot read back what they describe
/// (`%Y-%m` is no date, `%H` no time), so a mistake fails at load, not on every record.
fn check_format(
    profile: &str,
    key: &'static str,
    format: &str,
    want: Want,
) -> Result<(), ProfileError> {
    use chrono::format::{Item, StrftimeItems};
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
    let bad = |reason: &'static str| ProfileError::BadFormat {
        profile: profile.to_owned(),
        key,
        format: format.to_owned(),
        reason,
    };
    if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
        return Err(bad("is not a valid chrono format"));
    }
    // A sample with every component distinct, written and read back.
    let sample = NaiveDate::from_ymd_opt(2026, 11, 24)
        .and_then(|d| d.and_hms_opt(14, 32, 5))
        .expect("a valid sample");
    let offset = chrono::FixedOffset::west_opt(6 * 3600).expect("a valid offset");
    let instant = sample.and_local_timezone(offset).single().expect("fixed");
    // chrono's Display fails (and `to_string` would panic) when the format asks for what the
    // value lacks, such as `%z` of a local time.
    let mut written = String::new();
    // `%#z` only parses; `%z` writes what it reads.
    let writing = format.replace("%#z", "%z");
    let wrote = match want {
        Want::Instant => write!(written, "{}", instant.format(&writing)),
        _ => write!(written, "{}", sample.format(&writing)),
    };
    if wrote.is_err() {
        return Err(bad(
            "asks for a field this column's value does not have (e.g. a zone in a local time)",
        ));
    }
    let reads_back = match want {
        Want::Date => NaiveDate::parse_from_str(&written, format).is_ok(),
        Want::Time => NaiveTime::parse_from_str(&written, format).is_ok(),
        Want::DateTime => NaiveDateTime::parse_from_str(&written, format).is_ok(),
        Want::Instant => DateTime::parse_from_str(&written, format).is_ok(),
    };
    if !reads_back {
        return Err(bad(match want {
            Want::Date => "cannot read a whole date (year, month and day)",
            Want::Time => "cannot read a time of day (at least hour and minute)",
            Want::DateTime | Want::Instant => {
                "cannot read a whole date and time of day (year, month, day, hour and minute)"
            }
        }));
    }
    Ok(())
}

type StatusMaps = (
    BTreeMap<String, StatusPair>,
    BTreeMap<String, BTreeMap<String, StatusPair>>,
);

/// `[status_map]` and `[[status_group]]`, flattened: every carrier code once.
fn status_maps(
    profile: &str,
    entries: BTreeMap<String, toml::Value>,
    groups: Vec<StatusGroupToml>,
) -> Result<StatusMaps, ProfileError> {
    let mut codes = BTreeMap::new();
    let mut details: BTreeMap<String, BTreeMap<String, StatusPair>> = BTreeMap::new();
    let mut add = |key: String, code: String, pair: StatusPair| {
        if codes.insert(code.clone(), pair).is_some() {
            return Err(ProfileError::DuplicateCode {
                profile: profile.to_owned(),
                key,
                code,
            });
        }
        Ok(())
    };
    for (code, value) in entries {
        let key = format!("status_map.{}", toml_key(&code));
        match value {
            toml::Value::Table(by_detail) => {
                let mut map = BTreeMap::new();
                for (detail, value) in by_detail {
                    let key = format!("{key}.{}", toml_key(&detail));
                    let pair = pair(profile, &key, value)?;
                    if detail == ANY_DETAIL {
                        add(key, code.clone(), pair)?;
                    } else {
                        map.insert(detail, pair);
                    }
                }
                if !map.is_empty() {
                    details.insert(code, map);
                }
            }
            value => {
                let pair = pair(profile, &key, value)?;
                add(key, code, pair)?;
            }
        }
    }
    for (i, group) in groups.into_iter().enumerate() {
        let key = format!("status_group[{}]", i + 1);
        let (status, detail) = group.to;
        let pair = known_pair(profile, &format!("{key}.to"), status, detail)?;
        if group.codes.is_empty() {
            return Err(ProfileError::BadStatusEntry {
                profile: profile.to_owned(),
                key,
                reason: "codes is empty".into(),
            });
        }
        for code in group.codes {
            add(key.clone(), code, pair.clone())?;
        }
    }
    Ok((codes, details))
}

/// `["IT", "IN_TRANSIT"]`: a standardized status and detail code.
fn pair(profile: &str, key: &str, value: toml::Value) -> Result<StatusPair, ProfileError> {
    let shape = || ProfileError::BadStatusEntry {
        profile: profile.to_owned(),
        key: key.to_owned(),
        reason: "expected [status, detail], e.g. [\"IT\", \"IN_TRANSIT\"], or a table of carrier \
                 detail codes to such pairs"
            .into(),
    };
    let toml::Value::Array(items) = value else {
        return Err(shape());
    };
    let Ok([toml::Value::String(status), toml::Value::String(detail)]) =
        <[toml::Value; 2]>::try_from(items)
    else {
        return Err(shape());
    };
    known_pair(profile, key, status, detail)
}

/// Checks both codes against Connect's lists.
fn known_pair(
    profile: &str,
    key: &str,
    status: String,
    detail: String,
) -> Result<StatusPair, ProfileError> {
    let status =
        StandardizedStatusCode::known(&status).ok_or_else(|| ProfileError::UnknownStatusCode {
            profile: profile.to_owned(),
            key: key.to_owned(),
            code: status.clone(),
        })?;
    let detail = StandardizedStatusDetailCode::known(&detail).ok_or_else(|| {
        ProfileError::UnknownDetailCode {
            profile: profile.to_owned(),
            key: key.to_owned(),
            code: detail.clone(),
        }
    })?;
    Ok(StatusPair { status, detail })
}

/// A key as TOML would write it in a dotted path: bare when it can be, else quoted.
fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference_text() -> &'static str {
        BUILTIN[0].1
    }

    #[test]
    fn reference_profile_loads_with_its_full_status_map() {
        let p = Profile::builtin("reference").unwrap();
        assert_eq!(p.carrier_name, "Reference Carrier");
        assert_eq!(p.delimiter, b',');
        assert_eq!(p.datetime.zone, Zone::OffsetColumn);
        let expect = [
            ("MI", "AC", "ELEC_ADVICE_RECD_BY_CARRIER"),
            ("PU", "AC", "PICKED_UP"),
            ("AR", "IT", "HUB_SCAN_IN"),
            ("DP", "IT", "HUB_SCAN_OUT"),
            ("IT", "IT", "IN_TRANSIT"),
            ("OD", "IT", "OUT_FOR_DELIVERY"),
            ("AD", "AT", "ATTEMPTED_DELIVERY"),
            ("DL", "DE", "DELIVERED"),
            ("SP", "SP", "DELIVERED_TO_PICKUP_POINT"),
            ("EX", "EX", "UNSPECIFIED_EXCEPTION"),
            ("RS", "EX", "RETURN_TO_SENDER"),
            ("CD", "EX", "HELD_BY_CUSTOMS"),
        ];
        assert_eq!(p.status_map.len(), expect.len());
        for (code, status, detail) in expect {
            let pair = &p.status_map[code];
            assert_eq!(
                (pair.status.as_str(), pair.detail.as_str()),
                (status, detail)
            );
        }
        assert_eq!(
            p.columns[&Field::TrackingNumber],
            Column::Name("TrackingNumber".into())
        );
        assert_eq!(p.encoding, TextEncoding::Utf8);
        assert!(p.has_headers && p.detail_map.is_empty());
        assert_eq!(p.columns.len(), 16);
    }

    #[test]
    fn unknown_profile_name_lists_the_built_ins() {
        let err = Profile::builtin("nope").unwrap_err().to_string();
        assert!(err.contains("`nope`") && err.contains("reference"), "{err}");
    }

    #[test]
    fn unknown_connect_field_is_named() {
        let text = reference_text().replace("city = \"City\"", "town = \"City\"");
        let err = Profile::from_toml(&text, "t").unwrap_err().to_string();
        assert!(err.contains("unknown Connect field `town`"), "{err}");
        assert!(err.contains("profile `reference`"), "{err}");
    }

    #[test]
    fn every_field_has_its_place_and_its_own_key() {
        for (i, field) in Field::ALL.into_iter().enumerate() {
            assert_eq!(field.index(), i, "{field:?}");
            assert_eq!(Field::from_key(field.key()), Some(field));
        }
        let keys: std::collections::BTreeSet<&str> = Field::ALL.map(Field::key).into();
        assert_eq!(keys.len(), Field::ALL.len());
        let text =
            reference_text().replace("[datetime]\n", "update_method = \"replace\"\n[datetime]\n");
        let err = crate::report(&Profile::from_toml(&text, "t").unwrap_err());
        assert!(
            err.contains("unknown Connect field `update_method` in [columns]"),
            "a top-level key, not a column: {err}"
        );
        let api =
            "name = \"a\"\ncarrier_name = \"A\"\nformat = \"api\"\nupdate_method = \"replace\"\n";
        let err = crate::report(&Profile::from_toml(api, "t").unwrap_err());
        assert!(
            err.contains("`update_method` does not apply to format = \"api\""),
            "{err}"
        );
        let text = format!("update_method = \"snapshot\"\n{}", reference_text());
        let err = crate::report(&Profile::from_toml(&text, "t").unwrap_err());
        assert!(
            err.contains("unknown variant `snapshot`, expected `append` or `replace`"),
            "{err}"
        );
        let text = format!("update_method = \"replace\"\n{}", reference_text());
        let p = Profile::from_toml(&text, "t").unwrap();
        assert_eq!(p.update_method, UpdateMethod::Replace);
        assert_eq!(
            Profile::builtin("reference").unwrap().update_method,
            UpdateMethod::Append
        );
    }

    #[test]
    fn unknown_status_and_detail_codes_are_named() {
        let text = reference_text().replace(r#"MI = ["AC","#, r#"MI = ["ZZ","#);
        let err = Profile::from_toml(&text, "t").unwrap_err().to_string();
        assert!(
            err.contains("status_map.MI") && err.contains("`ZZ`"),
            "{err}"
        );

        let text = reference_text().replace("\"PICKED_UP\"", "\"PICKED_UPP\"");
        let err = Profile::from_toml(&text, "t").unwrap_err().to_string();
        assert!(
            err.contains("status_map.PU") && err.contains("`PICKED_UPP`"),
            "{err}"
        );
    }

    #[test]
    fn unknown_top_level_key_is_named() {
        let text = format!("colour = \"red\"\n{}", reference_text());
        let err = Profile::from_toml(&text, "custom.toml").unwrap_err();
        let msg = format!("{err}: {}", std::error::Error::source(&err).unwrap());
        assert!(
            msg.contains("custom.toml") && msg.contains("colour"),
            "{msg}"
        );
    }

    #[test]
    fn a_zone_is_required_and_named_zones_are_checked() {
        let no_offset = reference_text().replace("utc_offset = \"UtcOffset\"\n", "");
        let err = Profile::from_toml(&no_offset, "t").unwrap_err().to_string();
        assert!(err.contains("utc_offset"), "{err}");

        let chicago = no_offset.replace(
            "[datetime]\n",
            "[datetime]\ntimezone = \"America/Chicago\"\n",
        );
        let p = Profile::from_toml(&chicago, "t").unwrap();
        assert_eq!(p.datetime.zone, Zone::Named(chrono_tz::America::Chicago));

        let mars = no_offset.replace("[datetime]\n", "[datetime]\ntimezone = \"Mars/Base\"\n");
        let err = Profile::from_toml(&mars, "t").unwrap_err().to_string();
        assert!(err.contains("Mars/Base"), "{err}");
    }

    #[test]
    fn api_profiles_carry_only_a_status_map() {
        let text = r#"
            name = "api"
            carrier_name = "API Carrier"
            format = "api"
            [status_map]
            delivered = ["DE", "DELIVERED"]
        "#;
        let p = Profile::from_toml(text, "api.toml").unwrap();
        assert_eq!(p.format, Format::Api);
        assert_eq!(p.status_map["delivered"].detail.as_str(), "DELIVERED");
        let with_columns = format!("{text}\n[columns]\ncity = \"City\"\n");
        let err = Profile::from_toml(&with_columns, "api.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("[columns]"), "{err}");
    }

    #[test]
    fn ups_and_fedex_profiles_map_the_issues_codes() {
        // (profile, carrier name, [(code, status, detail)])
        type Expected = (
            &'static str,
            &'static str,
            &'static [(&'static str, &'static str, &'static str)],
        );
        let expect: [Expected; 2] = [
            (
                "ups",
                "UPS",
                &[
                    ("M", "AC", "SHIPMENT_CREATED"),
                    ("P", "AC", "PICKED_UP"),
                    ("I", "IT", "IN_TRANSIT"),
                    ("O", "IT", "OUT_FOR_DELIVERY"),
                    ("D", "DE", "DELIVERED"),
                    ("X", "EX", "UNSPECIFIED_EXCEPTION"),
                    ("RS", "EX", "RETURN_TO_SENDER"),
                ],
            ),
            (
                "fedex",
                "FedEx",
                &[
                    ("OC", "AC", "SHIPMENT_CREATED"),
                    ("PU", "AC", "PICKED_UP"),
                    ("AR", "IT", "HUB_SCAN_IN"),
                    ("DP", "IT", "HUB_SCAN_OUT"),
                    ("IT", "IT", "IN_TRANSIT"),
                    ("OD", "IT", "OUT_FOR_DELIVERY"),
                    ("DL", "DE", "DELIVERED"),
                    ("DE", "EX", "UNSPECIFIED_EXCEPTION"),
                    ("SE", "EX", "UNSPECIFIED_EXCEPTION"),
                    ("CA", "EX", "CANCELLED"),
                    ("RS", "EX", "RETURN_TO_SENDER"),
                    ("HL", "SP", "AWAITING_COLLECTION_FROM_PICKUP_POINT"),
                ],
            ),
        ];
        for (name, carrier_name, codes) in expect {
            let p = Profile::builtin(name).unwrap();
            assert_eq!(
                (p.format, p.carrier_name.as_str()),
                (Format::Api, carrier_name)
            );
            assert_eq!(p.status_map.len(), codes.len(), "{name}");
            for (code, status, detail) in codes {
                let pair = &p.status_map[*code];
                assert_eq!(
                    (pair.status.as_str(), pair.detail.as_str()),
                    (*status, *detail),
                    "{name} {code}"
                );
            }
        }
    }

    #[test]
    fn dhl_profile_maps_every_dhl_status_code() {
        let p = Profile::builtin("dhl").unwrap();
        assert_eq!(p.format, Format::Api);
        assert_eq!(p.carrier_name, "DHL");
        assert!(p.columns.is_empty());
        let expect = [
            ("pre-transit", "AC", "ELEC_ADVICE_RECD_BY_CARRIER"),
            ("transit", "IT", "IN_TRANSIT"),
            ("delivered", "DE", "DELIVERED"),
            ("failure", "EX", "UNSPECIFIED_EXCEPTION"),
            ("unknown", "UN", "INFORMATION"),
        ];
        assert_eq!(p.status_map.len(), expect.len());
        for (code, status, detail) in expect {
            let pair = &p.status_map[code];
            assert_eq!(
                (pair.status.as_str(), pair.detail.as_str()),
                (status, detail)
            );
        }
    }

    #[test]
    fn required_fields_and_delimiter_are_checked() {
        let text = reference_text().replace("tracking_number = \"TrackingNumber\"\n", "");
        let err = Profile::from_toml(&text, "t").unwrap_err().to_string();
        assert!(err.contains("must map `tracking_number`"), "{err}");

        let text = reference_text().replace("delimiter = \",\"", "delimiter = \";;\"");
        let err = Profile::from_toml(&text, "t").unwrap_err().to_string();
        assert!(err.contains("single byte"), "{err}");

        let text = reference_text().replace("%H:%M:%S", "%H:%Q");
        let err = Profile::from_toml(&text, "t").unwrap_err().to_string();
        assert!(err.contains("time_format"), "{err}");
    }

    /// A minimal file profile: `format`-specific settings and columns around the required ones.
    fn file_profile(settings: &str, columns: &str, datetime: &str, status: &str) -> String {
        format!(
            "name = \"acme\"\ncarrier_name = \"Acme\"\n{settings}\n[columns]\n{columns}\n\
             [datetime]\n{datetime}\n[status_map]\n{status}\n"
        )
    }

    fn load(text: &str) -> Result<Profile, String> {
        Profile::from_toml(text, "s3://bucket/acme.toml").map_err(|e| crate::report(&e))
    }

    const NAMED: &str =
        "tracking_number = \"tn\"\ncarrier_status_code = \"code\"\nevent_date = \"d\"";
    const UTC: &str = "timezone = \"UTC\"";

    #[test]
    fn document_profiles_need_a_record_path_and_paths_that_stay_in_the_document() {
        let xml = |record: &str, columns: &str| {
            load(&file_profile(
                &format!("format = \"xml\"\n{record}"),
                columns,
                UTC,
                "",
            ))
        };
        let p = xml("record = \"F/S/E\"", NAMED).unwrap();
        assert_eq!(p.record, Some(vec!["F".into(), "S".into(), "E".into()]));
        assert_eq!(p.columns[&Field::TrackingNumber], Column::Name("tn".into()));
        let up = "tracking_number = \"../../@id\"\ncarrier_status_code = \"c\"\nevent_date = \"d\"";
        assert!(xml("record = \"F/S/E\"", up).is_ok());
        for (record, columns, wanted) in [
            ("", NAMED, "format = \"xml\" needs `record`"),
            ("record = \"F/../E\"", NAMED, "cannot use `..` or `@`"),
            (
                "record = \"F/E\"",
                up,
                "[columns] tracking_number: path \"../../@id\" goes above the root",
            ),
            (
                "record = \"F/E\"",
                "tracking_number = \"a//b\"\ncarrier_status_code = \"c\"\nevent_date = \"d\"",
                "has an empty step",
            ),
            (
                "record = \"F/E\"",
                "tracking_number = 3\ncarrier_status_code = \"c\"\nevent_date = \"d\"",
                "expected a path from the record",
            ),
        ] {
            let err = xml(record, columns).unwrap_err();
            assert!(err.contains(wanted), "{wanted:?} not in {err}");
        }
        // JSON: `..` may reach the root value itself; attributes are XML's.
        let json = |columns: &str, settings: &str| {
            load(&file_profile(
                &format!("format = \"json\"\nrecord = \"s/e\"\n{settings}"),
                columns,
                UTC,
                "",
            ))
        };
        let to_root =
            "tracking_number = \"../../n\"\ncarrier_status_code = \"c\"\nevent_date = \"d\"";
        assert!(json(to_root, "").is_ok());
        let err = json(up, "").unwrap_err();
        assert!(err.contains("attribute step"), "{err}");
        let err = json(NAMED, "encoding = \"windows-1252\"").unwrap_err();
        assert!(err.contains("`encoding` does not apply"), "{err}");
        let err = load(&file_profile("record = \"a\"", NAMED, UTC, "")).unwrap_err();
        assert!(err.contains("`record` does not apply"), "{err}");
    }

    #[test]
    fn x12_time_codes_read_the_utc_offset_column_and_no_timezone() {
        let columns = format!("{NAMED}\nutc_offset = \"tz\"");
        let p = load(&file_profile(
            "",
            &columns,
            "utc_offset_codes = \"x12\"",
            "",
        ))
        .unwrap();
        assert_eq!(p.datetime.zone, Zone::X12Codes);
        for (columns, datetime, wanted) in [
            (
                NAMED.to_owned(),
                "utc_offset_codes = \"x12\"",
                "map it, and set no timezone",
            ),
            (
                columns.clone(),
                "utc_offset_codes = \"x12\"\ntimezone = \"UTC\"",
                "map it, and set no timezone",
            ),
            (
                columns.clone(),
                "utc_offset_codes = \"623\"",
                "the only code list is \"x12\"",
            ),
        ] {
            let err = load(&file_profile("", &columns, datetime, "")).unwrap_err();
            assert!(err.contains(wanted), "{wanted:?} not in {err}");
        }
    }

    #[test]
    fn a_profile_extends_a_built_in_one_or_one_loaded_by_uri_key_by_key() {
        let p = load(
            "extends = \"x12-214\"\nname = \"acme\"\ncarrier_name = \"Acme\"\n\
             [status_map]\nZZ = [\"EX\", \"UNSPECIFIED_EXCEPTION\"]\n[datetime]\ndate_format = \"%y%m%d\"",
        )
        .unwrap();
        let base = Profile::builtin("x12-214").unwrap();
        assert_eq!((p.name.as_str(), p.format), ("acme", Format::X12));
        assert_eq!(p.status_map.len(), base.status_map.len() + 1);
        assert_eq!(p.status_map["D1"], base.status_map["D1"]);
        assert_eq!(p.datetime.date_format, "%y%m%d");
        assert_eq!(p.datetime.time_format, base.datetime.time_format);
        // Naming the carrier drops the base's carrier column (GS-02).
        assert!(base.columns.contains_key(&Field::CarrierName));
        assert!(!p.columns.contains_key(&Field::CarrierName));
        assert_eq!(p.columns.len(), base.columns.len() - 1);
        // A base loaded from a URI, itself extending a built-in one.
        let bases = Bases::from([(
            "s3://bucket/acme-base.toml".to_owned(),
            "extends = \"x12-214\"\nname = \"acme-base\"\ncarrier_name = \"Acme\"\n\
             [status_map]\nZZ = [\"EX\", \"UNSPECIFIED_EXCEPTION\"]"
                .to_owned(),
        )]);
        let text = "extends = \"s3://bucket/acme-base.toml\"\nname = \"acme-east\"\n\
                    [status_map]\nZY = [\"EX\", \"CARRIER_DELAYS\"]";
        assert_eq!(
            Profile::extends(text, "t").unwrap().as_deref(),
            Some("s3://bucket/acme-base.toml")
        );
        let p = Profile::from_toml_over(text, "s3://bucket/acme-east.toml", &bases).unwrap();
        assert_eq!(
            (p.name.as_str(), p.carrier_name.as_str()),
            ("acme-east", "Acme")
        );
        assert_eq!(p.status_map.len(), base.status_map.len() + 2);
        assert!(!p.columns.contains_key(&Field::CarrierName));
        let err = load(text).unwrap_err();
        assert!(
            err.contains("nor a profile URI that could be read"),
            "{err}"
        );
        let err = load("extends = \"x12-999\"\nname = \"acme\"").unwrap_err();
        assert!(
            err.contains("extends = \"x12-999\" names no built-in profile (built in: reference"),
            "{err}"
        );
    }

    #[test]
    fn errors_of_a_loaded_profile_name_its_file_and_key() {
        let err = load(&file_profile("", NAMED, UTC, "DL = [\"DE\", \"DELIVERD\"]")).unwrap_err();
        assert!(
            err.contains("profile `acme` (s3://bucket/acme.toml)")
                && err.contains("status_map.DL")
                && err.contains("DELIVERD"),
            "{err}"
        );
        let err = load(&file_profile("delimter = \";\"", NAMED, UTC, "")).unwrap_err();
        assert!(
            err.contains("s3://bucket/acme.toml") && err.contains("delimter"),
            "{err}"
        );
        let err = load(&file_profile("", NAMED, "timezone = \"UTC\"\nzone = 1", "")).unwrap_err();
        assert!(err.contains("zone") && err.contains("line 10"), "{err}");
    }

    #[test]
    fn delimiters_quotes_and_encodings() {
        for (given, byte) in [
            ("\";\"", b';'),
            ("\"|\"", b'|'),
            ("\"\\t\"", b'\t'),
            ("\"tab\"", b'\t'),
            ("'\\t'", b'\t'),
        ] {
            let p = load(&file_profile(
                &format!("delimiter = {given}"),
                NAMED,
                UTC,
                "",
            ))
            .unwrap();
            assert_eq!(p.delimiter, byte, "{given}");
        }
        for bad in ["\";;\"", "\"\"", "\"\\n\"", "\"é\""] {
            let err =
                load(&file_profile(&format!("delimiter = {bad}"), NAMED, UTC, "")).unwrap_err();
            assert!(
                err.contains("delimiter must be a single byte"),
                "{bad}: {err}"
            );
        }
        let p = load(&file_profile("quote = \"'\"", NAMED, UTC, "")).unwrap();
        assert_eq!(p.quote, Some(b'\''));
        let p = load(&file_profile("quote = \"\"", NAMED, UTC, "")).unwrap();
        assert_eq!(p.quote, None);
        let err = load(&file_profile("quote = \",\"", NAMED, UTC, "")).unwrap_err();
        assert!(err.contains("quote must be"), "{err}");

        for (label, encoding) in [
            ("utf-8", TextEncoding::Utf8),
            ("windows-1252", TextEncoding::Windows1252),
            ("ISO-8859-1", TextEncoding::Iso8859_1),
        ] {
            let p = load(&file_profile(
                &format!("encoding = \"{label}\""),
                NAMED,
                UTC,
                "",
            ))
            .unwrap();
            assert_eq!(p.encoding, encoding);
        }
        assert_eq!(TextEncoding::Utf8.decoder(), None, "UTF-8 is read as it is");
        let err = load(&file_profile("encoding = \"ebcdic\"", NAMED, UTC, "")).unwrap_err();
        assert!(err.contains("unknown encoding \"ebcdic\""), "{err}");
        let err = load(&file_profile(
            "format = \"jsonl\"\ndelimiter = \";\"",
            NAMED,
            UTC,
            "",
        ))
        .unwrap_err();
        assert!(
            err.contains("`delimiter` does not apply to format = \"jsonl\""),
            "{err}"
        );
    }

    #[test]
    fn headerless_columns_are_positions() {
        let positions = "tracking_number = 1\ncarrier_status_code = 4\nevent_date = 2";
        let p = load(&file_profile("has_headers = false", positions, UTC, "")).unwrap();
        assert!(!p.has_headers);
        assert_eq!(p.columns[&Field::CarrierStatusCode], Column::Position(4));

        let err = load(&file_profile("has_headers = false", NAMED, UTC, "")).unwrap_err();
        assert!(
            err.contains("[columns] carrier_status_code") && err.contains("1-based position"),
            "{err}"
        );
        let err = load(&file_profile("", positions, UTC, "")).unwrap_err();
        assert!(err.contains("needs has_headers = false"), "{err}");
        let zero = positions.replace("= 1", "= 0");
        let err = load(&file_profile("has_headers = false", &zero, UTC, "")).unwrap_err();
        assert!(err.contains("count from 1"), "{err}");
    }

    #[test]
    fn fixed_width_columns_are_character_spans() {
        let spans = "tracking_number = { start = 1, len = 18 }\n\
                     carrier_status_code = { start = 19, len = 2 }\n\
                     event_date = { start = 21, len = 8 }";
        let p = load(&file_profile("format = \"fixed\"", spans, UTC, "")).unwrap();
        assert_eq!(p.format, Format::Fixed);
        assert!(
            !p.has_headers,
            "fixed-width files have no title line unless told"
        );
        assert_eq!(
            p.columns[&Field::CarrierStatusCode],
            Column::Span { start: 19, len: 2 }
        );
        assert_eq!(
            p.columns[&Field::CarrierStatusCode].to_string(),
            "characters 19-20"
        );
        for (bad, says) in [
            (
                "{ start = 0, len = 2 }",
                "`start` must be a whole number from 1",
            ),
            ("{ start = 19 }", "needs both start and len"),
            ("{ start = 19, length = 2 }", "unknown key `length`"),
            ("\"Code\"", "expected a character span"),
        ] {
            let columns = spans.replace("{ start = 19, len = 2 }", bad);
            let err = load(&file_profile("format = \"fixed\"", &columns, UTC, "")).unwrap_err();
            assert!(
                err.contains("[columns] carrier_status_code") && err.contains(says),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn datetime_formats_zones_and_combined_columns() {
        let p = load(&file_profile(
            "",
            NAMED,
            "date_format = \"%m/%d/%Y\"\ntime_format = \"%H%M\"\ntimezone = \"America/Chicago\"",
            "",
        ))
        .unwrap();
        assert_eq!(p.datetime.zone, Zone::Named(chrono_tz::America::Chicago));
        assert_eq!(p.datetime.time_format, "%H%M");

        let combined =
            "tracking_number = \"tn\"\ncarrier_status_code = \"code\"\nevent_datetime = \"at\"";
        let p = load(&file_profile(
            "",
            combined,
            "datetime_format = \"%d.%m.%Y %H:%M\"\ntimezone = \"Europe/Berlin\"",
            "",
        ))
        .unwrap();
        assert_eq!(
            p.datetime.datetime_format.as_deref(),
            Some("%d.%m.%Y %H:%M")
        );
        let p = load(&file_profile(
            "",
            combined,
            "datetime_format = \"%Y-%m-%dT%H:%M:%S%:z\"",
            "",
        ))
        .unwrap();
        assert_eq!(
            p.datetime.zone,
            Zone::InValue,
            "the offset is in each value"
        );

        for (columns, datetime, says) in [
            (combined, "timezone = \"UTC\"", "needs a datetime_format"),
            (
                NAMED,
                "datetime_format = \"%Y%m%d%H%M\"\ntimezone = \"UTC\"",
                "map it in [columns]",
            ),
            (
                "tracking_number = \"tn\"\ncarrier_status_code = \"code\"\nevent_time = \"t\"",
                UTC,
                "must map the event time",
            ),
            (
                combined,
                "datetime_format = \"%Y-%m-%dT%H:%M%z\"\ntimezone = \"UTC\"",
                "keep one",
            ),
            (
                combined,
                "datetime_format = \"%Y-%m-%d\"\ntimezone = \"UTC\"",
                "cannot read a whole date and time",
            ),
            (
                NAMED,
                "date_format = \"%Y-%m\"\ntimezone = \"UTC\"",
                "cannot read a whole date",
            ),
            (
                NAMED,
                "time_format = \"%H\"\ntimezone = \"UTC\"",
                "cannot read a time of day",
            ),
            (NAMED, "", "the file's zone is unknown"),
        ] {
            let err = load(&file_profile("", columns, datetime, "")).unwrap_err();
            assert!(err.contains(says), "{datetime}: {err}");
        }
    }

    #[test]
    fn datetime_formats_by_code_and_local_time() {
        let coded = "tracking_number = \"tn\"\ncarrier_status_code = \"code\"\n\
                     event_datetime = \"at\"\nevent_datetime_format = \"f\"";
        let table = "datetime_format = { 102 = \"%Y%m%d\", 205 = \"%Y%m%d%H%M%#z\" }";
        let p = load(&file_profile(
            "",
            coded,
            &format!("{table}\ntimezone = \"local\""),
            "",
        ))
        .unwrap();
        assert_eq!(p.datetime.zone, Zone::Local);
        assert_eq!(p.datetime.datetime_format, None);
        assert_eq!(
            p.datetime.datetime_formats,
            BTreeMap::from([
                ("102".to_owned(), "%Y%m%d".to_owned()),
                ("205".to_owned(), "%Y%m%d%H%M%#z".to_owned())
            ])
        );
        // Every format with an offset: no zone needed, and none allowed.
        let offsets = "datetime_format = { 205 = \"%Y%m%d%H%M%#z\" }";
        let p = load(&file_profile("", coded, offsets, "")).unwrap();
        assert_eq!(p.datetime.zone, Zone::InValue);
        for (columns, datetime, says) in [
            (coded, table.to_owned(), "the file's zone is unknown"),
            (coded, format!("{offsets}\ntimezone = \"UTC\""), "keep one"),
            (
                coded,
                "datetime_format = \"%Y%m%d%H%M\"\ntimezone = \"local\"".to_owned(),
                "map both or neither",
            ),
            (
                "tracking_number = \"tn\"\ncarrier_status_code = \"code\"\nevent_datetime = \"at\"",
                format!("{table}\ntimezone = \"local\""),
                "map both or neither",
            ),
            (
                coded,
                "datetime_format = { 1 = \"%Y%m\" }\ntimezone = \"local\"".to_owned(),
                "cannot read a whole date and time",
            ),
            (
                coded,
                "datetime_format = { 10 = \"%Y%m%d%H\" }\ntimezone = \"local\"".to_owned(),
                "cannot read a whole date and time",
            ),
            (
                NAMED,
                "timezone = \"Local\"".to_owned(),
                "unknown time zone",
            ),
        ] {
            let err = load(&file_profile("", columns, &datetime, "")).unwrap_err();
            assert!(err.contains(says), "{datetime}: {err}");
        }
    }

    #[test]
    fn a_field_may_keep_part_of_its_value() {
        let columns = "tracking_number = \"tn\"\ncarrier_status_code = \"code\"\n\
                       event_date = \"d\"\ncountry = { name = \"Locode\", start = 1, len = 2 }";
        let p = load(&file_profile("", columns, UTC, "")).unwrap();
        assert_eq!(p.columns[&Field::Country], Column::Name("Locode".into()));
        assert_eq!(p.parts[&Field::Country], Part { start: 1, len: 2 });
        assert_eq!(p.parts.len(), 1);
        let part = |start, len| Part { start, len };
        assert_eq!(part(1, 2).of("DEHAM"), "DE");
        assert_eq!(part(3, 3).of("DEHAM"), "HAM");
        assert_eq!(part(2, 9).of("ÅRHUS"), "RHUS");
        assert_eq!(part(1, 1).of("ÅRHUS"), "Å");
        assert_eq!(part(6, 1).of("DEHAM"), "");
        assert_eq!(part(1, 2).of(""), "");
        for (value, says) in [
            ("{ path = \"L\", start = 1, len = 2 }", "`name` is missing"),
            (
                "{ name = \"L\", start = 0, len = 2 }",
                "`start` must be a whole number from 1",
            ),
            (
                "{ name = \"L\", start = 1 }",
                "`len` must be a whole number from 1",
            ),
            (
                "{ name = \"L\", start = 1, len = 2, end = 3 }",
                "unknown key `end`",
            ),
        ] {
            let columns = format!("{NAMED}\ncountry = {value}");
            let err = load(&file_profile("", &columns, UTC, "")).unwrap_err();
            assert!(err.contains(says), "{value}: {err}");
        }
    }

    #[test]
    fn the_built_in_iftsta_profile_reads_dtm_formats_by_qualifier_as_local_or_instants() {
        let p = Profile::builtin("edifact-iftsta").unwrap();
        assert_eq!(
            (p.format, p.datetime.zone.clone()),
            (Format::Edifact, Zone::Local)
        );
        assert_eq!(p.parts[&Field::Country], Part { start: 1, len: 2 });
        for code in ["102", "203", "204", "205", "303", "304"] {
            assert!(p.datetime.datetime_formats.contains_key(code), "{code}");
        }
        assert!(
            p.status_map.is_empty(),
            "IFTSTA codes are each carrier's own"
        );
    }

    #[test]
    fn several_codes_map_to_one_pair_and_codes_are_mapped_once() {
        let text = format!(
            "{}\n[[status_group]]\ncodes = [\"A1\", \"A2\", \"A3\"]\nto = [\"IT\", \"IN_TRANSIT\"]\n",
            file_profile(
                "",
                NAMED,
                UTC,
                "DL = [\"DE\", \"DELIVERED\"]\nD2 = [\"DE\", \"DELIVERED\"]"
            )
        );
        let p = load(&text).unwrap();
        for code in ["A1", "A2", "A3"] {
            assert_eq!(p.status_map[code].detail.as_str(), "IN_TRANSIT", "{code}");
        }
        assert_eq!(p.status_map["D2"], p.status_map["DL"]);

        let twice = text.replace("\"A3\"", "\"DL\"");
        let err = load(&twice).unwrap_err();
        assert!(
            err.contains("status_group[1]") && err.contains("\"DL\" is mapped more than once"),
            "{err}"
        );
        let bad = text.replace("\"IN_TRANSIT\"", "\"IN_TRANSITT\"");
        let err = load(&bad).unwrap_err();
        assert!(
            err.contains("status_group[1].to") && err.contains("IN_TRANSITT"),
            "{err}"
        );
    }

    #[test]
    fn two_level_status_maps_key_detail_codes_under_the_code() {
        let text = file_profile(
            "",
            NAMED,
            UTC,
            "DL = [\"DE\", \"DELIVERED\"]\n\
             [status_map.EX]\n\
             \"*\" = [\"EX\", \"UNSPECIFIED_EXCEPTION\"]\n\
             \"07\" = [\"EX\", \"REFUSED_BY_CUSTOMER\"]\n\
             \"12\" = [\"EX\", \"ADDRESS_QUERY\"]\n\
             [status_map.HD]\n\
             C1 = [\"EX\", \"HELD_BY_CUSTOMS\"]\n",
        );
        let p = load(&text).unwrap();
        assert_eq!(p.status_map["EX"].detail.as_str(), "UNSPECIFIED_EXCEPTION");
        assert_eq!(
            p.detail_map["EX"]["07"].detail.as_str(),
            "REFUSED_BY_CUSTOMER"
        );
        assert_eq!(p.detail_map["EX"].len(), 2);
        assert!(!p.status_map.contains_key("HD"), "no fallback for HD alone");
        assert_eq!(p.detail_map["HD"]["C1"].detail.as_str(), "HELD_BY_CUSTOMS");

        let err = load(&text.replace(
            "\"07\" = [\"EX\", \"REFUSED_BY_CUSTOMER\"]",
            "\"07\" = \"EX\"",
        ))
        .unwrap_err();
        assert!(
            err.contains("status_map.EX.07") && err.contains("expected [status, detail]"),
            "{err}"
        );
        let err = load(&text.replace(
            "\"*\" = [\"EX\", \"UNSPECIFIED_EXCEPTION\"]",
            "\"*\" = [\"EX\", \"NOPE\"]",
        ))
        .unwrap_err();
        assert!(
            err.contains("status_map.EX.\"*\"") && err.contains("`NOPE`"),
            "{err}"
        );
    }
}
