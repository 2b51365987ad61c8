//! The environment file's types. These are the one source of truth: serde parses the
//! file with them, schemars turns them (and their doc comments) into
//! `environments/schema.json`, and the renderer reads them.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::regions;

/// One deployment of the application: a primary Region and one to ten secondary Regions
/// sharing an Aurora MySQL Global Database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "deploy environment file")]
pub struct Environment {
    /// The application's name; the first part of every stack, cluster and function name.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9-]{0,22}[a-z0-9]$"))]
    pub application: String,

    /// The environment's name (for example `prod`); the second part of every name.
    /// `deploy destroy` asks you to type it when deletion protection is on.
    #[schemars(regex(pattern = r"^[a-z][a-z0-9]{0,11}$"))]
    pub environment: String,

    /// Where the application runs: the primary Region holds the writer, each secondary
    /// serves local reads and forwards writes to the primary.
    pub regions: Regions,

    /// The Aurora MySQL Global Database shared by every Region.
    pub database: Database,

    /// The ingestion pipeline that runs in every Region.
    #[serde(default)]
    pub pipeline: Pipeline,

    /// What `deploy destroy` and accidental deletes may remove.
    #[serde(default)]
    pub safety: Safety,

    /// Who hears about the alarms (replication lag over the threshold or missing, failed
    /// executions, files moved to the failed prefix): e-mail and HTTPS subscriptions to a
    /// topic deploy creates in each Region, or existing topics. Without it the alarms
    /// still exist, on the dashboard and in `deploy status`, but notify nobody.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Alerts")]
    pub alerts: Option<Alerts>,

    /// Tags put on every stack (CloudFormation passes them on to the resources).
    #[serde(default)]
    #[schemars(extend("maxProperties" = 40))]
    pub tags: BTreeMap<String, String>,

    /// Endpoints of local stand-ins for AWS (moto server with this project's plugin). Leave unset to
    /// deploy to AWS itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<Endpoints>,
}

/// The primary Region and the secondaries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Regions {
    /// The Region whose cluster takes writes when the environment is first deployed.
    pub primary: RegionSettings,

    /// One to ten Regions with read-only clusters that replicate from the primary (about a
    /// second behind) and can be promoted if the primary Region fails.
    #[schemars(length(min = 1, max = 10))]
    pub secondary: Vec<RegionSettings>,
}

/// One Region of the global database and the application in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionSettings {
    /// The Region's code, for example `us-east-1`.
    #[schemars(with = "regions::RegionCode")]
    pub region: String,

    /// The VPC that the database and the functions run in, for example `vpc-0a1b2c3d`.
    #[schemars(regex(pattern = r"^vpc-([0-9a-f]{8}|[0-9a-f]{17})$"))]
    pub vpc_id: String,

    /// Private subnets for the database and the functions, in at least two Availability
    /// Zones. When left out, `deploy up` discovers the VPC's subnets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 2, max = 16),
        inner(regex(pattern = r"^subnet-([0-9a-f]{8}|[0-9a-f]{17})$"))
    )]
    pub subnet_ids: Option<Vec<String>>,

    /// The database instance class in this Region. Aurora global databases need a
    /// memory-optimised class (`db.r*` or `db.x2g*`).
    #[serde(default = "default_instance_class")]
    #[schemars(regex(pattern = r"^db\.[a-z0-9]+\.[a-z0-9]+$"))]
    pub instance_class: String,

    /// How many database instances run in this Region (the writer or the first reader,
    /// then readers).
    #[serde(default = "default_instance_count")]
    #[schemars(range(min = 1, max = 16))]
    pub instance_count: u8,

    /// Global write forwarding: lets the application write through this Region's cluster
    /// while it is a secondary. Setting it on the primary too keeps forwarding working
    /// after a switchover.
    #[serde(default)]
    pub write_forwarding: WriteForwarding,

    /// VPC endpoints the VPC already has, to use instead of creating them (`deploy up`
    /// says when one exists): a second S3 gateway endpoint on the same route tables fails
    /// with RouteAlreadyExists, a second interface endpoint with private DNS for the same
    /// service fails too. A reused interface endpoint's security group must let the
    /// functions in on 443.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("uniqueItems" = true))]
    pub reuse_vpc_endpoints: Vec<VpcEndpointService>,
}

/// An AWS service the functions reach through a VPC endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VpcEndpointService {
    /// The S3 gateway endpoint (the data and assets buckets).
    S3,
    /// The Secrets Manager interface endpoint (the database credentials).
    Secretsmanager,
    /// The RDS interface endpoint (which endpoint of the cluster takes writes).
    Rds,
}

impl VpcEndpointService {
    pub const ALL: [VpcEndpointService; 3] = [
        VpcEndpointService::S3,
        VpcEndpointService::Secretsmanager,
        VpcEndpointService::Rds,
    ];

    /// The name in the file, and in `com.amazonaws.<region>.<name>`.
    pub fn as_str(self) -> &'static str {
        match self {
            VpcEndpointService::S3 => "s3",
            VpcEndpointService::Secretsmanager => "secretsmanager",
            VpcEndpointService::Rds => "rds",
        }
    }

    /// Its name as AWS writes it, for messages.
    pub fn title(self) -> &'static str {
        match self {
            VpcEndpointService::S3 => "S3",
            VpcEndpointService::Secretsmanager => "Secrets Manager",
            VpcEndpointService::Rds => "RDS",
        }
    }

    /// The network template's resource for it.
    pub fn logical_id(self) -> &'static str {
        match self {
            VpcEndpointService::S3 => "S3Endpoint",
            VpcEndpointService::Secretsmanager => "SecretsManagerEndpoint",
            VpcEndpointService::Rds => "RdsEndpoint",
        }
    }
}

/// Global write forwarding settings of one Region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteForwarding {
    /// Forward writes made in this Region to the primary.
    #[serde(default = "default_true")]
    pub enabled: bool,

    /// The read consistency each forwarding session asks for
    /// (`aurora_replica_read_consistency`). `session` lets a session read its own writes.
    #[serde(default)]
    pub consistency: Consistency,
}

impl Default for WriteForwarding {
    fn default() -> Self {
        WriteForwarding {
            enabled: true,
            consistency: Consistency::default(),
        }
    }
}

/// Values of `aurora_replica_read_consistency`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    /// Reads may not yet see writes forwarded from this session.
    Eventual,
    /// A session sees its own forwarded writes.
    #[default]
    Session,
    /// Every session sees every committed write across the global database.
    Global,
}

impl Consistency {
    pub fn as_str(self) -> &'static str {
        match self {
            Consistency::Eventual => "eventual",
            Consistency::Session => "session",
            Consistency::Global => "global",
        }
    }
}

/// The Aurora MySQL Global Database.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Database {
    /// The Aurora MySQL version, pinned in full, for example `8.0.mysql_aurora.3.08.2`.
    /// Every Region runs the same version.
    #[schemars(regex(pattern = r"^[0-9]+\.[0-9]+\.mysql_aurora\.[0-9]+\.[0-9]+\.[0-9]+$"))]
    pub engine_version: String,

    /// The schema that the application's tables live in.
    #[serde(default = "default_database_name")]
    #[schemars(regex(pattern = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"))]
    pub name: String,

    /// The master user's name; its password is generated into a Secrets Manager secret
    /// that is replicated to every Region and never appears in a template or log.
    #[serde(default = "default_master_username")]
    #[schemars(regex(pattern = r"^[A-Za-z][A-Za-z0-9_]{0,15}$"))]
    pub master_username: String,

    /// The application user's name: the user the ingestion function logs in as, with only
    /// the privileges ingestion needs and TLS required. `migrate` creates it; its password
    /// is generated into a secret of its own, replicated like the master's.
    #[serde(default = "default_app_username")]
    #[schemars(regex(pattern = r"^[A-Za-z][A-Za-z0-9_]{0,31}$"))]
    pub app_username: String,

    /// Days of automated backups kept in the primary Region.
    #[serde(default = "default_backup_retention_days")]
    #[schemars(range(min = 1, max = 35))]
    pub backup_retention_days: u8,

    /// Alarm in each secondary Region when replication lags behind the primary by more
    /// than this many milliseconds (`AuroraGlobalDBReplicationLag`).
    #[serde(default = "default_replication_lag_alarm_ms")]
    #[schemars(range(min = 100, max = 3_600_000))]
    pub replication_lag_alarm_ms: u32,

    /// RDS Enhanced Monitoring: the operating system's metrics of every instance (CPU per
    /// process, memory, I/O) every this many seconds, or 0 for off. The values RDS accepts
    /// are 0, 1, 5, 10, 15, 30 and 60 (CreateDBInstance, MonitoringInterval); the metrics
    /// are billed as CloudWatch Logs.
    #[serde(default)]
    #[schemars(extend("enum" = [0, 1, 5, 10, 15, 30, 60]))]
    pub enhanced_monitoring_seconds: u8,
}

/// The review ingestion pipeline: S3 → Step Functions → Lambda → Aurora.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pipeline {
    /// Key prefix of files waiting to be ingested.
    #[serde(default = "default_pending_prefix")]
    #[schemars(regex(pattern = r"^([A-Za-z0-9!_.*'()-]+/)+$"))]
    pub pending_prefix: String,

    /// Key prefix that ingested files are moved to.
    #[serde(default = "default_completed_prefix")]
    #[schemars(regex(pattern = r"^([A-Za-z0-9!_.*'()-]+/)+$"))]
    pub completed_prefix: String,

    /// Key prefix that files are moved to, with a report, when they cannot be ingested.
    #[serde(default = "default_failed_prefix")]
    #[schemars(regex(pattern = r"^([A-Za-z0-9!_.*'()-]+/)+$"))]
    pub failed_prefix: String,

    /// Key prefix of what the pipeline writes about files: `failed/<file>.report.json` (why
    /// a file failed) and `completed/<file>.rejects.json` (its rejected lines). Kept apart
    /// from the review files so that moving failed files back never moves a report.
    #[serde(default = "default_reports_prefix")]
    #[schemars(regex(pattern = r"^([A-Za-z0-9!_.*'()-]+/)+$"))]
    pub reports_prefix: String,

    /// Reviews written per multi-row INSERT (each batch is one short transaction).
    #[serde(default = "default_batch_size")]
    #[schemars(range(min = 1, max = 5000))]
    pub batch_size: u32,

    /// Files ingested at once in each Region (the Map state's `MaxConcurrency`). Keep it
    /// small: a secondary's forwarded-write connections are few.
    #[serde(default = "default_max_concurrency")]
    #[schemars(range(min = 1, max = 100))]
    pub max_concurrency: u32,

    /// Database connections each file is written over at once (dbprocess's writers, each
    /// with its own batches in flight). A Region opens up to `max_concurrency` times this
    /// many; on a writer with few cores more of them contend rather than write faster.
    #[serde(default = "default_writers_per_file")]
    #[schemars(range(min = 1, max = 8))]
    pub writers_per_file: u32,

    /// Files listed per loop of the state machine.
    #[serde(default = "default_files_per_batch")]
    #[schemars(range(min = 1, max = 1000))]
    pub files_per_batch: u32,

    /// CPU architecture of the functions. `arm64` runs on Graviton and costs less.
    #[serde(default)]
    pub architecture: Architecture,

    /// Memory of each function in MiB (CPU grows with it).
    #[serde(default = "default_memory_mb")]
    #[schemars(range(min = 128, max = 10240))]
    pub memory_mb: u32,

    /// Timeout of each function in seconds.
    #[serde(default = "default_timeout_seconds")]
    #[schemars(range(min = 10, max = 900))]
    pub timeout_seconds: u32,

    /// Days that function and state machine logs are kept.
    #[serde(default = "default_log_retention_days")]
    #[schemars(with = "LogRetentionDays")]
    pub log_retention_days: u32,

    /// Start the pipeline on a schedule (EventBridge Scheduler), in every Region or only
    /// where the writer is. Without it, the pipeline runs when `deploy run` starts it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    // Not nullable in the schema: an `anyOf` with null would hide the field's own problems
    // behind "matches none of".
    #[schemars(with = "Schedule")]
    pub schedule: Option<Schedule>,
}

/// When and where the pipeline starts by itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// When it runs, as EventBridge Scheduler writes it: `cron(minutes hours
    /// day-of-month month day-of-week year)` (for example `cron(0 3 * * ? *)`, 03:00 every
    /// day), `rate(value unit)` (`rate(30 minutes)`) or, once, `at(yyyy-mm-ddThh:mm:ss)`.
    #[schemars(regex(pattern = r"^(at|rate|cron)\(.+\)$"))]
    pub expression: String,

    /// The IANA time zone the expression is read in, for example `Europe/Paris`; a cron
    /// schedule follows its daylight-saving changes.
    #[serde(default = "default_timezone")]
    pub timezone: String,

    /// `writer`: only the Region whose cluster takes writes runs it (the others have it
    /// disabled), and `deploy switchover`/`failover` move it with the writer. `every_region`:
    /// every Region runs it on its own data.
    #[serde(default)]
    pub runs_in: RunsIn,

    /// `false` keeps the schedules, disabled everywhere.
    #[serde(default = "default_true")]
    pub enabled: bool,
}

/// Where a schedule runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunsIn {
    /// Only in the Region that holds the writer now.
    #[default]
    Writer,
    /// In every Region.
    EveryRegion,
}

impl Default for Pipeline {
    fn default() -> Self {
        Pipeline {
            pending_prefix: default_pending_prefix(),
            completed_prefix: default_completed_prefix(),
            failed_prefix: default_failed_prefix(),
            reports_prefix: default_reports_prefix(),
            batch_size: default_batch_size(),
            max_concurrency: default_max_concurrency(),
            writers_per_file: default_writers_per_file(),
            files_per_batch: default_files_per_batch(),
            architecture: Architecture::default(),
            memory_mb: default_memory_mb(),
            timeout_seconds: default_timeout_seconds(),
            log_retention_days: default_log_retention_days(),
            schedule: None,
        }
    }
}

/// CPU architecture of the Lambda functions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// AWS Graviton (aarch64).
    #[default]
    Arm64,
    /// Intel and AMD (x86-64).
    X86_64,
}

impl Architecture {
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::Arm64 => "arm64",
            Architecture::X86_64 => "x86_64",
        }
    }
}

/// The retention periods that CloudWatch Logs accepts.
pub const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

/// Schema-only type: one of the retention periods CloudWatch Logs accepts.
struct LogRetentionDays;

impl JsonSchema for LogRetentionDays {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "LogRetentionDays".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "integer",
            "enum": LOG_RETENTION_DAYS,
            "description": "One of the retention periods CloudWatch Logs accepts."
        })
    }
}

/// Deletion safety.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Safety {
    /// Turn on deletion protection for the database clusters. `deploy destroy` then asks
    /// for the environment's name and needs `--force` to turn it off.
    #[serde(default = "default_true")]
    pub deletion_protection: bool,

    /// What happens to the database clusters when their stack is deleted or a change
    /// replaces them: `snapshot` takes a final snapshot, `retain` keeps the cluster,
    /// `delete` drops it with its data.
    #[serde(default)]
    pub database_on_delete: DatabaseOnDelete,

    /// What happens to the data buckets and the database secret when their stack is
    /// deleted: `retain` keeps them, `delete` removes them (`deploy destroy` empties the
    /// buckets first).
    #[serde(default)]
    pub data_on_delete: DataOnDelete,
}

impl Default for Safety {
    fn default() -> Self {
        Safety {
            deletion_protection: true,
            database_on_delete: DatabaseOnDelete::default(),
            data_on_delete: DataOnDelete::default(),
        }
    }
}

/// What happens to a database cluster when CloudFormation deletes or replaces it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseOnDelete {
    /// Take a final snapshot, then delete the cluster.
    #[default]
    Snapshot,
    /// Keep the cluster (it leaves CloudFormation's control).
    Retain,
    /// Delete the cluster and its data.
    Delete,
}

impl DatabaseOnDelete {
    /// The CloudFormation `DeletionPolicy` value.
    pub fn policy(self) -> &'static str {
        match self {
            DatabaseOnDelete::Snapshot => "Snapshot",
            DatabaseOnDelete::Retain => "Retain",
            DatabaseOnDelete::Delete => "Delete",
        }
    }
}

/// What happens to stored data (buckets, the secret) when CloudFormation deletes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DataOnDelete {
    /// Keep it.
    #[default]
    Retain,
    /// Delete it.
    Delete,
}

impl DataOnDelete {
    /// The CloudFormation `DeletionPolicy` value.
    pub fn policy(self) -> &'static str {
        match self {
            DataOnDelete::Retain => "Retain",
            DataOnDelete::Delete => "Delete",
        }
    }
}

/// Where the alarms send notifications: subscriptions to a topic deploy creates in each
/// Region (`email`, `https`), or `topics` that already exist. Not both.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Alerts {
    /// E-mail addresses subscribed in every Region. AWS sends each address a confirmation
    /// message per Region; nothing is delivered until it is confirmed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = r"^[^@\s]+@[^@\s]+\.[^@\s]+$")))]
    pub email: Vec<String>,

    /// HTTPS endpoints subscribed in every Region. Each receives a confirmation request
    /// whose `SubscribeURL` it must visit. The URL is written into the templates: keep
    /// credentials out of it (a webhook with a token in its address belongs on a topic
    /// of your own, given under `topics`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(regex(pattern = r"^https://[^\s]+$")))]
    pub https: Vec<String>,

    /// Existing SNS topics to notify instead, one for every Region of the environment,
    /// keyed by Region: an alarm can only notify a topic in its own Region.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("additionalProperties" = {
        "type": "string",
        "pattern": "^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$"
    }))]
    pub topics: BTreeMap<String, String>,
}

impl Alerts {
    /// deploy creates a topic per Region for the subscriptions.
    pub fn creates_topics(&self) -> bool {
        self.topics.is_empty()
    }
}

/// Endpoints of local stand-ins. Every AWS call goes to `aws`; nothing reaches AWS. The
/// stand-in runs the functions' code and stands in for the clusters itself (`make local-up`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Endpoints {
    /// The endpoint that stands in for every AWS API (moto server), for example
    /// `http://127.0.0.1:5000`.
    #[schemars(regex(pattern = r"^https?://[^\s/]+(:[0-9]+)?/?$"))]
    pub aws: String,
}

fn default_true() -> bool {
    true
}
fn default_instance_class() -> String {
    "db.r6g.large".into()
}
fn default_instance_count() -> u8 {
    2
}
fn default_database_name() -> String {
    "reviews_db".into()
}
fn default_master_username() -> String {
    "admin".into()
}
fn default_app_username() -> String {
    "app_ingest".into()
}
fn default_backup_retention_days() -> u8 {
    7
}
fn default_replication_lag_alarm_ms() -> u32 {
    5_000
}
fn default_pending_prefix() -> String {
    "book-reviews/reviews/".into()
}
fn default_completed_prefix() -> String {
    "book-reviews/completed/".into()
}
fn default_failed_prefix() -> String {
    "book-reviews/failed/".into()
}
fn default_reports_prefix() -> String {
    "book-reviews/reports/".into()
}
fn default_batch_size() -> u32 {
    500
}
fn default_max_concurrency() -> u32 {
    5
}
fn default_writers_per_file() -> u32 {
    2
}
fn default_files_per_batch() -> u32 {
    100
}
fn default_memory_mb() -> u32 {
    1024
}
fn default_timeout_seconds() -> u32 {
    900
}
fn default_log_retention_days() -> u32 {
    30
}
fn default_timezone() -> String {
    "UTC".into()
}

impl Environment {
    /// Every Region, the primary first.
    pub fn all_regions(&self) -> impl Iterator<Item = &RegionSettings> {
        std::iter::once(&self.regions.primary).chain(self.regions.secondary.iter())
    }

    /// The master user's secret (the primary's database stack creates it, replicated).
    pub fn master_secret_name(&self) -> String {
        format!("{}/{}/aurora-master", self.application, self.environment)
    }

    /// The application user's secret (migrate sets its user's password from it).
    pub fn app_secret_name(&self) -> String {
        format!("{}/{}/aurora-app", self.application, self.environment)
    }

    /// `<application>-<environment>`, the prefix of every name.
    pub fn name_prefix(&self) -> String {
        format!("{}-{}", self.application, self.environment)
    }
}
