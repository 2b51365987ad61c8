//! The pipeline stacks follow the writer: each Region's `WriterRegion` parameter names the
//! Region that holds it. The replication lag alarms exist everywhere else, and a schedule
//! that follows the writer is ENABLED only there (conditions in the pipeline template).
//!
//! A move of the writer updates that parameter in every Region's pipeline stack, through a
//! change set on the deployed template: CloudFormation then holds the same state as
//! CloudWatch and Scheduler, and the next `deploy up`, which passes the live writer too,
//! has nothing to change. Calling Scheduler's UpdateSchedule instead would leave the stack's
//! parameter on the old writer, so the next stack update that touched the schedule would
//! enable the old Region again (UpdateSchedule also replaces every property of the
//! schedule, not only its state: EventBridge Scheduler API reference, UpdateSchedule).

use std::sync::Arc;

use serde::Serialize;

use crate::aws::AwsContext;
use crate::cloudformation::{Prepared, StackClient, StackSpec};
use crate::env::Environment;
use crate::plan::{Part, StackPlan, WRITER_REGION_PARAMETER};
use crate::progress::{Printer, Progress};

/// One Region's pipeline stack, pointed at the new writer.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineMove {
    pub region: String,
    /// `writer` in the new writer's Region (no replication lag alarms there), `replica`
    /// elsewhere.
    pub role: &'static str,
    /// A schedule that follows the writer: `ENABLED` in the writer's Region, `DISABLED`
    /// elsewhere (it keeps its old state when the update failed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schedule: Option<&'static str>,
    /// `updated`, `no changes`, `not deployed` or `failed`.
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Points every Region's pipeline stack at `writer` (its `WriterRegion` parameter): the
/// replication lag alarms leave the writer's Region and exist everywhere else, and a
/// schedule that follows the writer is enabled there and disabled elsewhere. After a
/// switchover the old writer's stack is updated before the new one (never two schedules
/// enabled at once); after a failover the new writer's comes first, since the old Region
/// may not answer. A Region that fails is reported, not fatal: the writer has moved
/// already, and `deploy up` sets the parameter again.
pub async fn follow_writer(
    environment: &Environment,
    aws: &AwsContext,
    writer: &str,
    writer_first: bool,
    progress: &dyn Progress,
) -> Vec<PipelineMove> {
    let plan = StackPlan::for_environment(environment);
    let mut stacks: Vec<_> = plan
        .stacks()
        .map(|(_, stack)| stack)
        .filter(|stack| stack.part == Part::Pipeline)
        .collect();
    // The writer's Region last (or first), the others in the file's order.
    stacks.sort_by_key(|stack| (stack.region == writer) != writer_first);
    let printer: Arc<dyn Progress> = Arc::new(Printer::plain());
    let mut moves = Vec::new();
    for stack in stacks {
        let holds_writer = stack.region == writer;
        let role = if holds_writer { "writer" } else { "replica" };
        let schedule = crate::plan::schedule_follows_writer(environment)
            .then_some(if holds_writer { "ENABLED" } else { "DISABLED" });
        let client = StackClient::new(
            aws.cloudformation(&stack.region),
            &stack.region,
            aws.poll_interval(),
            printer.clone(),
        );
        let outcome = point_at_writer(&client, &stack.name, &stack.tags, writer).await;
        let (result, error) = match outcome {
            Ok(result) => (result.to_string(), None),
            Err(error) => ("failed".to_string(), Some(format!("{error:#}"))),
        };
        progress.message(&format!(
            "pipeline in {}: {role}{} ({result}{})",
            stack.region,
            schedule
                .map(|s| format!(", schedule {s}"))
                .unwrap_or_default(),
            error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ));
        moves.push(PipelineMove {
            region: stack.region.clone(),
            role,
            schedule,
            result,
            error,
        });
    }
    moves
}

async fn point_at_writer(
    client: &StackClient,
    name: &str,
    tags: &std::collections::BTreeMap<String, String>,
    writer: &str,
) -> anyhow::Result<&'static str> {
    let Some((template_body, mut previous)) = client.deployed(name).await? else {
        return Ok("not deployed");
    };
    let before = previous.len();
    previous.retain(|key| key != WRITER_REGION_PARAMETER);
    if previous.len() == before {
        // Deployed before the pipeline followed the writer: `deploy up` adds it.
        return Ok("not deployed");
    }
    // Every other parameter keeps its deployed value, as CloudFormation holds it.
    let spec = StackSpec {
        name: name.to_string(),
        region: client.region().to_string(),
        template_body,
        parameters: vec![(WRITER_REGION_PARAMETER.to_string(), writer.to_string())],
        previous_parameters: previous,
        tags: tags.clone(),
    };
    match client.prepare(&spec).await? {
        Prepared::NoChanges => Ok("no changes"),
        Prepared::ChangeSet { id, summary, .. } => {
            client.execute(&spec, &id, summary.changes.len()).await?;
            Ok("updated")
        }
    }
}
