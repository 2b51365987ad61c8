//! Lists the pending objects: up to `FILES_PER_BATCH` keys with ETags and sizes, and whether
//! more remain; and adds the results of the batch just processed to the run's totals (the
//! state machine's summary). No pending object is a normal, successful answer.

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use reviews::config::{self, Prefixes};
use reviews::handlers::{self, PreprocessRequest};
use reviews::s3::S3Store;
use reviews::variables;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    reviews::logging::init();
    let sdk = reviews::aws::sdk_config().await;
    let store = S3Store::new(
        reviews::aws::s3(&sdk),
        config::required(variables::DATA_BUCKET)?,
    );
    let prefixes = Prefixes::from_env();
    let per_batch = config::files_per_batch()?;
    let (store, prefixes) = (&store, &prefixes);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<PreprocessRequest>| async move {
            handlers::preprocess(store, prefixes, per_batch, event.payload)
                .await
                .map_err(|e| Diagnostic {
                    error_type: e.kind().into(),
                    error_message: e.to_string(),
                })
        },
    ))
    .await
}
