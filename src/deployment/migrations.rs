//! Whether `deploy up` has to invoke `migrate`, and deploy's record of the runs that
//! succeeded.
//!
//! `migrate` is idempotent, so invoking it after every deploy was always safe, but on the
//! local stand-in its first invoke starts the function's runtime (a build check and
//! `cargo lambda watch`, seconds), and on AWS it is a cold start and a database connection
//! for nothing. deploy therefore writes a record after each successful `migrate`: an object
//! in the writer Region's assets bucket (the bucket deploy already owns and writes the zips
//! to) named after what the run applied to what,
//!
//! `migrated/<DbClusterResourceId of the writer cluster>/<sha256 of the migrate zip>/<version of the application secret>.json`
//!
//! and skips `migrate` only when that object exists and no stack changed in this `up`.
//! The application secret's version is there because `migrate` also gives the application
//! user the secret's current password: a rotated secret (a new AWSCURRENT version,
//! Secrets Manager user guide, "Secret versions") is applied by the next `up`.
//! The migrate zip's sha256 stands for the schema it carries (the schema and its
//! migrations are compiled into migrate, so a changed schema is a changed zip); the
//! cluster's resource ID is unique to one cluster for its whole life and never reused
//! (RDS API reference, DBCluster.DbClusterResourceId: "the Amazon Web Services Region-unique,
//! immutable identifier for the DB cluster"), so a replaced or restored cluster has none
//! of the old records. Anything a stack changed (a new database secret, other database
//! settings in the functions' environment, the cluster itself) runs `migrate` too.
//! `deploy up --migrate` runs it regardless, for a schema changed behind deploy's back.

use anyhow::Context as _;
use aws_sdk_s3::error::ProvideErrorMetadata;
use serde::Serialize;

use crate::aws::{api_error, AwsContext};

/// Where the record of one migrate run lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub region: String,
    pub bucket: String,
    pub key: String,
}

impl Record {
    /// The record for `migrate`'s code `code_key` (`lambda/migrate/<sha256>.zip`, as
    /// crate::deployment::bundle names it) applied to the cluster `cluster_resource_id` with the
    /// application secret's version `secret_version`.
    pub fn new(
        region: &str,
        bucket: &str,
        cluster_resource_id: &str,
        code_key: &str,
        secret_version: &str,
    ) -> Record {
        let code = code_key
            .rsplit('/')
            .next()
            .unwrap_or(code_key)
            .trim_end_matches(".zip");
        Record {
            region: region.to_string(),
            bucket: bucket.to_string(),
            key: format!("migrated/{cluster_resource_id}/{code}/{secret_version}.json"),
        }
    }

    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    /// Whether the record is there.
    pub async fn exists(&self, aws: &AwsContext) -> anyhow::Result<bool> {
        let found = aws
            .s3(&self.region)
            .head_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .send()
            .await;
        match found {
            Ok(_) => Ok(true),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(error) if error.code() == Some("NotFound") => Ok(false),
            Err(error) => Err(api_error(error)).with_context(|| format!("checking {}", self.url())),
        }
    }

    /// Writes the record, with what migrate answered.
    pub async fn write(&self, aws: &AwsContext, answer: &serde_json::Value) -> anyhow::Result<()> {
        let body = serde_json::json!({
            "migrated_at": chrono::Utc::now().to_rfc3339(),
            "answer": answer,
        });
        aws.s3(&self.region)
            .put_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .content_type("application/json")
            .body(serde_json::to_vec_pretty(&body)?.into())
            .send()
            .await
            .map_err(api_error)
            .with_context(|| format!("writing {}", self.url()))?;
        Ok(())
    }
}

/// The immutable resource ID of the cluster `cluster_arn` (in `region`).
pub async fn cluster_resource_id(
    aws: &AwsContext,
    region: &str,
    cluster_id: &str,
) -> anyhow::Result<String> {
    let clusters = aws
        .rds(region)
        .describe_db_clusters()
        .db_cluster_identifier(cluster_id)
        .send()
        .await
        .map_err(api_error)
        .with_context(|| format!("DescribeDBClusters {cluster_id}"))?;
    clusters
        .db_clusters()
        .first()
        .and_then(|c| c.db_cluster_resource_id())
        .map(str::to_string)
        .with_context(|| format!("{cluster_id} has no DbClusterResourceId"))
}

/// The version ID of the secret's AWSCURRENT version (in `region`).
pub async fn current_secret_version(
    aws: &AwsContext,
    region: &str,
    secret_id: &str,
) -> anyhow::Result<String> {
    let described = aws
        .secrets_manager(region)
        .describe_secret()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(api_error)
        .with_context(|| format!("DescribeSecret {secret_id}"))?;
    described
        .version_ids_to_stages()
        .into_iter()
        .flatten()
        .find(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT"))
        .map(|(version, _)| version.clone())
        .with_context(|| format!("{secret_id} has no AWSCURRENT version"))
}

/// What `up` does about `migrate`, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Run(&'static str),
    Skip,
}

/// `migrate` is skipped only when nothing says the schema may be behind: not asked to run,
/// no stack changed in this `up`, and a record of this migrate code on this cluster.
pub fn decide(forced: bool, stacks_unchanged: bool, recorded: Option<bool>) -> Decision {
    if forced {
        Decision::Run("asked for with --migrate")
    } else if !stacks_unchanged {
        Decision::Run("a stack changed")
    } else {
        match recorded {
            Some(true) => Decision::Skip,
            Some(false) => Decision::Run("no record that this migrate ran on this cluster"),
            None => Decision::Run("the record could not be checked"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_is_named_by_cluster_code_and_secret_version() {
        let record = Record::new(
            "us-east-1",
            "assets",
            "cluster-ABC",
            "lambda/migrate/0123abcd.zip",
            "v1",
        );
        assert_eq!(record.key, "migrated/cluster-ABC/0123abcd/v1.json");
        assert_eq!(
            record.url(),
            "s3://assets/migrated/cluster-ABC/0123abcd/v1.json"
        );
    }

    #[test]
    fn migrate_is_skipped_only_with_a_record_and_no_change() {
        assert_eq!(decide(false, true, Some(true)), Decision::Skip);
        assert!(matches!(decide(true, true, Some(true)), Decision::Run(_)));
        assert!(matches!(decide(false, false, Some(true)), Decision::Run(_)));
        assert!(matches!(decide(false, true, Some(false)), Decision::Run(_)));
        assert!(matches!(decide(false, true, None), Decision::Run(_)));
    }
}
