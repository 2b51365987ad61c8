//! The global database as it is now, read from RDS rather than from the file: after a
//! switchover or failover the writer is wherever `DescribeGlobalClusters` says it is.

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use aws_sdk_rds::error::ProvideErrorMetadata;
use serde::Serialize;

use crate::aws::AwsContext;
use crate::progress::Progress;

/// One member cluster of the global database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub region: String,
    pub cluster_arn: String,
    pub is_writer: bool,
    /// As RDS reports it (`enabled`, `enabling`, `disabled`, ...), when it does.
    pub write_forwarding: Option<String>,
}

impl Member {
    pub fn role(&self) -> &'static str {
        if self.is_writer {
            "writer"
        } else {
            "secondary"
        }
    }

    /// A secondary's write forwarding for people (nothing for the writer).
    pub fn forwarding(&self) -> String {
        match (&self.write_forwarding, self.is_writer) {
            (_, true) => String::new(),
            (Some(status), false) => format!("write forwarding {status}"),
            (None, false) => "write forwarding off".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Topology {
    pub global_cluster: String,
    pub status: String,
    pub members: Vec<Member>,
}

impl Member {
    /// The cluster's identifier, the last part of its ARN.
    pub fn cluster_id(&self) -> &str {
        self.cluster_arn.rsplit(':').next().unwrap_or_default()
    }
}

impl Topology {
    pub fn writer(&self) -> Option<&Member> {
        self.members.iter().find(|m| m.is_writer)
    }

    pub fn member(&self, region: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.region == region)
    }

    /// One line per member, the writer first, with each secondary's write forwarding.
    pub fn render_members(&self) -> String {
        let mut out = String::new();
        for member in &self.members {
            let line = format!(
                "  {:<15} {:<10} {}",
                member.region,
                member.role(),
                member.forwarding()
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

fn region_of(arn: &str) -> String {
    arn.split(':').nth(3).unwrap_or_default().to_string()
}

/// The global cluster's members, or `None` when it does not exist.
pub async fn read(
    aws: &AwsContext,
    region: &str,
    identifier: &str,
) -> anyhow::Result<Option<Topology>> {
    let response = aws
        .rds(region)
        .describe_global_clusters()
        .global_cluster_identifier(identifier)
        .send()
        .await;
    let response = match response {
        Ok(response) => response,
        Err(error) if error.code().is_some_and(|c| c.contains("NotFound")) => return Ok(None),
        Err(error) => return Err(crate::aws::api_error(error)).context("DescribeGlobalClusters"),
    };
    // The named one, not the first: moto before the plugin's fix listed them all.
    let Some(global) = response
        .global_clusters()
        .iter()
        .find(|g| g.global_cluster_identifier() == Some(identifier))
    else {
        return Ok(None);
    };
    let mut members: Vec<Member> = global
        .global_cluster_members()
        .iter()
        .map(|member| {
            let arn = member.db_cluster_arn().unwrap_or_default().to_string();
            Member {
                region: region_of(&arn),
                is_writer: member.is_writer().unwrap_or(false),
                write_forwarding: member
                    .global_write_forwarding_status()
                    .map(|s| s.as_str().to_string()),
                cluster_arn: arn,
            }
        })
        .collect();
    members.sort_by(|a, b| (!a.is_writer, &a.region).cmp(&(!b.is_writer, &b.region)));
    Ok(Some(Topology {
        global_cluster: identifier.to_string(),
        status: global.status().unwrap_or_default().to_string(),
        members,
    }))
}

/// Waits until every member cluster is `available` and every secondary that asked for
/// write forwarding has it, so the pipeline's first writes are not refused.
pub async fn wait_until_ready(
    aws: &AwsContext,
    primary_region: &str,
    identifier: &str,
    progress: &dyn Progress,
    poll: Duration,
    timeout: Duration,
) -> anyhow::Result<Topology> {
    let started = Instant::now();
    loop {
        let Some(topology) = read(aws, primary_region, identifier).await? else {
            bail!("the global cluster {identifier} does not exist");
        };
        let mut waiting = Vec::new();
        for member in &topology.members {
            let cluster_id = member.cluster_id();
            let clusters = aws
                .rds(&member.region)
                .describe_db_clusters()
                .db_cluster_identifier(cluster_id)
                .send()
                .await
                .map_err(crate::aws::api_error)
                .context("DescribeDBClusters")?;
            for cluster in clusters.db_clusters() {
                let status = cluster.status().unwrap_or_default();
                if status != "available" {
                    waiting.push(format!("{cluster_id} is {status}"));
                }
                let requested = cluster.global_write_forwarding_requested().unwrap_or(false);
                let forwarding = cluster
                    .global_write_forwarding_status()
                    .map(|s| s.as_str().to_string());
                if requested
                    && !member.is_writer
                    && forwarding.as_deref().is_some_and(|s| s != "enabled")
                {
                    waiting.push(format!(
                        "write forwarding of {cluster_id} is {}",
                        forwarding.unwrap_or_default()
                    ));
                }
            }
        }
        if waiting.is_empty() {
            return Ok(topology);
        }
        if started.elapsed() > timeout {
            bail!(
                "the global database is not ready after {}s: {}",
                timeout.as_secs(),
                waiting.join("; ")
            );
        }
        progress.message(&format!(
            "waiting for the global database: {}",
            waiting.join("; ")
        ));
        tokio::time::sleep(poll).await;
    }
}

/// What a move of the writer waits for.
pub struct WriterMove<'a> {
    pub global_cluster: &'a str,
    /// The Region that becomes the writer. Every call goes to its endpoint: after a
    /// failover the old writer's Region may not answer at all.
    pub to: &'a str,
    /// Secondaries that must report write forwarding `enabled` before the move counts as done.
    pub forwarding: Vec<String>,
}

/// Polls until the global cluster is `available` with the target as its writer, the
/// target cluster is `available`, and every listed secondary forwards writes.
pub async fn wait_for_writer(
    aws: &AwsContext,
    wanted: &WriterMove<'_>,
    progress: &dyn Progress,
    poll: Duration,
    timeout: Duration,
) -> anyhow::Result<Topology> {
    let started = Instant::now();
    let mut last_report = String::new();
    loop {
        let Some(topology) = read(aws, wanted.to, wanted.global_cluster).await? else {
            bail!(
                "the global cluster {} does not exist",
                wanted.global_cluster
            );
        };
        let mut waiting = Vec::new();
        if topology.status != "available" {
            waiting.push(format!("the global cluster is {}", topology.status));
        }
        match topology.writer() {
            Some(writer) if writer.region == wanted.to => {
                let clusters = aws
                    .rds(wanted.to)
                    .describe_db_clusters()
                    .db_cluster_identifier(writer.cluster_id())
                    .send()
                    .await
                    .map_err(crate::aws::api_error)
                    .context("DescribeDBClusters")?;
                for cluster in clusters.db_clusters() {
                    let status = cluster.status().unwrap_or_default();
                    if status != "available" {
                        waiting.push(format!(
                            "the new writer {} is {status}",
                            writer.cluster_id()
                        ));
                    }
                }
            }
            Some(writer) => waiting.push(format!("the writer is still in {}", writer.region)),
            None => waiting.push("no member is the writer yet".into()),
        }
        for region in &wanted.forwarding {
            match topology.member(region) {
                Some(member) if member.is_writer => {}
                Some(member) => {
                    let status = member.write_forwarding.as_deref().unwrap_or("not reported");
                    if status != "enabled" {
                        waiting.push(format!("write forwarding in {region} is {status}"));
                    }
                }
                None => waiting.push(format!("{region} is not a member")),
            }
        }
        if waiting.is_empty() {
            return Ok(topology);
        }
        let report = waiting.join("; ");
        if started.elapsed() > timeout {
            bail!("not settled after {}s: {report}", timeout.as_secs());
        }
        // On AWS this takes minutes: one line per change, not one per poll.
        if report != last_report {
            progress.message(&format!("waiting: {report}"));
            last_report = report;
        }
        tokio::time::sleep(poll).await;
    }
}
