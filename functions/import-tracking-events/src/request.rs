//! The four shapes an import can be started with, reduced to one [`ImportJob`].
//!
//! - the Connect request itself (ScheduleV2 or Schedule `Input`, direct invoke);
//! - an EventBridge event whose `detail` is that request (custom bus, rules);
//! - a classic "Scheduled Event" envelope with empty `detail`: the environment's defaults apply.
//!
//! Credentials for FTP/FTPS/SFTP sources come the way Connect delivers them: the request's
//! `metadata` (what the carrier's registration form collected) or, for a key metadata lacks,
//! `authorization.connection_context`. The key names are a contract: `ftp_username`,
//! `ftp_password`, `ssh_private_key`, `host_key_fingerprint`, `ca_certificate`, and
//! `after_import`.

use std::sync::Arc;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use secrecy::SecretString;
use serde_json::Value;
use shared::Profile;
use shared::models::ImportTrackingEventsRequest;

use crate::config::Config;
use crate::error::ImportError;
use crate::source::{AfterImport, Connection, Fingerprint};

/// What to import, resolved from the event and the configuration.
///
/// Not `PartialEq`: it holds secrets. Its `Debug` redacts them.
#[derive(Debug, Clone, Default)]
pub struct ImportJob {
    pub transaction_id: Option<String>,
    pub source: String,
    /// A built-in profile's name, or the URI of a TOML profile.
    pub profile: String,
    /// That profile, once a run has loaded it (before anything is read); `None` until then.
    pub loaded_profile: Option<Arc<Profile>>,
    /// Credentials and timeouts for FTP, FTPS and SFTP sources.
    pub connection: Connection,
    /// What to do with an imported file on its FTP/SFTP server.
    pub after_import: AfterImport,
    /// `metadata.retry_failed` (or the CLI's `--retry-failed`): import file versions that were
    /// set aside as failed again.
    pub retry_failed: bool,
}

/// Resolves an invocation payload into a job.
pub fn resolve(event: Value, config: &Config) -> Result<ImportJob, ImportError> {
    let request = if is_eventbridge_envelope(&event) {
        let envelope: EventBridgeEvent<Value> =
            serde_json::from_value(event).map_err(ImportError::InvalidEvent)?;
        match envelope.detail {
            Value::Object(ref m) if !m.is_empty() => Some(
                serde_json::from_value::<ImportTrackingEventsRequest>(envelope.detail)
                    .map_err(ImportError::InvalidEvent)?,
            ),
            // A classic schedule carries `{}` (or nothing) as detail.
            _ => None,
        }
    } else {
        Some(
            serde_json::from_value::<ImportTrackingEventsRequest>(event)
                .map_err(ImportError::InvalidEvent)?,
        )
    };
    let from_request = |key: &str| {
        request
            .as_ref()
            .and_then(|r| r.metadata_str(key))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let setting = |key: &str| {
        let request = request.as_ref()?;
        request
            .metadata_str(key)
            .or_else(|| {
                request
                    .authorization
                    .as_ref()?
                    .connection_context
                    .as_ref()?
                    .get(key)?
                    .as_str()
            })
            .filter(|v| !v.trim().is_empty())
    };
    // Secrets are kept byte for byte: a password may well end in a space.
    let secret = |key: &str| setting(key).map(|v| SecretString::from(v.to_owned()));
    let connection = Connection {
        username: setting("ftp_username").map(|v| v.trim().to_owned()),
        password: secret("ftp_password"),
        private_key: secret("ssh_private_key"),
        host_key_fingerprint: setting("host_key_fingerprint")
            .map(Fingerprint::parse)
            .transpose()?,
        ca_certificate: setting("ca_certificate").map(str::to_owned),
        connect_timeout: config.source_connect_timeout,
        read_timeout: config.source_read_timeout,
        policy: Arc::clone(&config.access),
    };
    let after_import = setting("after_import")
        .map(AfterImport::parse)
        .transpose()?
        .unwrap_or_default();
    Ok(ImportJob {
        transaction_id: request.as_ref().map(|r| r.transaction_id.clone()),
        source: from_request("source")
            .or_else(|| config.default_source.clone())
            .ok_or(ImportError::NoSource)?,
        profile: from_request("profile")
            .or_else(|| config.default_profile.clone())
            .ok_or(ImportError::NoProfile)?,
        loaded_profile: None,
        connection,
        after_import,
        retry_failed: retry_failed(request.as_ref())?,
    })
}

/// `metadata.retry_failed`: `true`/`false`, as a JSON boolean or a form's text.
fn retry_failed(request: Option<&ImportTrackingEventsRequest>) -> Result<bool, ImportError> {
    let Some(value) = request
        .and_then(|r| r.metadata.as_ref())
        .and_then(|m| m.get("retry_failed"))
    else {
        return Ok(false);
    };
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") || s.trim().is_empty() => {
            Ok(false)
        }
        _ => Err(ImportError::Source(
            crate::error::SourceError::InvalidSetting {
                key: "retry_failed",
                reason: "expected true or false".into(),
                source: None,
            },
        )),
    }
}

fn is_eventbridge_envelope(event: &Value) -> bool {
    event.get("detail-type").is_some() && event.get("source").is_some_and(Value::is_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defaults() -> Config {
        Config {
            default_source: Some("s3://b/default.csv".into()),
            default_profile: Some("reference".into()),
            ..Config::default()
        }
    }

    #[test]
    fn connect_request_directly() {
        let job = resolve(
            json!({"transaction_id":"t1","metadata":{"source":"s3://b/k.csv","profile":"reference"}}),
            &Config::default(),
        )
        .unwrap();
        assert_eq!(job.source, "s3://b/k.csv");
        assert_eq!(job.profile, "reference");
        assert_eq!(job.transaction_id.as_deref(), Some("t1"));
    }

    #[test]
    fn eventbridge_event_with_the_request_as_detail() {
        let job = resolve(
            json!({"version":"0","id":"e","detail-type":"ImportTrackingEvents","source":"carrier.schedule",
                   "account":"1","time":"2026-11-26T00:00:00Z","region":"us-east-1","resources":[],
                   "detail":{"transaction_id":"t2","metadata":{"source":"file:///tmp/x.csv"}}}),
            &defaults(),
        )
        .unwrap();
        assert_eq!(job.source, "file:///tmp/x.csv");
        assert_eq!(
            job.profile, "reference",
            "profile falls back to DEFAULT_PROFILE"
        );
        assert_eq!(job.transaction_id.as_deref(), Some("t2"));
    }

    #[test]
    fn classic_scheduled_event_uses_the_defaults() {
        let job = resolve(
            json!({"version":"0","id":"e","detail-type":"Scheduled Event","source":"aws.events",
                   "account":"1","time":"2026-11-26T00:00:00Z","region":"us-east-1",
                   "resources":["arn:aws:events:us-east-1:1:rule/r"],"detail":{}}),
            &defaults(),
        )
        .unwrap();
        assert_eq!(job.source, "s3://b/default.csv");
        assert_eq!(job.transaction_id, None);
        let err = resolve(
            json!({"detail-type":"Scheduled Event","source":"aws.events","detail":{}}),
            &Config::default(),
        )
        .unwrap_err();
        assert!(matches!(err, ImportError::NoSource), "{err}");
    }

    #[test]
    fn credentials_from_metadata_or_connection_context_never_in_debug() {
        let fp = "SHA256:42rYDk56joAfUf8y+mbZrJ2Neky1dNFHSpc2feqirk4";
        let job = resolve(
            json!({"transaction_id":"t","metadata":{
                      "source":"sftp://carrier.example/outbound/a.csv",
                      "ftp_username":" acme ","ftp_password":"pw from metadata ",
                      "host_key_fingerprint":fp,"after_import":"move:processed"},
                   "authorization":{"connection_context":{
                      "ftp_password":"ignored: metadata has it",
                      "ssh_private_key":"-----BEGIN OPENSSH PRIVATE KEY-----\nsecret-key-body",
                      "ca_certificate":"-----BEGIN CERTIFICATE-----\nMIIB"}}}),
            &defaults(),
        )
        .unwrap();
        let c = &job.connection;
        assert_eq!(c.username.as_deref(), Some("acme"));
        use secrecy::ExposeSecret;
        assert_eq!(
            c.password.as_ref().unwrap().expose_secret(),
            "pw from metadata "
        );
        assert!(
            c.private_key
                .as_ref()
                .unwrap()
                .expose_secret()
                .contains("secret-key-body")
        );
        assert_eq!(c.host_key_fingerprint.as_ref().unwrap().as_str(), fp);
        assert!(c.ca_certificate.as_ref().unwrap().contains("MIIB"));
        assert_eq!(c.read_timeout, Config::default().source_read_timeout);
        assert_eq!(job.after_import, AfterImport::Move("processed".into()));
        let shown = format!("{job:?}");
        for secret in ["pw from metadata", "secret-key-body", "MIIB"] {
            assert!(!shown.contains(secret), "{shown}");
        }

        let err = resolve(
            json!({"transaction_id":"t","metadata":{"after_import":"shred"}}),
            &defaults(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), "InvalidRequest");
        assert!(err.to_string().contains("after_import"), "{err}");
        let err = resolve(
            json!({"transaction_id":"t","metadata":{"host_key_fingerprint":"MD5:aa:bb"}}),
            &defaults(),
        )
        .unwrap_err();
        assert_eq!(err.kind(), "InvalidRequest");
    }

    #[test]
    fn bad_events_are_clear_errors() {
        let err = resolve(json!({"metadata":{"source":"s3://b/k"}}), &defaults()).unwrap_err();
        assert!(matches!(err, ImportError::InvalidEvent(_)));
        assert!(err.to_string().contains("Connect"), "{err}");
        let err = resolve(json!([1, 2]), &defaults()).unwrap_err();
        assert!(matches!(err, ImportError::InvalidEvent(_)));
    }
}
