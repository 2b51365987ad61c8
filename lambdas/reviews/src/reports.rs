//! What the pipeline writes about a file besides moving it, and where: a failed file's
//! failure report and a completed file's rejected lines.
//!
//! Naming (also in the deploy CLI, src/reports.rs, which reads and requeues them): every
//! report lives under a prefix of its own, `REPORTS_PREFIX` (default `book-reviews/reports/`),
//! never beside the review files:
//!
//! - `<reports>failed/<path below pending>.report.json`: why the file in the failed prefix
//!   failed;
//! - `<reports>completed/<path below pending>.rejects.json`: the rejected lines of the file
//!   in the completed prefix.
//!
//! Why a prefix rather than only a suffix: the failed and completed prefixes then hold
//! nothing but review files, so whatever a user does to move failed files back (the
//! console's "move", `aws s3 mv --recursive`, a `*.json` glob) moves review files only. A
//! suffix that no glob picks up would still be carried along by a recursive move. The
//! `.report.json`/`.rejects.json` suffixes stay, so a report is recognisable wherever it is
//! copied to, and dbprocess refuses one found in the pending prefix anyway
//! ([`recognise`]).
//!
//! Migration: versions before this one wrote `<failed key>.report.json` and
//! `<completed key>.rejects.json` beside the files. Buckets in the field hold them; the CLI
//! reads them as a fallback (src/reports.rs) and [`recognise`] knows their shape.

use serde_json::Value;

pub use contract::reports::{
    failure_report_key, rejects_key, ATTEMPTS_METADATA, DEFAULT_REPORTS_PREFIX, FAILURE_KIND,
    REJECTS_KIND, REJECTS_SUFFIX, REPORT_SUFFIX,
};

/// What a document the pipeline wrote is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// A failure report of the file with this (pending) key.
    Failure { of: String },
    /// The rejected lines of the file with this (pending) key.
    Rejects { of: String },
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Report::Failure { of } => write!(f, "the failure report of {of}"),
            Report::Rejects { of } => write!(f, "the rejected lines of {of}"),
        }
    }
}

/// Whether the first bytes of an object may be one of our reports: they are written
/// pretty-printed, so they start with a line holding `{` alone, which no JSON lines file
/// with a review on its first line does. Only such objects are read whole and checked.
pub fn may_be_report(head: &[u8]) -> bool {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let start = head.iter().position(|b| !b" \t\r".contains(b));
    matches!(start, Some(i) if head[i] == b'{'
        && head[i + 1..].iter().find(|b| !b" \t\r".contains(b)) == Some(&b'\n'))
}

/// A report the pipeline wrote, by its content: the `kind` field since this version, or
/// the shape of the documents earlier versions wrote (`{"key", "moved_to",
/// "failed_at_unix", "error", "report"}` and `{"key", "rejected", "lines"}`). A review is
/// a JSON object too, but not one of these.
pub fn recognise(body: &[u8]) -> Option<Report> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    let of = object.get("key")?.as_str()?.to_string();
    let has = |field: &str| object.contains_key(field);
    match object.get("kind").and_then(Value::as_str) {
        Some(FAILURE_KIND) => return Some(Report::Failure { of }),
        Some(REJECTS_KIND) => return Some(Report::Rejects { of }),
        _ => {}
    }
    if has("moved_to") && has("error") && has("failed_at_unix") {
        return Some(Report::Failure { of });
    }
    if object.len() == 3 && object.get("rejected").is_some_and(Value::is_u64) && has("lines") {
        return Some(Report::Rejects { of });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_pretty_printed_object_may_be_a_report() {
        assert!(may_be_report(b"{\n  \"error\""));
        assert!(may_be_report(b"\xEF\xBB\xBF  {  \r\n"));
        assert!(!may_be_report(b"{\"reviewerID\": \"A1\"}\n"));
        assert!(!may_be_report(b"\x1f\x8b\x08\x00"));
        assert!(!may_be_report(b""));
        assert!(!may_be_report(b"{"));
    }

    #[test]
    fn reports_old_and_new_are_recognised_and_reviews_are_not() {
        let new = serde_json::json!({"kind": FAILURE_KIND, "key": "p/a.json", "error": null});
        assert_eq!(
            recognise(&serde_json::to_vec_pretty(&new).unwrap()),
            Some(Report::Failure {
                of: "p/a.json".into()
            })
        );
        // As versions before the reports prefix wrote them.
        let old = serde_json::json!({"error": {"Error": "ReadError", "Cause": "x"},
            "failed_at_unix": 1, "key": "p/a.json", "moved_to": "f/a.json", "report": null});
        assert_eq!(
            recognise(&serde_json::to_vec_pretty(&old).unwrap()),
            Some(Report::Failure {
                of: "p/a.json".into()
            })
        );
        let rejects = serde_json::json!({"key": "p/b.json", "rejected": 2, "lines": []});
        assert_eq!(
            recognise(&serde_json::to_vec_pretty(&rejects).unwrap()),
            Some(Report::Rejects {
                of: "p/b.json".into()
            })
        );
        assert_eq!(
            Report::Rejects {
                of: "p/b.json".into()
            }
            .to_string(),
            "the rejected lines of p/b.json"
        );
        // A review, even one with a field called key, and JSON lines.
        let review = br#"{"reviewerID": "A1", "asin": "B1", "key": "x", "rejected": 1, "lines": 2, "more": 3}"#;
        assert_eq!(recognise(review), None);
        assert_eq!(recognise(b"{\"key\": \"a\"}\n{\"key\": \"b\"}\n"), None);
        assert_eq!(recognise(b"not json"), None);
    }
}
