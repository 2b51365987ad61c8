//! The stand-in enforces IAM as AWS does, and the functions run with their own roles
//! (local/moto_plugin: iam.py, awslambda.py): a permission missing from a deployed role
//! fails the run here as it would on AWS. The role is changed the way an operator would,
//! through the IAM API (boto3 from the project's venv: deploy has no IAM client).
#![cfg(feature = "aws")]

use crate::common;

use common::{
    assert_moto_is_up, deploy, environment_named, generate_reviews, json, sql, succeed, text, up,
};
use serde_json::Value;

/// Runs Python with boto3 against the stand-in as its administrator.
fn boto3(endpoint: &str, script: &str) -> String {
    let output = std::process::Command::new(".venv/bin/python")
        .args(["-c", script, endpoint])
        .output()
        .expect("the project's venv (make test creates it)");
    assert!(
        output.status.success(),
        "{script}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

const IAM: &str = "import sys, json, boto3\n\
iam = boto3.client('iam', endpoint_url=sys.argv[1], region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test')\n";

#[test]
fn a_permission_taken_from_a_function_role_fails_the_run_and_given_back_it_completes() {
    let _stand_in = common::stand_in();
    let dir = tempfile::tempdir().unwrap();
    let file = environment_named(dir.path(), "perm");
    let path = file.to_str().unwrap();
    let environment = deploy::env::load(&file).unwrap();
    assert_moto_is_up(&environment);
    let endpoint = environment.endpoints.as_ref().unwrap().aws.clone();
    succeed(&["destroy", path, "--yes"]);
    sql("DROP DATABASE IF EXISTS perm_db");
    let report = json(&up(path));
    assert_eq!(report["succeeded"], true, "{report:#}");
    let data = dir.path().join("reviews");
    generate_reviews(
        &data,
        &[
            "--sets",
            "1",
            "--files",
            "2",
            "--reviews",
            "50",
            "--shared",
            "0",
        ],
    );
    let set = data.join("set-1");
    succeed(&[
        "data",
        "upload",
        path,
        set.to_str().unwrap(),
        "--region",
        "us-east-1",
    ]);

    // postprocess may no longer read what it copied: the HeadObject that checks the copy is
    // refused (403), so the file cannot be moved, and the run fails with it still pending.
    // CloudFormation names it <stack>-PostprocessRole-<suffix>.
    let original = boto3(
        &endpoint,
        &format!(
            "{IAM}roles = [r['RoleName'] for r in iam.list_roles()['Roles'] if r['RoleName'].startswith('book-reviews-perm-pipeline') and 'PostprocessRole' in r['RoleName'] and 'us-east-1' in r['RoleName']]\n\
             name = roles[0]\n\
             policy = iam.get_role_policy(RoleName=name, PolicyName='postprocess')['PolicyDocument']\n\
             print(json.dumps({{'role': name, 'policy': policy}}))"
        ),
    );
    let original: Value = serde_json::from_str(&original).unwrap();
    let role_name = original["role"].as_str().unwrap();
    let mut narrowed = original["policy"].clone();
    for statement in narrowed["Statement"].as_array_mut().unwrap() {
        if statement["Sid"] == "PutFinishedFiles" {
            statement["Action"] = Value::from("s3:PutObject");
        }
    }
    let put_policy = |document: &Value| {
        boto3(
            &endpoint,
            &format!(
                "{IAM}iam.put_role_policy(RoleName='{role_name}', PolicyName='postprocess', PolicyDocument={})",
                serde_json::to_string(&document.to_string()).unwrap()
            ),
        );
    };
    put_policy(&narrowed);
    let output = deploy(&["run", path, "--region", "us-east-1", "--wait"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let status = json(&succeed(&["status", path, "--output", "json"]));
    let east1 = &status["buckets"][0];
    assert_eq!(east1["region"], "us-east-1", "{status:#}");
    // Copied, but never deleted from pending: the move did not complete.
    assert_eq!(east1["pending"], 2, "{status:#}");
    assert!(
        text(&output.stderr).contains("the run failed in us-east-1"),
        "{}",
        text(&output.stderr)
    );

    // Given back, the next run completes both files (their rows were already in).
    put_policy(&original["policy"]);
    let report = json(&succeed(&[
        "run",
        path,
        "--region",
        "us-east-1",
        "--wait",
        "--output",
        "json",
    ]));
    assert_eq!(report["total"]["completed"], 2, "{report:#}");
    assert_eq!(report["total"]["failed"], 0, "{report:#}");
    succeed(&["destroy", path, "--yes"]);
}
