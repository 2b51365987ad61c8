//! Files from the real world against a real MariaDB: one bad line never fails a file, a
//! file's format is recognised by its bytes, and a file is never misreported. Each test
//! names the way today's writer went wrong.

use crate::common;

use std::io::Write;

use common::{open_file, synthetic_lines, TestDb};
use reviews::ingest::{ingest_object, IngestSettings, ObjectId, Outcome};

fn settings() -> IngestSettings {
    IngestSettings {
        region_indicator: "us-east-1".into(),
        batch_size: 50,
        writers: 2,
    }
}

fn good(id: &str) -> String {
    format!(r#"{{"reviewerID":"{id}","asin":"B1","unixReviewTime":1,"reviewText":"fine"}}"#)
}

/// Writes `lines` (each without its line end) as a file and ingests it.
async fn ingest_lines(
    t: &TestDb,
    db: &reviews::db::Database,
    name: &str,
    lines: &[String],
) -> reviews::Result<reviews::ingest::IngestReport> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let _ = t;
    ingest_object(db, &settings(), &ObjectId::new(name, "e1"), open_file(path)).await
}

async fn rejects(t: &TestDb) -> Vec<(u64, String, String)> {
    t.rows("SELECT line_no, reason, excerpt FROM review_rejects ORDER BY line_no")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_whose_reason_quotes_a_long_value_is_one_reject() {
    // The reason quoted the whole 1,100-character reviewTime: longer than the reason
    // column, so the batch's reject insert failed and with it the file.
    let (t, db) = TestDb::migrated("longreason").await;
    let long_time = "9".repeat(1100);
    let lines = vec![
        good("A1"),
        format!(
            r#"{{"reviewerID":"A2","asin":"B1","unixReviewTime":1,"reviewTime":"{long_time}"}}"#
        ),
        good("A3"),
    ];
    let r = ingest_lines(&t, &db, "long-reason.json", &lines)
        .await
        .unwrap();
    assert_eq!((r.inserted, r.rejected), (2, 1));
    let rejects = rejects(&t).await;
    assert_eq!(rejects.len(), 1);
    assert_eq!(rejects[0].0, 2);
    assert!(
        rejects[0].1.starts_with("invalid reviewTime"),
        "{}",
        rejects[0].1
    );
    assert!(rejects[0].1.chars().count() <= 1024);
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn style_and_image_the_database_refuses_are_rejects_and_the_rest_lands() {
    // Each of these parsed as JSON, went into the batch's INSERT, and the server refused the
    // whole statement: every good line of the batch was lost with it and the file failed.
    let (t, db) = TestDb::migrated("badjson").await;
    let deep = "[".repeat(200) + &"]".repeat(200);
    let lines = vec![
        good("A1"),
        format!(r#"{{"reviewerID":"A2","asin":"B1","unixReviewTime":1,"image":{deep}}}"#),
        format!(r#"{{"reviewerID":"A3","asin":"B1","unixReviewTime":1,"style":{{"n":1e400}}}}"#),
        format!(r#"{{"reviewerID":"A4","asin":"B1","unixReviewTime":1,"style":{{"s":"\ud800"}}}}"#),
        good("A5"),
    ];
    let r = ingest_lines(&t, &db, "bad-json.json", &lines)
        .await
        .unwrap();
    assert_eq!((r.inserted, r.rejected), (2, 3), "{r:?}");
    let lines: Vec<u64> = rejects(&t).await.iter().map(|r| r.0).collect();
    assert_eq!(lines, [2, 3, 4]);
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gzip_file_with_trailing_zero_padding_completes() {
    // gzip(1) and Python accept the zeros some tools pad a file with; the reader failed on
    // them after committing every full batch, and reported the file failed with 0 inserted.
    let (t, db) = TestDb::migrated("gzpad").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("padded.json.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(synthetic_lines(120, "G").as_bytes()).unwrap();
    let mut bytes = gz.finish().unwrap();
    bytes.extend(std::iter::repeat_n(0u8, 1024));
    std::fs::write(&path, bytes).unwrap();
    let r = ingest_object(
        &db,
        &settings(),
        &ObjectId::new("padded.json.gz", "e"),
        open_file(path),
    )
    .await
    .unwrap();
    assert_eq!((r.read, r.inserted), (120, 120));
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_that_are_not_json_lines_fail_with_a_reason_and_write_nothing() {
    // A bzip2 file was "ingested" as 100% rejects and moved to completed.
    let (t, db) = TestDb::migrated("formats").await;
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &[u8], &str); 6] = [
        ("a.json.bz2", b"BZh91AY&SY\x00\x00\x00", "bzip2"),
        ("a.json.xz", b"\xfd7zXZ\x00\x00\x04", "xz"),
        ("a.json.zst", b"\x28\xb5\x2f\xfd\x00\x00", "zstd"),
        ("a.zip", b"PK\x03\x04\x14\x00\x00\x00", "zip"),
        ("utf16le.json", b"\xff\xfe{\x00\"\x00", "UTF-16"),
        ("utf16be.json", b"\xfe\xff\x00{\x00\"", "UTF-16"),
    ];
    for (name, bytes, format) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = ingest_object(&db, &settings(), &ObjectId::new(name, "e"), open_file(path))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "UnsupportedFormat", "{name}: {err}");
        assert!(err.to_string().contains(format), "{name}: {err}");
    }
    assert_eq!(t.count("SELECT COUNT(*) FROM review_rejects").await, 0);
    assert_eq!(t.count("SELECT COUNT(*) FROM reviews").await, 0);
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewer_ids_that_differ_only_by_trailing_spaces_are_two_reviews() {
    // The identity columns compared with PAD SPACE: "A" and "A " were one review.
    let (t, db) = TestDb::migrated("padspace").await;
    let lines = vec![good("A"), good("A "), good("A  ")];
    let r = ingest_lines(&t, &db, "spaces.json", &lines).await.unwrap();
    assert_eq!((r.inserted, r.already_present), (3, 0), "{r:?}");
    assert_eq!(t.count("SELECT COUNT(*) FROM reviews").await, 3);
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_over_the_length_limit_keeps_a_prefix_to_find_it_by() {
    // The reject was stored with an empty excerpt.
    let (t, db) = TestDb::migrated("toolong").await;
    let huge = format!(
        r#"{{"reviewerID":"WHO","asin":"B1","unixReviewTime":1,"reviewText":"{}"}}"#,
        "x".repeat(reviews::parser::MAX_LINE_BYTES + 10)
    );
    let lines = vec![good("A1"), huge, good("A3")];
    let r = ingest_lines(&t, &db, "huge.json", &lines).await.unwrap();
    assert_eq!((r.inserted, r.rejected), (2, 1));
    let rejects = rejects(&t).await;
    assert!(
        rejects[0].2.starts_with(r#"{"reviewerID":"WHO""#),
        "{:?}",
        &rejects[0].2[..40.min(rejects[0].2.len())]
    );
    assert!(rejects[0].2.len() <= reviews::parser::REJECT_EXCERPT_BYTES);
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_long_texts_is_cut_by_bytes_and_a_row_over_the_packet_is_a_reject() {
    // Batches were bounded in lines only: 50 reviews of 1 MiB each made one transaction of
    // 50 MiB, past MariaDB's 16 MiB max_allowed_packet once a row alone was over it.
    let (t, db) = TestDb::migrated("bytes").await;
    let text = "y".repeat(1 << 20);
    let mut lines: Vec<String> = (0..40)
        .map(|i| {
            format!(
                r#"{{"reviewerID":"L{i}","asin":"B1","unixReviewTime":1,"reviewText":"{text}"}}"#
            )
        })
        .collect();
    // One review whose text fits MEDIUMTEXT but whose row, escaped, is past the packet.
    let quotes = "\\\"".repeat(9 << 20);
    lines.push(format!(
        r#"{{"reviewerID":"BIG","asin":"B1","unixReviewTime":1,"reviewText":"{quotes}"}}"#
    ));
    let r = ingest_lines(&t, &db, "long-texts.json", &lines)
        .await
        .unwrap();
    assert_eq!((r.inserted, r.rejected), (40, 1), "{r:?}");
    assert!(r.batches > 1, "cut by bytes: {r:?}");
    let rejects = rejects(&t).await;
    assert_eq!(rejects[0].0, 41);
    assert!(rejects[0].1.contains("row"), "{}", rejects[0].1);
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_already_ingested_file_reports_no_new_rows() {
    // A second run reported the first run's `inserted` again and the run totals added it.
    let (t, db) = TestDb::migrated("again").await;
    let lines = vec![good("A1"), good("A2"), "nope".to_string()];
    let first = ingest_lines(&t, &db, "again.json", &lines).await.unwrap();
    assert_eq!((first.inserted, first.rejected), (2, 1));
    let second = ingest_lines(&t, &db, "again.json", &lines).await.unwrap();
    assert_eq!(second.outcome, Outcome::AlreadyIngested);
    assert_eq!(
        (second.inserted, second.already_present, second.rejected),
        (0, 2, 1),
        "nothing new: its rows are present, its bad line rejected as before"
    );
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_in_two_buckets_is_two_objects() {
    // The ledger was keyed by key and ETag: the same file uploaded in both Regions was
    // "already ingested" in the second with the first Region's counts.
    let (t, db) = TestDb::migrated("buckets").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("same.json");
    std::fs::write(&path, good("A1") + "\n").unwrap();
    let east = ObjectId::in_bucket("bucket-us-east-1", "same.json", "e");
    let west = ObjectId::in_bucket("bucket-us-east-2", "same.json", "e");
    let a = ingest_object(&db, &settings(), &east, open_file(path.clone()))
        .await
        .unwrap();
    let b = ingest_object(&db, &settings(), &west, open_file(path))
        .await
        .unwrap();
    assert_eq!((a.outcome, a.inserted), (Outcome::Ingested, 1));
    assert_eq!(
        (b.outcome, b.inserted, b.already_present),
        (Outcome::Ingested, 0, 1)
    );
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_attempts_on_one_object_at_once_both_end_with_its_counts() {
    // A Step Functions retry while the first attempt still ran: each failed the other on
    // the batch ledger's key (1062, not retried).
    let (t, db) = TestDb::migrated("twice").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twice.json");
    std::fs::write(&path, synthetic_lines(3_000, "T")).unwrap();
    let object = ObjectId::new("twice.json", "e");
    let settings = settings();
    let (a, b) = tokio::join!(
        ingest_object(&db, &settings, &object, open_file(path.clone())),
        ingest_object(&db, &settings, &object, open_file(path.clone())),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    for r in [&a, &b] {
        assert_eq!(r.read, 3_000, "{r:?}");
    }
    // One of them wrote the rows; the other found them written, never counted twice.
    assert_eq!(a.inserted + b.inserted, 3_000, "{a:?} {b:?}");
    assert_eq!(t.count("SELECT COUNT(*) FROM reviews").await, 3_000);
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_the_server_refuses_is_a_reject_and_its_batch_still_lands() {
    // Whatever the parser lets through and the server refuses (here a CHECK constraint
    // stands in for a value rule of the server's) costs one row, not its batch.
    let (t, db) = TestDb::migrated("refused").await;
    let mut admin = t.admin().await;
    mysql_async::prelude::Queryable::query_drop(
        &mut admin,
        format!(
            "ALTER TABLE `{}`.reviews ADD CONSTRAINT no_evil CHECK (reviewer_id <> 'EVIL')",
            t.name
        ),
    )
    .await
    .unwrap();
    let lines = vec![
        good("A1"),
        good("EVIL"),
        good("A3"),
        "not json".into(),
        good("A5"),
    ];
    let r = ingest_lines(&t, &db, "refused.json", &lines).await.unwrap();
    assert_eq!(
        (r.inserted, r.already_present, r.rejected),
        (3, 0, 2),
        "{r:?}"
    );
    let rejects = rejects(&t).await;
    assert_eq!(rejects.iter().map(|r| r.0).collect::<Vec<_>>(), [2, 4]);
    assert!(
        rejects[0]
            .1
            .starts_with("the database refused the row: CONSTRAINT `no_evil` failed"),
        "{}",
        rejects[0].1
    );
    assert!(rejects[0].2.contains("EVIL"));
    // Counted again exactly when the file is run again.
    let again = ingest_lines(&t, &db, "refused.json", &lines).await.unwrap();
    assert_eq!(
        (again.inserted, again.already_present, again.rejected),
        (0, 3, 2)
    );
    t.drop_db().await;
}
