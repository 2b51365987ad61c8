//! Least-privilege database access end to end on the stand-in (lambdas/README.md,
//! "Database access"): after `deploy up` (whose `migrate` runs as the master user), the
//! application user exists with exactly the grants ingestion needs and REQUIRE SSL; a plain
//! connection is refused, by MariaDB for the user (REQUIRE SSL) and by the cluster endpoint
//! for everyone (the cluster parameter group's require_secure_transport, as Aurora answers
//! it); over TLS it logs in but cannot run DDL or read the reviews; dbprocess ingests as
//! it; and a rotated application secret is applied by the next `migrate`.
//! Its environment is named `access`, with its own database and users.
#![cfg(feature = "aws")]

use crate::common;

use std::collections::BTreeSet;
use std::process::Output;

use common::{
    assert_moto_is_up, environment_named, generate_reviews, json, sql, succeed, text, up,
};

const DATABASE: &str = "access_db";
const APP_USER: &str = "access_app";

/// The stand-in's certificate authority (local/up.sh makes it under its state directory).
fn stand_in_ca() -> String {
    let state = std::env::var("LOCAL_STATE_DIR").unwrap_or_else(|_| ".local".into());
    let ca = std::path::Path::new(&state).join("tls/ca.pem");
    assert!(
        ca.is_file(),
        "no {}: the stand-in was started without TLS; restart it with `make local-down local-up`",
        ca.display()
    );
    ca.to_str().unwrap().to_string()
}

/// The mariadb client as `user`, the password through MYSQL_PWD (never on a command line
/// or in a message), with or without TLS (verifying the server's certificate).
fn client(host: &str, port: u16, user: &str, password: &str, tls: bool, query: &str) -> Output {
    let mut command = std::process::Command::new("mariadb");
    command
        .args([
            "--no-defaults",
            "--protocol=tcp",
            "--batch",
            "--skip-column-names",
        ])
        .arg(format!("-h{host}"))
        .arg(format!("-P{port}"))
        .arg(format!("-u{user}"))
        .env("MYSQL_PWD", password);
    if tls {
        command
            .arg("--ssl")
            .arg(format!("--ssl-ca={}", stand_in_ca()))
            .arg("--ssl-verify-server-cert");
    } else {
        command.arg("--skip-ssl");
    }
    command
        .args(["-e", query])
        .output()
        .expect("the mariadb client (make local-up installs it)")
}

#[track_caller]
fn refused(output: &Output, expected: &str) {
    let stderr = text(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains(expected),
        "expected the server to refuse with {expected:?}; got {:?}\n{stderr}",
        output.status
    );
}

#[track_caller]
fn answered(output: &Output) -> String {
    assert!(output.status.success(), "{}", text(&output.stderr));
    text(&output.stdout)
}

/// The application user's current password, from its secret (as dbprocess reads it).
fn app_password(environment: &deploy::env::Environment) -> String {
    let environment = environment.clone();
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let aws = deploy::aws::AwsContext::load(&environment, None).await;
            let value = aws
                .secrets_manager("us-east-1")
                .get_secret_value()
                .secret_id(environment.app_secret_name())
                .send()
                .await
                .unwrap();
            let secret: serde_json::Value =
                serde_json::from_str(value.secret_string().unwrap()).unwrap();
            assert_eq!(secret["username"], APP_USER);
            secret["password"].as_str().unwrap().to_string()
        })
    })
    .join()
    .unwrap()
}

/// The primary cluster's writer endpoint (the stand-in's gateway), as DescribeDBClusters
/// gives it.
fn writer_endpoint(environment: &deploy::env::Environment) -> (String, u16) {
    let environment = environment.clone();
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let aws = deploy::aws::AwsContext::load(&environment, None).await;
            let cluster = format!("{}-us-east-1", environment.name_prefix());
            let found = aws
                .rds("us-east-1")
                .describe_db_clusters()
                .db_cluster_identifier(&cluster)
                .send()
                .await
                .unwrap();
            let cluster = &found.db_clusters()[0];
            (
                cluster.endpoint().unwrap().to_string(),
                cluster.port().unwrap() as u16,
            )
        })
    })
    .join()
    .unwrap()
}

#[test]
fn the_application_user_has_only_its_grants_needs_tls_and_ingests() {
    let _stand_in = common::stand_in();
    let dir = tempfile::tempdir().unwrap();
    let file = environment_named(dir.path(), "access");
    let path = file.to_str().unwrap();
    let environment = deploy::env::load(&file).unwrap();
    assert_moto_is_up(&environment);
    let mysql_port = common::stand_in_settings().mariadb_port;
    succeed(&["destroy", path, "--yes"]);
    sql(&format!("DROP DATABASE IF EXISTS {DATABASE}"));
    sql(&format!("DROP USER IF EXISTS '{APP_USER}'@'%'"));
    let report = json(&up(path));
    assert_eq!(report["succeeded"], true, "{report:#}");

    // Exactly the grants dbprocess's SQL needs (reviews::schema::APP_GRANTS), TLS required.
    let grants: BTreeSet<String> = sql(&format!("SHOW GRANTS FOR '{APP_USER}'@'%'"))
        .into_iter()
        .map(|row| {
            let grant = row.join("\t");
            // The password's hash is no business of a test's output.
            match (grant.find(" IDENTIFIED BY PASSWORD '"), grant.rfind('\'')) {
                (Some(start), Some(end)) if end > start => {
                    format!("{}{}", &grant[..start], &grant[end + 1..])
                }
                _ => grant,
            }
        })
        .collect();
    let on = |privileges: &str, table: &str| {
        format!("GRANT {privileges} ON `{DATABASE}`.`{table}` TO `{APP_USER}`@`%`")
    };
    let expected: BTreeSet<String> = [
        format!("GRANT USAGE ON *.* TO `{APP_USER}`@`%` REQUIRE SSL"),
        on("SELECT", "schema_migrations"),
        on("SELECT, INSERT, UPDATE", "ingest_objects"),
        on("SELECT, INSERT", "ingest_batches"),
        on("SELECT, INSERT, UPDATE", "review_rejects"),
        on("SELECT (`reviewer_id`), INSERT, UPDATE", "reviews"),
    ]
    .into_iter()
    .collect();
    assert_eq!(grants, expected);

    let password = app_password(&environment);
    let (endpoint, port) = writer_endpoint(&environment);
    let who = "SELECT CURRENT_USER(); SHOW SESSION STATUS LIKE 'Ssl_version'";

    // Without TLS: MariaDB refuses the user itself (REQUIRE SSL answers "Access denied")...
    refused(
        &client("127.0.0.1", mysql_port, APP_USER, &password, false, who),
        &format!("ERROR 1045 (28000): Access denied for user '{APP_USER}'@'127.0.0.1'"),
    );
    // ...and the cluster endpoint refuses any plain connection, as Aurora does with the
    // cluster parameter group's require_secure_transport ON.
    refused(
        &client(&endpoint, port, APP_USER, &password, false, who),
        "ERROR 3159 (HY000): Connections using insecure transport are prohibited while --require_secure_transport=ON.",
    );
    refused(
        &client(&endpoint, port, "root", "", false, "SELECT 1"),
        "ERROR 3159 (HY000)",
    );

    // Over TLS, through the cluster endpoint (its certificate verified against the CA).
    let session = answered(&client(&endpoint, port, APP_USER, &password, true, who));
    assert!(session.contains(&format!("{APP_USER}@%")), "{session}");
    assert!(session.contains("Ssl_version\tTLSv1."), "{session}");
    // No DDL, and nothing beyond its tables and columns.
    for (statement, error) in [
        (
            format!("DROP TABLE {DATABASE}.reviews"),
            format!("ERROR 1142 (42000) at line 1: DROP command denied to user '{APP_USER}'@'127.0.0.1' for table `{DATABASE}`.`reviews`"),
        ),
        (
            format!("CREATE TABLE {DATABASE}.extra (a INT)"),
            format!("ERROR 1142 (42000) at line 1: CREATE command denied to user '{APP_USER}'@'127.0.0.1' for table `{DATABASE}`.`extra`"),
        ),
        (
            format!("ALTER TABLE {DATABASE}.ingest_objects ADD COLUMN x INT"),
            format!("ERROR 1142 (42000) at line 1: ALTER command denied to user '{APP_USER}'@'127.0.0.1' for table `{DATABASE}`.`ingest_objects`"),
        ),
        (
            format!("DELETE FROM {DATABASE}.reviews"),
            format!("ERROR 1142 (42000) at line 1: DELETE command denied to user '{APP_USER}'@'127.0.0.1' for table `{DATABASE}`.`reviews`"),
        ),
        (
            format!("SELECT review_text FROM {DATABASE}.reviews"),
            format!("ERROR 1143 (42000) at line 1: SELECT command denied to user '{APP_USER}'@'127.0.0.1' for column 'review_text' in table 'reviews'"),
        ),
        (
            "CREATE USER 'another'@'%' IDENTIFIED BY 'x'".to_string(),
            "ERROR 1227 (42000) at line 1: Access denied; you need (at least one of) the CREATE USER privilege(s) for this operation".to_string(),
        ),
    ] {
        refused(
            &client(&endpoint, port, APP_USER, &password, true, &statement),
            &error,
        );
    }
    assert_eq!(
        answered(&client(
            &endpoint,
            port,
            APP_USER,
            &password,
            true,
            &format!("SELECT COUNT(*) FROM {DATABASE}.ingest_objects")
        ))
        .trim(),
        "0"
    );

    // dbprocess ingests as the application user, over TLS, in both Regions (us-east-2
    // forwards its writes through its reader endpoint).
    let data = dir.path().join("reviews");
    generate_reviews(&data, &["--files", "1", "--reviews", "40", "--shared", "0"]);
    for (set, region) in [("set-1", "us-east-1"), ("set-2", "us-east-2")] {
        let set = data.join(set);
        succeed(&[
            "data",
            "upload",
            path,
            set.to_str().unwrap(),
            "--region",
            region,
        ]);
    }
    let report = json(&succeed(&["run", path, "--wait", "--output", "json"]));
    assert_eq!(report["total"]["failed"], 0, "{report:#}");
    assert_eq!(report["total"]["completed"], 2, "{report:#}");
    let rows = sql(&format!(
        "SELECT COUNT(*) FROM {DATABASE}.reviews; SELECT COUNT(*) FROM {DATABASE}.ingest_objects WHERE status = 'complete'"
    ));
    assert_eq!(rows[1][0], "2", "{rows:?}");
    assert!(rows[0][0].parse::<u64>().unwrap() > 0, "{rows:?}");

    // A rotated secret: the next migrate (deploy up runs it) sets the new password.
    let rotated = format!("R0tated{}", &password[..16]);
    common::rotate_app_secret(&environment, APP_USER, &rotated);
    let report = json(&up(path));
    assert_eq!(report["succeeded"], true, "{report:#}");
    refused(
        &client(&endpoint, port, APP_USER, &password, true, who),
        "ERROR 1045 (28000)",
    );
    let session = answered(&client(&endpoint, port, APP_USER, &rotated, true, who));
    assert!(session.contains(&format!("{APP_USER}@%")), "{session}");
    assert_eq!(sql(&format!("SHOW GRANTS FOR '{APP_USER}'@'%'")).len(), 6);

    succeed(&["destroy", path, "--yes"]);
    sql(&format!("DROP USER IF EXISTS '{APP_USER}'@'%'"));
}
