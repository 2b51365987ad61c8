//! The `ingest` binary against the test MariaDB (`DEPLOY_TEST_MYSQL_URL`, an admin URL).

use std::process::Command;

use mysql_async::prelude::Queryable;

fn admin_url() -> String {
    std::env::var("DEPLOY_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3307/".into())
}

fn fixture(name: &str) -> String {
    format!(
        "{}/../../tests/fixtures/reviews/{name}",
        // At run time: a binary from a shared target directory may come from another clone.
        std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo")
    )
}

fn ingest(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ingest"))
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

async fn admin() -> mysql_async::Conn {
    let url = admin_url();
    let opts = mysql_async::OptsBuilder::from_opts(mysql_async::Opts::from_url(&url).unwrap())
        .prefer_socket(false);
    mysql_async::Conn::new(opts).await.unwrap_or_else(|e| {
        panic!("cannot reach the test MariaDB at {url} ({e}); start it with `make local-up` or set DEPLOY_TEST_MYSQL_URL")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingests_files_prints_counts_and_fails_on_a_missing_file() {
    let mut conn = admin().await;
    let db = format!("t_cli_{}", std::process::id());
    conn.query_drop(format!("DROP DATABASE IF EXISTS {db}"))
        .await
        .unwrap();
    let url = format!(
        "{}{db}",
        admin_url().trim_end_matches('/').to_string() + "/"
    );
    let (a, b) = (fixture("mixed.json"), fixture("mixed.json.gz"));
    let args = [
        "--database-url",
        &url,
        "--region-indicator",
        "eu-west-1",
        "--migrate",
        &a,
        &b,
    ];
    let (code, out, err) = ingest(&args);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.starts_with("schema: version 4 (applied [1, 2, 3, 4])\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "mixed.json: read 9, inserted 4, already present 1, rejected 4 (11 lines, 2 blank)"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "mixed.json.gz: read 9, inserted 0, already present 5, rejected 4 (11 lines, 2 blank)"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "total: read 18, inserted 4, already present 6, rejected 8 (22 lines, 4 blank)"
        ),
        "{out}"
    );

    // Again: the ledger knows both files; one missing file makes the exit code 1.
    let missing = fixture("no-such-file.json");
    let (code, out, _) = ingest(&[
        "--database-url",
        &url,
        "--region-indicator",
        "x",
        &a,
        &missing,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("(already ingested)"), "{out}");
    assert!(out.contains("no-such-file.json: FAILED: "), "{out}");
    assert!(out.contains("1 of 2 files could not be finished"), "{out}");
    let rows: Option<u64> = conn
        .query_first(format!("SELECT COUNT(*) FROM {db}.reviews"))
        .await
        .unwrap();
    assert_eq!(rows, Some(4));
    conn.query_drop(format!("DROP DATABASE {db}"))
        .await
        .unwrap();
}

#[test]
fn a_url_without_a_database_is_a_usage_error() {
    let (code, _, err) = ingest(&[
        "--database-url",
        "mysql://u:secret@127.0.0.1:1/",
        "--region-indicator",
        "r",
        "f.json",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("needs a database name"), "{err}");
    assert!(!err.contains("secret"), "{err}");
}
