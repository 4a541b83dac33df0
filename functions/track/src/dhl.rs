//! The DHL "Shipment Tracking – Unified" adapter of the carrier port: one GET per tracking
//! number, DHL's JSON read into serde types, and the shipment mapped onto Connect's
//! `TrackingInfo` with the `dhl` profile's status map.
//!
//! DHL's shapes (see the reference notes): `shipments[]`, each with `status`, `events[]` and
//! `details`; every event has a `statusCode` (`pre-transit`, `transit`, `delivered`, `failure`,
//! `unknown`) and a division-specific `status`; timestamps come with or without an offset, or as
//! a bare date. Events are not promised in any order.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::ACCEPT;
use serde::Deserialize;
use shared::datetime::ApiTimestamp;
use shared::models::{
    Dimensions, Service, StandardizedStatusCode, StandardizedStatusDetailCode, TrackEvent,
    TrackingInfo,
};
use shared::profile::Profile;
use tokio::time::Instant;

use crate::adapter;
use crate::carrier::{Carrier, TrackQuery, Tracked};
use crate::config::Config;
use crate::error::TrackError;
use crate::http;
use crate::mapping::{self, Notes, read_time};
use crate::retry::{Attempt, RetryPolicy};
use crate::secret::ApiKey;

/// The header DHL reads the consumer key from.
pub const API_KEY_HEADER: &str = "DHL-API-Key";

/// DHL Unified tracking.
#[derive(Debug, Clone)]
pub struct DhlCarrier {
    client: reqwest::Client,
    endpoint: reqwest::Url,
    profile: Profile,
    /// `DHL_API_KEY`, for a query without a key. [`crate::App`] passes every query its key,
    /// already resolved when it was a secret reference.
    api_key: Option<ApiKey>,
    retry: RetryPolicy,
    request_timeout: Duration,
}

impl DhlCarrier {
    /// The adapter (`profile` is an API profile: [`crate::adapter::build`] checks).
    pub fn new(
        client: reqwest::Client,
        profile: Profile,
        config: &Config,
    ) -> Result<DhlCarrier, TrackError> {
        Ok(DhlCarrier {
            client,
            endpoint: adapter::endpoint(&config.carrier_base_url, &["track", "shipments"])?,
            profile,
            api_key: config.api_key.clone(),
            retry: adapter::retry_policy(config),
            request_timeout: config.request_timeout,
        })
    }

    /// One GET, read to the end and classified.
    async fn attempt(
        &self,
        query: &TrackQuery,
        key: &ApiKey,
        header: &reqwest::header::HeaderValue,
        budget: Duration,
    ) -> Attempt<DhlResponse> {
        let mut params = vec![("trackingNumber", query.tracking_number.as_str())];
        for (name, value) in [
            ("service", &query.service),
            ("recipientPostalCode", &query.recipient_postal_code),
            ("originCountryCode", &query.origin_country_code),
        ] {
            if let Some(value) = value {
                params.push((name, value.as_str()));
            }
        }
        let request = self
            .client
            .get(self.endpoint.clone())
            .query(&params)
            .header(API_KEY_HEADER, header.clone())
            .header(ACCEPT, "application/json");
        let detail = |body: &[u8]| problem_detail(body, key);
        let reply = match http::exchange("DHL", request, budget, self.request_timeout, detail).await
        {
            Ok(reply) => reply,
            Err(retry) => return retry,
        };
        let status = reply.status.as_u16();
        let detail = || detail(&reply.body);
        Attempt::Done(match reply.status {
            StatusCode::OK => serde_json::from_slice::<DhlResponse>(&reply.body)
                .map_err(TrackError::CarrierResponseInvalid),
            StatusCode::NOT_FOUND => Err(TrackError::TrackingNumberNotFound {
                tracking_number: query.tracking_number.clone(),
                detail: detail(),
            }),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(TrackError::CarrierUnauthorized {
                    status,
                    detail: detail(),
                })
            }
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
                Err(TrackError::CarrierRejected {
                    status,
                    detail: detail(),
                })
            }
            _ => Err(TrackError::CarrierUnexpectedStatus {
                status,
                detail: detail(),
            }),
        })
    }
}

#[async_trait::async_trait]
impl Carrier for DhlCarrier {
    async fn track(&self, query: &TrackQuery, deadline: Instant) -> Result<Tracked, TrackError> {
        let key = query
            .api_key
            .as_ref()
            .or(self.api_key.as_ref())
            .ok_or(TrackError::InvalidRequest(
                "no DHL API key: send authorization.access_token or metadata.api_key, or configure DHL_API_KEY",
            ))?;
        let header = key.header_value().ok_or(TrackError::InvalidRequest(
            "the DHL API key holds characters an HTTP header cannot carry",
        ))?;
        let body = self
            .retry
            .run(deadline, |attempt, budget| {
                tracing::debug!(
                    tracking_number = %query.tracking_number,
                    attempt,
                    budget_ms = budget.as_millis() as u64,
                    "calling DHL"
                );
                self.attempt(query, key, &header, budget)
            })
            .await?;
        to_tracked(body, query, &self.profile)
    }
}

/// DHL's error body (`application/problem+json`), reduced to one short, key-free line.
fn problem_detail(body: &[u8], key: &ApiKey) -> Option<String> {
    #[derive(Deserialize)]
    struct Problem {
        title: Option<String>,
        detail: Option<String>,
    }
    let problem: Problem = serde_json::from_slice(body).ok()?;
    let text = match (problem.title, problem.detail) {
        (Some(title), Some(detail)) if title != detail => format!("{title}: {detail}"),
        (_, Some(text)) | (Some(text), None) => text,
        (None, None) => return None,
    };
    Some(key.scrub(&http::short(&text)))
}

// ---------------------------------------------------------------------------------------------
// DHL's body. Everything is optional: divisions fill different parts, and a missing field must
// leave a Connect field empty, not fail the call.

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DhlResponse {
    #[serde(default)]
    pub shipments: Vec<DhlShipment>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DhlShipment {
    /// A string in v1.5; v1.3's examples show a number.
    pub id: Option<serde_json::Value>,
    pub service: Option<String>,
    pub origin: Option<DhlPlace>,
    pub destination: Option<DhlPlace>,
    pub status: Option<DhlEvent>,
    pub estimated_time_of_delivery: Option<String>,
    pub estimated_delivery_time_frame: Option<DhlTimeFrame>,
    pub details: Option<DhlDetails>,
    #[serde(default)]
    pub events: Vec<DhlEvent>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DhlTimeFrame {
    pub estimated_from: Option<String>,
    pub estimated_through: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DhlPlace {
    pub address: Option<DhlAddress>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DhlAddress {
    pub address_locality: Option<String>,
    pub address_region: Option<String>,
    pub postal_code: Option<String>,
    pub country_code: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DhlEvent {
    pub timestamp: Option<String>,
    pub location: Option<DhlPlace>,
    pub status_code: Option<String>,
    pub status: Option<String>,
    pub status_detailed: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DhlDetails {
    pub product: Option<DhlProduct>,
    pub proof_of_delivery: Option<DhlProofOfDelivery>,
    pub total_number_of_pieces: Option<u32>,
    pub weight: Option<DhlMeasure>,
    pub dimensions: Option<DhlDimensions>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DhlProduct {
    pub product_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DhlProofOfDelivery {
    pub timestamp: Option<String>,
    pub signature_url: Option<String>,
    pub document_url: Option<String>,
    pub signed: Option<DhlPerson>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DhlPerson {
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DhlMeasure {
    pub value: Option<f64>,
    pub unit_text: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DhlDimensions {
    pub width: Option<DhlMeasure>,
    pub height: Option<DhlMeasure>,
    pub length: Option<DhlMeasure>,
}

// ---------------------------------------------------------------------------------------------
// DHL → Connect.

/// Maps DHL's answer for `query` onto Connect, choosing one shipment when there are several.
pub fn to_tracked(
    body: DhlResponse,
    query: &TrackQuery,
    profile: &Profile,
) -> Result<Tracked, TrackError> {
    let mut warnings = Vec::new();
    let shipment = choose_shipment(body.shipments, query, &mut warnings).ok_or_else(|| {
        TrackError::TrackingNumberNotFound {
            tracking_number: query.tracking_number.clone(),
            detail: Some("the carrier answered with no shipment".into()),
        }
    })?;
    let mut notes = Notes::default();
    let info = map_shipment(shipment, query, profile, &mut notes);
    warnings.extend(notes.0);
    Ok(Tracked {
        tracking_info: info,
        warnings,
    })
}

/// The shipment whose `service` matches the hint, else the first; a warning whenever there was
/// a choice to make (or the hint matched nothing).
fn choose_shipment(
    mut shipments: Vec<DhlShipment>,
    query: &TrackQuery,
    warnings: &mut Vec<String>,
) -> Option<DhlShipment> {
    if shipments.is_empty() {
        return None;
    }
    let count = shipments.len();
    let services = || {
        shipments
            .iter()
            .map(|s| s.service.as_deref().unwrap_or("?"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let hinted = query.service.as_deref().and_then(|hint| {
        shipments.iter().position(|s| {
            s.service
                .as_deref()
                .is_some_and(|service| service.eq_ignore_ascii_case(hint))
        })
    });
    match (&query.service, hinted) {
        (_, Some(index)) if count > 1 => warnings.push(format!(
            "DHL returned {count} shipments for {} (services: {}); used the one of service `{}`",
            query.tracking_number,
            services(),
            shipments[index].service.as_deref().unwrap_or("?"),
        )),
        (_, Some(_)) => {}
        (Some(hint), None) => warnings.push(format!(
            "DHL returned {count} shipment(s) for {} (services: {}), none of service `{hint}`; used the first",
            query.tracking_number,
            services(),
        )),
        (None, None) if count > 1 => warnings.push(format!(
            "DHL returned {count} shipments for {} (services: {}); used the first; send a `service` attribute to choose",
            query.tracking_number,
            services(),
        )),
        (None, None) => {}
    }
    Some(shipments.swap_remove(hinted.unwrap_or(0)))
}

fn map_shipment(
    shipment: DhlShipment,
    query: &TrackQuery,
    profile: &Profile,
    notes: &mut Notes,
) -> TrackingInfo {
    let DhlShipment {
        service,
        status,
        estimated_time_of_delivery,
        estimated_delivery_time_frame,
        details,
        events,
        ..
    } = shipment;
    let details = details.unwrap_or_default();

    let mut events: Vec<(Option<ApiTimestamp>, TrackEvent)> = events
        .into_iter()
        .map(|event| map_event(event, profile, notes))
        .collect();
    // Newest first; a timestamp we could not read sorts last, and ties keep DHL's order.
    // (`None` orders below every `Some`, so descending puts it last; the sort is stable.)
    events.sort_by_key(|(time, _)| std::cmp::Reverse(time.map(|t| t.sort_key())));

    let current = ShipmentStatus::of(status.as_ref(), &events, profile, notes);
    let failed = current.code.as_deref() == Some("failure");
    let pod = details.proof_of_delivery.unwrap_or_default();
    let actual_delivery_datetime = deliver_on_newest(&mut events, &pod, notes);
    let estimated = estimated_time_of_delivery
        .map(|raw| (raw, "estimatedTimeOfDelivery"))
        .or_else(|| {
            estimated_delivery_time_frame
                .and_then(|frame| frame.estimated_through.or(frame.estimated_from))
                .map(|raw| (raw, "estimatedDeliveryTimeFrame"))
        })
        .and_then(|(raw, field)| read_time(&raw, field, notes))
        .map(|t| t.best_iso8601());

    let product_name = details.product.and_then(|p| p.product_name);
    let service = (service.is_some() || product_name.is_some()).then_some(Service {
        code: service,
        name: product_name,
    });
    let dimensions = details.dimensions.and_then(|d| {
        let dims = Dimensions {
            length: measure(d.length),
            width: measure(d.width),
            height: measure(d.height),
        };
        (dims != Dimensions::default()).then_some(dims)
    });
    let (standardized_status_code, standardized_status_detail_code) = current.standardized.unzip();

    TrackingInfo {
        carrier_name: Some(profile.carrier_name.clone()),
        tracking_number: Some(query.tracking_number.clone()),
        standardized_status_code,
        standardized_status_detail_code,
        carrier_status_code: current.code,
        carrier_detail_code: current.detail,
        shipping_problem: failed.then_some(true),
        shipping_problem_description: if failed {
            current.description.clone()
        } else {
            None
        },
        carrier_status_description: current.description,
        estimated_delivery_datetime: estimated,
        actual_delivery_datetime,
        weight: measure(details.weight),
        dimensions,
        service,
        package_count: details.total_number_of_pieces,
        events: Some(events.into_iter().map(|(_, e)| e).collect()),
        ..Default::default()
    }
}

/// A shipment's current status: DHL's shipment-level `status`, else its newest event's.
struct ShipmentStatus {
    code: Option<String>,
    detail: Option<String>,
    description: Option<String>,
    standardized: Option<(StandardizedStatusCode, StandardizedStatusDetailCode)>,
}

impl ShipmentStatus {
    fn of(
        status: Option<&DhlEvent>,
        events: &[(Option<ApiTimestamp>, TrackEvent)],
        profile: &Profile,
        notes: &mut Notes,
    ) -> ShipmentStatus {
        match (status, events.first()) {
            (Some(status), _) => ShipmentStatus {
                code: status.status_code.clone(),
                detail: status.status.clone(),
                description: description(status),
                standardized: Some(lookup(
                    profile,
                    status.status_code.as_deref(),
                    status.status.as_deref(),
                    notes,
                )),
            },
            (None, Some((_, newest))) => ShipmentStatus {
                code: newest.event_code.clone(),
                detail: newest.carrier_detail_code.clone(),
                description: newest.description.clone(),
                standardized: newest
                    .status_code
                    .clone()
                    .zip(newest.status_detail_code.clone()),
            },
            (None, None) => ShipmentStatus {
                code: None,
                detail: None,
                description: None,
                standardized: None,
            },
        }
    }
}

/// Puts the proof of delivery on the newest delivered event; returns the delivery's UTC time
/// (the proof's timestamp, else that event's), or nothing when it has no offset (noted).
fn deliver_on_newest(
    events: &mut [(Option<ApiTimestamp>, TrackEvent)],
    pod: &DhlProofOfDelivery,
    notes: &mut Notes,
) -> Option<String> {
    let delivered_at = events
        .iter()
        .position(|(_, e)| e.event_code.as_deref() == Some("delivered"));
    if let Some(index) = delivered_at {
        let event = &mut events[index].1;
        event.signer = pod.signed.as_ref().and_then(signer_name);
        event.proof_of_delivery_url = pod.document_url.clone().or(pod.signature_url.clone());
    }
    let delivery_time = match pod.timestamp.as_deref() {
        Some(raw) => read_time(raw, "proofOfDelivery.timestamp", notes),
        None => delivered_at.and_then(|i| events[i].0),
    };
    mapping::utc_delivery(delivery_time, notes)
}

fn map_event(
    event: DhlEvent,
    profile: &Profile,
    notes: &mut Notes,
) -> (Option<ApiTimestamp>, TrackEvent) {
    let time = event
        .timestamp
        .as_deref()
        .and_then(|raw| read_time(raw, "events[].timestamp", notes));
    let (status_code, status_detail_code) = lookup(
        profile,
        event.status_code.as_deref(),
        event.status.as_deref(),
        notes,
    );
    let mut mapped = TrackEvent {
        description: description(&event),
        event_code: event.status_code,
        carrier_detail_code: event.status,
        status_code: Some(status_code),
        status_detail_code: Some(status_detail_code),
        ..Default::default()
    };
    mapping::set_times(&mut mapped, time);
    place_event(&mut mapped, event.location);
    (time, mapped)
}

/// Puts a DHL place (the same shape for an event's location, origin and destination) into
/// Connect's flat event location fields.
fn place_event(event: &mut TrackEvent, place: Option<DhlPlace>) {
    let Some(address) = place.and_then(|p| p.address) else {
        return;
    };
    event.city = address.address_locality;
    event.state = address.address_region;
    event.postal_code = address.postal_code;
    event.country = address.country_code;
}

/// The number of a DHL measure. Connect's weight and dimensions carry no unit, so the value goes
/// as DHL gives it.
fn measure(m: Option<DhlMeasure>) -> Option<f64> {
    m.and_then(|m| m.value)
}

/// The most telling text DHL gave for an event.
fn description(event: &DhlEvent) -> Option<String> {
    event
        .description
        .clone()
        .or_else(|| event.status_detailed.clone())
        .or_else(|| event.status.clone())
}

fn signer_name(person: &DhlPerson) -> Option<String> {
    if let Some(name) = person.name.as_deref().filter(|n| !n.trim().is_empty()) {
        return Some(name.trim().to_owned());
    }
    let parts: Vec<&str> = [&person.given_name, &person.family_name]
        .into_iter()
        .filter_map(|p| p.as_deref().map(str::trim).filter(|p| !p.is_empty()))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The standardized pair for a DHL code: `"<statusCode>:<status>"` first (a finer key a profile
/// may add), then `"<statusCode>"`.
fn lookup(
    profile: &Profile,
    status_code: Option<&str>,
    status: Option<&str>,
    notes: &mut Notes,
) -> (StandardizedStatusCode, StandardizedStatusDetailCode) {
    mapping::lookup(profile, ("DHL", "statusCode"), status_code, status, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(service: Option<&str>) -> TrackQuery {
        TrackQuery {
            tracking_number: "123".into(),
            service: service.map(Into::into),
            ..Default::default()
        }
    }

    fn dhl() -> Profile {
        Profile::builtin("dhl").unwrap()
    }

    fn body(json: &str) -> DhlResponse {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_finer_profile_key_wins_over_the_status_code() {
        let mut profile = dhl();
        let finer = Profile::from_toml(
            r#"name = "x"
               carrier_name = "X"
               format = "api"
               [status_map]
               "transit:ARRIVED AT CUSTOMS" = ["IT", "CUSTOMS_PROCESSING"]"#,
            "x",
        )
        .unwrap();
        profile.status_map.extend(finer.status_map);
        let mut notes = Notes::default();
        let (s, d) = lookup(
            &profile,
            Some("transit"),
            Some("ARRIVED AT CUSTOMS"),
            &mut notes,
        );
        assert_eq!((s.as_str(), d.as_str()), ("IT", "CUSTOMS_PROCESSING"));
        let (s, d) = lookup(&profile, Some("transit"), Some("DEPARTED"), &mut notes);
        assert_eq!((s.as_str(), d.as_str()), ("IT", "IN_TRANSIT"));
        assert!(notes.0.is_empty());
        let (s, d) = lookup(&profile, Some("lost-in-space"), None, &mut notes);
        assert_eq!(
            (s.as_str(), d.as_str()),
            ("UN", "CARRIER_STATUS_NOT_MAPPED")
        );
        assert_eq!(notes.0.len(), 1);
    }

    #[test]
    fn events_are_sorted_newest_first_whatever_dhl_sent() {
        let tracked = to_tracked(
            body(
                r#"{"shipments":[{"events":[
                {"timestamp":"2023-01-11T11:58:34Z","statusCode":"unknown"},
                {"timestamp":"garbage","statusCode":"transit"},
                {"timestamp":"2023-01-29T16:02:00+01:00","statusCode":"transit"},
                {"timestamp":"2023-01-20T10:21:25Z","statusCode":"pre-transit"}]}]}"#,
            ),
            &query(None),
            &dhl(),
        )
        .unwrap();
        let events = tracked.tracking_info.events.unwrap();
        let times: Vec<_> = events
            .iter()
            .map(|e| e.event_datetime.as_deref().unwrap_or("-"))
            .collect();
        assert_eq!(
            times,
            [
                "2023-01-29T15:02:00Z",
                "2023-01-20T10:21:25Z",
                "2023-01-11T11:58:34Z",
                "-"
            ]
        );
        assert!(
            tracked.warnings.iter().any(|w| w.contains("\"garbage\"")),
            "{:?}",
            tracked.warnings
        );
        // No `status` block: the newest event stands for the shipment.
        assert_eq!(
            tracked.tracking_info.carrier_status_code.as_deref(),
            Some("transit")
        );
    }

    #[test]
    fn every_dhl_time_form_lands_in_the_right_field() {
        let tracked = to_tracked(
            body(
                r#"{"shipments":[{"events":[
                {"timestamp":"2023-01-29T16:02:00Z","statusCode":"transit"},
                {"timestamp":"2023-01-29T16:02:00.5+01:00","statusCode":"transit"},
                {"timestamp":"2023-01-28T16:02:00.123456789-0500","statusCode":"transit"},
                {"timestamp":"2023-01-27T16:02:00","statusCode":"transit"},
                {"timestamp":"2023-01-26T16:02:00.987654321","statusCode":"transit"},
                {"timestamp":"2023-01-25","statusCode":"transit"}]}]}"#,
            ),
            &query(None),
            &dhl(),
        )
        .unwrap();
        let events = tracked.tracking_info.events.unwrap();
        let times: Vec<_> = events
            .iter()
            .map(|e| {
                (
                    e.event_datetime.as_deref(),
                    e.event_datetime_local.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            times,
            [
                (Some("2023-01-29T16:02:00Z"), Some("2023-01-29T16:02:00")),
                (
                    Some("2023-01-29T15:02:00.500Z"),
                    Some("2023-01-29T16:02:00.500")
                ),
                (
                    Some("2023-01-28T21:02:00.123456789Z"),
                    Some("2023-01-28T16:02:00.123456789")
                ),
                // No offset: local only, never a UTC value.
                (None, Some("2023-01-27T16:02:00")),
                (None, Some("2023-01-26T16:02:00.987654321")),
                (None, Some("2023-01-25")),
            ]
        );
        assert!(tracked.warnings.is_empty(), "{:?}", tracked.warnings);
    }

    #[test]
    fn a_delivery_time_without_offset_is_never_passed_off_as_utc() {
        let tracked = to_tracked(
            body(
                r#"{"shipments":[{"service":"parcel-de",
                "status":{"timestamp":"2023-01-30T09:15:00","statusCode":"delivered","status":"ZU"},
                "details":{"proofOfDelivery":{"timestamp":"2023-01-30T09:15:00",
                                              "signed":{"name":"Nachbar"}}},
                "events":[{"timestamp":"2023-01-30T09:15:00","statusCode":"delivered","status":"ZU"},
                          {"timestamp":"2023-01-29T18:00:00","statusCode":"transit"}]}]}"#,
            ),
            &query(None),
            &dhl(),
        )
        .unwrap();
        let info = tracked.tracking_info;
        assert_eq!(info.actual_delivery_datetime, None);
        let delivered = &info.events.as_ref().unwrap()[0];
        assert_eq!(delivered.event_datetime, None);
        assert_eq!(
            delivered.event_datetime_local.as_deref(),
            Some("2023-01-30T09:15:00")
        );
        assert_eq!(delivered.signer.as_deref(), Some("Nachbar"));
        assert!(
            tracked.warnings.iter().any(|w| w.contains("no UTC offset")),
            "{:?}",
            tracked.warnings
        );
    }

    #[test]
    fn a_failure_is_a_shipping_problem() {
        let info = to_tracked(
            body(
                r#"{"shipments":[{"status":{"timestamp":"2026-11-20T09:00:00Z",
                "statusCode":"failure","status":"RETURNED","description":"Address unknown"}}]}"#,
            ),
            &query(None),
            &dhl(),
        )
        .unwrap()
        .tracking_info;
        assert_eq!(info.standardized_status_code.unwrap().as_str(), "EX");
        assert_eq!(info.shipping_problem, Some(true));
        assert_eq!(
            info.shipping_problem_description.as_deref(),
            Some("Address unknown")
        );
    }

    #[test]
    fn no_shipment_is_not_found() {
        let err = to_tracked(body(r#"{"shipments":[]}"#), &query(None), &dhl()).unwrap_err();
        assert_eq!(err.kind(), "TrackingNumberNotFound");
    }

    #[test]
    fn a_hint_matching_nothing_takes_the_first_and_says_so() {
        let tracked = to_tracked(
            body(r#"{"shipments":[{"service":"express"}]}"#),
            &query(Some("parcel-de")),
            &dhl(),
        )
        .unwrap();
        assert_eq!(tracked.warnings.len(), 1);
        assert!(tracked.warnings[0].contains("none of service `parcel-de`"));
    }

    #[test]
    fn problem_details_are_short_and_scrubbed() {
        let key = ApiKey::new("k-999");
        let detail = problem_detail(
            br#"{"title":"Unauthorized","status":401,"detail":"Invalid key k-999"}"#,
            &key,
        );
        assert_eq!(
            detail.as_deref(),
            Some("Unauthorized: Invalid key [redacted]")
        );
        assert_eq!(problem_detail(b"<html>", &key), None);
    }
}
