//! The FedEx Track API adapter of the carrier port: an OAuth2 token from client credentials (in
//! the form body, cached per execution environment by [`crate::oauth`]), one
//! `POST /track/v1/trackingnumbers` per query, FedEx's JSON read into serde types, and the result
//! mapped onto Connect with the `fedex` profile's status map (`eventType` /
//! `latestStatusDetail.code`, finer `"<code>:<derivedCode>"`).
//!
//! FedEx's shapes (see the reference notes): `output.completeTrackResults[].trackResults[]`, each
//! with `latestStatusDetail`, `scanEvents[]` (newest first, `date` ISO 8601 with the scan's local
//! offset), `dateAndTimes[]`, `packageDetails`, `serviceDetail`, `deliveryDetails`. An unknown
//! number is HTTP 200 with a result whose `error.code` ends in `NOTFOUND`.

use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::Deserialize;
use serde_json::json;
use shared::datetime::ApiTimestamp;
use shared::models::{
    Service, StandardizedStatusCode, StandardizedStatusDetailCode, TrackEvent, TrackingInfo,
};
use shared::profile::Profile;
use tokio::time::Instant;

use crate::adapter::{self, OAuthParts};
use crate::carrier::{Carrier, TrackQuery, Tracked};
use crate::error::TrackError;
use crate::http::{self, CodeMessage};
use crate::mapping::{self, Notes, Number, read_time, text};
use crate::oauth::{ClientAuth, OAuth};

/// FedEx tracking.
#[derive(Debug, Clone)]
pub struct FedexCarrier {
    oauth: OAuth,
    /// `{base}/track/v1/trackingnumbers`.
    endpoint: reqwest::Url,
    profile: Profile,
}

impl FedexCarrier {
    pub fn new(oauth: OAuthParts, profile: Profile) -> Result<FedexCarrier, TrackError> {
        let endpoint = adapter::endpoint(&oauth.base_url, &["track", "v1", "trackingnumbers"])?;
        let oauth = oauth.into_oauth("FedEx", &["oauth", "token"], ClientAuth::Form)?;
        Ok(FedexCarrier {
            oauth,
            endpoint,
            profile,
        })
    }

    fn request(
        &self,
        query: &TrackQuery,
        bearer: reqwest::header::HeaderValue,
    ) -> reqwest::RequestBuilder {
        let body = json!({
            "includeDetailedScans": true,
            "trackingInfo": [{"trackingNumberInfo": {"trackingNumber": query.tracking_number}}]
        });
        self.oauth
            .client
            .post(self.endpoint.clone())
            .header(AUTHORIZATION, bearer)
            .header(ACCEPT, "application/json")
            .header("X-locale", "en_US")
            .json(&body)
    }
}

#[async_trait::async_trait]
impl Carrier for FedexCarrier {
    async fn track(&self, query: &TrackQuery, deadline: Instant) -> Result<Tracked, TrackError> {
        let body: FedexResponse = (self.oauth)
            .track_json(query, deadline, |bearer| self.request(query, bearer))
            .await?;
        to_tracked(body, query, &self.profile)
    }
}

// ---------------------------------------------------------------------------------------------
// FedEx's body. Everything is optional: a missing field leaves a Connect field empty.

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FedexResponse {
    pub output: Option<FedexOutput>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FedexOutput {
    #[serde(default)]
    pub complete_track_results: Vec<FedexCompleteResult>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FedexCompleteResult {
    pub tracking_number: Option<String>,
    #[serde(default)]
    pub track_results: Vec<FedexResult>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FedexResult {
    pub latest_status_detail: Option<FedexStatus>,
    #[serde(default)]
    pub scan_events: Vec<FedexScan>,
    #[serde(default)]
    pub date_and_times: Vec<FedexDateAndTime>,
    pub package_details: Option<FedexPackageDetails>,
    pub service_detail: Option<FedexServiceDetail>,
    pub delivery_details: Option<FedexDeliveryDetails>,
    pub error: Option<CodeMessage>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FedexStatus {
    pub code: Option<String>,
    pub derived_code: Option<String>,
    pub status_by_locale: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FedexScan {
    pub date: Option<String>,
    pub event_type: Option<String>,
    pub event_description: Option<String>,
    pub exception_description: Option<String>,
    pub derived_status_code: Option<String>,
    pub scan_location: Option<FedexAddress>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FedexAddress {
    pub city: Option<String>,
    pub state_or_province_code: Option<String>,
    pub postal_code: Option<String>,
    pub country_code: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FedexDateAndTime {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub date_time: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FedexPackageDetails {
    pub count: Option<Number>,
    pub weight_and_dimensions: Option<FedexWeightAndDimensions>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FedexWeightAndDimensions {
    #[serde(default)]
    pub weight: Vec<FedexMeasure>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FedexMeasure {
    pub value: Option<Number>,
    pub unit: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct FedexServiceDetail {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FedexDeliveryDetails {
    pub received_by_name: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// FedEx → Connect.

/// The event type of a delivery scan.
const DELIVERED: &str = "DL";

/// Maps FedEx's answer for `query` onto Connect.
pub fn to_tracked(
    body: FedexResponse,
    query: &TrackQuery,
    profile: &Profile,
) -> Result<Tracked, TrackError> {
    let result = choose_result(body, query).ok_or_else(|| TrackError::TrackingNumberNotFound {
        tracking_number: query.tracking_number.clone(),
        detail: Some("the carrier answered with no track result".into()),
    })?;
    if let Some(error) = &result.error {
        let detail = error.line().map(|d| http::short(&d));
        let code = error.code.as_deref().unwrap_or_default();
        return Err(if code.to_ascii_uppercase().contains("NOTFOUND") {
            TrackError::TrackingNumberNotFound {
                tracking_number: query.tracking_number.clone(),
                detail,
            }
        } else {
            TrackError::CarrierRejected {
                status: 200,
                detail,
            }
        });
    }
    let mut notes = Notes::default();
    let info = map_result(result, query, profile, &mut notes);
    Ok(Tracked {
        tracking_info: info,
        warnings: notes.0,
    })
}

/// The first track result of the queried number's entry (else of the first entry).
fn choose_result(body: FedexResponse, query: &TrackQuery) -> Option<FedexResult> {
    let mut complete = body.output?.complete_track_results;
    let index = complete
        .iter()
        .position(|c| c.tracking_number.as_deref() == Some(query.tracking_number.as_str()))
        .unwrap_or(0);
    if index >= complete.len() {
        return None;
    }
    complete.swap_remove(index).track_results.into_iter().next()
}

fn map_result(
    result: FedexResult,
    query: &TrackQuery,
    profile: &Profile,
    notes: &mut Notes,
) -> TrackingInfo {
    let mut events: Vec<(Option<ApiTimestamp>, TrackEvent)> = result
        .scan_events
        .into_iter()
        .map(|scan| map_scan(scan, profile, notes))
        .collect();
    events.sort_by_key(|(time, _)| std::cmp::Reverse(time.map(|t| t.sort_key())));
    let delivered = events
        .iter()
        .position(|(_, e)| e.event_code.as_deref() == Some(DELIVERED));
    if let (Some(index), Some(details)) = (delivered, result.delivery_details) {
        events[index].1.signer = text(details.received_by_name);
    }
    let times = Times::of(&result.date_and_times, notes);
    let delivery_time = times
        .actual_delivery
        .or(delivered.and_then(|i| events[i].0));
    let current = result.latest_status_detail.unwrap_or_default();
    let (status, detail) = lookup(
        profile,
        current.code.as_deref(),
        &current.derived_code,
        notes,
    );
    let problem = status == StandardizedStatusCode::Exception;
    let description = text(current.description).or(text(current.status_by_locale));
    let package = result.package_details.unwrap_or_default();
    let weight = package
        .weight_and_dimensions
        .and_then(|w| w.weight.into_iter().find_map(|m| m.value))
        .and_then(|n| n.value());
    TrackingInfo {
        carrier_name: Some(profile.carrier_name.clone()),
        tracking_number: Some(query.tracking_number.clone()),
        standardized_status_code: Some(status),
        standardized_status_detail_code: Some(detail),
        carrier_status_code: text(current.code),
        carrier_detail_code: text(current.derived_code),
        shipping_problem: problem.then_some(true),
        shipping_problem_description: problem.then(|| description.clone()).flatten(),
        carrier_status_description: description,
        shipped_datetime: times.ship.and_then(|t| t.utc_iso8601()),
        estimated_delivery_datetime: times.estimated.map(|t| t.best_iso8601()),
        actual_delivery_datetime: mapping::utc_delivery(delivery_time, notes),
        weight,
        package_count: package.count.and_then(|n| n.value()).map(|n| n as u32),
        service: result.service_detail.map(|s| Service {
            code: text(s.kind),
            name: text(s.description),
        }),
        events: Some(events.into_iter().map(|(_, e)| e).collect()),
        ..Default::default()
    }
}

/// The `dateAndTimes[]` Connect has fields for.
#[derive(Default)]
struct Times {
    actual_delivery: Option<ApiTimestamp>,
    estimated: Option<ApiTimestamp>,
    ship: Option<ApiTimestamp>,
}

impl Times {
    fn of(entries: &[FedexDateAndTime], notes: &mut Notes) -> Times {
        let mut times = Times::default();
        for entry in entries {
            let (Some(kind), Some(raw)) = (entry.kind.as_deref(), entry.date_time.as_deref())
            else {
                continue;
            };
            let slot = match kind {
                "ACTUAL_DELIVERY" => &mut times.actual_delivery,
                "ESTIMATED_DELIVERY" => &mut times.estimated,
                "SHIP" => &mut times.ship,
                _ => continue,
            };
            *slot = read_time(raw, &format!("dateAndTimes[{kind}]"), notes);
        }
        times
    }
}

fn map_scan(
    scan: FedexScan,
    profile: &Profile,
    notes: &mut Notes,
) -> (Option<ApiTimestamp>, TrackEvent) {
    let time = scan
        .date
        .as_deref()
        .and_then(|raw| read_time(raw, "scanEvents[].date", notes));
    let (status_code, status_detail_code) = lookup(
        profile,
        scan.event_type.as_deref(),
        &scan.derived_status_code,
        notes,
    );
    let description = match (
        text(scan.event_description),
        text(scan.exception_description),
    ) {
        (Some(event), Some(exception)) => Some(format!("{event}: {exception}")),
        (event, exception) => event.or(exception),
    };
    let location = scan.scan_location.unwrap_or_default();
    let mut event = TrackEvent {
        event_code: text(scan.event_type),
        carrier_detail_code: text(scan.derived_status_code),
        description,
        city: text(location.city),
        state: text(location.state_or_province_code),
        postal_code: text(location.postal_code),
        country: text(location.country_code),
        status_code: Some(status_code),
        status_detail_code: Some(status_detail_code),
        ..Default::default()
    };
    mapping::set_times(&mut event, time);
    (time, event)
}

fn lookup(
    profile: &Profile,
    code: Option<&str>,
    derived: &Option<String>,
    notes: &mut Notes,
) -> (StandardizedStatusCode, StandardizedStatusDetailCode) {
    let code = code.map(str::trim).filter(|c| !c.is_empty());
    let derived = derived.as_deref().map(str::trim).filter(|d| !d.is_empty());
    mapping::lookup(profile, ("FedEx", "eventType"), code, derived, notes)
}
