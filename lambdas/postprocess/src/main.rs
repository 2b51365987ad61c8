//! Moves a finished object to the completed prefix, or a failed one to the failed prefix with
//! a JSON report beside it. Moving twice is harmless.

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use reviews::config::{self, Prefixes};
use reviews::handlers::{self, PostprocessRequest};
use reviews::metrics::{self, MetricsConfig};
use reviews::s3::{MoveOutcome, S3Store};
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
    let metrics = MetricsConfig::from_env();
    let (store, prefixes, metrics) = (&store, &prefixes, &metrics);
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<PostprocessRequest>| async move {
            handlers::postprocess(store, prefixes, event.payload)
                .await
                // One FilesFailed per file: a retried move that finds it moved counts none.
                .inspect(|response| {
                    if response.report_key.is_some() && response.outcome == MoveOutcome::Moved {
                        metrics::emit_failed_file(metrics)
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
