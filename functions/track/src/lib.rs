//! Track: answer one ShipEngine Connect `TrackingRequest` through a carrier's HTTP API: DHL
//! "Shipment Tracking – Unified" (API key), UPS Tracking and FedEx Track (OAuth2), as `CARRIER`
//! says.
//!
//! # Layout
//!
//! - [`handler`]: the Lambda handler (request → [`carrier::TrackQuery`] → response); `main.rs`
//!   only wires it to the runtime.
//! - [`carrier`]: the carrier port, a small trait, and the carriers `CARRIER` can name.
//! - [`adapter`]: builds the adapter `CARRIER` names (the only place that knows them all).
//! - [`dhl`], [`ups`], [`fedex`]: the adapters: HTTP calls, the carrier's JSON, and the mapping
//!   onto Connect.
//! - [`oauth`]: OAuth2 client credentials and the per-environment token cache.
//! - [`http`]: one HTTP exchange, classified for the retry loop.
//! - [`mapping`]: what every adapter's mapping shares (times, status lookup, warnings).
//! - [`retry`]: bounded backoff with jitter, `Retry-After`, the invocation deadline.
//! - [`config`]: environment configuration, parsed once.
//! - [`secret`]: the API key and client secret, which nothing can print.
//! - [`error`]: the errors and their stable Lambda error types.

pub mod adapter;
pub mod carrier;
pub mod config;
pub mod dhl;
pub mod error;
pub mod fedex;
pub mod handler;
pub mod http;
pub mod mapping;
pub mod oauth;
pub mod retry;
pub mod secret;
pub mod ups;

use std::sync::Arc;

use shared::secrets::SecretResolver;

pub use carrier::{Carrier, TrackQuery, Tracked};
pub use config::Config;
pub use error::TrackError;
pub use handler::App;

/// Builds the handler from configuration: the profile, the one HTTP client, the adapter `CARRIER`
/// names, the token cache, and the resolver of secret references (it loads the AWS configuration
/// only when it meets one). `main.rs` and the tests share it, so the tests exercise the real
/// wiring.
pub fn build_app(config: &Config) -> Result<App, TrackError> {
    build_app_with(config, Arc::new(oauth::SystemClock))
}

/// [`build_app`] with the clock that times token expiry (tests and benchmarks move it by hand).
pub fn build_app_with(config: &Config, clock: Arc<dyn oauth::Clock>) -> Result<App, TrackError> {
    let profile = shared::Profile::builtin(&config.profile)?;
    let client = adapter::http_client(config)?;
    let tokens = Arc::new(oauth::TokenCache::new(clock));
    Ok(App {
        carrier: adapter::build(config, client, profile, tokens)?,
        default_budget: config.default_budget,
        api_key: config.api_key.clone(),
        client_id: config.client_id.clone(),
        client_secret: config.client_secret.clone(),
        secrets: Arc::new(SecretResolver::from_env(config.secret_cache)),
    })
}
