//! A run rides through the writer going away, against the local stand-in that `make
//! local-up` starts: the deployed state machine runs in moto's engine, its tasks the real
//! functions with their own roles, and Aurora's endpoints stand in front of MariaDB
//! (local/moto_plugin). Two runs in both Regions at once: one meets a database outage of
//! 12 s, the other a `deploy switchover` (during which the stand-in refuses connections, as
//! Aurora's writer is unavailable for a while). Each must end with no file failed, exactly
//! the distinct good reviews in the table and exit 0.
//!
//! Each test has its own environment (stacks, global cluster, database, master user), so
//! they run beside the other end-to-end tests on the same stand-ins.
#![cfg(feature = "aws")]

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{
    assert_moto_is_up, deploy, environment_named, generate_reviews, json, sql, stand_in_api,
    succeed, text, up,
};
use deploy::aws::AwsContext;
use deploy::env::Environment;
use serde_json::{json, Value};

/// An environment of its own whose runs take long enough for something to happen in the
/// middle: two files at a time, small batches.
fn environment(dir: &Path, name: &str) -> (String, Environment) {
    let path = environment_named(dir, name);
    let text = std::fs::read_to_string(&path).unwrap().replacen(
        "max_concurrency: 6",
        "max_concurrency: 2\n  files_per_batch: 4",
        1,
    );
    std::fs::write(&path, text).unwrap();
    let environment = deploy::env::load(&path).unwrap();
    assert_moto_is_up(&environment);
    (path.to_str().unwrap().to_string(), environment)
}

/// Deploys a clean environment and uploads a set of generated reviews to each Region.
fn deploy_with_data(dir: &Path, path: &str, name: &str) -> Value {
    succeed(&["destroy", path, "--yes"]);
    sql(&format!("DROP DATABASE IF EXISTS {name}_db"));
    let report = json(&up(path));
    assert_eq!(report["succeeded"], true, "{report:#}");
    let data = dir.join("reviews");
    let manifest = generate_reviews(
        &data,
        &["--files", "8", "--reviews", "600", "--shared", "120"],
    );
    for (set, region) in [("set-1", "us-east-1"), ("set-2", "us-east-2")] {
        let set = data.join(set);
        succeed(&[
            "data",
            "upload",
            path,
            set.to_str().unwrap(),
            "--region",
            region,
        ]);
    }
    manifest
}

/// How many files the run has completed so far, in both Regions.
async fn completed_files(aws: &AwsContext, environment: &Environment) -> usize {
    let mut completed = 0;
    for region in ["us-east-1", "us-east-2"] {
        let Ok(bucket) = deploy::ingestion::data_bucket(environment, aws, region).await else {
            continue;
        };
        let listed = aws
            .s3(region)
            .list_objects_v2()
            .bucket(&bucket)
            .prefix(&environment.pipeline.completed_prefix)
            .send()
            .await
            .unwrap();
        completed += listed
            .contents()
            .iter()
            .filter(|o| o.key().is_some_and(|k| k.ends_with(".json")))
            .count();
    }
    completed
}

/// Runs `deploy run --wait` in the background, calls `disrupt` once the first file has
/// been ingested, and returns the run's output.
async fn run_with(
    path: &str,
    environment: &Environment,
    disrupt: impl FnOnce(),
) -> std::process::Output {
    let aws = AwsContext::load(environment, None).await;
    let args: Vec<String> = ["run", path, "--wait", "--output", "json"]
        .iter()
        .map(|a| a.to_string())
        .collect();
    let run = std::thread::spawn(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        deploy(&args)
    });
    let deadline = Instant::now() + Duration::from_secs(600);
    while completed_files(&aws, environment).await == 0 {
        assert!(
            !run.is_finished(),
            "the run ended before any file was completed"
        );
        assert!(Instant::now() < deadline, "no file completed in 10 minutes");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    disrupt();
    assert!(
        !run.is_finished(),
        "the run ended before the disruption: make it longer"
    );
    run.join().unwrap()
}

/// The run's report says every file completed, and the table holds exactly the distinct
/// good reviews, each once.
fn assert_nothing_lost(output: &std::process::Output, manifest: &Value, name: &str) {
    assert!(
        output.status.success(),
        "the run failed:\n{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let report = json(output);
    for run in report["regions"].as_array().unwrap() {
        assert_eq!(run["status"], "SUCCEEDED", "{report:#}");
        assert_eq!(run["totals"]["failed"], 0, "{report:#}");
        assert_eq!(run["totals"]["completed"], 8, "{report:#}");
    }
    let distinct = manifest["distinct_reviews"].as_u64().unwrap();
    assert_eq!(
        report["total"]["inserted"].as_u64().unwrap(),
        distinct,
        "each stored row counted once in the run's report: {report:#}"
    );
    let stored = sql(&format!("SELECT COUNT(*) FROM {name}_db.reviews"));
    assert_eq!(stored[0][0].parse::<u64>().unwrap(), distinct);
    let rejects = sql(&format!("SELECT COUNT(*) FROM {name}_db.review_rejects"));
    assert_eq!(
        rejects[0][0].parse::<u64>().unwrap(),
        manifest["malformed_lines"].as_u64().unwrap()
    );
}

fn retry_waits(environment: &Environment) -> usize {
    stand_in_api(
        environment,
        "/moto-api/plugin/stepfunctions/retry-waits",
        None,
    )["waits"]
        .as_array()
        .map_or(0, Vec::len)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_rides_through_a_database_outage() {
    let _stand_in = common::stand_in();
    let dir = tempfile::tempdir().unwrap();
    let name = "outage";
    let (path, environment) = environment(dir.path(), name);
    let manifest = deploy_with_data(dir.path(), &path, name);
    let waits_before = retry_waits(&environment);

    let output = run_with(&path, &environment, || {
        stand_in_api(
            &environment,
            "/moto-api/plugin/rds/outage",
            Some(&json!({"seconds": 12, "global_cluster": environment.name_prefix()})),
        );
    })
    .await;

    assert_nothing_lost(&output, &manifest, name);
    // The outage was felt: files in flight met it and were retried.
    assert!(
        retry_waits(&environment) > waits_before,
        "no retry: the outage did not overlap the run"
    );
    succeed(&["destroy", &path, "--yes"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_rides_through_a_switchover() {
    let _stand_in = common::stand_in();
    let dir = tempfile::tempdir().unwrap();
    let name = "moving";
    let (path, environment) = environment(dir.path(), name);
    let manifest = deploy_with_data(dir.path(), &path, name);

    let switch_path = path.clone();
    let output = run_with(&path, &environment, move || {
        succeed(&["switchover", &switch_path, "--to", "us-east-2", "--yes"]);
    })
    .await;

    assert_nothing_lost(&output, &manifest, name);
    // The writer moved during the run; both Regions kept writing, each in its new role.
    let status = json(&succeed(&["status", &path, "--output", "json"]));
    let writer = status["global_database"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["is_writer"] == true)
        .unwrap()["region"]
        .clone();
    assert_eq!(writer, "us-east-2", "{status:#}");
    let regions = sql(&format!(
        "SELECT DISTINCT region_indicator FROM {name}_db.reviews ORDER BY 1"
    ));
    assert_eq!(regions, [["us-east-1"], ["us-east-2"]]);
    succeed(&["switchover", &path, "--to", "us-east-1", "--yes"]);
    succeed(&["destroy", &path, "--yes"]);
}
