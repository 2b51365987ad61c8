//! One run of the ingestion workflow in one Region (`deploy run`): on AWS, an execution of
//! the Region's state machine; on the local stand-in, where moto cannot run our functions,
//! the same steps driven from here through the real functions (src/functions.rs), with the
//! state machine's inputs and outputs (templates/statemachine.asl.json).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use aws_sdk_sfn::error::ProvideErrorMetadata;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::aws::{api_error, AwsContext};
use crate::env::Environment;
use crate::functions::{Functions, InvokeError};
use crate::plan::Function;
use crate::progress::Progress;

/// An object waiting under the pending prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingFile {
    pub key: String,
    pub etag: String,
    #[serde(default)]
    pub size: i64,
}

/// The state machine's summary of a run (its output), as `preprocess` tallies it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub files: u64,
    pub completed: u64,
    pub failed: u64,
    pub inserted: u64,
    pub present: u64,
    pub rejected: u64,
}

impl Totals {
    pub fn add(&mut self, other: &Totals) {
        self.files += other.files;
        self.completed += other.completed;
        self.failed += other.failed;
        self.inserted += other.inserted;
        self.present += other.present;
        self.rejected += other.rejected;
    }
}

/// How a Region's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// No file was pending: nothing was started.
    NothingToDo,
    /// Started and not waited for.
    Running,
    Succeeded,
    Failed,
}

/// One Region's run, for the table `deploy run` ends with.
#[derive(Debug, Clone, Serialize)]
pub struct RegionRun {
    pub region: String,
    /// The execution's name, derived from the pending listing.
    pub name: Option<String>,
    /// The execution's ARN (AWS only).
    pub execution: Option<String>,
    pub status: RunStatus,
    pub totals: Totals,
    pub seconds: f64,
    /// The first failure, when the run failed.
    pub error: Option<String>,
    /// The rejected lines of the run's completed files, from their rejects objects.
    pub rejects: Vec<FileRejects>,
}

/// A completed file's rejects object (`<completed key>.rejects.json`, written by
/// postprocess): how many lines were rejected, and the first of them with their reasons.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRejects {
    pub key: String,
    pub rejected: u64,
    pub lines: Vec<RejectedLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedLine {
    pub line: u64,
    pub reason: String,
}

/// The rejects objects of `files` once they are completed, in the files' order.
pub async fn read_rejects(
    aws: &AwsContext,
    environment: &Environment,
    region: &str,
    bucket: &str,
    files: &[PendingFile],
) -> anyhow::Result<Vec<FileRejects>> {
    let s3 = aws.s3(region);
    let pipeline = &environment.pipeline;
    let mut found = Vec::new();
    // A few dozen requests at a time.
    for chunk in files.chunks(32) {
        let reads = chunk.iter().map(|file| {
            let below = file
                .key
                .strip_prefix(pipeline.pending_prefix.as_str())
                .unwrap_or(&file.key);
            let key = format!("{}{below}.rejects.json", pipeline.completed_prefix);
            let s3 = s3.clone();
            async move {
                match s3.get_object().bucket(bucket).key(&key).send().await {
                    Ok(object) => {
                        let body = object.body.collect().await?.into_bytes();
                        let rejects: FileRejects = serde_json::from_slice(&body)
                            .with_context(|| format!("reading s3://{bucket}/{key}"))?;
                        anyhow::Ok(Some(rejects))
                    }
                    Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                        Ok(None)
                    }
                    Err(error) => Err(api_error(error))
                        .with_context(|| format!("reading s3://{bucket}/{key}")),
                }
            }
        });
        for read in futures_util::future::join_all(reads).await {
            found.extend(read?);
        }
    }
    Ok(found)
}

impl RegionRun {
    /// Rows read per second: inserted, already present and rejected lines.
    pub fn rows_per_second(&self) -> f64 {
        let rows = self.totals.inserted + self.totals.present + self.totals.rejected;
        if self.seconds > 0.0 {
            rows as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// Every object under the pending prefix, sorted by key.
pub async fn pending_files(
    aws: &AwsContext,
    region: &str,
    bucket: &str,
    prefix: &str,
) -> anyhow::Result<Vec<PendingFile>> {
    let mut pages = aws
        .s3(region)
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut files = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(api_error)
            .with_context(|| format!("listing s3://{bucket}/{prefix}"))?;
        files.extend(page.contents().iter().map(|o| PendingFile {
            key: o.key().unwrap_or_default().to_string(),
            etag: o.e_tag().unwrap_or_default().trim_matches('"').to_string(),
            size: o.size().unwrap_or_default(),
        }));
    }
    files.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(files)
}

/// The execution name for a pending listing: the same files (keys and ETags) give the same
/// name, and Step Functions refuses a second execution of one name, so starting twice
/// cannot process a backlog twice.
pub fn run_name(files: &[PendingFile]) -> String {
    let mut hash = Sha256::new();
    for file in files {
        hash.update(file.key.as_bytes());
        hash.update(b"\0");
        hash.update(file.etag.as_bytes());
        hash.update(b"\n");
    }
    format!("run-{}", &hex::encode(hash.finalize())[..20])
}

/// Starts the Region's state machine for `files` (or finds the execution already started
/// for them) and, with `wait`, follows it to the end.
pub async fn run_on_aws(
    sfn: &aws_sdk_sfn::Client,
    poll_interval: Duration,
    region: &str,
    state_machine: &str,
    files: &[PendingFile],
    wait: bool,
    progress: &dyn Progress,
) -> anyhow::Result<RegionRun> {
    let name = run_name(files);
    let started = sfn
        .start_execution()
        .state_machine_arn(state_machine)
        .name(&name)
        .input("{}")
        .send()
        .await;
    let execution = match started {
        Ok(started) => started.execution_arn().to_string(),
        // Started before with this listing: that execution is this run.
        Err(error) if error.code() == Some("ExecutionAlreadyExists") => {
            execution_arn(state_machine, &name)
        }
        Err(error) => {
            return Err(api_error(error)).context(format!("starting {state_machine}"));
        }
    };
    progress.message(&format!(
        "{region}: execution {name} for {} files",
        files.len()
    ));
    let mut run = RegionRun {
        region: region.to_string(),
        name: Some(name.clone()),
        execution: Some(execution.clone()),
        status: RunStatus::Running,
        totals: Totals::default(),
        seconds: 0.0,
        error: None,
        rejects: Vec::new(),
    };
    loop {
        let described = sfn
            .describe_execution()
            .execution_arn(&execution)
            .send()
            .await
            .map_err(api_error)
            .with_context(|| format!("describing {execution}"))?;
        let status = described.status().as_str().to_string();
        progress.status(&name, region, &status, None);
        let finished = described.stop_date().is_some() || status != "RUNNING";
        if finished || !wait {
            let start = described.start_date().as_secs_f64();
            let stop = described.stop_date().map(|d| d.as_secs_f64());
            run.seconds = stop.unwrap_or(start) - start;
            match status.as_str() {
                "RUNNING" | "PENDING_REDRIVE" => run.status = RunStatus::Running,
                "SUCCEEDED" => {
                    run.status = RunStatus::Succeeded;
                    let output = described.output().unwrap_or("{}");
                    run.totals = serde_json::from_str(output).with_context(|| {
                        format!("{execution} succeeded with an unexpected output: {output}")
                    })?;
                }
                other => {
                    run.status = RunStatus::Failed;
                    run.error = Some(format!(
                        "{other}: {}: {}",
                        described.error().unwrap_or("no error"),
                        described.cause().unwrap_or("no cause")
                    ));
                }
            }
            return Ok(run);
        }
        tokio::time::sleep(poll_interval).await;
    }
}

/// `arn:<partition>:states:<region>:<account>:execution:<state machine>:<name>`.
fn execution_arn(state_machine: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine.replacen(":stateMachine:", ":execution:", 1)
    )
}

/// Lambda service errors the state machine retries (its `Retry` on every task).
const RETRY_ATTEMPTS: u32 = 6;
const RETRY_INTERVAL: Duration = Duration::from_secs(2);
const RETRY_MAX_DELAY: Duration = Duration::from_secs(60);

/// What one file's processing ended with, as the state machine's item processor returns it.
#[derive(Debug, Clone, Serialize)]
struct FileResult {
    key: String,
    outcome: &'static str,
    inserted: u64,
    present: u64,
    rejected: u64,
}

/// The parts of dbprocess' report the run counts.
#[derive(Debug, Deserialize)]
struct IngestReport {
    inserted: u64,
    already_present: u64,
    rejected: u64,
}

/// What preprocess answers: the next batch, and the totals so far.
#[derive(Debug, Deserialize)]
struct Listing {
    files: Vec<PendingFile>,
    totals: Totals,
}

/// The state machine's steps, driven from here: list a batch (preprocess, which also
/// tallies the previous batch), process its files a few at a time (dbprocess, then
/// postprocess to completed; a file that fails goes to failed with the error), loop until
/// nothing is pending.
pub async fn run_locally(
    aws: &AwsContext,
    environment: &Environment,
    region: &str,
    files: &[PendingFile],
    progress: Arc<dyn Progress>,
) -> anyhow::Result<RegionRun> {
    let started = Instant::now();
    let name = run_name(files);
    let concurrency = environment.pipeline.max_concurrency;
    let functions = Arc::new(Functions::open(aws, environment, region, concurrency).await?);
    progress.message(&format!(
        "{region}: run {name} for {} files on the local runtime",
        files.len()
    ));
    let mut totals = Totals::default();
    let mut results: Vec<FileResult> = Vec::new();
    let mut previous_batch: Vec<String> = Vec::new();
    let mut batch_number = 0;
    let outcome: anyhow::Result<()> = async {
        loop {
            let request = serde_json::json!({
                "limit": environment.pipeline.files_per_batch,
                "totals": totals,
                "results": results,
            });
            let listing: Listing =
                with_retries(|| functions.invoke(Function::Preprocess, &request)).await?;
            totals = listing.totals;
            if listing.files.is_empty() {
                return Ok(());
            }
            // Files that stay pending after a batch would be listed for ever.
            let keys: Vec<String> = listing.files.iter().map(|f| f.key.clone()).collect();
            if keys == previous_batch {
                bail!(
                    "the same {} files are still pending after a batch: they could not be moved",
                    keys.len()
                );
            }
            batch_number += 1;
            results = process_batch(&functions, listing.files, concurrency).await?;
            let failed = results.iter().filter(|r| r.outcome == "failed").count();
            progress.message(&format!(
                "{region}: batch {batch_number}: {} files, {failed} failed",
                results.len()
            ));
            previous_batch = keys;
        }
    }
    .await;
    let (status, error) = match outcome {
        Ok(()) => (RunStatus::Succeeded, None),
        Err(error) => (RunStatus::Failed, Some(format!("{error:#}"))),
    };
    Ok(RegionRun {
        region: region.to_string(),
        name: Some(name),
        execution: None,
        status,
        totals,
        seconds: started.elapsed().as_secs_f64(),
        error,
        rejects: Vec::new(),
    })
}

/// One batch, `concurrency` files at a time, results in listing order.
async fn process_batch(
    functions: &Arc<Functions>,
    files: Vec<PendingFile>,
    concurrency: u32,
) -> anyhow::Result<Vec<FileResult>> {
    let slots = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1) as usize));
    let mut tasks = tokio::task::JoinSet::new();
    for (index, file) in files.into_iter().enumerate() {
        let functions = functions.clone();
        let slots = slots.clone();
        tasks.spawn(async move {
            let _slot = slots.acquire_owned().await.expect("never closed");
            (index, process_file(&functions, file).await)
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (index, result) = joined.context("a file's task panicked")?;
        results.push((index, result?));
    }
    results.sort_by_key(|(index, _)| *index);
    Ok(results.into_iter().map(|(_, r)| r).collect())
}

/// dbprocess, then postprocess: completed with the report, or failed with the error.
/// A file whose move fails is an error of the run, never reported as completed.
async fn process_file(functions: &Functions, file: PendingFile) -> anyhow::Result<FileResult> {
    let ingest = serde_json::json!({"key": file.key, "etag": file.etag});
    let ingested: Result<serde_json::Value, InvokeError> =
        with_retries(|| functions.invoke(Function::Dbprocess, &ingest)).await;
    let (request, result) = match ingested {
        Ok(report) => {
            let counts: IngestReport = serde_json::from_value(report.clone())
                .with_context(|| format!("dbprocess answered an unexpected report: {report}"))?;
            (
                serde_json::json!({"key": file.key, "outcome": "completed", "report": report}),
                FileResult {
                    key: file.key.clone(),
                    outcome: "completed",
                    inserted: counts.inserted,
                    present: counts.already_present,
                    rejected: counts.rejected,
                },
            )
        }
        Err(error) => (
            serde_json::json!({"key": file.key, "outcome": "failed", "error": error.as_caught()}),
            FileResult {
                key: file.key.clone(),
                outcome: "failed",
                inserted: 0,
                present: 0,
                rejected: 0,
            },
        ),
    };
    with_retries(|| functions.invoke::<serde_json::Value>(Function::Postprocess, &request))
        .await
        .with_context(|| format!("moving {} to {}", file.key, result.outcome))?;
    Ok(result)
}

/// Retries service errors like the state machine's `Retry`: exponential backoff from
/// `RETRY_INTERVAL`, capped at `RETRY_MAX_DELAY`, with full jitter.
async fn with_retries<T, F, Fut>(mut call: F) -> Result<T, InvokeError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, InvokeError>>,
{
    let mut attempt = 0;
    loop {
        match call().await {
            Err(InvokeError::Service { .. }) if attempt < RETRY_ATTEMPTS => {
                let ceiling = RETRY_INTERVAL
                    .saturating_mul(2u32.saturating_pow(attempt))
                    .min(RETRY_MAX_DELAY);
                tokio::time::sleep(ceiling.mul_f64(jitter())).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// A number in [0, 1) from the clock: enough to spread retries, no generator needed.
fn jitter() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    f64::from(nanos % 1000) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(key: &str, etag: &str) -> PendingFile {
        PendingFile {
            key: key.into(),
            etag: etag.into(),
            size: 1,
        }
    }

    #[test]
    fn the_same_listing_gives_the_same_name_and_a_changed_file_another() {
        let a = [file("p/a.json", "1"), file("p/b.json", "2")];
        let changed = [file("p/a.json", "1"), file("p/b.json", "3")];
        assert_eq!(run_name(&a), run_name(&a.clone()));
        assert_ne!(run_name(&a), run_name(&changed));
        // Step Functions allows 80 characters of [A-Za-z0-9-_].
        assert!(run_name(&a).len() <= 80);
        assert!(run_name(&a)
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn execution_arn_is_built_from_the_state_machine_arn() {
        assert_eq!(
            execution_arn(
                "arn:aws:states:us-east-1:123456789012:stateMachine:book-reviews-prod-ingest",
                "run-abc"
            ),
            "arn:aws:states:us-east-1:123456789012:execution:book-reviews-prod-ingest:run-abc"
        );
    }
}
