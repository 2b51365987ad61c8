//! Creates the database and tables if missing and applies the schema migrations in order.
//! Runs only against the primary writer: write forwarding rejects DDL.

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use reviews::config;
use reviews::db::{CredentialSource, Database, SecretCache};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    reviews::logging::init();
    let sdk = reviews::aws::sdk_config().await;
    let secret = SecretCache::new(
        reviews::aws::secrets(&sdk),
        config::required("DB_SECRET_ID")?,
    );
    let mut db_config = config::db_config_from_env()?;
    // DDL is never forwarded: migrate connects to the writer only (the cluster's role is
    // checked when it connects), where the setting is not needed.
    db_config.consistency = None;
    let mut db = Database::new(db_config, CredentialSource::Secret(secret));
    if let Some(cluster) = config::cluster_from_env(reviews::aws::rds(&sdk))? {
        db = db.with_cluster(cluster);
    }
    let db = &db;
    lambda_runtime::run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            reviews::handlers::migrate(db)
                .await
                .map_err(|e| Diagnostic {
                    error_type: e.kind().into(),
                    error_message: e.to_string(),
                })
        },
    ))
    .await
}
