//! Credentials by reference: a credential value may name where the secret is kept instead of
//! being the secret, so that passwords, keys and API keys need not travel in schedules, requests
//! or environment variables.
//!
//! - `secretsmanager:<name or ARN>`: the secret's `SecretString`;
//! - `secretsmanager:<name or ARN>#<key>`: one string value of a JSON-object secret;
//! - `ssm:<parameter name>`: a (SecureString) parameter, decrypted.
//!
//! Anything else is the secret itself and passes through untouched, without an AWS call.
//! Resolved values are cached per process for a TTL (`SECRET_CACHE_SECS`, default 300 s), so a
//! rotation is picked up within that time. A value is only ever held in a [`SecretString`]; errors
//! name the reference, never a value, and keep the SDK error as their source. (The SDK itself
//! never logs these responses' bodies: both operations' outputs are marked sensitive, unless
//! someone sets `LOG_SENSITIVE_BODIES=true`.)

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::error::SdkError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;
use aws_sdk_ssm::operation::get_parameter::GetParameterError;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::OnceCell;

/// The variable holding the cache TTL in seconds.
pub const CACHE_SECS_VAR: &str = "SECRET_CACHE_SECS";
/// The cache TTL when [`CACHE_SECS_VAR`] is unset.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

const SECRETS_MANAGER: &str = "secretsmanager:";
const SSM: &str = "ssm:";

/// The cache TTL configured through `get` ([`CACHE_SECS_VAR`]; 0 turns caching off).
pub fn cache_ttl(get: &impl Fn(&str) -> Option<String>) -> Result<Duration, crate::env::EnvError> {
    let secs = crate::env::number(get, CACHE_SECS_VAR, DEFAULT_CACHE_TTL.as_secs())?;
    Ok(Duration::from_secs(secs))
}

/// Where a secret is kept. `Display` gives the reference as written (it holds no secret).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretRef {
    /// A Secrets Manager secret by name or ARN, whole or one key of its JSON object.
    SecretsManager { id: String, key: Option<String> },
    /// An SSM parameter by name (or ARN).
    Ssm { name: String },
}

impl SecretRef {
    /// `Ok(None)` for a plain value (the secret itself); an error for a reference with no name
    /// or an empty `#key`. Surrounding whitespace is ignored.
    pub fn parse(value: &str) -> Result<Option<SecretRef>, SecretError> {
        let value = value.trim();
        let bad = |reason| SecretError::BadReference {
            reference: value.to_owned(),
            reason,
        };
        if let Some(rest) = value.strip_prefix(SECRETS_MANAGER) {
            // Names and ARNs cannot hold `#` (ARNs do hold `:`), so the last `#` starts the key.
            let (id, key) = match rest.rsplit_once('#') {
                Some((_, "")) => return Err(bad("the JSON key after `#` is empty")),
                Some((id, key)) => (id, Some(key.to_owned())),
                None => (rest, None),
            };
            if id.is_empty() {
                return Err(bad("no secret name or ARN"));
            }
            return Ok(Some(SecretRef::SecretsManager {
                id: id.to_owned(),
                key,
            }));
        }
        match value.strip_prefix(SSM) {
            Some("") => Err(bad("no parameter name")),
            Some(name) => Ok(Some(SecretRef::Ssm {
                name: name.to_owned(),
            })),
            None => Ok(None),
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::SecretsManager { id, key: None } => write!(f, "{SECRETS_MANAGER}{id}"),
            SecretRef::SecretsManager { id, key: Some(k) } => {
                write!(f, "{SECRETS_MANAGER}{id}#{k}")
            }
            SecretRef::Ssm { name } => write!(f, "{SSM}{name}"),
        }
    }
}

/// A reference that did not resolve. Every message names the reference and no value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{reference}: not a valid secret reference: {reason}")]
    BadReference {
        reference: String,
        reason: &'static str,
    },
    #[error("{reference}: Secrets Manager GetSecretValue failed")]
    SecretsManager {
        reference: String,
        #[source]
        source: Box<SdkError<GetSecretValueError>>,
    },
    #[error("{reference}: SSM GetParameter failed")]
    Ssm {
        reference: String,
        #[source]
        source: Box<aws_sdk_ssm::error::SdkError<GetParameterError>>,
    },
    #[error("{reference}: the secret has no text value (a binary secret cannot be used)")]
    NoText { reference: String },
    /// serde_json's syntax errors give a position, never the text.
    #[error("{reference}: the secret is not JSON, so `#key` cannot select from it")]
    NotJson {
        reference: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{reference}: the secret is not a JSON object with a string under that key")]
    NoSuchKey { reference: String },
}

impl SecretError {
    /// The reference that failed, as written.
    pub fn reference(&self) -> &str {
        match self {
            SecretError::BadReference { reference, .. }
            | SecretError::SecretsManager { reference, .. }
            | SecretError::Ssm { reference, .. }
            | SecretError::NoText { reference }
            | SecretError::NotJson { reference, .. }
            | SecretError::NoSuchKey { reference } => reference,
        }
    }
}

struct Clients {
    secretsmanager: aws_sdk_secretsmanager::Client,
    ssm: aws_sdk_ssm::Client,
}

impl Clients {
    fn new(sdk: &aws_config::SdkConfig) -> Clients {
        Clients {
            secretsmanager: aws_sdk_secretsmanager::Client::new(sdk),
            ssm: aws_sdk_ssm::Client::new(sdk),
        }
    }
}

/// Resolves credential values, caching what it fetched for a TTL. One per execution
/// environment, shared by every invocation (it is `Send + Sync`; wrap it in an `Arc`).
pub struct SecretResolver {
    clients: OnceCell<Clients>,
    ttl: Duration,
    cache: Mutex<HashMap<SecretRef, (Instant, SecretString)>>,
}

impl SecretResolver {
    /// A resolver using `sdk`'s region, credentials and endpoint; values are reused for `ttl`
    /// (zero: every resolve asks AWS).
    pub fn new(sdk: &aws_config::SdkConfig, ttl: Duration) -> SecretResolver {
        SecretResolver {
            clients: OnceCell::new_with(Some(Clients::new(sdk))),
            ttl,
            cache: Mutex::default(),
        }
    }

    /// A resolver that loads the standard AWS configuration (environment, Lambda role) when it
    /// meets its first reference, so a process that only ever sees plain values never does.
    pub fn from_env(ttl: Duration) -> SecretResolver {
        SecretResolver {
            clients: OnceCell::new(),
            ttl,
            cache: Mutex::default(),
        }
    }

    /// The secret `value` stands for: `value` itself unless it is a reference.
    pub async fn resolve(&self, value: &SecretString) -> Result<SecretString, SecretError> {
        match SecretRef::parse(value.expose_secret())? {
            None => Ok(value.clone()),
            Some(reference) => self.resolve_ref(&reference).await,
        }
    }

    /// The secret a parsed reference names, from the cache while it is fresh.
    pub async fn resolve_ref(&self, reference: &SecretRef) -> Result<SecretString, SecretError> {
        if let Some(hit) = self.cached(reference) {
            return Ok(hit);
        }
        // Boxed: the SDK's futures nest deeply, and callers' futures stay small and shallow.
        let value = Box::pin(self.fetch(reference)).await?;
        if !self.ttl.is_zero() {
            self.cache_lock()
                .insert(reference.clone(), (Instant::now(), value.clone()));
        }
        Ok(value)
    }

    fn cached(&self, reference: &SecretRef) -> Option<SecretString> {
        let cache = self.cache_lock();
        let (fetched_at, value) = cache.get(reference)?;
        (fetched_at.elapsed() < self.ttl).then(|| value.clone())
    }

    /// The cache, even if a panic elsewhere poisoned its lock (its entries are always whole).
    fn cache_lock(&self) -> std::sync::MutexGuard<'_, HashMap<SecretRef, (Instant, SecretString)>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn clients(&self) -> &Clients {
        self.clients
            .get_or_init(|| async {
                let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                Clients::new(&sdk)
            })
            .await
    }

    async fn fetch(&self, reference: &SecretRef) -> Result<SecretString, SecretError> {
        let clients = self.clients().await;
        let named = || reference.to_string();
        let text = match reference {
            SecretRef::SecretsManager { id, .. } => {
                clients
                    .secretsmanager
                    .get_secret_value()
                    .secret_id(id)
                    .send()
                    .await
                    .map_err(|e| SecretError::SecretsManager {
                        reference: named(),
                        source: Box::new(e),
                    })?
                    .secret_string
            }
            SecretRef::Ssm { name } => clients
                .ssm
                .get_parameter()
                .name(name)
                .with_decryption(true)
                .send()
                .await
                .map_err(|e| SecretError::Ssm {
                    reference: named(),
                    source: Box::new(e),
                })?
                .parameter
                .and_then(|p| p.value),
        };
        let text =
            SecretString::from(text.ok_or_else(|| SecretError::NoText { reference: named() })?);
        match reference {
            SecretRef::SecretsManager { key: Some(key), .. } => json_key(&text, key, reference),
            _ => Ok(text),
        }
    }
}

/// The string under `key` in the JSON object `text`.
fn json_key(
    text: &SecretString,
    key: &str,
    reference: &SecretRef,
) -> Result<SecretString, SecretError> {
    let json: serde_json::Value =
        serde_json::from_str(text.expose_secret()).map_err(|source| SecretError::NotJson {
            reference: reference.to_string(),
            source,
        })?;
    match json.get(key) {
        Some(serde_json::Value::String(value)) => Ok(SecretString::from(value.as_str())),
        _ => Err(SecretError::NoSuchKey {
            reference: reference.to_string(),
        }),
    }
}

impl fmt::Debug for SecretResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretResolver")
            .field("ttl", &self.ttl)
            .field("cached", &self.cache_lock().len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Option<SecretRef> {
        SecretRef::parse(value).unwrap()
    }

    fn sm(id: &str, key: Option<&str>) -> Option<SecretRef> {
        Some(SecretRef::SecretsManager {
            id: id.into(),
            key: key.map(Into::into),
        })
    }

    #[test]
    fn plain_values_are_not_references() {
        for plain in [
            "hunter2",
            "",
            "SSM:x",
            "arn:aws:secretsmanager:x",
            " ssm :x",
            "#k",
        ] {
            assert_eq!(parse(plain), None, "{plain}");
        }
    }

    #[test]
    fn secrets_manager_names_arns_and_keys() {
        const ARN: &str =
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:carrier-tracking/dhl-AbCdEf";
        assert_eq!(parse("secretsmanager:dhl"), sm("dhl", None));
        assert_eq!(
            parse(" secretsmanager:a/b#api_key\n"),
            sm("a/b", Some("api_key"))
        );
        assert_eq!(parse(&format!("secretsmanager:{ARN}")), sm(ARN, None));
        assert_eq!(
            parse(&format!("secretsmanager:{ARN}#password")),
            sm(ARN, Some("password"))
        );
        // Only the last `#` starts the key.
        assert_eq!(parse("secretsmanager:a#b#c"), sm("a#b", Some("c")));
        let r = parse(&format!("secretsmanager:{ARN}#k")).unwrap();
        assert_eq!(r.to_string(), format!("secretsmanager:{ARN}#k"));
    }

    #[test]
    fn ssm_parameters() {
        let r = parse("ssm:/carrier-tracking/ftp-password").unwrap();
        assert_eq!(
            r,
            SecretRef::Ssm {
                name: "/carrier-tracking/ftp-password".into()
            }
        );
        assert_eq!(r.to_string(), "ssm:/carrier-tracking/ftp-password");
    }

    #[test]
    fn empty_names_and_keys_are_refused() {
        for bad in [
            "secretsmanager:",
            "secretsmanager:#k",
            "secretsmanager:x#",
            "ssm:",
            " ssm: ",
        ] {
            let err = SecretRef::parse(bad).unwrap_err();
            assert!(matches!(err, SecretError::BadReference { .. }), "{bad}");
            assert_eq!(err.reference(), bad.trim());
            assert!(err.to_string().starts_with(bad.trim()), "{err}");
        }
    }

    #[tokio::test]
    async fn plain_values_pass_through_without_aws() {
        // No AWS configuration is loaded for a plain value: this would fail (no region) otherwise.
        let resolver = SecretResolver::from_env(DEFAULT_CACHE_TTL);
        let value = resolver.resolve(&"hunter2".into()).await.unwrap();
        assert_eq!(value.expose_secret(), "hunter2");
        assert!(resolver.clients.get().is_none());
        assert!(!format!("{resolver:?}").contains("hunter2"));
    }

    #[test]
    fn ttl_from_the_environment() {
        assert_eq!(cache_ttl(&|_| None).unwrap(), DEFAULT_CACHE_TTL);
        assert_eq!(cache_ttl(&|_| Some("0".into())).unwrap(), Duration::ZERO);
        let err = cache_ttl(&|_| Some("soon".into())).unwrap_err();
        assert_eq!(err.var, CACHE_SECS_VAR);
    }
}
