//! The application's functions as the CLI calls them (`migrate` after a deploy, the
//! ingestion steps of `deploy run` on the stand-in): on Lambda, or, when the environment
//! runs against the local stand-ins, on a cargo-lambda runtime that deploy starts for the
//! Region with the configuration CloudFormation gave that Region's functions.
//!
//! moto stores the functions but cannot run their code (DESIGN §7), and one
//! `cargo lambda watch` gives every function it serves the same environment, so each Region
//! needs a runtime of its own: the data bucket and the Region indicator differ.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use serde::de::DeserializeOwned;

use crate::aws::{api_error, AwsContext};
use crate::env::{Environment, LocalFunctionRuntime};
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

impl InvokeError {
    /// `{"Error", "Cause"}`, as Step Functions hands a caught error to the next state.
    pub fn as_caught(&self) -> serde_json::Value {
        match self {
            InvokeError::Function {
                error_type,
                message,
                ..
            } => serde_json::json!({
                "Error": error_type,
                "Cause": serde_json::json!({"errorType": error_type, "errorMessage": message}).to_string(),
            }),
            InvokeError::Service { reason, .. } => serde_json::json!({
                "Error": "Lambda.ServiceException",
                "Cause": format!("{reason:#}"),
            }),
            InvokeError::Unexpected { .. } => serde_json::json!({
                "Error": "States.Runtime",
                "Cause": self.to_string(),
            }),
        }
    }
}

/// The functions of one Region, ready to invoke.
pub struct Functions {
    client: aws_sdk_lambda::Client,
    names: BTreeMap<Function, String>,
    /// Kept alive while the functions are in use; stopped on drop.
    _runtime: Option<LocalRuntime>,
}

impl Functions {
    /// The deployed functions of `region`, or a local runtime with their configuration.
    /// `concurrency` is how many instances of one function may run at once locally.
    pub async fn open(
        aws: &AwsContext,
        environment: &Environment,
        region: &str,
        concurrency: u32,
    ) -> anyhow::Result<Functions> {
        let runtime = environment.endpoints.as_ref().and_then(|e| e.lambda);
        let Some(LocalFunctionRuntime::CargoLambda) = runtime else {
            let names = Function::ALL
                .iter()
                .map(|f| (*f, f.function_name(environment)))
                .collect();
            return Ok(Functions {
                client: aws.lambda(region),
                names,
                _runtime: None,
            });
        };
        let variables = local_variables(aws, environment, region).await?;
        let runtime = LocalRuntime::start(region, &variables, concurrency).await?;
        // cargo-lambda serves each bin under its own name.
        let names = Function::ALL
            .iter()
            .map(|f| (*f, f.as_str().to_string()))
            .collect();
        Ok(Functions {
            client: aws.local_function_client(region, &runtime.endpoint()),
            names,
            _runtime: Some(runtime),
        })
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
                // cargo-lambda answers a handler's error with HTTP 500 and the error
                // document, where Lambda answers 200 with `FunctionError` (DESIGN §7).
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

/// The environment of the Region's functions as CloudFormation set it (read back from the
/// stand-in's Lambda API), pointed at the stand-ins: their endpoint for every AWS call,
/// the local MySQL server for the cluster, fixed test credentials.
async fn local_variables(
    aws: &AwsContext,
    environment: &Environment,
    region: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let endpoints = environment
        .endpoints
        .as_ref()
        .expect("a local runtime implies endpoints");
    let lambda = aws.lambda(region);
    let mut variables: BTreeMap<String, String> = BTreeMap::new();
    let mut set_by: BTreeMap<String, Function> = BTreeMap::new();
    for function in Function::ALL {
        let name = function.function_name(environment);
        let configuration = lambda
            .get_function_configuration()
            .function_name(&name)
            .send()
            .await
            .map_err(|error| {
                if error.code() == Some("ResourceNotFoundException") {
                    anyhow::anyhow!(
                        "function {name} does not exist in {region}: deploy the environment first (`deploy up`)"
                    )
                } else {
                    api_error(error).context(format!("reading the configuration of {name}"))
                }
            })?;
        let Some(set) = configuration.environment().and_then(|e| e.variables()) else {
            continue;
        };
        for (key, value) in set {
            // One runtime gives all its functions one environment, so they must agree.
            if let Some(previous) = variables.insert(key.clone(), value.clone()) {
                if &previous != value {
                    bail!(
                        "{key} differs between {} and {function} in {region}; one local runtime cannot give them both",
                        set_by[key]
                    );
                }
            }
            set_by.entry(key.clone()).or_insert(function);
        }
    }
    variables.insert("AWS_ENDPOINT_URL".into(), endpoints.aws.clone());
    variables.insert("AWS_REGION".into(), region.into());
    variables.insert("AWS_ACCESS_KEY_ID".into(), "test".into());
    variables.insert("AWS_SECRET_ACCESS_KEY".into(), "test".into());
    if let Some(database) = &endpoints.database {
        let (host, port) = database
            .rsplit_once(':')
            .context("endpoints.database is HOST:PORT")?;
        variables.insert("DB_HOST".into(), host.into());
        variables.insert("DB_PORT".into(), port.into());
        // The stand-in is a plain MariaDB without certificates, and without Aurora's
        // aurora_replica_read_consistency (DESIGN §7): it is not set there.
        variables.insert("DB_TLS".into(), "disabled".into());
        variables.remove("WRITE_FORWARDING_CONSISTENCY");
    }
    variables
        .entry("RUST_LOG".into())
        .or_insert_with(|| "info".into());
    Ok(variables)
}

/// `cargo lambda watch` serving the workspace's functions with one Region's environment,
/// in its own process group so that dropping it stops the functions it started too.
struct LocalRuntime {
    child: Child,
    port: u16,
    _env_file: tempfile::NamedTempFile,
}

impl LocalRuntime {
    async fn start(
        region: &str,
        variables: &BTreeMap<String, String>,
        concurrency: u32,
    ) -> anyhow::Result<LocalRuntime> {
        use std::os::unix::process::CommandExt as _;

        let mut env_file = tempfile::Builder::new()
            .prefix(&format!("deploy-functions-{region}-"))
            .suffix(".env")
            .tempfile()?;
        for (key, value) in variables {
            writeln!(env_file, "{key}={value}")?;
        }
        env_file.flush()?;
        let log_path = std::env::temp_dir().join(format!(
            "deploy-functions-{region}-{}.log",
            std::process::id()
        ));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("creating {}", log_path.display()))?;
        build_functions(&log_path).await?;
        let port = free_port()?;
        let cargo_lambda = cargo_lambda();
        let mut command = Command::new(&cargo_lambda);
        command
            .args(["lambda", "watch", "--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &port.to_string()])
            .args(["--concurrency", &concurrency.max(1).to_string()])
            .arg("--ignore-changes")
            .arg("--env-file")
            .arg(env_file.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        // cargo-lambda runs `cargo lambda ...` for the functions; its own directory first.
        if let Some(dir) = cargo_lambda.parent().filter(|d| !d.as_os_str().is_empty()) {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut paths = vec![dir.to_path_buf()];
            paths.extend(std::env::split_paths(&path));
            command.env("PATH", std::env::join_paths(paths)?);
        }
        let child = command.spawn().with_context(|| {
            format!(
                "starting {}: install cargo-lambda (`make tools`) or set CARGO_LAMBDA to its path",
                cargo_lambda.display()
            )
        })?;
        let mut runtime = LocalRuntime {
            child,
            port,
            _env_file: env_file,
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return Ok(runtime);
            }
            if let Some(status) = runtime.child.try_wait()? {
                bail!(
                    "cargo lambda watch for {region} stopped ({status}); run deploy from the repository, whose workspace builds the functions. Log {}:\n{}",
                    log_path.display(),
                    tail(&log_path)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "cargo lambda watch for {region} did not listen on port {port} within 2 minutes; log {}:\n{}",
                    log_path.display(),
                    tail(&log_path)
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for LocalRuntime {
    fn drop(&mut self) {
        // The whole group: the watcher and the function processes it started.
        let group = format!("-{}", self.child.id());
        let signal = |name: &str| {
            let _ = Command::new("kill")
                .args([name, "--", &group])
                .stderr(Stdio::null())
                .status();
        };
        signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        signal("-KILL");
        let _ = self.child.wait();
    }
}

/// Builds each function as `cargo lambda watch` will run it (`cargo run --bin <function>`
/// from the workspace), so its first invoke starts a built binary: the compile (minutes
/// the first time) stays out of the run it would otherwise be timed with.
async fn build_functions(log_path: &std::path::Path) -> anyhow::Result<()> {
    let log_path = log_path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        for function in Function::ALL {
            let log = std::fs::OpenOptions::new().append(true).open(&log_path)?;
            let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
                .args(["build", "--manifest-path", "Cargo.toml", "--bin", function.as_str()])
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .status()
                .context("running cargo to build the functions")?;
            if !status.success() {
                bail!(
                    "building {function} for the local runtime failed ({status}); run deploy from the repository, whose workspace builds the functions. Log {}:\n{}",
                    log_path.display(),
                    tail(&log_path)
                );
            }
        }
        Ok(())
    })
    .await?
}

/// `CARGO_LAMBDA` when set, else `cargo-lambda` from PATH.
fn cargo_lambda() -> PathBuf {
    std::env::var_os("CARGO_LAMBDA")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("cargo-lambda"))
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    Ok(listener.local_addr()?.port())
}

fn tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
