//! Failed files back in one command, against the local stand-in: `deploy data failed` lists
//! a failed file with the reason from its report, `deploy data requeue` moves the file (never
//! its report) back to pending, and a report moved into pending by hand is refused by the
//! pipeline instead of being ingested as reviews.
#![cfg(feature = "aws")]

use crate::common;

use std::path::Path;

use common::{assert_moto_is_up, deploy, environment_named, json, sql, succeed, text, up};
use deploy::aws::AwsContext;
use serde_json::Value;

const REGION: &str = "us-east-1";

/// The Region's data bucket, through the SDK as the stand-in's administrator.
struct Bucket {
    runtime: tokio::runtime::Runtime,
    s3: aws_sdk_s3::Client,
    name: String,
}

impl Bucket {
    fn of(env: &Path) -> Bucket {
        let environment = deploy::env::load(env).unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let (s3, name) = runtime.block_on(async {
            let aws = AwsContext::load(&environment, None).await;
            let name = deploy::ingestion::data_bucket(&environment, &aws, REGION)
                .await
                .unwrap();
            (aws.s3(REGION), name)
        });
        Bucket { runtime, s3, name }
    }

    fn put(&self, key: &str, body: &[u8]) {
        self.runtime
            .block_on(
                self.s3
                    .put_object()
                    .bucket(&self.name)
                    .key(key)
                    .body(body.to_vec().into())
                    .send(),
            )
            .unwrap();
    }

    fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.runtime.block_on(async {
            let out = self
                .s3
                .get_object()
                .bucket(&self.name)
                .key(key)
                .send()
                .await;
            match out {
                Ok(out) => Some(out.body.collect().await.unwrap().into_bytes().to_vec()),
                Err(_) => None,
            }
        })
    }

    /// User metadata of an object.
    fn metadata(&self, key: &str) -> std::collections::HashMap<String, String> {
        let out = self
            .runtime
            .block_on(self.s3.head_object().bucket(&self.name).key(key).send())
            .unwrap();
        out.metadata().cloned().unwrap_or_default()
    }

    fn delete(&self, key: &str) {
        self.runtime
            .block_on(self.s3.delete_object().bucket(&self.name).key(key).send())
            .unwrap();
    }

    /// Every key under `prefix`, sorted.
    fn keys(&self, prefix: &str) -> Vec<String> {
        let out = self
            .runtime
            .block_on(
                self.s3
                    .list_objects_v2()
                    .bucket(&self.name)
                    .prefix(prefix)
                    .send(),
            )
            .unwrap();
        let mut keys: Vec<String> = out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_string))
            .collect();
        keys.sort();
        keys
    }
}

/// JSON lines of reviews with identities `<tag>1`, `<tag>2`, ...
fn reviews(tag: &str, count: usize) -> Vec<u8> {
    (1..=count)
        .map(|n| {
            format!(
                "{{\"overall\": 4.0, \"verified\": true, \"reviewTime\": \"07 21, 2005\", \"reviewerID\": \"{tag}{n}\", \"asin\": \"B000{n}\", \"reviewerName\": \"Ann\", \"reviewText\": \"Good.\", \"summary\": \"Good\", \"unixReviewTime\": 1436850646}}\n"
            )
        })
        .collect::<String>()
        .into_bytes()
}

/// A fresh environment of its own, deployed.
fn deployed(dir: &Path, name: &str) -> String {
    let file = environment_named(dir, name);
    let path = file.to_str().unwrap().to_string();
    assert_moto_is_up(&deploy::env::load(&file).unwrap());
    succeed(&["destroy", &path, "--yes"]);
    sql(&format!("DROP DATABASE IF EXISTS {name}_db"));
    let report = json(&up(&path));
    assert_eq!(report["succeeded"], true, "{report:#}");
    path
}

/// `deploy run ENV --region us-east-1 --wait --output json`: its exit code and report.
fn run(env: &str) -> (Option<i32>, Value) {
    let output = deploy(&["run", env, "--region", REGION, "--wait", "--output", "json"]);
    let report = json(&output);
    (output.status.code(), report)
}

fn failed_json(env: &str) -> Value {
    let listed = json(&succeed(&[
        "data", "failed", env, "--region", REGION, "--output", "json",
    ]));
    listed["regions"][0].clone()
}

#[test]
fn a_failed_file_is_listed_with_why_requeued_without_its_report_and_ingested_once_fixed() {
    let _stand_in = common::stand_in();
    const NAME: &str = "requeue";
    let dir = tempfile::tempdir().unwrap();
    let env = deployed(dir.path(), NAME);
    let env = env.as_str();
    let bucket = Bucket::of(Path::new(env));

    // A good file, and one that cannot be read (bzip2, by its first bytes).
    let data = dir.path().join("reviews");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("good.json"), reviews("GOOD", 3)).unwrap();
    std::fs::write(data.join("bad.json"), b"BZh91AY&SY not really bzip2").unwrap();
    succeed(&[
        "data",
        "upload",
        env,
        data.to_str().unwrap(),
        "--region",
        REGION,
    ]);
    let (code, report) = run(env);
    assert_eq!(code, Some(3), "{report:#}");
    assert_eq!(report["regions"][0]["totals"]["completed"], 1, "{report:#}");

    // The report is under the reports prefix; the failed prefix holds the file alone.
    assert_eq!(
        bucket.keys("book-reviews/failed/"),
        ["book-reviews/failed/bad.json"]
    );
    assert_eq!(
        bucket.keys("book-reviews/reports/"),
        ["book-reviews/reports/failed/bad.json.report.json"]
    );

    // `deploy data failed` lists it with why, when and how often.
    let reason = "UnsupportedFormat: book-reviews/reviews/bad.json is bzip2-compressed, not JSON lines: upload JSON lines (UTF-8), plain or gzip-compressed";
    let listed = failed_json(env);
    let files = listed["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{listed:#}");
    let file = &files[0];
    assert_eq!(file["key"], "book-reviews/failed/bad.json");
    assert_eq!(file["pending_key"], "book-reviews/reviews/bad.json");
    assert_eq!(file["reason"], reason, "{listed:#}");
    assert_eq!(file["error"], "UnsupportedFormat");
    assert_eq!(file["attempts"], 1);
    assert_eq!(file["size"], 27);
    assert_eq!(
        file["reports"],
        serde_json::json!(["book-reviews/reports/failed/bad.json.report.json"])
    );
    assert_eq!(listed["stray_reports"], serde_json::json!([]));
    // The table people read, every Region.
    let table = text(&succeed(&["data", "failed", env]).stdout);
    let place = |region: &str| {
        let environment = deploy::env::load(Path::new(env)).unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let bucket = runtime.block_on(async {
            let aws = AwsContext::load(&environment, None).await;
            deploy::ingestion::data_bucket(&environment, &aws, region)
                .await
                .unwrap()
        });
        format!("s3://{bucket}/book-reviews/failed/")
    };
    let header = format!(
        "  {:<28}  {:>10}  {:<20}  {:>8}  reason",
        "key", "bytes", "failed at", "attempts"
    );
    let row = format!(
        "  {:<28}  {:>10}  {:<20}  {:>8}  {reason}",
        "book-reviews/failed/bad.json",
        27,
        file["failed_at"].as_str().unwrap(),
        1
    );
    assert_eq!(
        table,
        format!(
            "us-east-1: 1 file failed in {}\n{header}\n{row}\nus-east-2: no failed files in {}\n",
            place("us-east-1"),
            place("us-east-2"),
        )
    );
    // When it failed, as RFC 3339.
    assert_eq!(file["failed_at"].as_str().unwrap().len(), 20, "{listed:#}");

    // Only files that failed at least an hour ago: none yet.
    let recent = succeed(&["data", "requeue", env, "--older-than", "1h", "--dry-run"]);
    assert_eq!(
        text(&recent.stdout),
        "nothing to requeue: 1 file failed less than 1h ago\n"
    );
    // A dry run says what would move, and moves nothing.
    let dry = succeed(&["data", "requeue", env, "--dry-run"]);
    assert_eq!(
        text(&dry.stdout),
        "us-east-1: would requeue book-reviews/failed/bad.json -> book-reviews/reviews/bad.json\n\
         dry run: nothing was moved; 1 file would be requeued. Run without --dry-run to move them.\n"
    );
    assert_eq!(
        bucket.keys("book-reviews/failed/"),
        ["book-reviews/failed/bad.json"]
    );
    assert!(bucket.keys("book-reviews/reviews/").is_empty());
    // Without --yes and without a terminal: nothing moves.
    let unconfirmed = deploy(&["data", "requeue", env]);
    assert_eq!(unconfirmed.status.code(), Some(1));
    assert!(
        text(&unconfirmed.stderr).contains("not confirmed; nothing was moved"),
        "{}",
        text(&unconfirmed.stderr)
    );

    // A newer upload of the same key is pending: refused, never overwritten, exit code 1.
    bucket.put("book-reviews/reviews/bad.json", b"newer");
    let refused = deploy(&["data", "requeue", env, "--yes"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert_eq!(
        text(&refused.stdout),
        format!(
            "us-east-1: not requeued book-reviews/failed/bad.json: s3://{}/book-reviews/reviews/bad.json exists, a newer upload that requeuing would overwrite: ingest it with `deploy run` (or remove it), then requeue again\n",
            bucket.name
        )
    );
    assert_eq!(
        text(&refused.stderr),
        "error: 1 of 1 failed files were not requeued (each is listed above with why)\n"
    );
    assert_eq!(
        bucket.get("book-reviews/reviews/bad.json").unwrap(),
        b"newer"
    );
    assert_eq!(
        bucket.keys("book-reviews/failed/"),
        ["book-reviews/failed/bad.json"]
    );
    bucket.delete("book-reviews/reviews/bad.json");

    // Requeued as it is: the file moves, its report goes, the failure count goes with it.
    let moved = succeed(&["data", "requeue", env, "--yes"]);
    assert_eq!(
        text(&moved.stdout),
        format!(
            "us-east-1: requeued book-reviews/failed/bad.json -> book-reviews/reviews/bad.json\n\
             requeued 1 file (failure reports removed). Next: deploy run {env} --wait\n"
        )
    );
    assert!(bucket.keys("book-reviews/failed/").is_empty());
    assert!(bucket.keys("book-reviews/reports/").is_empty());
    assert_eq!(
        bucket.get("book-reviews/reviews/bad.json").unwrap(),
        b"BZh91AY&SY not really bzip2"
    );
    assert_eq!(
        bucket.metadata("book-reviews/reviews/bad.json")["failed-attempts"],
        "1"
    );
    // It fails again: a fresh report, counting both failures.
    let (code, report) = run(env);
    assert_eq!(code, Some(3), "{report:#}");
    let listed = failed_json(env);
    assert_eq!(listed["files"][0]["attempts"], 2, "{listed:#}");
    assert_eq!(listed["files"][0]["reason"], reason);

    // Fixed in place, requeued, ingested.
    bucket.put("book-reviews/failed/bad.json", &reviews("FIXED", 2));
    succeed(&["data", "requeue", env, "--yes"]);
    let (code, report) = run(env);
    assert_eq!(code, Some(0), "{report:#}");
    let totals = &report["regions"][0]["totals"];
    assert_eq!(
        (&totals["completed"], &totals["failed"], &totals["inserted"]),
        (&Value::from(1), &Value::from(0), &Value::from(2)),
        "{report:#}"
    );
    assert_eq!(
        sql(&format!("SELECT COUNT(*) FROM {NAME}_db.reviews"))[0][0],
        "5"
    );
    assert_eq!(
        text(&succeed(&["data", "failed", env, "--region", REGION]).stdout),
        format!("us-east-1: no failed files in {}\n", place("us-east-1"))
    );
    assert_eq!(
        text(&succeed(&["data", "requeue", env]).stdout),
        "nothing to requeue: no failed files\n"
    );
    succeed(&["destroy", env, "--yes"]);
}

#[test]
fn a_report_moved_into_pending_is_not_ingested_as_reviews() {
    let _stand_in = common::stand_in();
    const NAME: &str = "ownreport";
    let dir = tempfile::tempdir().unwrap();
    let env = deployed(dir.path(), NAME);
    let env = env.as_str();
    let bucket = Bucket::of(Path::new(env));

    // What "move every .json file back" did with an earlier version's failed prefix: its
    // failure report, as that version wrote it; and a rejects object (this version's), renamed.
    let old_report = serde_json::json!({
        "error": {"Error": "ReadError", "Cause": "{\"errorMessage\": \"bad gzip\"}"},
        "failed_at_unix": 1_700_000_000,
        "key": "book-reviews/reviews/old.json",
        "moved_to": "book-reviews/failed/old.json",
        "report": null,
    });
    bucket.put(
        "book-reviews/reviews/old.json.report.json",
        &serde_json::to_vec_pretty(&old_report).unwrap(),
    );
    let rejects = serde_json::json!({
        "kind": "deploy/rejected-lines",
        "key": "book-reviews/reviews/some.json",
        "rejected": 1,
        "lines": [{"line": 3, "reason": "not JSON"}],
    });
    bucket.put(
        "book-reviews/reviews/rejects.json",
        &serde_json::to_vec_pretty(&rejects).unwrap(),
    );
    bucket.put("book-reviews/reviews/good.json", &reviews("OWN", 2));

    let (code, report) = run(env);
    assert_eq!(code, Some(3), "{report:#}");
    let run = &report["regions"][0];
    assert_eq!(run["totals"]["completed"], 1, "{report:#}");
    assert_eq!(run["totals"]["inserted"], 2, "{report:#}");
    assert_eq!(run["totals"]["rejected"], 0, "{report:#}");
    let failures: Vec<(String, String, String)> = run["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["key"].as_str().unwrap().to_string(),
                f["error"].as_str().unwrap().to_string(),
                f["cause"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        failures,
        [
            (
                "book-reviews/reviews/old.json.report.json".to_string(),
                "NotReviewData".to_string(),
                "book-reviews/reviews/old.json.report.json is not review data but a report the pipeline wrote (the failure report of book-reviews/reviews/old.json): nothing was ingested from it; requeue the file it names with `deploy data requeue` and delete this object".to_string()
            ),
            (
                "book-reviews/reviews/rejects.json".to_string(),
                "NotReviewData".to_string(),
                "book-reviews/reviews/rejects.json is not review data but a report the pipeline wrote (the rejected lines of book-reviews/reviews/some.json): nothing was ingested from it; requeue the file it names with `deploy data requeue` and delete this object".to_string()
            ),
        ],
        "{report:#}"
    );
    // Nothing of them reached the database: no reviews, no rejects, no ledger row.
    assert_eq!(
        sql(&format!("SELECT COUNT(*) FROM {NAME}_db.reviews"))[0][0],
        "2"
    );
    assert_eq!(
        sql(&format!("SELECT COUNT(*) FROM {NAME}_db.review_rejects"))[0][0],
        "0"
    );
    assert_eq!(
        sql(&format!("SELECT object_key FROM {NAME}_db.ingest_objects")),
        [["book-reviews/reviews/good.json".to_string()]]
    );

    // Listed: the renamed one as a failed file that is a report; the one named as a report
    // apart, as no review file's.
    let listed = failed_json(env);
    let files = listed["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{listed:#}");
    assert_eq!(files[0]["key"], "book-reviews/failed/rejects.json");
    assert_eq!(files[0]["error"], "NotReviewData");
    assert_eq!(
        listed["stray_reports"],
        serde_json::json!(["book-reviews/failed/old.json.report.json"])
    );
    // Neither is ever requeued.
    let refused = deploy(&["data", "requeue", env, "--yes"]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert_eq!(
        text(&refused.stdout),
        "us-east-1: not requeued book-reviews/failed/rejects.json: it is a report the pipeline wrote, not review data: delete it\n"
    );
    assert_eq!(
        bucket.keys("book-reviews/failed/"),
        [
            "book-reviews/failed/old.json.report.json",
            "book-reviews/failed/rejects.json"
        ]
    );
    assert!(bucket.keys("book-reviews/reviews/").is_empty());
    succeed(&["destroy", env, "--yes"]);
}
