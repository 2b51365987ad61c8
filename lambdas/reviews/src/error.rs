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

    /// This Region's cluster has no endpoint that takes writes now (see [`crate::endpoint`]).
    #[error("cluster {cluster} cannot take writes now: {why}")]
    ClusterRole {
        cluster: String,
        why: String,
        /// The roles are changing (a switchover under way): worth retrying soon.
        transient: bool,
    },

    /// Another attempt is ingesting the same object (the ledger's lease).
    #[error("the object is busy: {0}")]
    Busy(String),

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

    #[error(
        "{key} is {format}, not JSON lines: upload JSON lines (UTF-8), plain or gzip-compressed"
    )]
    UnsupportedFormat { key: String, format: &'static str },

    #[error("reading {key}: {source}")]
    Read {
        key: String,
        #[source]
        source: std::io::Error,
    },

    /// One of the pipeline's own reports (crate::reports) found in the pending prefix:
    /// never ingested as reviews.
    #[error("{key} is not review data but a report the pipeline wrote ({report}): nothing was ingested from it; requeue the file it names with `deploy data requeue` and delete this object")]
    NotReviewData {
        key: String,
        report: crate::reports::Report,
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
            Error::ClusterRole {
                transient: true, ..
            } => "DatabaseUnavailable",
            Error::ClusterRole { .. } => "WriterNotReachable",
            Error::Database { source, .. } => match transience(source) {
                Some(Transience::Unavailable) => "DatabaseUnavailable",
                Some(Transience::Busy) => "DatabaseBusy",
                None => "DatabaseError",
            },
            Error::Busy(_) => "DatabaseBusy",
            Error::Schema(_) => "SchemaNotReady",
            Error::Secret { .. } => "SecretError",
            Error::S3 { .. } => "S3Error",
            Error::NotFound { .. } => "ObjectNotFound",
            Error::Read { .. } => "ReadError",
            Error::UnsupportedFormat { .. } => "UnsupportedFormat",
            Error::NotReviewData { .. } => "NotReviewData",
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

/// Why a database error may go away by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transience {
    /// The writer is out of reach for now: the connection was lost, or the server is
    /// shutting down or became read-only (a writer being demoted in a switchover or
    /// failover answers 1290/1836: AWS Knowledge Center, "Why did I get a read only error
    /// after an Amazon Aurora DB cluster failed over?").
    Unavailable,
    /// Contention: a deadlock or lock wait that outlasted this function's own retries, or
    /// no connection slot free.
    Busy,
}

/// Server errors (MySQL/MariaDB error numbers) that mean "try again later".
const UNAVAILABLE_CODES: [u16; 5] = [
    1053, // ER_SERVER_SHUTDOWN
    1290, // ER_OPTION_PREVENTS_STATEMENT (--read-only)
    1836, // ER_READ_ONLY_MODE
    1927, // ER_CONNECTION_KILLED (MariaDB)
    4031, // ER_CLIENT_INTERACTION_TIMEOUT
];
const BUSY_CODES: [u16; 3] = [
    1040, // ER_CON_COUNT_ERROR (too many connections)
    1205, // ER_LOCK_WAIT_TIMEOUT
    1213, // ER_LOCK_DEADLOCK
];

pub fn transience(error: &mysql_async::Error) -> Option<Transience> {
    match error {
        // The connection broke (the server went away, a reset, a timeout).
        mysql_async::Error::Io(_) => Some(Transience::Unavailable),
        mysql_async::Error::Driver(mysql_async::DriverError::ConnectionClosed) => {
            Some(Transience::Unavailable)
        }
        mysql_async::Error::Server(e) if UNAVAILABLE_CODES.contains(&e.code) => {
            Some(Transience::Unavailable)
        }
        mysql_async::Error::Server(e) if BUSY_CODES.contains(&e.code) => Some(Transience::Busy),
        _ => None,
    }
}

impl Error {
    /// The writer may have moved or gone: the next connection should ask RDS again.
    pub fn is_unavailable(&self) -> bool {
        self.kind() == "DatabaseUnavailable"
    }
}

pub(crate) fn db(doing: impl Into<String>) -> impl FnOnce(mysql_async::Error) -> Error {
    let doing = doing.into();
    move |source| Error::Database { doing, source }
}
