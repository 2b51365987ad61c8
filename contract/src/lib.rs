//! What `deploy` and the pipeline's functions say to each other, written once: each
//! function's request and response as the state machine passes them, a run's totals, the
//! reports the pipeline writes about files and where, the metrics' names and the variables
//! the pipeline template sets. Serde types only: the CLI and the functions both build on
//! them, and neither needs the other's dependencies (no AWS SDK, no database driver here).
//!
//! The state machine (templates/statemachine.asl.json) reads and writes these shapes by
//! JSONPath; the CLI's test `contract::state_machine_paths_exist` checks every path it
//! reads against them.

pub mod metrics;
pub mod reports;
pub mod variables;

use serde::{Deserialize, Serialize};

// --- preprocess: the listing, and the run's tally --------------------------------------

/// An object waiting under the pending prefix, as preprocess lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingFile {
    pub key: String,
    pub etag: String,
    #[serde(default)]
    pub size: i64,
}

/// `{"limit"?, "totals"?, "results"?}`; `{}` is a run's first call.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreprocessRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// The run's totals so far (missing: zeros).
    #[serde(default)]
    pub totals: Totals,
    /// The per-file results of the batch just processed. Step Functions' JSONPath cannot sum,
    /// so the listing call that starts each loop also keeps the tally.
    #[serde(default)]
    pub results: Vec<FileResult>,
}

/// The next batch of pending files, and the totals with the last batch's results added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreprocessResponse {
    pub files: Vec<PendingFile>,
    /// More pending objects remain after these.
    pub more: bool,
    pub totals: Totals,
}

/// How a file's child workflow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileOutcome {
    Completed,
    Failed,
}

/// What one file's child workflow returns (kept small: a batch of them is one state's data,
/// limited to 256 KiB). A failed file carries zeros.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileResult {
    pub key: String,
    pub outcome: FileOutcome,
    pub inserted: u64,
    pub present: u64,
    pub rejected: u64,
}

/// A run's summary, and the state machine's output.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Totals {
    pub files: u64,
    pub completed: u64,
    pub failed: u64,
    pub inserted: u64,
    /// Rows that were already in the table (a re-run, or another Region wrote them first).
    pub present: u64,
    pub rejected: u64,
}

impl Totals {
    /// These totals with one more file's result.
    pub fn with(mut self, result: &FileResult) -> Totals {
        self.files += 1;
        match result.outcome {
            FileOutcome::Completed => self.completed += 1,
            FileOutcome::Failed => self.failed += 1,
        }
        self.inserted += result.inserted;
        self.present += result.present;
        self.rejected += result.rejected;
        self
    }

    /// Another run's totals added (every Region's, in `deploy run`'s last row).
    pub fn add(&mut self, other: &Totals) {
        self.files += other.files;
        self.completed += other.completed;
        self.failed += other.failed;
        self.inserted += other.inserted;
        self.present += other.present;
        self.rejected += other.rejected;
    }
}

// --- dbprocess: one file into the database ----------------------------------------------

/// `{"key", "etag"?, "run"?}`: the ETag the file was listed with, so the version read is
/// that one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbProcessRequest {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The run's execution ARN (the state machine's `$$.Execution.Id`). An attempt that
    /// finds the object finished by this same run answers with that run's counts: the
    /// finishing attempt's reply was lost (a connection dropped after its last commit, as in
    /// a switchover) and Step Functions retried it. Without it, or for another run, the
    /// answer is `already_ingested` with nothing inserted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
}

/// How dbprocess's work on a file ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// This run read the object (perhaps resuming an earlier attempt).
    Ingested,
    /// The ledger says the object was finished before: nothing was read.
    AlreadyIngested,
    /// Stopped between batches at the deadline it was given, with the object unfinished:
    /// the counts cover the committed batches only (lines, read and rejected are 0). The
    /// next attempt resumes after them.
    Incomplete,
}

/// How many rejected lines a report names; the `review_rejects` table has them all.
pub const REPORTED_REJECTS: usize = 100;

/// A line that was not stored, as a report names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedLine {
    pub line: u64,
    pub reason: String,
}

/// dbprocess's response: what it did with one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestReport {
    pub key: String,
    pub etag: String,
    pub outcome: Outcome,
    pub lines: u64,
    pub blank_lines: u64,
    /// Non-blank lines: `inserted + already_present + rejected`.
    pub read: u64,
    pub inserted: u64,
    pub already_present: u64,
    pub rejected: u64,
    /// Uncompressed bytes.
    pub bytes: u64,
    pub batches: u64,
    /// Batches an earlier attempt had committed.
    pub resumed_batches: u64,
    pub elapsed_ms: u64,
    /// The first [`REPORTED_REJECTS`] rejected lines, in line order.
    pub rejected_lines: Vec<RejectedLine>,
}

impl IngestReport {
    pub fn rows_per_second(&self) -> f64 {
        self.read as f64 / (self.elapsed_ms.max(1) as f64 / 1000.0)
    }
}

// --- postprocess: moving the file, writing its report ------------------------------------

/// `{"key", "etag"?, "outcome", "error"?, "report"?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostprocessRequest {
    pub key: String,
    /// The ETag the file was listed with, so the version that was read is the one moved (a
    /// newer upload of the key stays pending).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    pub outcome: FileOutcome,
    /// For a failed object: the error as Step Functions caught it (`{"Error","Cause"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<serde_json::Value>,
    /// The dbprocess report, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<serde_json::Value>,
}

/// How a move went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveOutcome {
    Moved,
    /// The source is gone and the destination exists: an earlier attempt moved it.
    AlreadyMoved,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostprocessResponse {
    pub key: String,
    pub destination: String,
    pub outcome: MoveOutcome,
    /// The key was uploaded again after the version that was read: that newer upload stays
    /// pending, for the next listing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub newer_version_pending: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_key: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_call_is_an_empty_object_and_totals_default_to_zeros() {
        let request: PreprocessRequest = serde_json::from_str("{}").unwrap();
        assert_eq!(request, PreprocessRequest::default());
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"totals":{"files":0,"completed":0,"failed":0,"inserted":0,"present":0,"rejected":0},"results":[]}"#
        );
    }

    #[test]
    fn outcomes_are_snake_case() {
        assert_eq!(
            serde_json::to_value(FileOutcome::Completed).unwrap(),
            "completed"
        );
        assert_eq!(
            serde_json::to_value(Outcome::AlreadyIngested).unwrap(),
            "already_ingested"
        );
        assert_eq!(
            serde_json::to_value(MoveOutcome::AlreadyMoved).unwrap(),
            "already_moved"
        );
    }

    #[test]
    fn totals_tally_results() {
        let result = |outcome, inserted| FileResult {
            key: "k".into(),
            outcome,
            inserted,
            present: 1,
            rejected: 2,
        };
        let totals = Totals::default()
            .with(&result(FileOutcome::Completed, 5))
            .with(&result(FileOutcome::Failed, 0));
        assert_eq!(
            totals,
            Totals {
                files: 2,
                completed: 1,
                failed: 1,
                inserted: 5,
                present: 2,
                rejected: 4
            }
        );
    }
}
