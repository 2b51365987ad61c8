//! A full run (migrate, preprocess, dbprocess, postprocess) with every log line captured at
//! TRACE level, the AWS SDK's included: the database password appears nowhere, and the lines
//! are JSON with the object key and the counts. Its own test binary, because it installs the
//! global subscriber.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{fixture, s3_endpoint, TestDb};
use reviews::config::Prefixes;
use reviews::db::{CredentialSource, Database, SecretCache};
use reviews::handlers::{
    self, DbProcess, DbProcessRequest, FileOutcome, PostprocessRequest, PreprocessRequest,
};
use reviews::ingest::IngestSettings;
use reviews::s3::S3Store;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Capture {
        self.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_run_never_logs_the_password() {
    let capture = Capture::default();
    std::env::set_var("RUST_LOG", "trace");
    reviews::logging::init_with_writer(capture.clone());

    let password = "Pw-never-in-logs-7f3a9c";
    let t = TestDb::new("logs").await;
    let user = format!("u_{}", t.name);
    t.create_user(&user, password).await;

    let sdk = reviews::aws::local_config(&s3_endpoint(), "us-east-1");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    let bucket = format!("lambdas-logs-{}", std::process::id());
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot reach moto at {} ({e}); start it with `make local-up`",
                s3_endpoint()
            )
        });
    s3.put_object()
        .bucket(&bucket)
        .key("book-reviews/reviews/mixed.json")
        .body(std::fs::read(fixture("mixed.json")).unwrap().into())
        .send()
        .await
        .unwrap();
    let secrets = reviews::aws::secrets(&sdk);
    let secret_name = format!("logs-{bucket}");
    secrets
        .create_secret()
        .name(&secret_name)
        .secret_string(serde_json::json!({"username": user, "password": password}).to_string())
        .send()
        .await
        .unwrap();

    let db = Database::new(
        t.config(),
        CredentialSource::Secret(SecretCache::new(secrets.clone(), &secret_name)),
    );
    // The test user may create only its own database: create it as admin, let migrate fill it.
    {
        use mysql_async::prelude::Queryable;
        let mut admin = t.admin().await;
        admin
            .query_drop(format!("CREATE DATABASE `{}`", t.name))
            .await
            .unwrap();
    }
    handlers::migrate(&db, None).await.unwrap();
    let prefixes = Prefixes {
        pending: "book-reviews/reviews/".into(),
        completed: "book-reviews/completed/".into(),
        failed: "book-reviews/failed/".into(),
        reports: "book-reviews/reports/".into(),
    };
    let store = S3Store::new(s3, &bucket);
    let listing = handlers::preprocess(&store, &prefixes, 10, PreprocessRequest::default())
        .await
        .unwrap();
    let state = DbProcess {
        store: store.clone(),
        db,
        settings: IngestSettings {
            region_indicator: "us-east-1".into(),
            batch_size: 2,
            writers: 2,
        },
    };
    for f in &listing.files {
        let report = handlers::dbprocess(
            &state,
            DbProcessRequest {
                key: f.key.clone(),
                etag: Some(f.etag.clone()),
                run: None,
            },
            None,
        )
        .await
        .unwrap();
        assert_eq!(report.inserted, 4);
        handlers::postprocess(
            &store,
            &prefixes,
            PostprocessRequest {
                key: f.key.clone(),
                etag: None,
                outcome: FileOutcome::Completed,
                error: None,
                report: None,
            },
        )
        .await
        .unwrap();
    }
    // A refused login logs too.
    t.set_password(&user, "another-one").await;
    let _ = handlers::migrate(&state.db, None).await.unwrap_err();
    t.drop_user(&user).await;

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.lines().count() > 10,
        "expected SDK trace lines too:\n{logs}"
    );
    assert!(!logs.contains(password), "the password appears in the logs");
    let mut saw_counts = false;
    for line in logs.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        if v["message"] == "object ingested" {
            assert_eq!(v["key"], "book-reviews/reviews/mixed.json");
            assert_eq!(v["inserted"], 4);
            assert_eq!(v["rejected"], 4);
            assert_eq!(v["read"], 9);
            saw_counts = true;
        }
    }
    assert!(saw_counts, "no 'object ingested' line with counts");
    t.drop_db().await;
}
