//! Track: answer one ShipEngine Connect `TrackingRequest` through a carrier's HTTP API. The first
//! carrier is DHL "Shipment Tracking – Unified".
//!
//! # Layout
//!
//! - [`handler`]: the Lambda handler (request → [`carrier::TrackQuery`] → response); `main.rs`
//!   only wires it to the runtime.
//! - [`carrier`]: the carrier port, a small trait.
//! - [`dhl`]: the DHL adapter: HTTP call, DHL's JSON, and the mapping onto Connect.
//! - [`retry`]: bounded backoff with jitter, `Retry-After`, the invocation deadline.
//! - [`config`]: environment configuration, parsed once.
//! - [`secret`]: the API key, which nothing can print.
//! - [`error`]: the errors and their stable Lambda error types.

pub mod carrier;
pub mod config;
pub mod dhl;
pub mod error;
pub mod handler;
pub mod retry;
pub mod secret;

use std::sync::Arc;

use shared::secrets::SecretResolver;

pub use carrier::{Carrier, TrackQuery, Tracked};
pub use config::Config;
pub use error::TrackError;
pub use handler::App;

/// Builds the handler from configuration: the profile, the one HTTP client, the DHL adapter, and
/// the resolver of secret references (it loads the AWS configuration only when it meets one).
/// `main.rs` and the tests share it, so the tests exercise the real wiring.
pub fn build_app(config: &Config) -> Result<App, TrackError> {
    let profile = shared::Profile::builtin(&config.profile)?;
    let client = dhl::http_client(config)?;
    let carrier = dhl::DhlCarrier::new(client, profile, config)?;
    Ok(App {
        carrier: Arc::new(carrier),
        default_budget: config.default_budget,
        api_key: config.api_key.clone(),
        secrets: Arc::new(SecretResolver::from_env(config.secret_cache)),
    })
}
