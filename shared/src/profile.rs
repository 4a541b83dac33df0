//! Carrier profiles: how one carrier's bulk file maps onto Connect fields, written in TOML so a
//! new carrier needs a profile, not code.
//!
//! A profile is validated completely when it loads (unknown fields, codes, zones and formats are
//! errors naming the key), so that a bad profile fails before a single record is read.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use serde::Deserialize;

use crate::error::ProfileError;
use crate::models::{StandardizedStatusCode, StandardizedStatusDetailCode};

/// Profiles compiled into the binaries, by name.
const BUILTIN: &[(&str, &str)] = &[
    ("reference", include_str!("../../profiles/reference.toml")),
    ("dhl", include_str!("../../profiles/dhl.toml")),
    (
        "reference-jsonl",
        include_str!("../../profiles/reference-jsonl.toml"),
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
}

impl Field {
    pub const ALL: [Field; 19] = [
        Field::TrackingNumber,
        Field::CarrierStatusCode,
        Field::CarrierDetailCode,
        Field::CarrierStatusDescription,
        Field::EventDate,
        Field::EventTime,
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
    /// Delimited text with a header line.
    Csv,
    /// JSON Lines: one object per line; `[columns]` name its keys.
    Jsonl,
    /// No file: a carrier HTTP API (Track). Only `name`, `carrier_name` and `[status_map]`
    /// apply; `[columns]` must be empty.
    Api,
}

/// Where the zone of a local event time comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Zone {
    /// The file has a `utc_offset` column.
    OffsetColumn,
    /// The file has no zone; its times are local to this IANA zone (or UTC).
    Named(Tz),
}

/// How dates and times are written in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct DateTimeSpec {
    pub date_format: String,
    pub time_format: String,
    pub zone: Zone,
}

/// A carrier code's standardized meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusPair {
    pub status: StandardizedStatusCode,
    pub detail: StandardizedStatusDetailCode,
}

/// A loaded, validated profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub name: String,
    pub carrier_name: String,
    pub format: Format,
    pub delimiter: u8,
    /// Header name per field, for the fields the profile maps.
    pub columns: BTreeMap<Field, String>,
    pub datetime: DateTimeSpec,
    /// Carrier status code → standardized pair.
    pub status_map: BTreeMap<String, StatusPair>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileToml {
    name: String,
    carrier_name: String,
    #[serde(default = "default_format")]
    format: Format,
    #[serde(default = "default_delimiter")]
    delimiter: String,
    #[serde(default)]
    columns: BTreeMap<String, String>,
    #[serde(default)]
    datetime: DateTimeToml,
    #[serde(default)]
    status_map: BTreeMap<String, (String, String)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DateTimeToml {
    #[serde(default = "default_date_format")]
    date_format: String,
    #[serde(default = "default_time_format")]
    time_format: String,
    timezone: Option<String>,
}

impl Default for DateTimeToml {
    fn default() -> Self {
        DateTimeToml {
            date_format: default_date_format(),
            time_format: default_time_format(),
            timezone: None,
        }
    }
}

fn default_format() -> Format {
    Format::Csv
}
fn default_delimiter() -> String {
    ",".into()
}
fn default_date_format() -> String {
    "%Y-%m-%d".into()
}
fn default_time_format() -> String {
    "%H:%M:%S".into()
}

/// Fields every profile must map: without them a record cannot become an event.
const REQUIRED: [Field; 3] = [
    Field::TrackingNumber,
    Field::CarrierStatusCode,
    Field::EventDate,
];

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

    /// Parses and validates a profile. `origin` names it in errors (a built-in name or a path).
    pub fn from_toml(text: &str, origin: &str) -> Result<Profile, ProfileError> {
        let raw: ProfileToml = toml::from_str(text).map_err(|source| ProfileError::Toml {
            origin: origin.to_owned(),
            source,
        })?;
        let profile = raw.name.clone();

        let delimiter = match raw.delimiter.as_bytes() {
            [b] => *b,
            _ => {
                return Err(ProfileError::BadDelimiter {
                    profile,
                    delimiter: raw.delimiter,
                });
            }
        };

        let mut columns = BTreeMap::new();
        for (key, header) in raw.columns {
            let field = Field::from_key(&key).ok_or_else(|| ProfileError::UnknownField {
                profile: profile.clone(),
                field: key.clone(),
                known: Field::ALL.map(Field::key).join(", "),
            })?;
            columns.insert(field, header);
        }
        let is_file = raw.format != Format::Api;
        if !is_file && !columns.is_empty() {
            return Err(ProfileError::ColumnsForApi { profile });
        }
        for field in REQUIRED.into_iter().filter(|_| is_file) {
            if !columns.contains_key(&field) {
                return Err(ProfileError::MissingField {
                    profile,
                    field: field.key(),
                });
            }
        }

        let zone = match (
            &raw.datetime.timezone,
            columns.contains_key(&Field::UtcOffset),
        ) {
            // An API's timestamps carry their own zone (or none, and stay local).
            _ if !is_file => Zone::Named(Tz::UTC),
            (Some(tz), _) => {
                Zone::Named(
                    tz.parse::<Tz>()
                        .map_err(|_| ProfileError::UnknownTimezone {
                            profile: profile.clone(),
                            timezone: tz.clone(),
                        })?,
                )
            }
            (None, true) => Zone::OffsetColumn,
            (None, false) => return Err(ProfileError::NoZone { profile }),
        };
        check_format(&profile, "date_format", &raw.datetime.date_format)?;
        check_format(&profile, "time_format", &raw.datetime.time_format)?;

        let mut status_map = BTreeMap::new();
        for (carrier_code, (status, detail)) in raw.status_map {
            let status = StandardizedStatusCode::known(&status).ok_or_else(|| {
                ProfileError::UnknownStatusCode {
                    profile: profile.clone(),
                    carrier_code: carrier_code.clone(),
                    code: status.clone(),
                }
            })?;
            let detail = StandardizedStatusDetailCode::known(&detail).ok_or_else(|| {
                ProfileError::UnknownDetailCode {
                    profile: profile.clone(),
                    carrier_code: carrier_code.clone(),
                    code: detail.clone(),
                }
            })?;
            status_map.insert(carrier_code, StatusPair { status, detail });
        }

        Ok(Profile {
            name: raw.name,
            carrier_name: raw.carrier_name,
            format: raw.format,
            delimiter,
            columns,
            datetime: DateTimeSpec {
                date_format: raw.datetime.date_format,
                time_format: raw.datetime.time_format,
                zone,
            },
            status_map,
        })
    }
}

/// Rejects chrono formats with unknown specifiers, so a typo fails at load, not on every record.
fn check_format(profile: &str, key: &'static str, format: &str) -> Result<(), ProfileError> {
    use chrono::format::{Item, StrftimeItems};
    if StrftimeItems::new(format).any(|item| matches!(item, Item::Error)) {
        return Err(ProfileError::BadFormat {
            profile: profile.to_owned(),
            key,
            format: format.to_owned(),
        });
    }
    Ok(())
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
        assert_eq!(p.columns[&Field::TrackingNumber], "TrackingNumber");
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
}
