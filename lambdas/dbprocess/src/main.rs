//! Streams one object from S3 into the `reviews` table (see `reviews::ingest`). A failure is a
//! Lambda error (never a success payload describing one), so Step Functions can retry.

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use reviews::config;
use reviews::db::{CredentialSource, Database, SecretCache};
use reviews::handlers::{self, DbProcess, DbProcessRequest};
use reviews::metrics::{self, MetricsConfig};
use reviews::s3::S3Store;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    reviews::logging::init();
    let sdk = reviews::aws::sdk_config().await;
    // The secret is read on the first invocation and kept for the life of this instance.
    let secret = SecretCache::new(
        reviews::aws::secrets(&sdk),
        config::required("DB_SECRET_ID")?,
    );
    let state = DbProcess {
        store: S3Store::new(reviews::aws::s3(&sdk), config::required("DATA_BUCKET")?),
        db: Database::new(
            config::db_config_from_env()?,
            CredentialSource::Secret(secret),
        ),
        settings: config::ingest_settings_from_env()?,
    };
    let state = &state;
    let metrics = &MetricsConfig::from_env();
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<DbProcessRequest>| async move {
            handlers::dbprocess(state, event.payload)
                .await
                // One EMF line per file: CloudWatch Logs makes the metrics, no API call.
                .inspect(|report| metrics::emit(metrics, report))
                .map_err(|e| Diagnostic {
                    error_type: e.kind().into(),
                    error_message: e.to_string(),
                })
        },
    ))
    .await
}
