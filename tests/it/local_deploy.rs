//! `deploy up`, `status` and `destroy` end to end against the local stand-in that
//! `make local-up` starts (moto with the project's plugin, MariaDB, cargo-lambda), with
//! the real function zips of `make lambdas`. One test, because each step starts from the
//! state the previous one left.
#![cfg(feature = "aws")]

use crate::common;

use std::path::{Path, PathBuf};

use crate::cli::Deploy;
use common::{assert_moto_is_up, assert_nothing_left, deploy, json, lambda_dir, succeed, text};
use deploy::aws::AwsContext;
use deploy::env::Environment;
use serde_json::Value;

/// environments/local.yaml, copied so the test can change it, pointed at the stand-in
/// where `make local-up` started it.
struct LocalEnvironment {
    dir: tempfile::TempDir,
}

impl LocalEnvironment {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("local.yaml"), common::local_yaml()).unwrap();
        LocalEnvironment { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("local.yaml")
    }

    fn edit(&self, from: &str, to: &str) {
        let text = std::fs::read_to_string(self.path()).unwrap();
        assert!(text.contains(from), "{from:?} is not in local.yaml");
        std::fs::write(self.path(), text.replacen(from, to, 1)).unwrap();
    }

    fn load(&self) -> Environment {
        deploy::env::load(&self.path()).unwrap()
    }
}

fn up(environment: &LocalEnvironment) -> Value {
    json(&common::up(environment.path().to_str().unwrap()))
}

/// Each stack's result in an `up` report, sorted by stack name.
fn results(report: &Value) -> Vec<(String, String)> {
    let mut results: Vec<(String, String)> = report["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["stack"].as_str().unwrap().to_string(),
                s["result"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    results.sort();
    results
}

#[tokio::test(flavor = "multi_thread")]
async fn up_twice_change_one_setting_destroy_fail_loudly_recover_destroy_twice() {
    let _stand_in = common::stand_in();
    let environment = LocalEnvironment::new();
    let env = environment.load();
    assert_moto_is_up(&env);
    let path = environment.path();
    let path = path.to_str().unwrap();
    let aws = AwsContext::load(&env, None).await;
    let prefix = env.name_prefix();

    // A clean slate, whatever an earlier run left; destroy on nothing succeeds.
    succeed(&["destroy", path, "--yes"]);

    // 1. From nothing: every stack is created.
    let report = up(&environment);
    assert_eq!(report["succeeded"], true, "{report:#}");
    let created = results(&report);
    assert_eq!(created.len(), 9, "{created:?}");
    assert!(
        created.iter().all(|(_, result)| result == "created"),
        "{created:?}"
    );

    // The RDS API shows the global cluster: us-east-1 writes, us-east-2 is a member
    // that asked for write forwarding.
    let topology = deploy::topology::read(&aws, "us-east-1", &prefix)
        .await
        .unwrap()
        .unwrap();
    let writer = topology.writer().unwrap();
    assert_eq!(writer.region, "us-east-1");
    let secondary = topology.members.iter().find(|m| !m.is_writer).unwrap();
    assert_eq!(secondary.region, "us-east-2");
    let clusters = aws
        .rds("us-east-2")
        .describe_db_clusters()
        .db_cluster_identifier(secondary.cluster_arn.rsplit(':').next().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        clusters.db_clusters()[0].global_write_forwarding_requested(),
        Some(true)
    );

    // The secret exists in both Regions; the functions, the state machine and the zips
    // in each.
    let secret = env.master_secret_name();
    for region in ["us-east-1", "us-east-2"] {
        aws.secrets_manager(region)
            .describe_secret()
            .secret_id(&secret)
            .send()
            .await
            .unwrap();
        for function in ["preprocess", "dbprocess", "postprocess", "migrate"] {
            aws.lambda(region)
                .get_function()
                .function_name(format!("{prefix}-{function}"))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{function} in {region}: {e:?}"));
        }
        let pipeline = format!("{prefix}-pipeline-{region}");
        let resources = aws
            .cloudformation(region)
            .describe_stack_resources()
            .stack_name(&pipeline)
            .send()
            .await
            .unwrap();
        assert!(
            resources.stack_resources().iter().any(|r| r.resource_type()
                == Some("AWS::StepFunctions::StateMachine")
                && r.physical_resource_id()
                    .is_some_and(|id| id.contains(":stateMachine:"))),
            "no state machine in {pipeline}"
        );
        let assets = aws
            .cloudformation(region)
            .describe_stacks()
            .stack_name(format!("{prefix}-assets-{region}"))
            .send()
            .await
            .unwrap();
        let bucket = assets.stacks()[0]
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some("AssetsBucketName"))
            .and_then(|o| o.output_value())
            .unwrap()
            .to_string();
        let zips = aws
            .s3(region)
            .list_objects_v2()
            .bucket(&bucket)
            .prefix("lambda/")
            .send()
            .await
            .unwrap();
        assert_eq!(zips.contents().len(), 4, "zips in {bucket}");
    }

    // `status` shows it all, from the live topology.
    let status: Value =
        serde_json::from_slice(&succeed(&["status", path, "--output", "json"]).stdout).unwrap();
    assert!(status["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"].as_str().unwrap().ends_with("_COMPLETE")));
    assert_eq!(
        status["global_database"]["members"][0]["region"],
        "us-east-1"
    );
    assert_eq!(status["global_database"]["members"][0]["is_writer"], true);

    // Sample reviews go to the pending prefix of both Regions; status counts them.
    succeed(&["data", "upload", path, "samples/reviews"]);
    let status: Value =
        serde_json::from_slice(&succeed(&["status", path, "--output", "json"]).stdout).unwrap();
    let pending: Vec<u64> = status["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["pending"].as_u64().unwrap())
        .collect();
    assert_eq!(pending, [3, 3], "{status:#}");

    // 2. Nothing changed: nothing is updated, and each stack says so.
    let report = up(&environment);
    assert!(
        results(&report)
            .iter()
            .all(|(_, result)| result == "no changes"),
        "{report:#}"
    );

    // 3. One pipeline setting: `diff` shows that only the pipeline stacks would change,
    // and changes nothing; then `up` updates only them.
    environment.edit("batch_size: 1000", "batch_size: 250");
    let lambdas = lambda_dir();
    let diff: Value = serde_json::from_slice(
        &succeed(&[
            "diff",
            path,
            "--output",
            "json",
            "--lambda-dir",
            lambdas.to_str().unwrap(),
        ])
        .stdout,
    )
    .unwrap();
    for (stack, result) in results(&diff) {
        let expected = if stack.contains("-pipeline-") {
            "would change"
        } else {
            "no changes"
        };
        assert_eq!(result, expected, "{stack}");
    }
    let report = up(&environment);
    for (stack, result) in results(&report) {
        let expected = if stack.contains("-pipeline-") {
            "updated"
        } else {
            "no changes"
        };
        assert_eq!(result, expected, "{stack}");
    }

    // 4. Destroy leaves nothing.
    succeed(&["destroy", path, "--yes"]);
    assert_nothing_left(&aws, &env).await;

    // 5. From nothing again, with a template that the stand-in rejects as AWS would: a
    // password on the cross-Region replica. The deploy stops at that wave with the root
    // cause, naming the resource.
    let mut rendered = deploy::render::render(&env).unwrap();
    let secondary_database = rendered
        .templates
        .iter_mut()
        .find(|t| t.stack == format!("{prefix}-database-us-east-2"))
        .unwrap();
    secondary_database.body = secondary_database.body.replacen(
        "      GlobalClusterIdentifier:",
        "      MasterUserPassword: not-allowed-here\n      GlobalClusterIdentifier:",
        1,
    );
    assert!(secondary_database.body.contains("not-allowed-here"));
    let error = deploy_rendered(&env, &aws, &rendered).await.unwrap_err();
    assert!(
        error.contains("Cannot specify password for cross region replication cluster"),
        "{error}"
    );
    assert!(
        error.contains(&format!("{prefix}-database-us-east-2 (us-east-2)")),
        "{error}"
    );
    assert!(
        !error.contains("not-allowed-here"),
        "the template's values are not echoed: {error}"
    );

    // 6. The next `up` finds the failed stack in ROLLBACK_COMPLETE, deletes it (asked,
    // and approved by --yes) and creates it again; the rest is unchanged.
    let stuck = format!("{prefix}-database-us-east-2");
    let state = aws
        .cloudformation("us-east-2")
        .describe_stacks()
        .stack_name(&stuck)
        .send()
        .await
        .unwrap();
    assert_eq!(
        state.stacks()[0].stack_status().unwrap().as_str(),
        "ROLLBACK_COMPLETE"
    );
    let report = up(&environment);
    for (stack, result) in results(&report) {
        let expected =
            if stack == stuck || stack.contains("-pipeline-") || stack.contains("-monitoring-") {
                "created"
            } else {
                "no changes"
            };
        assert_eq!(result, expected, "{stack}");
    }

    // 7. Destroy leaves nothing; a second destroy succeeds.
    succeed(&["destroy", path, "--yes"]);
    assert_nothing_left(&aws, &env).await;
    succeed(&["destroy", path, "--yes"]);

    // 8. With deletion protection on, destroy refuses without --force, and with it needs
    // the environment's name typed; then it turns protection off and removes everything.
    environment.edit("deletion_protection: false", "deletion_protection: true");
    up(&environment);
    let refused = deploy(&["destroy", path, "--yes"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("deletion protection is on"),
        "{}",
        text(&refused.stderr)
    );
    let typed = |name: &str| {
        Deploy::new(["destroy", path, "--yes", "--force"])
            .stdin(format!("{name}\n"))
            .run()
            .output
    };
    let wrong = typed("prod");
    assert_eq!(wrong.status.code(), Some(1));
    assert!(
        text(&wrong.stderr).contains("nothing was deleted"),
        "{}",
        text(&wrong.stderr)
    );
    assert!(deploy::topology::read(&aws, "us-east-1", &prefix)
        .await
        .unwrap()
        .is_some());
    let right = typed(&env.environment);
    assert!(right.status.success(), "{}", text(&right.stderr));
    assert_nothing_left(&aws, &env).await;
}

/// Deploys already-rendered templates through the library's wave runner (as `up` does).
async fn deploy_rendered(
    env: &Environment,
    aws: &AwsContext,
    rendered: &deploy::render::Rendered,
) -> Result<(), String> {
    struct Yes;
    impl deploy::prompt::Confirm for Yes {
        fn confirm(&self, _: &str) -> bool {
            true
        }
    }
    let progress: std::sync::Arc<dyn deploy::progress::Progress> =
        std::sync::Arc::new(deploy::progress::Printer::plain());
    let discovered = deploy::deployment::preflight::preflight(env, aws)
        .await
        .map_err(|e| e.to_string())?;
    let zips = deploy::deployment::bundle::load_zips(Path::new(&lambda_dir()))
        .map_err(|e| e.to_string())?;
    let mut known = deploy::deployment::waves::Known {
        discovered: discovered.discovered,
        ..Default::default()
    };
    for zip in &zips {
        known.code_keys.insert(zip.function, zip.key());
    }
    let runner = deploy::deployment::waves::WaveRunner {
        aws,
        rendered,
        progress,
        confirm: &Yes,
        options: deploy::deployment::waves::RunOptions {
            dry_run: false,
            poll: std::time::Duration::from_millis(100),
        },
    };
    let mut outcomes = Vec::new();
    for wave in &rendered.plan.waves {
        runner
            .run_wave(wave, &mut known, &mut outcomes)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
