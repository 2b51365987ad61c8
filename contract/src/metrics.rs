//! The custom metrics the functions publish (CloudWatch Embedded Metric Format lines on
//! stdout), which the dashboard and the alarms read: one namespace per application (the
//! `METRICS_NAMESPACE` variable), told apart by an `Environment` dimension.

/// The dimension every custom metric carries, `METRICS_ENVIRONMENT`'s value.
pub const ENVIRONMENT_DIMENSION: &str = "Environment";

/// dbprocess, per file: rows stored.
pub const ROWS_INSERTED: &str = "RowsInserted";
/// dbprocess, per file: rows that were there already.
pub const ROWS_ALREADY_PRESENT: &str = "RowsAlreadyPresent";
/// dbprocess, per file: lines rejected.
pub const ROWS_REJECTED: &str = "RowsRejected";
/// dbprocess, per file: milliseconds.
pub const INGEST_DURATION: &str = "IngestDuration";
/// postprocess: one per file moved to the failed prefix (the files-failed alarm).
pub const FILES_FAILED: &str = "FilesFailed";
