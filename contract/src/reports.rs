//! What the pipeline writes about a file besides moving it, and where (postprocess writes
//! them; `deploy run`, `deploy data failed` and `deploy data requeue` read them):
//!
//! - `<reports>failed/<path below pending>.report.json`: why the file in the failed prefix
//!   failed ([`FailureReport`]);
//! - `<reports>completed/<path below pending>.rejects.json`: the rejected lines of the file
//!   in the completed prefix ([`RejectsDocument`]).
//!
//! Why a prefix of their own rather than beside the files: the failed and completed
//! prefixes then hold nothing but review files, so whatever moves failed files back (the
//! console's "move", `aws s3 mv --recursive`, a `*.json` glob) moves review files only.
//! The suffixes stay, so a report is recognisable wherever it is copied to.
//!
//! Migration: versions before the reports prefix wrote `<failed key>.report.json` and
//! `<completed key>.rejects.json` beside the files; buckets in the field hold them
//! ([`old_failure_report_key`], [`old_rejects_key`]).

use serde::{Deserialize, Serialize};

use crate::RejectedLine;

pub const DEFAULT_REPORTS_PREFIX: &str = "book-reviews/reports/";
/// A failure report's suffix, after the failed file's path.
pub const REPORT_SUFFIX: &str = ".report.json";
/// A rejects object's suffix, after the completed file's path.
pub const REJECTS_SUFFIX: &str = ".rejects.json";
/// The `kind` field of a failure report (written since the reports moved to their prefix).
pub const FAILURE_KIND: &str = "deploy/failure-report";
/// The `kind` field of a rejects object.
pub const REJECTS_KIND: &str = "deploy/rejected-lines";
/// User metadata (`x-amz-meta-failed-attempts`) that `deploy data requeue` puts on a file it
/// moves back to pending: how many times it had failed, so the next report counts on.
pub const ATTEMPTS_METADATA: &str = "failed-attempts";
/// The Lambda error type of a report found in the pending prefix (it is not ingested).
pub const NOT_REVIEW_DATA: &str = "NotReviewData";

/// A key's path below `prefix`, or its file name when it is not under it (as postprocess
/// relocates files).
pub fn below<'k>(key: &'k str, prefix: &str) -> &'k str {
    key.strip_prefix(prefix)
        .unwrap_or_else(|| key.rsplit('/').next().unwrap_or(key))
}

/// `<reports>failed/<rel>.report.json`, where `rel` is the file's path below the pending
/// prefix.
pub fn failure_report_key(reports_prefix: &str, rel: &str) -> String {
    format!("{reports_prefix}failed/{rel}{REPORT_SUFFIX}")
}

/// `<reports>completed/<rel>.rejects.json`.
pub fn rejects_key(reports_prefix: &str, rel: &str) -> String {
    format!("{reports_prefix}completed/{rel}{REJECTS_SUFFIX}")
}

/// Where versions before the reports prefix put a failure report: beside the failed file.
pub fn old_failure_report_key(failed_prefix: &str, rel: &str) -> String {
    format!("{failed_prefix}{rel}{REPORT_SUFFIX}")
}

/// Where versions before the reports prefix put a rejects object: beside the completed file.
pub fn old_rejects_key(completed_prefix: &str, rel: &str) -> String {
    format!("{completed_prefix}{rel}{REJECTS_SUFFIX}")
}

/// A key named as a report, old or new: never a review file, never requeued.
pub fn is_report_key(key: &str) -> bool {
    key.ends_with(REPORT_SUFFIX) || key.ends_with(REJECTS_SUFFIX)
}

/// A failed file's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureReport {
    /// [`FAILURE_KIND`]; absent in reports of earlier versions.
    #[serde(default)]
    pub kind: Option<String>,
    /// The file's key in the pending prefix.
    pub key: String,
    pub moved_to: String,
    #[serde(default)]
    pub failed_at_unix: u64,
    /// This failure and those before it that `deploy data requeue` counted.
    #[serde(default = "one")]
    pub attempts: u64,
    /// The error as Step Functions caught it: `{"Error", "Cause"}`.
    #[serde(default)]
    pub error: Option<serde_json::Value>,
    /// dbprocess's report, when there is one.
    #[serde(default)]
    pub report: Option<serde_json::Value>,
}

fn one() -> u64 {
    1
}

/// A completed file's rejected lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectsDocument {
    /// [`REJECTS_KIND`]; absent in documents of earlier versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The file's key in the pending prefix.
    pub key: String,
    /// How many lines were rejected (all of them).
    pub rejected: u64,
    /// The first of them ([`crate::REPORTED_REJECTS`]), with their reasons.
    pub lines: Vec<RejectedLine>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_named_under_their_own_prefix_and_old_names_are_known() {
        assert_eq!(
            failure_report_key(DEFAULT_REPORTS_PREFIX, "2024/a b.json"),
            "book-reviews/reports/failed/2024/a b.json.report.json"
        );
        assert_eq!(
            rejects_key(DEFAULT_REPORTS_PREFIX, "x.json.gz"),
            "book-reviews/reports/completed/x.json.gz.rejects.json"
        );
        assert_eq!(
            old_failure_report_key("book-reviews/failed/", "2024/a.json"),
            "book-reviews/failed/2024/a.json.report.json"
        );
        assert_eq!(
            old_rejects_key("book-reviews/completed/", "a.json"),
            "book-reviews/completed/a.json.rejects.json"
        );
        assert_eq!(
            below("book-reviews/failed/2024/a.json", "book-reviews/failed/"),
            "2024/a.json"
        );
        assert_eq!(below("elsewhere/b.json", "book-reviews/failed/"), "b.json");
        assert!(is_report_key("book-reviews/failed/a.json.report.json"));
        assert!(is_report_key("book-reviews/completed/a.json.rejects.json"));
        assert!(!is_report_key("book-reviews/failed/a.json"));
        assert!(!is_report_key("book-reviews/failed/report.json"));
    }
}
