//! From one raw record to one Connect `ImportedTrackingEvent`, following a profile.
//!
//! The mapper borrows the record's text wherever it can (`Cow::Borrowed`), so the hot path
//! allocates only the strings it has to compute (timestamps, warnings). The same generic model
//! types serialize both this borrowed form and the owned one, so they cannot drift apart.

use std::borrow::Cow;
use std::collections::HashMap;

use chrono::NaiveDateTime;

use csv_async::{ByteRecord, StringRecord};

use crate::datetime::{self, DateTimeParser, Reading, Resolved};
use crate::error::{ReadError, RejectReason, Rejection};
use crate::models::{
    Dimensions, Geo, ImportedTrackingEvent, Service, StandardizedStatusCode,
    StandardizedStatusDetailCode, TrackEvent, TrackingInfo, UpdateMethod,
};
use crate::profile::{Column, Field, Part, Profile, StatusPair, Zone};
use crate::reader::Record;
use crate::verbatim::{self, Verbatim};

/// An event borrowing from the record it was mapped from.
pub type EventRef<'r> = ImportedTrackingEvent<Cow<'r, str>>;

const UNMAPPED: StatusPair = StatusPair {
    status: StandardizedStatusCode::Unknown,
    detail: StandardizedStatusDetailCode::CarrierStatusNotMapped,
};

/// An event's time in UTC (when its zone is known) and local, as ISO 8601.
type EventTimes<'r> = (Option<Cow<'r, str>>, Cow<'r, str>);

/// `when` as ISO 8601: written into `buffer` and borrowed from it when there is one (which
/// `verbatim` then holds: ISO 8601 needs no JSON escaping), else allocated.
fn event_times<'r>(
    when: &Resolved,
    buffer: Option<&'r mut String>,
    verbatim: &mut Verbatim<'r>,
) -> EventTimes<'r> {
    let Some(buffer) = buffer else {
        return (
            when.utc.map(|utc| Cow::Owned(datetime::iso8601(utc, "Z"))),
            Cow::Owned(datetime::iso8601(when.local, "")),
        );
    };
    buffer.clear();
    if let Some(utc) = when.utc {
        datetime::write_iso8601(buffer, utc, "Z");
    }
    let split = buffer.len();
    datetime::write_iso8601(buffer, when.local, "");
    let text: &'r str = buffer;
    verbatim.times = text.as_bytes();
    (
        when.utc.map(|_| Cow::Borrowed(&text[..split])),
        Cow::Borrowed(&text[split..]),
    )
}

/// One record's mapped fields as the mapper reads them, per [`Field`].
struct Row<'r> {
    slots: [Slot<'r>; Field::ALL.len()],
}

impl Row<'_> {
    /// Every field blank, for [`Mapper::read_row`] to fill.
    const BLANK: Self = Row {
        slots: [Slot::Blank; Field::ALL.len()],
    };
}

/// A field of a [`Row`].
#[derive(Clone, Copy)]
enum Slot<'r> {
    /// Unmapped, missing or empty.
    Blank,
    /// Trimmed (and cut to the profile's part of it, if any).
    Text(&'r str),
    /// Not valid text in the file's encoding: rejects the record when the mapper reads it.
    InvalidUtf8,
    /// Holds a NUL byte: rejects the record when the mapper reads it.
    Nul,
}

/// The shipment's fields beside the event's, as [`Mapper::shipment`] reads them.
struct Shipment<'r> {
    shipped: Option<Cow<'r, str>>,
    delivered: Option<Cow<'r, str>>,
    problem: Option<bool>,
    problem_code: Option<Cow<'r, str>>,
    problem_description: Option<Cow<'r, str>>,
    packaging: Option<Cow<'r, str>>,
    package_count: Option<u32>,
    dimensions: Option<Dimensions>,
}

/// A profile bound to one file's header.
#[derive(Debug, Clone)]
pub struct Mapper {
    carrier_name: String,
    profile_name: String,
    /// Column index per [`Field`], `None` where the profile does not map the field.
    index: [Option<usize>; Field::ALL.len()],
    /// The mapped fields and their columns, for reading a record's once.
    mapped: Vec<(Field, usize)>,
    /// Column name per [`Field`] (header, `#position` or character span), for messages.
    names: [String; Field::ALL.len()],
    /// The part of its value a field keeps, per [`Field`] (most keep all of it).
    parts: [Option<Part>; Field::ALL.len()],
    datetime: DateTimeParser,
    zone: Zone,
    status_map: HashMap<String, StatusPair>,
    /// Carrier code → detail code → pair; empty for one-level carriers (then never consulted).
    detail_map: HashMap<String, HashMap<String, StatusPair>>,
    /// `None` for append, Connect's default, which the JSON leaves out.
    update_method: Option<UpdateMethod>,
}

impl Mapper {
    /// Binds `profile` to a file whose header is `headers`. Every column the profile names must
    /// be present (in any order; extra columns are ignored). Columns given by position or span
    /// need no header: a headerless CSV record is read as it is, and a fixed-width record has
    /// one field per mapped column, in [`Field`] order.
    pub fn new(profile: &Profile, headers: &ByteRecord) -> Result<Mapper, ReadError> {
        let header_names = crate::reader::header_names(headers);
        if let [only] = header_names[..]
            && profile
                .columns
                .values()
                .any(|c| matches!(c, Column::Name(name) if name.as_bytes() != only))
            && let Some(found) = other_delimiter(only, profile)
        {
            return Err(ReadError::WrongDelimiter {
                profile: profile.name.clone(),
                expected: char::from(profile.delimiter),
                found: char::from(found),
            });
        }
        let (index, names) = bind(profile, &header_names)?;
        let spec = &profile.datetime;
        let mut datetime = DateTimeParser::new(&spec.date_format, &spec.time_format);
        if let Some(format) = &spec.datetime_format {
            datetime = datetime.with_datetime(format);
        }
        for (code, format) in &spec.datetime_formats {
            datetime = datetime.with_coded(code, format);
        }
        Ok(Mapper {
            carrier_name: profile.carrier_name.clone(),
            profile_name: profile.name.clone(),
            mapped: Field::ALL
                .into_iter()
                .filter_map(|f| Some((f, index[f.index()]?)))
                .collect(),
            index,
            names,
            parts: std::array::from_fn(|i| profile.parts.get(&Field::ALL[i]).copied()),
            datetime,
            zone: spec.zone.clone(),
            status_map: profile
                .status_map
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            detail_map: profile
                .detail_map
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.iter().map(|(d, p)| (d.clone(), p.clone())).collect(),
                    )
                })
                .collect(),
            update_method: match profile.update_method {
                UpdateMethod::Append => None,
                UpdateMethod::Replace => Some(UpdateMethod::Replace),
            },
        })
    }

    /// Maps one record, or says why it is rejected.
    pub fn map<'r>(&'r self, record: &'r Record) -> Result<EventRef<'r>, Rejection> {
        self.map_fields(record, None, &mut Verbatim::default())
            .map_err(|reason| Rejection {
                position: record.position,
                reason,
            })
    }

    /// [`Mapper::map`], writing the event's times into `times` (the caller's, reused from
    /// record to record) instead of allocating them, and saying which of its numbers can be
    /// written as their text: what an import does for every record.
    #[inline]
    pub fn map_in<'r>(
        &'r self,
        record: &'r Record,
        times: &'r mut String,
    ) -> Result<(EventRef<'r>, Verbatim<'r>), Rejection> {
        let mut verbatim = Verbatim::default();
        match self.map_fields(record, Some(times), &mut verbatim) {
            Ok(event) => Ok((event, verbatim)),
            Err(reason) => Err(Rejection {
                position: record.position,
                reason,
            }),
        }
    }

    /// Inlined into [`Mapper::map`] and [`Mapper::map_in`], which then build the event in
    /// place: it is one expression with every field named, not moved into place (the event is
    /// about 500 bytes; moving it was several `memcpy` calls per record). A mapped delivery
    /// time wins over the one a delivered status gives.
    #[inline(always)]
    fn map_fields<'r>(
        &'r self,
        rec: &'r Record,
        times: Option<&'r mut String>,
        verbatim: &mut Verbatim<'r>,
    ) -> Result<EventRef<'r>, RejectReason> {
        if let Some(reason) = &rec.malformed {
            return Err(RejectReason::Malformed(reason.clone()));
        }
        let mut row = Row::BLANK;
        self.read_row(rec, &mut row, verbatim);
        let text = |field: Field| self.text(&row, field);
        let tracking_number =
            text(Field::TrackingNumber)?.ok_or(RejectReason::MissingTrackingNumber)?;
        let when = self.event_time(&row)?;
        let mut warnings: Vec<Cow<'r, str>> = Vec::new();
        self.time_warnings(&row, &when, &mut warnings)?;
        let carrier_code = text(Field::CarrierStatusCode)?;
        let detail_code = text(Field::CarrierDetailCode)?;
        let pair = self.status_or_unmapped(carrier_code, detail_code, &mut warnings);
        let geo = self.geo(&row, verbatim)?;
        let weight = self.measure(&row, Field::Weight, &mut warnings, &mut verbatim.weight)?;
        let estimated = self.estimated(&row, &mut warnings)?;
        let service = self.service(&row)?;
        let times = event_times(&when, times, verbatim);
        let event = self.scan(&row, times, (carrier_code, detail_code), pair, geo)?;
        let carrier_name = text(Field::CarrierName)?.unwrap_or(&self.carrier_name);
        let shipment = self.shipment(&row, &mut warnings, verbatim)?;
        Ok(ImportedTrackingEvent {
            tracking_info: Some(TrackingInfo {
                carrier_name: Some(Cow::Borrowed(carrier_name)),
                tracking_number: Some(Cow::Borrowed(tracking_number)),
                standardized_status_code: Some(pair.status.clone()),
                standardized_status_detail_code: Some(pair.detail.clone()),
                carrier_status_code: carrier_code.map(Cow::Borrowed),
                carrier_detail_code: event.carrier_detail_code.clone(),
                carrier_status_description: event.description.clone(),
                shipped_datetime: shipment.shipped,
                estimated_delivery_datetime: estimated,
                actual_delivery_datetime: shipment.delivered.or_else(|| {
                    pair.delivered()
                        .then(|| event.event_datetime.clone())
                        .flatten()
                }),
                shipping_problem: shipment.problem,
                shipping_problem_code: shipment.problem_code,
                shipping_problem_description: shipment.problem_description,
                error_description: None,
                weight,
                dimensions: shipment.dimensions,
                service,
                packaging: shipment.packaging,
                package_count: shipment.package_count,
                events: Some(vec![event]),
            }),
            update_method: self.update_method,
            error_messages: None,
            warning_messages: (!warnings.is_empty()).then_some(warnings),
        })
    }

    /// What the event's time needs said: a local time that daylight saving repeats, an X12
    /// time code that is not one.
    fn time_warnings<'r>(
        &self,
        row: &Row<'r>,
        when: &Resolved,
        warnings: &mut Vec<Cow<'r, str>>,
    ) -> Result<(), RejectReason> {
        if when.ambiguous {
            warnings.push(Cow::Owned(format!(
                "local time {} is ambiguous (repeated by a daylight-saving change); the earlier instant was used",
                datetime::iso8601(when.local, "")
            )));
        }
        if self.zone == Zone::X12Codes
            && let Some(code) = self.text(row, Field::UtcOffset)?
            && datetime::x12_time(code).is_none()
        {
            warnings.push(Cow::Owned(format!(
                "time code {code:?} is not an X12 time code (list 623); the time is sent as local time only"
            )));
        }
        Ok(())
    }

    /// The scan event itself: when, where, and its codes. A mapped `event_code` column replaces
    /// the carrier status code as the event's code.
    fn scan<'r>(
        &'r self,
        row: &Row<'r>,
        (utc, local): EventTimes<'r>,
        (carrier_code, detail_code): (Option<&'r str>, Option<&'r str>),
        pair: &StatusPair,
        geo: Option<Geo>,
    ) -> Result<TrackEvent<Cow<'r, str>>, RejectReason> {
        let text = |field: Field| Ok::<_, RejectReason>(self.text(row, field)?.map(Cow::Borrowed));
        Ok(TrackEvent {
            event_datetime: utc,
            event_datetime_local: Some(local),
            description: text(Field::CarrierStatusDescription)?,
            city: text(Field::City)?,
            state: text(Field::State)?,
            postal_code: text(Field::PostalCode)?,
            country: text(Field::Country)?,
            company: text(Field::Company)?,
            signer: text(Field::Signer)?,
            event_code: text(Field::EventCode)?.or(carrier_code.map(Cow::Borrowed)),
            carrier_detail_code: detail_code.map(Cow::Borrowed),
            proof_of_delivery_url: text(Field::ProofOfDeliveryUrl)?,
            geo,
            status_code: Some(pair.status.clone()),
            status_detail_code: Some(pair.detail.clone()),
        })
    }

    /// The shipment's other Connect fields: shipped and delivered times, problem, packaging,
    /// package count and dimensions. A value that does not read is left out with a warning.
    fn shipment<'r>(
        &'r self,
        row: &Row<'r>,
        warnings: &mut Vec<Cow<'r, str>>,
        verbatim: &mut Verbatim<'r>,
    ) -> Result<Shipment<'r>, RejectReason> {
        let text = |field: Field| Ok::<_, RejectReason>(self.text(row, field)?.map(Cow::Borrowed));
        let shipped = self.instant(row, Field::ShippedDatetime, warnings)?;
        let delivered = self.instant(row, Field::ActualDeliveryDatetime, warnings)?;
        let problem = self.flag(row, Field::ShippingProblem, warnings)?;
        let problem_code = text(Field::ShippingProblemCode)?;
        let problem_description = text(Field::ShippingProblemDescription)?;
        let packaging = text(Field::Packaging)?;
        let package_count = self.count(row, Field::PackageCount, warnings)?;
        let dimensions = Dimensions {
            length: self.measure(row, Field::Length, warnings, &mut verbatim.length)?,
            width: self.measure(row, Field::Width, warnings, &mut verbatim.width)?,
            height: self.measure(row, Field::Height, warnings, &mut verbatim.height)?,
        };
        Ok(Shipment {
            shipped,
            delivered,
            problem,
            problem_code,
            problem_description,
            packaging,
            package_count,
            dimensions: (dimensions != Dimensions::default()).then_some(dimensions),
        })
    }

    /// The service code and name, when either is there.
    fn service<'r>(&self, row: &Row<'r>) -> Result<Option<Service<Cow<'r, str>>>, RejectReason> {
        let code = self.text(row, Field::ServiceCode)?;
        let name = self.text(row, Field::ServiceName)?;
        Ok((code.is_some() || name.is_some()).then(|| Service {
            code: code.map(Cow::Borrowed),
            name: name.map(Cow::Borrowed),
        }))
    }

    /// The standardized pair for a carrier code, or [`UNMAPPED`] with a warning saying so.
    fn status_or_unmapped<'r>(
        &'r self,
        carrier_code: Option<&str>,
        detail_code: Option<&str>,
        warnings: &mut Vec<Cow<'r, str>>,
    ) -> &'r StatusPair {
        if let Some(pair) = self.status(carrier_code, detail_code) {
            return pair;
        }
        let detail = match detail_code {
            Some(d) if !self.detail_map.is_empty() => format!(" (detail code {d:?})"),
            _ => String::new(),
        };
        warnings.push(Cow::Owned(format!(
            "carrier status code {:?}{detail} is not in the status map of profile `{}`",
            carrier_code.unwrap_or(""),
            self.profile_name
        )));
        &UNMAPPED
    }

    /// Latitude and longitude, when both are there and on the globe.
    fn geo<'r>(
        &self,
        row: &Row<'r>,
        verbatim: &mut Verbatim<'r>,
    ) -> Result<Option<Geo>, RejectReason> {
        Ok(
            match (
                self.number(row, Field::Latitude)?,
                self.number(row, Field::Longitude)?,
            ) {
                (Some((lat, lat_text)), Some((long, long_text)))
                    if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&long) =>
                {
                    (verbatim.lat, verbatim.long) = (lat_text, long_text);
                    Some(Geo { lat, long })
                }
                _ => None,
            },
        )
    }

    /// A column's value as `parse` reads it, or nothing with a warning saying it is not `what`:
    /// a value that does not read is left out, never fatal.
    fn read_or_warn<'r, T>(
        &self,
        row: &Row<'r>,
        (field, label): (Field, &str),
        what: &str,
        warnings: &mut Vec<Cow<'r, str>>,
        parse: impl FnOnce(&'r str) -> Option<T>,
    ) -> Result<Option<T>, RejectReason> {
        let Some(v) = self.text(row, field)? else {
            return Ok(None);
        };
        let parsed = parse(v);
        if parsed.is_none() {
            warnings.push(Cow::Owned(format!("{label} {v:?} is not {what}; omitted")));
        }
        Ok(parsed)
    }

    /// A weight or dimension, or nothing with a warning when it is not a non-negative number;
    /// its text goes to `verbatim` when the JSON can carry it as it is.
    fn measure<'r>(
        &self,
        row: &Row<'r>,
        field: Field,
        warnings: &mut Vec<Cow<'r, str>>,
        verbatim: &mut Option<&'r str>,
    ) -> Result<Option<f64>, RejectReason> {
        self.read_or_warn(row, (field, field.key()), "a number", warnings, |v| {
            let (n, text) = read_number(v).filter(|(n, _)| *n >= 0.0)?;
            *verbatim = text;
            Some(n)
        })
    }

    /// A package count, or nothing with a warning when it is not a whole number from 0.
    fn count<'r>(
        &self,
        row: &Row<'r>,
        field: Field,
        warnings: &mut Vec<Cow<'r, str>>,
    ) -> Result<Option<u32>, RejectReason> {
        let what = "a whole number from 0";
        self.read_or_warn(row, (field, field.key()), what, warnings, |v| {
            v.parse().ok()
        })
    }

    /// A yes/no column (`true`/`false`, `yes`/`no`, `y`/`n`, `1`/`0`, any case), or nothing with
    /// a warning when it is none of these.
    fn flag<'r>(
        &self,
        row: &Row<'r>,
        field: Field,
        warnings: &mut Vec<Cow<'r, str>>,
    ) -> Result<Option<bool>, RejectReason> {
        let what = "true or false (yes/no, y/n, 1/0)";
        self.read_or_warn(row, (field, field.key()), what, warnings, |v| {
            let is = |words: [&str; 4]| words.iter().any(|w| v.eq_ignore_ascii_case(w));
            if is(["true", "yes", "y", "1"]) {
                Some(true)
            } else if is(["false", "no", "n", "0"]) {
                Some(false)
            } else {
                None
            }
        })
    }

    /// A shipped or delivered time as ISO 8601 (see [`Mapper::moment`]), or nothing with a
    /// warning when it does not read.
    fn instant<'r>(
        &self,
        row: &Row<'r>,
        field: Field,
        warnings: &mut Vec<Cow<'r, str>>,
    ) -> Result<Option<Cow<'r, str>>, RejectReason> {
        let what = "a date or date-time";
        self.read_or_warn(row, (field, field.key()), what, warnings, |v| {
            self.moment(row, v).map(Cow::Owned)
        })
    }

    /// The estimated delivery as ISO 8601, or nothing with a warning when it is not a date.
    fn estimated<'r>(
        &self,
        row: &Row<'r>,
        warnings: &mut Vec<Cow<'r, str>>,
    ) -> Result<Option<Cow<'r, str>>, RejectReason> {
        let field = (Field::EstimatedDelivery, "estimated delivery");
        self.read_or_warn(row, field, "a date or date-time", warnings, |v| {
            self.estimated_delivery(v).map(Cow::Owned)
        })
    }

    /// The standardized pair for a carrier code: by code and detail code first (two-level
    /// carriers), then by the code alone.
    #[inline]
    fn status(&self, code: Option<&str>, detail: Option<&str>) -> Option<&StatusPair> {
        let code = code?;
        if !self.detail_map.is_empty()
            && let Some(pair) = detail.and_then(|d| self.detail_map.get(code)?.get(d))
        {
            return Some(pair);
        }
        self.status_map.get(code)
    }

    /// Reads the record's mapped fields into a blank `row`, each once (the mapper asks for some
    /// of them several times), where it is: a `Row` is most of a kilobyte, and returning one was
    /// a copy. Whether the record needs JSON escaping anywhere is looked at once and said in
    /// `verbatim`; a NUL byte is looked for field by field only when it does.
    #[inline(always)]
    fn read_row<'r>(&self, rec: &'r Record, row: &mut Row<'r>, verbatim: &mut Verbatim<'r>) {
        let text = rec.fields.as_byte_record().as_slice();
        let plain = !verbatim::needs_escape(text);
        let nul = !plain && memchr::memchr(0, text).is_some();
        if plain {
            verbatim.plain = text;
        }
        for &(field, i) in &self.mapped {
            row.slots[field.index()] = if rec.invalid_utf8.contains(&i) {
                Slot::InvalidUtf8
            } else {
                let text = field_text(&rec.fields, i);
                match (text, self.parts[field.index()]) {
                    (Some(t), _) if nul && t.as_bytes().contains(&0) => Slot::Nul,
                    (Some(t), Some(part)) => Some(part.of(t).trim_ascii())
                        .filter(|t| !t.is_empty())
                        .map_or(Slot::Blank, Slot::Text),
                    (text, _) => text.map_or(Slot::Blank, Slot::Text),
                }
            };
        }
    }

    /// The trimmed text of a mapped column; `None` when unmapped, missing or empty.
    #[inline]
    fn text<'r>(&self, row: &Row<'r>, field: Field) -> Result<Option<&'r str>, RejectReason> {
        match row.slots[field.index()] {
            Slot::Blank => Ok(None),
            Slot::Text(text) => Ok(Some(text)),
            Slot::InvalidUtf8 => Err(RejectReason::InvalidUtf8 {
                column: self.names[field.index()].clone(),
            }),
            Slot::Nul => Err(RejectReason::NulByte {
                column: self.names[field.index()].clone(),
            }),
        }
    }

    /// A finite number, and its text when the JSON can carry that as it is.
    fn number<'r>(
        &self,
        row: &Row<'r>,
        field: Field,
    ) -> Result<Option<(f64, Option<&'r str>)>, RejectReason> {
        Ok(self.text(row, field)?.and_then(read_number))
    }

    fn event_time(&self, row: &Row) -> Result<Resolved, RejectReason> {
        let column = |f: Field| self.names[f.index()].clone();
        let local = if self.index[Field::EventDateTime.index()].is_some() {
            match self.combined(row)? {
                Reading::Instant(resolved) => return Ok(resolved),
                Reading::Local(local) => local,
            }
        } else {
            let date_text = self.text(row, Field::EventDate)?.unwrap_or("");
            let date = self
                .datetime
                .date(date_text)
                .ok_or_else(|| RejectReason::InvalidDate {
                    column: column(Field::EventDate),
                    value: crate::error::excerpt(date_text),
                    format: self.datetime.date_format().to_owned(),
                })?;
            let time = if self.index[Field::EventTime.index()].is_some() {
                let time_text = self.text(row, Field::EventTime)?.unwrap_or("");
                self.datetime
                    .time(time_text)
                    .ok_or_else(|| RejectReason::InvalidTime {
                        column: column(Field::EventTime),
                        value: crate::error::excerpt(time_text),
                        format: self.datetime.time_format().to_owned(),
                    })?
            } else {
                chrono::NaiveTime::MIN
            };
            date.and_time(time)
        };
        self.in_zone(row, local)
    }

    /// The `event_datetime` column read in `datetime_format`, or, when that is a table, in the
    /// format for the code the `event_datetime_format` column gives.
    fn combined(&self, row: &Row) -> Result<Reading, RejectReason> {
        let column = |f: Field| self.names[f.index()].clone();
        let code = match self.datetime.by_code() {
            true => Some(self.text(row, Field::EventDateTimeFormat)?.unwrap_or("")),
            false => None,
        };
        let format =
            self.datetime
                .combined(code)
                .ok_or_else(|| RejectReason::UnknownDateTimeFormat {
                    column: column(Field::EventDateTimeFormat),
                    code: crate::error::excerpt(code.unwrap_or("")),
                })?;
        let text = self.text(row, Field::EventDateTime)?.unwrap_or("");
        format
            .read(text)
            .ok_or_else(|| RejectReason::InvalidDateTime {
                column: column(Field::EventDateTime),
                value: crate::error::excerpt(text),
                format: format.format().to_owned(),
            })
    }

    /// A local time in the file's zone: the record's `utc_offset`, or the profile's named zone.
    /// Not for [`Zone::InValue`], whose values carry their offset and are read as instants.
    fn in_zone(&self, row: &Row, local: NaiveDateTime) -> Result<Resolved, RejectReason> {
        let column = |f: Field| self.names[f.index()].clone();
        match &self.zone {
            Zone::OffsetColumn => {
                let text = self.text(row, Field::UtcOffset)?.unwrap_or("");
                let offset =
                    datetime::parse_offset(text).ok_or_else(|| RejectReason::InvalidOffset {
                        column: column(Field::UtcOffset),
                        value: crate::error::excerpt(text),
                    })?;
                // Only a date at the end of chrono's range has no UTC instant: not a real date.
                datetime::with_offset(local, offset).ok_or_else(|| RejectReason::InvalidDate {
                    column: column(Field::EventDate),
                    value: datetime::iso8601(local, ""),
                    format: self.datetime.date_format().to_owned(),
                })
            }
            Zone::Named(tz) => in_named_zone(local, *tz),
            Zone::X12Codes => self.x12_zone(row, local),
            Zone::Local => Ok(datetime::local_only(local)),
            // Only a combined column carries its offset, and its callers read it as an instant.
            Zone::InValue => unreachable!("an offset in the value needs datetime_format"),
        }
    }

    /// A local time placed by the record's X12 time code. Without a code, with `LT` or with a
    /// code not in the list, the time stays local (the mapper warns about an unknown code).
    fn x12_zone(&self, row: &Row, local: NaiveDateTime) -> Result<Resolved, RejectReason> {
        let code = self.text(row, Field::UtcOffset)?.unwrap_or("");
        match datetime::x12_time(code) {
            Some(datetime::X12Time::Offset(offset)) => datetime::with_offset(local, offset)
                .ok_or_else(|| RejectReason::InvalidOffset {
                    column: self.names[Field::UtcOffset.index()].clone(),
                    value: crate::error::excerpt(code),
                }),
            Some(datetime::X12Time::Zone(tz)) => in_named_zone(local, tz),
            Some(datetime::X12Time::Local) | None => Ok(datetime::local_only(local)),
        }
    }

    /// A shipped or delivered time as ISO 8601, read with the event time's rules, first match:
    /// an RFC 3339 date-time (to UTC); a date-time in `datetime_format`, when the profile has
    /// one; a date and a time in `date_format` and `time_format` separated by a space; both of
    /// these in the event's zone, to UTC. Else a date in `date_format`, kept as a date.
    fn moment(&self, row: &Row, text: &str) -> Option<String> {
        if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(text) {
            return Some(datetime::iso8601(dt.naive_utc(), "Z"));
        }
        let resolved = match self.datetime.combined(None).and_then(|f| f.read(text)) {
            Some(Reading::Instant(resolved)) => Some(resolved),
            Some(Reading::Local(local)) => self.in_zone(row, local).ok(),
            // An offset format reads nothing else.
            None if self.zone == Zone::InValue => None,
            None => text.rsplit_once(' ').and_then(|(date, time)| {
                let date = self.datetime.date(date.trim_ascii_end())?;
                let local = date.and_time(self.datetime.time(time)?);
                self.in_zone(row, local).ok()
            }),
        };
        if let Some(at) = resolved {
            return Some(match at.utc {
                Some(utc) => datetime::iso8601(utc, "Z"),
                None => datetime::iso8601(at.local, ""),
            });
        }
        self.date_only(text)
    }

    /// Estimated delivery as ISO 8601: an RFC 3339 date-time (normalized to UTC) or a date in
    /// the profile's date format (kept as a date).
    fn estimated_delivery(&self, text: &str) -> Option<String> {
        if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(text) {
            return Some(datetime::iso8601(dt.naive_utc(), "Z"));
        }
        self.date_only(text)
    }

    /// A date in the profile's date format, as an ISO 8601 date.
    fn date_only(&self, text: &str) -> Option<String> {
        self.datetime
            .date(text)
            .map(|d| datetime::iso8601(d.and_time(chrono::NaiveTime::MIN), "")[..10].to_owned())
    }
}

/// A finite number, and `text` itself when it is written as the JSON would write the number.
fn read_number(text: &str) -> Option<(f64, Option<&str>)> {
    match verbatim::canonical(text) {
        Some(n) => Some((n, Some(text))),
        None => text
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(|n| (n, None)),
    }
}

/// A local time in an IANA zone, or the rejection of a time the zone skips.
fn in_named_zone(local: NaiveDateTime, tz: chrono_tz::Tz) -> Result<Resolved, RejectReason> {
    datetime::in_zone(local, tz).ok_or_else(|| RejectReason::NonexistentLocalTime {
        local: datetime::iso8601(local, ""),
        timezone: tz.name().to_owned(),
    })
}

/// Column index per [`Field`], and the column's name for messages.
type Binding = (
    [Option<usize>; Field::ALL.len()],
    [String; Field::ALL.len()],
);

/// Each column the profile names
/// found in `header_names` (a header/detail profile's records carry its fields by key, see
/// [`Profile::record_columns`]).
fn bind(profile: &Profile, header_names: &[&[u8]]) -> Result<Binding, ReadError> {
    let mut index = [None; Field::ALL.len()];
    let mut names: [String; Field::ALL.len()] = std::array::from_fn(|_| String::new());
    let columns = profile.record_columns();
    for (ordinal, (&field, column)) in columns.iter().enumerate() {
        let found = match column {
            Column::Name(name) => {
                crate::reader::find_column(header_names, name, &profile.name, field.key())?
            }
            Column::Position(n) => n.saturating_sub(1),
            Column::Span { .. } => ordinal,
        };
        index[field.index()] = Some(found);
        names[field.index()] = column.to_string();
    }
    Ok((index, names))
}

/// A common delimiter, other than the profile's, that splits a one-column `header` into names
/// the profile uses: then "missing column" would be a misleading diagnosis.
fn other_delimiter(header: &[u8], profile: &Profile) -> Option<u8> {
    let unquote = |h: &[u8]| -> Vec<u8> {
        let h = h.trim_ascii();
        h.strip_prefix(b"\"")
            .and_then(|h| h.strip_suffix(b"\""))
            .unwrap_or(h)
            .to_vec()
    };
    [b',', b';', b'\t', b'|']
        .into_iter()
        .filter(|&d| d != profile.delimiter && header.contains(&d))
        .find(|&d| {
            let names: Vec<Vec<u8>> = header.split(|&b| b == d).map(unquote).collect();
            profile
                .columns
                .values()
                .any(|column| matches!(column, Column::Name(c) if names.iter().any(|n| n == c.as_bytes())))
        })
}

/// Field `i` trimmed; `None` when missing or blank.
#[inline]
fn field_text(rec: &StringRecord, i: usize) -> Option<&str> {
    rec.get(i).map(str::trim_ascii).filter(|s| !s.is_empty())
}
