//! The rendered templates against AWS's own linters: `cfn-lint` (no errors, no warnings;
//! a warning may only be ignored by rule id in `.cfnlintrc.yaml`, with its reason) and
//! `cfn-guard` with the project's rules under `guard/`; and against checkov's security
//! checks (none failing; each one accepted carries its reason in the template).
//!
//! The tools are pinned and installed by `make tools`; the Makefile exports their paths
//! as `CFN_LINT`, `CFN_GUARD` and `CHECKOV`. A missing tool fails the test: a check that silently
//! passes when it cannot run is worse than none.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Output};

use deploy::env::Environment;
use deploy::render::render;

const ENVIRONMENTS: [&str; 2] = [
    "environments/prod.yaml",
    "tests/fixtures/three-secondaries.yaml",
];

/// At run time: a test binary from a target directory shared with another clone keeps that
/// clone's compile-time path.
fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo"))
}

fn load(relative: &str) -> Environment {
    deploy::env::load(&manifest_dir().join(relative))
        .unwrap_or_else(|problems| panic!("{relative} is invalid:\n{problems}"))
}

/// Renders into a fresh directory; returns it with the templates' paths by Region.
fn render_to_dir(environment: &Environment) -> (tempfile::TempDir, BTreeMap<String, Vec<PathBuf>>) {
    let dir = tempfile::tempdir().unwrap();
    let rendered = render(environment).expect("renders");
    rendered.write_to(dir.path()).expect("writes");
    let mut by_region: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for template in &rendered.templates {
        by_region
            .entry(template.region.clone())
            .or_default()
            .push(dir.path().join(&template.path));
    }
    (dir, by_region)
}

/// A pinned tool: `$VARIABLE` if set, else where `make tools` puts it.
fn tool(variable: &str, default: PathBuf) -> PathBuf {
    let path = std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or(default);
    let path = if path.is_relative() {
        manifest_dir().join(path)
    } else {
        path
    };
    assert!(
        path.is_file(),
        "{} not found (${variable}); run `make tools` to install the pinned linters",
        path.display()
    );
    path
}

fn cfn_lint() -> PathBuf {
    tool("CFN_LINT", PathBuf::from(".venv/bin/cfn-lint"))
}

fn cfn_guard() -> PathBuf {
    let home = PathBuf::from(std::env::var_os("HOME").expect("HOME is set"));
    tool(
        "CFN_GUARD",
        home.join(".cache/deploy-tools/cfn-guard-3.2.1/bin/cfn-guard"),
    )
}

fn checkov() -> PathBuf {
    let home = PathBuf::from(std::env::var_os("HOME").expect("HOME is set"));
    tool(
        "CHECKOV",
        home.join(".cache/deploy-tools/checkov-3.3.30/bin/checkov"),
    )
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn cfn_lint_finds_no_errors_and_no_warnings() {
    let cfn_lint = cfn_lint();
    for file in ENVIRONMENTS {
        let (_dir, by_region) = render_to_dir(&load(file));
        for (region, templates) in by_region {
            // Region-specific checks (instance classes, engine versions, services) need
            // the Region each template deploys to. The working directory is the
            // repository, so `.cfnlintrc.yaml` applies if there is one.
            let output = Command::new(&cfn_lint)
                .current_dir(manifest_dir())
                .args(["--format", "parseable", "--regions", &region, "--"])
                .args(&templates)
                .output()
                .expect("cfn-lint runs");
            assert!(
                output.status.success() && output.stdout.is_empty(),
                "cfn-lint on {file} ({region}) exited {}:\n{}",
                output.status,
                text(&output)
            );
        }
    }
}

/// The rules the project's guard files define, as `file.guard/rule`.
fn guard_rules() -> BTreeSet<String> {
    let mut rules = BTreeSet::new();
    for entry in std::fs::read_dir(manifest_dir().join("guard")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "guard") {
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                if let Some(rest) = line.strip_prefix("rule ") {
                    let name = rest.split_whitespace().next().unwrap();
                    rules.insert(format!("{file}/{name}"));
                }
            }
        }
    }
    assert!(rules.len() >= 10, "guard rules: {rules:?}");
    rules
}

/// Runs cfn-guard with the project's rules; returns each rule's statuses
/// (`PASS`/`FAIL`/`SKIP`, over all the files) and the exit code.
fn run_guard(
    data: &[PathBuf],
    environment: &Environment,
) -> (BTreeMap<String, BTreeSet<String>>, Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    // The environment's own settings, for deletion_protection.guard; from the file, not
    // from the rendered templates, so a renderer that drops the setting is caught.
    let parameters = dir.path().join("environment.json");
    std::fs::write(
        &parameters,
        serde_json::json!({"Deploy": {
            "Environment": environment.environment,
            "DeletionProtection": environment.safety.deletion_protection,
        }})
        .to_string(),
    )
    .unwrap();
    let mut command = Command::new(cfn_guard());
    command
        .current_dir(manifest_dir())
        .args(["validate", "--rules", "guard", "--show-summary", "all"])
        .arg("--input-params")
        .arg(&parameters);
    for file in data {
        command.arg("--data").arg(file);
    }
    let output = command.output().expect("cfn-guard runs");
    let text = text(&output);
    // cfn-guard reports a rule file it cannot parse and still exits 0.
    assert!(
        !text.contains("Parsing error") && !text.contains("Parser Error"),
        "a guard rule file does not parse:\n{text}"
    );
    let mut statuses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if let (Some(rule), Some(status), None) = (words.next(), words.next(), words.next()) {
            if rule.contains(".guard/") && ["PASS", "FAIL", "SKIP"].contains(&status) {
                statuses
                    .entry(rule.to_string())
                    .or_default()
                    .insert(status.to_string());
            }
        }
    }
    (statuses, output.status.code(), text)
}

#[test]
fn cfn_guard_rules_pass() {
    let rules = guard_rules();
    for file in ENVIRONMENTS {
        let environment = load(file);
        let (_dir, by_region) = render_to_dir(&environment);
        let templates: Vec<PathBuf> = by_region.into_values().flatten().collect();
        let (statuses, code, text) = run_guard(&templates, &environment);
        assert_eq!(code, Some(0), "cfn-guard on {file}:\n{text}");
        let failed: Vec<&String> = statuses
            .iter()
            .filter(|(_, s)| s.contains("FAIL"))
            .map(|(rule, _)| rule)
            .collect();
        assert!(failed.is_empty(), "{file}: {failed:?}\n{text}");
        // Every rule ran (a rule file that silently failed to load would be missing).
        let seen: BTreeSet<String> = statuses.keys().cloned().collect();
        assert_eq!(seen, rules, "{file}: rules evaluated");
        // And the rules that matter for these templates really checked something.
        let mut must_pass = vec![
            "encryption.guard/bucket_default_encryption",
            "encryption.guard/cluster_storage_encrypted",
            "encryption.guard/global_cluster_storage_encrypted",
            "encryption.guard/secret_customer_managed_key",
            "public_access.guard/bucket_public_access_blocked",
            "public_access.guard/bucket_owner_enforced",
            "public_access.guard/db_instance_not_public",
            "iam.guard/iam_role_no_wildcard_actions",
        ];
        if environment.safety.deletion_protection {
            must_pass.push("deletion_protection.guard/cluster_deletion_protection");
        }
        for rule in must_pass {
            assert!(
                statuses[rule].contains("PASS"),
                "{file}: {rule} checked nothing: {:?}",
                statuses[rule]
            );
        }
    }
}

/// A template that breaks every rule: the rules must catch each problem.
const BAD_TEMPLATE: &str = r#"
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties: {}
  BucketPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: {Ref: Bucket}
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: "*"
            Action: "s3:*"
            Resource: "*"
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument: {}
      Policies:
        - PolicyName: everything
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Effect: Allow
                Action: "*"
                Resource: "*"
  Policy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Action: ["s3:GetObject", "ec2:*"]
            Resource: "*"
  GlobalCluster:
    Type: AWS::RDS::GlobalCluster
    Properties:
      DeletionProtection: false
  Cluster:
    Type: AWS::RDS::DBCluster
    Properties:
      StorageEncrypted: false
      DeletionProtection: false
  Instance:
    Type: AWS::RDS::DBInstance
    Properties:
      PubliclyAccessible: true
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties: {}
"#;

#[test]
fn cfn_guard_rules_fail_on_a_bad_template() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, BAD_TEMPLATE).unwrap();
    let mut environment = load("environments/prod.yaml");
    // Prod without deletion protection breaks the policy rule too.
    environment.safety.deletion_protection = false;
    let (statuses, code, text) = run_guard(&[bad], &environment);
    assert_eq!(code, Some(19), "cfn-guard exits 19 on failures:\n{text}");
    let failed: BTreeSet<&str> = statuses
        .iter()
        .filter(|(_, s)| s.contains("FAIL"))
        .map(|(rule, _)| rule.as_str())
        .collect();
    for rule in [
        "encryption.guard/bucket_default_encryption",
        "encryption.guard/cluster_storage_encrypted",
        "encryption.guard/global_cluster_storage_encrypted",
        "encryption.guard/secret_customer_managed_key",
        "public_access.guard/bucket_public_access_blocked",
        "public_access.guard/bucket_owner_enforced",
        "public_access.guard/db_instance_not_public",
        "iam.guard/iam_role_no_wildcard_actions",
        "iam.guard/iam_policy_no_wildcard_actions",
        "iam.guard/bucket_policy_no_wildcard_allows",
        "deletion_protection.guard/prod_asks_for_deletion_protection",
    ] {
        assert!(failed.contains(rule), "{rule} did not fail:\n{text}");
    }
}

#[test]
fn cfn_guard_requires_deletion_protection_when_the_environment_asks() {
    // A renderer that ignored `safety.deletion_protection` would be caught: the
    // environment says on, the template says off.
    let environment = load("environments/prod.yaml");
    let (dir, by_region) = render_to_dir(&environment);
    let primary_database = dir.path().join("us-east-1/database.yaml");
    let body = std::fs::read_to_string(&primary_database).unwrap();
    assert!(body.contains("DeletionProtection: true"));
    std::fs::write(
        &primary_database,
        body.replace("DeletionProtection: true", "DeletionProtection: false"),
    )
    .unwrap();
    let templates: Vec<PathBuf> = by_region.into_values().flatten().collect();
    let (statuses, code, text) = run_guard(&templates, &environment);
    assert_eq!(code, Some(19), "{text}");
    assert!(
        statuses["deletion_protection.guard/cluster_deletion_protection"].contains("FAIL"),
        "{text}"
    );
}

/// checkov's CloudFormation checks on every rendered template: none fails, and each one a
/// resource skips (`Metadata.checkov.skip`, rendered from the templates) says why.
#[test]
fn checkov_fails_nothing_and_every_skip_has_its_reason() {
    let checkov = checkov();
    for file in ENVIRONMENTS {
        let (dir, _) = render_to_dir(&load(file));
        let output = Command::new(&checkov)
            .args(["--framework", "cloudformation", "--compact"])
            // Offline: no guideline download from the vendor's API.
            .args(["--skip-download", "--output", "json", "--directory"])
            .arg(dir.path())
            .output()
            .expect("checkov runs");
        let report: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|e| panic!("checkov on {file} gave no JSON ({e}):\n{}", text(&output)));
        let reports = match report {
            serde_json::Value::Array(reports) => reports,
            one => vec![one],
        };
        let mut passed = 0;
        for report in &reports {
            let summary = &report["summary"];
            assert_eq!(summary["parsing_errors"], 0, "{file}: {summary}");
            passed += summary["passed"].as_u64().unwrap();
            let failed: Vec<String> = report["results"]["failed_checks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| format!("{} {} ({})", c["check_id"], c["resource"], c["check_name"]))
                .collect();
            assert!(
                failed.is_empty(),
                "{file}: checkov findings with no reason:\n{}",
                failed.join("\n")
            );
            for skipped in report["results"]["skipped_checks"].as_array().unwrap() {
                let reason = skipped["check_result"]["suppress_comment"]
                    .as_str()
                    .unwrap_or("");
                assert!(
                    reason.len() >= 40,
                    "{file}: {} skips {} without a reason: {reason:?}",
                    skipped["resource"],
                    skipped["check_id"]
                );
            }
        }
        assert!(passed > 100, "{file}: checkov ran only {passed} checks");
    }
}
