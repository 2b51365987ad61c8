//! The names deploy gives AWS resources, built from `application`, `environment` and the
//! Region codes (`render::context` and `plan` build the same names; a test below keeps
//! the two in step), checked against each service's rules for names.
//!
//! The schema's patterns hold `application` and `environment` to lowercase letters, digits
//! and hyphens and short enough that every name fits with the longest Region code known;
//! the length rules here stand guard should those patterns ever be loosened. What the
//! patterns let through and AWS refuses: two hyphens in a row in an RDS identifier, and a
//! KMS alias under `alias/aws/`.

use std::collections::HashSet;

use serde_json::Value;

use super::locate::FieldPath;
use super::Problem;
use crate::plan::{Function, Part};

/// The rules a derived name must follow beyond its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// DB cluster, global cluster and instance identifiers: no two hyphens in a row, no
    /// hyphen at the end
    /// (<https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html>,
    /// `API_CreateGlobalCluster.html`, `API_CreateDBInstance.html`).
    RdsIdentifier,
    /// KMS aliases: `alias/aws/` is kept for AWS managed keys
    /// (<https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html>).
    KmsAlias,
    /// Nothing beyond the length.
    Plain,
}

/// One name deploy derives, and the most characters its service takes.
#[derive(Debug)]
struct Derived {
    /// What it names, for the message: "the Aurora cluster identifier".
    resource: &'static str,
    name: String,
    limit: usize,
    kind: Kind,
}

/// The longest of `words`: its name covers the others'.
fn longest(words: impl Iterator<Item = &'static str>) -> &'static str {
    words.max_by_key(|word| word.len()).unwrap_or_default()
}

/// Every derived name for one Region (`instances` is its instance count).
fn derived(application: &str, environment: &str, region: &str, instances: u64) -> Vec<Derived> {
    let prefix = format!("{application}-{environment}");
    let part = longest(Part::ALL.iter().map(|part| part.as_str()));
    let function = longest(Function::ALL.iter().map(|function| function.as_str()));
    let function = format!("{prefix}-{function}");
    let name = |resource, name: String, limit, kind| Derived {
        resource,
        name,
        limit,
        kind,
    };
    use Kind::*;
    vec![
        name(
            "the Aurora global cluster identifier",
            prefix.clone(),
            63,
            RdsIdentifier,
        ),
        name(
            "the Aurora cluster identifier",
            format!("{prefix}-{region}"),
            63,
            RdsIdentifier,
        ),
        name(
            "the Aurora instance identifier",
            format!("{prefix}-{region}-{instances}"),
            63,
            RdsIdentifier,
        ),
        // https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
        name(
            "the CloudFormation stack name",
            format!("{prefix}-{part}-{region}"),
            128,
            Plain,
        ),
        // https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html
        name("the Lambda function name", function.clone(), 64, Plain),
        // https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html
        name(
            "the function's log group",
            format!("/aws/lambda/{function}"),
            512,
            Plain,
        ),
        // https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html
        name(
            "the state machine name",
            format!("{prefix}-pipeline"),
            80,
            Plain,
        ),
        name(
            "the state machine's log group",
            format!("/aws/vendedlogs/states/{prefix}-pipeline"),
            512,
            Plain,
        ),
        // https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html
        name(
            "the replication lag alarm name",
            format!("{prefix}-replication-lag-{region}"),
            255,
            Plain,
        ),
        // https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html
        name("the dashboard name", prefix.clone(), 255, Plain),
        name(
            "the KMS alias",
            format!("alias/{application}/{environment}/aurora"),
            256,
            KmsAlias,
        ),
        // https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html
        name(
            "the master secret's name",
            format!("{application}/{environment}/aurora-master"),
            512,
            Plain,
        ),
        name(
            "the application secret's name",
            format!("{application}/{environment}/aurora-app"),
            512,
            Plain,
        ),
    ]
}

/// `refused` holds the fields the schema refused already: nothing is derived from them.
pub fn check(value: &Value, refused: &HashSet<FieldPath>) -> Vec<Problem> {
    let field = |name: &str| {
        let refused = refused.contains(&FieldPath::root().key(name));
        value.get(name).and_then(Value::as_str).filter(|_| !refused)
    };
    let (Some(application), Some(environment)) = (field("application"), field("environment"))
    else {
        return Vec::new();
    };
    let regions = region_codes(value);
    let names: Vec<Derived> = regions
        .iter()
        .flat_map(|(code, instances)| derived(application, environment, code, *instances))
        .collect();
    // One message per rule: the name that breaks it worst (or first) stands for all.
    let mut problems: Vec<Problem> = Vec::new();
    let mut report = |field: &str, message: String, hint: &str| {
        let mut problem = Problem::at_value(FieldPath::root().key(field), message);
        problem.hint = Some(hint.into());
        problems.push(problem);
    };

    if let Some(too_long) = names
        .iter()
        .filter(|derived| derived.name.chars().count() > derived.limit)
        .max_by_key(|derived| derived.name.chars().count() - derived.limit)
    {
        let length = too_long.name.chars().count();
        report(
            "environment",
            format!(
                "{} `{}` would be {length} characters long, {} more than AWS allows ({})",
                too_long.resource,
                too_long.name,
                length - too_long.limit,
                too_long.limit
            ),
            "shorten the application or the environment name; the names deploy gives resources start with both",
        );
    }
    let rds = names
        .iter()
        .filter(|derived| derived.kind == Kind::RdsIdentifier);
    if let Some(doubled) = rds.clone().find(|derived| derived.name.contains("--")) {
        report(
            "application",
            format!(
                "{} `{}` would have two hyphens in a row, which RDS refuses",
                doubled.resource, doubled.name
            ),
            "use single hyphens between words",
        );
    }
    if let Some(trailing) = rds.clone().find(|derived| derived.name.ends_with('-')) {
        report(
            "application",
            format!(
                "{} `{}` would end with a hyphen, which RDS refuses",
                trailing.resource, trailing.name
            ),
            "end the name with a letter or a digit",
        );
    }
    if let Some(alias) = names
        .iter()
        .find(|derived| derived.kind == Kind::KmsAlias && derived.name.starts_with("alias/aws/"))
    {
        report(
            "application",
            format!(
                "{} `{}` would start with `alias/aws/`, which KMS keeps for AWS managed keys",
                alias.resource, alias.name
            ),
            "choose another application name",
        );
    }
    problems
}

/// Each Region code in the file with its instance count (2 when left out, as in the
/// model).
fn region_codes(value: &Value) -> Vec<(String, u64)> {
    let primary = value.pointer("/regions/primary").into_iter();
    let secondaries = value
        .pointer("/regions/secondary")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    primary
        .chain(secondaries)
        .filter_map(|settings| {
            let code = settings.get("region")?.as_str()?;
            let instances = settings
                .get("instance_count")
                .and_then(Value::as_u64)
                .unwrap_or(2);
            Some((code.to_string(), instances))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::env::regions;

    fn file(application: &str, environment: &str, region: &str, instances: u64) -> Value {
        json!({
            "application": application,
            "environment": environment,
            "regions": {
                "primary": {"region": region, "instance_count": instances},
                "secondary": [{"region": "us-east-2"}]
            }
        })
    }

    fn messages(value: &Value) -> Vec<String> {
        check(value, &HashSet::new())
            .into_iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect()
    }

    #[test]
    fn the_longest_names_the_schema_allows_fit() {
        let longest_region = regions::codes().max_by_key(|code| code.len()).unwrap();
        // `application` takes up to 24 characters, `environment` up to 12, 16 instances.
        let value = file(&"a".repeat(24), &"e".repeat(12), longest_region, 16);
        assert_eq!(messages(&value), Vec::<String>::new());
    }

    #[test]
    fn a_name_too_long_is_reported_with_its_excess() {
        let application = "a".repeat(50);
        assert_eq!(
            messages(&file(&application, "prod", "ap-southeast-1", 2)),
            [format!("environment: the Aurora instance identifier `{application}-prod-ap-southeast-1-2` would be 72 characters long, 9 more than AWS allows (63)")]
        );
    }

    #[test]
    fn nothing_is_derived_from_a_refused_name() {
        let refused = HashSet::from([FieldPath::root().key("application")]);
        assert!(check(&file(&"a".repeat(50), "prod", "us-east-1", 2), &refused).is_empty());
    }

    #[test]
    fn rds_identifiers_with_doubled_or_trailing_hyphens() {
        assert_eq!(
            messages(&file("my--shop", "prod", "us-east-1", 2)),
            ["application: the Aurora global cluster identifier `my--shop-prod` would have two hyphens in a row, which RDS refuses"]
        );
        assert_eq!(
            messages(&file("shop", "", "us-east-1", 2)),
            [
                "application: the Aurora cluster identifier `shop--us-east-1` would have two hyphens in a row, which RDS refuses",
                "application: the Aurora global cluster identifier `shop-` would end with a hyphen, which RDS refuses",
            ]
        );
    }

    #[test]
    fn a_kms_alias_under_alias_aws() {
        assert_eq!(
            messages(&file("aws", "prod", "us-east-1", 2)),
            ["application: the KMS alias `alias/aws/prod/aurora` would start with `alias/aws/`, which KMS keeps for AWS managed keys"]
        );
    }

    /// Every name built here is a name the renderer gives a resource (in one Region at
    /// least: the alarm is only in secondaries, the dashboard's stack only in the primary).
    #[test]
    fn the_names_are_the_ones_deploy_renders() {
        let environment = crate::env::load(std::path::Path::new("environments/prod.yaml")).unwrap();
        let rendered = crate::render::render(&environment).unwrap();
        let mut everything: String = rendered.plan.to_json();
        for template in &rendered.templates {
            everything.push_str(&template.body);
        }
        let names: Vec<Derived> = environment
            .all_regions()
            .flat_map(|region| {
                derived(
                    &environment.application,
                    &environment.environment,
                    &region.region,
                    region.instance_count.into(),
                )
            })
            .collect();
        for resource in names.iter().map(|derived| derived.resource) {
            let candidates: Vec<&str> = names
                .iter()
                .filter(|derived| derived.resource == resource)
                .map(|derived| derived.name.as_str())
                .collect();
            assert!(
                candidates
                    .iter()
                    .any(|name| everything.contains(&format!("\"{name}\""))),
                "{resource}: none of {candidates:?} is rendered"
            );
        }
    }
}
