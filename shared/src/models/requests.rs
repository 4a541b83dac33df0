//! Connect requests: the common base, ImportTrackingEvents (the base alone) and Track.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Credentials Connect hands to a function.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Authorization {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_context: Option<Map<String, Value>>,
}

// Hand-written so that a stray `{:?}` of a request can never leak a token or a password.
impl std::fmt::Debug for Authorization {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorization")
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "connection_context",
                &self
                    .connection_context
                    .as_ref()
                    .map(|ctx| ctx.keys().collect::<Vec<_>>()),
            )
            .finish()
    }
}

/// Fields every Connect request carries.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BaseRequest {
    pub transaction_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// What the carrier's registration form collected (may hold secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_name: Option<String>,
}

impl BaseRequest {
    /// A string value of `metadata`, if present and a string.
    pub fn metadata_str(&self, key: &str) -> Option<&str> {
        self.metadata.as_ref()?.get(key)?.as_str()
    }
}

// Metadata may carry passwords: Debug shows only its keys.
impl std::fmt::Debug for BaseRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BaseRequest")
            .field("transaction_id", &self.transaction_id)
            .field("authorization", &self.authorization)
            .field(
                "metadata",
                &self.metadata.as_ref().map(|m| m.keys().collect::<Vec<_>>()),
            )
            .field("connection_name", &self.connection_name)
            .finish()
    }
}

/// ImportTrackingEvents has no fields of its own: only what identifies the connection.
pub type ImportTrackingEventsRequest = BaseRequest;

/// A `{type, value}` pair, as used by `identifiers` and `attributes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identifier {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// Single-shipment Track.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrackingRequest {
    #[serde(flatten)]
    pub base: BaseRequest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifiers: Option<Vec<Identifier>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Vec<Identifier>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_return: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_request_accepts_every_documented_key() {
        let req: TrackingRequest = serde_json::from_str(
            r#"{"transaction_id":"t-1","authorization":{"access_token":"secret-token"},
                "metadata":{"api_key":"k"},"connection_name":"sandbox",
                "identifiers":[{"type":"tracking_number","value":"123"}],
                "attributes":[{"type":"service","value":"express"}],
                "tracking_number":"123","is_return":false}"#,
        )
        .unwrap();
        assert_eq!(req.base.transaction_id, "t-1");
        assert_eq!(req.identifiers.as_ref().unwrap()[0].kind, "tracking_number");
        assert_eq!(req.base.metadata_str("api_key"), Some("k"));
        let debug = format!("{req:?}");
        assert!(!debug.contains("secret-token"), "{debug}");
        assert!(!debug.contains("\"k\""), "{debug}");
    }

    #[test]
    fn transaction_id_is_required() {
        assert!(serde_json::from_str::<BaseRequest>(r#"{"metadata":{}}"#).is_err());
    }
}
