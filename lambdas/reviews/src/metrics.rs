//! dbprocess's per-file metrics as CloudWatch Embedded Metric Format (EMF) log lines.
//!
//! CloudWatch Logs turns each such line into metrics, so publishing costs no API call on
//! the ingest path. Lambda passes a line that is already JSON through as is (it does not
//! wrap it in its own JSON log record), so the line must be a whole stdout line of its
//! own, not a field inside a tracing record.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use contract::metrics::{
    ENVIRONMENT_DIMENSION, FILES_FAILED, INGEST_DURATION, ROWS_ALREADY_PRESENT, ROWS_INSERTED,
    ROWS_REJECTED,
};
use contract::variables::{METRICS_ENVIRONMENT, METRICS_NAMESPACE};

use crate::config;
use crate::ingest::IngestReport;

/// When the pipeline template does not say (it always does when deployed).
pub const DEFAULT_NAMESPACE: &str = "BookReviews";

/// Where the metrics go: the namespace, and the `Environment` dimension's value (one
/// namespace serves every environment of an application). Metrics are Regional already,
/// so Region is not a dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    pub namespace: String,
    pub environment: String,
}

impl MetricsConfig {
    /// `METRICS_NAMESPACE` and `METRICS_ENVIRONMENT`, as the pipeline template sets them.
    pub fn from_env() -> Self {
        MetricsConfig {
            namespace: config::var(METRICS_NAMESPACE).unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
            environment: config::var(METRICS_ENVIRONMENT).unwrap_or_else(|| "default".into()),
        }
    }
}

/// The EMF record of one ingested file.
pub fn ingest_record(config: &MetricsConfig, report: &IngestReport, timestamp_ms: u64) -> Value {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": config.namespace,
                "Dimensions": [[ENVIRONMENT_DIMENSION]],
                "Metrics": [
                    { "Name": ROWS_INSERTED, "Unit": "Count" },
                    { "Name": ROWS_ALREADY_PRESENT, "Unit": "Count" },
                    { "Name": ROWS_REJECTED, "Unit": "Count" },
                    { "Name": INGEST_DURATION, "Unit": "Milliseconds" },
                ],
            }],
        },
        ENVIRONMENT_DIMENSION: config.environment,
        ROWS_INSERTED: report.inserted,
        ROWS_ALREADY_PRESENT: report.already_present,
        ROWS_REJECTED: report.rejected,
        INGEST_DURATION: report.elapsed_ms,
    })
}

/// The EMF record of one file moved to the failed prefix (postprocess writes it: only it
/// knows a file's end, dbprocess raises the errors that Step Functions retries).
pub fn failed_file_record(config: &MetricsConfig, timestamp_ms: u64) -> Value {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": config.namespace,
                "Dimensions": [[ENVIRONMENT_DIMENSION]],
                "Metrics": [{ "Name": FILES_FAILED, "Unit": "Count" }],
            }],
        },
        ENVIRONMENT_DIMENSION: config.environment,
        FILES_FAILED: 1,
    })
}

/// Writes a failed file's EMF line to stdout. A failed write loses a datapoint, never the
/// move.
pub fn emit_failed_file(config: &MetricsConfig) {
    let mut line = failed_file_record(config, now_ms()).to_string();
    line.push('\n');
    let _ = std::io::stdout().lock().write_all(line.as_bytes());
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Writes the file's EMF line to stdout. A failed write loses a datapoint, never the file.
pub fn emit(config: &MetricsConfig, report: &IngestReport) {
    let now = now_ms();
    // Under stdout's lock, so a tracing record cannot interleave with the line.
    let _ = write_line(&mut std::io::stdout().lock(), config, report, now);
}

/// The record as one line: Lambda makes one log event of each stdout line.
pub fn write_line(
    out: &mut impl Write,
    config: &MetricsConfig,
    report: &IngestReport,
    timestamp_ms: u64,
) -> std::io::Result<()> {
    let mut line = ingest_record(config, report, timestamp_ms).to_string();
    line.push('\n');
    out.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Outcome;

    fn report() -> IngestReport {
        IngestReport {
            key: "book-reviews/reviews/a.json".into(),
            etag: "etag".into(),
            outcome: Outcome::Ingested,
            lines: 12,
            blank_lines: 1,
            read: 11,
            inserted: 8,
            already_present: 2,
            rejected: 1,
            bytes: 4096,
            batches: 1,
            resumed_batches: 0,
            elapsed_ms: 250,
            rejected_lines: Vec::new(),
        }
    }

    fn config() -> MetricsConfig {
        MetricsConfig {
            namespace: "book-reviews".into(),
            environment: "prod".into(),
        }
    }

    #[test]
    fn a_failed_file_is_one_count_of_files_failed() {
        let expected: Value = serde_json::from_str(
            r#"{
                "_aws": {
                    "Timestamp": 1700000000123,
                    "CloudWatchMetrics": [{
                        "Namespace": "book-reviews",
                        "Dimensions": [["Environment"]],
                        "Metrics": [{"Name": "FilesFailed", "Unit": "Count"}]
                    }]
                },
                "Environment": "prod",
                "FilesFailed": 1
            }"#,
        )
        .unwrap();
        assert_eq!(failed_file_record(&config(), 1_700_000_000_123), expected);
    }

    #[test]
    fn the_record_is_exactly_this_emf_document() {
        // Compared as JSON values: key order depends on serde_json's features, which
        // the workspace's other members can turn on.
        let expected: Value = serde_json::from_str(
            r#"{
                "_aws": {
                    "Timestamp": 1700000000123,
                    "CloudWatchMetrics": [{
                        "Namespace": "book-reviews",
                        "Dimensions": [["Environment"]],
                        "Metrics": [
                            {"Name": "RowsInserted", "Unit": "Count"},
                            {"Name": "RowsAlreadyPresent", "Unit": "Count"},
                            {"Name": "RowsRejected", "Unit": "Count"},
                            {"Name": "IngestDuration", "Unit": "Milliseconds"}
                        ]
                    }]
                },
                "Environment": "prod",
                "RowsInserted": 8,
                "RowsAlreadyPresent": 2,
                "RowsRejected": 1,
                "IngestDuration": 250
            }"#,
        )
        .unwrap();
        assert_eq!(
            ingest_record(&config(), &report(), 1_700_000_000_123),
            expected
        );
    }

    /// What the EMF specification requires of a record, checked generically so a metric
    /// added later without its value fails here.
    #[test]
    fn every_declared_metric_and_dimension_has_a_top_level_value() {
        let record = ingest_record(&config(), &report(), 1);
        assert!(record["_aws"]["Timestamp"].is_u64());
        let directives = record["_aws"]["CloudWatchMetrics"].as_array().unwrap();
        assert!(!directives.is_empty());
        for directive in directives {
            assert!(directive["Namespace"]
                .as_str()
                .is_some_and(|n| !n.is_empty()));
            for set in directive["Dimensions"].as_array().unwrap() {
                let set = set.as_array().unwrap();
                assert!(!set.is_empty() && set.len() <= 30);
                for dimension in set {
                    let name = dimension.as_str().unwrap();
                    assert!(
                        record[name].as_str().is_some_and(|v| !v.is_empty()),
                        "dimension {name} has no value"
                    );
                }
            }
            for metric in directive["Metrics"].as_array().unwrap() {
                let name = metric["Name"].as_str().unwrap();
                assert!(record[name].is_number(), "metric {name} has no number");
            }
        }
    }

    #[test]
    fn the_line_is_one_whole_json_line() {
        let mut out = Vec::new();
        write_line(&mut out, &config(), &report(), 7).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches('\n').count(), 1);
        assert!(text.ends_with('\n'));
        let parsed: Value = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(parsed, ingest_record(&config(), &report(), 7));
    }

    #[test]
    fn the_names_are_the_ones_the_dashboard_reads() {
        // templates/monitoring.yaml.j2 (src/render/dashboard.rs) reads these names.
        let record = ingest_record(&config(), &report(), 1);
        for name in ["RowsInserted", "RowsAlreadyPresent", "RowsRejected"] {
            assert!(record.get(name).is_some(), "{name}");
        }
    }
}
