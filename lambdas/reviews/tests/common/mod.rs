//! Test services: a MariaDB admin URL (`DEPLOY_TEST_MYSQL_URL`) under which each test creates
//! its own database, and moto's S3/Secrets Manager (`DEPLOY_TEST_S3_ENDPOINT`). A service that
//! cannot be reached fails the test with a message saying how to start it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use reviews::db::{CredentialSource, Database, DbConfig, DbCredentials, Purpose, TlsMode};

pub const DEFAULT_MYSQL_URL: &str = "mysql://root@127.0.0.1:3307/";
pub const DEFAULT_S3_ENDPOINT: &str = "http://127.0.0.1:5000";

pub fn mysql_url() -> String {
    std::env::var("DEPLOY_TEST_MYSQL_URL").unwrap_or_else(|_| DEFAULT_MYSQL_URL.to_string())
}

pub fn s3_endpoint() -> String {
    std::env::var("DEPLOY_TEST_S3_ENDPOINT").unwrap_or_else(|_| DEFAULT_S3_ENDPOINT.to_string())
}

pub fn fixture(name: &str) -> PathBuf {
    // The manifest directory as cargo gives it at run time: a test binary built in a
    // target directory shared with another clone keeps that clone's compile-time path.
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo"))
        .join("../../tests/fixtures/reviews")
        .join(name)
}

/// A uniquely named database on the test server, so tests can run in parallel.
pub struct TestDb {
    pub name: String,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    admin: mysql_async::Opts,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    pub async fn new(tag: &str) -> TestDb {
        let url = mysql_url();
        let admin = mysql_async::Opts::from_url(&url)
            .unwrap_or_else(|e| panic!("DEPLOY_TEST_MYSQL_URL {url:?} is not a MySQL URL: {e}"));
        let name = format!(
            "t_{tag}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let db = TestDb {
            name,
            host: admin.ip_or_hostname().to_string(),
            port: admin.tcp_port(),
            user: admin.user().unwrap_or("root").to_string(),
            password: admin.pass().unwrap_or("").to_string(),
            admin,
        };
        let mut conn = db.admin().await;
        conn.query_drop(format!("DROP DATABASE IF EXISTS `{}`", db.name))
            .await
            .unwrap();
        db
    }

    pub async fn admin(&self) -> mysql_async::Conn {
        let opts = mysql_async::OptsBuilder::from_opts(self.admin.clone()).prefer_socket(false);
        match tokio::time::timeout(Duration::from_secs(10), mysql_async::Conn::new(opts)).await {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => panic!(
                "cannot reach the test MariaDB at {}:{} ({e}); start it with `make local-up` or set \
                 DEPLOY_TEST_MYSQL_URL (default {DEFAULT_MYSQL_URL})",
                self.admin.ip_or_hostname(),
                self.admin.tcp_port()
            ),
            Err(_) => panic!(
                "the test MariaDB at {}:{} did not answer within 10 s; start it with `make local-up` \
                 or set DEPLOY_TEST_MYSQL_URL",
                self.admin.ip_or_hostname(),
                self.admin.tcp_port()
            ),
        }
    }

    pub fn config(&self) -> DbConfig {
        DbConfig {
            host: self.host.clone(),
            port: self.port,
            database: self.name.clone(),
            tls: TlsMode::Disabled,
            ca_bundle: None,
            consistency: None,
            connect_timeout: Duration::from_secs(5),
        }
    }

    pub fn database(&self) -> Database {
        Database::new(
            self.config(),
            CredentialSource::Fixed(DbCredentials::new(self.user.clone(), self.password.clone())),
        )
    }

    pub async fn migrated(tag: &str) -> (TestDb, Database) {
        let t = TestDb::new(tag).await;
        let db = t.database();
        let mut s = db
            .connect(Purpose::Migrate)
            .await
            .expect("connect for migrate");
        reviews::schema::migrate(&mut s, &t.name)
            .await
            .expect("migrate");
        s.close().await;
        (t, db)
    }

    pub async fn count(&self, sql: &str) -> u64 {
        let mut conn = self.admin().await;
        conn.query_drop(format!("USE `{}`", self.name))
            .await
            .unwrap();
        let v: Option<u64> = conn.query_first(sql).await.unwrap();
        v.unwrap_or(0)
    }

    pub async fn rows<T: mysql_async::prelude::FromRow + Send + 'static>(
        &self,
        sql: &str,
    ) -> Vec<T> {
        let mut conn = self.admin().await;
        conn.query_drop(format!("USE `{}`", self.name))
            .await
            .unwrap();
        conn.query(sql).await.unwrap()
    }

    /// A user with a password and every right on this test's database. It exists at both
    /// `localhost` and `%`: an anonymous `''@'localhost'` (some installs have one) would
    /// otherwise shadow `'user'@'%'` for connections from 127.0.0.1.
    pub async fn create_user(&self, user: &str, password: &str) {
        let mut conn = self.admin().await;
        for host in ["localhost", "%"] {
            conn.query_drop(format!("DROP USER IF EXISTS '{user}'@'{host}'"))
                .await
                .unwrap();
            conn.query_drop(format!(
                "CREATE USER '{user}'@'{host}' IDENTIFIED BY '{password}'"
            ))
            .await
            .unwrap();
            conn.query_drop(format!(
                "GRANT ALL ON `{}`.* TO '{user}'@'{host}'",
                self.name
            ))
            .await
            .unwrap();
        }
    }

    pub async fn set_password(&self, user: &str, password: &str) {
        let mut conn = self.admin().await;
        for host in ["localhost", "%"] {
            conn.query_drop(format!(
                "ALTER USER '{user}'@'{host}' IDENTIFIED BY '{password}'"
            ))
            .await
            .unwrap();
        }
    }

    pub async fn drop_user(&self, user: &str) {
        let mut conn = self.admin().await;
        for host in ["localhost", "%"] {
            let _ = conn
                .query_drop(format!("DROP USER IF EXISTS '{user}'@'{host}'"))
                .await;
        }
    }

    pub async fn drop_db(self) {
        let mut conn = self.admin().await;
        let _ = conn
            .query_drop(format!("DROP DATABASE IF EXISTS `{}`", self.name))
            .await;
    }
}

/// Opens a local file the way `ingest` does.
pub fn open_file(
    path: PathBuf,
) -> impl FnOnce() -> std::future::Ready<reviews::Result<Box<dyn std::io::Read + Send>>> {
    move || {
        std::future::ready(
            std::fs::File::open(&path)
                .map(|f| Box::new(f) as Box<dyn std::io::Read + Send>)
                .map_err(|e| reviews::Error::Other(format!("{}: {e}", path.display()))),
        )
    }
}

/// `n` synthetic reviews of about 650 bytes, one per line.
pub fn synthetic_lines(n: usize, seed: &str) -> String {
    let mut s = String::with_capacity(n * 700);
    for i in 0..n {
        s.push_str(&format!(
            r#"{{"overall": {}.0, "verified": true, "reviewTime": "02 27, 2013", "reviewerID": "R{seed}{i:09}", "asin": "B{i:09}", "reviewerName": "Reader {i}", "reviewText": "{}", "summary": "Summary {i}", "unixReviewTime": {}}}"#,
            i % 5 + 1,
            "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(8),
            1_300_000_000 + i
        ));
        s.push('\n');
    }
    s
}
