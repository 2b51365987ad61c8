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

use crate::env::Pipeline;

pub use contract::reports::{
    below, is_report_key, ATTEMPTS_METADATA, NOT_REVIEW_DATA, REJECTS_SUFFIX, REPORT_SUFFIX,
};

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
