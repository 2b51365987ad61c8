//! One error type for the pipeline. Messages name the object, the database target
//! (`host:port/db`, never credentials) and what was being done, so the Lambda error that Step
//! Functions records is enough to act on.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(String),

    #[error("cannot connect to the database at {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: mysql_async::Error,
    },

    #[error("cannot connect to the database at {target}: no answer within {after:?}")]
    ConnectTimeout { target: String, after: Duration },

    #[error("database error while {doing}: {source}")]
    Database {
        doing: String,
        #[source]
        source: mysql_async::Error,
    },

    #[error("the database schema is not ready: {0} (run the migrate function first)")]
    Schema(String),

    #[error("cannot read the database credentials from secret {secret_id}: {why}")]
    Secret { secret_id: String, why: String },

    #[error("S3 {op} s3://{bucket}/{key}: {why}")]
    S3 {
        op: &'static str,
        bucket: String,
        key: String,
        why: String,
    },

    #[error("S3 object s3://{bucket}/{key} does not exist")]
    NotFound { bucket: String, key: String },

    #[error("reading {key}: {source}")]
    Read {
        key: String,
        #[source]
        source: std::io::Error,
    },

    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A stable name for the kind of failure: the Lambda `errorType`, which Step Functions'
    /// `Retry` and `Catch` match on.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Config(_) => "ConfigError",
            Error::Connect { .. } | Error::ConnectTimeout { .. } => "DatabaseUnavailable",
            Error::Database { .. } => "DatabaseError",
            Error::Schema(_) => "SchemaNotReady",
            Error::Secret { .. } => "SecretError",
            Error::S3 { .. } => "S3Error",
            Error::NotFound { .. } => "ObjectNotFound",
            Error::Read { .. } => "ReadError",
            Error::Other(_) => "IngestError",
        }
    }

    /// MySQL's "Access denied": the one error after which fresh credentials may help.
    pub fn is_auth_failure(&self) -> bool {
        matches!(
            self,
            Error::Connect { source: mysql_async::Error::Server(e), .. } if e.code == 1045
        )
    }
}

pub(crate) fn db(doing: impl Into<String>) -> impl FnOnce(mysql_async::Error) -> Error {
    let doing = doing.into();
    move |source| Error::Database { doing, source }
}
