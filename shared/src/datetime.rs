//! Event times: from the carrier's local date, time and zone to Connect's UTC and local ISO 8601.
//!
//! chrono validates every value (2026-02-30 and +25:99 are rejected, not rolled over). The common
//! fixed formats take a byte-level fast path into chrono's checked constructors: on a 1.6 M-record
//! file, `parse_from_str` and `format` were most of the mapping time.

use chrono::format::{Item, Parsed, StrftimeItems};
use chrono::{
    DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike,
    Utc,
};
use chrono_tz::Tz;

/// A parser for one profile's date and time formats.
///
/// Formats other than the fast-path ones are parsed into chrono items once, here, rather than
/// on every record.
#[derive(Debug, Clone)]
pub struct DateTimeParser {
    date_format: String,
    time_format: String,
    iso_date: bool,
    iso_time: bool,
    date_items: Vec<Item<'static>>,
    /// One list per alternative (`"%H%M%S | %H%M"`), tried in order.
    time_items: Vec<Vec<Item<'static>>>,
    /// `datetime_format`, for a combined date-and-time column.
    datetime: Option<Combined>,
    /// `datetime_format` as a table: the format of each code the value's format column may
    /// give (EDIFACT's DTM format qualifier, list 2379: `102`, `203`, `205`…).
    by_code: Vec<(String, Combined)>,
}

/// One format of a combined date-and-time value.
#[derive(Debug, Clone)]
pub struct Combined {
    format: String,
    items: Vec<Item<'static>>,
    /// The value carries its UTC offset, so it reads as an instant.
    offset: bool,
    /// The value is a date alone (EDIFACT `102`): it reads as the start of that day.
    date_only: bool,
}

/// What a combined value says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reading {
    /// The value carried its offset.
    Instant(Resolved),
    /// A local date and time, for the profile's zone to place.
    Local(NaiveDateTime),
}

impl Combined {
    pub fn new(format: &str) -> Combined {
        use chrono::format::Numeric;
        let items = items(format);
        let date_only = !items.iter().any(|item| {
            matches!(
                item,
                Item::Numeric(Numeric::Hour | Numeric::Hour12 | Numeric::Minute, _)
            )
        });
        Combined {
            format: format.to_owned(),
            offset: has_offset(format),
            date_only,
            items,
        }
    }

    pub fn format(&self) -> &str {
        &self.format
    }

    /// Whether values in this format carry their UTC offset.
    pub fn has_offset(&self) -> bool {
        self.offset
    }

    /// Reads a value; `None` unless it is a real date (and time, and offset) in this format.
    pub fn read(&self, s: &str) -> Option<Reading> {
        let parsed = parsed(s, &self.items)?;
        if self.offset {
            let dt = parsed.to_datetime().ok()?;
            return with_offset(dt.naive_local(), *dt.offset()).map(Reading::Instant);
        }
        if let Ok(local) = parsed.to_naive_datetime_with_offset(0) {
            return Some(Reading::Local(local));
        }
        // A date alone (no hour or minute item): the start of that day.
        let date = parsed.to_naive_date().ok().filter(|_| self.date_only)?;
        Some(Reading::Local(date.and_time(NaiveTime::MIN)))
    }

    /// Whether the format has no time of day (EDIFACT's `102`).
    pub fn is_date_only(&self) -> bool {
        self.date_only
    }
}

/// Whether a chrono format reads a UTC offset (`%z`, `%:z`, `%#z`, RFC 3339...) from the value.
fn has_offset(format: &str) -> bool {
    use chrono::format::Fixed;
    // `%#z` (an offset with or without minutes) parses to an item chrono keeps private.
    format.contains("%#z")
        || StrftimeItems::new(format).any(|item| {
            matches!(
                item,
                Item::Fixed(
                    Fixed::TimezoneOffset
                        | Fixed::TimezoneOffsetColon
                        | Fixed::TimezoneOffsetDoubleColon
                        | Fixed::TimezoneOffsetTripleColon
                        | Fixed::TimezoneOffsetColonZ
                        | Fixed::TimezoneOffsetZ
                        | Fixed::RFC2822
                        | Fixed::RFC3339
                )
            )
        })
}

/// A local time resolved against its zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Resolved {
    /// `None` for a time that is local to the event with no known zone (an X12 `LT`): it is
    /// sent as local time only, never passed off as UTC.
    pub utc: Option<NaiveDateTime>,
    pub local: NaiveDateTime,
    /// The local time was repeated by a daylight-saving change; the earlier instant was taken.
    pub ambiguous: bool,
}

fn items(format: &str) -> Vec<Item<'static>> {
    // Profiles check their formats when they load; an invalid one parses nothing here.
    StrftimeItems::new(format)
        .parse_to_owned()
        .unwrap_or_else(|_| vec![Item::Error])
}

/// Separates alternative formats of one value, tried in order: `time_format = "%H%M%S | %H%M"`
/// reads X12's HHMMSS and HHMM alike.
pub const FORMATS: &str = " | ";

impl DateTimeParser {
    pub fn new(date_format: &str, time_format: &str) -> Self {
        DateTimeParser {
            date_format: date_format.to_owned(),
            time_format: time_format.to_owned(),
            iso_date: date_format == "%Y-%m-%d",
            iso_time: time_format == "%H:%M:%S",
            date_items: items(date_format),
            time_items: time_format.split(FORMATS).map(items).collect(),
            datetime: None,
            by_code: Vec::new(),
        }
    }

    /// Also parse combined date-and-time values written in `format`.
    pub fn with_datetime(mut self, format: &str) -> Self {
        self.datetime = Some(Combined::new(format));
        self
    }

    /// Also parse combined values whose format column gives `code`, written in `format`.
    pub fn with_coded(mut self, code: &str, format: &str) -> Self {
        self.by_code.push((code.to_owned(), Combined::new(format)));
        self
    }

    /// Whether combined values are read by the code their format column gives.
    pub fn by_code(&self) -> bool {
        !self.by_code.is_empty()
    }

    /// The combined format: `datetime_format`, or the one for `code` when it is a table.
    pub fn combined(&self, code: Option<&str>) -> Option<&Combined> {
        match code {
            None => self.datetime.as_ref(),
            Some(code) => self
                .by_code
                .iter()
                .find(|(c, _)| c == code)
                .map(|(_, format)| format),
        }
    }

    pub fn date_format(&self) -> &str {
        &self.date_format
    }

    pub fn time_format(&self) -> &str {
        &self.time_format
    }

    /// The combined format, if any.
    pub fn datetime_format(&self) -> Option<&str> {
        self.datetime.as_ref().map(Combined::format)
    }

    /// Parses a date in the profile's format; `None` unless it is a real calendar date.
    pub fn date(&self, s: &str) -> Option<NaiveDate> {
        if self.iso_date {
            let b = s.as_bytes();
            if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
                return None;
            }
            let y = digits(&b[0..4])?;
            let m = digits(&b[5..7])?;
            let d = digits(&b[8..10])?;
            return NaiveDate::from_ymd_opt(y as i32, m, d);
        }
        parsed(s, &self.date_items)?.to_naive_date().ok()
    }

    /// Parses a time of day in the profile's format.
    pub fn time(&self, s: &str) -> Option<NaiveTime> {
        if self.iso_time {
            let b = s.as_bytes();
            if b.len() != 8 || b[2] != b':' || b[5] != b':' {
                return None;
            }
            return NaiveTime::from_hms_opt(
                digits(&b[0..2])?,
                digits(&b[3..5])?,
                digits(&b[6..8])?,
            );
        }
        self.time_items
            .iter()
            .find_map(|items| parsed(s, items)?.to_naive_time().ok())
    }
}

fn parsed(s: &str, items: &[Item<'static>]) -> Option<Parsed> {
    let mut parsed = Parsed::new();
    chrono::format::parse(&mut parsed, s, items.iter()).ok()?;
    Some(parsed)
}

/// Parses a UTC offset: `Z`, `±HH:MM`, `±HHMM` or `±HH`, at most 18 hours either way.
pub fn parse_offset(s: &str) -> Option<FixedOffset> {
    let b = s.as_bytes();
    if b == b"Z" || b == b"z" {
        return FixedOffset::east_opt(0);
    }
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = match &b[1..] {
        [h1, h2] => (digits(&[*h1, *h2])?, 0),
        [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?),
        _ => return None,
    };
    if m >= 60 || h * 60 + m > 18 * 60 {
        return None;
    }
    FixedOffset::east_opt(sign * (h as i32 * 3600 + m as i32 * 60))
}

/// Resolves a local time with a known offset; `None` when the instant is past the range of dates
/// chrono represents (a year near ±262,000, which only a broken record has).
/// A local time with no zone: known only as local.
pub fn local_only(local: NaiveDateTime) -> Resolved {
    Resolved {
        utc: None,
        local,
        ambiguous: false,
    }
}

/// Where an X12 time code (AT7-07, list 623) puts a local time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum X12Time {
    /// A fixed offset: UTC, or a zone's standard or daylight time.
    Offset(FixedOffset),
    /// A zone's civil time, standard or daylight by the date.
    Zone(Tz),
    /// `LT`: local time at the event, zone unknown.
    Local,
}

/// The X12 time codes a 214 uses (list 623): `UT`/`GM`, the North American zones' `xS`
/// standard, `xD` daylight and `xT` civil codes, and `LT`. `None` for any other code.
pub fn x12_time(code: &str) -> Option<X12Time> {
    use chrono_tz::America;
    let hours = |h: i32, m: i32| FixedOffset::east_opt(h * 3600 + h.signum() * m * 60);
    let (standard, zone) = match code.get(..1)? {
        "E" => (-5, America::New_York),
        "C" => (-6, America::Chicago),
        "M" => (-7, America::Denver),
        "P" => (-8, America::Los_Angeles),
        "A" => (-9, America::Anchorage),
        "T" => (-4, America::Halifax),
        "H" => (-10, America::Adak),
        "N" => (-3, America::St_Johns),
        _ => {
            return match code {
                "UT" | "GM" => Some(X12Time::Offset(hours(0, 0)?)),
                "LT" => Some(X12Time::Local),
                _ => None,
            };
        }
    };
    // Newfoundland is half an hour off the hour.
    let minutes = if zone == America::St_Johns { 30 } else { 0 };
    match code.get(1..)? {
        "S" => Some(X12Time::Offset(hours(standard, minutes)?)),
        "D" => Some(X12Time::Offset(hours(standard + 1, minutes)?)),
        "T" => Some(X12Time::Zone(zone)),
        _ => None,
    }
}

pub fn with_offset(local: NaiveDateTime, offset: FixedOffset) -> Option<Resolved> {
    Some(Resolved {
        utc: Some(local.checked_sub_offset(offset)?),
        local,
        ambiguous: false,
    })
}

/// Resolves a local time in an IANA zone. `None` for a time the zone skips (spring forward); a
/// repeated time (fall back) takes the earlier instant and says so.
pub fn in_zone(local: NaiveDateTime, tz: Tz) -> Option<Resolved> {
    let (dt, ambiguous): (DateTime<Tz>, bool) = match tz.from_local_datetime(&local) {
        LocalResult::Single(dt) => (dt, false),
        LocalResult::Ambiguous(earliest, _) => (earliest, true),
        LocalResult::None => return None,
    };
    Some(Resolved {
        utc: Some(dt.with_timezone(&Utc).naive_utc()),
        local,
        ambiguous,
    })
}

/// `YYYY-MM-DDTHH:MM:SS` (with fractional seconds only when present), plus `suffix`.
pub fn iso8601(dt: NaiveDateTime, suffix: &str) -> String {
    let mut out = String::with_capacity(20 + suffix.len());
    write_iso8601(&mut out, dt, suffix);
    out
}

/// [`iso8601`], appended to `out`.
pub fn write_iso8601(out: &mut String, dt: NaiveDateTime, suffix: &str) {
    use chrono::Datelike;
    let (date, time) = (dt.date(), dt.time());
    let year = date.year();
    if (0..=9999).contains(&year) && time.nanosecond() == 0 {
        let mut buf = *b"0000-00-00T00:00:00";
        put2(&mut buf[0..2], (year / 100) as u32);
        put2(&mut buf[2..4], (year % 100) as u32);
        put2(&mut buf[5..7], date.month());
        put2(&mut buf[8..10], date.day());
        put2(&mut buf[11..13], time.hour());
        put2(&mut buf[14..16], time.minute());
        put2(&mut buf[17..19], time.second());
        // Only ASCII digits and separators were written.
        out.push_str(std::str::from_utf8(&buf).expect("ASCII"));
    } else {
        use std::fmt::Write;
        let _ = write!(out, "{}", dt.format("%Y-%m-%dT%H:%M:%S%.f"));
    }
    out.push_str(suffix);
}

fn put2(dst: &mut [u8], v: u32) {
    dst[0] = b'0' + (v / 10) as u8;
    dst[1] = b'0' + (v % 10) as u8;
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso() -> DateTimeParser {
        DateTimeParser::new("%Y-%m-%d", "%H:%M:%S")
    }

    #[test]
    fn fast_path_rejects_what_is_not_real() {
        let p = iso();
        assert_eq!(p.date("2026-11-24"), NaiveDate::from_ymd_opt(2026, 11, 24));
        assert_eq!(p.date("2026-02-30"), None);
        assert_eq!(p.date("2026-13-01"), None);
        assert_eq!(p.date("2026/11/24"), None);
        assert_eq!(p.date("26-11-24"), None);
        assert_eq!(p.date("2026-1a-24"), None);
        assert_eq!(p.time("14:32:05"), NaiveTime::from_hms_opt(14, 32, 5));
        assert_eq!(p.time("24:00:00"), None);
        assert_eq!(p.time("14:60:00"), None);
        assert_eq!(p.time("14:32"), None);
    }

    #[test]
    fn other_formats_go_through_chrono() {
        let p = DateTimeParser::new("%m/%d/%Y", "%H%M");
        assert_eq!(p.date("11/24/2026"), NaiveDate::from_ymd_opt(2026, 11, 24));
        assert_eq!(p.date("02/30/2026"), None);
        assert_eq!(p.time("1432"), NaiveTime::from_hms_opt(14, 32, 0));
    }

    #[test]
    fn combined_columns_with_and_without_an_offset() {
        let p = DateTimeParser::new("%Y-%m-%d", "%H:%M:%S").with_datetime("%d.%m.%Y %H:%M");
        assert_eq!(p.datetime_format(), Some("%d.%m.%Y %H:%M"));
        let local = |s| p.combined(None).unwrap().read(s);
        let at = |y, m, d, h, min| {
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(h, min, 0)
                .unwrap()
        };
        assert_eq!(
            local("24.11.2026 14:32"),
            Some(Reading::Local(at(2026, 11, 24, 14, 32)))
        );
        assert_eq!(local("31.02.2026 14:32"), None);
        assert_eq!(local("24.11.2026"), None);

        let p = DateTimeParser::new("%Y-%m-%d", "%H:%M:%S").with_datetime("%Y-%m-%dT%H:%M:%S%:z");
        let instant = |s| match p.combined(None).unwrap().read(s) {
            Some(Reading::Instant(r)) => Some(r),
            other => {
                assert_eq!(other, None, "{s}: an offset format reads instants only");
                None
            }
        };
        let r = instant("2026-11-24T14:32:05-06:00").unwrap();
        assert_eq!(iso8601(r.utc.unwrap(), "Z"), "2026-11-24T20:32:05Z");
        assert_eq!(iso8601(r.local, ""), "2026-11-24T14:32:05");
        assert!(!r.ambiguous);
        assert_eq!(
            instant("2026-11-24T14:32:05"),
            None,
            "the offset is required"
        );
    }

    #[test]
    fn formats_by_code_read_dates_local_times_and_instants() {
        // EDIFACT's DTM format qualifiers (list 2379).
        let p = DateTimeParser::new("%Y-%m-%d", "%H:%M:%S")
            .with_coded("102", "%Y%m%d")
            .with_coded("203", "%Y%m%d%H%M")
            .with_coded("205", "%Y%m%d%H%M%#z");
        assert!(p.by_code());
        assert!(p.combined(None).is_none());
        assert!(p.combined(Some("999")).is_none());
        let read = |code, s| p.combined(Some(code)).unwrap().read(s);
        let day = NaiveDate::from_ymd_opt(2025, 3, 14).unwrap();
        assert_eq!(
            read("102", "20250314"),
            Some(Reading::Local(day.and_time(NaiveTime::MIN)))
        );
        assert_eq!(read("102", "20250230"), None);
        assert_eq!(
            read("203", "202503140912"),
            Some(Reading::Local(day.and_hms_opt(9, 12, 0).unwrap()))
        );
        assert_eq!(read("203", "2025031409"), None);
        for value in ["202503140912+0100", "202503140912+01", "202503140912+01:00"] {
            let Some(Reading::Instant(r)) = read("205", value) else {
                panic!("{value}: an instant");
            };
            assert_eq!(iso8601(r.utc.unwrap(), "Z"), "2025-03-14T08:12:00Z");
            assert_eq!(iso8601(r.local, ""), "2025-03-14T09:12:00");
        }
        assert_eq!(read("205", "202503140912"), None, "205 needs its offset");
        // A Unix timestamp has no hour item, and is still a date and time.
        let p = DateTimeParser::new("%Y-%m-%d", "%H:%M:%S").with_datetime("%s");
        assert_eq!(
            p.combined(None).unwrap().read("1741943520"),
            Some(Reading::Local(day.and_hms_opt(9, 12, 0).unwrap()))
        );
        assert!(has_offset("%Y%m%d%H%M%#z") && has_offset("%FT%T%:z"));
        assert!(!has_offset("%Y%m%d%H%M"));
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("-06:00"), FixedOffset::west_opt(6 * 3600));
        assert_eq!(
            parse_offset("+0530"),
            FixedOffset::east_opt(5 * 3600 + 1800)
        );
        assert_eq!(parse_offset("+09"), FixedOffset::east_opt(9 * 3600));
        assert_eq!(parse_offset("Z"), FixedOffset::east_opt(0));
        for bad in [
            "+25:99",
            "+25:00",
            "-06:60",
            "06:00",
            "",
            "+6:00",
            "+06:00:00",
            "+0a:00",
        ] {
            assert_eq!(parse_offset(bad), None, "{bad}");
        }
    }

    #[test]
    fn utc_and_local_strings() {
        let local = NaiveDate::from_ymd_opt(2026, 11, 24)
            .unwrap()
            .and_hms_opt(14, 32, 5)
            .unwrap();
        let r = with_offset(local, parse_offset("-06:00").unwrap()).unwrap();
        assert_eq!(iso8601(r.utc.unwrap(), "Z"), "2026-11-24T20:32:05Z");
        assert_eq!(iso8601(r.local, ""), "2026-11-24T14:32:05");
        // Crossing midnight and the year.
        let late = NaiveDate::from_ymd_opt(2026, 12, 31)
            .unwrap()
            .and_hms_opt(23, 30, 0)
            .unwrap();
        let r = with_offset(late, parse_offset("-01:00").unwrap()).unwrap();
        assert_eq!(iso8601(r.utc.unwrap(), "Z"), "2027-01-01T00:30:00Z");
        let frac = local.with_nanosecond(250_000_000).unwrap();
        assert_eq!(iso8601(frac, "Z"), "2026-11-24T14:32:05.250Z");
    }

    #[test]
    fn an_offset_past_the_end_of_the_calendar_has_no_instant() {
        let offset = |s| parse_offset(s).unwrap();
        let last = NaiveDateTime::MAX.date().and_hms_opt(23, 59, 59).unwrap();
        assert_eq!(with_offset(last, offset("-18:00")), None);
        let first = NaiveDateTime::MIN.date().and_hms_opt(0, 0, 0).unwrap();
        assert_eq!(with_offset(first, offset("+18:00")), None);
        assert_eq!(with_offset(first, offset("-18:00")).unwrap().local, first);
    }

    #[test]
    fn daylight_saving_in_a_named_zone() {
        let chicago = chrono_tz::America::Chicago;
        let at = |d: u32, m: u32, h: u32, min: u32| {
            NaiveDate::from_ymd_opt(2026, m, d)
                .unwrap()
                .and_hms_opt(h, min, 0)
                .unwrap()
        };
        // 2026-03-08 02:30 does not exist in Chicago.
        assert_eq!(in_zone(at(8, 3, 2, 30), chicago), None);
        // 2026-11-01 01:30 happens twice: the earlier (CDT, -05:00) instant is taken.
        let r = in_zone(at(1, 11, 1, 30), chicago).unwrap();
        assert!(r.ambiguous);
        assert_eq!(iso8601(r.utc.unwrap(), "Z"), "2026-11-01T06:30:00Z");
        let r = in_zone(at(24, 11, 14, 32), chicago).unwrap();
        assert!(!r.ambiguous);
        assert_eq!(iso8601(r.utc.unwrap(), "Z"), "2026-11-24T20:32:00Z");
    }
}

/// A timestamp as a carrier API writes it, keeping what it does and does not say about the zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiTimestamp {
    /// An instant: the value carried `Z` or a UTC offset.
    Instant(DateTime<FixedOffset>),
    /// A wall-clock time with no offset: local to wherever the event happened, zone unknown.
    Local(NaiveDateTime),
    /// A calendar day, no time of day.
    Date(NaiveDate),
}

impl ApiTimestamp {
    /// Connect's UTC form (`…Z`), when the value is an instant.
    pub fn utc_iso8601(&self) -> Option<String> {
        match self {
            ApiTimestamp::Instant(dt) => Some(iso8601(dt.naive_utc(), "Z")),
            ApiTimestamp::Local(_) | ApiTimestamp::Date(_) => None,
        }
    }

    /// The wall-clock time as given (no offset), or the bare date for a date-only value.
    pub fn local_iso8601(&self) -> String {
        match self {
            ApiTimestamp::Instant(dt) => iso8601(dt.naive_local(), ""),
            ApiTimestamp::Local(local) => iso8601(*local, ""),
            ApiTimestamp::Date(date) => date.format("%Y-%m-%d").to_string(),
        }
    }

    /// The value in its most faithful single form: UTC when it is an instant, else as local.
    pub fn best_iso8601(&self) -> String {
        self.utc_iso8601().unwrap_or_else(|| self.local_iso8601())
    }

    /// A key to order timestamps by. Exact between instants; a local time or date can only be
    /// placed approximately against an instant (its zone is unknown), which is the best there is.
    pub fn sort_key(&self) -> NaiveDateTime {
        match self {
            ApiTimestamp::Instant(dt) => dt.naive_utc(),
            ApiTimestamp::Local(local) => *local,
            ApiTimestamp::Date(date) => date.and_time(NaiveTime::MIN),
        }
    }
}

/// Parses the ISO 8601 forms carrier APIs send: with `Z` or an offset (`+01:00`, `+0100`, `+01`),
/// fractional seconds down to nanoseconds, a `T` or a space between date and time, seconds
/// optional, no offset at all (a local time), or a date alone. `None` for anything else,
/// including impossible dates, times and offsets.
pub fn parse_api_timestamp(s: &str) -> Option<ApiTimestamp> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(ApiTimestamp::Instant(dt));
    }
    // chrono's `%#z` takes `Z`, `±HH`, `±HHMM` and `±HH:MM`: the offsets RFC 3339 does not allow.
    const WITH_OFFSET: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S%.f%#z",
        "%Y-%m-%d %H:%M:%S%.f%#z",
        "%Y-%m-%dT%H:%M%#z",
        "%Y-%m-%d %H:%M%#z",
    ];
    for format in WITH_OFFSET {
        if let Ok(dt) = DateTime::parse_from_str(s, format) {
            return Some(ApiTimestamp::Instant(dt));
        }
    }
    const LOCAL: [&str; 4] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ];
    for format in LOCAL {
        if let Ok(local) = NaiveDateTime::parse_from_str(s, format) {
            return Some(ApiTimestamp::Local(local));
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .map(ApiTimestamp::Date)
}

#[cfg(test)]
mod api_timestamp_tests {
    use super::*;

    fn parse(s: &str) -> ApiTimestamp {
        parse_api_timestamp(s).unwrap_or_else(|| panic!("{s:?} should parse"))
    }

    #[test]
    fn instants_become_utc_and_keep_their_wall_clock() {
        let t = parse("2023-01-29T16:02:00+01:00");
        assert_eq!(t.utc_iso8601().as_deref(), Some("2023-01-29T15:02:00Z"));
        assert_eq!(t.local_iso8601(), "2023-01-29T16:02:00");
        for (input, utc) in [
            ("2023-01-29T16:02:00Z", "2023-01-29T16:02:00Z"),
            ("2023-01-29T16:02:00z", "2023-01-29T16:02:00Z"),
            ("2023-01-29 16:02:00-05:00", "2023-01-29T21:02:00Z"),
            ("2023-01-29T16:02:00+0100", "2023-01-29T15:02:00Z"),
            ("2023-01-29T16:02:00+01", "2023-01-29T15:02:00Z"),
            ("2023-01-29T16:02+01:00", "2023-01-29T15:02:00Z"),
            ("2023-01-29T16:02:00.5Z", "2023-01-29T16:02:00.500Z"),
            (
                "2023-01-29T16:02:00.123456789+02:00",
                "2023-01-29T14:02:00.123456789Z",
            ),
            ("2023-12-31T23:30:00-01:00", "2024-01-01T00:30:00Z"),
        ] {
            assert_eq!(parse(input).utc_iso8601().as_deref(), Some(utc), "{input}");
        }
    }

    #[test]
    fn a_time_without_offset_stays_local() {
        for (input, local) in [
            ("2023-01-29T16:02:00", "2023-01-29T16:02:00"),
            ("2023-01-29 16:02:00", "2023-01-29T16:02:00"),
            ("2023-01-29T16:02", "2023-01-29T16:02:00"),
            ("2023-01-29T16:02:00.250", "2023-01-29T16:02:00.250"),
        ] {
            let t = parse(input);
            assert!(matches!(t, ApiTimestamp::Local(_)), "{input}");
            assert_eq!(t.utc_iso8601(), None, "{input}");
            assert_eq!(t.local_iso8601(), local, "{input}");
            assert_eq!(t.best_iso8601(), local, "{input}");
        }
    }

    #[test]
    fn a_date_alone_is_a_date() {
        let t = parse("2023-02-01");
        assert_eq!(
            t,
            ApiTimestamp::Date(NaiveDate::from_ymd_opt(2023, 2, 1).unwrap())
        );
        assert_eq!(t.utc_iso8601(), None);
        assert_eq!(t.local_iso8601(), "2023-02-01");
    }

    #[test]
    fn what_is_not_real_is_rejected() {
        for bad in [
            "",
            "yesterday",
            "2023-02-30T10:00:00Z",
            "2023-02-30",
            "2023-01-29T25:00:00",
            "2023-01-29T16:02:00+25:00",
            "29/01/2023",
            "2023-01-29T16:02:00 UTC",
        ] {
            assert_eq!(parse_api_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn ordering_is_by_instant() {
        let a = parse("2023-01-29T16:02:00+01:00");
        let b = parse("2023-01-29T15:30:00Z");
        assert!(a.sort_key() < b.sort_key());
    }
}

#[cfg(test)]
mod x12_tests {
    use super::*;

    #[test]
    fn alternative_time_formats_are_tried_in_order() {
        let p = DateTimeParser::new("%Y%m%d", "%H%M%S | %H%M");
        assert_eq!(p.time("142005"), NaiveTime::from_hms_opt(14, 20, 5));
        assert_eq!(p.time("1420"), NaiveTime::from_hms_opt(14, 20, 0));
        assert_eq!(p.time("14"), None);
    }

    #[test]
    fn x12_time_codes_name_offsets_zones_or_local_time() {
        let offset = |code: &str| match x12_time(code) {
            Some(X12Time::Offset(o)) => o.local_minus_utc(),
            other => panic!("{code}: {other:?}"),
        };
        assert_eq!(offset("UT"), 0);
        assert_eq!(offset("GM"), 0);
        for (code, hours) in [
            ("ES", -5),
            ("CS", -6),
            ("MS", -7),
            ("PS", -8),
            ("ED", -4),
            ("CD", -5),
            ("MD", -6),
            ("PD", -7),
            ("AS", -9),
            ("AD", -8),
            ("TS", -4),
            ("TD", -3),
            ("HS", -10),
            ("HD", -9),
        ] {
            assert_eq!(offset(code), hours * 3600, "{code}");
        }
        assert_eq!(offset("NS"), -(3 * 3600 + 1800));
        assert_eq!(offset("ND"), -(2 * 3600 + 1800));
        use chrono_tz::America;
        for (code, zone) in [
            ("ET", America::New_York),
            ("CT", America::Chicago),
            ("MT", America::Denver),
            ("PT", America::Los_Angeles),
            ("AT", America::Anchorage),
            ("TT", America::Halifax),
            ("HT", America::Adak),
            ("NT", America::St_Johns),
        ] {
            assert_eq!(x12_time(code), Some(X12Time::Zone(zone)), "{code}");
        }
        assert_eq!(x12_time("LT"), Some(X12Time::Local));
        for other in ["", "E", "ZZ", "05", "ETX", "ut"] {
            assert_eq!(x12_time(other), None, "{other:?}");
        }
    }
}
