//! The four shapes an import can be started with, reduced to one [`ImportJob`].
//!
//! - the Connect request itself (ScheduleV2 or Schedule `Input`, direct invoke);
//! - an EventBridge event whose `detail` is that request (custom bus, rules);
//! - a classic "Scheduled Event" envelope with empty `detail`: the environment's defaults apply.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde_json::Value;
use shared::models::ImportTrackingEventsRequest;

use crate::config::Config;
use crate::error::ImportError;

/// What to import, resolved from the event and the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportJob {
    pub transaction_id: Option<String>,
    pub source: String,
    pub profile: String,
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
    Ok(ImportJob {
        transaction_id: request.as_ref().map(|r| r.transaction_id.clone()),
        source: from_request("source")
            .or_else(|| config.default_source.clone())
            .ok_or(ImportError::NoSource)?,
        profile: from_request("profile")
            .or_else(|| config.default_profile.clone())
            .ok_or(ImportError::NoProfile)?,
    })
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
    fn bad_events_are_clear_errors() {
        let err = resolve(json!({"metadata":{"source":"s3://b/k"}}), &defaults()).unwrap_err();
        assert!(matches!(err, ImportError::InvalidEvent(_)));
        assert!(err.to_string().contains("Connect"), "{err}");
        let err = resolve(json!([1, 2]), &defaults()).unwrap_err();
        assert!(matches!(err, ImportError::InvalidEvent(_)));
    }
}
