//! The pipeline's schedules as they are (each Region's `AWS::Scheduler::Schedule`: its
//! state and next run), and moving them with the writer after a switchover or failover.
//!
//! A schedule that follows the writer is ENABLED where the pipeline stack's `WriterRegion`
//! parameter names its own Region (a condition in the template). A move of the writer
//! updates that parameter in every Region's pipeline stack, through a change set on the
//! deployed template: CloudFormation then holds the same state as Scheduler, and the next
//! `deploy up`, which passes the live writer too, has nothing to change. Calling
//! Scheduler's UpdateSchedule instead would leave the stack's parameter on the old writer,
//! so the next stack update that touched the schedule would enable the old Region again
//! (UpdateSchedule also replaces every property of the schedule, not only its state:
//! EventBridge Scheduler API reference, UpdateSchedule).

use std::sync::Arc;

use anyhow::Context as _;
use aws_sdk_scheduler::error::ProvideErrorMetadata;
use serde::Serialize;

use crate::aws::AwsContext;
use crate::cloudformation::{Prepared, StackClient, StackSpec};
use crate::env::{schedule, Environment};
use crate::plan::{Part, StackPlan, WRITER_REGION_PARAMETER};
use crate::progress::{Printer, Progress};

/// One Region's schedule, as Scheduler reports it now.
#[derive(Debug, Clone, Serialize)]
pub struct RegionSchedule {
    pub region: String,
    pub name: String,
    /// `ENABLED` or `DISABLED`; `None` when the schedule does not exist there.
    pub state: Option<String>,
    pub expression: Option<String>,
    pub timezone: Option<String>,
    /// When it runs next (RFC 3339, UTC); `None` when disabled, or when it will not run again.
    pub next_run: Option<String>,
    /// The same, in the schedule's time zone, for people.
    #[serde(skip)]
    pub next_run_text: Option<String>,
}

/// The schedule's name, the same in every Region.
pub fn schedule_name(environment: &Environment) -> String {
    format!("{}-pipeline", environment.name_prefix())
}

/// Every Region's schedule (empty when the file has none).
pub async fn read(
    environment: &Environment,
    aws: &AwsContext,
) -> anyhow::Result<Vec<RegionSchedule>> {
    if environment.pipeline.schedule.is_none() {
        return Ok(Vec::new());
    }
    let name = schedule_name(environment);
    let now = chrono::Utc::now();
    let mut schedules = Vec::new();
    for region in environment.all_regions() {
        let region = region.region.clone();
        let response = aws
            .scheduler(&region)
            .get_schedule()
            .name(&name)
            .send()
            .await;
        let found = match response {
            Ok(found) => found,
            Err(error) if error.code() == Some("ResourceNotFoundException") => {
                schedules.push(RegionSchedule {
                    region,
                    name: name.clone(),
                    state: None,
                    expression: None,
                    timezone: None,
                    next_run: None,
                    next_run_text: None,
                });
                continue;
            }
            Err(error) => {
                return Err(crate::aws::api_error(error))
                    .with_context(|| format!("GetSchedule {name} in {region}"))
            }
        };
        let state = found.state().map(|s| s.as_str().to_string());
        let expression = found.schedule_expression().map(str::to_string);
        let timezone = found
            .schedule_expression_timezone()
            .unwrap_or("UTC")
            .to_string();
        let created = found
            .creation_date()
            .and_then(|d| chrono::DateTime::from_timestamp(d.secs(), 0));
        let next = match (state.as_deref(), &expression) {
            (Some("ENABLED"), Some(expression)) => {
                let zone = schedule::time_zone(&timezone);
                match (schedule::parse(expression), zone) {
                    (Ok(parsed), Some(zone)) => parsed
                        .next_run(zone, now, created)
                        .map(|at| (at, schedule::describe(at, zone))),
                    _ => None,
                }
            }
            _ => None,
        };
        schedules.push(RegionSchedule {
            region,
            name: name.clone(),
            state,
            expression,
            timezone: Some(timezone),
            next_run: next.as_ref().map(|(at, _)| at.to_rfc3339()),
            next_run_text: next.map(|(_, text)| text),
        });
    }
    Ok(schedules)
}

/// What moving the schedule did in one Region.
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
