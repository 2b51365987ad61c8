//! `deploy run` end to end against the local stand-in (moto with the project's plugin,
//! MariaDB): both Regions ingest at once through the real functions, which deploy runs on
//! a cargo-lambda runtime per Region with the configuration CloudFormation gave them.
//! Its environment is named `run`, with its own database and master user, so its stacks
//! and rows never meet those of other tests on the same stand-ins.
#![cfg(feature = "aws")]

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{deploy, environment_named, json, lambda_dir, sql, succeed};
use serde_json::Value;

const DATABASE: &str = "run_db";

fn environment_file(dir: &Path) -> PathBuf {
    let path = environment_named(dir, "run");
    let text = std::fs::read_to_string(&path)
        .unwrap()
        // Several batches per Region, two files at a time.
        .replacen(
            "max_concurrency: 6",
            "max_concurrency: 2\n  files_per_batch: 3",
            1,
        );
    assert!(text.contains(DATABASE) && text.contains("files_per_batch: 3"));
    std::fs::write(&path, text).unwrap();
    path
}

fn region_run<'a>(report: &'a Value, region: &str) -> &'a Value {
    report["regions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["region"] == region)
        .unwrap_or_else(|| panic!("no {region} in {report:#}"))
}

#[test]
fn both_regions_ingest_at_once_bad_lines_and_files_are_reported_a_second_run_has_nothing_to_do() {
    let _stand_in = common::stand_in();
    let dir = tempfile::tempdir().unwrap();
    let env = environment_file(dir.path());
    let env = env.to_str().unwrap();
    succeed(&["destroy", env, "--yes"]);
    sql(&format!("DROP DATABASE IF EXISTS {DATABASE}"));
    succeed(&[
        "up",
        env,
        "--yes",
        "--lambda-dir",
        lambda_dir().to_str().unwrap(),
    ]);

    // Nothing pending: nothing is started, and that is a success.
    let report = json(&succeed(&["run", env, "--wait", "--output", "json"]));
    for region in ["us-east-1", "us-east-2"] {
        assert_eq!(region_run(&report, region)["status"], "NOTHING_TO_DO");
    }

    // Generated reviews, a different set per Region with some reviews in both, three
    // malformed lines per file; and one file that cannot be read at all.
    let data = dir.path().join("reviews");
    let generated = std::process::Command::new("python3")
        .args(["scripts/generate-reviews.py", data.to_str().unwrap()])
        .args(["--files", "4", "--reviews", "150", "--shared", "40"])
        .status()
        .unwrap();
    assert!(generated.success());
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(data.join("manifest.json")).unwrap())
            .unwrap();
    let broken = dir.path().join("broken.json.gz");
    std::fs::write(&broken, b"\x1f\x8b\x08\x00 not really gzip").unwrap();
    for (set, region) in [("set-1", "us-east-1"), ("set-2", "us-east-2")] {
        let set = data.join(set);
        succeed(&[
            "data",
            "upload",
            env,
            set.to_str().unwrap(),
            "--region",
            region,
        ]);
    }
    succeed(&[
        "data",
        "upload",
        env,
        broken.to_str().unwrap(),
        "--region",
        "us-east-1",
    ]);

    // Both Regions at once, several batches each.
    let output = deploy(&["run", env, "--wait", "--output", "json"]);
    let report = json(&output);
    let east1 = region_run(&report, "us-east-1");
    let east2 = region_run(&report, "us-east-2");
    assert_eq!(east2["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(
        (
            &east2["totals"]["files"],
            &east2["totals"]["completed"],
            &east2["totals"]["failed"],
            &east2["totals"]["rejected"]
        ),
        (
            &Value::from(4),
            &Value::from(4),
            &Value::from(0),
            &Value::from(12)
        ),
        "{report:#}"
    );
    // The unreadable file is caught and moved to failed; its siblings complete. The run
    // itself succeeds, but a file was not ingested: exit code 3, and the file with why.
    assert_eq!(east1["status"], "SUCCEEDED", "{report:#}");
    assert_eq!(east1["totals"]["completed"], 4, "{report:#}");
    assert_eq!(east1["totals"]["failed"], 1, "{report:#}");
    assert_eq!(east1["totals"]["rejected"], 12, "{report:#}");
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        common::text(&output.stderr)
    );
    let failures = east1["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{report:#}");
    assert_eq!(failures[0]["key"], "book-reviews/reviews/broken.json.gz");
    assert_eq!(failures[0]["error"], "ReadError", "{report:#}");
    assert!(
        common::text(&output.stderr).contains("1 of 9 files could not be ingested"),
        "{}",
        common::text(&output.stderr)
    );
    for run in [east1, east2] {
        let t = &run["totals"];
        let written = t["inserted"].as_u64().unwrap() + t["present"].as_u64().unwrap();
        assert_eq!(
            written, 600,
            "every good line of 4 × 150 is written or present: {run:#}"
        );
    }
    assert_eq!(
        report["total"]["inserted"].as_u64().unwrap(),
        manifest["distinct_reviews"].as_u64().unwrap(),
        "a review in both sets is inserted once: {report:#}"
    );

    // Each finished file names the run that finished it (the state machine passes its
    // execution ARN), so a retry whose first reply was lost gets that reply again.
    let finished_by = sql(&format!(
        "SELECT DISTINCT finished_by_run FROM {DATABASE}.ingest_objects \
         WHERE status = 'complete' ORDER BY 1"
    ));
    let executions: Vec<String> = [east1, east2]
        .iter()
        .map(|run| run["execution"].as_str().unwrap().to_string())
        .collect();
    let mut expected: Vec<Vec<String>> = executions.into_iter().map(|e| vec![e]).collect();
    expected.sort();
    assert_eq!(finished_by, expected, "{report:#}");

    // MariaDB holds exactly the distinct good reviews, each with the Region that wrote it.
    let by_region = sql(&format!(
        "SELECT region_indicator, COUNT(*) FROM {DATABASE}.reviews GROUP BY 1 ORDER BY 1"
    ));
    let regions: Vec<&str> = by_region.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(regions, ["us-east-1", "us-east-2"], "{by_region:?}");
    let stored: u64 = by_region.iter().map(|r| r[1].parse::<u64>().unwrap()).sum();
    assert_eq!(stored, manifest["distinct_reviews"].as_u64().unwrap());
    // Every malformed line is recorded with its file and line number.
    let rejects: BTreeSet<(String, u64)> = sql(&format!(
        "SELECT object_key, line_no FROM {DATABASE}.review_rejects"
    ))
    .into_iter()
    .map(|r| {
        let file = r[0].rsplit('/').next().unwrap().to_string();
        (file, r[1].parse().unwrap())
    })
    .collect();
    let expected: BTreeSet<(String, u64)> = manifest["malformed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["file"].as_str().unwrap().to_string(),
                m["line"].as_u64().unwrap(),
            )
        })
        .collect();
    // Both sets name their files part-0001.json ...: the same (file, line) may come from
    // both Regions, so compare as sets of what was reported.
    assert_eq!(rejects, expected);

    // The run reports the rejected lines of its files, from their rejects objects.
    let reported: BTreeSet<(String, u64)> = report["regions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["rejects"].as_array().unwrap().iter())
        .flat_map(|f| {
            let file = f["key"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string();
            f["lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |l| (file.clone(), l["line"].as_u64().unwrap()))
        })
        .collect();
    assert_eq!(reported, expected);
    // With the reason each malformed line was written with.
    for file in report["regions"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["rejects"].as_array().unwrap().iter())
    {
        let name = file["key"].as_str().unwrap().rsplit('/').next().unwrap();
        for line in file["lines"].as_array().unwrap() {
            let reason = line["reason"].as_str().unwrap();
            assert!(
                manifest["malformed"].as_array().unwrap().iter().any(|m| {
                    m["file"] == name
                        && m["line"] == line["line"]
                        && reason.starts_with(m["reason"].as_str().unwrap())
                }),
                "{name}:{}: {reason}",
                line["line"]
            );
        }
    }

    // Every pending file is in completed or failed.
    let status = json(&succeed(&["status", env, "--output", "json"]));
    let counts: Vec<(u64, u64, u64)> = status["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["pending"].as_u64().unwrap(),
                b["completed"].as_u64().unwrap(),
                b["failed"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [(0, 4, 1), (0, 4, 0)], "{status:#}");

    // The table people read.
    let text = String::from_utf8(succeed(&["run", env, "--wait"]).stdout).unwrap();
    assert!(text.contains("region") && text.contains("rows/s"), "{text}");
    // A second run finds nothing to do.
    assert!(text.contains("us-east-1       nothing to do"), "{text}");
    assert!(text.contains("us-east-2       nothing to do"), "{text}");

    succeed(&["destroy", env, "--yes"]);
}
