//! A deployed environment as it is now (`deploy status`): every stack per Region, the
//! global database as RDS sees it (which Region writes, forwarding and replication lag per
//! secondary), the data buckets' backlog, the schedules, the alarms, and the dashboard's
//! address.
//!
//! - [`cloudwatch`]: what CloudWatch says (replication lag, alarms, the dashboard's address).

pub mod cloudwatch;

use serde::Serialize;

use crate::aws::AwsContext;
use crate::cloudformation::StackClient;
use crate::env::Environment;
use crate::ingestion::reports;
use crate::plan::{Part, StackPlan};
use crate::progress::{Printer, Progress as _};
use crate::render::AlarmNames;
use crate::s3;
use crate::schedules;
use crate::topology::{self, Member};

#[derive(Debug, Serialize)]
pub struct StatusReport {
    pub environment: String,
    pub stacks: Vec<StackStatus>,
    pub global_database: Option<GlobalDatabaseStatus>,
    /// Set when the live writer is not the file's primary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub buckets: Vec<BucketCounts>,
    /// The pipeline's schedule in each Region (empty when the file has none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<schedules::RegionSchedule>,
    /// Every Region's alarms and their states (what is deployed of them).
    pub alarms: Vec<cloudwatch::AlarmState>,
    /// The CloudWatch console address of the dashboard; `None` when the monitoring stack
    /// is not deployed.
    pub dashboard_url: Option<String>,
}

/// The live topology, with what CloudWatch knows about each member.
#[derive(Debug, Serialize)]
pub struct GlobalDatabaseStatus {
    pub global_cluster: String,
    pub status: String,
    pub members: Vec<MemberStatus>,
}

#[derive(Debug, Serialize)]
pub struct MemberStatus {
    #[serde(flatten)]
    pub member: Member,
    /// The latest `AuroraGlobalDBReplicationLag` (maximum over a minute) of the last ten
    /// minutes; `None` for the writer, which publishes none, and when CloudWatch has no
    /// datapoint.
    pub replication_lag_ms: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct StackStatus {
    pub stack: String,
    pub region: String,
    pub wave: u8,
    /// `NOT_DEPLOYED` when the stack does not exist.
    pub status: String,
    /// Seconds since the epoch.
    pub last_updated: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct BucketCounts {
    pub region: String,
    pub bucket: String,
    pub pending: usize,
    pub completed: usize,
    pub failed: usize,
}

pub async fn status(environment: &Environment, aws: &AwsContext) -> anyhow::Result<StatusReport> {
    let plan = StackPlan::for_environment(environment);
    let progress = std::sync::Arc::new(Printer::plain());
    let mut stacks = Vec::new();
    let mut buckets = Vec::new();
    let mut dashboard_url = None;
    for (wave, stack) in plan.stacks() {
        let client = StackClient::new(
            aws.cloudformation(&stack.region),
            &stack.region,
            std::time::Duration::from_secs(1),
            progress.clone(),
        );
        let description = client.describe(&stack.name).await?;
        if stack.part == Part::Pipeline {
            if let Some(bucket) = description
                .as_ref()
                .and_then(|d| d.outputs.get("DataBucketName"))
            {
                buckets.push(count_objects(aws, environment, &stack.region, bucket).await?);
            }
        }
        if stack.part == Part::Monitoring {
            if let Some(name) = description
                .as_ref()
                .and_then(|d| d.outputs.get("DashboardName"))
            {
                dashboard_url = Some(cloudwatch::dashboard_url(&stack.region, name));
            }
        }
        stacks.push(StackStatus {
            stack: stack.name.clone(),
            region: stack.region.clone(),
            wave: wave.number,
            status: description
                .as_ref()
                .map_or("NOT_DEPLOYED".into(), |d| d.status.clone()),
            last_updated: description.and_then(|d| d.last_updated),
        });
    }
    let global_database = topology::read(
        aws,
        &environment.regions.primary.region,
        &environment.name_prefix(),
    )
    .await?;
    let note = global_database
        .as_ref()
        .and_then(|t| t.writer())
        .filter(|w| w.region != environment.regions.primary.region)
        .map(|w| {
            format!(
                "the live writer is {}, not the file's primary {} (after a switchover or failover)",
                w.region, environment.regions.primary.region
            )
        });
    let global_database = match global_database {
        None => None,
        Some(topology) => {
            let mut members = Vec::new();
            for member in topology.members {
                // Only secondaries publish the metric, each in its own Region; read the
                // live topology's roles, which a switchover changes.
                let replication_lag_ms = if member.is_writer {
                    None
                } else {
                    let cluster = member.cluster_arn.rsplit(':').next().unwrap_or_default();
                    // A metric that cannot be read (no cloudwatch:GetMetricData, say)
                    // must not hide the rest of the report: warn and show no data.
                    cloudwatch::latest_replication_lag(aws, &member.region, cluster)
                        .await
                        .unwrap_or_else(|error| {
                            progress.message(&format!("warning: {error:#}"));
                            None
                        })
                };
                members.push(MemberStatus {
                    member,
                    replication_lag_ms,
                });
            }
            Some(GlobalDatabaseStatus {
                global_cluster: topology.global_cluster,
                status: topology.status,
                members,
            })
        }
    };
    // Like a metric, a schedule that cannot be read must not hide the rest of the report.
    let schedules = schedules::read(environment, aws)
        .await
        .unwrap_or_else(|error| {
            progress.message(&format!("warning: {error:#}"));
            Vec::new()
        });
    let mut alarms = Vec::new();
    for region in environment.all_regions() {
        let names = AlarmNames::for_region(environment, &region.region);
        match cloudwatch::alarms(aws, &region.region, &names.all()).await {
            Ok(found) => alarms.extend(found),
            Err(error) => progress.message(&format!("warning: {error:#}")),
        }
    }
    Ok(StatusReport {
        environment: environment.name_prefix(),
        stacks,
        global_database,
        note,
        buckets,
        schedules,
        alarms,
        dashboard_url,
    })
}

/// How many review files each prefix of a Region's data bucket holds.
async fn count_objects(
    aws: &AwsContext,
    environment: &Environment,
    region: &str,
    bucket: &str,
) -> anyhow::Result<BucketCounts> {
    let mut counts = [0usize; 3];
    let prefixes = [
        &environment.pipeline.pending_prefix,
        &environment.pipeline.completed_prefix,
        &environment.pipeline.failed_prefix,
    ];
    for (count, prefix) in counts.iter_mut().zip(prefixes) {
        // Reports beside the files (earlier versions) are not files.
        *count = s3::list(aws, region, bucket, prefix)
            .await?
            .iter()
            .filter(|o| !reports::is_report_key(&o.key))
            .count();
    }
    Ok(BucketCounts {
        region: region.to_string(),
        bucket: bucket.to_string(),
        pending: counts[0],
        completed: counts[1],
        failed: counts[2],
    })
}

/// The report for people: a section per part of the environment.
pub fn render_text(report: &StatusReport) -> String {
    let mut out = format!("{}\n\nstacks\n", report.environment);
    for stack in &report.stacks {
        let updated = stack
            .last_updated
            .map(|t| {
                aws_smithy_types::DateTime::from_secs(t as i64)
                    .fmt(aws_smithy_types::date_time::Format::DateTime)
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        out.push_str(&format!(
            "  {:<44} {:<15} {:<22} {updated}\n",
            stack.stack, stack.region, stack.status
        ));
    }
    out.push_str("\nglobal database\n");
    match &report.global_database {
        None => out.push_str("  not deployed\n"),
        Some(topology) => {
            out.push_str(&format!(
                "  {} ({})\n",
                topology.global_cluster, topology.status
            ));
            for MemberStatus {
                member,
                replication_lag_ms,
            } in &topology.members
            {
                let lag = match (replication_lag_ms, member.is_writer) {
                    (_, true) => String::new(),
                    (Some(ms), false) => format!("replication lag {ms:.0} ms"),
                    (None, false) => "replication lag: no data".into(),
                };
                out.push_str(&format!(
                    "  {:<15} {:<10} {:<28} {lag}\n",
                    member.region,
                    member.role(),
                    member.forwarding()
                ));
            }
        }
    }
    if let Some(note) = &report.note {
        out.push_str(&format!("  note: {note}\n"));
    }
    out.push_str("\ndata buckets (pending / completed / failed files)\n");
    if report.buckets.is_empty() {
        out.push_str("  none deployed\n");
    }
    for bucket in &report.buckets {
        out.push_str(&format!(
            "  {:<15} {:>8} {:>10} {:>8}  {}\n",
            bucket.region, bucket.pending, bucket.completed, bucket.failed, bucket.bucket
        ));
    }
    if !report.schedules.is_empty() {
        out.push_str("\nschedule\n");
        for schedule in &report.schedules {
            let line = match (&schedule.state, &schedule.next_run_text) {
                (None, _) => format!("  {:<15} not deployed", schedule.region),
                (Some(state), next) => format!(
                    "  {:<15} {:<10} {:<24} {:<18} {}",
                    schedule.region,
                    state,
                    schedule.expression.as_deref().unwrap_or_default(),
                    schedule.timezone.as_deref().unwrap_or_default(),
                    next.as_deref()
                        .map(|n| format!("next run {n}"))
                        .unwrap_or_default()
                ),
            };
            out.push_str(&line);
            out.push('\n');
        }
    }
    if !report.alarms.is_empty() {
        out.push_str("\nalarms\n");
        for alarm in &report.alarms {
            out.push_str(&format!(
                "  {:<15} {:<17} {}{}\n",
                alarm.region,
                alarm.state,
                alarm.name,
                alarm
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ));
        }
    }
    out.push_str("\ndashboard\n");
    match &report.dashboard_url {
        Some(url) => out.push_str(&format!("  {url}\n")),
        None => out.push_str("  not deployed\n"),
    }
    // Padded columns leave spaces at the ends of short lines.
    out.lines()
        .map(|line| format!("{}\n", line.trim_end()))
        .collect()
}
