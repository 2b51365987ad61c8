//! `deploy run ENV [--region R] [--wait]`: ingest what is pending, in every Region at
//! once ([`crate::ingestion`]), and report each Region's run.

use super::{emit, Context, Failure, Outcome};
use crate::cli::RunArgs;
use crate::env;
use crate::ingestion::workflow::{RegionRun, RunStatus};
use crate::ingestion::{ingest, regions_in_scope, render_text, FilesFailed};

pub fn run(args: &RunArgs) -> Outcome {
    let environment = env::load(&args.target.env)?;
    let regions = regions_in_scope(&environment, args.region.as_deref(), &args.target.env)?;
    let ctx = Context::connect(environment, &args.target, false)?;
    let report = ctx.block_on(async {
        ctx.aws.check_credentials().await?;
        ingest(
            &ctx.environment,
            &ctx.aws,
            &regions,
            args.wait,
            ctx.progress.clone(),
        )
        .await
    })?;
    emit(&report, args.output.format, render_text)?;
    let failed: Vec<&RegionRun> = report
        .regions
        .iter()
        .filter(|r| r.status == RunStatus::Failed)
        .collect();
    if let Some(first) = failed.first() {
        return Err(Failure::Error(anyhow::anyhow!(
            "the run failed in {}: {}",
            failed
                .iter()
                .map(|r| r.region.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            first.error.as_deref().unwrap_or("no reason given")
        )));
    }
    if report.total.failed > 0 {
        return Err(Failure::FilesFailed(
            FilesFailed {
                failed: report.total.failed,
                files: report.total.files,
            }
            .into(),
        ));
    }
    Ok(())
}
