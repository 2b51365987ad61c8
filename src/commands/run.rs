//! `deploy run ENV [--region R] [--wait]`: ingest what is pending, in every Region at
//! once: each Region's state machine runs (on the local stand-in too, in moto's engine).

use std::sync::Arc;

use serde::Serialize;

use crate::aws::AwsContext;
use crate::cli::{OutputFormat, RunArgs};
use crate::commands::data::{output, pipeline_outputs, regions_in_scope};
use crate::env::{self, Environment};
use crate::progress::{Printer, Progress};
use crate::workflow::{self, RegionRun, RunStatus, Totals};

/// Exit code of a run that finished but moved files to the failed prefix: each is listed
/// with why, and `deploy run` exits with this so scripts notice.
pub const EXIT_FILES_FAILED: u8 = 3;

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

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let environment = env::load(&args.env)?;
    let regions = regions_in_scope(&environment, args.region.as_deref(), &args.env)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(async {
        let aws = AwsContext::connect(&environment, args.profile.as_deref()).await?;
        aws.check_credentials().await?;
        let printer: Arc<dyn Progress> = Arc::new(Printer::new());
        ingest(&environment, &aws, &regions, args.wait, printer).await
    })?;
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Text => print!("{}", render_text(&report)),
    }
    let failed: Vec<&RegionRun> = report
        .regions
        .iter()
        .filter(|r| r.status == RunStatus::Failed)
        .collect();
    if let Some(first) = failed.first() {
        anyhow::bail!(
            "the run failed in {}: {}",
            failed
                .iter()
                .map(|r| r.region.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            first.error.as_deref().unwrap_or("no reason given")
        );
    }
    if report.total.failed > 0 {
        return Err(FilesFailed {
            failed: report.total.failed,
            files: report.total.files,
        }
        .into());
    }
    Ok(())
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
