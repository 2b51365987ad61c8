//! The files in a data bucket's failed prefix: what `deploy data failed` lists (with the
//! reason from each one's report) and what `deploy data requeue` moves back to the pending
//! prefix. Reports are named apart from review files (crate::ingestion::reports) and are never moved.

use std::collections::{BTreeSet, HashMap};

use anyhow::Context as _;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, MetadataDirective};
use serde::Serialize;

use crate::aws::{api_error, AwsContext};
use crate::env::Environment;
use crate::ingestion::reports;
use crate::ingestion::reports::{CaughtError, StoredFailureReport};
use crate::ingestion::workflow::get_json;

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
    let s3 = aws.s3(region);
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut objects = Vec::new();
    let mut report_named = BTreeSet::new();
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(api_error)
            .with_context(|| format!("listing s3://{bucket}/{prefix}"))?;
        for object in page.contents() {
            let key = object.key().unwrap_or_default().to_string();
            if key.ends_with('/') {
                continue;
            }
            if reports::is_report_key(&key) {
                report_named.insert(key);
            } else {
                let modified = object.last_modified().map(|t| t.secs());
                objects.push((key, object.size().unwrap_or_default(), modified));
            }
        }
    }
    objects.sort();
    let mut files = Vec::new();
    for chunk in objects.chunks(32) {
        let reads = chunk.iter().map(|(key, size, modified)| {
            let s3 = s3.clone();
            let report_named = &report_named;
            async move {
                let rel = reports::below(key, prefix);
                let new = reports::failure_report_key(pipeline, rel);
                // Migration: earlier versions wrote the report beside the file.
                let old = reports::old_failure_report_key(pipeline, rel);
                let mut found = Vec::new();
                let mut report = get_json(&s3, bucket, &new).await?;
                if report.is_some() {
                    found.push(new);
                }
                if report_named.contains(&old) {
                    if report.is_none() {
                        report = get_json(&s3, bucket, &old).await?;
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

/// One CopyObject copies at most 5 GB (S3 API reference, CopyObject); larger files are
/// copied in parts, as postprocess does.
const COPY_OBJECT_LIMIT: i64 = 5 * 1024 * 1024 * 1024;
const COPY_PART_BYTES: i64 = 512 * 1024 * 1024;

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
    let s3 = aws.s3(region);
    match head(&s3, bucket, &file.pending_key).await {
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
    match move_back(&s3, bucket, file).await {
        Ok(MoveBack::Moved) => {}
        Ok(MoveBack::PendingTaken) => {
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
        if let Err(error) = s3.delete_object().bucket(bucket).key(report).send().await {
            left.push(format!("{report} ({:#})", api_error(error)));
        }
    }
    let why =
        (!left.is_empty()).then(|| format!("its report could not be removed: {}", left.join(", ")));
    done(Outcome::Requeued, why)
}

/// HeadObject: `None` for a missing key (the caller may s3:ListBucket, so S3 answers 404).
async fn head(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> anyhow::Result<Option<aws_sdk_s3::operation::head_object::HeadObjectOutput>> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(Some(out)),
        Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
        Err(error) => Err(api_error(error)).with_context(|| format!("s3://{bucket}/{key}")),
    }
}

enum MoveBack {
    Moved,
    /// The pending key was written between the check and the copy.
    PendingTaken,
}

/// The version-exact move postprocess makes (lambdas/reviews/src/s3.rs, `move_object`),
/// the other way: the failed file's current version, by its version id and ETag, copied to
/// the pending key only if that key is still free (`If-None-Match: *`: S3 user guide, "How
/// to prevent object overwrites with conditional writes"), the copy's size checked, then
/// exactly that version deleted. Its metadata is kept and `failed-attempts` added
/// (`x-amz-metadata-directive: REPLACE`, S3 API reference, CopyObject), so the next
/// failure's report counts on.
async fn move_back(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    file: &FailedFile,
) -> anyhow::Result<MoveBack> {
    let (from, to) = (&file.key, &file.pending_key);
    let source = head(s3, bucket, from)
        .await?
        .with_context(|| format!("s3://{bucket}/{from} is gone"))?;
    let etag = source.e_tag().unwrap_or_default().to_string();
    let size = source.content_length().unwrap_or_default();
    let mut metadata: HashMap<String, String> = source.metadata().cloned().unwrap_or_default();
    metadata.insert(
        reports::ATTEMPTS_METADATA.to_string(),
        file.attempts.unwrap_or(1).to_string(),
    );
    let mut copy_source = format!("{bucket}/{}", percent_encode_key(from));
    if let Some(version) = source.version_id() {
        // That version, even if the key is written again meanwhile (S3 API reference,
        // CopyObject: `x-amz-copy-source` with `?versionId=`).
        copy_source.push_str(&format!("?versionId={}", percent_encode_key(version)));
    }
    let copied = if size > COPY_OBJECT_LIMIT {
        copy_in_parts(s3, bucket, &copy_source, &source, metadata, to).await
    } else {
        s3.copy_object()
            .bucket(bucket)
            .key(to)
            .copy_source(&copy_source)
            .copy_source_if_match(&etag)
            .if_none_match("*")
            .metadata_directive(MetadataDirective::Replace)
            .set_metadata(Some(metadata))
            .set_content_type(source.content_type().map(str::to_string))
            .set_content_encoding(source.content_encoding().map(str::to_string))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                let status = e.raw_response().map(|r| r.status().as_u16());
                (status, api_error(e))
            })
    };
    match copied {
        Ok(()) => {}
        // 412 for If-None-Match on a taken key (409 when a concurrent write races it).
        Err((Some(412 | 409), _)) => return Ok(MoveBack::PendingTaken),
        Err((_, error)) => {
            return Err(error).with_context(|| format!("copying s3://{bucket}/{from} to {to}"))
        }
    }
    match head(s3, bucket, to).await? {
        Some(copy) if copy.content_length() == Some(size) => {}
        Some(copy) => anyhow::bail!(
            "the copy at s3://{bucket}/{to} has {} bytes, the source {size}; s3://{bucket}/{from} is kept",
            copy.content_length().unwrap_or_default()
        ),
        None => anyhow::bail!("the copy at s3://{bucket}/{to} is not there"),
    }
    let mut delete = s3.delete_object().bucket(bucket).key(from);
    if let Some(version) = source.version_id() {
        delete = delete.version_id(version);
    }
    delete
        .send()
        .await
        .map_err(api_error)
        .with_context(|| format!("deleting s3://{bucket}/{from} after copying it to {to}"))?;
    Ok(MoveBack::Moved)
}

/// A copy larger than one CopyObject: UploadPartCopy, part by part, completed only if the
/// pending key is still free; an unfinished upload is aborted.
async fn copy_in_parts(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    copy_source: &str,
    source: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
    metadata: HashMap<String, String>,
    to: &str,
) -> Result<(), (Option<u16>, anyhow::Error)> {
    let size = source.content_length().unwrap_or_default();
    let etag = source.e_tag().unwrap_or_default();
    let plain = |e: anyhow::Error| (None, e);
    let upload = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(to)
        .set_metadata(Some(metadata))
        .set_content_type(source.content_type().map(str::to_string))
        .set_content_encoding(source.content_encoding().map(str::to_string))
        .send()
        .await
        .map_err(|e| plain(api_error(e)))?;
    let upload_id = upload
        .upload_id()
        .ok_or_else(|| plain(anyhow::anyhow!("S3 gave no upload id")))?
        .to_string();
    let copied = async {
        let mut parts = Vec::new();
        let (mut start, mut number) = (0, 1);
        while start < size {
            let end = (start + COPY_PART_BYTES).min(size) - 1;
            let part = s3
                .upload_part_copy()
                .bucket(bucket)
                .key(to)
                .upload_id(&upload_id)
                .part_number(number)
                .copy_source(copy_source)
                .copy_source_range(format!("bytes={start}-{end}"))
                .copy_source_if_match(etag)
                .send()
                .await
                .map_err(|e| plain(api_error(e)))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(
                        part.copy_part_result()
                            .and_then(|r| r.e_tag())
                            .map(str::to_string),
                    )
                    .build(),
            );
            start = end + 1;
            number += 1;
        }
        s3.complete_multipart_upload()
            .bucket(bucket)
            .key(to)
            .upload_id(&upload_id)
            .if_none_match("*")
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| (e.raw_response().map(|r| r.status().as_u16()), api_error(e)))?;
        Ok(())
    }
    .await;
    if copied.is_err() {
        let _ = s3
            .abort_multipart_upload()
            .bucket(bucket)
            .key(to)
            .upload_id(&upload_id)
            .send()
            .await;
    }
    copied
}

/// CopySource is `bucket/key` URL-encoded; `/` stays as it is.
fn percent_encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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

    #[test]
    fn copy_source_is_encoded() {
        assert_eq!(percent_encode_key("a b/ü+c.json"), "a%20b/%C3%BC%2Bc.json");
    }
}
