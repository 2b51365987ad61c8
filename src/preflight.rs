//! Checks before anything is created: credentials resolve, each VPC exists in its
//! Region, its subnets span at least two Availability Zones, the engine version exists
//! in every Region, and no resource of ours already exists outside our stacks. What it
//! discovers (subnets, route tables) feeds the network stacks' parameters.

use std::collections::{BTreeSet, HashMap};

use anyhow::{bail, Context as _};
use aws_sdk_ec2::types::Filter;
use aws_sdk_rds::error::ProvideErrorMetadata;

use crate::aws::AwsContext;
use crate::env::{Environment, RegionSettings};
use crate::plan::Discovery;

/// What preflight found, per Region.
pub type Discovered = HashMap<(String, Discovery), Vec<String>>;

fn vpc_filter(vpc_id: &str) -> Filter {
    Filter::builder().name("vpc-id").values(vpc_id).build()
}

/// Runs every check; all problems are reported together.
pub async fn preflight(environment: &Environment, aws: &AwsContext) -> anyhow::Result<Discovered> {
    aws.check_credentials().await?;
    let mut checks = tokio::task::JoinSet::new();
    for (index, settings) in environment.all_regions().enumerate() {
        let field = if index == 0 {
            "regions.primary".to_string()
        } else {
            format!("regions.secondary[{}]", index - 1)
        };
        let aws = aws.clone();
        let settings = settings.clone();
        let engine_version = environment.database.engine_version.clone();
        checks.spawn(async move {
            let result = check_region(&aws, &settings, &engine_version).await;
            (field, settings.region.clone(), result)
        });
    }
    let mut discovered = Discovered::new();
    let mut problems = Vec::new();
    while let Some(joined) = checks.join_next().await {
        let (field, region, result) = joined.context("a preflight task panicked")?;
        match result {
            Ok(found) => {
                for (what, values) in found {
                    discovered.insert((region.clone(), what), values);
                }
            }
            Err(error) => problems.push(format!("{field} ({region}): {error:#}")),
        }
    }
    if let Err(error) = check_collisions(environment, aws).await {
        problems.push(format!("{error:#}"));
    }
    if !problems.is_empty() {
        problems.sort();
        bail!(
            "preflight found problems before anything was created:\n  {}",
            problems.join("\n  ")
        );
    }
    Ok(discovered)
}

async fn check_region(
    aws: &AwsContext,
    settings: &RegionSettings,
    engine_version: &str,
) -> anyhow::Result<Vec<(Discovery, Vec<String>)>> {
    let ec2 = aws.ec2(&settings.region);
    let vpcs = ec2.describe_vpcs().vpc_ids(&settings.vpc_id).send().await;
    match vpcs {
        Ok(found) if !found.vpcs().is_empty() => {}
        Ok(_) => bail!("VPC {} does not exist", settings.vpc_id),
        Err(error) if error.code().is_some_and(|c| c.contains("NotFound")) => {
            bail!("VPC {} does not exist", settings.vpc_id)
        }
        Err(error) => return Err(crate::aws::api_error(error)).context("DescribeVpcs"),
    }

    let subnets = match &settings.subnet_ids {
        Some(ids) => {
            ec2.describe_subnets()
                .set_subnet_ids(Some(ids.clone()))
                .send()
                .await
        }
        None => {
            ec2.describe_subnets()
                .filters(vpc_filter(&settings.vpc_id))
                .send()
                .await
        }
    }
    .map_err(crate::aws::api_error)
    .context("DescribeSubnets")?;
    let mut found = Vec::new();
    for subnet in subnets.subnets() {
        if subnet.vpc_id() != Some(settings.vpc_id.as_str()) {
            bail!(
                "subnet {} is not in VPC {}",
                subnet.subnet_id().unwrap_or_default(),
                settings.vpc_id
            );
        }
        found.push(FoundSubnet {
            id: subnet.subnet_id().unwrap_or_default().to_string(),
            zone: subnet.availability_zone().unwrap_or_default().to_string(),
            public: subnet.map_public_ip_on_launch().unwrap_or(false),
        });
    }
    let subnet_ids = if settings.subnet_ids.is_some() {
        // The file's choice stands, but an interface endpoint takes one subnet per zone.
        let mut zones = BTreeSet::new();
        for subnet in &found {
            if !zones.insert(subnet.zone.clone()) {
                bail!(
                    "two of the listed subnets are in {}; the Secrets Manager endpoint takes one subnet per Availability Zone",
                    subnet.zone
                );
            }
        }
        let mut ids: Vec<String> = found.iter().map(|s| s.id.clone()).collect();
        ids.sort();
        ids
    } else {
        one_per_zone(found)
    };
    if subnet_ids.len() < 2 {
        bail!(
            "the database needs subnets in at least two Availability Zones; VPC {} has subnets in {} zone(s)",
            settings.vpc_id,
            subnet_ids.len()
        );
    }

    let route_tables = ec2
        .describe_route_tables()
        .filters(vpc_filter(&settings.vpc_id))
        .send()
        .await
        .map_err(crate::aws::api_error)
        .context("DescribeRouteTables")?;
    let mut route_table_ids: Vec<String> = route_tables
        .route_tables()
        .iter()
        .filter_map(|t| t.route_table_id().map(str::to_string))
        .collect();
    route_table_ids.sort();

    let versions = aws
        .rds(&settings.region)
        .describe_db_engine_versions()
        .engine("aurora-mysql")
        .engine_version(engine_version)
        .send()
        .await
        .map_err(crate::aws::api_error)
        .context("DescribeDBEngineVersions")?;
    if versions.db_engine_versions().is_empty() {
        bail!(
            "Aurora MySQL {engine_version} is not available in {}",
            settings.region
        );
    }

    Ok(vec![
        (Discovery::SubnetIds, subnet_ids),
        (Discovery::RouteTableIds, route_table_ids),
    ])
}

/// A subnet as preflight sees it.
#[derive(Debug, Clone)]
struct FoundSubnet {
    id: String,
    zone: String,
    public: bool,
}

/// One subnet per Availability Zone, as interface endpoints require: private subnets
/// first (nothing here should face the internet), then the lowest ID, so the choice is
/// the same on every run.
fn one_per_zone(mut subnets: Vec<FoundSubnet>) -> Vec<String> {
    subnets.sort_by(|a, b| (&a.zone, a.public, &a.id).cmp(&(&b.zone, b.public, &b.id)));
    subnets.dedup_by(|later, first| later.zone == first.zone);
    let mut ids: Vec<String> = subnets.into_iter().map(|s| s.id).collect();
    ids.sort();
    ids
}

/// A global cluster with our name that our primary database stack does not own belongs
/// to someone else: creating ours would fail half-way through wave 2.
async fn check_collisions(environment: &Environment, aws: &AwsContext) -> anyhow::Result<()> {
    let primary = &environment.regions.primary.region;
    let identifier = environment.name_prefix();
    let found = aws
        .rds(primary)
        .describe_global_clusters()
        .global_cluster_identifier(&identifier)
        .send()
        .await;
    let exists = match found {
        Ok(output) => !output.global_clusters().is_empty(),
        Err(error) if error.code().is_some_and(|c| c.contains("NotFound")) => false,
        Err(error) => return Err(crate::aws::api_error(error)).context("DescribeGlobalClusters"),
    };
    if !exists {
        return Ok(());
    }
    let stack = crate::plan::stack_name(environment, crate::plan::Part::Database, primary);
    let owned = aws
        .cloudformation(primary)
        .describe_stack_resource()
        .stack_name(&stack)
        .logical_resource_id("GlobalCluster")
        .send()
        .await
        .is_ok();
    if !owned {
        bail!(
            "a global cluster named {identifier} already exists and is not managed by stack {stack}; choose another application or environment name"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subnet(id: &str, zone: &str, public: bool) -> FoundSubnet {
        FoundSubnet {
            id: id.into(),
            zone: zone.into(),
            public,
        }
    }

    #[test]
    fn discovery_takes_one_subnet_per_zone_private_first() {
        let chosen = one_per_zone(vec![
            subnet("subnet-0003", "us-east-1a", true),
            subnet("subnet-0009", "us-east-1a", false),
            subnet("subnet-0002", "us-east-1b", false),
            subnet("subnet-0001", "us-east-1b", false),
            subnet("subnet-0005", "us-east-1c", true),
        ]);
        assert_eq!(chosen, ["subnet-0001", "subnet-0005", "subnet-0009"]);
    }
}
