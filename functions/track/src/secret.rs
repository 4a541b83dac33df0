//! Carrier credentials (an API key, an OAuth client secret) kept in a type that cannot be
//! printed: `Debug` of anything holding one (config, queries, errors) shows `[redacted]`, and the
//! memory is wiped on drop. A credential may be a secret reference (`secretsmanager:…`, `ssm:…`),
//! which [`Secret::resolve`] replaces by the value it names.

use std::marker::PhantomData;

use secrecy::{ExposeSecret, SecretString};
use shared::secrets::{SecretError, SecretResolver};

use crate::error::TrackError;

/// What a [`Secret`] is: its name in `Debug`, and the error for a reference that does not resolve.
pub trait Credential {
    const NAME: &'static str;
    fn unresolved(err: SecretError) -> TrackError;
}

/// The API key DHL reads from a header.
pub enum ApiKeyKind {}

/// The secret half of OAuth2 client credentials (UPS, FedEx).
pub enum ClientSecretKind {}

impl Credential for ApiKeyKind {
    const NAME: &'static str = "ApiKey";
    fn unresolved(err: SecretError) -> TrackError {
        TrackError::ApiKeyUnresolved(err)
    }
}

impl Credential for ClientSecretKind {
    const NAME: &'static str = "ClientSecret";
    fn unresolved(err: SecretError) -> TrackError {
        TrackError::ClientSecretUnresolved(err)
    }
}

/// A carrier API key. The only ways to the text are [`Secret::header_value`] and
/// [`Secret::expose`].
pub type ApiKey = Secret<ApiKeyKind>;

/// An OAuth2 client secret.
pub type ClientSecret = Secret<ClientSecretKind>;

/// A credential of kind `K`.
pub struct Secret<K>(SecretString, PhantomData<K>);

impl<K> Clone for Secret<K> {
    fn clone(&self) -> Self {
        Secret(self.0.clone(), PhantomData)
    }
}

impl<K: Credential> Secret<K> {
    pub fn new(value: &str) -> Secret<K> {
        Secret(SecretString::from(value), PhantomData)
    }

    /// The credential itself: this one, or the one it references, trimmed like a value given
    /// directly. A reference that does not resolve is `K`'s error (`CarrierUnauthorized`).
    pub async fn resolve(&self, resolver: &SecretResolver) -> Result<Secret<K>, TrackError> {
        let value = resolver.resolve(&self.0).await.map_err(K::unresolved)?;
        Ok(Secret::new(value.expose_secret().trim()))
    }

    /// The value as an HTTP header value marked sensitive, so that HTTP-level logging skips it.
    /// `None` if it holds characters a header cannot carry.
    pub fn header_value(&self) -> Option<reqwest::header::HeaderValue> {
        let mut value = reqwest::header::HeaderValue::from_str(self.0.expose_secret()).ok()?;
        value.set_sensitive(true);
        Some(value)
    }

    /// The text, for what must carry it (a form body, Basic credentials). Never log it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// `text` with every occurrence of the value replaced: for carrier messages we repeat in
    /// errors, in case a carrier ever echoes what it refused.
    pub fn scrub(&self, text: &str) -> String {
        let value = self.0.expose_secret();
        if value.is_empty() {
            return text.to_owned();
        }
        text.replace(value, "[redacted]")
    }
}

impl<K: Credential> PartialEq for Secret<K> {
    fn eq(&self, other: &Self) -> bool {
        self.expose() == other.expose()
    }
}

impl<K: Credential> std::fmt::Debug for Secret<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}([redacted])", K::NAME)
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
        assert_eq!(
            format!("{:?}", ClientSecret::new("cs-1")),
            "ClientSecret([redacted])"
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
        let err = ClientSecret::new("ssm:")
            .resolve(&resolver)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "CarrierUnauthorized");
        assert!(err.to_string().starts_with("client secret: ssm:"), "{err}");
    }
}
