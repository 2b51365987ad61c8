//! `deploy up ENV` (and `deploy diff ENV`, its dry run): preflight, bundle, deploy every
//! wave through change sets, then create the schema.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::aws::AwsContext;
use crate::bundle;
use crate::cli::{OutputFormat, UpArgs};
use crate::env::{self, Environment};
use crate::functions::Functions;
use crate::plan::{Part, PostDeployStep};
use crate::progress::{Printer, Progress};
use crate::render;
use crate::stacks::{Confirm, Known, RunOptions, StackOutcome, WaveError, WaveRunner};
use crate::topology;

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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn run(args: &UpArgs, dry_run: bool) -> super::Outcome {
    let environment = env::load(&args.env)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let printer: Arc<dyn Progress> = Arc::new(Printer::new());
    let report = runtime.block_on(async {
        let aws = AwsContext::connect(&environment, args.profile.as_deref()).await?;
        tokio::select! {
            report = up(&environment, &aws, printer.clone(), args, dry_run) => report,
            _ = tokio::signal::ctrl_c() => {
                anyhow::bail!("interrupted: stopped waiting. Operations already started go on in CloudFormation; `deploy status {}` shows where they are", args.env.display())
            }
        }
    })?;
    if args.output == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_summary(&report);
    }
    match report.error {
        Some(error) => Err(anyhow::anyhow!("{error}").into()),
        None => Ok(()),
    }
}

fn print_summary(report: &UpReport) {
    eprintln!();
    for stack in &report.stacks {
        eprintln!(
            "  {:<44} {:<15} {:<12} {:>6.1}s",
            stack.stack, stack.region, stack.result, stack.seconds
        );
    }
    eprintln!(
        "{} in {:.1}s (the stacks' own times add up to {:.1}s)",
        if report.dry_run {
            "Previewed"
        } else if report.succeeded {
            "Deployed"
        } else {
            "Stopped"
        },
        report.seconds,
        report.stack_seconds
    );
}

struct Prompt {
    yes: bool,
}

impl Confirm for Prompt {
    fn confirm(&self, question: &str) -> bool {
        if self.yes {
            return true;
        }
        ask(question)
    }
}

/// Asks on the terminal; without one (CI), the answer is no: pass `--yes` there.
pub fn ask(question: &str) -> bool {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        eprintln!("{question} [y/N] no (stdin is not a terminal; pass --yes to approve)");
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
}

pub async fn up(
    environment: &Environment,
    aws: &AwsContext,
    progress: Arc<dyn Progress>,
    args: &UpArgs,
    dry_run: bool,
) -> anyhow::Result<UpReport> {
    let started = Instant::now();
    let rendered = render::render(environment)?;
    let poll = aws.poll_interval();

    let live = topology::read(
        aws,
        &environment.regions.primary.region,
        &environment.name_prefix(),
    )
    .await
    .ok()
    .flatten();
    if let Some(writer) = live.as_ref().and_then(|t| t.writer()) {
        if writer.region != environment.regions.primary.region {
            progress.message(&format!(
                "note: the file's primary is {} but the live writer is {} (after a switchover or failover); deploy keeps the live topology",
                environment.regions.primary.region, writer.region
            ));
        }
    }

    progress.message("preflight: credentials, VPCs, subnets, engine version, names");
    let findings = crate::preflight::preflight(environment, aws).await?;
    for warning in &findings.warnings {
        progress.message(&format!("warning: {warning}"));
    }
    let discovered = findings.discovered;
    let target = if aws.is_local() {
        bundle::Target::StandIn
    } else {
        bundle::Target::Aws {
            architecture: environment.pipeline.architecture.as_str(),
        }
    };
    let zips = match &args.lambda_dir {
        Some(dir) => bundle::load_zips(dir)?,
        None => {
            progress.message(&match target {
                bundle::Target::Aws { architecture } => {
                    format!("bundling the functions for {architecture} (make lambdas)")
                }
                bundle::Target::StandIn => {
                    "bundling the functions as the stand-in runs them (make lambdas-local)".into()
                }
            });
            bundle::build(target)?;
            bundle::load_zips(&target.default_dir())?
        }
    };

    let mut known = Known {
        discovered,
        // What follows the writer (the schedule with `runs_in: writer`) is deployed where
        // the writer is now, so a `deploy up` after a switchover keeps it there.
        writer_region: Some(live.as_ref().and_then(|t| t.writer()).map_or_else(
            || environment.regions.primary.region.clone(),
            |w| w.region.clone(),
        )),
        ..Known::default()
    };
    let runner = WaveRunner {
        aws,
        rendered: &rendered,
        progress: progress.clone(),
        confirm: &Prompt { yes: args.yes },
        options: RunOptions { dry_run, poll },
    };
    let mut outcomes = Vec::new();
    let mut error = None;
    for wave in &rendered.plan.waves {
        if wave.stacks.iter().any(|s| s.part == Part::Pipeline) && !dry_run {
            topology::wait_until_ready(
                aws,
                &environment.regions.primary.region,
                &environment.name_prefix(),
                progress.as_ref(),
                poll * 5,
                Duration::from_secs(3600),
            )
            .await?;
        }
        progress.message(&format!("wave {}: {}", wave.number, wave.description));
        if let Err(failure) = runner.run_wave(wave, &mut known, &mut outcomes).await {
            error = Some(match failure {
                WaveError::Declined => failure.to_string(),
                other => format!("deploy failed: {other}"),
            });
            break;
        }
        // The functions' zips go to each Region's assets bucket once it exists.
        for stack in wave.stacks.iter().filter(|s| s.part == Part::Assets) {
            if dry_run {
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
        if dry_run {
            for stack in &wave.stacks {
                runner.read_outputs(stack, &mut known).await?;
            }
        }
    }

    if error.is_none() && !dry_run {
        for step in &rendered.plan.post_deploy {
            let PostDeployStep::Invoke {
                function,
                region,
                reason,
                ..
            } = step;
            // After a switchover the writer is elsewhere; DDL must go to the writer.
            let region = live
                .as_ref()
                .and_then(|t| t.writer())
                .map(|w| w.region.clone())
                .unwrap_or_else(|| region.clone());
            progress.message(&format!("invoking {function} in {region}: {reason}"));
            let invoked = async {
                let functions = Functions::open(aws, environment, &region);
                functions
                    .invoke::<serde_json::Value>(*function, &serde_json::json!({}))
                    .await?;
                anyhow::Ok(())
            };
            if let Err(failure) = invoked.await {
                error = Some(format!("{function} failed in {region}: {failure:#}"));
            }
        }
    }

    let stack_seconds = outcomes.iter().map(|o| o.seconds).sum();
    Ok(UpReport {
        environment: environment.name_prefix(),
        dry_run,
        succeeded: error.is_none(),
        seconds: started.elapsed().as_secs_f64(),
        stack_seconds,
        stacks: outcomes,
        error,
    })
}
