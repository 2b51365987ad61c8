//! `deploy up` skips `migrate` only when nothing says the schema may be behind
//! (deploy::deployment::migrations): against the local stand-in, with zips changed between runs, and
//! the stand-in's record of every Invoke as the proof of what ran.
#![cfg(feature = "aws")]

use crate::common;

use std::path::Path;

use common::{assert_moto_is_up, json, lambda_dir, stand_in_api, succeed};
use serde_json::Value;

/// `deploy up` with the zips in `zips`, its JSON report.
fn up(path: &str, zips: &Path, extra: &[&str]) -> Value {
    let mut args = vec![
        "up",
        path,
        "--yes",
        "--output",
        "json",
        "--lambda-dir",
        zips.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    json(&succeed(&args))
}

/// What became of migrate in an `up` report: `ran` or `skipped`.
fn migrate(report: &Value) -> String {
    let steps = report["post_deploy"].as_array().unwrap();
    assert_eq!(steps.len(), 1, "{report:#}");
    assert_eq!(steps[0]["function"], "migrate");
    steps[0]["result"].as_str().unwrap().to_string()
}

/// The results of the stacks whose name contains `part`.
fn stacks(report: &Value, part: &str) -> Vec<String> {
    report["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["stack"].as_str().unwrap().contains(part))
        .map(|s| s["result"].as_str().unwrap().to_string())
        .collect()
}

/// Both Regions' pipeline stacks were updated.
#[track_caller]
fn assert_deployed(report: &Value) {
    let pipelines = stacks(report, "-pipeline-");
    assert_eq!(pipelines, ["updated", "updated"], "{report:#}");
}

/// How many times the stand-in's Lambda was asked to invoke `function` in us-east-1.
fn invocations(environment: &deploy::env::Environment, function: &str) -> usize {
    let listed = stand_in_api(
        environment,
        "/moto-api/plugin/lambda-simple/invocations?account_id=123456789012&region=us-east-1",
        None,
    );
    listed["invocations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["function_name"] == function)
        .count()
}

/// A zip with other bytes and the same bootstrap: an entry appended.
fn change(zip: &Path, note: &str) {
    let status = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], 'a'); z.writestr('changed.txt', sys.argv[2]); z.close()",
            zip.to_str().unwrap(),
            note,
        ])
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn migrate_runs_when_anything_changed_and_is_skipped_when_nothing_did() {
    let _stand_in = common::stand_in();
    let dir = tempfile::tempdir().unwrap();
    let path = common::environment_named(dir.path(), "migskip");
    let path = path.to_str().unwrap();
    let environment = deploy::env::load(Path::new(path)).unwrap();
    assert_moto_is_up(&environment);
    let function = format!("{}-migrate", environment.name_prefix());
    succeed(&["destroy", path, "--yes"]);

    // The zips, copied so the test can change them.
    let zips = dir.path().join("zips");
    for f in ["preprocess", "dbprocess", "postprocess", "migrate"] {
        std::fs::create_dir_all(zips.join(f)).unwrap();
        std::fs::copy(
            lambda_dir().join(f).join("bootstrap.zip"),
            zips.join(f).join("bootstrap.zip"),
        )
        .unwrap();
    }

    // 1. A first deploy migrates, and records it.
    let before = invocations(&environment, &function);
    let report = up(path, &zips, &[]);
    assert_eq!(migrate(&report), "ran", "{report:#}");
    assert!(report["post_deploy"][0]["record"]
        .as_str()
        .unwrap()
        .contains("/migrated/cluster-"));
    assert_eq!(invocations(&environment, &function), before + 1);

    // 2. Nothing changed: no stack, no migrate.
    let report = up(path, &zips, &[]);
    assert!(
        report["stacks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["result"] == "no changes"),
        "{report:#}"
    );
    assert_eq!(migrate(&report), "skipped", "{report:#}");
    assert_eq!(invocations(&environment, &function), before + 1);

    // 3. A rotated application secret: migrate gives the user the new password.
    common::rotate_app_secret(&environment, "migskip_app", "R0tatedPassw0rd2");
    let report = up(path, &zips, &[]);
    assert_eq!(migrate(&report), "ran", "{report:#}");
    assert_eq!(invocations(&environment, &function), before + 2);
    let before = before + 1;

    // 4. A changed function is deployed, and migrate runs (a stack changed).
    change(&zips.join("dbprocess/bootstrap.zip"), "dbprocess v2");
    let report = up(path, &zips, &[]);
    assert_deployed(&report);
    assert_eq!(migrate(&report), "ran", "{report:#}");
    assert_eq!(invocations(&environment, &function), before + 2);
    assert_eq!(migrate(&up(path, &zips, &[])), "skipped");

    // 5. A changed migrate (a new schema is a new migrate) is deployed and run, with a
    //    record of its own.
    let old_record = report["post_deploy"][0]["record"].clone();
    change(&zips.join("migrate/bootstrap.zip"), "schema v2");
    let report = up(path, &zips, &[]);
    assert_deployed(&report);
    assert_eq!(migrate(&report), "ran", "{report:#}");
    assert_ne!(report["post_deploy"][0]["record"], old_record);
    assert_eq!(invocations(&environment, &function), before + 3);

    // 6. --migrate runs it whatever the record says.
    let report = up(path, &zips, &["--migrate"]);
    assert_eq!(migrate(&report), "ran", "{report:#}");
    assert_eq!(invocations(&environment, &function), before + 4);

    succeed(&["destroy", path, "--yes"]);
}
