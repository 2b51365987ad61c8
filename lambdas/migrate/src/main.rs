//! Creates the database and tables if missing and applies the schema migrations in order,
//! as the master user (`DB_SECRET_ID`); then creates or updates the application user
//! dbprocess logs in as (`APP_DB_SECRET_ID`, see `reviews::schema::APP_GRANTS`).
//! Runs only against the primary writer: write forwarding rejects DDL.

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use reviews::config;
use reviews::db::{CredentialSource, Database, SecretCache};
use reviews::variables;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    reviews::logging::init();
    let sdk = reviews::aws::sdk_config().await;
    let secret = SecretCache::new(
        reviews::aws::secrets(&sdk),
        config::required(variables::DB_SECRET_ID)?,
    );
    let mut db_config = config::db_config_from_env()?;
    // DDL is never forwarded: migrate connects to the writer only (the cluster's role is
    // checked when it connects), where the setting is not needed.
    db_config.consistency = None;
    let mut db = Database::new(db_config, CredentialSource::Secret(secret));
    if let Some(cluster) = config::cluster_from_env(reviews::aws::rds(&sdk))? {
        db = db.with_cluster(cluster);
    }
    // The application user's secret: the user dbprocess logs in as, created (or given the
    // secret's current password) here, by the master user.
    let app_secret = config::var(variables::APP_DB_SECRET_ID)
        .map(|id| SecretCache::new(reviews::aws::secrets(&sdk), id));
    let (db, app_secret) = (&db, &app_secret);
    lambda_runtime::run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            reviews::handlers::migrate(db, app_secret.as_ref())
                .await
                .map_err(|e| Diagnostic {
                    error_type: e.kind().into(),
                    error_message: e.to_string(),
                })
        },
    ))
    .await
}
