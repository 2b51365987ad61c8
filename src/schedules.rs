//! The pipeline's schedules as they are: each Region's `AWS::Scheduler::Schedule`, its
//! state and next run. Moving them with the writer is [`crate::writer::pipelines`].

use anyhow::Context as _;
use aws_sdk_scheduler::error::ProvideErrorMetadata;
use serde::Serialize;

use crate::aws::AwsContext;
use crate::env::{schedule, Environment};

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
