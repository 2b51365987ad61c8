//! What each Lambda function does, as plain async functions over typed requests, so tests call
//! them directly; the bins only add `lambda_runtime` and the environment.
//!
//! Requests and responses are the `contract` crate's types (re-exported here), the ones the
//! CLI reads and the state machine's paths are checked against (tests/it/contract.rs):
//! preprocess `PreprocessRequest` → `PreprocessResponse`; dbprocess `DbProcessRequest` →
//! `IngestReport`; postprocess `PostprocessRequest` → `PostprocessResponse`; migrate `{}` →
//! `{"database", "applied": [versions], "version", "app_user"?}`.

use crate::config::Prefixes;
use crate::db::{Database, Purpose, SecretCache};
use crate::error::{Error, Result};
use std::time::{Duration, Instant};

use crate::ingest::{ingest_attempt, Attempt, IngestReport, IngestSettings};
use crate::reports;
use crate::s3::S3Store;
// The requests and responses are the contract with the state machine and the CLI.
use crate::schema::MigrationReport;
pub use contract::{
    DbProcessRequest, FileOutcome, FileResult, PostprocessRequest, PostprocessResponse,
    PreprocessRequest, PreprocessResponse, Totals,
};

/// The listing, and then the batch's results, are each one state's data in the state
/// machine, which Step Functions limits to 256 KiB. A thousand files with short keys take
/// about 100 KiB, but S3 keys may be 1,024 bytes long, so a batch also stops at this many
/// bytes (keys plus [`ENTRY_BYTES`] each); the rest waits for the next loop.
pub const BATCH_BYTES: usize = 192 * 1024;
/// A listing entry or a result without its key: ETag, size or counts, and JSON punctuation.
pub const ENTRY_BYTES: usize = 80;

pub async fn preprocess(
    store: &S3Store,
    prefixes: &Prefixes,
    files_per_batch: usize,
    req: PreprocessRequest,
) -> Result<PreprocessResponse> {
    let totals = req.results.iter().fold(req.totals, Totals::with);
    let limit = req.limit.unwrap_or(files_per_batch).max(1);
    let listing = store.list_pending(&prefixes.pending, limit).await?;
    let (mut files, mut more) = (listing.files, listing.more);
    let mut bytes = 0;
    let fit = files
        .iter()
        .take_while(|f| {
            bytes += f.key.len() + ENTRY_BYTES;
            bytes <= BATCH_BYTES
        })
        .count()
        // At least one file, however long its key, so the run always moves on.
        .max(1);
    if fit < files.len() {
        files.truncate(fit);
        more = true;
    }
    tracing::info!(bucket = store.bucket(), prefix = %prefixes.pending, files = files.len(),
        more, tallied = req.results.len(), totals = ?totals, "listed pending objects");
    Ok(PreprocessResponse {
        files,
        more,
        totals,
    })
}

pub struct DbProcess {
    pub store: S3Store,
    pub db: Database,
    pub settings: IngestSettings,
}

/// Loads one object. With a `deadline` (the invocation's), no batch starts in the last
/// [`deadline_margin`] of it: the report is then `incomplete` and the state machine calls
/// again, which resumes after the committed batches, so a file larger than one
/// invocation can load still completes.
pub async fn dbprocess(
    state: &DbProcess,
    req: DbProcessRequest,
    deadline: Option<Instant>,
) -> Result<IngestReport> {
    let stop_at =
        deadline.map(|d| d - deadline_margin(d.saturating_duration_since(Instant::now())));
    let result = async {
        let object = state.store.object_id(&req.key, req.etag.as_deref()).await?;
        // One of our own reports moved into the pending prefix by hand is not reviews: it
        // fails (and goes to the failed prefix with the reason) before anything is written.
        if let Some(report) = state.store.own_report(&object).await? {
            return Err(Error::NotReviewData {
                key: object.key.clone(),
                report,
            });
        }
        tracing::info!(key = %object.key, etag = %object.etag, "ingesting object");
        let store = state.store.clone();
        let to_open = object.clone();
        let attempt = Attempt {
            stop_at,
            run: req.run.clone(),
        };
        ingest_attempt(
            &state.db,
            &state.settings,
            &object,
            &attempt,
            move || async move { store.open(&to_open).await },
        )
        .await
    }
    .await;
    if result.as_ref().is_err_and(|e| e.is_unavailable()) {
        // The writer may have moved (a switchover): the retry asks RDS again.
        state.db.forget_endpoint().await;
    }
    result
}

/// Time kept back from an invocation's deadline to finish the batches under way and
/// answer: a fifth of the time it was given, at most a minute.
pub fn deadline_margin(given: Duration) -> Duration {
    (given / 5).min(Duration::from_secs(60))
}

pub async fn postprocess(
    store: &S3Store,
    prefixes: &Prefixes,
    req: PostprocessRequest,
) -> Result<PostprocessResponse> {
    let rel = prefixes.below_pending(&req.key);
    let (destination, report_key) = match req.outcome {
        FileOutcome::Completed => {
            let destination = prefixes.relocate(&req.key, &prefixes.completed);
            // The rejected lines, before the move, as the failed report.
            if let Some(body) = rejects_document(&req.key, req.report.as_ref()) {
                store
                    .put_json(&reports::rejects_key(&prefixes.reports, rel), body)
                    .await?;
            }
            (destination, None)
        }
        FileOutcome::Failed => (
            prefixes.relocate(&req.key, &prefixes.failed),
            Some(reports::failure_report_key(&prefixes.reports, rel)),
        ),
    };
    // The report first: if the move is retried, the report is already written.
    if let Some(report_key) = &report_key {
        let attempts = store
            .earlier_failures(&req.key, req.etag.as_deref())
            .await?
            + 1;
        let body = contract::reports::FailureReport {
            kind: Some(reports::FAILURE_KIND.into()),
            key: req.key.clone(),
            moved_to: destination.clone(),
            failed_at_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            // This failure and those before it that `deploy data requeue` counted.
            attempts: attempts.into(),
            error: req.error.clone(),
            report: req.report.clone(),
        };
        store
            .put_json(
                report_key,
                serde_json::to_vec_pretty(&body).expect("a report serialises"),
            )
            .await?;
    }
    let moved = store
        .move_object(&req.key, &destination, req.etag.as_deref())
        .await?;
    tracing::info!(key = %req.key, destination = %destination, outcome = ?moved.outcome,
        newer_version_pending = moved.newer_version_pending,
        failed = report_key.is_some(), "moved object");
    Ok(PostprocessResponse {
        key: req.key,
        destination,
        outcome: moved.outcome,
        newer_version_pending: moved.newer_version_pending,
        report_key,
    })
}

/// `{"kind", "key", "rejected", "lines": [{"line", "reason"}]}` from a dbprocess report with rejected
/// lines (it names the first [`crate::ingest::REPORTED_REJECTS`]; the `review_rejects` table
/// has every one).
fn rejects_document(key: &str, report: Option<&serde_json::Value>) -> Option<Vec<u8>> {
    let report = report?;
    let rejected = report.get("rejected")?.as_u64()?;
    if rejected == 0 {
        return None;
    }
    let body = serde_json::json!({
        "kind": reports::REJECTS_KIND,
        "key": key,
        "rejected": rejected,
        "lines": report.get("rejected_lines").cloned().unwrap_or_default(),
    });
    Some(serde_json::to_vec_pretty(&body).expect("JSON value serialises"))
}

/// Migrates the schema as the master user (`db`'s credentials) and, with `app_user` (the
/// application secret), creates or updates the user dbprocess logs in as.
pub async fn migrate(db: &Database, app_user: Option<&SecretCache>) -> Result<MigrationReport> {
    // Read afresh on every invocation: a rotated secret's password is set here.
    let app_user = match app_user {
        Some(secret) => Some(secret.get(true).await?),
        None => None,
    };
    let mut session = db.connect(Purpose::Migrate).await?;
    let report =
        crate::schema::migrate_with(&mut session, &db.config.database, app_user.as_ref()).await;
    session.close().await;
    let report = report?;
    tracing::info!(database = %report.database, applied = ?report.applied, version = report.version,
        app_user = ?report.app_user, "schema is current");
    Ok(report)
}
