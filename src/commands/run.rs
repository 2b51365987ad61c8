//! `deploy run ENV [--region R] [--wait]`: ingest what is pending, in every Region at
//! once ([`crate::ingestion`]), and report each Region's run.

use std::sync::Arc;

use super::{emit, Failure, Outcome};
use crate::aws::AwsContext;
use crate::cli::RunArgs;
use crate::env;
use crate::ingestion::workflow::{RegionRun, RunStatus};
use crate::ingestion::{ingest, regions_in_scope, render_text, FilesFailed};
use crate::progress::{Printer, Progress};

pub fn run(args: &RunArgs) -> Outcome {
    let environment = env::load(&args.env)?;
    let regions = regions_in_scope(&environment, args.region.as_deref(), &args.env)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let report = runtime.block_on(async {
        let aws = AwsContext::connect(&environment, args.profile.as_deref()).await?;
        aws.check_credentials().await?;
        let printer: Arc<dyn Progress> = Arc::new(Printer::new());
        ingest(&environment, &aws, &regions, args.wait, printer).await
    })?;
    emit(&report, args.output, render_text)?;
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
