//! Ingesting what is pending (`deploy run`): every Region's state machine at once, each
//! followed to its end, then one report with a row per Region and the files that failed or
//! had lines rejected. The same path on AWS and on the local stand-in (moto's Step
//! Functions engine runs the rendered state machine there, its Lambda tasks the real
//! functions).
//!
//! - [`workflow`]: one Region's execution, started and followed;
//! - [`failed`]: the files in the failed prefix, listed with why, and moved back;
//! - [`reports`]: where the pipeline writes what it has to say about a file;
//! - [`upload`]: review files into the pending prefix.

pub mod failed;
pub mod reports;
pub mod upload;
pub mod workflow;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use serde::Serialize;

use crate::aws::AwsContext;
use crate::cloudformation::StackClient;
use crate::env::Environment;
use crate::plan::{stack_name, Part};
use crate::progress::{Printer, Progress};
use workflow::{RegionRun, RunStatus, Totals};

/// The run finished, but some files could not be ingested (the report lists them).
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {files} files could not be ingested and were moved to the failed prefix (listed above)")]
pub struct FilesFailed {
    pub failed: u64,
    pub files: u64,
}

#[derive(Debug, Serialize)]
pub struct RunReport {
    pub environment: String,
    pub regions: Vec<RegionRun>,
    pub total: Totals,
    /// Rows read per second by all Regions together, over the longest Region's time.
    pub rows_per_second: f64,
}

/// Every Region at once; each ends in its own row, a failure in one does not stop the others.
pub async fn ingest(
    environment: &Environment,
    aws: &AwsContext,
    regions: &[String],
    wait: bool,
    progress: Arc<dyn Progress>,
) -> anyhow::Result<RunReport> {
    let runs = regions.iter().map(|region| {
        let progress = progress.clone();
        async move {
            let outputs = pipeline_outputs(environment, aws, region).await?;
            let bucket = output(&outputs, "DataBucketName", environment, region)?;
            let files =
                workflow::pending_files(aws, region, &bucket, &environment.pipeline.pending_prefix)
                    .await?;
            if files.is_empty() {
                progress.message(&format!("{region}: nothing pending in s3://{bucket}"));
                return Ok(RegionRun {
                    region: region.clone(),
                    name: None,
                    execution: None,
                    status: RunStatus::NothingToDo,
                    totals: Totals::default(),
                    seconds: 0.0,
                    error: None,
                    rejects: Vec::new(),
                    failures: Vec::new(),
                });
            }
            let state_machine = output(&outputs, "StateMachineArn", environment, region)?;
            let sfn = aws.step_functions(region);
            let poll = aws.poll_interval();
            let mut run = workflow::run_execution(
                &sfn,
                poll,
                region,
                &state_machine,
                &files,
                wait,
                &*progress,
            )
            .await?;
            if run.status != RunStatus::Running && run.totals.rejected > 0 {
                run.rejects =
                    workflow::read_rejects(aws, environment, region, &bucket, &files).await?;
            }
            if run.status != RunStatus::Running && run.totals.failed > 0 {
                run.failures =
                    workflow::read_failures(aws, environment, region, &bucket, &files).await?;
            }
            Ok(run)
        }
    });
    let results: Vec<anyhow::Result<RegionRun>> = futures_util::future::join_all(runs).await;
    let mut report = RunReport {
        environment: environment.name_prefix(),
        regions: Vec::new(),
        total: Totals::default(),
        rows_per_second: 0.0,
    };
    for (region, result) in regions.iter().zip(results) {
        let run = result.unwrap_or_else(|error| RegionRun {
            region: region.clone(),
            name: None,
            execution: None,
            status: RunStatus::Failed,
            totals: Totals::default(),
            seconds: 0.0,
            error: Some(format!("{error:#}")),
            rejects: Vec::new(),
            failures: Vec::new(),
        });
        report.total.add(&run.totals);
        report.regions.push(run);
    }
    let longest = report.regions.iter().map(|r| r.seconds).fold(0.0, f64::max);
    let rows = report.total.inserted + report.total.present + report.total.rejected;
    report.rows_per_second = if longest > 0.0 {
        rows as f64 / longest
    } else {
        0.0
    };
    Ok(report)
}

/// Rejected lines listed per Region in the text table (the JSON output has them all).
const SHOWN_REJECTS: usize = 20;

pub fn render_text(report: &RunReport) -> String {
    let mut out = format!(
        "{}\n\n{:<15} {:<13} {:>9} {:>7} {:>10} {:>9} {:>9} {:>9} {:>10}\n",
        report.environment,
        "region",
        "status",
        "completed",
        "failed",
        "inserted",
        "present",
        "rejected",
        "seconds",
        "rows/s"
    );
    let row = |name: &str, status: &str, t: &Totals, seconds: f64, rate: f64| {
        format!(
            "{name:<15} {status:<13} {:>9} {:>7} {:>10} {:>9} {:>9} {seconds:>9.1} {rate:>10.0}\n",
            t.completed, t.failed, t.inserted, t.present, t.rejected
        )
    };
    for run in &report.regions {
        let status = match run.status {
            RunStatus::NothingToDo => "nothing to do",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        };
        out.push_str(&row(
            &run.region,
            status,
            &run.totals,
            run.seconds,
            run.rows_per_second(),
        ));
    }
    let longest = report.regions.iter().map(|r| r.seconds).fold(0.0, f64::max);
    out.push_str(&row(
        "total",
        "",
        &report.total,
        longest,
        report.rows_per_second,
    ));
    for run in &report.regions {
        if let Some(execution) = &run.execution {
            out.push_str(&format!("\n{}: execution {execution}", run.region));
        }
        if let Some(error) = &run.error {
            out.push_str(&format!("\n{}: {error}", run.region));
        }
    }
    if report
        .regions
        .iter()
        .any(|r| r.execution.is_some() || r.error.is_some())
    {
        out.push('\n');
    }
    for run in report.regions.iter().filter(|r| !r.failures.is_empty()) {
        out.push_str(&format!(
            "\n{}: {} files moved to the failed prefix (`deploy data failed` lists them; `deploy data requeue` moves them back once fixed):\n",
            run.region,
            run.failures.len()
        ));
        for failure in &run.failures {
            out.push_str(&format!(
                "  {}: {}: {}\n",
                failure.key, failure.error, failure.cause
            ));
        }
    }
    for run in report.regions.iter().filter(|r| !r.rejects.is_empty()) {
        let named: usize = run.rejects.iter().map(|f| f.lines.len()).sum();
        out.push_str(&format!(
            "\n{}: {} rejected lines (each completed file's in <reports prefix>completed/<its path>.rejects.json, all in the review_rejects table){}\n",
            run.region,
            run.totals.rejected,
            if named > SHOWN_REJECTS { format!("; the first {SHOWN_REJECTS}:") } else { ":".into() }
        ));
        let lines = run
            .rejects
            .iter()
            .flat_map(|f| f.lines.iter().map(move |l| (&f.key, l)))
            .take(SHOWN_REJECTS);
        for (key, line) in lines {
            out.push_str(&format!("  {key}:{}: {}\n", line.line, line.reason));
        }
    }
    out.lines()
        .map(|line| format!("{}\n", line.trim_end()))
        .collect()
}

/// The data bucket of a Region's pipeline stack.
pub async fn data_bucket(
    environment: &Environment,
    aws: &AwsContext,
    region: &str,
) -> anyhow::Result<String> {
    let outputs = pipeline_outputs(environment, aws, region).await?;
    output(&outputs, "DataBucketName", environment, region)
}

/// The outputs of a Region's pipeline stack (data bucket, state machine).
pub async fn pipeline_outputs(
    environment: &Environment,
    aws: &AwsContext,
    region: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let stack = stack_name(environment, Part::Pipeline, region);
    let client = StackClient::new(
        aws.cloudformation(region),
        region,
        std::time::Duration::from_secs(1),
        std::sync::Arc::new(Printer::plain()),
    );
    let description = client.describe(&stack).await?;
    description
        .map(|d| d.outputs)
        .with_context(|| format!("{stack} is not deployed in {region}: run `deploy up` first"))
}

/// One output of a pipeline stack, or why it is missing.
pub fn output(
    outputs: &BTreeMap<String, String>,
    name: &str,
    environment: &Environment,
    region: &str,
) -> anyhow::Result<String> {
    outputs.get(name).cloned().with_context(|| {
        format!(
            "{} has no output {name}: run `deploy up` to update it",
            stack_name(environment, Part::Pipeline, region)
        )
    })
}

/// The Regions a command covers: the one asked for, or every Region of the file.
pub fn regions_in_scope(
    environment: &Environment,
    region: Option<&str>,
    file: &Path,
) -> anyhow::Result<Vec<String>> {
    match region {
        Some(region) if environment.all_regions().any(|r| r.region == region) => {
            Ok(vec![region.to_string()])
        }
        Some(region) => bail!("{region} is not a Region of {}", file.display()),
        None => Ok(environment
            .all_regions()
            .map(|r| r.region.clone())
            .collect()),
    }
}
