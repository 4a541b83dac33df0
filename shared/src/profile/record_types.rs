//! Header/detail files: rows of several kinds in one file, told apart by a record-type column.
//! A shipment's header row (`role = "context"`) carries what its event rows (`role = "event"`)
//! leave out, trailers and file headers are `role = "ignore"`:
//!
//! ```toml
//! record_type = { start = 1, len = 1 }      # csv: a column name, or a position when headerless
//! [record_types.H]
//! role = "context"
//! columns = { tracking_number = { start = 2, len = 18 } }
//! [record_types.D]
//! role = "event"
//! columns = { carrier_status_code = { start = 2, len = 2 }, event_date = { start = 4, len = 8 } }
//! [record_types.T]
//! role = "ignore"
//! ```
//!
//! Parsed and validated here, apart from the rest of the profile, so a bad type fails at load
//! naming its key. The reader's typed layer (`reader::typed`) applies it.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

use super::{Column, Field, Format, column, not_for};
use crate::error::ProfileError;

/// What the rows of one type are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A header row: its values apply to every event row after it, until the next row of its
    /// type.
    Context,
    /// A row that becomes one event.
    Event,
    /// A row that is skipped: file headers, trailers, counts.
    Ignore,
}

/// One record type: its role and where its fields are in its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordType {
    pub role: Role,
    pub columns: BTreeMap<Field, Column>,
}

/// A profile's record types: where a row says its type, and each type by that value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordTypes {
    /// The column holding each row's type, in the format's shape (name, position or span).
    pub column: Column,
    /// By the type's value as read, trimmed.
    pub types: BTreeMap<String, RecordType>,
}

impl RecordTypes {
    /// Every field a context or event type maps: the fields each event record carries, in
    /// [`Field`] order.
    pub fn fields(&self) -> BTreeSet<Field> {
        self.types
            .values()
            .filter(|t| t.role != Role::Ignore)
            .flat_map(|t| t.columns.keys().copied())
            .collect()
    }
}

/// `[record_types.<type>]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RecordTypeToml {
    role: Role,
    #[serde(default)]
    columns: BTreeMap<String, toml::Value>,
}

/// What the profile's format allows a column to be: the arguments of [`column`].
#[derive(Clone, Copy)]
pub(super) struct Shape<'a> {
    pub profile: &'a str,
    pub format: Format,
    pub has_headers: bool,
}

fn bad(profile: &str, key: impl Into<String>, reason: impl Into<String>) -> ProfileError {
    ProfileError::BadRecordTypes {
        profile: profile.to_owned(),
        key: key.into(),
        reason: reason.into(),
    }
}

/// `record_type` and `[record_types]`, validated: `None` for a profile without them. A typed
/// profile maps its columns per type, so `has_columns` (a non-empty `[columns]`) is an error.
pub(super) fn parse(
    shape: Shape<'_>,
    record_type: Option<toml::Value>,
    record_types: Option<BTreeMap<String, RecordTypeToml>>,
    has_columns: bool,
) -> Result<Option<RecordTypes>, ProfileError> {
    let profile = shape.profile;
    let (record_type, record_types) = match (record_type, record_types) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(bad(
                profile,
                "record_type",
                "needs [record_types.<type>] tables saying what each type's rows are",
            ));
        }
        (None, Some(_)) => {
            return Err(bad(
                profile,
                "record_types",
                "needs `record_type`, the column that holds each row's type",
            ));
        }
        (Some(column), Some(types)) => (column, types),
    };
    if !matches!(shape.format, Format::Csv | Format::Fixed) {
        return Err(not_for(profile, "record_type", shape.format));
    }
    if has_columns {
        return Err(bad(
            profile,
            "columns",
            "a profile with record_type maps its columns per type, in [record_types.<type>] \
             columns, not in [columns]",
        ));
    }
    let column = typed_column(shape, "record_type", Field::TrackingNumber, record_type)?;
    let mut types = BTreeMap::new();
    for (name, raw) in record_types {
        let key = format!("record_types.{}", super::toml_key(&name));
        check_name(profile, &key, &name, &column)?;
        types.insert(name, record_type_of(shape, &key, raw)?);
    }
    let types = RecordTypes { column, types };
    check_coverage(profile, &types)?;
    Ok(Some(types))
}

/// A type's value is compared trimmed, and a span holds at most `len` characters: a name that
/// no row can carry is a mistake.
fn check_name(profile: &str, key: &str, name: &str, column: &Column) -> Result<(), ProfileError> {
    if name.is_empty() || name.trim() != name {
        return Err(bad(
            profile,
            key,
            "a record type is matched trimmed: its name cannot be empty or start or end with a space",
        ));
    }
    if let Column::Span { len, .. } = column
        && name.chars().count() > *len
    {
        return Err(bad(
            profile,
            key,
            format!("longer than record_type's span of {len} characters"),
        ));
    }
    Ok(())
}

/// One `[record_types.<type>]`.
fn record_type_of(
    shape: Shape<'_>,
    key: &str,
    raw: RecordTypeToml,
) -> Result<RecordType, ProfileError> {
    let profile = shape.profile;
    match raw.role {
        Role::Ignore if !raw.columns.is_empty() => {
            return Err(bad(
                profile,
                format!("{key}.columns"),
                "a type with role = \"ignore\" reads no columns",
            ));
        }
        Role::Context if raw.columns.is_empty() => {
            return Err(bad(
                profile,
                format!("{key}.columns"),
                "a type with role = \"context\" needs columns to carry",
            ));
        }
        _ => {}
    }
    let mut columns = BTreeMap::new();
    for (name, value) in raw.columns {
        let field_key = format!("{key}.columns.{}", super::toml_key(&name));
        let field = Field::from_key(&name).ok_or_else(|| {
            bad(
                profile,
                &field_key,
                format!(
                    "unknown Connect field `{name}`; known fields: {}",
                    Field::ALL.map(Field::key).join(", ")
                ),
            )
        })?;
        columns.insert(field, typed_column(shape, &field_key, field, value)?);
    }
    Ok(RecordType {
        role: raw.role,
        columns,
    })
}

/// A column in the format's shape, with an error naming `key` (the shape rules are those of
/// `[columns]`; its error is re-keyed).
fn typed_column(
    shape: Shape<'_>,
    key: &str,
    field: Field,
    value: toml::Value,
) -> Result<Column, ProfileError> {
    column(shape.profile, shape.format, shape.has_headers, field, value).map_err(|err| match err {
        ProfileError::BadColumn { reason, .. } => bad(shape.profile, key, reason),
        other => other,
    })
}

/// At least one event type, and the fields an event needs, from context or event types.
fn check_coverage(profile: &str, types: &RecordTypes) -> Result<(), ProfileError> {
    if !types.types.values().any(|t| t.role == Role::Event) {
        return Err(bad(
            profile,
            "record_types",
            "no type has role = \"event\": no row would become an event",
        ));
    }
    let fields = types.fields();
    for field in [Field::TrackingNumber, Field::CarrierStatusCode] {
        if !fields.contains(&field) {
            return Err(bad(
                profile,
                "record_types",
                format!("no context or event type maps `{}`", field.key()),
            ));
        }
    }
    if !fields.contains(&Field::EventDate) && !fields.contains(&Field::EventDateTime) {
        return Err(bad(
            profile,
            "record_types",
            "no context or event type maps the event time: `event_date` (and `event_time`) or \
             `event_datetime`",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    const EXAMPLE: &str = include_str!("../../../profiles/examples/header-detail.toml");

    fn load(text: &str) -> Result<Profile, String> {
        Profile::from_toml(text, "s3://cfg/hd.toml").map_err(|e| crate::report(&e))
    }

    fn span(start: usize, len: usize) -> Column {
        Column::Span { start, len }
    }

    #[test]
    fn the_example_loads_with_its_roles_and_spans() {
        let p = load(EXAMPLE).unwrap();
        assert!(p.columns.is_empty());
        let types = p.record_types.as_ref().unwrap();
        assert_eq!(types.column, span(1, 1));
        let roles: Vec<(&str, Role)> = types
            .types
            .iter()
            .map(|(name, t)| (name.as_str(), t.role))
            .collect();
        assert_eq!(
            roles,
            [
                ("D", Role::Event),
                ("F", Role::Ignore),
                ("H", Role::Context),
                ("T", Role::Ignore)
            ]
        );
        assert_eq!(
            types.types["H"].columns[&Field::TrackingNumber],
            span(2, 12)
        );
        assert_eq!(types.types["D"].columns[&Field::Weight], span(32, 6));
        assert_eq!(
            types.fields().into_iter().collect::<Vec<_>>(),
            [
                Field::TrackingNumber,
                Field::CarrierStatusCode,
                Field::EventDate,
                Field::EventTime,
                Field::City,
                Field::State,
                Field::ServiceCode,
                Field::Weight,
            ]
        );
        let named = p.record_columns();
        assert_eq!(named.len(), 8);
        assert_eq!(
            named[&Field::ServiceCode],
            Column::Name("service_code".into())
        );
    }

    #[test]
    fn csv_types_take_header_names_or_positions() {
        let text = "name = \"c\"\ncarrier_name = \"C\"\nrecord_type = \"Type\"\n\
                    [record_types.S]\nrole = \"context\"\ncolumns = { tracking_number = \"Tn\" }\n\
                    [record_types.E]\nrole = \"event\"\n\
                    columns = { carrier_status_code = \"Code\", event_date = \"Date\" }\n\
                    [datetime]\ntimezone = \"UTC\"\n";
        let p = load(text).unwrap();
        let types = p.record_types.unwrap();
        assert_eq!(types.column, Column::Name("Type".into()));
        assert_eq!(
            types.types["E"].columns[&Field::EventDate],
            Column::Name("Date".into())
        );

        let headerless = text
            .replace(
                "record_type = \"Type\"",
                "has_headers = false\nrecord_type = 1",
            )
            .replace("\"Tn\"", "2")
            .replace("\"Code\"", "2")
            .replace("\"Date\"", "3");
        let types = load(&headerless).unwrap().record_types.unwrap();
        assert_eq!(types.column, Column::Position(1));
        assert_eq!(
            types.types["E"].columns[&Field::EventDate],
            Column::Position(3)
        );
        let err = load(&text.replace("\"Tn\"", "2")).unwrap_err();
        assert!(
            err.contains(
                "record_types.S.columns.tracking_number: a position needs has_headers = false"
            ),
            "{err}"
        );
    }

    #[test]
    fn mistakes_fail_to_load_naming_the_key() {
        let cases: [(&str, &str, &str); 12] = [
            (
                "record_type = { start = 1, len = 1 }\n",
                "",
                "profile `header-detail` (s3://cfg/hd.toml): record_types: needs `record_type`",
            ),
            (
                "[datetime]",
                "[columns]\ncity = { start = 40, len = 2 }\n\n[datetime]",
                "columns: a profile with record_type maps its columns per type",
            ),
            (
                "format = \"fixed\"\n",
                "format = \"jsonl\"\n",
                "`record_type` does not apply to format = \"jsonl\"",
            ),
            (
                "city = { start = 16, len = 14 }",
                "town = { start = 16, len = 14 }",
                "record_types.D.columns.town: unknown Connect field `town`; known fields: \
                 tracking_number, carrier_status_code",
            ),
            (
                "event_date = { start = 4, len = 8 }",
                "event_date = { start = 4 }",
                "record_types.D.columns.event_date: a span needs both start and len",
            ),
            (
                "record_type = { start = 1, len = 1 }",
                "record_type = \"Type\"",
                "record_type: expected a character span",
            ),
            (
                "[record_types.T]\nrole = \"ignore\"\n",
                "[record_types.T]\nrole = \"ignore\"\ncolumns = { city = { start = 2, len = 3 } }\n",
                "record_types.T.columns: a type with role = \"ignore\" reads no columns",
            ),
            (
                "[record_types.T]\nrole = \"ignore\"\n",
                "[record_types.T]\nrole = \"context\"\n",
                "record_types.T.columns: a type with role = \"context\" needs columns",
            ),
            (
                "[record_types.D]\nrole = \"event\"",
                "[record_types.D]\nrole = \"context\"",
                "record_types: no type has role = \"event\"",
            ),
            (
                "carrier_status_code = { start = 2, len = 2 }\n",
                "",
                "record_types: no context or event type maps `carrier_status_code`",
            ),
            (
                "event_date = { start = 4, len = 8 }\nevent_time = { start = 12, len = 4 }\n",
                "",
                "record_types: no context or event type maps the event time",
            ),
            (
                "[record_types.T]",
                "[record_types.TR]",
                "record_types.TR: longer than record_type's span of 1 characters",
            ),
        ];
        for (from, to, says) in cases {
            assert!(EXAMPLE.contains(from), "{from}");
            let err = load(&EXAMPLE.replacen(from, to, 1)).unwrap_err();
            assert!(err.contains(says), "{to}: {err}");
        }
        let untyped = "name = \"u\"\ncarrier_name = \"U\"\nrecord_type = \"Type\"\n[columns]\n\
                       tracking_number = \"tn\"\ncarrier_status_code = \"code\"\nevent_date = \"d\"\n\
                       [datetime]\ntimezone = \"UTC\"\n";
        let err = load(untyped).unwrap_err();
        assert!(
            err.contains("record_type: needs [record_types.<type>] tables"),
            "{err}"
        );
        for (from, to, says) in [
            (
                "role = \"ignore\"",
                "role = \"header\"",
                "unknown variant `header`",
            ),
            (
                "[record_types.D.columns]",
                "[record_types.D.colums]",
                "unknown field `colums`",
            ),
            (
                "[record_types.T]",
                "[record_types.\" T\"]",
                "cannot be empty or start or end",
            ),
        ] {
            let err = load(&EXAMPLE.replacen(from, to, 1)).unwrap_err();
            assert!(err.contains(says), "{to}: {err}");
        }
    }
}
