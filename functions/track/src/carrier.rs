//! The carrier port: what Track needs from any carrier API, so the handler knows no carrier and a
//! second carrier is a new adapter beside [`crate::dhl`], not a change to the handler.

use shared::models::TrackingInfo;
use tokio::time::Instant;

use crate::error::TrackError;
use crate::secret::ApiKey;

/// One tracking question, as the handler understood the Connect request.
#[derive(Debug, Clone, Default)]
pub struct TrackQuery {
    pub tracking_number: String,
    /// The carrier's service or division (DHL: `express`, `parcel-de`, ...), narrowing the search.
    pub service: Option<String>,
    pub recipient_postal_code: Option<String>,
    pub origin_country_code: Option<String>,
    /// The key for this call; `None` lets the adapter use its configured one.
    pub api_key: Option<ApiKey>,
}

/// A carrier's answer: the shipment, plus what the caller should know about how it was read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tracked {
    pub tracking_info: TrackingInfo,
    /// Non-fatal notes (a shipment chosen among several, an unmapped code, a time left local).
    pub warnings: Vec<String>,
}

/// A carrier tracking API.
#[async_trait::async_trait]
pub trait Carrier: Send + Sync {
    /// Tracks one shipment, giving up with a typed error rather than running past `deadline`.
    async fn track(&self, query: &TrackQuery, deadline: Instant) -> Result<Tracked, TrackError>;
}
