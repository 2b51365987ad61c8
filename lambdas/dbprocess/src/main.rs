//! Streams one object from S3 into the `reviews` table (see `reviews::ingest`). A failure is a
//! Lambda error (never a success payload describing one), so Step Functions can retry.

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use reviews::config;
use reviews::db::{CredentialSource, Database, SecretCache};
use reviews::handlers::{self, DbProcess, DbProcessRequest};
use reviews::ingest::Outcome;
use reviews::metrics::{self, MetricsConfig};
use reviews::s3::S3Store;
use reviews::variables;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    reviews::logging::init();
    let sdk = reviews::aws::sdk_config().await;
    // The secret is read on the first invocation and kept for the life of this instance.
    let secret = SecretCache::new(
        reviews::aws::secrets(&sdk),
        config::required(variables::DB_SECRET_ID)?,
    );
    let mut db = Database::new(
        config::db_config_from_env()?,
        CredentialSource::Secret(secret),
    );
    if let Some(cluster) = config::cluster_from_env(reviews::aws::rds(&sdk))? {
        db = db.with_cluster(cluster);
    }
    let state = DbProcess {
        store: S3Store::new(
            reviews::aws::s3(&sdk),
            config::required(variables::DATA_BUCKET)?,
        ),
        db,
        settings: config::ingest_settings_from_env()?,
    };
    let state = &state;
    let metrics = &MetricsConfig::from_env();
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<DbProcessRequest>| async move {
            // Stop between batches while there is time left to commit and answer: the
            // next invocation resumes after the last committed batch.
            let deadline = deadline_instant(event.context.deadline);
            handlers::dbprocess(state, event.payload, deadline)
                .await
                // One EMF line per file: CloudWatch Logs makes the metrics, no API call.
                // An incomplete load is counted when its last invocation completes it.
                .inspect(|report| {
                    if report.outcome != Outcome::Incomplete {
                        metrics::emit(metrics, report)
                    }
                })
                .map_err(|e| Diagnostic {
                    error_type: e.kind().into(),
                    error_message: e.to_string(),
                })
        },
    ))
    .await
}

/// Lambda's deadline (milliseconds since the epoch) as an instant of this process's clock.
fn deadline_instant(deadline_ms: u64) -> Option<std::time::Instant> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_millis() as u64;
    let left = deadline_ms.checked_sub(now_ms)?;
    Some(std::time::Instant::now() + std::time::Duration::from_millis(left))
}
