//! The UPS Tracking API adapter of the carrier port: an OAuth2 token from client credentials
//! (HTTP Basic, cached per execution environment by [`crate::oauth`]), one
//! `GET /api/track/v1/details/{trackingNumber}` per query, UPS's JSON read into serde types, and
//! the package mapped onto Connect with the `ups` profile's status map (`status.type`, finer
//! `"<type>:<code>"`).
//!
//! UPS's shapes (see the reference notes): `trackResponse.shipment[].package[]`, each with
//! `activity[]` (most recent first), `currentStatus` (real answers may lack its `type`: then the
//! newest activity's status stands in), `deliveryDate[]`, `deliveryTime`, `weight`, `service`.
//! Activity times are local `date` (YYYYMMDD) + `time` (HHMMSS); `gmtDate`/`gmtTime`/`gmtOffset`
//! make them instants. An unknown number comes as HTTP 200 with a warning (or as 404).

use chrono::{FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::Deserialize;
use shared::datetime::{ApiTimestamp, parse_offset};
use shared::models::{Service, StandardizedStatusCode, TrackEvent, TrackingInfo};
use shared::profile::Profile;
use tokio::time::Instant;

use crate::adapter::{self, OAuthParts};
use crate::carrier::{Carrier, TrackQuery, Tracked};
use crate::error::TrackError;
use crate::http::CodeMessage;
use crate::mapping::{self, Notes, text};
use crate::oauth::{ClientAuth, OAuth};

/// What UPS reads as the caller's name (`transactionSrc`).
pub const TRANSACTION_SRC: &str = "shipengine-connect-track";

/// UPS tracking.
#[derive(Debug, Clone)]
pub struct UpsCarrier {
    oauth: OAuth,
    /// `{base}/api/track/v1/details/`, the tracking number goes last.
    details: reqwest::Url,
    profile: Profile,
}

impl UpsCarrier {
    pub fn new(oauth: OAuthParts, profile: Profile) -> Result<UpsCarrier, TrackError> {
        let details = adapter::endpoint(&oauth.base_url, &["api", "track", "v1", "details", ""])?;
        let token_path = ["security", "v1", "oauth", "token"];
        let oauth = oauth.into_oauth("UPS", &token_path, ClientAuth::Basic)?;
        Ok(UpsCarrier {
            oauth,
            details,
            profile,
        })
    }

    fn request(
        &self,
        query: &TrackQuery,
        bearer: reqwest::header::HeaderValue,
    ) -> reqwest::RequestBuilder {
        let mut url = self.details.clone();
        url.path_segments_mut()
            .expect("an http(s) base URL")
            .pop()
            .push(&query.tracking_number);
        self.oauth
            .client
            .get(url)
            .query(&[("locale", "en_US")])
            .header(AUTHORIZATION, bearer)
            .header(ACCEPT, "application/json")
            .header("transId", query.transaction_id.as_str())
            .header("transactionSrc", TRANSACTION_SRC)
    }
}

#[async_trait::async_trait]
impl Carrier for UpsCarrier {
    async fn track(&self, query: &TrackQuery, deadline: Instant) -> Result<Tracked, TrackError> {
        let body: UpsResponse = (self.oauth)
            .track_json(query, deadline, |bearer| self.request(query, bearer))
            .await?;
        to_tracked(body, query, &self.profile)
    }
}

// ---------------------------------------------------------------------------------------------
// UPS's body. Everything is optional: a missing field leaves a Connect field empty.

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsResponse {
    pub track_response: Option<UpsTrackResponse>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct UpsTrackResponse {
    #[serde(default)]
    pub shipment: Vec<UpsShipment>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsShipment {
    pub inquiry_number: Option<String>,
    #[serde(default)]
    pub package: Vec<UpsPackage>,
    #[serde(default)]
    pub warnings: Vec<CodeMessage>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsPackage {
    pub tracking_number: Option<String>,
    pub service: Option<UpsService>,
    pub weight: Option<UpsWeight>,
    pub current_status: Option<UpsStatus>,
    #[serde(default)]
    pub activity: Vec<UpsActivity>,
    #[serde(default)]
    pub delivery_date: Vec<UpsDeliveryDate>,
    pub delivery_time: Option<UpsDeliveryTime>,
    pub delivery_information: Option<UpsDeliveryInformation>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct UpsService {
    pub code: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsWeight {
    pub unit_of_measurement: Option<String>,
    pub weight: Option<mapping::Number>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsStatus {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub code: Option<String>,
    pub description: Option<String>,
    pub status_code: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsActivity {
    pub status: Option<UpsStatus>,
    pub location: Option<UpsLocation>,
    pub date: Option<String>,
    pub time: Option<String>,
    pub gmt_date: Option<String>,
    pub gmt_time: Option<String>,
    pub gmt_offset: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct UpsLocation {
    pub address: Option<UpsAddress>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsAddress {
    pub city: Option<String>,
    pub state_province: Option<String>,
    pub postal_code: Option<String>,
    pub country_code: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct UpsDeliveryDate {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub date: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsDeliveryTime {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsDeliveryInformation {
    pub received_by: Option<String>,
    pub location: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// UPS → Connect.

/// The status type UPS gives a delivered package.
const DELIVERED: &str = "D";

/// Maps UPS's answer for `query` onto Connect.
pub fn to_tracked(
    body: UpsResponse,
    query: &TrackQuery,
    profile: &Profile,
) -> Result<Tracked, TrackError> {
    let shipments = body.track_response.unwrap_or_default().shipment;
    let not_found = |detail: Option<String>| TrackError::TrackingNumberNotFound {
        tracking_number: query.tracking_number.clone(),
        detail,
    };
    let Some(shipment) = shipments.into_iter().next() else {
        return Err(not_found(Some(
            "the carrier answered with no shipment".into(),
        )));
    };
    let warning = shipment
        .warnings
        .iter()
        .filter_map(CodeMessage::line)
        .collect::<Vec<_>>()
        .join("; ");
    let Some(package) = choose_package(shipment.package, query) else {
        return Err(not_found(Some(if warning.is_empty() {
            "the carrier answered with no package".into()
        } else {
            crate::http::short(&warning)
        })));
    };
    let mut notes = Notes::default();
    let info = map_package(package, query, profile, &mut notes);
    Ok(Tracked {
        tracking_info: info,
        warnings: notes.0,
    })
}

/// The package with the queried number, else the first.
fn choose_package(mut packages: Vec<UpsPackage>, query: &TrackQuery) -> Option<UpsPackage> {
    let index = packages
        .iter()
        .position(|p| {
            p.tracking_number
                .as_deref()
                .is_some_and(|n| n.trim().eq_ignore_ascii_case(&query.tracking_number))
        })
        .unwrap_or(0);
    (index < packages.len()).then(|| packages.swap_remove(index))
}

fn map_package(
    package: UpsPackage,
    query: &TrackQuery,
    profile: &Profile,
    notes: &mut Notes,
) -> TrackingInfo {
    let mut events: Vec<(Option<ApiTimestamp>, TrackEvent)> = package
        .activity
        .into_iter()
        .map(|a| map_activity(a, profile, notes))
        .collect();
    // Newest first (UPS's own order, kept for ties and for times it did not give).
    events.sort_by_key(|(time, _)| std::cmp::Reverse(time.map(|t| t.sort_key())));
    let delivered = events
        .iter()
        .position(|(_, e)| e.event_code.as_deref() == Some(DELIVERED));
    if let (Some(index), Some(info)) = (delivered, &package.delivery_information) {
        events[index].1.signer = text(info.received_by.clone());
    }
    let actual_delivery_datetime =
        mapping::utc_delivery(delivered.and_then(|i| events[i].0), notes);
    let current = current_status(package.current_status, &events, profile, notes);
    let problem = current.standardized == Some(StandardizedStatusCode::Exception);
    let service = package.service.map(|s| Service {
        code: text(s.code),
        name: text(s.description),
    });
    TrackingInfo {
        carrier_name: Some(profile.carrier_name.clone()),
        tracking_number: Some(query.tracking_number.clone()),
        standardized_status_code: current.standardized,
        standardized_status_detail_code: current.detail_code,
        carrier_status_code: current.code,
        carrier_detail_code: current.detail,
        shipping_problem: problem.then_some(true),
        shipping_problem_description: problem.then(|| current.description.clone()).flatten(),
        carrier_status_description: current.description,
        estimated_delivery_datetime: estimated(&package.delivery_date, &package.delivery_time),
        actual_delivery_datetime,
        weight: package
            .weight
            .and_then(|w| w.weight)
            .and_then(|n| n.value()),
        service: service.filter(|s| s.code.is_some() || s.name.is_some()),
        events: Some(events.into_iter().map(|(_, e)| e).collect()),
        ..Default::default()
    }
}

fn map_activity(
    activity: UpsActivity,
    profile: &Profile,
    notes: &mut Notes,
) -> (Option<ApiTimestamp>, TrackEvent) {
    let time = activity_time(&activity, notes);
    let status = activity.status.unwrap_or_default();
    let (status_code, status_detail_code) = lookup(profile, &status, notes);
    let address = activity
        .location
        .and_then(|l| l.address)
        .unwrap_or_default();
    let mut event = TrackEvent {
        event_code: text(status.kind),
        carrier_detail_code: text(status.code),
        description: text(status.description),
        city: text(address.city),
        state: text(address.state_province),
        postal_code: text(address.postal_code),
        country: text(address.country_code),
        status_code: Some(status_code),
        status_detail_code: Some(status_detail_code),
        ..Default::default()
    };
    mapping::set_times(&mut event, time);
    (time, event)
}

/// An activity's time: an instant when UPS gave its offset (`gmtOffset`, or the difference to
/// `gmtDate`/`gmtTime`), else the local time as given.
fn activity_time(activity: &UpsActivity, notes: &mut Notes) -> Option<ApiTimestamp> {
    let date = ups_date(activity.date.as_deref()?, notes)?;
    let Some(time) = activity.time.as_deref().and_then(|t| ups_time(t, notes)) else {
        return Some(ApiTimestamp::Date(date));
    };
    let local = date.and_time(time);
    let offset = activity
        .gmt_offset
        .as_deref()
        .and_then(|o| parse_offset(o.trim()))
        .or_else(|| {
            let gmt_date = ups_date(activity.gmt_date.as_deref()?, notes)?;
            let gmt_time = ups_time(activity.gmt_time.as_deref()?, notes)?;
            offset_between(local, gmt_date.and_time(gmt_time))
        });
    match offset.and_then(|o| o.from_local_datetime(&local).single()) {
        Some(instant) => Some(ApiTimestamp::Instant(instant)),
        None => Some(ApiTimestamp::Local(local)),
    }
}

/// The offset that makes `local` the same instant as `utc`, when it is a whole minute within
/// ±18 h.
fn offset_between(local: NaiveDateTime, utc: NaiveDateTime) -> Option<FixedOffset> {
    let seconds = (local - utc).num_seconds();
    if seconds % 60 != 0 || seconds.abs() > 18 * 3600 {
        return None;
    }
    FixedOffset::east_opt(i32::try_from(seconds).ok()?)
}

/// `YYYYMMDD` (or the older API's `YYYY-MM-DD`).
fn ups_date(raw: &str, notes: &mut Notes) -> Option<NaiveDate> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let parsed = NaiveDate::parse_from_str(raw, "%Y%m%d")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%Y-%m-%d"))
        .ok();
    if parsed.is_none() {
        notes.add(format!("UPS date {raw:?} is not YYYYMMDD; left out"));
    }
    parsed
}

/// `HHMMSS`, also without its leading zero (`74700`), or the older API's `HH:MM:SS`.
fn ups_time(raw: &str, notes: &mut Notes) -> Option<NaiveTime> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    let parsed = if raw.len() <= 6 && raw.bytes().all(|b| b.is_ascii_digit()) {
        NaiveTime::parse_from_str(&format!("{raw:0>6}"), "%H%M%S").ok()
    } else {
        NaiveTime::parse_from_str(raw, "%H:%M:%S").ok()
    };
    if parsed.is_none() {
        notes.add(format!("UPS time {raw:?} is not HHMMSS; left out"));
    }
    parsed
}

/// The scheduled (or rescheduled) delivery day, with the end of its window or its commit time
/// when UPS gave one, as local time (UPS gives no offset for it).
fn estimated(dates: &[UpsDeliveryDate], window: &Option<UpsDeliveryTime>) -> Option<String> {
    let of = |kind: &str| {
        dates
            .iter()
            .find(|d| d.kind.as_deref() == Some(kind))
            .and_then(|d| d.date.as_deref())
    };
    let date = NaiveDate::parse_from_str(of("RDD").or_else(|| of("SDD"))?.trim(), "%Y%m%d").ok()?;
    // A window's or a commitment's end; `DEL`'s time is the delivery's, not the estimate's.
    let end = window
        .as_ref()
        .filter(|w| matches!(w.kind.as_deref(), Some("EDW" | "CDW" | "IDW" | "CMT")))
        .and_then(|w| w.end_time.as_deref())
        .and_then(|t| ups_time(t, &mut Notes::default()));
    Some(match end {
        Some(end) => ApiTimestamp::Local(date.and_time(end)).local_iso8601(),
        None => ApiTimestamp::Date(date).local_iso8601(),
    })
}

/// A package's current status.
struct Current {
    code: Option<String>,
    detail: Option<String>,
    description: Option<String>,
    standardized: Option<StandardizedStatusCode>,
    detail_code: Option<shared::models::StandardizedStatusDetailCode>,
}

/// `currentStatus` when it has a `type`; else the newest activity's status (real answers carry
/// only a description and a 3-digit code there).
fn current_status(
    status: Option<UpsStatus>,
    events: &[(Option<ApiTimestamp>, TrackEvent)],
    profile: &Profile,
    notes: &mut Notes,
) -> Current {
    if let Some(status) = status.filter(|s| text(s.kind.clone()).is_some()) {
        let (code, detail) = lookup(profile, &status, notes);
        return Current {
            code: text(status.kind),
            detail: text(status.code),
            description: text(status.description),
            standardized: Some(code),
            detail_code: Some(detail),
        };
    }
    let newest = events.first().map(|(_, e)| e);
    Current {
        code: newest.and_then(|e| e.event_code.clone()),
        detail: newest.and_then(|e| e.carrier_detail_code.clone()),
        description: newest.and_then(|e| e.description.clone()),
        standardized: newest.and_then(|e| e.status_code.clone()),
        detail_code: newest.and_then(|e| e.status_detail_code.clone()),
    }
}

fn lookup(
    profile: &Profile,
    status: &UpsStatus,
    notes: &mut Notes,
) -> (
    StandardizedStatusCode,
    shared::models::StandardizedStatusDetailCode,
) {
    let kind = text(status.kind.clone());
    let code = text(status.code.clone());
    mapping::lookup(
        profile,
        ("UPS", "status.type"),
        kind.as_deref(),
        code.as_deref(),
        notes,
    )
}
