//! The functions' handlers against moto's S3 and Secrets Manager and a real MariaDB.

use crate::common;

use std::sync::atomic::{AtomicU32, Ordering};

use common::{fixture, s3_endpoint, TestDb};
use reviews::config::Prefixes;
use reviews::db::{CredentialSource, Database, Purpose, SecretCache};
use reviews::handlers::{
    self, DbProcess, DbProcessRequest, FileOutcome, PostprocessRequest, PreprocessRequest, Totals,
};
use reviews::ingest::{IngestSettings, Outcome};
use reviews::s3::{MoveOutcome, S3Store};
use reviews::Error;
use serde_json::json;

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn prefixes() -> Prefixes {
    Prefixes {
        pending: "book-reviews/reviews/".into(),
        completed: "book-reviews/completed/".into(),
        failed: "book-reviews/failed/".into(),
        reports: "book-reviews/reports/".into(),
    }
}

struct Moto {
    s3: aws_sdk_s3::Client,
    secrets: aws_sdk_secretsmanager::Client,
    bucket: String,
}

impl Moto {
    async fn new(tag: &str) -> Moto {
        let endpoint = s3_endpoint();
        let sdk = reviews::aws::local_config(&endpoint, "us-east-1");
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        let bucket = format!(
            "lambdas-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        if let Err(e) = s3.create_bucket().bucket(&bucket).send().await {
            panic!(
                "cannot reach moto's S3 at {endpoint} ({}); start it with `make local-up` or set \
                 DEPLOY_TEST_S3_ENDPOINT (default {})",
                aws_sdk_s3::error::DisplayErrorContext(e),
                common::DEFAULT_S3_ENDPOINT
            );
        }
        Moto {
            s3,
            secrets: reviews::aws::secrets(&sdk),
            bucket,
        }
    }

    fn store(&self) -> S3Store {
        S3Store::new(self.s3.clone(), &self.bucket)
    }

    async fn put(&self, key: &str, body: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(body.into())
            .send()
            .await
            .unwrap();
    }

    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let out = self
            .s3
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(out.body.collect().await.unwrap().into_bytes().to_vec())
    }

    async fn secret(&self, name: &str, user: &str, password: &str) -> SecretCache {
        self.secrets
            .create_secret()
            .name(name)
            .secret_string(serde_json::json!({"username": user, "password": password}).to_string())
            .send()
            .await
            .unwrap();
        SecretCache::new(self.secrets.clone(), name)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preprocess_pages_past_a_thousand_objects() {
    let moto = Moto::new("list").await;
    let store = moto.store();
    let empty = handlers::preprocess(&store, &prefixes(), 10, PreprocessRequest::default())
        .await
        .unwrap();
    assert!(
        empty.files.is_empty() && !empty.more,
        "no pending files is a normal answer"
    );

    let mut puts = tokio::task::JoinSet::new();
    for i in 0..1205 {
        let (s3, bucket) = (moto.s3.clone(), moto.bucket.clone());
        puts.spawn(async move {
            s3.put_object()
                .bucket(bucket)
                .key(format!("book-reviews/reviews/part-{i:05}.json"))
                .body(b"{}\n".to_vec().into())
                .send()
                .await
                .unwrap();
        });
        if puts.len() >= 32 {
            puts.join_next().await.unwrap().unwrap();
        }
    }
    while let Some(r) = puts.join_next().await {
        r.unwrap();
    }
    moto.put("book-reviews/reviews/", vec![]).await; // a folder marker
    moto.put("book-reviews/completed/done.json", b"{}\n".to_vec())
        .await;

    let all = handlers::preprocess(
        &store,
        &prefixes(),
        10,
        PreprocessRequest {
            limit: Some(5000),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(all.files.len(), 1205);
    assert!(!all.more);
    assert_eq!(all.files[1204].key, "book-reviews/reviews/part-01204.json");
    assert_eq!(all.files[0].size, 3);
    assert_eq!(all.files[0].etag.len(), 32, "an MD5 ETag without quotes");

    let some = handlers::preprocess(&store, &prefixes(), 1000, PreprocessRequest::default())
        .await
        .unwrap();
    assert_eq!((some.files.len(), some.more), (1000, true));
    let exact = handlers::preprocess(&store, &prefixes(), 1205, PreprocessRequest::default())
        .await
        .unwrap();
    assert_eq!((exact.files.len(), exact.more), (1205, false));
}

/// The state machine sends the last batch's results with each listing call (JSONPath cannot
/// sum); the answer carries the running totals, whether or not files remain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preprocess_tallies_the_batch_it_is_given() {
    let moto = Moto::new("tally").await;
    let store = moto.store();
    moto.put("book-reviews/reviews/next.json", b"{}\n".to_vec())
        .await;

    // The first call of a run: `{}` (and the old `{"limit": N}`) still work, with zero totals.
    for request in [json!({}), json!({"limit": 3})] {
        let first = handlers::preprocess(
            &store,
            &prefixes(),
            10,
            serde_json::from_value(request).unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(first.totals, Totals::default());
        assert_eq!(first.files.len(), 1);
    }

    let request: PreprocessRequest = serde_json::from_value(json!({
        "totals": {"files": 10, "completed": 9, "failed": 1, "inserted": 100, "present": 7,
                   "rejected": 2},
        "results": [
            {"key": "a", "outcome": "completed", "inserted": 5, "present": 1, "rejected": 3},
            {"key": "b", "outcome": "failed", "inserted": 0, "present": 0, "rejected": 0},
            {"key": "c", "outcome": "completed", "inserted": 0, "present": 4, "rejected": 0}
        ]
    }))
    .unwrap();
    let next = handlers::preprocess(&store, &prefixes(), 10, request)
        .await
        .unwrap();
    let expected = Totals {
        files: 13,
        completed: 11,
        failed: 2,
        inserted: 105,
        present: 12,
        rejected: 5,
    };
    assert_eq!(next.totals, expected);
    assert_eq!(
        serde_json::to_value(&next).unwrap(),
        json!({
            "files": [{"key": "book-reviews/reviews/next.json", "etag": next.files[0].etag,
                       "size": 3}],
            "more": false,
            "totals": {"files": 13, "completed": 11, "failed": 2, "inserted": 105,
                       "present": 12, "rejected": 5}
        }),
        "the response shape the state machine reads"
    );

    // Results without earlier totals start from zero; totals missing a field count it as 0.
    let partial: PreprocessRequest = serde_json::from_value(json!({
        "totals": {"files": 1, "completed": 1},
        "results": [{"key": "a", "outcome": "failed", "inserted": 0, "present": 0,
                     "rejected": 0}]
    }))
    .unwrap();
    let after = handlers::preprocess(&store, &prefixes(), 10, partial)
        .await
        .unwrap();
    assert_eq!(
        after.totals,
        Totals {
            files: 2,
            completed: 1,
            failed: 1,
            ..Totals::default()
        }
    );

    // A map item that failed (a null result, or one without an outcome) must not be counted
    // as anything: the request is refused, so the run fails visibly.
    for bad in [
        json!({"results": [null]}),
        json!({"results": [{"key": "a", "inserted": 1, "present": 0, "rejected": 0}]}),
    ] {
        assert!(
            serde_json::from_value::<PreprocessRequest>(bad.clone()).is_err(),
            "{bad} must be refused"
        );
    }
}

/// A batch is one state's data in the state machine (256 KiB at most): long keys make it
/// shorter than FILES_PER_BATCH, and the rest is listed by the next loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preprocess_keeps_a_batch_of_long_keys_small() {
    let moto = Moto::new("long").await;
    let store = moto.store();
    // 300 keys of 1,000 bytes (S3 allows 1,024): 320 KB of listing, too much for one state.
    let long = |i: usize| format!("book-reviews/reviews/{i:03}-{}.json", "x".repeat(970));
    assert_eq!(long(0).len(), 1000);
    for i in 0..300 {
        moto.put(&long(i), b"{}\n".to_vec()).await;
    }
    let mut listed = Vec::new();
    let mut more = true;
    while more {
        let batch = handlers::preprocess(&store, &prefixes(), 1000, PreprocessRequest::default())
            .await
            .unwrap();
        let bytes = serde_json::to_vec(&batch).unwrap().len();
        assert!(bytes < 200 * 1024, "a listing of {bytes} bytes");
        assert!(!batch.files.is_empty());
        // Nothing moves the files here: skip what was listed, as the loop's moves would.
        for f in &batch.files {
            moto.s3
                .delete_object()
                .bucket(&moto.bucket)
                .key(&f.key)
                .send()
                .await
                .unwrap();
        }
        listed.extend(batch.files.into_iter().map(|f| f.key));
        more = batch.more;
    }
    assert_eq!(
        listed,
        (0..300).map(long).collect::<Vec<_>>(),
        "every file, once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dbprocess_streams_json_and_gzip_from_s3_once() {
    let moto = Moto::new("dbprocess").await;
    let (t, _) = TestDb::migrated("dbprocess").await;
    moto.put(
        "book-reviews/reviews/a.json",
        std::fs::read(fixture("mixed.json")).unwrap(),
    )
    .await;
    moto.put(
        "book-reviews/reviews/b.json.gz",
        std::fs::read(fixture("mixed.json.gz")).unwrap(),
    )
    .await;
    let secret = moto
        .secret(&format!("db-{}", moto.bucket), &t.user, &t.password)
        .await;
    let state = DbProcess {
        store: moto.store(),
        db: Database::new(t.config(), CredentialSource::Secret(secret)),
        settings: IngestSettings {
            region_indicator: "eu-central-1".into(),
            batch_size: 3,
            writers: 2,
        },
    };
    let listing = handlers::preprocess(&state.store, &prefixes(), 10, PreprocessRequest::default())
        .await
        .unwrap();
    assert_eq!(listing.files.len(), 2);

    let a = handlers::dbprocess(
        &state,
        DbProcessRequest {
            key: listing.files[0].key.clone(),
            etag: Some(listing.files[0].etag.clone()),
            run: None,
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (a.read, a.inserted, a.already_present, a.rejected),
        (9, 4, 1, 4)
    );
    let b = handlers::dbprocess(
        &state,
        DbProcessRequest {
            key: "book-reviews/reviews/b.json.gz".into(),
            etag: None,
            run: None,
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (b.read, b.inserted, b.already_present, b.rejected),
        (9, 0, 5, 4)
    );
    let again = handlers::dbprocess(
        &state,
        DbProcessRequest {
            key: "book-reviews/reviews/a.json".into(),
            etag: None,
            run: None,
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(again.outcome, Outcome::AlreadyIngested);
    assert_eq!(t.count("SELECT COUNT(*) FROM reviews").await, 4);

    let missing = handlers::dbprocess(
        &state,
        DbProcessRequest {
            key: "book-reviews/reviews/nope.json".into(),
            etag: None,
            run: None,
        },
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(missing, Error::NotFound { .. }), "{missing}");
    assert_eq!(
        missing.to_string(),
        format!(
            "S3 object s3://{}/book-reviews/reviews/nope.json does not exist",
            moto.bucket
        )
    );
    assert_eq!(missing.kind(), "ObjectNotFound");

    // Listed with one ETag, overwritten since: the bytes are not the ones the ledger would name.
    moto.put("book-reviews/reviews/c.json", b"{}\n".to_vec())
        .await;
    let stale = handlers::dbprocess(
        &state,
        DbProcessRequest {
            key: "book-reviews/reviews/c.json".into(),
            etag: Some("0123456789abcdef0123456789abcdef".into()),
            run: None,
        },
        None,
    )
    .await
    .unwrap_err();
    assert!(stale.to_string().contains("c.json"), "{stale}");
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postprocess_moves_once_and_reports_failures() {
    let moto = Moto::new("post").await;
    let store = moto.store();
    moto.put("book-reviews/reviews/2024/ok.json", b"{\"a\":1}\n".to_vec())
        .await;
    moto.put("book-reviews/reviews/bad file ü.json", b"oops\n".to_vec())
        .await;

    let req = || PostprocessRequest {
        key: "book-reviews/reviews/2024/ok.json".into(),
        etag: None,
        outcome: FileOutcome::Completed,
        error: None,
        report: None,
    };
    let moved = handlers::postprocess(&store, &prefixes(), req())
        .await
        .unwrap();
    assert_eq!(moved.outcome, MoveOutcome::Moved);
    assert_eq!(moved.destination, "book-reviews/completed/2024/ok.json");
    assert_eq!(
        moto.get("book-reviews/completed/2024/ok.json")
            .await
            .unwrap(),
        b"{\"a\":1}\n"
    );
    assert!(moto
        .get("book-reviews/reviews/2024/ok.json")
        .await
        .is_none());
    let twice = handlers::postprocess(&store, &prefixes(), req())
        .await
        .unwrap();
    assert_eq!(twice.outcome, MoveOutcome::AlreadyMoved);
    // No bad lines, no rejects object.
    assert!(moto
        .get("book-reviews/reports/completed/2024/ok.json.rejects.json")
        .await
        .is_none());

    // A completed file with bad lines: its rejects object goes under the reports prefix.
    moto.put("book-reviews/reviews/some-bad.json", b"{}\n".to_vec())
        .await;
    let lines = serde_json::json!([{"line": 3, "reason": "not JSON"}, {"line": 9, "reason": "not a JSON object"}]);
    handlers::postprocess(
        &store,
        &prefixes(),
        PostprocessRequest {
            key: "book-reviews/reviews/some-bad.json".into(),
            etag: None,
            outcome: FileOutcome::Completed,
            error: None,
            report: Some(
                serde_json::json!({"inserted": 5, "rejected": 2, "rejected_lines": lines}),
            ),
        },
    )
    .await
    .unwrap();
    let rejects: serde_json::Value = serde_json::from_slice(
        &moto
            .get("book-reviews/reports/completed/some-bad.json.rejects.json")
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        rejects,
        serde_json::json!({"kind": "deploy/rejected-lines", "key": "book-reviews/reviews/some-bad.json", "rejected": 2, "lines": lines})
    );
    assert!(moto
        .get("book-reviews/completed/some-bad.json.rejects.json")
        .await
        .is_none());

    let failed = PostprocessRequest {
        key: "book-reviews/reviews/bad file ü.json".into(),
        etag: None,
        outcome: FileOutcome::Failed,
        error: Some(serde_json::json!({"Error": "DatabaseUnavailable", "Cause": "no answer"})),
        report: None,
    };
    let out = handlers::postprocess(&store, &prefixes(), failed)
        .await
        .unwrap();
    assert_eq!(out.destination, "book-reviews/failed/bad file ü.json");
    let report: serde_json::Value = serde_json::from_slice(
        &moto
            .get("book-reviews/reports/failed/bad file ü.json.report.json")
            .await
            .unwrap(),
    )
    .unwrap();
    // Never beside the file: moving the failed prefix back moves no report.
    assert!(moto
        .get("book-reviews/failed/bad file ü.json.report.json")
        .await
        .is_none());
    assert_eq!(report["kind"], "deploy/failure-report");
    assert_eq!(report["attempts"], 1);
    assert_eq!(report["error"]["Error"], "DatabaseUnavailable");
    assert_eq!(report["key"], "book-reviews/reviews/bad file ü.json");
    assert_eq!(
        moto.get("book-reviews/failed/bad file ü.json")
            .await
            .unwrap(),
        b"oops\n"
    );

    let gone = handlers::postprocess(
        &store,
        &prefixes(),
        PostprocessRequest {
            key: "book-reviews/reviews/never.json".into(),
            etag: None,
            outcome: FileOutcome::Completed,
            error: None,
            report: None,
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(gone, Error::NotFound { .. }), "{gone}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_is_read_again_after_the_database_refuses_the_cached_one() {
    let moto = Moto::new("rotate").await;
    let t = TestDb::new("rotate").await;
    let user = format!("u_{}", t.name);
    t.create_user(&user, "first-Secret-1").await;
    let name = format!("rotate-{}", moto.bucket);
    let cache = moto.secret(&name, &user, "first-Secret-1").await;
    let db = Database::new(t.config(), CredentialSource::Secret(cache));
    db.connect(Purpose::Migrate).await.unwrap().close().await;

    // Rotation: the database and the secret change; this instance still caches the old one.
    t.set_password(&user, "second-Secret-2").await;
    moto.secrets
        .put_secret_value()
        .secret_id(&name)
        .secret_string(
            serde_json::json!({"username": user, "password": "second-Secret-2"}).to_string(),
        )
        .send()
        .await
        .unwrap();
    db.connect(Purpose::Migrate)
        .await
        .expect("re-reads the secret once")
        .close()
        .await;

    // A secret that is wrong for good still fails, clearly.
    t.set_password(&user, "third-Secret-3").await;
    let err = db.connect(Purpose::Migrate).await.err().unwrap();
    assert!(err.is_auth_failure(), "{err}");
    assert_eq!(err.kind(), "DatabaseUnavailable");
    t.drop_user(&user).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postprocess_moves_the_version_that_was_read_and_a_newer_upload_stays_pending() {
    // The data bucket is versioned. A file uploaded again after dbprocess read it was moved
    // to completed/ whole, its new content never ingested.
    let moto = Moto::new("versions").await;
    moto.s3
        .put_bucket_versioning()
        .bucket(&moto.bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let store = moto.store();
    let key = "book-reviews/reviews/again.json";
    moto.put(key, b"first\n".to_vec()).await;
    let read = store.head(key).await.unwrap().unwrap();
    moto.put(key, b"second, uploaded after the first was read\n".to_vec())
        .await;

    let req = || PostprocessRequest {
        key: key.into(),
        etag: Some(read.etag.clone()),
        outcome: FileOutcome::Completed,
        error: None,
        report: None,
    };
    let moved = handlers::postprocess(&store, &prefixes(), req())
        .await
        .unwrap();
    assert_eq!(moved.outcome, MoveOutcome::Moved);
    assert!(moved.newer_version_pending);
    assert_eq!(
        moto.get("book-reviews/completed/again.json").await.unwrap(),
        b"first\n"
    );
    assert_eq!(
        moto.get(key).await.unwrap(),
        b"second, uploaded after the first was read\n",
        "the newer upload stays pending, to be read"
    );
    // Repeating the move (a retry) moves nothing more.
    let twice = handlers::postprocess(&store, &prefixes(), req())
        .await
        .unwrap();
    assert_eq!(twice.outcome, MoveOutcome::AlreadyMoved);
    assert!(moto.get(key).await.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_larger_than_one_copy_is_moved_in_parts() {
    // CopyObject copies at most 5 GB: a larger file could never be moved. The store copies
    // in parts above its limit, here lowered to 5 MiB so moto can hold the object.
    let moto = Moto::new("parts").await;
    let store = moto.store().with_copy_parts(5 << 20, 5 << 20);
    let key = "book-reviews/reviews/large.json";
    let body: Vec<u8> = (0..(12u32 << 20)).map(|i| (i % 251) as u8).collect();
    moto.put(key, body.clone()).await;
    let moved = handlers::postprocess(
        &store,
        &prefixes(),
        PostprocessRequest {
            key: key.into(),
            etag: None,
            outcome: FileOutcome::Completed,
            error: None,
            report: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(moved.outcome, MoveOutcome::Moved);
    assert!(moto.get(key).await.is_none());
    assert!(moto.get("book-reviews/completed/large.json").await.unwrap() == body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requeued_file_counts_its_failures_and_a_report_in_pending_is_recognised() {
    let moto = Moto::new("requeued").await;
    let store = moto.store();
    // As `deploy data requeue` leaves a file that failed twice.
    moto.s3
        .put_object()
        .bucket(&moto.bucket)
        .key("book-reviews/reviews/again.json")
        .metadata("failed-attempts", "2")
        .body(b"oops\n".to_vec().into())
        .send()
        .await
        .unwrap();
    handlers::postprocess(
        &store,
        &prefixes(),
        PostprocessRequest {
            key: "book-reviews/reviews/again.json".into(),
            etag: None,
            outcome: FileOutcome::Failed,
            error: Some(json!({"Error": "ReadError", "Cause": "bad"})),
            report: None,
        },
    )
    .await
    .unwrap();
    let body = moto
        .get("book-reviews/reports/failed/again.json.report.json")
        .await
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(report["attempts"], 3, "{report:#}");

    // That report moved into the pending prefix (under any name) is recognised, so dbprocess
    // refuses it; a review file and an empty file are not reports.
    use reviews::reports::Report;
    for (key, body, expected) in [
        (
            "book-reviews/reviews/again.json.report.json",
            body.clone(),
            Some(Report::Failure {
                of: "book-reviews/reviews/again.json".into(),
            }),
        ),
        (
            "book-reviews/reviews/renamed.json",
            body,
            Some(Report::Failure {
                of: "book-reviews/reviews/again.json".into(),
            }),
        ),
        (
            "book-reviews/reviews/review.json",
            b"{\"reviewerID\": \"A1\", \"asin\": \"B1\"}\n".to_vec(),
            None,
        ),
        ("book-reviews/reviews/empty.json", Vec::new(), None),
    ] {
        moto.put(key, body).await;
        let object = store.object_id(key, None).await.unwrap();
        assert_eq!(store.own_report(&object).await.unwrap(), expected, "{key}");
    }
}
