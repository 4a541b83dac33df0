//! The Lambda handler: a Connect `TrackingRequest` in, a `TrackingResponse` out. It reads the
//! request (tracking number, hints, credentials) and the invocation deadline, and leaves the
//! carrier to the [`Carrier`] port, so it knows no carrier.

use std::sync::Arc;
use std::time::Duration;

use lambda_runtime::LambdaEvent;
use serde_json::{Map, Value};
use shared::models::{TrackingRequest, TrackingResponse};
use shared::secrets::SecretResolver;
use tokio::time::Instant;

use crate::carrier::{Carrier, TrackQuery};
use crate::error::TrackError;
use crate::secret::{ApiKey, ClientSecret};
use shared::report;

/// Where Connect's `TrackingResponse` has no field for them, warnings travel in its `metadata`
/// under this key (the name `ImportedTrackingEvent` uses for the same thing).
pub const WARNINGS_KEY: &str = "warning_messages";

/// The handler and what it holds for the life of the execution environment.
#[derive(Clone)]
pub struct App {
    pub carrier: Arc<dyn Carrier>,
    /// The time allowed when the invocation carries no deadline (local runs, tests).
    pub default_budget: Duration,
    /// `DHL_API_KEY`: the key used when the request brings none.
    pub api_key: Option<ApiKey>,
    /// `CARRIER_CLIENT_ID` and `CARRIER_CLIENT_SECRET`: the OAuth client credentials used when
    /// the request brings none.
    pub client_id: Option<String>,
    pub client_secret: Option<ClientSecret>,
    /// Resolves keys that are secret references, caching them for the environment's life.
    pub secrets: Arc<SecretResolver>,
}

impl App {
    /// One invocation.
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<TrackingResponse, TrackError> {
        let deadline = deadline_from(event.context.deadline, self.default_budget);
        let request = match parse_request(event.payload) {
            Ok(request) => request,
            Err(err) => {
                log_failure(&err, None);
                return Err(err);
            }
        };
        self.track(request, deadline).await
    }

    /// Answers a request, giving up before `deadline`.
    pub async fn track(
        &self,
        request: TrackingRequest,
        deadline: Instant,
    ) -> Result<TrackingResponse, TrackError> {
        let transaction_id = request.base.transaction_id.clone();
        let result = self.track_inner(request, deadline).await;
        match &result {
            Ok(response) => tracing::info!(
                transaction_id,
                status = response
                    .tracking_info
                    .standardized_status_code
                    .as_ref()
                    .map(|s| s.as_str()),
                events = response.tracking_info.events.as_ref().map_or(0, Vec::len),
                "tracked"
            ),
            Err(err) => log_failure(err, Some(&transaction_id)),
        }
        result
    }

    async fn track_inner(
        &self,
        request: TrackingRequest,
        deadline: Instant,
    ) -> Result<TrackingResponse, TrackError> {
        let mut query = query_from(&request)?;
        self.credentials_for(&mut query).await?;
        let tracked = self.carrier.track(&query, deadline).await?;
        for warning in &tracked.warnings {
            tracing::warn!(
                transaction_id = request.base.transaction_id,
                warning,
                "tracking warning"
            );
        }
        Ok(TrackingResponse {
            tracking_info: tracked.tracking_info,
            metadata: response_metadata(request.base.metadata, tracked.warnings),
        })
    }
}

impl App {
    /// The credentials for this call: the request's, else the configured ones, resolved when
    /// they are secret references.
    async fn credentials_for(&self, query: &mut TrackQuery) -> Result<(), TrackError> {
        if let Some(key) = query.api_key.take().or_else(|| self.api_key.clone()) {
            query.api_key = Some(key.resolve(&self.secrets).await?);
        }
        // The configured client applies only to a request that names none: a request's
        // client id is never paired with the configured secret.
        if query.client_id.is_none() {
            query.client_id = self.client_id.clone();
            query.client_secret = self.client_secret.clone();
        }
        if let Some(secret) = query.client_secret.take() {
            query.client_secret = Some(secret.resolve(&self.secrets).await?);
        }
        Ok(())
    }
}

fn log_failure(err: &TrackError, transaction_id: Option<&str>) {
    tracing::error!(
        transaction_id,
        error_type = err.kind(),
        error = %report(err),
        "track failed"
    );
}

/// Reads the event as a Connect request. serde's message for a wrongly typed field quotes the
/// value, and a misplaced token or key would then be in the error and the logs: only a missing
/// field (which names a key, never a value) is passed on.
fn parse_request(payload: Value) -> Result<TrackingRequest, TrackError> {
    serde_json::from_value(payload).map_err(|err| {
        let text = err.to_string();
        TrackError::InvalidEvent {
            reason: if text.starts_with("missing field") {
                text
            } else {
                "a field has the wrong type (values are not repeated: they may be secrets)".into()
            },
        }
    })
}

/// What to ask the carrier: tracking number, hints and key, from wherever Connect put them.
pub fn query_from(request: &TrackingRequest) -> Result<TrackQuery, TrackError> {
    let nonempty = |v: &str| {
        let v = v.trim();
        (!v.is_empty()).then(|| v.to_owned())
    };
    let tracking_number = request
        .identifiers
        .iter()
        .flatten()
        .filter(|id| id.kind.eq_ignore_ascii_case("tracking_number"))
        .find_map(|id| nonempty(&id.value))
        .or_else(|| request.tracking_number.as_deref().and_then(nonempty))
        .ok_or(TrackError::InvalidRequest(
            "no tracking number: send an identifier of type tracking_number",
        ))?;
    // A hint may come as an attribute or in metadata, spelled as DHL's query parameter or in
    // Connect's snake_case.
    let hint = |names: &[&str]| {
        let from_attributes = request
            .attributes
            .iter()
            .flatten()
            .filter(|a| names.iter().any(|n| a.kind.eq_ignore_ascii_case(n)))
            .find_map(|a| nonempty(&a.value));
        from_attributes.or_else(|| {
            names
                .iter()
                .find_map(|n| request.base.metadata_str(n).and_then(nonempty))
        })
    };
    let api_key = request
        .base
        .authorization
        .as_ref()
        .and_then(|a| a.access_token.as_deref())
        .and_then(nonempty)
        .or_else(|| request.base.metadata_str("api_key").and_then(nonempty))
        .map(|k| ApiKey::new(&k));
    let (client_id, client_secret) = client_credentials(request);
    Ok(TrackQuery {
        tracking_number,
        transaction_id: request.base.transaction_id.clone(),
        client_id,
        client_secret,
        service: hint(&["service"]),
        recipient_postal_code: hint(&["recipientPostalCode", "recipient_postal_code"]),
        origin_country_code: hint(&["originCountryCode", "origin_country_code"]),
        api_key,
    })
}

/// An OAuth client's `client_id` and `client_secret`, as the registration form collected them:
/// a pair from one place, the connection's context first, then metadata (the first that names a
/// `client_id`). A secret is never taken from another place than its id.
fn client_credentials(request: &TrackingRequest) -> (Option<String>, Option<ClientSecret>) {
    let context = request
        .base
        .authorization
        .as_ref()
        .and_then(|a| a.connection_context.as_ref());
    let places = [context, request.base.metadata.as_ref()];
    for place in places.into_iter().flatten() {
        let text = |key: &str| {
            let value = place.get(key).and_then(Value::as_str).map(str::trim);
            value.filter(|v| !v.is_empty()).map(str::to_owned)
        };
        if let Some(id) = text("client_id") {
            return (
                Some(id),
                text("client_secret").map(|s| ClientSecret::new(&s)),
            );
        }
    }
    (None, None)
}

/// The response's `metadata`. Connect echoes a response's metadata into later requests of the
/// connection, so this starts from the request's own (never dropping what the connection holds)
/// and sets `warning_messages` to this call's warnings, removing a previous call's when there are
/// none.
fn response_metadata(
    request: Option<Map<String, Value>>,
    warnings: Vec<String>,
) -> Option<Map<String, Value>> {
    let had_metadata = request.is_some();
    let mut metadata = request.unwrap_or_default();
    let stale = metadata.remove(WARNINGS_KEY).is_some();
    if !warnings.is_empty() {
        metadata.insert(
            WARNINGS_KEY.to_owned(),
            Value::Array(warnings.into_iter().map(Value::String).collect()),
        );
    } else if !stale && !had_metadata {
        return None;
    }
    Some(metadata)
}

/// The invocation deadline (ms since the epoch) as an `Instant`; `default_budget` from now when
/// the runtime gave no real deadline.
pub fn deadline_from(deadline_ms: u64, default_budget: Duration) -> Instant {
    shared::deadline::from_epoch_ms(deadline_ms).map_or_else(
        || {
            tracing::debug!(
                deadline_ms,
                default_budget_ms = default_budget.as_millis() as u64,
                "no usable invocation deadline; using DEFAULT_BUDGET_MS"
            );
            Instant::now() + default_budget
        },
        Instant::from_std,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(value: Value) -> TrackingRequest {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn identifiers_win_and_hints_come_from_attributes_or_metadata() {
        let q = query_from(&request(json!({
            "transaction_id": "t",
            "identifiers": [{"type": "carrier_transaction_id", "value": "x"},
                            {"type": "tracking_number", "value": " 00340434 "}],
            "tracking_number": "ignored",
            "attributes": [{"type": "service", "value": "parcel-de"}],
            "metadata": {"service": "express", "recipient_postal_code": "53113",
                         "originCountryCode": "DE", "api_key": "from-metadata"},
            "authorization": {"access_token": "from-token"}
        })))
        .unwrap();
        assert_eq!(q.tracking_number, "00340434");
        assert_eq!(q.service.as_deref(), Some("parcel-de"));
        assert_eq!(q.recipient_postal_code.as_deref(), Some("53113"));
        assert_eq!(q.origin_country_code.as_deref(), Some("DE"));
        let header = q.api_key.unwrap().header_value().unwrap();
        assert_eq!(header.to_str().unwrap(), "from-token");

        let q = query_from(&request(json!({
            "transaction_id": "t", "tracking_number": "42",
            "metadata": {"api_key": "from-metadata"}
        })))
        .unwrap();
        assert_eq!(q.tracking_number, "42");
        let header = q.api_key.unwrap().header_value().unwrap();
        assert_eq!(header.to_str().unwrap(), "from-metadata");
    }

    #[test]
    fn a_missing_or_blank_tracking_number_is_an_invalid_request() {
        for value in [
            json!({"transaction_id": "t"}),
            json!({"transaction_id": "t", "tracking_number": "  ",
                   "identifiers": [{"type": "tracking_number", "value": ""}]}),
        ] {
            let err = query_from(&request(value)).unwrap_err();
            assert_eq!(err.kind(), "InvalidRequest");
        }
    }

    #[test]
    fn a_malformed_event_never_echoes_its_values() {
        let err =
            parse_request(json!({"transaction_id": "t", "authorization": "tok-123"})).unwrap_err();
        assert_eq!(err.kind(), "InvalidRequest");
        assert!(!report(&err).contains("tok-123"), "{}", report(&err));
        let err = parse_request(json!({"metadata": {}})).unwrap_err();
        assert!(report(&err).contains("transaction_id"), "{}", report(&err));
    }

    #[test]
    fn metadata_keeps_the_connection_and_carries_the_warnings() {
        assert_eq!(response_metadata(None, vec![]), None);
        let mut request = Map::new();
        request.insert("account".into(), json!("A1"));
        request.insert(WARNINGS_KEY.into(), json!(["old"]));
        let out = response_metadata(Some(request.clone()), vec!["new".into()]).unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"account": "A1", "warning_messages": ["new"]})
        );
        let out = response_metadata(Some(request), vec![]).unwrap();
        assert_eq!(Value::Object(out), json!({"account": "A1"}));
        let out = response_metadata(None, vec!["w".into()]).unwrap();
        assert_eq!(Value::Object(out), json!({"warning_messages": ["w"]}));
    }
}
