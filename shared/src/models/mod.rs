//! Serde types for ShipEngine Connect's tracking contract.
//!
//! Field names follow Connect's JSON (snake_case). Every optional is `Option` and skipped when
//! absent, so what we send carries no `null`s; every documented key is accepted on input, and
//! unknown keys are ignored so that newer platform payloads keep deserializing.

mod codes;
mod requests;

pub use codes::{StandardizedStatusCode, StandardizedStatusDetailCode};
pub use requests::{
    Authorization, BaseRequest, Identifier, ImportTrackingEventsRequest, TrackingRequest,
};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Any response may hand `metadata` (≤ 4 KB) back to the platform, which echoes it into later
/// requests of the same connection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BaseResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

/// The answer to a [`TrackingRequest`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrackingResponse {
    pub tracking_info: TrackingInfo,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

/// How the platform applies an imported event to what it already holds for the shipment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum UpdateMethod {
    #[default]
    Append,
    Replace,
}

impl UpdateMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateMethod::Append => "append",
            UpdateMethod::Replace => "replace",
        }
    }
}

/// One unit of ImportTrackingEvents output. The platform matches it to a shipment by
/// `tracking_info.tracking_number` (+ `carrier_name`).
///
/// The text type `S` is `String` for owned values; the import's hot path uses `Cow<str>`
/// borrowing from the record it reads, so one definition (and one serde derive) describes both
/// and their JSON cannot drift apart.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
// The text type is an internal matter; the queue contract states only what consumers see.
#[cfg_attr(
    feature = "schema",
    schemars(
        description = "One unit of ImportTrackingEvents output. The platform matches it to a \
                       shipment by `tracking_info.tracking_number` (+ `carrier_name`)."
    )
)]
pub struct ImportedTrackingEvent<S = String> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_info: Option<TrackingInfo<S>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update_method: Option<UpdateMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_messages: Option<Vec<S>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning_messages: Option<Vec<S>>,
}

/// What is known about one shipment. Every field is optional in Connect.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TrackingInfo<S = String> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_name: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standardized_status_code: Option<StandardizedStatusCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standardized_status_detail_code: Option<StandardizedStatusDetailCode>,
    /// The generic code when the carrier has two levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_status_code: Option<S>,
    /// The specific code when the carrier has two levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_detail_code: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_status_description: Option<S>,
    /// ISO 8601, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipped_datetime: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_delivery_datetime: Option<S>,
    /// ISO 8601, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_delivery_datetime: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_problem: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_problem_code: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_problem_description: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<Dimensions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service<S>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packaging: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<TrackEvent<S>>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Dimensions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Service<S = String> {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<S>,
}

/// A point on the map; Connect requires both coordinates whenever `geo` is present.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct Geo {
    pub lat: f64,
    pub long: f64,
}

/// One scan or status change of a shipment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct TrackEvent<S = String> {
    /// ISO 8601, always UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_datetime: Option<S>,
    /// ISO 8601 wall-clock time where the event happened (most carriers give only this).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_datetime_local: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_code: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_detail_code: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof_of_delivery_url: Option<S>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<Geo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<StandardizedStatusCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_detail_code: Option<StandardizedStatusDetailCode>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_optionals_are_omitted() {
        let event: ImportedTrackingEvent = ImportedTrackingEvent {
            tracking_info: Some(TrackingInfo {
                tracking_number: Some("1Z".into()),
                events: Some(vec![TrackEvent::default()]),
                ..Default::default()
            }),
            update_method: Some(UpdateMethod::Append),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&event).unwrap(),
            r#"{"tracking_info":{"tracking_number":"1Z","events":[{}]},"update_method":"append"}"#
        );
    }

    #[test]
    fn unknown_codes_in_input_do_not_fail_the_event() {
        let json = r#"{"tracking_info":{"standardized_status_code":"QQ",
            "events":[{"status_detail_code":"COLLECTION_FAILED","geo":{"lat":1.5,"long":-2}}]},
            "future_key":true}"#;
        let event: ImportedTrackingEvent = serde_json::from_str(json).unwrap();
        let info = event.tracking_info.unwrap();
        assert_eq!(
            info.standardized_status_code,
            Some(StandardizedStatusCode::Other("QQ".into()))
        );
        let ev = &info.events.unwrap()[0];
        assert_eq!(
            ev.status_detail_code,
            Some(StandardizedStatusDetailCode::Other(
                "COLLECTION_FAILED".into()
            ))
        );
        assert_eq!(
            ev.geo,
            Some(Geo {
                lat: 1.5,
                long: -2.0
            })
        );
    }

    #[test]
    fn tracking_response_requires_tracking_info() {
        assert!(serde_json::from_str::<TrackingResponse>(r#"{"metadata":{}}"#).is_err());
        let resp: TrackingResponse =
            serde_json::from_str(r#"{"tracking_info":{"package_count":2}}"#).unwrap();
        assert_eq!(resp.tracking_info.package_count, Some(2));
    }
}
