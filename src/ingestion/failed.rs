//! The files in a data bucket's failed prefix: what `deploy data failed` lists (with the
//! reason from each one's report) and what `deploy data requeue` moves back to the pending
//! prefix. Reports are named apart from review files (crate::ingestion::reports) and are never moved.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::aws::{api_error, AwsContext};
use crate::env::Environment;
use crate::ingestion::reports::{CaughtError, StoredFailureReport};
use crate::ingestion::{data_bucket, reports};
use crate::s3;

/// One file in the failed prefix.
#[derive(Debug, Clone, Serialize)]
pub struct FailedFile {
    pub key: String,
    /// Where `deploy data requeue` puts it back.
    pub pending_key: String,
    pub size: i64,
    /// When it failed (seconds since the epoch): its report's time, else when it was moved.
    pub failed_at_unix: Option<i64>,
    /// The same, as RFC 3339 (UTC).
    pub failed_at: Option<String>,
    /// How many times it failed, counting runs after `deploy data requeue` (unknown for a
    /// report written before reports counted them).
    pub attempts: Option<u64>,
    /// The Lambda error type (`ReadError`, `UnsupportedFormat`, ...).
    pub error: Option<String>,
    /// Why it failed, on one line.
    pub reason: String,
    /// Its reports: under the reports prefix, and one beside it written by an earlier version.
    pub reports: Vec<String>,
}

impl FailedFile {
    /// One of the pipeline's own reports that was moved into pending and failed there: not
    /// review data, never requeued.
    pub fn is_report(&self) -> bool {
        self.error.as_deref() == Some(reports::NOT_REVIEW_DATA)
    }
}

/// A Region's failed files.
#[derive(Debug, Clone, Serialize)]
pub struct RegionFailures {
    pub region: String,
    pub bucket: String,
    pub prefix: String,
    pub files: Vec<FailedFile>,
    /// Objects named as reports in the failed prefix that belong to none of its files (moved
    /// there by hand, or a report that was itself moved into pending): never requeued.
    pub stray_reports: Vec<String>,
}

/// Every file in the Region's failed prefix, sorted by key, with its report read.
pub async fn list(
    aws: &AwsContext,
    environment: &Environment,
    region: &str,
    bucket: &str,
) -> anyhow::Result<RegionFailures> {
    let pipeline = &environment.pipeline;
    let prefix = &pipeline.failed_prefix;
    let mut objects = Vec::new();
    let mut report_named = BTreeSet::new();
    for object in s3::list(aws, region, bucket, prefix).await? {
        if object.key.ends_with('/') {
            continue;
        }
        if reports::is_report_key(&object.key) {
            report_named.insert(object.key);
        } else {
            objects.push((object.key, object.size, object.last_modified));
        }
    }
    objects.sort();
    let client = aws.s3(region);
    let mut files = Vec::new();
    for chunk in objects.chunks(32) {
        let reads = chunk.iter().map(|(key, size, modified)| {
            let client = client.clone();
            let report_named = &report_named;
            async move {
                let rel = reports::below(key, prefix);
                let new = reports::failure_report_key(pipeline, rel);
                // Migration: earlier versions wrote the report beside the file.
                let old = reports::old_failure_report_key(pipeline, rel);
                let mut found = Vec::new();
                let mut report = s3::get_json(&client, bucket, &new).await?;
                if report.is_some() {
                    found.push(new);
                }
                if report_named.contains(&old) {
                    if report.is_none() {
                        report = s3::get_json(&client, bucket, &old).await?;
                    }
                    found.push(old);
                }
                // A report that is not the contract's is taken as one that names nothing.
                let report = report.map(|r| serde_json::from_value::<StoredFailureReport>(r).ok());
                anyhow::Ok(failed_file(
                    key,
                    format!("{}{rel}", pipeline.pending_prefix),
                    *size,
                    *modified,
                    report.as_ref().map(Option::as_ref),
                    found,
                ))
            }
        });
        for file in futures_util::future::join_all(reads).await {
            files.push(file?);
        }
    }
    let claimed: BTreeSet<&String> = files.iter().flat_map(|f| &f.reports).collect();
    let stray_reports = report_named
        .iter()
        .filter(|k| !claimed.contains(k))
        .cloned()
        .collect();
    Ok(RegionFailures {
        region: region.to_string(),
        bucket: bucket.to_string(),
        prefix: prefix.clone(),
        files,
        stray_reports,
    })
}

/// A failed file as its report (if any) tells it: `None` when it has none, `Some(None)`
/// when its report is not one deploy can read.
fn failed_file(
    key: &str,
    pending_key: String,
    size: i64,
    modified: Option<i64>,
    report: Option<Option<&StoredFailureReport>>,
    reports: Vec<String>,
) -> FailedFile {
    let read = report.flatten();
    // A report without its time (which the contract reads as 0): when the file was moved.
    let failed_at_unix = read
        .map(|r| r.report.failed_at_unix as i64)
        .filter(|at| *at > 0)
        .or(modified);
    let (error, reason) = match report {
        None => (
            None,
            "no failure report (moved here by hand, or its report was removed)".to_string(),
        ),
        Some(read) => {
            let caught = read.map(|r| CaughtError::of(&r.report)).unwrap_or_default();
            let cause = caught.message();
            let reason = match (&caught.error, cause.is_empty()) {
                (Some(error), false) => format!("{error}: {cause}"),
                (Some(error), true) => error.clone(),
                (None, _) => "failed (its report names no error)".to_string(),
            };
            (caught.error, one_line(&reason))
        }
    };
    FailedFile {
        key: key.to_string(),
        pending_key,
        size,
        failed_at_unix,
        failed_at: failed_at_unix.map(rfc3339),
        attempts: read.and_then(|r| r.attempts),
        error,
        reason,
        reports,
    }
}

/// Whitespace runs (newlines included) as one space.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn rfc3339(secs: i64) -> String {
    aws_smithy_types::DateTime::from_secs(secs)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

/// What became of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Requeued,
    /// `--dry-run`: it would have been requeued.
    WouldRequeue,
    /// Not moved, on purpose (the pending key is taken, or it is a report).
    Refused,
    /// The move went wrong.
    Failed,
}

#[derive(Debug, Clone, Serialize)]
pub struct Requeued {
    pub region: String,
    pub key: String,
    pub pending_key: String,
    pub outcome: Outcome,
    /// Why it was refused or failed, or a warning about a requeued file.
    pub why: Option<String>,
}

/// Moves one failed file back to the pending prefix, or says why not; never a report.
pub async fn requeue(
    aws: &AwsContext,
    region: &str,
    bucket: &str,
    file: &FailedFile,
    dry_run: bool,
) -> Requeued {
    let done = |outcome, why: Option<String>| Requeued {
        region: region.to_string(),
        key: file.key.clone(),
        pending_key: file.pending_key.clone(),
        outcome,
        why,
    };
    if file.is_report() {
        return done(
            Outcome::Refused,
            Some("it is a report the pipeline wrote, not review data: delete it".into()),
        );
    }
    let client = aws.s3(region);
    match s3::head(&client, bucket, &file.pending_key).await {
        Ok(None) => {}
        Ok(Some(_)) => {
            return done(
                Outcome::Refused,
                Some(format!(
                    "s3://{bucket}/{} exists, a newer upload that requeuing would overwrite: ingest it with `deploy run` (or remove it), then requeue again",
                    file.pending_key
                )),
            )
        }
        Err(error) => return done(Outcome::Failed, Some(format!("{error:#}"))),
    }
    if dry_run {
        return done(Outcome::WouldRequeue, None);
    }
    // The next failure's report counts on from the attempts so far.
    let attempts = [(
        reports::ATTEMPTS_METADATA,
        file.attempts.unwrap_or(1).to_string(),
    )];
    match s3::move_object(&client, bucket, &file.key, &file.pending_key, &attempts).await {
        Ok(s3::Moved::Moved) => {}
        Ok(s3::Moved::DestinationTaken) => {
            return done(
                Outcome::Refused,
                Some(format!(
                    "s3://{bucket}/{} was uploaded meanwhile; requeuing would overwrite it",
                    file.pending_key
                )),
            )
        }
        Err(error) => return done(Outcome::Failed, Some(format!("{error:#}"))),
    }
    // Its report goes, so a later failure writes a fresh one and the file is not listed
    // with an old reason. The bucket is versioned: the report stays as a noncurrent version
    // until the lifecycle rule expires it (30 days).
    let mut left = Vec::new();
    for report in &file.reports {
        if let Err(error) = client
            .delete_object()
            .bucket(bucket)
            .key(report)
            .send()
            .await
        {
            left.push(format!("{report} ({:#})", api_error(error)));
        }
    }
    let why =
        (!left.is_empty()).then(|| format!("its report could not be removed: {}", left.join(", ")));
    done(Outcome::Requeued, why)
}

/// `deploy data failed`'s report: every Region's failed files.
#[derive(Debug, Clone, Serialize)]
pub struct FailedReport {
    pub environment: String,
    pub regions: Vec<RegionFailures>,
}

/// The failed files of each of `regions`, one Region after the other.
pub async fn report(
    aws: &AwsContext,
    environment: &Environment,
    regions: &[String],
) -> anyhow::Result<FailedReport> {
    let mut listed = Vec::new();
    for region in regions {
        let bucket = data_bucket(environment, aws, region).await?;
        listed.push(list(aws, environment, region, &bucket).await?);
    }
    Ok(FailedReport {
        environment: environment.name_prefix(),
        regions: listed,
    })
}

/// What `deploy data requeue` would move: the failed files old enough, each with its Region
/// and bucket, and how many are left because they failed more recently.
#[derive(Debug, Default)]
pub struct Selection {
    pub chosen: Vec<(String, String, FailedFile)>,
    pub newer: usize,
}

/// The failed files of `regions` that failed at least `older_than` ago (all of them
/// without it; a file whose time is unknown counts as old enough).
pub async fn select(
    aws: &AwsContext,
    environment: &Environment,
    regions: &[String],
    older_than: Option<std::time::Duration>,
) -> anyhow::Result<Selection> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let mut selection = Selection::default();
    for region in regions {
        let bucket = data_bucket(environment, aws, region).await?;
        let listed = list(aws, environment, region, &bucket).await?;
        for file in listed.files {
            let old_enough = match (older_than, file.failed_at_unix) {
                (Some(age), Some(at)) => at <= now - age.as_secs() as i64,
                _ => true,
            };
            if old_enough {
                selection
                    .chosen
                    .push((region.clone(), bucket.clone(), file));
            } else {
                selection.newer += 1;
            }
        }
    }
    Ok(selection)
}

/// The reasons in the table are cut to this many characters (`--output json` has them whole).
const SHOWN_REASON: usize = 160;

pub fn render_text(report: &FailedReport) -> String {
    let mut out = String::new();
    for region in &report.regions {
        let place = format!("s3://{}/{}", region.bucket, region.prefix);
        match region.files.len() {
            0 => out.push_str(&format!("{}: no failed files in {place}\n", region.region)),
            n => out.push_str(&format!(
                "{}: {} failed in {place}\n",
                region.region,
                files(n)
            )),
        }
        if !region.files.is_empty() {
            let width = region
                .files
                .iter()
                .map(|f| f.key.chars().count())
                .max()
                .unwrap_or(0)
                .max(3);
            out.push_str(&format!(
                "  {:<width$}  {:>10}  {:<20}  {:>8}  reason\n",
                "key", "bytes", "failed at", "attempts"
            ));
            for file in &region.files {
                let reason = if file.reason.chars().count() > SHOWN_REASON {
                    let cut: String = file.reason.chars().take(SHOWN_REASON - 1).collect();
                    format!("{cut}…")
                } else {
                    file.reason.clone()
                };
                out.push_str(&format!(
                    "  {:<width$}  {:>10}  {:<20}  {:>8}  {reason}\n",
                    file.key,
                    file.size,
                    file.failed_at.as_deref().unwrap_or("-"),
                    file.attempts.map_or("-".to_string(), |a| a.to_string()),
                ));
            }
        }
        if !region.stray_reports.is_empty() {
            out.push_str(&format!(
                "  reports in the failed prefix that belong to no failed file (not review files, never requeued; delete them once read): {}\n",
                region.stray_reports.join(", ")
            ));
        }
    }
    out.lines()
        .map(|line| format!("{}\n", line.trim_end()))
        .collect()
}

/// Some files could not be requeued (each is listed with why).
#[derive(Debug, thiserror::Error)]
#[error("{not_moved} of {files} failed files were not requeued (each is listed above with why)")]
pub struct NotRequeued {
    pub not_moved: usize,
    pub files: usize,
}

pub fn requeue_line(result: &Requeued) -> String {
    let why = result.why.as_deref().unwrap_or_default();
    match result.outcome {
        Outcome::Requeued if why.is_empty() => format!(
            "{}: requeued {} -> {}",
            result.region, result.key, result.pending_key
        ),
        Outcome::Requeued => format!(
            "{}: requeued {} -> {} (warning: {why})",
            result.region, result.key, result.pending_key
        ),
        Outcome::WouldRequeue => format!(
            "{}: would requeue {} -> {}",
            result.region, result.key, result.pending_key
        ),
        Outcome::Refused => format!("{}: not requeued {}: {why}", result.region, result.key),
        Outcome::Failed => format!("{}: could not requeue {}: {why}", result.region, result.key),
    }
}

/// `1 file`, `2 files`.
pub fn files(n: usize) -> String {
    match n {
        1 => "1 file".into(),
        n => format!("{n} files"),
    }
}

/// A duration as it would be typed: `2h`, `90m`, `45s`, `7d`.
pub fn humanize(duration: std::time::Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_file_reads_its_report_on_one_line() {
        let report: StoredFailureReport = serde_json::from_value(serde_json::json!({
            "kind": "deploy/failure-report",
            "key": "book-reviews/reviews/a.json",
            "moved_to": "book-reviews/failed/a.json",
            "failed_at_unix": 1_700_000_000,
            "attempts": 2,
            "error": {"Error": "ReadError", "Cause": "{\"errorType\":\"ReadError\",\"errorMessage\":\"reading a.json:\\n  bad gzip\"}"},
        }))
        .unwrap();
        let file = failed_file(
            "book-reviews/failed/a.json",
            "book-reviews/reviews/a.json".into(),
            5,
            Some(1),
            Some(Some(&report)),
            vec!["r".into()],
        );
        assert_eq!(file.reason, "ReadError: reading a.json: bad gzip");
        assert_eq!(file.attempts, Some(2));
        assert_eq!(file.failed_at.as_deref(), Some("2023-11-14T22:13:20Z"));
        assert!(!file.is_report());
        // No report: the time it was moved, and why there is no reason.
        let bare = failed_file("f/b.json", "p/b.json".into(), 1, Some(0), None, vec![]);
        assert_eq!(bare.failed_at.as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(bare.attempts, None);
        assert!(bare.reason.starts_with("no failure report"));
        // A report that is not the contract's: the time it was moved, and no reason.
        let unread = failed_file(
            "f/c.json",
            "p/c.json".into(),
            1,
            Some(7),
            Some(None),
            vec![],
        );
        assert_eq!(unread.failed_at_unix, Some(7));
        assert_eq!(unread.reason, "failed (its report names no error)");
    }
}
