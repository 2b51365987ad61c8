//! The stack plan: which stacks, in which Regions, in what order, and where each stack's
//! parameters come from at deploy time.
//!
//! [`StackPlan::for_environment`] decides the stacks; the renderer writes one template per
//! [`PlannedStack`] and `plan.json` from these same types, and the deploy engine reads them
//! back. Values that the environment file fixes are baked into the templates (so a PR diff
//! of the rendered templates shows every change); a parameter exists only for a value that
//! is known at deploy time: another stack's output, something discovered through EC2, or
//! the S3 key of a bundled function.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::env::{Environment, RegionSettings, RunsIn, VpcEndpointService};

/// Every stack of an environment, in the waves they deploy in, then the steps that follow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackPlan {
    pub application: String,
    pub environment: String,
    /// The Region whose cluster takes writes when the environment is first deployed.
    pub primary_region: String,
    /// Deployed in order; the stacks of one wave are independent of each other.
    pub waves: Vec<Wave>,
    /// Run after the last wave, in order.
    pub post_deploy: Vec<PostDeployStep>,
}

/// Stacks that can be deployed at the same time, once every earlier wave is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Wave {
    /// 1-based, as the README's picture counts them.
    pub number: u8,
    /// What the wave builds, for people.
    pub description: String,
    pub stacks: Vec<PlannedStack>,
}

/// One CloudFormation stack in one Region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedStack {
    /// `<application>-<environment>-<part>-<region>`.
    pub name: String,
    pub part: Part,
    pub region: String,
    /// The rendered template, relative to the directory that holds `plan.json`.
    pub template: String,
    /// The stack's tags: the file's `tags` plus `deploy:application` and
    /// `deploy:environment`.
    pub tags: BTreeMap<String, String>,
    /// Exactly the parameters the template declares, in the template's order.
    pub parameters: Vec<PlannedParameter>,
}

/// One template parameter and where its value comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedParameter {
    pub name: String,
    pub source: ParameterSource,
}

/// Where a parameter's value comes from at deploy time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParameterSource {
    /// An output of a stack deployed in an earlier wave, possibly in another Region
    /// (`Fn::ImportValue` cannot cross Regions, so the CLI carries the value).
    StackOutput { stack: String, output: String },
    /// The S3 key of the function's zip in the Region's assets bucket (the sha256 of its
    /// bytes, known after bundling).
    LambdaCode(Function),
    /// Looked up through EC2 in the stack's Region and VPC.
    Discover(Discovery),
    /// Taken from the environment file as is.
    Value(serde_json::Value),
    /// The Region whose cluster takes writes now, read from RDS when the stack is deployed
    /// (the file's primary before the global database exists): after a switchover or
    /// failover it is not the file's primary, and `deploy up` must not move what follows
    /// the writer back.
    WriterRegion,
}

/// What the CLI looks up through EC2 before deploying a network stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Discovery {
    /// The VPC's subnets (used when the file lists none).
    SubnetIds,
    /// The VPC's route tables, for the S3 gateway endpoint.
    RouteTableIds,
}

/// A step after the stacks are deployed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostDeployStep {
    /// Invoke a function once and fail the deploy if it fails.
    Invoke {
        function: Function,
        /// The deployed function's name.
        function_name: String,
        region: String,
        /// Why the step exists, for people.
        reason: String,
    },
}

/// The kinds of stack, one template each (the database has a primary and a secondary
/// flavour, chosen by Region).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Part {
    /// The bucket that holds the Lambda zips.
    Assets,
    /// Security groups, the DB subnet group and the VPC endpoints.
    Network,
    /// The KMS key and the Aurora cluster (plus, in the primary, the global cluster and
    /// the master secret).
    Database,
    /// The data bucket, the functions, the state machine and the alarms.
    Pipeline,
    /// The CloudWatch dashboard, in the primary Region, with widgets reading every Region.
    Monitoring,
}

impl Part {
    pub const ALL: [Part; 5] = [
        Part::Assets,
        Part::Network,
        Part::Database,
        Part::Pipeline,
        Part::Monitoring,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Part::Assets => "assets",
            Part::Network => "network",
            Part::Database => "database",
            Part::Pipeline => "pipeline",
            Part::Monitoring => "monitoring",
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The pipeline's Lambda functions (one bin crate each under `lambdas/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Function {
    /// Lists the pending files for one loop of the state machine.
    Preprocess,
    /// Loads one file into Aurora.
    Dbprocess,
    /// Moves a file to the completed or failed prefix.
    Postprocess,
    /// Creates the schema; runs against the primary only (DDL cannot be forwarded).
    Migrate,
}

impl Function {
    pub const ALL: [Function; 4] = [
        Function::Preprocess,
        Function::Dbprocess,
        Function::Postprocess,
        Function::Migrate,
    ];

    /// The bin crate's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Function::Preprocess => "preprocess",
            Function::Dbprocess => "dbprocess",
            Function::Postprocess => "postprocess",
            Function::Migrate => "migrate",
        }
    }

    /// The pipeline template's parameter that carries the zip's S3 key.
    pub fn code_key_parameter(self) -> &'static str {
        match self {
            Function::Preprocess => "PreprocessCodeKey",
            Function::Dbprocess => "DbprocessCodeKey",
            Function::Postprocess => "PostprocessCodeKey",
            Function::Migrate => "MigrateCodeKey",
        }
    }

    /// The deployed function's name, `<application>-<environment>-<function>`.
    pub fn function_name(self, environment: &Environment) -> String {
        format!("{}-{}", environment.name_prefix(), self.as_str())
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The pipeline stack's parameter that names the Region holding the writer: the
/// replication lag alarms exist everywhere else, and a schedule that follows the writer
/// is enabled only there.
pub const WRITER_REGION_PARAMETER: &str = "WriterRegion";

/// The file has a schedule that runs only where the writer is.
pub fn schedule_follows_writer(environment: &Environment) -> bool {
    environment
        .pipeline
        .schedule
        .as_ref()
        .is_some_and(|s| s.runs_in == RunsIn::Writer)
}

/// The monitoring stack's parameter that carries a Region's state machine ARN.
pub fn state_machine_arn_parameter(region: &str) -> String {
    format!("StateMachineArn{}", pascal_case(region))
}

/// The monitoring stack's parameter that carries a secondary Region's cluster identifier.
pub fn cluster_identifier_parameter(region: &str) -> String {
    format!("ClusterIdentifier{}", pascal_case(region))
}

/// `us-east-1` as `UsEast1`: parameter names are alphanumeric.
fn pascal_case(text: &str) -> String {
    text.split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// `<application>-<environment>-<part>-<region>`.
pub fn stack_name(environment: &Environment, part: Part, region: &str) -> String {
    format!("{}-{}-{}", environment.name_prefix(), part, region)
}

impl StackPlan {
    /// The stacks of an environment, in order:
    /// 1. assets and network in every Region;
    /// 2. the database in the primary (it creates the global cluster and the secret);
    /// 3. the database in every secondary (they join the global cluster);
    /// 4. the pipeline in every Region (its functions connect to their Region's cluster);
    /// 5. the dashboard in the primary (it names every Region's state machine and cluster);
    ///
    /// then `migrate` in the primary, the only writer that accepts DDL.
    pub fn for_environment(environment: &Environment) -> StackPlan {
        let primary = &environment.regions.primary;
        let planned =
            |part: Part, region: &RegionSettings| planned_stack(environment, part, region);

        let mut foundation = Vec::new();
        for region in environment.all_regions() {
            foundation.push(planned(Part::Assets, region));
            foundation.push(planned(Part::Network, region));
        }
        let waves = vec![
            Wave {
                number: 1,
                description: "assets and network in every Region".into(),
                stacks: foundation,
            },
            Wave {
                number: 2,
                description: "the primary database: global cluster, master secret, writer".into(),
                stacks: vec![planned(Part::Database, primary)],
            },
            Wave {
                number: 3,
                description: "the secondary databases, which join the global cluster".into(),
                stacks: environment
                    .regions
                    .secondary
                    .iter()
                    .map(|region| planned(Part::Database, region))
                    .collect(),
            },
            Wave {
                number: 4,
                description: "the pipeline in every Region".into(),
                stacks: environment
                    .all_regions()
                    .map(|region| planned(Part::Pipeline, region))
                    .collect(),
            },
            Wave {
                number: 5,
                description: "the monitoring dashboard in the primary Region".into(),
                stacks: vec![planned(Part::Monitoring, primary)],
            },
        ];

        StackPlan {
            application: environment.application.clone(),
            environment: environment.environment.clone(),
            primary_region: primary.region.clone(),
            waves,
            post_deploy: vec![PostDeployStep::Invoke {
                function: Function::Migrate,
                function_name: Function::Migrate.function_name(environment),
                region: primary.region.clone(),
                reason: "create the schema; DDL cannot be forwarded, so only the primary runs it"
                    .into(),
            }],
        }
    }

    /// Every stack, wave by wave.
    pub fn stacks(&self) -> impl Iterator<Item = (&Wave, &PlannedStack)> {
        self.waves
            .iter()
            .flat_map(|wave| wave.stacks.iter().map(move |stack| (wave, stack)))
    }

    /// The stack with this name.
    pub fn stack(&self, name: &str) -> Option<&PlannedStack> {
        self.stacks()
            .map(|(_, stack)| stack)
            .find(|stack| stack.name == name)
    }

    /// `plan.json`'s text: pretty, with a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("a plan serialises");
        text.push('\n');
        text
    }
}

fn planned_stack(environment: &Environment, part: Part, region: &RegionSettings) -> PlannedStack {
    let mut tags = environment.tags.clone();
    tags.insert("deploy:application".into(), environment.application.clone());
    tags.insert("deploy:environment".into(), environment.environment.clone());
    PlannedStack {
        name: stack_name(environment, part, &region.region),
        part,
        region: region.region.clone(),
        template: format!("{}/{}.yaml", region.region, part),
        tags,
        parameters: parameters(environment, part, region),
    }
}

/// The parameters of one stack, in the order its template declares them.
fn parameters(
    environment: &Environment,
    part: Part,
    region: &RegionSettings,
) -> Vec<PlannedParameter> {
    let output = |part: Part, region: &str, output: &str| ParameterSource::StackOutput {
        stack: stack_name(environment, part, region),
        output: output.into(),
    };
    let here = region.region.as_str();
    let is_primary = here == environment.regions.primary.region;
    let parameter = |name: &str, source: ParameterSource| PlannedParameter {
        name: name.into(),
        source,
    };

    match part {
        Part::Assets => Vec::new(),
        Part::Network => {
            let mut parameters = vec![parameter(
                "SubnetIds",
                match &region.subnet_ids {
                    Some(ids) => ParameterSource::Value(ids.clone().into()),
                    None => ParameterSource::Discover(Discovery::SubnetIds),
                },
            )];
            // The S3 gateway endpoint's routes; none when the VPC's own one is reused.
            if !region.reuse_vpc_endpoints.contains(&VpcEndpointService::S3) {
                parameters.push(parameter(
                    "RouteTableIds",
                    ParameterSource::Discover(Discovery::RouteTableIds),
                ));
            }
            parameters
        }
        Part::Database => vec![
            parameter(
                "DbSubnetGroupName",
                output(Part::Network, here, "DbSubnetGroupName"),
            ),
            parameter(
                "DatabaseSecurityGroupId",
                output(Part::Network, here, "DatabaseSecurityGroupId"),
            ),
        ],
        Part::Pipeline => {
            let mut parameters = vec![parameter(
                "AssetsBucketName",
                output(Part::Assets, here, "AssetsBucketName"),
            )];
            for function in Function::ALL {
                parameters.push(parameter(
                    function.code_key_parameter(),
                    ParameterSource::LambdaCode(function),
                ));
            }
            parameters.extend([
                parameter(
                    "LambdaSecurityGroupId",
                    output(Part::Network, here, "LambdaSecurityGroupId"),
                ),
                parameter("SubnetIds", output(Part::Network, here, "SubnetIds")),
            ]);
            if is_primary {
                // Only the primary's secret uses our key; its replicas use each Region's
                // AWS-managed key (see the database template).
                parameters.push(parameter(
                    "SecretKeyArn",
                    output(Part::Database, here, "DatabaseKeyArn"),
                ));
            }
            // What follows the writer: the replication lag alarms (everywhere else), and
            // the schedule when it runs only there.
            parameters.push(parameter(
                WRITER_REGION_PARAMETER,
                ParameterSource::WriterRegion,
            ));
            parameters
        }
        // Values from stacks in other Regions: the CLI carries them (no cross-Region
        // Fn::ImportValue). Every Region's state machine, then every secondary's cluster.
        Part::Monitoring => environment
            .all_regions()
            .map(|r| {
                parameter(
                    &state_machine_arn_parameter(&r.region),
                    output(Part::Pipeline, &r.region, "StateMachineArn"),
                )
            })
            .chain(environment.regions.secondary.iter().map(|r| {
                parameter(
                    &cluster_identifier_parameter(&r.region),
                    output(Part::Database, &r.region, "ClusterIdentifier"),
                )
            }))
            .collect(),
    }
}
