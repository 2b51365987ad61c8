//! Checks before anything is created: credentials resolve, each VPC exists in its
//! Region with DNS on, its subnets span at least two Availability Zones, no VPC endpoint
//! we would create is there already, the engine version exists in every Region (and a
//! warning when it is past its standard support), and no resource of ours already exists
//! outside our stacks (a global cluster, a secret or a key alias left by an earlier
//! destroy). What it discovers (subnets, route tables) feeds the network stacks'
//! parameters.

use std::collections::{BTreeSet, HashMap};

use anyhow::{bail, Context as _};
use aws_sdk_ec2::types::Filter;
use aws_sdk_rds::error::ProvideErrorMetadata;

use crate::aws::AwsContext;
use crate::env::{Environment, RegionSettings, VpcEndpointService};
use crate::plan::{stack_name, Discovery, Function, Part};

/// What preflight found, per Region.
pub type Discovered = HashMap<(String, Discovery), Vec<String>>;

/// What preflight found: the values the stacks need, and what deserves a look but does not
/// stop the deploy.
#[derive(Debug, Default)]
pub struct Findings {
    pub discovered: Discovered,
    pub warnings: Vec<String>,
}

fn vpc_filter(vpc_id: &str) -> Filter {
    Filter::builder().name("vpc-id").values(vpc_id).build()
}

/// Runs every check; all problems are reported together.
pub async fn preflight(environment: &Environment, aws: &AwsContext) -> anyhow::Result<Findings> {
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
        let network_stack = stack_name(environment, Part::Network, &settings.region);
        let dbprocess = Function::Dbprocess.function_name(environment);
        let reserved = environment.pipeline.max_concurrency;
        checks.spawn(async move {
            let mut problems = Vec::new();
            let result = check_region(&aws, &settings, &engine_version).await;
            if let Err(error) = check_endpoints(&aws, &settings, &field, &network_stack).await {
                problems.push(format!("{error:#}"));
            }
            if let Err(error) =
                check_concurrency(&aws, &settings.region, &dbprocess, reserved).await
            {
                problems.push(format!("{error:#}"));
            }
            (field, settings.region.clone(), result, problems)
        });
    }
    let mut findings = Findings::default();
    let mut problems = Vec::new();
    while let Some(joined) = checks.join_next().await {
        let (field, region, result, more) = joined.context("a preflight task panicked")?;
        match result {
            Ok(found) => {
                for (what, values) in found {
                    findings.discovered.insert((region.clone(), what), values);
                }
            }
            Err(error) => problems.push(format!("{field} ({region}): {error:#}")),
        }
        problems.extend(more.into_iter().map(|p| format!("{field} ({region}): {p}")));
    }
    if let Err(error) = check_collisions(environment, aws).await {
        problems.push(format!("{error:#}"));
    }
    problems.extend(check_leftovers(environment, aws).await?);
    findings
        .warnings
        .extend(check_support(environment, aws).await);
    if !problems.is_empty() {
        problems.sort();
        bail!(
            "preflight found problems before anything was created:\n  {}",
            problems.join("\n  ")
        );
    }
    Ok(findings)
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
    // Interface endpoints with private DNS (Secrets Manager, RDS) need both (AWS
    // PrivateLink guide, "Access an AWS service using an interface VPC endpoint": DNS
    // hostnames and DNS resolution must be enabled for the VPC).
    let mut dns_off = Vec::new();
    for attribute in [
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport,
        aws_sdk_ec2::types::VpcAttributeName::EnableDnsHostnames,
    ] {
        let answer = ec2
            .describe_vpc_attribute()
            .vpc_id(&settings.vpc_id)
            .attribute(attribute.clone())
            .send()
            .await
            .map_err(crate::aws::api_error)
            .context("DescribeVpcAttribute")?;
        let on = match attribute {
            aws_sdk_ec2::types::VpcAttributeName::EnableDnsSupport => answer.enable_dns_support(),
            _ => answer.enable_dns_hostnames(),
        }
        .and_then(|v| v.value())
        .unwrap_or(false);
        if !on {
            dns_off.push(attribute.as_str().to_string());
        }
    }
    if !dns_off.is_empty() {
        let flags: Vec<String> = dns_off
            .iter()
            .map(|a| {
                format!(
                    "aws ec2 modify-vpc-attribute --vpc-id {} --{} '{{\"Value\":true}}' --region {}",
                    settings.vpc_id,
                    if a == "enableDnsSupport" {
                        "enable-dns-support"
                    } else {
                        "enable-dns-hostnames"
                    },
                    settings.region
                )
            })
            .collect();
        bail!(
            "VPC {} has {} off; the functions reach Secrets Manager and RDS through interface endpoints with private DNS, which need DNS support and DNS hostnames on. Turn them on: {}",
            settings.vpc_id,
            dns_off.join(" and "),
            flags.join("; ")
        );
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

/// dbprocess reserves `pipeline.max_concurrency` of the Region's Lambda concurrency, and
/// Lambda refuses a reservation that leaves under 100 unreserved ("You can reserve up to
/// the Unreserved account concurrency value minus 100": Lambda developer guide,
/// "Configuring reserved concurrency"). New accounts can have a quota of 10, where every
/// reservation fails: said here, before a stack is half made.
async fn check_concurrency(
    aws: &AwsContext,
    region: &str,
    dbprocess: &str,
    reserved: u32,
) -> anyhow::Result<()> {
    let lambda = aws.lambda(region);
    let settings = lambda
        .get_account_settings()
        .send()
        .await
        .map_err(crate::aws::api_error)
        .context("GetAccountSettings")?;
    let Some(limit) = settings.account_limit() else {
        return Ok(());
    };
    let unreserved = i64::from(limit.unreserved_concurrent_executions().unwrap_or(0));
    // An earlier deploy's reservation is already counted out of the unreserved pool.
    let current = lambda
        .get_function_concurrency()
        .function_name(dbprocess)
        .send()
        .await
        .ok()
        .and_then(|c| c.reserved_concurrent_executions())
        .map(i64::from)
        .unwrap_or(0);
    let more = i64::from(reserved) - current;
    if unreserved - more >= 100 {
        return Ok(());
    }
    let most = unreserved + current - 100;
    let lower = if most >= 1 {
        format!(" or lower pipeline.max_concurrency to {most}")
    } else {
        String::new()
    };
    bail!(
        "Lambda has {unreserved} of its {} concurrent executions unreserved here, and keeps 100 of them unreserved; dbprocess reserves pipeline.max_concurrency ({reserved}). Ask for a higher quota (Service Quotas: AWS Lambda, Concurrent executions){lower}",
        limit.concurrent_executions()
    )
}

/// The VPC endpoints the network stack would create must not exist already, unless the file
/// reuses them (`reuse_vpc_endpoints`); one it reuses must exist. Ours (from an earlier
/// deploy of this environment) do not count.
async fn check_endpoints(
    aws: &AwsContext,
    settings: &RegionSettings,
    field: &str,
    network_stack: &str,
) -> anyhow::Result<()> {
    let ours: BTreeSet<String> = aws
        .cloudformation(&settings.region)
        .describe_stack_resources()
        .stack_name(network_stack)
        .send()
        .await
        .map(|found| {
            found
                .stack_resources()
                .iter()
                .filter_map(|r| r.physical_resource_id().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let endpoints = aws
        .ec2(&settings.region)
        .describe_vpc_endpoints()
        .filters(vpc_filter(&settings.vpc_id))
        .send()
        .await
        .map_err(crate::aws::api_error)
        .context("DescribeVpcEndpoints")?;
    let mut problems = Vec::new();
    for service in VpcEndpointService::ALL {
        let name = format!("com.amazonaws.{}.{}", settings.region, service.as_str());
        let theirs: Vec<&aws_sdk_ec2::types::VpcEndpoint> = endpoints
            .vpc_endpoints()
            .iter()
            .filter(|e| e.service_name() == Some(name.as_str()))
            .filter(|e| {
                !matches!(
                    e.state()
                        .map(|s| s.as_str().to_ascii_lowercase())
                        .as_deref(),
                    Some("deleted" | "deleting" | "rejected" | "failed")
                )
            })
            .filter(|e| e.vpc_endpoint_id().is_some_and(|id| !ours.contains(id)))
            // A gateway endpoint always routes; an interface one collides only with private DNS.
            .filter(|e| service == VpcEndpointService::S3 || e.private_dns_enabled() == Some(true))
            .collect();
        let reused = settings.reuse_vpc_endpoints.contains(&service);
        match (theirs.first(), reused) {
            (Some(endpoint), false) => {
                let id = endpoint.vpc_endpoint_id().unwrap_or_default();
                let why = if service == VpcEndpointService::S3 {
                    format!(
                        "a second S3 gateway endpoint on the same route tables fails with RouteAlreadyExists (its route tables: {})",
                        endpoint.route_table_ids().join(", ")
                    )
                } else {
                    "a second one with private DNS fails (the private DNS name is taken)"
                        .to_string()
                };
                problems.push(format!(
                    "VPC {} already has an endpoint for {} ({id}); {why}. Reuse it: add `reuse_vpc_endpoints: [{}]` to {field}",
                    settings.vpc_id,
                    service.title(),
                    service.as_str()
                ));
            }
            (None, true) => problems.push(format!(
                "{field}.reuse_vpc_endpoints names {}, but VPC {} has no endpoint for {} to reuse",
                service.as_str(),
                settings.vpc_id,
                service.title()
            )),
            _ => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        bail!("{}", problems.join("\n  "))
    }
}

/// A secret or key alias with our fixed names that no stack of ours owns: an earlier
/// destroy retained it (safety.data_on_delete: retain) or scheduled it for deletion, and
/// creating ours would fail half-way through the database wave.
async fn check_leftovers(
    environment: &Environment,
    aws: &AwsContext,
) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    let primary = &environment.regions.primary.region;
    let stack = stack_name(environment, Part::Database, primary);
    // The master secret and the application user's (templates/database-primary.yaml.j2).
    for (secret, logical_id) in [
        (environment.master_secret_name(), "MasterSecret"),
        (environment.app_secret_name(), "AppSecret"),
    ] {
        let owned_secret = physical_id(aws, primary, &stack, logical_id).await;
        match aws
            .secrets_manager(primary)
            .describe_secret()
            .secret_id(&secret)
            .send()
            .await
        {
            Ok(found) if owned_secret.as_deref() != found.arn() => {
                if found.deleted_date().is_some() {
                    problems.push(format!(
                        "the secret {secret} ({primary}) is scheduled for deletion by an earlier destroy, and its name is taken until then: restore it (`aws secretsmanager restore-secret --secret-id {secret} --region {primary}`) or delete it now (`aws secretsmanager delete-secret --secret-id {secret} --force-delete-without-recovery --region {primary}`)"
                    ));
                } else {
                    problems.push(format!(
                        "the secret {secret} ({primary}) exists outside this environment's stacks (an earlier destroy retained it): delete it (`aws secretsmanager delete-secret --secret-id {secret} --force-delete-without-recovery --region {primary}`) or choose another environment name"
                    ));
                }
            }
            Ok(_) => {}
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_resource_not_found_exception()) => {}
            Err(error) => {
                return Err(crate::aws::api_error(error))
                    .context(format!("DescribeSecret {secret}"))
            }
        }
    }
    let alias = format!(
        "alias/{}/{}/aurora",
        environment.application, environment.environment
    );
    for settings in environment.all_regions() {
        let region = &settings.region;
        let stack = stack_name(environment, Part::Database, region);
        let aliases = aws
            .kms(region)
            .list_aliases()
            .send()
            .await
            .map_err(crate::aws::api_error)
            .context("ListAliases")?;
        let Some(found) = aliases
            .aliases()
            .iter()
            .find(|a| a.alias_name() == Some(alias.as_str()))
        else {
            continue;
        };
        let owned = physical_id(aws, region, &stack, "DatabaseKeyAlias").await;
        if owned.as_deref() != Some(alias.as_str()) {
            problems.push(format!(
                "the KMS alias {alias} ({region}) exists outside this environment's stacks (left by an earlier destroy, its key {}): delete the alias (`aws kms delete-alias --alias-name {alias} --region {region}`) or choose another environment name",
                found.target_key_id().unwrap_or("unknown")
            ));
        }
    }
    Ok(problems)
}

/// The physical id of a resource of a stack, if the stack and the resource exist.
async fn physical_id(aws: &AwsContext, region: &str, stack: &str, logical: &str) -> Option<String> {
    aws.cloudformation(region)
        .describe_stack_resource()
        .stack_name(stack)
        .logical_resource_id(logical)
        .send()
        .await
        .ok()?
        .stack_resource_detail()?
        .physical_resource_id()
        .map(str::to_string)
}

/// A warning when the engine's major version is past the end of Aurora's standard support
/// (DescribeDBMajorEngineVersions; RDS Extended Support then charges per vCPU-hour: AWS
/// user guide, "Viewing support dates for engine versions in Amazon RDS Extended Support").
async fn check_support(environment: &Environment, aws: &AwsContext) -> Vec<String> {
    let version = &environment.database.engine_version;
    let major = version.split(".mysql_aurora").next().unwrap_or(version);
    let region = &environment.regions.primary.region;
    let Ok(found) = aws
        .rds(region)
        .describe_db_major_engine_versions()
        .engine("aurora-mysql")
        .major_engine_version(major)
        .send()
        .await
    else {
        // Only a warning: an answer that cannot be had does not stop the deploy.
        return Vec::new();
    };
    let now = std::time::SystemTime::now();
    let mut warnings = Vec::new();
    for lifecycle in found
        .db_major_engine_versions()
        .iter()
        .flat_map(|v| v.supported_engine_lifecycles())
    {
        if lifecycle.lifecycle_support_name().map(|n| n.as_str())
            != Some("open-source-rds-standard-support")
        {
            continue;
        }
        let Some(end) = lifecycle.lifecycle_support_end_date() else {
            continue;
        };
        if std::time::SystemTime::try_from(*end).is_ok_and(|end| end < now) {
            warnings.push(format!(
                "Aurora MySQL {major} ({version}, database.engine_version) left standard support on {}: RDS Extended Support charges apply until you upgrade to a supported major version",
                end.fmt(aws_smithy_types::date_time::Format::DateTime)
                    .map(|d| d[..10].to_string())
                    .unwrap_or_default()
            ));
        }
    }
    warnings
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
