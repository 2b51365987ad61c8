//! Configuration from the Lambda environment. Each function reads only what it uses; a missing
//! or malformed value is an error that names the variable.

use std::path::PathBuf;
use std::time::Duration;

use crate::db::{Consistency, DbConfig, TlsMode};
use crate::endpoint::ClusterEndpoints;
use crate::error::{Error, Result};
use crate::ingest::IngestSettings;
use contract::variables;

pub const DEFAULT_PENDING_PREFIX: &str = "book-reviews/reviews/";
pub const DEFAULT_COMPLETED_PREFIX: &str = "book-reviews/completed/";
pub const DEFAULT_FAILED_PREFIX: &str = "book-reviews/failed/";
/// The RDS CA bundle, when the zip ships it beside `bootstrap` (`/var/task`).
pub const BUNDLED_CA_FILE: &str = "rds-global-bundle.pem";

/// A set, non-empty variable.
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub fn required(name: &str) -> Result<String> {
    var(name).ok_or_else(|| Error::Config(format!("{name} is not set")))
}

fn number<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| Error::Config(format!("{name}={v:?} is not a number"))),
    }
}

#[derive(Debug, Clone)]
pub struct Prefixes {
    pub pending: String,
    pub completed: String,
    pub failed: String,
    /// Where the failure reports and rejects objects go (crate::reports).
    pub reports: String,
}

impl Prefixes {
    pub fn from_env() -> Self {
        Prefixes {
            pending: var(variables::PENDING_PREFIX)
                .unwrap_or_else(|| DEFAULT_PENDING_PREFIX.into()),
            completed: var(variables::COMPLETED_PREFIX)
                .unwrap_or_else(|| DEFAULT_COMPLETED_PREFIX.into()),
            failed: var(variables::FAILED_PREFIX).unwrap_or_else(|| DEFAULT_FAILED_PREFIX.into()),
            reports: var(variables::REPORTS_PREFIX)
                .unwrap_or_else(|| crate::reports::DEFAULT_REPORTS_PREFIX.into()),
        }
    }

    /// Where an object goes under `to`: its path below the pending prefix, or its file name
    /// when it was not under it.
    pub fn relocate(&self, key: &str, to: &str) -> String {
        format!("{to}{}", self.below_pending(key))
    }

    /// An object's path below the pending prefix, or its file name when it was not under it.
    pub fn below_pending<'k>(&self, key: &'k str) -> &'k str {
        key.strip_prefix(self.pending.as_str())
            .unwrap_or_else(|| key.rsplit('/').next().unwrap_or(key))
    }
}

pub fn files_per_batch() -> Result<usize> {
    let n: usize = number(variables::FILES_PER_BATCH, 10)?;
    if n == 0 {
        return Err(Error::Config("FILES_PER_BATCH must be at least 1".into()));
    }
    Ok(n)
}

pub fn db_config_from_env() -> Result<DbConfig> {
    let tls = match var("DB_TLS")
        .as_deref()
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("required") => TlsMode::Required,
        Some("disabled") => TlsMode::Disabled,
        Some(other) => {
            return Err(Error::Config(format!(
                "DB_TLS={other:?} must be required or disabled"
            )))
        }
    };
    let ca_bundle = var("DB_CA_BUNDLE").map(PathBuf::from).or_else(|| {
        let beside = std::env::current_exe()
            .ok()?
            .parent()?
            .join(BUNDLED_CA_FILE);
        beside.is_file().then_some(beside)
    });
    // The functions name their cluster and ask RDS for its endpoint (crate::endpoint);
    // the ingest CLI and tests give a host.
    let host = match (var("DB_HOST"), var(variables::DB_CLUSTER_ID)) {
        (Some(host), _) => host,
        (None, Some(_)) => String::new(),
        (None, None) => {
            return Err(Error::Config(
                "DB_CLUSTER_ID (or, outside a cluster, DB_HOST) is not set".into(),
            ))
        }
    };
    Ok(DbConfig {
        host,
        port: number("DB_PORT", 3306)?,
        database: var(variables::DB_NAME).unwrap_or_else(|| "reviews_db".into()),
        tls,
        ca_bundle,
        consistency: Consistency::parse_setting(
            &var("WRITE_FORWARDING_CONSISTENCY").unwrap_or_default(),
        )?,
        connect_timeout: Duration::from_secs(number("DB_CONNECT_TIMEOUT_SECS", 5)?),
    })
}

/// This Region's cluster of the global database (`DB_CLUSTER_ID`, `DB_GLOBAL_CLUSTER_ID`),
/// unless a fixed `DB_HOST` is given.
pub fn cluster_from_env(rds: aws_sdk_rds::Client) -> Result<Option<ClusterEndpoints>> {
    if var("DB_HOST").is_some() {
        return Ok(None);
    }
    Ok(Some(ClusterEndpoints::new(
        rds,
        required(variables::DB_CLUSTER_ID)?,
        required(variables::DB_GLOBAL_CLUSTER_ID)?,
    )))
}

pub fn ingest_settings_from_env() -> Result<IngestSettings> {
    let s = IngestSettings {
        region_indicator: var("REGION_INDICATOR")
            .or_else(|| var("AWS_REGION"))
            .ok_or_else(|| Error::Config("REGION_INDICATOR is not set".into()))?,
        batch_size: number("BATCH_SIZE", 1000)?,
        writers: number("DB_WRITERS", 2)?,
    };
    if s.batch_size == 0 || s.writers == 0 {
        return Err(Error::Config(
            "BATCH_SIZE and DB_WRITERS must be at least 1".into(),
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relocation_keeps_the_path_below_pending() {
        let p = Prefixes {
            pending: "book-reviews/reviews/".into(),
            completed: "book-reviews/completed/".into(),
            failed: "book-reviews/failed/".into(),
            reports: "book-reviews/reports/".into(),
        };
        assert_eq!(
            p.relocate("book-reviews/reviews/2024/a.json.gz", &p.completed),
            "book-reviews/completed/2024/a.json.gz"
        );
        assert_eq!(
            p.relocate("elsewhere/b.json", &p.failed),
            "book-reviews/failed/b.json"
        );
    }
}
