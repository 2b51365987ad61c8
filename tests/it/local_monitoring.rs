//! The monitoring stack and `deploy status`'s CloudWatch half, end to end against the
//! local stand-in (`make local-up`): the dashboard is deployed in the primary Region with
//! widgets for both Regions, a replication lag datapoint put into the secondary Region's
//! CloudWatch shows up for that member in `status`, and `destroy` removes it all.
//!
//! The environment is `mon<pid>`, not `local`, so these stacks never meet those of the
//! other end-to-end tests on the same moto server, and a rerun on a stand-in that still
//! holds an earlier run's datapoints (CloudWatch cannot delete them) starts without any.
#![cfg(feature = "aws")]

use crate::cli::Deploy;
use crate::common;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use common::{assert_nothing_left, environment_named, json, succeed, text, up};
use deploy::aws::AwsContext;
use serde_json::Value;

const PRIMARY: &str = "us-east-1";
const SECONDARY: &str = "us-east-2";

fn status_json(path: &str) -> Value {
    Deploy::new(["status", path, "--output", "json"])
        .run()
        .success()
        .json()
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
    let _stand_in = common::stand_in();
    let dir = tempfile::tempdir().unwrap();
    let name = format!("mon{}", std::process::id() % 1_000_000);
    let file = environment_named(dir.path(), &name);
    let path = file.to_str().unwrap();
    let env = deploy::env::load(&file).unwrap();
    let endpoint = &env.endpoints.as_ref().unwrap().aws;
    assert!(
        std::net::TcpStream::connect(endpoint.trim_start_matches("http://")).is_ok(),
        "the local stand-in is not running at {endpoint}: run `make local-up`"
    );
    let aws = AwsContext::load(&env, None).await;
    let prefix = env.name_prefix();
    let dashboard = prefix.clone();

    // A clean slate, whatever an earlier run left.
    succeed(&["destroy", path, "--yes"]);

    let report = json(&up(path));
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
    assert_nothing_left(&aws, &env).await;
    let status = status_json(path);
    assert_eq!(status["dashboard_url"], Value::Null);
    let output = text(&succeed(&["status", path]).stdout);
    assert!(output.contains("dashboard\n  not deployed\n"), "{output}");
}
