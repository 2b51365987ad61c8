//! Removing everything `deploy up` made, in reverse order, safely (`deploy destroy`, which
//! asks first).
//!
//! Deletion protection is turned off only when the command was told to (`--force`, and
//! the environment's name typed). Buckets are emptied (every version and delete marker) only where
//! the environment says their data may be deleted. Members leave the global cluster in
//! an order RDS accepts. Known transient ordering errors are retried with backoff, and a
//! second run, or a run on a half-deployed environment, succeeds.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};

use crate::aws::AwsContext;
use crate::cloudformation::{StackClient, StackError};
use crate::env::{DataOnDelete, Environment};
use crate::plan::{Part, StackPlan};
use crate::progress::Progress;
use crate::s3::empty_bucket;
use crate::topology;

/// Deletes every stack of the environment, wave by wave in reverse, after emptying the
/// buckets that go with their stacks and turning deletion protection off where the file
/// has it on (the caller has confirmed that).
pub async fn destroy(
    environment: &Environment,
    aws: &AwsContext,
    progress: Arc<dyn Progress>,
) -> anyhow::Result<()> {
    let plan = StackPlan::for_environment(environment);
    let poll = aws.poll_interval();
    let name = environment.name_prefix();

    let live = topology::read(aws, &environment.regions.primary.region, &name).await?;
    if environment.safety.deletion_protection {
        turn_off_deletion_protection(aws, environment, live.as_ref(), progress.as_ref()).await?;
    }

    // Empty the buckets that are deleted with their stacks: the assets buckets always
    // (they hold only our zips), the data buckets only when their data may go.
    let mut emptied: std::collections::HashMap<String, Vec<String>> = Default::default();
    for (_, stack) in plan.stacks() {
        let outputs: &[&str] = match stack.part {
            Part::Assets => &["AssetsBucketName"],
            // The access logs are kept exactly as long as the data they describe.
            Part::Pipeline if environment.safety.data_on_delete == DataOnDelete::Delete => {
                &["DataBucketName", "AccessLogsBucketName"]
            }
            _ => continue,
        };
        let client = StackClient::new(
            aws.cloudformation(&stack.region),
            &stack.region,
            poll,
            progress.clone(),
        );
        let Some(description) = client.describe(&stack.name).await? else {
            continue;
        };
        if let Some(data) = description.outputs.get("DataBucketName") {
            if outputs.contains(&"DataBucketName") {
                stop_access_logging(aws, &stack.region, data).await?;
            }
        }
        for bucket in outputs.iter().filter_map(|o| description.outputs.get(*o)) {
            emptied
                .entry(stack.name.clone())
                .or_default()
                .push(bucket.clone());
            let removed = empty_bucket(aws, &stack.region, bucket).await?;
            progress.message(&format!(
                "{}: emptied {bucket} ({removed} object versions)",
                stack.region
            ));
        }
    }

    // After a switchover the file's primary is not the writer, and RDS refuses to delete
    // the global cluster (in the primary's stack) while the writer is still a member:
    // let every member leave first, readers before the writer.
    if let Some(topology) = &live {
        if topology
            .writer()
            .is_some_and(|w| w.region != environment.regions.primary.region)
        {
            detach_members(aws, topology, progress.as_ref()).await?;
        }
    }

    for wave in plan.waves.iter().rev() {
        progress.message(&format!(
            "deleting wave {}: {}",
            wave.number, wave.description
        ));
        let mut deleting = tokio::task::JoinSet::new();
        for stack in &wave.stacks {
            let client = StackClient::new(
                aws.cloudformation(&stack.region),
                &stack.region,
                poll,
                progress.clone(),
            );
            let stack_name = stack.name.clone();
            let progress = progress.clone();
            let buckets = emptied.get(&stack.name).cloned().unwrap_or_default();
            let (aws, region) = (aws.clone(), stack.region.clone());
            deleting.spawn(async move {
                let mut attempt = 1;
                loop {
                    let error = match delete_with_retries(&client, &stack_name, progress.as_ref(), poll).await {
                        Ok(()) => return Ok(()),
                        Err(error) => error,
                    };
                    // S3 delivers access logs up to hours late (S3 user guide, "Logging
                    // requests with server access logging": best-effort delivery), so the
                    // logs bucket can fill again after it was emptied: empty, then retry.
                    if attempt >= 3 || buckets.is_empty() || !error.to_string().contains("not empty") {
                        return Err(anyhow::Error::from(error));
                    }
                    for bucket in &buckets {
                        let removed = empty_bucket(&aws, &region, bucket).await?;
                        progress.message(&format!(
                            "{region}: {bucket} filled again ({removed} objects, late access logs); emptied, deleting {stack_name} again"
                        ));
                    }
                    attempt += 1;
                }
            });
        }
        let mut failures = Vec::new();
        while let Some(joined) = deleting.join_next().await {
            if let Err(error) = joined.context("a delete task panicked")? {
                failures.push(error.to_string());
            }
        }
        if !failures.is_empty() {
            bail!("destroy stopped: {}", failures.join("; "));
        }
    }
    progress.message(&format!("{name} is destroyed"));
    Ok(())
}

async fn turn_off_deletion_protection(
    aws: &AwsContext,
    environment: &Environment,
    live: Option<&topology::Topology>,
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    let Some(topology) = live else { return Ok(()) };
    let primary = &environment.regions.primary.region;
    aws.rds(primary)
        .modify_global_cluster()
        .global_cluster_identifier(&topology.global_cluster)
        .deletion_protection(false)
        .send()
        .await
        .map_err(crate::aws::api_error)
        .context("ModifyGlobalCluster")?;
    for member in &topology.members {
        let cluster = member.cluster_arn.rsplit(':').next().unwrap_or_default();
        aws.rds(&member.region)
            .modify_db_cluster()
            .db_cluster_identifier(cluster)
            .deletion_protection(false)
            .apply_immediately(true)
            .send()
            .await
            .map_err(crate::aws::api_error)
            .with_context(|| format!("turning off deletion protection of {cluster}"))?;
        progress.message(&format!(
            "{}: deletion protection of {cluster} is off",
            member.region
        ));
    }
    Ok(())
}

async fn detach_members(
    aws: &AwsContext,
    topology: &topology::Topology,
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    let mut members = topology.members.clone();
    members.sort_by_key(|m| m.is_writer);
    for member in members {
        aws.rds(&member.region)
            .remove_from_global_cluster()
            .global_cluster_identifier(&topology.global_cluster)
            .db_cluster_identifier(&member.cluster_arn)
            .send()
            .await
            .map_err(crate::aws::api_error)
            .with_context(|| {
                format!(
                    "removing {} from {}",
                    member.cluster_arn, topology.global_cluster
                )
            })?;
        progress.message(&format!(
            "{}: {} left the global cluster",
            member.region, member.cluster_arn
        ));
    }
    Ok(())
}

/// Failures that go away by themselves: Lambda's network interfaces hold security groups
/// for a while after the functions are deleted; a global cluster still lists a member
/// that is leaving.
fn is_transient(error: &StackError) -> bool {
    let text = error.to_string();
    [
        "dependent object",
        "has dependencies",
        "DependencyViolation",
        "still has members",
        "InvalidGlobalClusterStateFault",
        "is in use",
    ]
    .iter()
    .any(|needle| text.contains(needle))
}

async fn delete_with_retries(
    client: &StackClient,
    stack: &str,
    progress: &dyn Progress,
    poll: Duration,
) -> Result<(), StackError> {
    let mut delay = poll * 10;
    for attempt in 1.. {
        match client.delete(stack).await {
            Ok(_) => return Ok(()),
            Err(error) if is_transient(&error) && attempt < 8 => {
                progress.message(&format!("{error}; retrying in {}s", delay.as_secs()));
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(300));
            }
            Err(error) => return Err(error),
        }
    }
    unreachable!("the loop returns")
}

/// Turns the data bucket's server access logging off before it is emptied, so emptying it
/// does not write new logs into the bucket emptied next (PutBucketLogging with an empty
/// BucketLoggingStatus disables logging: S3 API reference, PutBucketLogging).
async fn stop_access_logging(aws: &AwsContext, region: &str, bucket: &str) -> anyhow::Result<()> {
    let stopped = aws
        .s3(region)
        .put_bucket_logging()
        .bucket(bucket)
        .bucket_logging_status(aws_sdk_s3::types::BucketLoggingStatus::builder().build())
        .send()
        .await;
    match stopped {
        Ok(_) => Ok(()),
        Err(error)
            if aws_sdk_s3::error::DisplayErrorContext(&error)
                .to_string()
                .contains("NoSuchBucket") =>
        {
            Ok(())
        }
        Err(error) => Err(crate::aws::api_error(error))
            .with_context(|| format!("turning off the access logs of s3://{bucket}")),
    }
}
