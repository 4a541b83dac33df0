//! Building the carrier adapters: what every adapter is made from once per execution environment
//! (the one HTTP client, the retry policy, the profile, the OAuth token cache), and the one place
//! that maps `CARRIER` to an adapter. A new carrier is a new adapter file, its profile, and one
//! arm in [`build`]; the handler never changes.

use std::sync::Arc;
use std::time::Duration;

use shared::profile::{Format, Profile};

use crate::carrier::{Carrier, CarrierKind};
use crate::config::Config;
use crate::error::TrackError;
use crate::oauth::{ClientAuth, OAuth, TokenCache, TokenEndpoint};
use crate::retry::RetryPolicy;
use crate::{dhl, fedex, ups};

/// The adapter `config.carrier` names, with `profile`, sharing `client` and `tokens`.
pub fn build(
    config: &Config,
    client: reqwest::Client,
    profile: Profile,
    tokens: Arc<TokenCache>,
) -> Result<Arc<dyn Carrier>, TrackError> {
    let profile = api_profile(profile)?;
    let oauth = OAuthParts {
        base_url: config.carrier_base_url.clone(),
        client: client.clone(),
        retry: retry_policy(config),
        request_timeout: config.request_timeout,
        cache: tokens,
    };
    Ok(match config.carrier {
        CarrierKind::Dhl => Arc::new(dhl::DhlCarrier::new(client, profile, config)?),
        CarrierKind::Ups => Arc::new(ups::UpsCarrier::new(oauth, profile)?),
        CarrierKind::Fedex => Arc::new(fedex::FedexCarrier::new(oauth, profile)?),
    })
}

/// The one HTTP client of an execution environment: built once, so connections (and TLS
/// sessions) are reused across invocations.
pub fn http_client(config: &Config) -> Result<reqwest::Client, TrackError> {
    reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .read_timeout(config.read_timeout)
        .user_agent(concat!(
            "shipengine-connect-track/",
            env!("CARGO_PKG_VERSION")
        ))
        .build()
        .map_err(TrackError::HttpClient)
}

/// How hard every carrier call (tracking or token) tries.
pub fn retry_policy(config: &Config) -> RetryPolicy {
    RetryPolicy {
        attempts: config.retry_attempts,
        base: config.retry_base,
        max_delay: config.retry_max,
        deadline_margin: config.deadline_margin,
    }
}

/// `profile`, if it describes an API (Track has no use for a file profile).
fn api_profile(profile: Profile) -> Result<Profile, TrackError> {
    if profile.format != Format::Api {
        return Err(TrackError::Config {
            var: "PROFILE",
            reason: format!(
                "profile `{}` describes a file; Track needs a profile with format = \"api\"",
                profile.name
            ),
        });
    }
    Ok(profile)
}

/// `base` with `segments` appended to its path.
pub fn endpoint(base: &reqwest::Url, segments: &[&str]) -> Result<reqwest::Url, TrackError> {
    let mut url = base.clone();
    url.path_segments_mut()
        .map_err(|()| TrackError::Config {
            var: "CARRIER_BASE_URL",
            reason: "cannot carry a path".into(),
        })?
        .pop_if_empty()
        .extend(segments);
    Ok(url)
}

/// What an OAuth adapter needs before it names its token endpoint.
pub struct OAuthParts {
    pub base_url: reqwest::Url,
    pub client: reqwest::Client,
    pub retry: RetryPolicy,
    pub request_timeout: Duration,
    pub cache: Arc<TokenCache>,
}

impl OAuthParts {
    /// The carrier's OAuth, its token endpoint at `token_path` under the base URL.
    pub fn into_oauth(
        self,
        carrier: &'static str,
        token_path: &[&str],
        auth: ClientAuth,
    ) -> Result<OAuth, TrackError> {
        Ok(OAuth {
            endpoint: TokenEndpoint {
                carrier,
                url: endpoint(&self.base_url, token_path)?,
                base_url: self.base_url,
                auth,
            },
            client: self.client,
            retry: self.retry,
            request_timeout: self.request_timeout,
            cache: self.cache,
        })
    }
}
