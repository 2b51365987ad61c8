//! The steps after the stacks: each function the plan says to invoke (`migrate`, on the
//! writer), unless [`super::migrations`] says nothing changed since it last ran there.

use anyhow::Context as _;
use serde::Serialize;

use super::migrations::{self, Decision, Record};
use super::waves::Known;
use crate::aws::AwsContext;
use crate::env::Environment;
use crate::functions::Functions;
use crate::plan::{Function, Part, PostDeployStep};
use crate::progress::Progress;
use crate::render::Rendered;
use crate::topology;

/// One step after the stacks.
#[derive(Debug, Serialize)]
pub struct PostDeployOutcome {
    pub function: Function,
    pub region: String,
    pub result: StepResult,
    /// deploy's record of the run (super::migrations), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
}

/// What became of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StepResult {
    Ran,
    /// Nothing changed since it last ran on this cluster (super::migrations).
    Skipped,
    Failed,
}

/// Every step of the plan, in order; a failed step does not stop the next. The error, if
/// any, is the last failure's.
pub async fn run(
    aws: &AwsContext,
    environment: &Environment,
    rendered: &Rendered,
    known: &Known,
    progress: &dyn Progress,
    forced: bool,
    stacks_unchanged: bool,
) -> (Vec<PostDeployOutcome>, Option<String>) {
    let mut outcomes = Vec::new();
    let mut error = None;
    for step in &rendered.plan.post_deploy {
        let PostDeployStep::Invoke {
            function,
            region,
            reason,
            ..
        } = step;
        let function = *function;
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
            .map_or_else(|| region.clone(), |w| w.region.clone());
        // migrate's record: what this migrate code did to this cluster.
        let record = match (function, &writer) {
            (Function::Migrate, Some(writer)) => {
                migrate_record(aws, environment, rendered, known, &region, writer).await
            }
            _ => Err(anyhow::anyhow!("no writer cluster")),
        };
        let recorded = match &record {
            Ok(record) if !forced && stacks_unchanged => match record.exists(aws).await {
                Ok(found) => Some(found),
                Err(failure) => {
                    progress.message(&format!("warning: {failure:#}"));
                    None
                }
            },
            _ => None,
        };
        let decision = if function == Function::Migrate {
            migrations::decide(forced, stacks_unchanged, recorded)
        } else {
            Decision::Run("after every deploy")
        };
        let why = match decision {
            Decision::Run(why) => why,
            Decision::Skip => {
                let record = record.as_ref().expect("a skip has a record");
                progress.message(&format!(
                    "{function} in {region}: skipped, no stack changed and this {function} already ran on this cluster ({}); --migrate runs it anyway",
                    record.url()
                ));
                outcomes.push(PostDeployOutcome {
                    function,
                    region,
                    result: StepResult::Skipped,
                    record: Some(record.url()),
                });
                continue;
            }
        };
        progress.message(&format!(
            "invoking {function} in {region}: {reason} ({why})"
        ));
        let invoked = Functions::open(aws, environment, &region)
            .invoke::<serde_json::Value>(function, &serde_json::json!({}))
            .await;
        match invoked {
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
                outcomes.push(PostDeployOutcome {
                    function,
                    region,
                    result: StepResult::Ran,
                    record: url,
                });
            }
            Err(failure) => {
                error = Some(format!(
                    "{function} failed in {region}: {:#}",
                    anyhow::Error::from(failure)
                ));
                outcomes.push(PostDeployOutcome {
                    function,
                    region,
                    result: StepResult::Failed,
                    record: None,
                });
            }
        }
    }
    (outcomes, error)
}

/// Where the record of `migrate` on the writer cluster goes: the writer Region's assets
/// bucket, named by the cluster's resource ID and the migrate zip deployed.
async fn migrate_record(
    aws: &AwsContext,
    environment: &Environment,
    rendered: &Rendered,
    known: &Known,
    region: &str,
    writer: &topology::Member,
) -> anyhow::Result<Record> {
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
    Ok(Record::new(region, bucket, &cluster, code_key, &version))
}
