//! The writer against a real MariaDB: schema, exact counts, idempotency, resumption after a
//! killed connection, connection failures, and the SQL that write forwarding would reject.

#![allow(clippy::type_complexity)] // row tuples read back in assertions

use crate::common;

use std::time::{Duration, Instant};

use common::{fixture, open_file, synthetic_lines, TestDb};
use mysql_async::prelude::Queryable;
use reviews::db::{
    Consistency, CredentialSource, Database, DbCredentials, Purpose, StatementLog, TlsMode,
};
use reviews::ingest::{ingest_attempt, ingest_object, Attempt, IngestSettings, ObjectId, Outcome};
use reviews::Error;

fn settings(region: &str) -> IngestSettings {
    IngestSettings {
        region_indicator: region.into(),
        batch_size: 4,
        writers: 2,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_creates_everything_once_and_in_order() {
    let t = TestDb::new("migrate").await;
    let db = t.database();
    let mut s = db.connect(Purpose::Migrate).await.unwrap();
    let first = reviews::schema::migrate(&mut s, &t.name).await.unwrap();
    assert_eq!(first.applied, vec![1, 2, 3, 4]);
    assert_eq!(first.version, 4);
    let second = reviews::schema::migrate(&mut s, &t.name).await.unwrap();
    assert!(second.applied.is_empty());
    assert_eq!(second.version, 4);
    s.close().await;
    let versions: Vec<u32> = t
        .rows("SELECT version FROM schema_migrations ORDER BY version")
        .await;
    assert_eq!(versions, vec![1, 2, 3, 4]);
    let mut tables: Vec<String> = t
        .rows("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
        .await;
    tables.sort();
    assert_eq!(
        tables,
        [
            "ingest_batches",
            "ingest_objects",
            "review_rejects",
            "reviews",
            "schema_migrations"
        ]
    );
    let charset: Vec<String> = t
        .rows("SELECT DISTINCT character_set_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'reviews' AND character_set_name IS NOT NULL")
        .await;
    assert_eq!(charset, ["utf8mb4"]);
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_refuses_a_database_without_the_schema() {
    let t = TestDb::new("noschema").await;
    let mut admin = t.admin().await;
    admin
        .query_drop(format!("CREATE DATABASE `{}`", t.name))
        .await
        .unwrap();
    let err = ingest_object(
        &t.database(),
        &settings("r"),
        &ObjectId::new("k", "e"),
        open_file(fixture("mixed.json")),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Schema(_)), "{err}");
    assert!(
        err.to_string().contains("run the migrate function first"),
        "{err}"
    );
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_lands_with_exact_counts_and_faithful_text() {
    let (t, db) = TestDb::migrated("fixture").await;
    let obj = ObjectId::new("book-reviews/reviews/mixed.json", "\"etag-1\"");
    // One writer, so the first of two lines with the same identity is the one committed first.
    let one_writer = IngestSettings {
        writers: 1,
        ..settings("us-east-1")
    };
    let r = ingest_object(&db, &one_writer, &obj, open_file(fixture("mixed.json")))
        .await
        .unwrap();
    assert_eq!(r.outcome, Outcome::Ingested);
    assert_eq!(
        (
            r.lines,
            r.blank_lines,
            r.read,
            r.inserted,
            r.already_present,
            r.rejected
        ),
        (11, 2, 9, 4, 1, 4)
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM reviews").await, 4);

    let text: Vec<(String, String, u32, String, String, String)> = t
        .rows("SELECT review_text, summary, CAST(overall AS UNSIGNED), region_indicator, source_key, DATE_FORMAT(ingested_at, '%Y') FROM reviews WHERE reviewer_id = 'A3EMOJI'")
        .await;
    assert_eq!(
        text[0].0,
        "Great 😀 book\u{2028}second line \"quoted\" back\\slash\ttab 'single'"
    );
    assert_eq!(text[0].1, "😀😀");
    assert_eq!(text[0].2, 4);
    assert_eq!(text[0].3, "us-east-1");
    assert_eq!(text[0].4, "book-reviews/reviews/mixed.json");

    let first: Vec<(String, u32, String, String, String, bool)> = t
        .rows("SELECT review_text, vote, DATE_FORMAT(review_time, '%Y-%m-%d'), JSON_UNQUOTE(JSON_EXTRACT(style, '$.\"Format:\"')), JSON_UNQUOTE(JSON_EXTRACT(image, '$[0]')), verified FROM reviews WHERE reviewer_id = 'A2SUAM1J3GNN3B'")
        .await;
    // The first line wins over the later duplicate.
    assert_eq!(
        first[0].0,
        "I bought this for my husband who plays the piano."
    );
    assert_eq!(first[0].1, 1234);
    assert_eq!(first[0].2, "2013-02-27");
    assert_eq!(first[0].3, " Hardcover");
    assert!(first[0].4.ends_with("71eG75FTJJL._SY88.jpg"));
    assert!(first[0].5);

    let cjk: Vec<(String, String, u32, f64)> = t
        .rows("SELECT reviewer_name, review_text, vote, overall FROM reviews WHERE reviewer_id = 'A6CJK'")
        .await;
    assert_eq!(
        cjk[0],
        ("山田太郎".into(), "とても良い本です\u{0}end".into(), 7, 3.5)
    );

    let nulls: Vec<(Option<String>, Option<f64>, Option<u32>, Option<String>)> = t
        .rows("SELECT review_text, overall, vote, style FROM reviews WHERE reviewer_id = 'A5NULLS'")
        .await;
    assert_eq!(nulls[0], (None, None, None, None));

    let rejects: Vec<(u64, String, String)> = t
        .rows("SELECT line_no, reason, excerpt FROM review_rejects ORDER BY line_no")
        .await;
    assert_eq!(
        rejects.iter().map(|r| r.0).collect::<Vec<_>>(),
        vec![5, 6, 7, 8]
    );
    assert!(rejects[0].1.starts_with("not JSON"), "{}", rejects[0].1);
    assert_eq!(rejects[0].2, "{this is not json");
    assert_eq!(rejects[1].1, "not a JSON object");
    assert_eq!(rejects[2].1, "wrong type: overall is a string");
    assert!(rejects[3].1.starts_with("missing reviewerID"));
    // The report names them too, line and reason, for the file's rejects object.
    assert_eq!(
        r.rejected_lines
            .iter()
            .map(|l| (l.line, l.reason.clone()))
            .collect::<Vec<_>>(),
        rejects
            .iter()
            .map(|r| (r.0, r.1.clone()))
            .collect::<Vec<_>>()
    );
    // And so does the report of a run that finds the file already ingested.
    let again = ingest_object(&db, &one_writer, &obj, open_file(fixture("mixed.json")))
        .await
        .unwrap();
    assert_eq!(again.outcome, Outcome::AlreadyIngested);
    assert_eq!(again.rejected_lines, r.rejected_lines);
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_and_long_texts() {
    let (t, db) = TestDb::migrated("gzip").await;
    let r = ingest_object(
        &db,
        &settings("r"),
        &ObjectId::new("mixed.json.gz", "g"),
        open_file(fixture("mixed.json.gz")),
    )
    .await
    .unwrap();
    assert_eq!(
        (r.read, r.inserted, r.already_present, r.rejected),
        (9, 4, 1, 4)
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.json");
    let long = "Ω😀".repeat(20_000); // 120 KB, more than TEXT's 64 KiB
    std::fs::write(
        &path,
        format!("{{\"reviewerID\":\"L\",\"asin\":\"B\",\"unixReviewTime\":1,\"reviewText\":\"{long}\"}}\n"),
    )
    .unwrap();
    let r = ingest_object(
        &db,
        &settings("r"),
        &ObjectId::new("long.json", "l"),
        open_file(path),
    )
    .await
    .unwrap();
    assert_eq!(r.inserted, 1);
    let back: Vec<String> = t
        .rows("SELECT review_text FROM reviews WHERE reviewer_id = 'L'")
        .await;
    assert_eq!(back[0], long);
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reruns_and_duplicates_across_files_and_regions_leave_one_row() {
    let (t, db) = TestDb::migrated("idem").await;
    let obj = ObjectId::new("a.json", "e1");
    let first = ingest_object(
        &db,
        &settings("eu-west-1"),
        &obj,
        open_file(fixture("mixed.json")),
    )
    .await
    .unwrap();
    assert_eq!(first.inserted, 4);

    // The same object again: the ledger answers without opening it.
    let again = ingest_object(&db, &settings("eu-west-1"), &obj, || async {
        panic!("a finished object must not be opened again")
    })
    .await
    .unwrap();
    assert_eq!(again.outcome, Outcome::AlreadyIngested);
    // Nothing new: every row it has is present now, its bad lines rejected as before.
    assert_eq!(
        (
            again.read,
            again.inserted,
            again.already_present,
            again.rejected
        ),
        (
            first.read,
            0,
            first.inserted + first.already_present,
            first.rejected
        )
    );

    // The same lines in another file, written from another Region.
    let other = ingest_object(
        &db,
        &settings("us-west-2"),
        &ObjectId::new("b.json", "e2"),
        open_file(fixture("mixed.json")),
    )
    .await
    .unwrap();
    assert_eq!(
        (other.inserted, other.already_present, other.rejected),
        (0, 5, 4)
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM reviews").await, 4);
    assert_eq!(
        t.count("SELECT COUNT(*) FROM reviews WHERE region_indicator <> 'eu-west-1'")
            .await,
        0
    );
    assert_eq!(
        t.count("SELECT COUNT(*) FROM reviews WHERE source_key <> 'a.json'")
            .await,
        0
    );
    t.drop_db().await;
}

/// The attempt that finished a file can lose its reply (the connection drops after its last
/// commit, as Aurora's do in a switchover), and Step Functions then retries it: the retry
/// must answer with the same counts, or the run reports fewer rows inserted than it wrote.
/// A later run still finds the file already ingested, with nothing inserted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_in_the_same_run_answers_with_the_finishing_attempts_counts() {
    let (t, db) = TestDb::migrated("samerun").await;
    let obj = ObjectId::new("a.json", "e1");
    let run = "arn:aws:states:us-east-1:123456789012:execution:ingest:run-1";
    let first = ingest_attempt(
        &db,
        &settings("eu-west-1"),
        &obj,
        &Attempt::of_run(run),
        open_file(fixture("mixed.json")),
    )
    .await
    .unwrap();
    assert_eq!((first.outcome, first.inserted), (Outcome::Ingested, 4));
    let counts = |r: &reviews::ingest::IngestReport| {
        (
            r.read,
            r.inserted,
            r.already_present,
            r.rejected,
            r.rejected_lines.len(),
        )
    };

    // Its reply lost; the retry of the same run reads nothing and answers the same.
    let retried = ingest_attempt(
        &db,
        &settings("eu-west-1"),
        &obj,
        &Attempt::of_run(run),
        || async { panic!("a finished object must not be opened again") },
    )
    .await
    .unwrap();
    assert_eq!(retried.outcome, Outcome::Ingested);
    assert_eq!(counts(&retried), counts(&first));

    // Another run, or a caller naming none: nothing new.
    for attempt in [Attempt::of_run(format!("{run}-2")), Attempt::default()] {
        let later = ingest_attempt(&db, &settings("eu-west-1"), &obj, &attempt, || async {
            panic!("a finished object must not be opened again")
        })
        .await
        .unwrap();
        assert_eq!(later.outcome, Outcome::AlreadyIngested, "{attempt:?}");
        assert_eq!(
            (later.inserted, later.already_present),
            (0, first.inserted + first.already_present)
        );
    }
    assert_eq!(t.count("SELECT COUNT(*) FROM reviews").await, 4);
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_connection_fails_the_run_and_the_retry_completes_exactly() {
    let (t, db) = TestDb::migrated("kill").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.json");
    let n = 30_000;
    std::fs::write(&path, synthetic_lines(n, "K")).unwrap();
    let obj = ObjectId::new("big.json", "e");
    let s = IngestSettings {
        region_indicator: "r".into(),
        batch_size: 200,
        writers: 1,
    };

    let run = {
        let (db, s, obj, path) = (t.database(), s.clone(), obj.clone(), path.clone());
        tokio::spawn(async move { ingest_object(&db, &s, &obj, open_file(path)).await })
    };
    // Once a few batches are in, kill the writer's connection from another session.
    let mut admin = t.admin().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let batches: Option<u64> = admin
            .query_first(format!("SELECT COUNT(*) FROM `{}`.ingest_batches", t.name))
            .await
            .unwrap();
        if batches.unwrap_or(0) >= 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no batches committed within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ids: Vec<u64> = admin
        .query(format!(
            "SELECT id FROM information_schema.processlist WHERE db = '{}' AND id <> CONNECTION_ID()",
            t.name
        ))
        .await
        .unwrap();
    assert!(!ids.is_empty());
    for id in ids {
        let _ = admin.query_drop(format!("KILL CONNECTION {id}")).await;
    }
    let err = run
        .await
        .unwrap()
        .expect_err("the run must fail when its connection is killed");
    let msg = err.to_string();
    assert!(
        msg.contains("big.json") && msg.contains("database error while"),
        "{msg}"
    );
    // A lost connection is the writer going away (a restart, a switchover): the state
    // machine retries this kind instead of failing the file.
    assert_eq!(err.kind(), "DatabaseUnavailable", "{msg}");
    let landed = t.count("SELECT COUNT(*) FROM reviews").await;
    assert!(
        landed > 0 && landed < n as u64,
        "{landed} rows landed before the kill"
    );

    let retry = ingest_object(&db, &s, &obj, open_file(path)).await.unwrap();
    assert_eq!(retry.outcome, Outcome::Ingested);
    assert!(retry.resumed_batches >= 3);
    // Exactly the counts of a run that never failed.
    assert_eq!(
        (
            retry.read,
            retry.inserted,
            retry.already_present,
            retry.rejected
        ),
        (n as u64, n as u64, 0, 0)
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM reviews").await, n as u64);
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_database_fails_within_the_connect_timeout() {
    // A server that accepts the connection and never says anything.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let t = TestDb::new("unreach").await;
    let mut cfg = t.config();
    cfg.port = port;
    cfg.connect_timeout = Duration::from_secs(1);
    let db = reviews::db::Database::new(
        cfg,
        reviews::db::CredentialSource::Fixed(reviews::db::DbCredentials::new("u", "p")),
    );
    let started = Instant::now();
    let err = db.connect(Purpose::Write).await.err().expect("must fail");
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(matches!(err, Error::ConnectTimeout { .. }), "{err}");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );

    // Nothing listening at all: refused at once.
    drop(_hold);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut cfg = t.config();
    cfg.port = closed_port;
    let db = reviews::db::Database::new(
        cfg,
        reviews::db::CredentialSource::Fixed(reviews::db::DbCredentials::new("u", "p")),
    );
    let err = db.connect(Purpose::Write).await.err().expect("must fail");
    assert!(matches!(err, Error::Connect { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("cannot connect to the database at"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consistency_is_set_when_configured_and_never_swallowed() {
    let (t, _) = TestDb::migrated("consistency").await;
    let mut cfg = t.config();
    cfg.consistency = Consistency::parse_setting("session").unwrap();
    let db = reviews::db::Database::new(
        cfg,
        reviews::db::CredentialSource::Fixed(reviews::db::DbCredentials::new(
            t.user.clone(),
            t.password.clone(),
        )),
    );
    // MariaDB has no such variable: configured anyway, it is an error, not a silent skip.
    let err = db
        .connect(Purpose::Write)
        .await
        .err()
        .expect("MariaDB lacks the variable");
    assert!(
        err.to_string().contains("aurora_replica_read_consistency"),
        "{err}"
    );
    assert_eq!(Consistency::parse_setting("").unwrap(), None);
    assert!(Consistency::parse_setting("strong").is_err());
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_required_against_a_plain_server_is_a_clear_error() {
    let t = TestDb::new("tls").await;
    let mut cfg = t.config();
    cfg.tls = TlsMode::Required;
    let db = reviews::db::Database::new(
        cfg,
        reviews::db::CredentialSource::Fixed(reviews::db::DbCredentials::new(
            t.user.clone(),
            t.password.clone(),
        )),
    );
    let err = db
        .connect(Purpose::Migrate)
        .await
        .err()
        .expect("no TLS that the built-in roots trust: none, or the stand-in's own CA");
    assert!(
        err.to_string()
            .starts_with("cannot connect to the database at"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_issues_nothing_write_forwarding_rejects() {
    let (t, _) = TestDb::migrated("sqlaudit").await;
    let log = StatementLog::default();
    let db = t.database().with_statement_log(log.clone());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("some.json");
    std::fs::write(
        &path,
        synthetic_lines(50, "S") + &std::fs::read_to_string(fixture("mixed.json")).unwrap(),
    )
    .unwrap();
    ingest_object(
        &db,
        &settings("r"),
        &ObjectId::new("some.json", "e"),
        open_file(path),
    )
    .await
    .unwrap();
    let statements = log.statements();
    assert!(statements
        .iter()
        .any(|s| s.starts_with("INSERT INTO reviews")));
    assert!(statements
        .iter()
        .any(|s| s.starts_with("INSERT INTO review_rejects")));
    for s in &statements {
        let head: String = s.chars().take(200).collect::<String>().to_ascii_uppercase();
        let first = head.split_whitespace().next().unwrap_or("");
        assert!(
            ["SET", "SELECT", "INSERT", "UPDATE", "START", "COMMIT", "ROLLBACK"].contains(&first),
            "unexpected statement kind: {head}"
        );
        for banned in [
            "SAVEPOINT",
            "LOAD DATA",
            "TEMPORARY",
            "LOCK TABLES",
            "XA ",
            "READ COMMITTED",
            "SERIALIZABLE",
            "READ UNCOMMITTED",
        ] {
            assert!(!head.contains(banned), "{banned} in {head}");
        }
        if first == "SET" {
            assert!(
                head.starts_with("SET NAMES UTF8MB4, SESSION SQL_MODE")
                    || head == "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                "{head}"
            );
        }
    }
    t.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_load_stopped_at_its_deadline_is_incomplete_and_the_next_attempt_completes_it_exactly() {
    let (t, db) = TestDb::migrated("deadline").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.json");
    let n = 30_000;
    std::fs::write(&path, synthetic_lines(n, "D")).unwrap();
    let obj = ObjectId::new("long.json", "e");
    let s = IngestSettings {
        region_indicator: "r".into(),
        batch_size: 50,
        writers: 2,
    };

    // Past its deadline before it starts: nothing is written, and it says so.
    let none = ingest_attempt(
        &db,
        &s,
        &obj,
        &Attempt::until(Instant::now()),
        open_file(path.clone()),
    )
    .await
    .unwrap();
    assert_eq!(none.outcome, Outcome::Incomplete);
    assert_eq!((none.batches, none.inserted), (0, 0));
    assert_eq!(t.count("SELECT COUNT(*) FROM reviews").await, 0);

    // A deadline in the middle: some batches committed, the rest left for the next call.
    let soon = Instant::now() + Duration::from_millis(200);
    let part = ingest_attempt(
        &db,
        &s,
        &obj,
        &Attempt::until(soon),
        open_file(path.clone()),
    )
    .await
    .unwrap();
    let landed = t.count("SELECT COUNT(*) FROM reviews").await;
    assert_eq!(part.outcome, Outcome::Incomplete, "600 batches in 200 ms?");
    assert_eq!(
        part.inserted, landed,
        "an incomplete report counts what is committed"
    );
    assert!(landed < n as u64, "{landed}");

    // The next attempt resumes after the committed batches and ends with the counts of a
    // run that never stopped.
    let done = ingest_object(&db, &s, &obj, open_file(path)).await.unwrap();
    assert_eq!(done.resumed_batches > 0, landed > 0);
    assert_eq!(done.outcome, Outcome::Ingested);
    assert_eq!(
        (
            done.read,
            done.inserted,
            done.already_present,
            done.rejected
        ),
        (n as u64, n as u64, 0, 0)
    );
    assert_eq!(t.count("SELECT COUNT(*) FROM reviews").await, n as u64);
    t.drop_db().await;
}

#[test]
fn errors_that_pass_by_themselves_are_told_apart() {
    use reviews::error::{transience, Transience};
    let server = |code: u16| {
        mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message: String::new(),
            state: "HY000".into(),
        })
    };
    assert_eq!(
        transience(&server(1290)),
        Some(Transience::Unavailable),
        "read-only: a demoted writer"
    );
    assert_eq!(transience(&server(1836)), Some(Transience::Unavailable));
    assert_eq!(
        transience(&server(1213)),
        Some(Transience::Busy),
        "deadlock"
    );
    assert_eq!(
        transience(&server(1205)),
        Some(Transience::Busy),
        "lock wait"
    );
    assert_eq!(
        transience(&server(1062)),
        None,
        "a duplicate key is a bug, not a blip"
    );
    assert_eq!(transience(&server(1406)), None, "data too long");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schema_upgrades_from_version_2_with_its_data() {
    // A database as the previous release left it: version 2, with rows and a finished object.
    let t = TestDb::new("upgrade").await;
    let mut admin = t.admin().await;
    admin
        .query_drop(format!(
            "CREATE DATABASE `{0}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci; USE `{0}`;
             CREATE TABLE schema_migrations (version INT UNSIGNED NOT NULL PRIMARY KEY,
               description VARCHAR(255) NOT NULL,
               applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)) ENGINE=InnoDB",
            t.name
        ))
        .await
        .unwrap();
    for migration in &reviews::schema::MIGRATIONS[..2] {
        for statement in migration.statements {
            admin.query_drop(*statement).await.unwrap();
        }
        admin
            .query_drop(format!(
                "INSERT INTO schema_migrations (version, description) VALUES ({}, 'old')",
                migration.version
            ))
            .await
            .unwrap();
    }
    admin
        .query_drop(
            "INSERT INTO reviews (reviewer_id, asin, unix_review_time, review_text, region_indicator, source_key)
               VALUES ('A', 'B1', 1, 'kept 😀', 'us-east-1', 'old.json'), ('Z', 'B1', 1, NULL, 'us-east-2', 'old.json');
             INSERT INTO ingest_objects (object_hash, object_key, etag, batch_size, status, region_indicator,
               lines_total, reviews_read, inserted, already_present, rejected, bytes_read)
               VALUES (X'00', 'old.json', 'e', 500, 'complete', 'us-east-1', 2, 2, 2, 0, 0, 10);
             INSERT INTO ingest_batches (object_hash, first_line, last_line, inserted, already_present)
               VALUES (X'00', 1, 2, 2, 0)",
        )
        .await
        .unwrap();

    let db = t.database();
    let mut s = db.connect(Purpose::Migrate).await.unwrap();
    let upgrade = reviews::schema::migrate(&mut s, &t.name).await.unwrap();
    s.close().await;
    assert_eq!((upgrade.applied, upgrade.version), (vec![3, 4], 4));

    // Everything is still there, byte for byte.
    let rows: Vec<(String, Option<String>, String)> = t
        .rows("SELECT reviewer_id, review_text, region_indicator FROM reviews ORDER BY reviewer_id")
        .await;
    assert_eq!(
        rows,
        [
            ("A".into(), Some("kept 😀".into()), "us-east-1".into()),
            ("Z".into(), None, "us-east-2".into())
        ]
    );
    let refused: Vec<u64> = t.rows("SELECT refused FROM ingest_batches").await;
    assert_eq!(refused, [0]);
    // And "A " is a review of its own now.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.json");
    std::fs::write(
        &path,
        "{\"reviewerID\":\"A \",\"asin\":\"B1\",\"unixReviewTime\":1}\n{\"reviewerID\":\"A\",\"asin\":\"B1\",\"unixReviewTime\":1}\n",
    )
    .unwrap();
    let r = ingest_object(
        &db,
        &settings("us-east-1"),
        &ObjectId::new("new.json", "e"),
        open_file(path),
    )
    .await
    .unwrap();
    assert_eq!((r.inserted, r.already_present), (1, 1));
    t.drop_db().await;
}

/// The stand-in's certificate authority, which signed MariaDB's certificate (local/up.sh
/// makes it under its state directory; `DEPLOY_TEST_MYSQL_CA` names another).
fn stand_in_ca() -> std::path::PathBuf {
    let ca = std::env::var("DEPLOY_TEST_MYSQL_CA")
        .map(Into::into)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap())
                .join("../../.local/tls/ca.pem")
        });
    assert!(
        ca.is_file(),
        "no {}: the test MariaDB has no TLS; restart it with `make local-down local-up` \
         (or set DEPLOY_TEST_MYSQL_CA)",
        ca.display()
    );
    ca
}

/// What `migrate` does for dbprocess (reviews::schema::APP_GRANTS): the application user
/// logs in over TLS only, ingests with exactly its grants, and can run no DDL; a second
/// migrate with a rotated password changes the password, and nothing logs it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_application_user_ingests_over_tls_only_and_runs_no_ddl() {
    let t = TestDb::new("appuser").await;
    let user = format!("a{}", &t.name[1..]);
    let (first, rotated) = ("First-pw-8c7b6a5d4e", "Rotated-pw-1a2b3c4d");
    let log = StatementLog::default();
    let admin = t.database().with_statement_log(log.clone());
    let mut s = admin.connect(Purpose::Migrate).await.unwrap();
    for password in [first, rotated] {
        let report = reviews::schema::migrate_with(
            &mut s,
            &t.name,
            Some(&DbCredentials::new(&user, password)),
        )
        .await
        .unwrap();
        assert_eq!(report.app_user.as_deref(), Some(user.as_str()));
    }
    // The master user cannot be made the application user (its password would change).
    let err = reviews::schema::migrate_with(
        &mut s,
        &t.name,
        Some(&DbCredentials::new(&t.user, "whatever-it-is")),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("is the master user"), "{err}");
    s.close().await;
    let statements = log.statements();
    assert!(
        statements
            .iter()
            .all(|s| !s.contains(first) && !s.contains(rotated)),
        "a password was recorded"
    );
    assert!(statements.iter().any(|s| s.starts_with("ALTER USER")
        && s.contains("<redacted>")
        && s.ends_with("REQUIRE SSL")));

    let as_user = |password: &str, tls: bool| {
        let mut config = t.config();
        if tls {
            config.tls = TlsMode::Required;
            config.ca_bundle = Some(stand_in_ca());
        }
        Database::new(
            config,
            CredentialSource::Fixed(DbCredentials::new(&user, password)),
        )
    };
    // REQUIRE SSL: a plain login is refused as MariaDB and MySQL refuse it ("Access denied").
    let err = as_user(rotated, false)
        .connect(Purpose::Write)
        .await
        .err()
        .expect("a plain login of a REQUIRE SSL user");
    assert!(err.is_auth_failure(), "{err}");
    // The first password no longer works; the rotated one does, over TLS.
    let err = as_user(first, true)
        .connect(Purpose::Write)
        .await
        .err()
        .expect("the old password");
    assert!(err.is_auth_failure(), "{err}");
    let app = as_user(rotated, true);
    let obj = ObjectId::new("book-reviews/reviews/mixed.json", "\"etag-1\"");
    let r = ingest_object(
        &app,
        &settings("us-east-1"),
        &obj,
        open_file(fixture("mixed.json")),
    )
    .await
    .unwrap();
    assert_eq!(r.outcome, Outcome::Ingested);
    assert_eq!((r.inserted, r.rejected), (4, 4));
    let again = ingest_object(
        &app,
        &settings("us-east-1"),
        &obj,
        open_file(fixture("mixed.json")),
    )
    .await
    .unwrap();
    assert_eq!(again.outcome, Outcome::AlreadyIngested);

    let mut session = app.connect(Purpose::Write).await.unwrap();
    for (statement, code) in [
        ("DROP TABLE reviews", 1142),
        ("CREATE TABLE extra (a INT)", 1142),
        ("ALTER TABLE reviews ADD COLUMN extra INT", 1142),
        ("TRUNCATE TABLE ingest_batches", 1142),
        ("DELETE FROM reviews", 1142),
        ("UPDATE schema_migrations SET version = 99", 1142),
    ] {
        match session.exec(statement, "trying").await.unwrap_err() {
            Error::Database {
                source: mysql_async::Error::Server(e),
                ..
            } => assert_eq!(e.code, code, "{statement}: {}", e.message),
            other => panic!("{statement}: {other}"),
        }
    }
    let read = session
        .query::<String>("SELECT review_text FROM reviews", "reading reviews")
        .await
        .unwrap_err();
    assert!(read.to_string().contains("1143"), "{read}");
    session.close().await;

    t.drop_user(&user).await;
    t.drop_db().await;
}
