//! Moving the global database's writer to another Region (`deploy switchover`, `deploy
//! failover`) and waiting until it has settled; then the pipeline stacks follow it
//! ([`pipelines`]).
//!
//! A switchover (`SwitchoverGlobalCluster`) lets the secondaries catch up first and loses
//! nothing; it needs the writer's Region healthy. A failover (`FailoverGlobalCluster` with
//! `AllowDataLoss`) promotes the target at once, for when the writer's Region is down, and
//! loses the writes that had not replicated yet. Neither touches the database stacks:
//! CloudFormation change sets compare templates, not live state, so `deploy up` with the
//! same file changes nothing afterwards and only notes that the live writer is not the
//! file's primary. The pipeline stacks follow the writer (their `WriterRegion` parameter):
//! the replication lag alarms, and a schedule that runs where the writer is.

pub mod pipelines;

use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;

use crate::aws::AwsContext;
use crate::env::Environment;
use crate::progress::Progress;
use crate::prompt::Confirm;
use crate::topology::{self, Topology, WriterMove};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Switchover,
    Failover,
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Operation::Switchover => "switchover",
            Operation::Failover => "failover",
        })
    }
}

/// Why a move of the writer was not started. Nothing was changed in any of these cases.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("{to} is not a Region of {environment}; --to takes one of: {regions}")]
    UnknownRegion {
        to: String,
        environment: String,
        regions: String,
    },
    #[error("failover can lose data, so it needs --allow-data-loss. It promotes {to} without waiting for replication: writes committed on the current writer in the last second or so (the replication lag) that have not reached {to} are lost. If the writer's Region is healthy, `deploy switchover {env} --to {to}` moves the writer with no loss. To fail over anyway: `deploy failover {env} --to {to} --allow-data-loss`")]
    DataLossNotAllowed { to: String, env: String },
    #[error("{to} is already the writer of {global_cluster}; nothing to do (`deploy status` shows the topology)")]
    AlreadyWriter { to: String, global_cluster: String },
    #[error("the global database {0} does not exist; `deploy up` creates it")]
    NoGlobalCluster(String),
    #[error("the global database {global_cluster} is {status}, not available; wait until `deploy status` shows it available, then try again")]
    NotAvailable {
        global_cluster: String,
        status: String,
    },
    #[error("{to} has no cluster in the global database {global_cluster} (members: {members}); `deploy up` creates it")]
    NotAMember {
        to: String,
        global_cluster: String,
        members: String,
    },
    #[error("not confirmed; nothing was changed")]
    NotConfirmed,
}

/// How a move of the writer did not happen: refused before anything changed, or failed.
#[derive(Debug, thiserror::Error)]
pub enum MoveError {
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl Refused {
    /// Errors in the command line itself exit 2, like clap's own.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            Refused::UnknownRegion { .. }
                | Refused::DataLossNotAllowed { .. }
                | Refused::AlreadyWriter { .. }
        )
    }
}

/// The result (`--output json`).
#[derive(Debug, Serialize)]
pub struct WriterChangeReport {
    pub environment: String,
    pub operation: Operation,
    pub from: String,
    pub to: String,
    pub before: Topology,
    pub after: Topology,
    /// From the call to the settled topology.
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Every Region's pipeline stack, pointed at the new writer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pipelines: Vec<pipelines::PipelineMove>,
}

/// Refuses a Region that is not one of the file's.
pub fn check_region(environment: &Environment, to: &str) -> Result<(), Refused> {
    if environment.all_regions().any(|r| r.region == to) {
        return Ok(());
    }
    Err(Refused::UnknownRegion {
        to: to.to_string(),
        environment: environment.name_prefix(),
        regions: environment
            .all_regions()
            .map(|r| r.region.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Checks the live topology, asks, starts the operation in the target Region, and waits
/// until the target writes and the secondaries forward.
pub async fn move_writer(
    environment: &Environment,
    aws: &AwsContext,
    operation: Operation,
    to: &str,
    confirm: &dyn Confirm,
    progress: &dyn Progress,
    timeout: Duration,
) -> Result<WriterChangeReport, MoveError> {
    check_region(environment, to)?;
    let global_cluster = environment.name_prefix();
    // Every call goes to the target Region: in a failover the writer's may be down.
    let before = topology::read(aws, to, &global_cluster)
        .await?
        .ok_or_else(|| Refused::NoGlobalCluster(global_cluster.clone()))?;
    if before.status != "available" {
        return Err(Refused::NotAvailable {
            global_cluster,
            status: before.status.clone(),
        }
        .into());
    }
    let Some(target) = before.member(to).cloned() else {
        return Err(Refused::NotAMember {
            to: to.to_string(),
            global_cluster,
            members: before
                .members
                .iter()
                .map(|m| m.region.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
        .into());
    };
    if target.is_writer {
        return Err(Refused::AlreadyWriter {
            to: to.to_string(),
            global_cluster,
        }
        .into());
    }
    let from = before
        .writer()
        .map_or_else(|| "none".to_string(), |w| w.region.clone());

    let question = match operation {
        Operation::Switchover => format!(
            "Switch the writer of {global_cluster} from {from} to {to}? Writes pause until it is done; nothing is lost."
        ),
        Operation::Failover => {
            progress.message(&format!(
                "warning: a failover promotes {to} without waiting for replication: writes committed in {from} that had not reached {to} (typically the last second or so) are lost. If {from} is healthy, `deploy switchover --to {to}` loses nothing."
            ));
            format!("Fail over {global_cluster} from {from} to {to}, ALLOWING DATA LOSS?")
        }
    };
    if !confirm.confirm(&question) {
        return Err(Refused::NotConfirmed.into());
    }

    let started = Instant::now();
    let rds = aws.rds(to);
    // AWS wants the target by ARN "so that Aurora can locate the cluster in its Region"
    // (FailoverGlobalCluster API reference).
    match operation {
        Operation::Switchover => {
            rds.switchover_global_cluster()
                .global_cluster_identifier(&global_cluster)
                .target_db_cluster_identifier(&target.cluster_arn)
                .send()
                .await
                .map_err(crate::aws::api_error)
                .context("SwitchoverGlobalCluster")?;
        }
        Operation::Failover => {
            rds.failover_global_cluster()
                .global_cluster_identifier(&global_cluster)
                .target_db_cluster_identifier(&target.cluster_arn)
                .allow_data_loss(true)
                .send()
                .await
                .map_err(crate::aws::api_error)
                .context("FailoverGlobalCluster")?;
        }
    }
    progress.message(&format!(
        "{operation} of {global_cluster} from {from} to {to} started"
    ));

    let wanted = WriterMove {
        global_cluster: &global_cluster,
        to,
        forwarding: forwarding_regions(environment, &before, operation, to),
    };
    let after = topology::wait_for_writer(aws, &wanted, progress, aws.poll_interval(), timeout)
        .await
        .with_context(|| {
            format!("the {operation} to {to} did not finish in time; it may still go on in RDS (`deploy status` shows where it is)")
        })?;
    let seconds = started.elapsed().as_secs_f64();
    // The pipeline stacks follow the writer: the replication lag alarms leave the new
    // writer's Region, and a schedule that follows the writer moves there. After a
    // failover the old writer's Region may be down: the new writer's stack first, so the
    // pipeline runs where it can.
    let writer_first = operation == Operation::Failover;
    let pipelines = pipelines::follow_writer(environment, aws, to, writer_first, progress).await;
    let note = (to != environment.regions.primary.region).then(|| {
        format!(
            "the live writer is {to}, not the file's primary {}. Leave the file as it is: `deploy up` keeps the live writer and changes no database stack; `deploy switchover --to {}` moves the writer back",
            environment.regions.primary.region, environment.regions.primary.region
        )
    });
    Ok(WriterChangeReport {
        environment: global_cluster,
        operation,
        from,
        to: to.to_string(),
        before,
        after,
        seconds,
        note,
        pipelines,
    })
}

/// The Regions that will be secondaries and that the file gives write forwarding. After a
/// failover the old writer's Region is left out: it may be down, and rejoins as a
/// secondary only once it is back.
fn forwarding_regions(
    environment: &Environment,
    before: &Topology,
    operation: Operation,
    to: &str,
) -> Vec<String> {
    let old_writer = before.writer().map(|w| w.region.as_str());
    environment
        .all_regions()
        .filter(|r| r.region != to && r.write_forwarding.enabled)
        .filter(|r| before.member(&r.region).is_some())
        .filter(|r| operation == Operation::Switchover || Some(r.region.as_str()) != old_writer)
        .map(|r| r.region.clone())
        .collect()
}

pub fn render_text(report: &WriterChangeReport) -> String {
    let mut out = format!(
        "{} of {}: writer moved from {} to {} in {:.1}s\n\nbefore ({})\n{}\nafter ({})\n{}",
        report.operation,
        report.environment,
        report.from,
        report.to,
        report.seconds,
        report.before.status,
        report.before.render_members(),
        report.after.status,
        report.after.render_members(),
    );
    if !report.pipelines.is_empty() {
        out.push_str("\npipeline (follows the writer: replication lag alarms, schedule)\n");
        for moved in &report.pipelines {
            let schedule = moved
                .schedule
                .map(|state| format!("schedule {state:<8}  "))
                .unwrap_or_default();
            let line = match &moved.error {
                None => format!(
                    "  {:<15} {:<8} {schedule}{}",
                    moved.region, moved.role, moved.result
                ),
                Some(error) => format!(
                    "  {:<15} {:<8} unchanged: {error}; `deploy up` sets it again",
                    moved.region, moved.role
                ),
            };
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    if let Some(note) = &report.note {
        out.push_str(&format!("\nnote: {note}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::Member;

    fn topology(writer: &str) -> Topology {
        let member = |region: &str| Member {
            region: region.into(),
            cluster_arn: format!("arn:aws:rds:{region}:123456789012:cluster:c-{region}"),
            is_writer: region == writer,
            write_forwarding: None,
        };
        Topology {
            global_cluster: "book-reviews-local".into(),
            status: "available".into(),
            members: vec![member("us-east-1"), member("us-east-2")],
        }
    }

    #[test]
    fn a_switchover_waits_for_the_old_writer_to_forward_a_failover_does_not() {
        let environment =
            crate::env::load(std::path::Path::new("environments/local.yaml")).unwrap();
        let before = topology("us-east-2");
        assert_eq!(
            forwarding_regions(&environment, &before, Operation::Switchover, "us-east-1"),
            ["us-east-2"]
        );
        // After a failover the old writer's Region may be down: waiting for it would
        // last until the timeout.
        assert!(
            forwarding_regions(&environment, &before, Operation::Failover, "us-east-1").is_empty()
        );
    }

    #[test]
    fn regions_without_forwarding_in_the_file_are_not_waited_for() {
        let mut environment =
            crate::env::load(std::path::Path::new("environments/local.yaml")).unwrap();
        environment.regions.secondary[0].write_forwarding.enabled = false;
        // us-east-2 becomes a secondary, but the file gives it no forwarding.
        assert!(forwarding_regions(
            &environment,
            &topology("us-east-2"),
            Operation::Switchover,
            "us-east-1"
        )
        .is_empty());
        // The old primary forwards: the file gives it forwarding (the default).
        assert_eq!(
            forwarding_regions(
                &environment,
                &topology("us-east-1"),
                Operation::Switchover,
                "us-east-2"
            ),
            ["us-east-1"]
        );
    }
}
