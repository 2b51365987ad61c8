//! Which endpoint of this Region's cluster takes the functions' writes, decided when they
//! connect, from the role RDS says the cluster has now.
//!
//! A global database's members change roles without the pipeline stack changing: `deploy
//! switchover`/`failover`, the console, or a failover while the old writer's Region is down
//! (when nothing can re-point that Region's functions). So the functions are given their
//! cluster's identifier, not an endpoint, and ask RDS (AWS: "Connecting to Amazon Aurora
//! Global Database"; "Using write forwarding in an Aurora MySQL global database"):
//! - the writer cluster: its cluster (writer) endpoint;
//! - a secondary with global write forwarding: its reader endpoint, each session setting
//!   `aurora_replica_read_consistency` (writes are not forwarded without it). A secondary's
//!   own writer endpoint is inactive;
//! - a secondary without write forwarding, or a cluster that left the global database:
//!   nowhere; writing there would fail or split the data.
//!
//! The answer is kept for [`RESOLVED_FOR`] and dropped when a connection fails, so after a
//! switchover the next connection follows the new roles.

use std::time::{Duration, Instant};

use aws_sdk_rds::error::DisplayErrorContext;

use crate::db::Consistency;
use crate::error::{Error, Result};

/// How long an answer is trusted without a failure: Aurora's DNS records live 5 s, a
/// switchover takes a minute or more; two describe calls per minute per instance are cheap.
pub const RESOLVED_FOR: Duration = Duration::from_secs(30);

/// What the cluster is for this function now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The global database's writer (or a cluster outside any global database).
    Writer,
    /// A secondary that forwards writes to the writer.
    ForwardingSecondary,
}

/// Where to connect, and what the session must set there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteTarget {
    pub host: String,
    pub port: u16,
    pub role: Role,
}

/// This Region's cluster of a global database, resolved through the RDS API.
pub struct ClusterEndpoints {
    rds: aws_sdk_rds::Client,
    cluster_id: String,
    global_cluster_id: String,
    cached: tokio::sync::Mutex<Option<(WriteTarget, Instant)>>,
}

impl ClusterEndpoints {
    pub fn new(
        rds: aws_sdk_rds::Client,
        cluster_id: impl Into<String>,
        global_cluster_id: impl Into<String>,
    ) -> Self {
        ClusterEndpoints {
            rds,
            cluster_id: cluster_id.into(),
            global_cluster_id: global_cluster_id.into(),
            cached: Default::default(),
        }
    }

    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// The target for writes: the kept answer while it is fresh, else RDS's.
    pub async fn resolve(&self) -> Result<WriteTarget> {
        let mut cached = self.cached.lock().await;
        if let Some((target, at)) = cached.as_ref() {
            if at.elapsed() < RESOLVED_FOR {
                return Ok(target.clone());
            }
        }
        // Boxed: the SDK's futures are deep, and every function that connects would
        // otherwise carry them in its own future's type (rustc's layout depth limit).
        let target = Box::pin(self.describe()).await?;
        tracing::info!(cluster = %self.cluster_id, host = %target.host, port = target.port,
            role = ?target.role, "resolved the write endpoint");
        *cached = Some((target.clone(), Instant::now()));
        Ok(target)
    }

    /// Drops the kept answer: a connection to it failed, the roles may have changed.
    pub async fn forget(&self) {
        *self.cached.lock().await = None;
    }

    async fn describe(&self) -> Result<WriteTarget> {
        let unavailable = |why: String| Error::ClusterRole {
            cluster: self.cluster_id.clone(),
            why,
            transient: true,
        };
        let refused = |why: String| Error::ClusterRole {
            cluster: self.cluster_id.clone(),
            why,
            transient: false,
        };
        let globals = self
            .rds
            .describe_global_clusters()
            .global_cluster_identifier(&self.global_cluster_id)
            .send()
            .await
            .map_err(|e| {
                unavailable(format!(
                    "DescribeGlobalClusters {}: {}",
                    self.global_cluster_id,
                    DisplayErrorContext(e)
                ))
            })?;
        let global = globals
            .global_clusters()
            .iter()
            .find(|g| g.global_cluster_identifier() == Some(self.global_cluster_id.as_str()))
            .ok_or_else(|| {
                refused(format!(
                    "the global database {} does not exist",
                    self.global_cluster_id
                ))
            })?;
        let suffix = format!(":cluster:{}", self.cluster_id);
        let member = global
            .global_cluster_members()
            .iter()
            .find(|m| m.db_cluster_arn().is_some_and(|arn| arn.ends_with(&suffix)))
            .ok_or_else(|| {
                refused(format!(
                    "it is not a member of the global database {}: writing to it would not reach the other Regions",
                    self.global_cluster_id
                ))
            })?;
        // While the writer moves, neither old nor new role can be trusted: wait (the state
        // machine retries DatabaseUnavailable).
        let status = global.status().unwrap_or_default();
        if status != "available" {
            return Err(unavailable(format!(
                "the global database {} is {status}",
                self.global_cluster_id
            )));
        }
        let role = if member.is_writer().unwrap_or(false) {
            Role::Writer
        } else {
            match member
                .global_write_forwarding_status()
                .map(|s| s.as_str().to_string())
                .as_deref()
            {
                Some("enabled") => Role::ForwardingSecondary,
                Some("enabling") => {
                    return Err(unavailable("its write forwarding is being enabled".into()))
                }
                other => {
                    return Err(refused(format!(
                        "it is a secondary of {} without write forwarding ({}): run ingestion in the writer's Region, or enable write forwarding for this Region in the environment file",
                        self.global_cluster_id,
                        other.unwrap_or("not reported")
                    )))
                }
            }
        };
        let clusters = self
            .rds
            .describe_db_clusters()
            .db_cluster_identifier(&self.cluster_id)
            .send()
            .await
            .map_err(|e| {
                unavailable(format!(
                    "DescribeDBClusters {}: {}",
                    self.cluster_id,
                    DisplayErrorContext(e)
                ))
            })?;
        let cluster = clusters
            .db_clusters()
            .first()
            .ok_or_else(|| refused("DescribeDBClusters does not know it".into()))?;
        let host = match role {
            Role::Writer => cluster.endpoint(),
            Role::ForwardingSecondary => cluster.reader_endpoint(),
        }
        .filter(|h| !h.is_empty())
        .ok_or_else(|| unavailable(format!("RDS reports no endpoint for its role ({role:?})")))?;
        let port = cluster
            .port()
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(3306);
        Ok(WriteTarget {
            host: host.to_string(),
            port,
            role,
        })
    }
}

/// The consistency a forwarding session asks for: the configured one, else `SESSION` (a
/// session reads its own writes, which the batch ledger relies on).
pub fn forwarding_consistency(configured: Option<Consistency>) -> Consistency {
    configured.unwrap_or(Consistency::Session)
}
