//! What `deploy up` does (and `deploy diff`, its dry run): preflight, the functions' zips,
//! every wave through change sets, the zips uploaded once each Region's assets bucket
//! exists, then the steps after the stacks (`migrate` on the writer).
//!
//! - [`preflight`]: what is checked before anything is created, and what the stacks need
//!   discovered (subnets, route tables);
//! - [`bundle`]: the functions' zips, built or found, uploaded under their sha256;
//! - [`waves`]: the plan's waves, each stack's parameters resolved from what is known by then;
//! - [`migrations`]: whether `migrate` has to run, and deploy's record of each run;
//! - [`post_deploy`]: the steps after the stacks.

pub mod bundle;
pub mod migrations;
pub mod post_deploy;
pub mod preflight;
pub mod waves;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::aws::AwsContext;
use crate::env::Environment;
use crate::plan::Part;
use crate::progress::Progress;
use crate::prompt::Confirm;
use crate::render;
use crate::topology;
use post_deploy::PostDeployOutcome;
use waves::{Known, RunOptions, StackOutcome, WaveError, WaveRunner};

/// What `up` was asked to do besides the file.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Show the change sets and execute nothing (`deploy diff`).
    pub dry_run: bool,
    /// Ready zips (`<dir>/<function>/bootstrap.zip`); `None` builds them.
    pub lambda_dir: Option<PathBuf>,
    /// Invoke `migrate` even when its record says nothing changed.
    pub migrate: bool,
}

/// The machine-readable result (`--output json`).
#[derive(Debug, Serialize)]
pub struct UpReport {
    pub environment: String,
    pub dry_run: bool,
    pub succeeded: bool,
    pub seconds: f64,
    /// The sum of every stack's own time: against `seconds`, what the waves' concurrency saved.
    pub stack_seconds: f64,
    pub stacks: Vec<StackOutcome>,
    /// What became of the steps after the stacks (`migrate`): ran, skipped or failed.
    pub post_deploy: Vec<PostDeployOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The summary for people: a line per stack, then the time taken. It starts with an empty
/// line, which sets it apart from the progress lines on a terminal.
pub fn render_text(report: &UpReport) -> String {
    let mut out = String::from("\n");
    for stack in &report.stacks {
        out.push_str(&format!(
            "  {:<44} {:<15} {:<12} {:>6.1}s\n",
            stack.stack, stack.region, stack.result, stack.seconds
        ));
    }
    out.push_str(&format!(
        "{} in {:.1}s (the stacks' own times add up to {:.1}s)\n",
        if report.dry_run {
            "Previewed"
        } else if report.succeeded {
            "Deployed"
        } else {
            "Stopped"
        },
        report.seconds,
        report.stack_seconds
    ));
    out
}

/// Deploys the environment; a stack or a step that fails ends the report with its error
/// (`Err` is for what stops before a report can be made).
pub async fn up(
    environment: &Environment,
    aws: &AwsContext,
    progress: Arc<dyn Progress>,
    confirm: &dyn Confirm,
    options: &Options,
) -> anyhow::Result<UpReport> {
    let started = Instant::now();
    let rendered = render::render(environment)?;
    let primary = &environment.regions.primary.region;

    let live = topology::read(aws, primary, &environment.name_prefix())
        .await
        .ok()
        .flatten();
    let live_writer = live.as_ref().and_then(|t| t.writer());
    if let Some(writer) = live_writer.filter(|w| &w.region != primary) {
        progress.message(&format!(
            "note: the file's primary is {primary} but the live writer is {} (after a switchover or failover); deploy keeps the live topology",
            writer.region
        ));
    }

    progress.message("preflight: credentials, VPCs, subnets, engine version, names");
    let findings = preflight::preflight(environment, aws).await?;
    for warning in &findings.warnings {
        progress.message(&format!("warning: {warning}"));
    }
    let target = if aws.is_local() {
        bundle::Target::StandIn
    } else {
        bundle::Target::Aws {
            architecture: environment.pipeline.architecture.as_str(),
        }
    };
    let zips = bundle::ready_zips(options.lambda_dir.as_deref(), target, progress.as_ref())?;

    let mut known = Known {
        discovered: findings.discovered,
        // What follows the writer (the schedule with `runs_in: writer`) is deployed where
        // the writer is now, so a `deploy up` after a switchover keeps it there.
        writer_region: Some(live_writer.map_or_else(|| primary.clone(), |w| w.region.clone())),
        ..Known::default()
    };
    let runner = WaveRunner {
        aws,
        rendered: &rendered,
        progress: progress.clone(),
        confirm,
        options: RunOptions {
            dry_run: options.dry_run,
            poll: aws.poll_interval(),
        },
    };
    let mut stacks = Vec::new();
    let mut error = None;
    for wave in &rendered.plan.waves {
        // The pipelines' functions connect to the database: it has to be ready first.
        if wave.stacks.iter().any(|s| s.part == Part::Pipeline) && !options.dry_run {
            topology::wait_until_ready(
                aws,
                primary,
                &environment.name_prefix(),
                progress.as_ref(),
                aws.poll_interval() * 5,
                Duration::from_secs(3600),
            )
            .await?;
        }
        progress.message(&format!("wave {}: {}", wave.number, wave.description));
        if let Err(failure) = runner.run_wave(wave, &mut known, &mut stacks).await {
            error = Some(match failure {
                WaveError::Declined => failure.to_string(),
                other => format!("deploy failed: {other}"),
            });
            break;
        }
        // The functions' zips go to each Region's assets bucket once it exists.
        for stack in wave.stacks.iter().filter(|s| s.part == Part::Assets) {
            if options.dry_run {
                runner.read_outputs(stack, &mut known).await?;
            }
            let Some(bucket) = known
                .outputs
                .get(&stack.name)
                .and_then(|o| o.get("AssetsBucketName"))
            else {
                continue;
            };
            let (keys, uploaded) = bundle::upload(aws, &stack.region, bucket, &zips).await?;
            progress.message(&format!(
                "{}: {uploaded} of {} function zips uploaded to {bucket}",
                stack.region,
                zips.len()
            ));
            known.code_keys = keys;
        }
        if options.dry_run {
            for stack in &wave.stacks {
                runner.read_outputs(stack, &mut known).await?;
            }
        }
    }

    let mut post_deploy = Vec::new();
    if error.is_none() && !options.dry_run {
        let stacks_unchanged = stacks.iter().all(|o| o.result == "no changes");
        (post_deploy, error) = post_deploy::run(
            aws,
            environment,
            &rendered,
            &known,
            progress.as_ref(),
            options.migrate,
            stacks_unchanged,
        )
        .await;
    }

    Ok(UpReport {
        environment: environment.name_prefix(),
        dry_run: options.dry_run,
        succeeded: error.is_none(),
        seconds: started.elapsed().as_secs_f64(),
        stack_seconds: stacks.iter().map(|o| o.seconds).sum(),
        stacks,
        post_deploy,
        error,
    })
}
