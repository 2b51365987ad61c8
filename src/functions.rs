//! The application's functions as the CLI calls them (`migrate` after a deploy), through
//! the Lambda API: on AWS, or on the local stand-in, whose Lambda API runs the functions'
//! real code with their own roles (local/moto_plugin/awslambda.py).

use std::collections::BTreeMap;

use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use serde::de::DeserializeOwned;

use crate::aws::{api_error, AwsContext};
use crate::env::Environment;
use crate::plan::Function;

/// A failed invoke, split the way a state machine's Retry and Catch see it.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The function ran and failed (Lambda's `FunctionError`): not worth retrying.
    #[error("{function} failed: {error_type}: {message}")]
    Function {
        function: Function,
        error_type: String,
        message: String,
    },
    /// The call never got an answer from the function (Lambda refused or throttled it,
    /// or the connection failed): worth retrying.
    #[error("invoking {function}: {reason:#}")]
    Service {
        function: Function,
        reason: anyhow::Error,
    },
    /// The function answered, but not with what its contract says: a bug, not retried.
    #[error("{function} answered something unexpected ({reason}): {answer}")]
    Unexpected {
        function: Function,
        reason: String,
        answer: String,
    },
}

/// The functions of one Region, ready to invoke.
pub struct Functions {
    client: aws_sdk_lambda::Client,
    names: BTreeMap<Function, String>,
}

impl Functions {
    /// The deployed functions of `region`. On the local stand-in too: its Lambda API runs
    /// their code (local/moto_plugin/awslambda.py), so nothing here differs.
    pub fn open(aws: &AwsContext, environment: &Environment, region: &str) -> Functions {
        let names = Function::ALL
            .iter()
            .map(|f| (*f, f.function_name(environment)))
            .collect();
        Functions {
            client: aws.lambda(region),
            names,
        }
    }

    /// Invokes `function` synchronously and reads its answer.
    pub async fn invoke<R: DeserializeOwned>(
        &self,
        function: Function,
        payload: &serde_json::Value,
    ) -> Result<R, InvokeError> {
        let service = |reason: anyhow::Error| InvokeError::Service { function, reason };
        let response = self
            .client
            .invoke()
            .function_name(&self.names[&function])
            .payload(aws_smithy_types::Blob::new(
                serde_json::to_vec(payload).expect("JSON values serialise"),
            ))
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                // A handler's error comes back as 200 with `FunctionError` from Lambda, but
                // as HTTP 500 with the error document from cargo-lambda's emulator.
                if let SdkError::ServiceError(context) = &error {
                    if let Some(failure) = function_error(function, context.raw().body().bytes()) {
                        return Err(failure);
                    }
                }
                let code = error.code().map(str::to_string);
                return Err(service(
                    api_error(error).context(code.unwrap_or_else(|| "no answer".into())),
                ));
            }
        };
        let body = response
            .payload()
            .map(|p| p.as_ref().to_vec())
            .unwrap_or_default();
        if response.function_error().is_some() {
            return Err(function_error(function, Some(&body)).unwrap_or_else(|| {
                InvokeError::Function {
                    function,
                    error_type: "Unhandled".into(),
                    message: String::from_utf8_lossy(&body).into_owned(),
                }
            }));
        }
        serde_json::from_slice(&body).map_err(|e| InvokeError::Unexpected {
            function,
            reason: e.to_string(),
            answer: excerpt(&body),
        })
    }
}

/// The start of an answer, enough to recognise it in an error message.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    match text.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.into_owned(),
    }
}

/// Lambda's error document, `{"errorType", "errorMessage"}`, when `body` is one.
fn function_error(function: Function, body: Option<&[u8]>) -> Option<InvokeError> {
    let document: serde_json::Value = serde_json::from_slice(body?).ok()?;
    let error_type = document.get("errorType")?.as_str()?.to_string();
    let message = document
        .get("errorMessage")
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_string();
    Some(InvokeError::Function {
        function,
        error_type,
        message,
    })
}
