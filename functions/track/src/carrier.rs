//! The carrier port: what Track needs from any carrier API, so the handler knows no carrier and a
//! new carrier is a new adapter beside [`crate::dhl`], [`crate::ups`] and [`crate::fedex`] (plus
//! its profile and a line in [`CarrierKind`]), not a change to the handler.

use shared::models::TrackingInfo;
use tokio::time::Instant;

use crate::error::TrackError;
use crate::secret::{ApiKey, ClientSecret};

/// One tracking question, as the handler understood the Connect request.
#[derive(Debug, Clone, Default)]
pub struct TrackQuery {
    pub tracking_number: String,
    /// The request's `transaction_id` (UPS wants it as its `transId` header).
    pub transaction_id: String,
    /// The carrier's service or division (DHL: `express`, `parcel-de`, ...), narrowing the search.
    pub service: Option<String>,
    pub recipient_postal_code: Option<String>,
    pub origin_country_code: Option<String>,
    /// The key for this call; `None` lets the adapter use its configured one.
    pub api_key: Option<ApiKey>,
    /// OAuth2 client credentials for this call (request, else configuration), secrets resolved.
    pub client_id: Option<String>,
    pub client_secret: Option<ClientSecret>,
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

/// The carriers Track has an adapter for (`CARRIER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CarrierKind {
    #[default]
    Dhl,
    Ups,
    Fedex,
}

impl CarrierKind {
    pub const ALL: [CarrierKind; 3] = [CarrierKind::Dhl, CarrierKind::Ups, CarrierKind::Fedex];

    /// The `CARRIER` value, which is also the built-in profile's name.
    pub fn name(self) -> &'static str {
        match self {
            CarrierKind::Dhl => "dhl",
            CarrierKind::Ups => "ups",
            CarrierKind::Fedex => "fedex",
        }
    }

    /// The production API's scheme and host.
    pub fn default_base_url(self) -> &'static str {
        match self {
            CarrierKind::Dhl => "https://api-eu.dhl.com",
            CarrierKind::Ups => "https://onlinetools.ups.com",
            CarrierKind::Fedex => "https://apis.fedex.com",
        }
    }

    /// The carrier named `name` (case and surrounding space ignored).
    pub fn from_name(name: &str) -> Option<CarrierKind> {
        let name = name.trim();
        CarrierKind::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }
}
