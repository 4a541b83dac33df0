//! CloudWatch Embedded Metric Format (EMF) for one imported file: the import prints one such JSON
//! line per file and CloudWatch Logs turns it into metrics, with no `PutMetricData` call, no extra
//! IAM permission and no extra latency. The stack's alarms (rejected-record spikes) read them.
//!
//! The line is a self-contained JSON object; print it alone on stdout (not as a field of a
//! `tracing` event, which would nest it and hide it from EMF extraction). Lambda's JSON log format
//! passes such lines through unchanged and files them at level INFO, so the function's
//! application log level must stay at INFO or more verbose for the metrics to arrive.
//!
//! Metrics go to [`NAMESPACE`] under two dimension sets: `Connection` (which connection or source
//! the file came from) and `Function` alone (the Lambda function's name, from
//! `AWS_LAMBDA_FUNCTION_NAME`; [`DEFAULT_FUNCTION`] elsewhere), a roll-up over every connection
//! that a stack's alarms can name without knowing the connections, kept apart per stack.
//!
//! Spec: <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>

use serde_json::{Value, json};

use crate::pipeline::{Status, Summary};
use crate::source::without_userinfo;

/// The CloudWatch namespace of the import's metrics.
pub const NAMESPACE: &str = "CarrierTracking/Import";
/// The `Function` dimension outside Lambda (CLI, tests).
pub const DEFAULT_FUNCTION: &str = "ImportTrackingEvents";
/// CloudWatch's limit on a dimension value's length.
const MAX_DIMENSION_VALUE: usize = 1024;

/// The metrics of one file: (name, unit).
const METRICS: [(&str, &str); 7] = [
    ("RecordsRead", "Count"),
    ("EventsEmitted", "Count"),
    ("RecordsRejected", "Count"),
    ("BytesRead", "Bytes"),
    ("DurationMs", "Milliseconds"),
    ("MessagesSent", "Count"),
    // 1 for a file set aside as failed (it can never import at its version), else 0.
    ("FilesFailed", "Count"),
];

/// One EMF JSON line (no trailing newline) for the import of one file.
///
/// `connection` names where the file came from: a connection name or the schedule's source URI
/// (a pattern, not each file's URI, keeps the number of metric series small). Credentials in a
/// URI's user-info (`ftp://user:password@host/…`) are removed before it is used, here and in the
/// `Source` property. `now_ms` is the metric timestamp, in milliseconds since the Unix epoch.
pub fn emf_line(connection: &str, summary: &Summary, now_ms: i64) -> String {
    let values = [
        summary.records_read,
        summary.events_emitted,
        summary.records_rejected,
        summary.bytes_read,
        summary.elapsed_ms,
        summary.messages_sent,
        u64::from(summary.status == Status::Failed),
    ];
    let mut root = serde_json::Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Connection"], ["Function"]],
                "Metrics": METRICS
                    .iter()
                    .map(|(name, unit)| json!({ "Name": name, "Unit": unit }))
                    .collect::<Vec<_>>(),
            }],
        }),
    );
    root.insert(
        "Connection".into(),
        Value::String(dimension_value(&without_userinfo(connection))),
    );
    root.insert("Function".into(), dimension_value(&function_name()).into());
    for ((name, _), value) in METRICS.iter().zip(values) {
        root.insert((*name).into(), value.into());
    }
    // Context for Logs Insights queries; not metrics.
    root.insert("ImportId".into(), summary.import_id.clone().into());
    root.insert("Source".into(), without_userinfo(&summary.source).into());
    root.insert("Profile".into(), summary.profile.clone().into());
    root.insert("Status".into(), summary.status.as_str().into());
    Value::Object(root).to_string()
}

/// The function's name in Lambda, else [`DEFAULT_FUNCTION`].
fn function_name() -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_FUNCTION.to_owned())
}

/// A valid dimension value: not empty, at most [`MAX_DIMENSION_VALUE`] bytes (cut at a character
/// boundary).
fn dimension_value(value: &str) -> String {
    let value = value.trim();
    if value.is_empty() {
        return "unknown".to_owned();
    }
    let mut end = value.len().min(MAX_DIMENSION_VALUE);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decompress::Compression;

    fn summary() -> Summary {
        Summary {
            import_id: "imp-1".into(),
            source: "sftp://acme:hunter2@sftp.carrier.example/outbound/2026-11-26.csv".into(),
            source_version: "v1".into(),
            profile: "reference".into(),
            status: Status::Complete,
            error_type: None,
            error: None,
            compression: Compression::None,
            bytes_read: 1_048_576,
            records_read: 1000,
            events_emitted: 990,
            records_rejected: 10,
            messages_sent: 4,
            batch_requests: 1,
            message_bytes: 900_000,
            delivered_through_record: 1000,
            resumed_from_record: 0,
            segments: 1,
            elapsed_ms: 1234,
            rejected: Vec::new(),
        }
    }

    #[test]
    fn the_line_follows_the_emf_spec() {
        let line = emf_line(
            "sftp://acme:hunter2@sftp.carrier.example/outbound/*.csv",
            &summary(),
            1_764_115_200_123,
        );
        assert!(!line.contains('\n'), "one line: {line}");
        let doc: Value = serde_json::from_str(&line).unwrap();
        let root = doc.as_object().unwrap();

        // The metadata object: Timestamp in ms since the epoch, one metric directive.
        let aws = root["_aws"].as_object().unwrap();
        assert_eq!(aws["Timestamp"], json!(1_764_115_200_123_i64));
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        let directive = directives[0].as_object().unwrap();
        assert_eq!(directive["Namespace"], NAMESPACE);

        // Every dimension a DimensionSet names is a string member of the root.
        let dimension_sets = directive["Dimensions"].as_array().unwrap();
        assert_eq!(dimension_sets.len(), 2);
        for set in dimension_sets {
            let set = set.as_array().unwrap();
            assert!(!set.is_empty() && set.len() <= 30);
            for key in set {
                let key = key.as_str().unwrap();
                assert!(root[key].is_string(), "{key} must be a string member");
            }
        }
        assert_eq!(
            root["Connection"],
            "sftp://sftp.carrier.example/outbound/*.csv"
        );
        // Outside Lambda the dimension is the documented default, pinned here.
        match std::env::var("AWS_LAMBDA_FUNCTION_NAME") {
            Err(_) => assert_eq!(root["Function"], "ImportTrackingEvents"),
            Ok(name) => assert_eq!(root["Function"], name.trim()),
        }

        // Every metric a directive names is a number member of the root, with a valid unit.
        let metrics = directive["Metrics"].as_array().unwrap();
        let names: Vec<&str> = metrics
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "RecordsRead",
                "EventsEmitted",
                "RecordsRejected",
                "BytesRead",
                "DurationMs",
                "MessagesSent",
                "FilesFailed"
            ]
        );
        for m in metrics {
            assert!(["Count", "Bytes", "Milliseconds"].contains(&m["Unit"].as_str().unwrap()));
            assert!(root[m["Name"].as_str().unwrap()].is_u64());
        }
        assert_eq!(root["RecordsRead"], 1000);
        assert_eq!(root["EventsEmitted"], 990);
        assert_eq!(root["RecordsRejected"], 10);
        assert_eq!(root["BytesRead"], 1_048_576);
        assert_eq!(root["DurationMs"], 1234);
        assert_eq!(root["MessagesSent"], 4);
        assert_eq!(root["FilesFailed"], 0);
        let failed = Summary {
            status: Status::Failed,
            ..summary()
        };
        let doc: Value = serde_json::from_str(&emf_line("c", &failed, 0)).unwrap();
        assert_eq!(
            (doc["FilesFailed"].clone(), doc["Status"].clone()),
            (1.into(), "failed".into())
        );

        // Context properties, with no credentials anywhere in the line.
        assert_eq!(root["ImportId"], "imp-1");
        assert_eq!(root["Profile"], "reference");
        assert_eq!(root["Status"], "complete");
        assert_eq!(
            root["Source"],
            "sftp://sftp.carrier.example/outbound/2026-11-26.csv"
        );
        assert!(
            !line.contains("hunter2") && !line.contains("acme:"),
            "{line}"
        );
    }

    #[test]
    fn dimension_values_are_made_valid() {
        let doc: Value = serde_json::from_str(&emf_line("  ", &summary(), 0)).unwrap();
        assert_eq!(doc["Connection"], "unknown");
        let long = format!("s3://bucket/{}", "é".repeat(1000));
        let doc: Value = serde_json::from_str(&emf_line(&long, &summary(), 0)).unwrap();
        let value = doc["Connection"].as_str().unwrap();
        assert!(value.len() <= MAX_DIMENSION_VALUE && long.starts_with(value));
    }

    #[test]
    fn userinfo_is_removed_from_uris_only() {
        assert_eq!(
            without_userinfo("ftp://u:p@h:21/a@b.csv"),
            "ftp://h:21/a@b.csv"
        );
        assert_eq!(without_userinfo("ftp://u@h"), "ftp://h");
        assert_eq!(
            without_userinfo("s3://bucket/key@1.csv"),
            "s3://bucket/key@1.csv"
        );
        assert_eq!(without_userinfo("daily-dhl"), "daily-dhl");
    }
}
