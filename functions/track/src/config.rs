//! Configuration, read once from the environment into a typed struct, so that a bad value fails
//! the cold start with a message naming the variable instead of failing every invocation.

use std::time::Duration;

use crate::carrier::CarrierKind;
use crate::error::TrackError;
use crate::secret::{ApiKey, ClientSecret};

/// Everything Track reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `CARRIER`: `dhl` (default), `ups` or `fedex`: which adapter answers.
    pub carrier: CarrierKind,
    /// `CARRIER_BASE_URL`: scheme and host of the carrier API (tests point it at a local server);
    /// default the carrier's production API.
    pub carrier_base_url: reqwest::Url,
    /// `DHL_API_KEY`: the key used when the request brings none. Redacted in `Debug`. Like a
    /// request's key, it may be a secret reference (`secretsmanager:…`, `ssm:…`).
    pub api_key: Option<ApiKey>,
    /// `CARRIER_CLIENT_ID`: the OAuth client id used when the request brings none.
    pub client_id: Option<String>,
    /// `CARRIER_CLIENT_SECRET`: its secret (redacted in `Debug`; may be a secret reference).
    pub client_secret: Option<ClientSecret>,
    /// `PROFILE`: the carrier profile whose status map applies (default: the carrier's name).
    pub profile: String,
    /// `CONNECT_TIMEOUT_MS`: TCP + TLS connect, per attempt.
    pub connect_timeout: Duration,
    /// `READ_TIMEOUT_MS`: longest wait for the next bytes of a response.
    pub read_timeout: Duration,
    /// `REQUEST_TIMEOUT_MS`: one attempt, start to end of body (always also capped by the
    /// invocation's deadline).
    pub request_timeout: Duration,
    /// `RETRY_ATTEMPTS`: attempts in all (1 = no retry) for 429, 5xx and transport failures.
    pub retry_attempts: u32,
    /// `RETRY_BASE_MS`: first backoff delay; doubles per attempt, with jitter.
    pub retry_base: Duration,
    /// `RETRY_MAX_MS`: cap on one backoff delay, and on how long a `Retry-After` is honoured.
    pub retry_max: Duration,
    /// `DEADLINE_MARGIN_MS`: time kept back from the invocation deadline to return a typed error
    /// instead of being killed by a Lambda timeout.
    pub deadline_margin: Duration,
    /// `DEFAULT_BUDGET_MS`: the time allowed when the invocation carries no deadline (local runs).
    pub default_budget: Duration,
    /// `SECRET_CACHE_SECS`: how long a key resolved from a secret reference is reused (0: never).
    pub secret_cache: Duration,
}

impl Default for Config {
    fn default() -> Self {
        let carrier = CarrierKind::default();
        Config {
            carrier,
            carrier_base_url: default_base_url(carrier),
            api_key: None,
            client_id: None,
            client_secret: None,
            profile: carrier.name().into(),
            connect_timeout: Duration::from_secs(3),
            read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(15),
            retry_attempts: 3,
            retry_base: Duration::from_millis(500),
            retry_max: Duration::from_secs(5),
            deadline_margin: Duration::from_millis(300),
            default_budget: Duration::from_secs(30),
            secret_cache: shared::secrets::DEFAULT_CACHE_TTL,
        }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, TrackError> {
        Config::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, TrackError> {
        let d = Config::default();
        let nonempty = |k: &str| shared::env::value(&get, k);
        let millis = |var: &'static str, default: Duration| -> Result<Duration, TrackError> {
            Ok(Duration::from_millis(shared::env::number(
                &get,
                var,
                default.as_millis() as u64,
            )?))
        };
        let carrier = match nonempty("CARRIER") {
            None => d.carrier,
            Some(v) => CarrierKind::from_name(&v).ok_or_else(|| TrackError::Config {
                var: "CARRIER",
                reason: format!("{v:?} is not one of dhl, ups, fedex"),
            })?,
        };
        let carrier_base_url = match nonempty("CARRIER_BASE_URL") {
            None => default_base_url(carrier),
            Some(v) => parse_base_url(v.trim())?,
        };
        let config = Config {
            carrier,
            carrier_base_url,
            api_key: nonempty("DHL_API_KEY").map(|k| ApiKey::new(k.trim())),
            client_id: nonempty("CARRIER_CLIENT_ID").map(|v| v.trim().to_owned()),
            client_secret: nonempty("CARRIER_CLIENT_SECRET").map(|v| ClientSecret::new(v.trim())),
            profile: nonempty("PROFILE").unwrap_or_else(|| carrier.name().to_owned()),
            connect_timeout: millis("CONNECT_TIMEOUT_MS", d.connect_timeout)?,
            read_timeout: millis("READ_TIMEOUT_MS", d.read_timeout)?,
            request_timeout: millis("REQUEST_TIMEOUT_MS", d.request_timeout)?,
            retry_attempts: shared::env::number(&get, "RETRY_ATTEMPTS", d.retry_attempts)?,
            retry_base: millis("RETRY_BASE_MS", d.retry_base)?,
            retry_max: millis("RETRY_MAX_MS", d.retry_max)?,
            deadline_margin: millis("DEADLINE_MARGIN_MS", d.deadline_margin)?,
            default_budget: millis("DEFAULT_BUDGET_MS", d.default_budget)?,
            secret_cache: shared::secrets::cache_ttl(&get)?,
        };
        config.validate()
    }

    fn validate(self) -> Result<Config, TrackError> {
        let bad = |var, reason: &str| {
            Err(TrackError::Config {
                var,
                reason: reason.to_owned(),
            })
        };
        if self.retry_attempts == 0 {
            return bad("RETRY_ATTEMPTS", "must be at least 1");
        }
        for (var, v) in [
            ("CONNECT_TIMEOUT_MS", self.connect_timeout),
            ("READ_TIMEOUT_MS", self.read_timeout),
            ("REQUEST_TIMEOUT_MS", self.request_timeout),
            ("DEFAULT_BUDGET_MS", self.default_budget),
        ] {
            if v.is_zero() {
                return bad(var, "must be at least 1");
            }
        }
        if self.retry_max < self.retry_base {
            return bad("RETRY_MAX_MS", "is smaller than RETRY_BASE_MS");
        }
        Ok(self)
    }
}

fn default_base_url(carrier: CarrierKind) -> reqwest::Url {
    // Constant, well-formed URLs.
    reqwest::Url::parse(carrier.default_base_url()).expect("valid default URL")
}

fn parse_base_url(v: &str) -> Result<reqwest::Url, TrackError> {
    let url = reqwest::Url::parse(v).map_err(|source| TrackError::BaseUrl {
        value: v.to_owned(),
        source: Box::new(source),
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.cannot_be_a_base() {
        return Err(TrackError::Config {
            var: "CARRIER_BASE_URL",
            reason: format!("{v:?} is not an http(s) base URL"),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Config, TrackError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_point_at_dhl_production() {
        let c = from(&[]).unwrap();
        assert_eq!(c.carrier_base_url.as_str(), "https://api-eu.dhl.com/");
        assert!(c.api_key.is_none());
        assert_eq!(c.retry_attempts, 3);
        assert_eq!(c.profile, "dhl");
        assert_eq!(c.secret_cache, Duration::from_secs(300));
        assert_eq!(c.carrier, CarrierKind::Dhl);
    }

    #[test]
    fn the_carrier_picks_the_host_the_profile_and_takes_client_credentials() {
        let c = from(&[
            ("CARRIER", "UPS"),
            ("CARRIER_CLIENT_ID", " id-1 "),
            ("CARRIER_CLIENT_SECRET", "cs-secret-1"),
        ])
        .unwrap();
        assert_eq!(c.carrier, CarrierKind::Ups);
        assert_eq!(c.carrier_base_url.as_str(), "https://onlinetools.ups.com/");
        assert_eq!(c.profile, "ups");
        assert_eq!(c.client_id.as_deref(), Some("id-1"));
        assert!(!format!("{c:?}").contains("cs-secret-1"));
        let c = from(&[("CARRIER", "fedex"), ("PROFILE", "custom")]).unwrap();
        assert_eq!(c.carrier_base_url.as_str(), "https://apis.fedex.com/");
        assert_eq!(c.profile, "custom");
        let err = from(&[("CARRIER", "usps")]).unwrap_err();
        assert_eq!(err.kind(), "InvalidConfiguration");
        assert!(shared::report(&err).contains("CARRIER"));
    }

    #[test]
    fn values_are_parsed_and_checked() {
        let c = from(&[
            ("CARRIER_BASE_URL", "http://127.0.0.1:9"),
            ("DHL_API_KEY", "k-123"),
            ("READ_TIMEOUT_MS", "250"),
            ("RETRY_ATTEMPTS", "5"),
            ("SECRET_CACHE_SECS", "60"),
        ])
        .unwrap();
        assert_eq!(c.carrier_base_url.as_str(), "http://127.0.0.1:9/");
        assert_eq!(c.read_timeout, Duration::from_millis(250));
        assert_eq!(c.retry_attempts, 5);
        assert_eq!(c.secret_cache, Duration::from_secs(60));
        assert!(!format!("{c:?}").contains("k-123"));

        for (var, value) in [
            ("CARRIER_BASE_URL", "not a url"),
            ("CARRIER_BASE_URL", "ftp://host"),
            ("RETRY_ATTEMPTS", "0"),
            ("READ_TIMEOUT_MS", "soon"),
            ("RETRY_MAX_MS", "1"),
            ("SECRET_CACHE_SECS", "-1"),
        ] {
            let err = from(&[(var, value)]).unwrap_err();
            assert_eq!(err.kind(), "InvalidConfiguration");
            let text = shared::report(&err);
            assert!(text.contains(var), "{text}");
        }
    }
}
