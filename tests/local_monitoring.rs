//! The monitoring stack and `deploy status`'s CloudWatch half, end to end against the
//! local stand-in (`make local-up`): the dashboard is deployed in the primary Region with
//! widgets for both Regions, a replication lag datapoint put into the secondary Region's
//! CloudWatch shows up for that member in `status`, and `destroy` removes it all.
//!
//! The environment is `monitor`, not `local`, so these stacks never meet those of the
//! other end-to-end tests on the same moto server. For the same reason the test runs its
//! own `cargo lambda watch` (the stand-in's shared one is configured for `local`'s
//! secret), which `up`'s schema step invokes.
#![cfg(feature = "aws")]

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};

use assert_cmd::Command;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use deploy::aws::AwsContext;
use serde_json::Value;

const PRIMARY: &str = "us-east-1";
const SECONDARY: &str = "us-east-2";

fn lambda_dir() -> PathBuf {
    let dir = PathBuf::from(
        std::env::var("DEPLOY_TEST_LAMBDA_DIR").unwrap_or_else(|_| "target/lambda/arm64".into()),
    );
    assert!(
        dir.join("migrate/bootstrap.zip").exists(),
        "no function zips in {}: run `make lambdas` or set DEPLOY_TEST_LAMBDA_DIR",
        dir.display()
    );
    dir
}

/// `cargo lambda watch` serving this workspace's functions with the environment's
/// settings; stopped when dropped.
struct FunctionRuntime {
    child: Child,
    endpoint: String,
}

impl FunctionRuntime {
    fn start(env: &deploy::env::Environment, dir: &Path) -> FunctionRuntime {
        let tools = PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache/deploy-tools");
        let cargo_lambda = std::env::var_os("CARGO_LAMBDA")
            .map(PathBuf::from)
            .unwrap_or_else(|| tools.join("cargo-lambda-1.9.2/bin/cargo-lambda"));
        assert!(
            cargo_lambda.is_file(),
            "{} not found: run `make local-up` (it installs cargo-lambda) or set CARGO_LAMBDA",
            cargo_lambda.display()
        );
        let endpoints = env.endpoints.as_ref().unwrap();
        let database = endpoints.database.as_deref().unwrap_or("127.0.0.1:3307");
        let (host, port) = database.split_once(':').unwrap();
        // Fixed stand-in credentials, as the shared runtime's environment has them.
        let variables = [
            format!("AWS_ENDPOINT_URL={}", endpoints.aws),
            format!("AWS_REGION={}", env.regions.primary.region),
            "AWS_ACCESS_KEY_ID=test".into(),
            "AWS_SECRET_ACCESS_KEY=test".into(),
            format!("DB_HOST={host}"),
            format!("DB_PORT={port}"),
            "DB_TLS=disabled".into(),
            format!("DB_NAME={}", env.database.name),
            format!(
                "DB_SECRET_ID={}/{}/aurora-master",
                env.application, env.environment
            ),
            format!("REGION_INDICATOR={}", env.regions.primary.region),
        ];
        let env_file = dir.join("functions.env");
        std::fs::write(&env_file, variables.join("\n") + "\n").unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // Owned by the guard at once, so a panic below still stops it.
        let runtime = FunctionRuntime {
            child: std::process::Command::new(cargo_lambda)
                .args(["lambda", "watch", "--invoke-address", "127.0.0.1"])
                .args(["--invoke-port", &port.to_string(), "--ignore-changes"])
                .arg("--env-file")
                .arg(&env_file)
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("cargo lambda watch starts"),
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return runtime;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("cargo lambda watch did not listen on {}", runtime.endpoint);
    }
}

impl Drop for FunctionRuntime {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn succeed(args: &[&str]) -> Output {
    let output = Command::cargo_bin("deploy")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "deploy {} failed:\n{}\n{}",
        args.join(" "),
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

fn status_json(path: &str) -> Value {
    serde_json::from_slice(&succeed(&["status", path, "--output", "json"]).stdout).unwrap()
}

fn member<'a>(status: &'a Value, region: &str) -> &'a Value {
    status["global_database"]["members"]
        .as_array()
        .expect("the global database is deployed")
        .iter()
        .find(|m| m["region"] == region)
        .unwrap_or_else(|| panic!("no member in {region}: {status:#}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn dashboard_and_replication_lag_in_status() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("monitor.yaml");
    let local = std::fs::read_to_string("environments/local.yaml").unwrap();
    assert!(local.contains("environment: local\n"));
    // Its own master user and database too: the stand-in's MariaDB serves every
    // environment, and the plugin resets a master user's password to the newest cluster's
    // secret, so sharing `admin` with other tests would lock one of them out.
    assert!(local.contains("\ndatabase:\n"));
    let monitor = local
        .replacen("environment: local\n", "environment: monitor\n", 1)
        .replacen(
            "\ndatabase:\n",
            "\ndatabase:\n  name: monitor_db\n  master_username: monitor_admin\n",
            1,
        );
    // Until the shared moto server is restarted with the plugin's CloudWatch protocol
    // support, a private one can stand in: DEPLOY_TEST_AWS_ENDPOINT=http://127.0.0.1:PORT.
    let monitor = match std::env::var("DEPLOY_TEST_AWS_ENDPOINT") {
        Ok(endpoint) => {
            monitor.replacen("aws: http://127.0.0.1:5000", &format!("aws: {endpoint}"), 1)
        }
        Err(_) => monitor,
    };
    std::fs::write(&file, &monitor).unwrap();
    let runtime = FunctionRuntime::start(&deploy::env::load(&file).unwrap(), dir.path());
    let lambda_endpoint = local
        .lines()
        .find_map(|l| l.trim().strip_prefix("lambda: "))
        .expect("local.yaml names a function runtime");
    std::fs::write(
        &file,
        monitor.replacen(lambda_endpoint, &runtime.endpoint, 1),
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let env = deploy::env::load(&file).unwrap();
    assert_eq!(
        env.endpoints.as_ref().unwrap().lambda.as_deref(),
        Some(runtime.endpoint.as_str())
    );
    let endpoint = &env.endpoints.as_ref().unwrap().aws;
    assert!(
        std::net::TcpStream::connect(endpoint.trim_start_matches("http://")).is_ok(),
        "the local stand-in is not running at {endpoint}: run `make local-up`"
    );
    let aws = AwsContext::load(&env, None).await;
    let prefix = env.name_prefix();
    let dashboard = prefix.clone();
    let lambdas = lambda_dir();

    // A clean slate, whatever an earlier run left.
    succeed(&["destroy", path, "--yes"]);

    let report: Value = serde_json::from_slice(
        &succeed(&[
            "up",
            path,
            "--yes",
            "--output",
            "json",
            "--lambda-dir",
            lambdas.to_str().unwrap(),
        ])
        .stdout,
    )
    .unwrap();
    let monitoring = format!("{prefix}-monitoring-{PRIMARY}");
    let outcome = report["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stack"] == monitoring.as_str())
        .unwrap_or_else(|| panic!("no {monitoring} in {report:#}"));
    assert_eq!(outcome["result"], "created");
    assert_eq!(outcome["wave"], 5);

    // The dashboard is in the primary Region, with widgets reading both Regions; the
    // other stacks' outputs were substituted into it.
    let topology = deploy::topology::read(&aws, PRIMARY, &prefix)
        .await
        .unwrap()
        .unwrap();
    let secondary_cluster = topology
        .members
        .iter()
        .find(|m| !m.is_writer)
        .map(|m| m.cluster_arn.rsplit(':').next().unwrap().to_string())
        .unwrap();
    let body = aws
        .cloudwatch(PRIMARY)
        .get_dashboard()
        .dashboard_name(&dashboard)
        .send()
        .await
        .expect("the dashboard exists in the primary Region")
        .dashboard_body()
        .unwrap()
        .to_string();
    let body: Value = serde_json::from_str(&body).expect("the body is JSON");
    let metric_widgets: Vec<&Value> = body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["type"] == "metric")
        .collect();
    let regions: std::collections::BTreeSet<&str> = metric_widgets
        .iter()
        .map(|w| w["properties"]["region"].as_str().unwrap())
        .collect();
    assert_eq!(regions, [PRIMARY, SECONDARY].into_iter().collect());
    let lag = metric_widgets
        .iter()
        .find(|w| w["properties"]["metrics"][0][1] == "AuroraGlobalDBReplicationLag")
        .expect("a replication lag widget");
    assert_eq!(lag["properties"]["region"], SECONDARY);
    assert_eq!(
        lag["properties"]["metrics"][0][3],
        secondary_cluster.as_str()
    );
    assert!(
        !body.to_string().contains("${"),
        "every placeholder was substituted: {body:#}"
    );
    assert!(
        aws.cloudwatch(SECONDARY)
            .get_dashboard()
            .dashboard_name(&dashboard)
            .send()
            .await
            .is_err(),
        "the dashboard exists only in the primary Region"
    );

    // Before CloudWatch has a datapoint, status says so, without failing.
    let url = format!(
        "https://{PRIMARY}.console.aws.amazon.com/cloudwatch/home?region={PRIMARY}#dashboards/dashboard/{dashboard}"
    );
    let status = status_json(path);
    assert_eq!(status["dashboard_url"], url.as_str());
    assert_eq!(
        member(&status, SECONDARY)["replication_lag_ms"],
        Value::Null
    );
    assert_eq!(member(&status, PRIMARY)["replication_lag_ms"], Value::Null);
    let output = text(&succeed(&["status", path]).stdout);
    assert!(output.contains("replication lag: no data"), "{output}");

    // Aurora publishes the metric in the secondary's Region, for the secondary's cluster.
    aws.cloudwatch(SECONDARY)
        .put_metric_data()
        .namespace("AWS/RDS")
        .metric_data(
            MetricDatum::builder()
                .metric_name("AuroraGlobalDBReplicationLag")
                .dimensions(
                    Dimension::builder()
                        .name("DBClusterIdentifier")
                        .value(&secondary_cluster)
                        .build(),
                )
                .value(187.0)
                .unit(StandardUnit::Milliseconds)
                .timestamp(std::time::SystemTime::now().into())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let status = status_json(path);
    assert_eq!(member(&status, SECONDARY)["replication_lag_ms"], 187.0);
    assert_eq!(
        member(&status, PRIMARY)["replication_lag_ms"],
        Value::Null,
        "the writer publishes no lag"
    );
    let output = text(&succeed(&["status", path]).stdout);
    let line = output
        .lines()
        .find(|l| l.trim_start().starts_with(SECONDARY) && l.contains("secondary"))
        .unwrap_or_else(|| panic!("no {SECONDARY} member line:\n{output}"));
    assert!(line.contains("replication lag 187 ms"), "{line}");
    assert!(
        output.contains(&format!("dashboard\n  {url}\n")),
        "{output}"
    );

    // Destroy removes the dashboard with everything else.
    succeed(&["destroy", path, "--yes"]);
    assert!(aws
        .cloudwatch(PRIMARY)
        .get_dashboard()
        .dashboard_name(&dashboard)
        .send()
        .await
        .is_err());
    for region in [PRIMARY, SECONDARY] {
        let stacks = aws
            .cloudformation(region)
            .list_stacks()
            .send()
            .await
            .unwrap();
        let alive: Vec<&str> = stacks
            .stack_summaries()
            .iter()
            .filter(|s| s.stack_name().is_some_and(|n| n.starts_with(&prefix)))
            .filter(|s| s.stack_status().map(|st| st.as_str()) != Some("DELETE_COMPLETE"))
            .filter_map(|s| s.stack_name())
            .collect();
        assert!(alive.is_empty(), "stacks left in {region}: {alive:?}");
    }
    assert!(deploy::topology::read(&aws, PRIMARY, &prefix)
        .await
        .unwrap()
        .is_none());
    let status = status_json(path);
    assert_eq!(status["dashboard_url"], Value::Null);
    let output = text(&succeed(&["status", path]).stdout);
    assert!(output.contains("dashboard\n  not deployed\n"), "{output}");
}
