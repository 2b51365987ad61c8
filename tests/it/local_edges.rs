//! Files from the real world through `deploy run` on the stand-in (scripts/generate-reviews.py
//! --edge-files): every good review lands exactly once, every bad line is a reject with its
//! line number, no file with a good line fails, and every file's counts add up.
#![cfg(feature = "aws")]

use crate::common;

use std::collections::BTreeSet;

use common::{
    assert_moto_is_up, deploy, environment_named, generate_reviews, json, sql, succeed, text, up,
};

const NAME: &str = "edges";

#[test]
fn edge_files_lose_no_review_and_fail_only_what_is_not_json_lines() {
    let _stand_in = common::stand_in();
    let dir = tempfile::tempdir().unwrap();
    let file = environment_named(dir.path(), NAME);
    let path = file.to_str().unwrap();
    let environment = deploy::env::load(&file).unwrap();
    assert_moto_is_up(&environment);
    succeed(&["destroy", path, "--yes"]);
    sql(&format!("DROP DATABASE IF EXISTS {NAME}_db"));
    let report = json(&up(path));
    assert_eq!(report["succeeded"], true, "{report:#}");

    let data = dir.path().join("reviews");
    let manifest = generate_reviews(&data, &["--edge-files"]);
    let files = manifest["edge_files"].as_array().unwrap();
    let edge = data.join("edge");
    for file in files {
        let one = edge.join(file["file"].as_str().unwrap());
        succeed(&[
            "data",
            "upload",
            path,
            one.to_str().unwrap(),
            "--region",
            "us-east-1",
        ]);
    }

    let output = deploy(&[
        "run",
        path,
        "--region",
        "us-east-1",
        "--wait",
        "--output",
        "json",
    ]);
    let report = json(&output);
    // Only the file that is not JSON lines failed: exit 3, and why.
    assert_eq!(
        output.status.code(),
        Some(3),
        "{report:#}\n{}",
        text(&output.stderr)
    );
    let run = &report["regions"][0];
    assert_eq!(run["status"], "SUCCEEDED", "{report:#}");
    let failures = run["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{report:#}");
    assert_eq!(
        failures[0]["key"],
        "book-reviews/reviews/compressed.json.bz2"
    );
    assert_eq!(failures[0]["error"], "UnsupportedFormat");
    assert!(
        failures[0]["cause"].as_str().unwrap().contains("bzip2"),
        "{report:#}"
    );

    // Every good review exactly once (identities byte for byte: trailing spaces count).
    let expected: BTreeSet<(String, String, String)> = files
        .iter()
        .flat_map(|f| f["identities"].as_array().unwrap())
        .map(|i| {
            (
                hex(i[0].as_str().unwrap()),
                i[1].as_str().unwrap().to_string(),
                i[2].to_string(),
            )
        })
        .collect();
    let stored: Vec<(String, String, String)> = sql(&format!(
        "SELECT HEX(reviewer_id), asin, unix_review_time FROM {NAME}_db.reviews"
    ))
    .into_iter()
    .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
    .collect();
    assert_eq!(stored.len(), expected.len(), "each review once");
    assert_eq!(stored.into_iter().collect::<BTreeSet<_>>(), expected);
    assert_eq!(
        run["totals"]["inserted"].as_u64().unwrap(),
        expected.len() as u64
    );

    // Every bad line a reject, with its line number.
    let rejects: BTreeSet<(String, u64)> = sql(&format!(
        "SELECT object_key, line_no FROM {NAME}_db.review_rejects"
    ))
    .into_iter()
    .map(|r| {
        (
            r[0].rsplit('/').next().unwrap().to_string(),
            r[1].parse().unwrap(),
        )
    })
    .collect();
    let expected_rejects: BTreeSet<(String, u64)> = files
        .iter()
        .flat_map(|f| {
            let name = f["file"].as_str().unwrap().to_string();
            f["rejected_lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |l| (name.clone(), l.as_u64().unwrap()))
        })
        .collect();
    assert_eq!(rejects, expected_rejects);

    // Every completed file's counts add up: inserted + already present + rejected = its
    // non-blank lines.
    for file in files.iter().filter(|f| f["outcome"] == "completed") {
        let name = file["file"].as_str().unwrap();
        let row = &sql(&format!(
            "SELECT status, inserted + already_present + rejected, reviews_read, lines_total \
             FROM {NAME}_db.ingest_objects WHERE object_key = 'book-reviews/reviews/{name}'"
        ))[0];
        assert_eq!(row[0], "complete", "{name}");
        assert_eq!(row[1], row[2], "{name}: counts add up");
        assert_eq!(row[2], file["lines"].to_string(), "{name}: every line read");
    }
    succeed(&["destroy", path, "--yes"]);
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02X}")).collect()
}
