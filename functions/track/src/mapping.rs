//! What every adapter does the same way when it maps a carrier's answer onto Connect: gather
//! warnings once each, read API timestamps (an instant only when the carrier gives an offset or
//! UTC), and look a status up in the profile, finer `"<type>:<code>"` key first.

use shared::datetime::{ApiTimestamp, parse_api_timestamp};
use shared::models::{StandardizedStatusCode, StandardizedStatusDetailCode, TrackEvent};
use shared::profile::Profile;

/// Warnings gathered while mapping, each said once.
#[derive(Debug, Default)]
pub struct Notes(pub Vec<String>);

impl Notes {
    pub fn add(&mut self, note: String) {
        if !self.0.contains(&note) {
            self.0.push(note);
        }
    }
}

/// Reads an ISO 8601 timestamp; a value that is not one is noted and left out.
pub fn read_time(raw: &str, field: &str, notes: &mut Notes) -> Option<ApiTimestamp> {
    let parsed = parse_api_timestamp(raw);
    if parsed.is_none() {
        notes.add(format!("{field} {raw:?} is not an ISO 8601 time; left out"));
    }
    parsed
}

/// An event's two times from one timestamp: UTC only for an instant, the local form always.
pub fn set_times(event: &mut TrackEvent, time: Option<ApiTimestamp>) {
    event.event_datetime = time.and_then(|t| t.utc_iso8601());
    event.event_datetime_local = time.map(|t| t.local_iso8601());
}

/// A delivery time as Connect's UTC `actual_delivery_datetime`, or nothing (noted) when the
/// carrier gave no offset.
pub fn utc_delivery(time: Option<ApiTimestamp>, notes: &mut Notes) -> Option<String> {
    let time = time?;
    let utc = time.utc_iso8601();
    if utc.is_none() {
        notes.add(format!(
            "the delivery time {} has no UTC offset; actual_delivery_datetime is left empty (the event keeps it as local time)",
            time.local_iso8601()
        ));
    }
    utc
}

/// The standardized pair for a carrier status: `"<code>:<detail>"` first (a finer key a profile
/// may add), then `"<code>"`; unmapped codes are `UN` / `CARRIER_STATUS_NOT_MAPPED`, as in the
/// import, with a warning naming `carrier` and what it calls the code (`field`).
pub fn lookup(
    profile: &Profile,
    (carrier, field): (&str, &str),
    code: Option<&str>,
    detail: Option<&str>,
    notes: &mut Notes,
) -> (StandardizedStatusCode, StandardizedStatusDetailCode) {
    let finer = code
        .zip(detail)
        .and_then(|(code, detail)| profile.status_map.get(&format!("{code}:{detail}")));
    if let Some(pair) = finer.or_else(|| code.and_then(|c| profile.status_map.get(c))) {
        return (pair.status.clone(), pair.detail.clone());
    }
    notes.add(match code {
        Some(code) => format!(
            "{carrier} status code {code:?} is not in profile `{}`'s status map",
            profile.name
        ),
        None => format!("a {carrier} status without a {field}"),
    });
    (
        StandardizedStatusCode::Unknown,
        StandardizedStatusDetailCode::CarrierStatusNotMapped,
    )
}

/// `value` trimmed, or `None` when that leaves nothing (carriers send `""` for "unknown").
pub fn text(value: Option<String>) -> Option<String> {
    let value = value?;
    let trimmed = value.trim();
    match trimmed.len() {
        0 => None,
        n if n == value.len() => Some(value),
        _ => Some(trimmed.to_owned()),
    }
}

/// A number as carriers write it: a JSON number, or a string holding one (UPS and FedEx weights).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(untagged)]
pub enum Number {
    Value(f64),
    Text(String),
}

impl Number {
    /// The value, when there is one.
    pub fn value(&self) -> Option<f64> {
        match self {
            Number::Value(v) => Some(*v),
            Number::Text(t) => t.trim().parse().ok().filter(|v: &f64| v.is_finite()),
        }
    }
}
