//! `deploy up ENV` (and `deploy diff ENV`, its dry run): preflight, bundle, deploy every
//! wave through change sets, then create the schema.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use crate::aws::AwsContext;
use crate::bundle;
use crate::cli::{OutputFormat, UpArgs};
use crate::env::{self, Environment};
use crate::functions::Functions;
use crate::migrations;
use crate::plan::{Function, Part, PostDeployStep};
use crate::progress::{Printer, Progress};
use crate::prompt::Prompt;
use crate::render;
use crate::stacks::{Known, RunOptions, StackOutcome, WaveError, WaveRunner};
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
    /// What became of the steps after the stacks (`migrate`): ran, skipped or failed.
    pub post_deploy: Vec<PostDeployOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One step after the stacks.
#[derive(Debug, Serialize)]
pub struct PostDeployOutcome {
    pub function: Function,
    pub region: String,
    /// `ran`, `skipped` (crate::migrations: nothing changed since it last ran) or `failed`.
    pub result: String,
    /// deploy's record of the run (crate::migrations), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
}

/// Where the record of `migrate` on the writer cluster goes: the writer Region's assets
/// bucket, named by the cluster's resource ID and the migrate zip deployed.
async fn migrate_record(
    aws: &AwsContext,
    environment: &Environment,
    rendered: &render::Rendered,
    known: &Known,
    region: &str,
    writer: &topology::Member,
) -> anyhow::Result<migrations::Record> {
    let assets = rendered
        .plan
        .waves
        .iter()
        .flat_map(|w| &w.stacks)
        .find(|s| s.part == Part::Assets && s.region == region)
        .with_context(|| format!("no assets stack in {region}"))?;
    let bucket = known
        .outputs
        .get(&assets.name)
        .and_then(|o| o.get("AssetsBucketName"))
        .with_context(|| format!("no assets bucket output of {}", assets.name))?;
    let code_key = known
        .code_keys
        .get(&Function::Migrate)
        .context("the migrate zip's key is not known")?;
    let cluster = migrations::cluster_resource_id(aws, &writer.region, writer.cluster_id()).await?;
    let secret = environment.app_secret_name();
    let version = migrations::current_secret_version(aws, region, &secret).await?;
    Ok(migrations::Record::new(
        region, bucket, &cluster, code_key, &version,
    ))
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

    let mut post_deploy = Vec::new();
    if error.is_none() && !dry_run {
        let stacks_unchanged = outcomes.iter().all(|o| o.result == "no changes");
        for step in &rendered.plan.post_deploy {
            let PostDeployStep::Invoke {
                function,
                region,
                reason,
                ..
            } = step;
            // After a switchover the writer is elsewhere; DDL must go to the writer.
            let writer = topology::read(
                aws,
                &environment.regions.primary.region,
                &environment.name_prefix(),
            )
            .await
            .ok()
            .flatten()
            .and_then(|t| t.writer().cloned());
            let region = writer
                .as_ref()
                .map(|w| w.region.clone())
                .unwrap_or_else(|| region.clone());
            // migrate's record (crate::migrations): what this migrate code did to this cluster.
            let record = match (*function, &writer) {
                (Function::Migrate, Some(writer)) => {
                    migrate_record(aws, environment, &rendered, &known, &region, writer).await
                }
                _ => Err(anyhow::anyhow!("no writer cluster")),
            };
            let recorded = match &record {
                Ok(record) if !args.migrate && stacks_unchanged => match record.exists(aws).await {
                    Ok(found) => Some(found),
                    Err(failure) => {
                        progress.message(&format!("warning: {failure:#}"));
                        None
                    }
                },
                _ => None,
            };
            let decision = if *function == Function::Migrate {
                migrations::decide(args.migrate, stacks_unchanged, recorded)
            } else {
                migrations::Decision::Run("after every deploy")
            };
            let why = match decision {
                migrations::Decision::Run(why) => why,
                migrations::Decision::Skip => {
                    let record = record.as_ref().expect("a skip has a record");
                    progress.message(&format!(
                        "{function} in {region}: skipped, no stack changed and this {function} already ran on this cluster ({}); --migrate runs it anyway",
                        record.url()
                    ));
                    post_deploy.push(PostDeployOutcome {
                        function: *function,
                        region,
                        result: "skipped".into(),
                        record: Some(record.url()),
                    });
                    continue;
                }
            };
            progress.message(&format!(
                "invoking {function} in {region}: {reason} ({why})"
            ));
            let invoked = async {
                let functions = Functions::open(aws, environment, &region);
                let answer = functions
                    .invoke::<serde_json::Value>(*function, &serde_json::json!({}))
                    .await?;
                anyhow::Ok(answer)
            };
            match invoked.await {
                Ok(answer) => {
                    let mut url = None;
                    if let Ok(record) = &record {
                        match record.write(aws, &answer).await {
                            Ok(()) => url = Some(record.url()),
                            Err(failure) => progress.message(&format!(
                                "warning: {failure:#}: the next `deploy up` runs {function} again"
                            )),
                        }
                    }
                    post_deploy.push(PostDeployOutcome {
                        function: *function,
                        region,
                        result: "ran".into(),
                        record: url,
                    });
                }
                Err(failure) => {
                    error = Some(format!("{function} failed in {region}: {failure:#}"));
                    post_deploy.push(PostDeployOutcome {
                        function: *function,
                        region,
                        result: "failed".into(),
                        record: None,
                    });
                }
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
        post_deploy,
        error,
    })
}
