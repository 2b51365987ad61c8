//! Where the pipeline writes what it has to say about a file, as the functions name it
//! (lambdas/reviews/src/reports.rs, which explains the choice): under the pipeline's
//! `reports_prefix`, apart from the review files,
//!
//! - `<reports>failed/<path below pending>.report.json`: why a file in the failed prefix
//!   failed;
//! - `<reports>completed/<path below pending>.rejects.json`: the rejected lines of a file in
//!   the completed prefix.
//!
//! The failed and completed prefixes then hold review files only, so `deploy data requeue`
//! (or any bulk move) of the failed prefix never carries a report into pending.
//!
//! Migration: earlier versions wrote the reports beside the files (`<failed key>.report.json`,
//! `<completed key>.rejects.json`), and buckets in the field still hold them. They are read
//! when a file has no report under the reports prefix, they are never taken for review
//! files (any key with one of the two suffixes is a report), and `deploy data requeue`
//! removes them with the file's new-style report.

use serde::Deserialize;

use crate::env::Pipeline;

pub use contract::reports::{
    below, is_report_key, FailureReport, ATTEMPTS_METADATA, NOT_REVIEW_DATA, REJECTS_SUFFIX,
    REPORT_SUFFIX,
};

/// A failure report as deploy reads it: the contract's [`FailureReport`], and whether it
/// counted its attempts at all. Reports written before `deploy data requeue` existed did
/// not; the contract reads their count as 1, `deploy data failed` shows it as unknown.
#[derive(Debug, Clone, Deserialize)]
pub struct StoredFailureReport {
    #[serde(flatten)]
    pub report: FailureReport,
    /// Taken before the contract's default: `None` when the report has no count.
    pub attempts: Option<u64>,
}

/// The error Step Functions caught, as a failure report holds it (`{"Error", "Cause"}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CaughtError {
    /// The Lambda error type (`ReadError`, `DatabaseUnavailable`, ...).
    #[serde(rename = "Error")]
    pub error: Option<String>,
    /// A Lambda error's document as JSON text (its `errorMessage` is what people read).
    #[serde(rename = "Cause")]
    pub cause: Option<String>,
}

impl CaughtError {
    /// The report's error; nothing when it names none (or not as Step Functions does).
    pub fn of(report: &FailureReport) -> CaughtError {
        report
            .error
            .clone()
            .and_then(|error| serde_json::from_value(error).ok())
            .unwrap_or_default()
    }

    /// The Cause's message for people: a Lambda error document's `errorMessage`, else the
    /// Cause as it is.
    pub fn message(&self) -> String {
        let cause = self.cause.as_deref().unwrap_or_default();
        serde_json::from_str::<serde_json::Value>(cause)
            .ok()
            .and_then(|c| c["errorMessage"].as_str().map(str::to_string))
            .unwrap_or_else(|| cause.to_string())
    }
}

/// The failure report of the file whose path below the pending (and failed) prefix is `rel`.
pub fn failure_report_key(pipeline: &Pipeline, rel: &str) -> String {
    contract::reports::failure_report_key(&pipeline.reports_prefix, rel)
}

/// The rejects object of the completed file whose path below the prefixes is `rel`.
pub fn rejects_key(pipeline: &Pipeline, rel: &str) -> String {
    contract::reports::rejects_key(&pipeline.reports_prefix, rel)
}

/// Where versions before the reports prefix put a failure report: beside the failed file.
pub fn old_failure_report_key(pipeline: &Pipeline, rel: &str) -> String {
    contract::reports::old_failure_report_key(&pipeline.failed_prefix, rel)
}

/// Where versions before the reports prefix put a rejects object: beside the completed file.
pub fn old_rejects_key(pipeline: &Pipeline, rel: &str) -> String {
    contract::reports::old_rejects_key(&pipeline.completed_prefix, rel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_report_is_read_with_its_caught_error_and_whether_it_counted_attempts() {
        let stored: StoredFailureReport = serde_json::from_value(serde_json::json!({
            "key": "book-reviews/reviews/a.json",
            "moved_to": "book-reviews/failed/a.json",
            "failed_at_unix": 1_700_000_000,
            "error": {"Error": "ReadError", "Cause": "{\"errorType\":\"ReadError\",\"errorMessage\":\"bad gzip\"}"},
        }))
        .unwrap();
        assert_eq!(stored.attempts, None);
        let caught = CaughtError::of(&stored.report);
        assert_eq!(caught.error.as_deref(), Some("ReadError"));
        assert_eq!(caught.message(), "bad gzip");
        // A Cause that is not an error document is shown as it is.
        let plain = CaughtError {
            error: None,
            cause: Some("States.Timeout".into()),
        };
        assert_eq!(plain.message(), "States.Timeout");
    }

    #[test]
    /// The file's pipeline settings reach the contract's names (which the contract tests).
    fn reports_are_named_from_the_pipeline_settings() {
        let pipeline = Pipeline::default();
        assert_eq!(
            failure_report_key(&pipeline, "2024/a b.json"),
            "book-reviews/reports/failed/2024/a b.json.report.json"
        );
        assert_eq!(
            rejects_key(&pipeline, "x.json.gz"),
            "book-reviews/reports/completed/x.json.gz.rejects.json"
        );
        assert_eq!(
            old_failure_report_key(&pipeline, "2024/a.json"),
            "book-reviews/failed/2024/a.json.report.json"
        );
        assert_eq!(
            old_rejects_key(&pipeline, "a.json"),
            "book-reviews/completed/a.json.rejects.json"
        );
    }
}
