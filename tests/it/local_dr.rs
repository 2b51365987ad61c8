//! `deploy switchover` and `deploy failover` end to end against the local stand-in that
//! `make local-up` starts (moto with the project's plugin), then `status`, `up` and
//! `destroy` on the moved topology. One test, because each step starts from the state the
//! previous one left. Its environment is named `dr`, so its stacks and global cluster
//! never meet those of tests deploying `local` on the same moto.
#![cfg(feature = "aws")]

use crate::common;

use common::{
    assert_moto_is_up, assert_nothing_left, deploy, environment_named, json, succeed, text, up,
};
use deploy::aws::AwsContext;
use serde_json::Value;

/// Refused as a usage error (exit 2), with `needle` in the message.
#[track_caller]
fn refused(args: &[&str], needle: &str) -> String {
    let output = deploy(args);
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "deploy {}: {stderr}",
        args.join(" ")
    );
    assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
    stderr
}

/// (region, is_writer, write forwarding) of each member, the writer first.
fn members(topology: &Value) -> Vec<(String, bool, Option<String>)> {
    topology["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["region"].as_str().unwrap().to_string(),
                m["is_writer"].as_bool().unwrap(),
                m["write_forwarding"].as_str().map(str::to_string),
            )
        })
        .collect()
}

async fn live_writer(aws: &AwsContext, prefix: &str) -> String {
    deploy::topology::read(aws, "us-east-2", prefix)
        .await
        .unwrap()
        .expect("the global cluster exists")
        .writer()
        .expect("a writer")
        .region
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn switchover_then_up_keeps_the_writer_failover_needs_consent_destroy_leaves_nothing() {
    let _stand_in = common::stand_in();
    let dir = tempfile::tempdir().unwrap();
    let file = environment_named(dir.path(), "dr");
    let path = file.to_str().unwrap();
    let env = deploy::env::load(&file).unwrap();
    assert_moto_is_up(&env);
    let aws = AwsContext::load(&env, None).await;
    let prefix = env.name_prefix();
    assert_eq!(prefix, "book-reviews-dr");

    // A clean slate, whatever an earlier run left.
    succeed(&["destroy", path, "--yes"]);
    let report = json(&up(path));
    assert_eq!(report["succeeded"], true, "{report:#}");

    // Before: the file's primary writes, and status has nothing to note.
    let status = json(&succeed(&["status", path, "--output", "json"]));
    assert_eq!(
        members(&status["global_database"]),
        [
            ("us-east-1".into(), true, None),
            ("us-east-2".into(), false, Some("enabled".into())),
        ]
    );
    assert!(status.get("note").is_none(), "{status:#}");

    // 1. A planned switchover to us-east-2: the report shows before and after.
    let output = succeed(&[
        "switchover",
        path,
        "--to",
        "us-east-2",
        "--yes",
        "--output",
        "json",
    ]);
    let report = json(&output);
    assert_eq!(report["operation"], "switchover");
    assert_eq!(
        (&report["from"], &report["to"]),
        (&"us-east-1".into(), &"us-east-2".into())
    );
    assert_eq!(
        members(&report["before"])[0],
        ("us-east-1".into(), true, None)
    );
    assert_eq!(
        members(&report["after"]),
        [
            ("us-east-2".into(), true, None),
            // The old primary forwards writes now: the file gives it forwarding.
            ("us-east-1".into(), false, Some("enabled".into())),
        ]
    );
    assert!(report["seconds"].as_f64().unwrap() >= 0.0);
    assert!(report["note"]
        .as_str()
        .unwrap()
        .contains("not the file's primary us-east-1"));

    // RDS itself says so, and the old primary's cluster reports forwarding on.
    assert_eq!(live_writer(&aws, &prefix).await, "us-east-2");
    let clusters = aws
        .rds("us-east-1")
        .describe_db_clusters()
        .db_cluster_identifier(format!("{prefix}-us-east-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        clusters.db_clusters()[0]
            .global_write_forwarding_status()
            .map(|s| s.as_str()),
        Some("enabled")
    );

    // 2. status reports the real writer and notes that it is not the file's primary.
    let status = succeed(&["status", path]);
    let status_text = text(&status.stdout);
    assert!(
        status_text.contains("us-east-2       writer"),
        "{status_text}"
    );
    assert!(
        status_text.contains("the live writer is us-east-2, not the file's primary us-east-1"),
        "{status_text}"
    );

    // 3. up with the unchanged file succeeds, says the writer moved, changes no stack
    // (nothing moves the writer back, no change to global-cluster membership), and leaves
    // the writer where it is.
    let output = up(path);
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("the file's primary is us-east-1 but the live writer is us-east-2"),
        "{stderr}"
    );
    let report = json(&output);
    for stack in report["stacks"].as_array().unwrap() {
        assert_eq!(stack["result"], "no changes", "{stack:#}");
    }
    assert_eq!(live_writer(&aws, &prefix).await, "us-east-2");

    // 4. A failover without consent to lose data is refused before any call.
    let stderr = refused(
        &["failover", path, "--to", "us-east-1", "--yes"],
        "--allow-data-loss",
    );
    assert!(stderr.contains("are lost"), "{stderr}");
    assert!(
        stderr.contains(&format!("deploy switchover {path} --to us-east-1")),
        "{stderr}"
    );
    assert_eq!(live_writer(&aws, &prefix).await, "us-east-2");

    // 5. With it, the writer moves back to us-east-1, after a warning.
    let output = succeed(&[
        "failover",
        path,
        "--to",
        "us-east-1",
        "--allow-data-loss",
        "--yes",
    ]);
    let stdout = text(&output.stdout);
    assert!(
        stdout.starts_with(
            "failover of book-reviews-dr: writer moved from us-east-2 to us-east-1 in "
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("after (available)\n  us-east-1       writer\n  us-east-2       secondary  write forwarding enabled\n"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("note:"),
        "back on the file's primary: {stdout}"
    );
    assert!(text(&output.stderr).contains("warning: a failover promotes us-east-1"));
    assert_eq!(live_writer(&aws, &prefix).await, "us-east-1");
    let status = json(&succeed(&["status", path, "--output", "json"]));
    assert!(status.get("note").is_none(), "{status:#}");

    // 6. Moving the writer to where it is, or out of the file's Regions, is refused.
    refused(
        &["switchover", path, "--to", "us-east-1", "--yes"],
        "us-east-1 is already the writer of book-reviews-dr",
    );
    refused(
        &["switchover", path, "--to", "eu-west-1", "--yes"],
        "eu-west-1 is not a Region of book-reviews-dr; --to takes one of: us-east-1, us-east-2",
    );
    assert_eq!(live_writer(&aws, &prefix).await, "us-east-1");

    // 7. Destroy leaves nothing.
    succeed(&["destroy", path, "--yes"]);
    assert_nothing_left(&aws, &env).await;
}
