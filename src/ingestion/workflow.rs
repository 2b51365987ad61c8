//! One run of the ingestion workflow in one Region (`deploy run`): an execution of the
//! Region's state machine, the one CloudFormation deployed (templates/statemachine.asl.json),
//! on AWS and on the local stand-in alike (moto's Step Functions engine runs it there, its
//! Lambda tasks the real functions: local/moto_plugin).

use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_sfn::error::ProvideErrorMetadata;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::aws::{api_error, AwsContext};
use crate::env::Environment;
use crate::ingestion::reports;
use crate::progress::Progress;
use crate::s3;

// What the state machine and the functions hand back: the contract's types.
pub use contract::reports::RejectsDocument;
pub use contract::{PendingFile, RejectedLine, Totals};

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
    pub rejects: Vec<RejectsDocument>,
    /// The run's files that were moved to the failed prefix, with why.
    pub failures: Vec<FileFailure>,
}

/// A file the run moved to the failed prefix, from the report postprocess wrote about it
/// (crate::ingestion::reports: under the reports prefix, or beside the file from earlier versions):
/// the error Step Functions caught.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileFailure {
    pub key: String,
    pub moved_to: String,
    pub error: String,
    pub cause: String,
}

/// The failure reports of those of `files` that are in the failed prefix now.
pub async fn read_failures(
    aws: &AwsContext,
    environment: &Environment,
    region: &str,
    bucket: &str,
    files: &[PendingFile],
) -> anyhow::Result<Vec<FileFailure>> {
    let pipeline = &environment.pipeline;
    read_beside(aws, region, bucket, files, |file| {
        let rel = reports::below(&file.key, &pipeline.pending_prefix);
        let moved_to = format!("{}{rel}", pipeline.failed_prefix);
        (
            vec![
                reports::failure_report_key(pipeline, rel),
                // Migration: a report written by an earlier version.
                reports::old_failure_report_key(pipeline, rel),
            ],
            move |file: &PendingFile, report: serde_json::Value| {
                // A report that is not the contract's names no error.
                let caught = serde_json::from_value::<reports::FailureReport>(report)
                    .map(|report| reports::CaughtError::of(&report))
                    .unwrap_or_default();
                FileFailure {
                    key: file.key.clone(),
                    moved_to,
                    error: caught.error.clone().unwrap_or_else(|| "unknown".into()),
                    cause: caught.message(),
                }
            },
        )
    })
    .await
}

/// For each of `files`, the first of the JSON objects `object_of` names for it that exists
/// (and how to read it), in the files' order: a few dozen requests at a time.
async fn read_beside<T, R>(
    aws: &AwsContext,
    region: &str,
    bucket: &str,
    files: &[PendingFile],
    object_of: impl Fn(&PendingFile) -> (Vec<String>, R),
) -> anyhow::Result<Vec<T>>
where
    R: FnOnce(&PendingFile, serde_json::Value) -> T,
{
    let client = aws.s3(region);
    let mut found = Vec::new();
    for chunk in files.chunks(32) {
        let reads = chunk.iter().map(|file| {
            let (keys, read) = object_of(file);
            let client = client.clone();
            async move {
                for key in keys {
                    if let Some(value) = s3::get_json(&client, bucket, &key).await? {
                        return anyhow::Ok(Some(read(file, value)));
                    }
                }
                Ok(None)
            }
        });
        for read in futures_util::future::join_all(reads).await {
            found.extend(read?);
        }
    }
    Ok(found)
}

/// The rejects objects of `files` once they are completed, in the files' order.
pub async fn read_rejects(
    aws: &AwsContext,
    environment: &Environment,
    region: &str,
    bucket: &str,
    files: &[PendingFile],
) -> anyhow::Result<Vec<RejectsDocument>> {
    let pipeline = &environment.pipeline;
    let rejects = read_beside(aws, region, bucket, files, |file| {
        let rel = reports::below(&file.key, &pipeline.pending_prefix);
        (
            vec![
                reports::rejects_key(pipeline, rel),
                // Migration: a rejects object written by an earlier version.
                reports::old_rejects_key(pipeline, rel),
            ],
            |_: &PendingFile, value: serde_json::Value| {
                serde_json::from_value::<RejectsDocument>(value)
            },
        )
    })
    .await?;
    rejects
        .into_iter()
        .collect::<Result<_, _>>()
        .context("a rejects object is not {kind, key, rejected, lines}")
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
    let mut files: Vec<PendingFile> = s3::list(aws, region, bucket, prefix)
        .await?
        .into_iter()
        .map(|o| PendingFile {
            key: o.key,
            etag: o.etag,
            size: o.size,
        })
        .collect();
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
pub async fn run_execution(
    sfn: &aws_sdk_sfn::Client,
    poll_interval: Duration,
    region: &str,
    state_machine: &str,
    files: &[PendingFile],
    wait: bool,
    progress: &dyn Progress,
) -> anyhow::Result<RegionRun> {
    let (name, execution) = start_or_join(sfn, state_machine, &run_name(files)).await?;
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
        failures: Vec::new(),
    };
    let mut interval = poll_interval;
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
        tokio::time::sleep(interval).await;
        interval = next_poll(interval, poll_interval);
    }
}

/// The wait before the next look at a running execution: the first looks come at the
/// stand-in's quick `poll_interval`, so a short run is seen ending at once; a long one is
/// looked at once a second (never less often than `poll_interval` on AWS, 5 s). Each look
/// is a DescribeExecution, and make demo-large's two 13 s runs made 130 of them.
fn next_poll(interval: Duration, poll_interval: Duration) -> Duration {
    (interval * 3 / 2).min(poll_interval.max(Duration::from_secs(1)))
}

/// Starts an execution for a listing, or joins the one already running for it. Step
/// Functions keeps an execution's name for 90 days, closed or not (StartExecution:
/// ExecutionAlreadyExists), so a listing whose run ended (failed, or its files uploaded
/// again since) gets the next free name, `<name>-2`, `<name>-3`, ...: a second `deploy run`
/// never runs a backlog twice at once, and a backlog left by a failed run can be run again.
async fn start_or_join(
    sfn: &aws_sdk_sfn::Client,
    state_machine: &str,
    base: &str,
) -> anyhow::Result<(String, String)> {
    for attempt in 1..=100 {
        let name = if attempt == 1 {
            base.to_string()
        } else {
            format!("{base}-{attempt}")
        };
        let started = sfn
            .start_execution()
            .state_machine_arn(state_machine)
            .name(&name)
            .input("{}")
            .send()
            .await;
        match started {
            Ok(started) => return Ok((name, started.execution_arn().to_string())),
            Err(error) if error.code() == Some("ExecutionAlreadyExists") => {
                let arn = execution_arn(state_machine, &name);
                let described = sfn
                    .describe_execution()
                    .execution_arn(&arn)
                    .send()
                    .await
                    .map_err(api_error)
                    .with_context(|| format!("describing {arn}"))?;
                // Started before with this listing and still running: that is this run.
                if described.status().as_str() == "RUNNING" {
                    return Ok((name, arn));
                }
            }
            Err(error) => {
                return Err(api_error(error)).context(format!("starting {state_machine}"));
            }
        }
    }
    anyhow::bail!("{state_machine} has run the same listing 100 times: check its failures")
}

/// `arn:<partition>:states:<region>:<account>:execution:<state machine>:<name>`.
fn execution_arn(state_machine: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine.replacen(":stateMachine:", ":execution:", 1)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polls_back_off_to_once_a_second_and_never_below_the_interval() {
        let local = Duration::from_millis(200);
        let mut waits = vec![local];
        for _ in 0..6 {
            waits.push(next_poll(*waits.last().unwrap(), local));
        }
        let millis: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(millis, [200, 300, 450, 675, 1000, 1000, 1000]);
        let aws = Duration::from_secs(5);
        assert_eq!(next_poll(aws, aws), aws);
    }

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
