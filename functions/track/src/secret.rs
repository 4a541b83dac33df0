//! The carrier API key, kept in a type that cannot be printed: `Debug` and `Display` of anything
//! holding it (config, queries, errors) show `[redacted]`, and the memory is wiped on drop.
//! A key may be a secret reference (`secretsmanager:…`, `ssm:…`), which [`ApiKey::resolve`]
//! replaces by the key it names.

use secrecy::{ExposeSecret, SecretString};
use shared::secrets::SecretResolver;

use crate::error::TrackError;

/// A carrier API key. The only way to the text is [`ApiKey::header_value`].
#[derive(Clone)]
pub struct ApiKey(SecretString);

impl ApiKey {
    pub fn new(key: &str) -> ApiKey {
        ApiKey(SecretString::from(key))
    }

    /// The key itself: this one, or the one it references, trimmed like a key given directly.
    /// A reference that does not resolve is [`TrackError::ApiKeyUnresolved`].
    pub async fn resolve(&self, resolver: &SecretResolver) -> Result<ApiKey, TrackError> {
        let key = resolver
            .resolve(&self.0)
            .await
            .map_err(TrackError::ApiKeyUnresolved)?;
        Ok(ApiKey::new(key.expose_secret().trim()))
    }

    /// The key as an HTTP header value marked sensitive, so that HTTP-level logging skips it.
    /// `None` if the key holds characters a header cannot carry.
    pub fn header_value(&self) -> Option<reqwest::header::HeaderValue> {
        let mut value = reqwest::header::HeaderValue::from_str(self.0.expose_secret()).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    /// `text` with every occurrence of the key replaced: for carrier messages we repeat in errors,
    /// in case a carrier ever echoes the key it refused.
    pub fn scrub(&self, text: &str) -> String {
        let key = self.0.expose_secret();
        if key.is_empty() {
            return text.to_owned();
        }
        text.replace(key, "[redacted]")
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let key = ApiKey::new("s3cr3t-key");
        assert_eq!(format!("{key:?}"), "ApiKey([redacted])");
        assert_eq!(
            format!("{:?}", Some(key.clone())),
            "Some(ApiKey([redacted]))"
        );
        let header = key.header_value().unwrap();
        assert!(header.is_sensitive());
        assert_eq!(header.to_str().unwrap(), "s3cr3t-key");
        assert!(ApiKey::new("line\nbreak").header_value().is_none());
        assert_eq!(key.scrub("bad key s3cr3t-key!"), "bad key [redacted]!");
    }

    #[tokio::test]
    async fn a_plain_key_resolves_to_itself_and_a_bad_reference_is_unauthorized() {
        // A plain key loads no AWS configuration and makes no call.
        let resolver = SecretResolver::from_env(std::time::Duration::from_secs(300));
        let key = ApiKey::new(" k-1 ").resolve(&resolver).await.unwrap();
        assert_eq!(key.header_value().unwrap().to_str().unwrap(), "k-1");
        let err = ApiKey::new("secretsmanager:#api_key")
            .resolve(&resolver)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "CarrierUnauthorized");
        assert!(
            err.to_string()
                .starts_with("API key: secretsmanager:#api_key: ")
        );
    }
}
