//! What a template sees: the environment's values for one stack, with every name and
//! policy decided here, in Rust, so the templates only place values.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::env::{
    Alerts, DataOnDelete, Database, DatabaseOnDelete, Environment, Pipeline, RegionSettings, RunsIn,
};
use crate::plan::{Function, PlannedParameter, PlannedStack};

use super::dashboard::MetricsTarget;

#[derive(Debug, Serialize)]
pub(super) struct Context<'a> {
    pub application: &'a str,
    pub environment: &'a str,
    /// `<application>-<environment>`.
    pub prefix: String,
    /// The stack's name, for descriptions.
    pub stack: &'a str,
    /// This stack's Region.
    pub region: &'a RegionSettings,
    pub is_primary: bool,
    pub primary_region: &'a str,
    pub secondary_regions: Vec<&'a str>,
    pub database: &'a Database,
    pub pipeline: &'a Pipeline,
    pub architecture: &'static str,
    pub deletion_protection: bool,
    pub policy: Policies,
    pub names: Names,
    /// Keyed by the bin crate's name.
    pub functions: BTreeMap<&'static str, FunctionContext>,
    /// `aurora_replica_read_consistency` for this Region's sessions; empty when this
    /// Region does not forward writes.
    pub write_forwarding_consistency: &'static str,
    /// Where dbprocess's embedded metrics go, and where the dashboard reads them.
    pub metrics: MetricsTarget,
    /// The parameters the plan passes this stack, for templates that declare them in a loop.
    pub parameters: &'a [PlannedParameter],
    /// The pipeline's schedule, when the file gives one.
    pub schedule: Option<ScheduleContext>,
    /// This Region's alarms.
    pub alarms: AlarmNames,
    /// Whom the alarms notify, when the file says.
    pub alerts: Option<AlertsContext>,
}

/// The names of a Region's alarms (the pipeline stack creates them; the dashboard and
/// `deploy status` read them).
#[derive(Debug, Clone, Serialize)]
pub struct AlarmNames {
    /// Replication lag over the threshold (a Region that replicates from the writer).
    pub replication_lag: String,
    /// No replication lag reported while the Region should replicate: a cluster detached
    /// from the global database, or one that stopped replicating.
    pub replication_lag_missing: String,
    /// An execution of the Region's state machine failed.
    pub executions_failed: String,
    /// postprocess moved a file to the failed prefix.
    pub files_failed: String,
}

impl AlarmNames {
    pub fn for_region(environment: &Environment, region: &str) -> AlarmNames {
        let prefix = environment.name_prefix();
        AlarmNames {
            replication_lag: format!("{prefix}-replication-lag-{region}"),
            replication_lag_missing: format!("{prefix}-replication-lag-missing-{region}"),
            executions_failed: format!("{prefix}-executions-failed-{region}"),
            files_failed: format!("{prefix}-files-failed-{region}"),
        }
    }

    /// Every alarm's name, in the order the dashboard lists them.
    pub fn all(&self) -> [&str; 4] {
        [
            &self.replication_lag,
            &self.replication_lag_missing,
            &self.executions_failed,
            &self.files_failed,
        ]
    }
}

/// The pipeline template's notification topic and its subscriptions.
#[derive(Debug, Serialize)]
pub(super) struct AlertsContext {
    /// The existing topic's ARN in this Region; `None` when the template creates one.
    pub existing_topic: Option<String>,
    /// The created topic's name, the same in every Region.
    pub topic_name: String,
    pub subscriptions: Vec<SubscriptionContext>,
}

#[derive(Debug, Serialize)]
pub(super) struct SubscriptionContext {
    /// Derived from the endpoint, so adding or removing another address leaves this
    /// subscription (and its confirmation) alone.
    pub logical: String,
    pub protocol: &'static str,
    pub endpoint: String,
}

impl AlertsContext {
    fn new(environment: &Environment, alerts: &Alerts, region: &str) -> AlertsContext {
        let subscriptions = alerts
            .email
            .iter()
            .map(|address| ("email", address))
            .chain(alerts.https.iter().map(|url| ("https", url)))
            .map(|(protocol, endpoint)| SubscriptionContext {
                logical: format!(
                    "AlertsSubscription{:016X}",
                    fnv1a(&format!("{protocol}:{endpoint}"))
                ),
                protocol,
                endpoint: endpoint.clone(),
            })
            .collect();
        AlertsContext {
            existing_topic: alerts.topics.get(region).cloned(),
            topic_name: format!("{}-alerts", environment.name_prefix()),
            subscriptions,
        }
    }
}

/// FNV-1a, 64 bits: a stable fingerprint for logical IDs (not a security property).
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What the pipeline template needs for its `AWS::Scheduler::Schedule`.
#[derive(Debug, Serialize)]
pub(super) struct ScheduleContext {
    /// The schedule's name (in the default group), the same in every Region.
    pub name: String,
    pub expression: String,
    pub timezone: String,
    /// Enabled only in the Region named by the `WriterRegion` parameter.
    pub follows_writer: bool,
    /// `enabled: false` in the file: disabled everywhere.
    pub enabled: bool,
    /// The SQS queue that takes starts Scheduler could not deliver.
    pub dead_letter_queue: String,
    /// The execution's input (JSON text), with Scheduler's context attribute.
    pub input: String,
}

/// `DeletionPolicy`/`UpdateReplacePolicy` values, decided from `safety`.
#[derive(Debug, Serialize)]
pub(super) struct Policies {
    /// The DB clusters.
    pub cluster: &'static str,
    /// The global cluster: it holds no data of its own and does not support `Snapshot`.
    pub global_cluster: &'static str,
    /// The DB instances: Aurora instances do not support `Snapshot` (the cluster's
    /// snapshot holds the data); kept only when the cluster is.
    pub instance: &'static str,
    /// The KMS key: kept whenever a final snapshot, a retained cluster or a retained
    /// secret may still need it to be read.
    pub key: &'static str,
    /// The master secret.
    pub secret: &'static str,
    /// The data bucket.
    pub data_bucket: &'static str,
}

#[derive(Debug, Serialize)]
pub(super) struct Names {
    pub global_cluster: String,
    /// This Region's cluster.
    pub cluster: String,
    pub secret: String,
    /// `SecretStringTemplate` of the master secret.
    pub secret_string_template: String,
    /// The application user's secret (dbprocess logs in with it; migrate creates the user).
    pub app_secret: String,
    /// `SecretStringTemplate` of the application secret.
    pub app_secret_string_template: String,
    /// The DB cluster parameter group family of the engine version (`aurora-mysql8.0`).
    pub parameter_group_family: String,
    pub key_alias: String,
    pub state_machine: String,
    pub state_machine_log_group: String,
    pub dashboard: String,
}

#[derive(Debug, Serialize)]
pub(super) struct FunctionContext {
    /// The prefix of the function's logical IDs, `Dbprocess`.
    pub logical: String,
    /// The deployed name, `<application>-<environment>-dbprocess`.
    pub name: String,
    pub code_key_parameter: &'static str,
    pub description: &'static str,
}

impl<'a> Context<'a> {
    pub fn new(environment: &'a Environment, stack: &'a PlannedStack) -> Context<'a> {
        let region = environment
            .all_regions()
            .find(|region| region.region == stack.region)
            .expect("the plan only names the environment's Regions");
        let is_primary = stack.region == environment.regions.primary.region;
        let prefix = environment.name_prefix();
        let safety = &environment.safety;

        let keeps_data = safety.database_on_delete != DatabaseOnDelete::Delete
            || (is_primary && safety.data_on_delete == DataOnDelete::Retain);
        let kept_with_cluster = if safety.database_on_delete == DatabaseOnDelete::Retain {
            "Retain"
        } else {
            "Delete"
        };
        let policy = Policies {
            cluster: safety.database_on_delete.policy(),
            global_cluster: kept_with_cluster,
            instance: kept_with_cluster,
            key: if keeps_data { "Retain" } else { "Delete" },
            secret: safety.data_on_delete.policy(),
            data_bucket: safety.data_on_delete.policy(),
        };

        let names = Names {
            global_cluster: prefix.clone(),
            cluster: format!("{prefix}-{}", region.region),
            secret: environment.master_secret_name(),
            secret_string_template: serde_json::json!({
                "username": environment.database.master_username
            })
            .to_string(),
            app_secret: environment.app_secret_name(),
            app_secret_string_template: serde_json::json!({
                "username": environment.database.app_username
            })
            .to_string(),
            parameter_group_family: parameter_group_family(&environment.database.engine_version),
            key_alias: format!(
                "alias/{}/{}/aurora",
                environment.application, environment.environment
            ),
            state_machine: format!("{prefix}-pipeline"),
            // The prefix AWS recommends for vended logs, so log delivery does not grow the
            // account's CloudWatch Logs resource policy.
            state_machine_log_group: format!("/aws/vendedlogs/states/{prefix}-pipeline"),
            dashboard: prefix.clone(),
        };

        let functions = Function::ALL
            .into_iter()
            .map(|function| {
                let context = FunctionContext {
                    logical: capitalise(function.as_str()),
                    name: function.function_name(environment),
                    code_key_parameter: function.code_key_parameter(),
                    description: description(function),
                };
                (function.as_str(), context)
            })
            .collect();

        Context {
            application: &environment.application,
            environment: &environment.environment,
            prefix,
            stack: &stack.name,
            region,
            is_primary,
            primary_region: &environment.regions.primary.region,
            secondary_regions: environment
                .regions
                .secondary
                .iter()
                .map(|region| region.region.as_str())
                .collect(),
            database: &environment.database,
            pipeline: &environment.pipeline,
            architecture: environment.pipeline.architecture.as_str(),
            deletion_protection: safety.deletion_protection,
            policy,
            names,
            functions,
            write_forwarding_consistency: if region.write_forwarding.enabled {
                region.write_forwarding.consistency.as_str()
            } else {
                ""
            },
            // One namespace per application; environments are told apart by dimension.
            metrics: MetricsTarget {
                namespace: environment.application.clone(),
                environment: environment.environment.clone(),
                files_failed: contract::metrics::FILES_FAILED,
            },
            parameters: &stack.parameters,
            schedule: environment
                .pipeline
                .schedule
                .as_ref()
                .map(|schedule| ScheduleContext {
                    name: format!("{}-pipeline", environment.name_prefix()),
                    expression: schedule.expression.clone(),
                    timezone: schedule.timezone.clone(),
                    follows_writer: schedule.runs_in == RunsIn::Writer,
                    enabled: schedule.enabled,
                    dead_letter_queue: format!("{}-schedule-dlq", environment.name_prefix()),
                    // EventBridge Scheduler replaces <aws.scheduler.scheduled-time> in the
                    // payload with the invocation's time (user guide, "Adding context
                    // attributes"); "trigger" tells the state machine the start is
                    // scheduled, so it steps aside when another run is going on.
                    input: serde_json::json!({
                        "trigger": "schedule",
                        "scheduled_time": "<aws.scheduler.scheduled-time>"
                    })
                    .to_string(),
                }),
            alarms: AlarmNames::for_region(environment, &region.region),
            alerts: environment
                .alerts
                .as_ref()
                .map(|alerts| AlertsContext::new(environment, alerts, &region.region)),
        }
    }
}

/// `aurora-mysql8.0` for `8.0.mysql_aurora.3.08.2`, `aurora-mysql5.7` for Aurora MySQL 2
/// (the family is the engine and its MySQL major version: `aws rds
/// describe-db-engine-versions --query 'DBEngineVersions[].DBParameterGroupFamily'`).
fn parameter_group_family(engine_version: &str) -> String {
    let mysql = engine_version
        .split_once(".mysql_aurora")
        .map_or(engine_version, |(mysql, _)| mysql);
    format!("aurora-mysql{mysql}")
}

/// The function's `Description`.
fn description(function: Function) -> &'static str {
    match function {
        Function::Preprocess => "Lists the pending review files for one loop of the state machine",
        Function::Dbprocess => "Loads one review file into Aurora",
        Function::Postprocess => "Moves a review file to the completed or failed prefix",
        Function::Migrate => "Creates the database schema (run against the primary only)",
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}
