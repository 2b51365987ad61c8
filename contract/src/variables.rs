//! The environment variables the pipeline template gives the functions (and the local
//! stand-in's Lambda sets the same way).

pub const DATA_BUCKET: &str = "DATA_BUCKET";
pub const PENDING_PREFIX: &str = "PENDING_PREFIX";
pub const COMPLETED_PREFIX: &str = "COMPLETED_PREFIX";
pub const FAILED_PREFIX: &str = "FAILED_PREFIX";
pub const REPORTS_PREFIX: &str = "REPORTS_PREFIX";
pub const FILES_PER_BATCH: &str = "FILES_PER_BATCH";
pub const METRICS_NAMESPACE: &str = "METRICS_NAMESPACE";
pub const METRICS_ENVIRONMENT: &str = "METRICS_ENVIRONMENT";
pub const DB_SECRET_ID: &str = "DB_SECRET_ID";
pub const APP_DB_SECRET_ID: &str = "APP_DB_SECRET_ID";
pub const DB_CLUSTER_ID: &str = "DB_CLUSTER_ID";
pub const DB_GLOBAL_CLUSTER_ID: &str = "DB_GLOBAL_CLUSTER_ID";
pub const DB_NAME: &str = "DB_NAME";
