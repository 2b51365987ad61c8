//! Connections to Aurora MySQL (or MariaDB locally): configuration, TLS, credentials and the
//! session settings that write forwarding needs.
//!
//! Every statement the pipeline sends goes through [`Session`], which can record them, so a
//! test can check that the writer never issues what write forwarding rejects (SAVEPOINT,
//! LOAD DATA, DDL, temporary tables).

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mysql_async::prelude::{FromRow, Queryable};
use mysql_async::{Conn, OptsBuilder, SslOpts};

use crate::endpoint::{forwarding_consistency, ClusterEndpoints, Role};
use crate::error::{db, Error, Result};
use crate::sql::quote_ident;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// TLS with certificate and host name verification (Aurora).
    Required,
    /// Plain TCP: only for the local MariaDB stand-in.
    Disabled,
}

/// `aurora_replica_read_consistency` for write forwarding from a secondary Region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consistency {
    Eventual,
    Session,
    Global,
}

impl Consistency {
    /// `""` means "do not set it" (the primary Region, or MariaDB which has no such variable).
    pub fn parse_setting(s: &str) -> Result<Option<Self>> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "eventual" => Ok(Some(Consistency::Eventual)),
            "session" => Ok(Some(Consistency::Session)),
            "global" => Ok(Some(Consistency::Global)),
            other => Err(Error::Config(format!(
                "write forwarding consistency {other:?} must be eventual, session, global or empty"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Consistency::Eventual => "EVENTUAL",
            Consistency::Session => "SESSION",
            Consistency::Global => "GLOBAL",
        }
    }
}

#[derive(Debug, Clone)]
pub struct DbConfig {
    /// Where to connect when the database is not a cluster resolved through RDS (the
    /// `ingest` CLI, tests); see [`Database::with_cluster`].
    pub host: String,
    pub port: u16,
    pub database: String,
    pub tls: TlsMode,
    /// PEM bundle of CAs to trust besides the built-in web roots: Aurora's certificates chain
    /// to the RDS CAs, which are not web roots, so production sets this to the RDS bundle.
    pub ca_bundle: Option<PathBuf>,
    /// `aurora_replica_read_consistency`: set in every session to a fixed host when given,
    /// and in every session to a forwarding secondary (default `SESSION`).
    pub consistency: Option<Consistency>,
    pub connect_timeout: Duration,
}

impl DbConfig {
    /// `host:port/db`, for messages: never credentials.
    pub fn target(&self) -> String {
        format!("{}:{}/{}", self.host, self.port, self.database)
    }
}

/// Database user and password. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DbCredentials {
    pub username: String,
    password: String,
}

impl DbCredentials {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        DbCredentials {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl DbCredentials {
    /// For the statements that set it (`schema`): never logged or put in an error.
    pub(crate) fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for DbCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DbCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Where credentials come from: fixed (the `ingest` CLI's URL) or a Secrets Manager secret,
/// fetched once per Lambda instance and again only after the database refuses it (the secret
/// was rotated).
pub enum CredentialSource {
    Fixed(DbCredentials),
    Secret(SecretCache),
}

pub struct SecretCache {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    cached: tokio::sync::Mutex<Option<DbCredentials>>,
}

impl SecretCache {
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        SecretCache {
            client,
            secret_id: secret_id.into(),
            cached: Default::default(),
        }
    }

    pub async fn get(&self, refresh: bool) -> Result<DbCredentials> {
        let mut cached = self.cached.lock().await;
        if refresh {
            *cached = None;
        }
        if let Some(c) = cached.as_ref() {
            return Ok(c.clone());
        }
        let fail = |why: String| Error::Secret {
            secret_id: self.secret_id.clone(),
            why,
        };
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| fail(aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string()))?;
        let text = out
            .secret_string()
            .ok_or_else(|| fail("the secret has no string value".into()))?;
        #[derive(serde::Deserialize)]
        struct Secret {
            username: String,
            password: String,
        }
        // The serde error would quote the secret's text: say only what is wrong with its shape.
        let s: Secret = serde_json::from_str(text).map_err(|_| {
            fail("the secret is not a JSON object with string fields username and password".into())
        })?;
        let creds = DbCredentials::new(s.username, s.password);
        *cached = Some(creds.clone());
        Ok(creds)
    }
}

/// Records the statements sessions send (tests use it to audit the writer's SQL).
#[derive(Clone, Default)]
pub struct StatementLog(Arc<Mutex<Vec<String>>>);

impl StatementLog {
    pub fn statements(&self) -> Vec<String> {
        self.0.lock().expect("statement log poisoned").clone()
    }

    fn record(&self, sql: &str) {
        const KEEP: usize = 2048;
        let s = if sql.len() <= KEEP * 2 {
            sql.to_string()
        } else {
            let head = floor_char_boundary(sql, KEEP);
            let tail = floor_char_boundary(sql, sql.len() - KEEP);
            format!("{} … {}", &sql[..head], &sql[tail..])
        };
        self.0.lock().expect("statement log poisoned").push(s);
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Reading and writing rows in the configured database (dbprocess, ingest).
    Write,
    /// Creating the database and its tables (migrate): connects without a default database.
    Migrate,
}

pub struct Database {
    pub config: DbConfig,
    credentials: CredentialSource,
    /// This Region's cluster, when the endpoint depends on its role (the functions).
    cluster: Option<ClusterEndpoints>,
    log: Option<StatementLog>,
}

/// Where one session goes and what it sets there.
struct Target {
    host: String,
    port: u16,
    consistency: Option<Consistency>,
}

impl Database {
    pub fn new(config: DbConfig, credentials: CredentialSource) -> Self {
        Database {
            config,
            credentials,
            cluster: None,
            log: None,
        }
    }

    /// Connect to whichever endpoint of this cluster takes writes now (asked of RDS; see
    /// [`crate::endpoint`]) instead of `config.host`.
    pub fn with_cluster(mut self, cluster: ClusterEndpoints) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// A connection or statement failed as if the writer had gone: ask RDS again next time.
    pub async fn forget_endpoint(&self) {
        if let Some(cluster) = &self.cluster {
            cluster.forget().await;
        }
    }

    /// Record every statement sent from here on.
    pub fn with_statement_log(mut self, log: StatementLog) -> Self {
        self.log = Some(log);
        self
    }

    /// Opens a session and applies the session settings. With credentials from a secret, a
    /// refused login re-reads the secret once (it may have been rotated).
    pub async fn connect(&self, purpose: Purpose) -> Result<Session> {
        let result = self.connect_once(purpose).await;
        match (&result, &self.cluster) {
            // The endpoint may have changed role since it was resolved: once more, asking.
            (Err(e), Some(cluster)) if e.is_unavailable() => {
                tracing::warn!(cluster = %cluster.cluster_id(), error = %e,
                    "connection failed; resolving the write endpoint again");
                cluster.forget().await;
                self.connect_once(purpose).await
            }
            _ => result,
        }
    }

    async fn connect_once(&self, purpose: Purpose) -> Result<Session> {
        let target = self.write_target(purpose).await?;
        match &self.credentials {
            CredentialSource::Fixed(c) => self.connect_with(c, &target, purpose).await,
            CredentialSource::Secret(cache) => {
                let creds = cache.get(false).await?;
                match self.connect_with(&creds, &target, purpose).await {
                    Err(e) if e.is_auth_failure() => {
                        tracing::warn!(
                            target_db = %self.config.target(),
                            "database refused the cached credentials; reading the secret again"
                        );
                        let creds = cache.get(true).await?;
                        self.connect_with(&creds, &target, purpose).await
                    }
                    other => other,
                }
            }
        }
    }

    /// The configured host, or the cluster endpoint that takes writes now. DDL is never
    /// forwarded, so migrating needs the writer itself.
    async fn write_target(&self, purpose: Purpose) -> Result<Target> {
        let Some(cluster) = &self.cluster else {
            return Ok(Target {
                host: self.config.host.clone(),
                port: self.config.port,
                consistency: self.config.consistency,
            });
        };
        let resolved = cluster.resolve().await?;
        match (resolved.role, purpose) {
            (Role::Writer, _) => Ok(Target {
                host: resolved.host,
                port: resolved.port,
                consistency: None,
            }),
            (Role::ForwardingSecondary, Purpose::Write) => Ok(Target {
                host: resolved.host,
                port: resolved.port,
                consistency: Some(forwarding_consistency(self.config.consistency)),
            }),
            (Role::ForwardingSecondary, Purpose::Migrate) => Err(Error::ClusterRole {
                cluster: cluster.cluster_id().to_string(),
                why: "it is a secondary, and write forwarding cannot run DDL: migrate in the writer's Region".into(),
                transient: false,
            }),
        }
    }

    async fn connect_with(
        &self,
        creds: &DbCredentials,
        target: &Target,
        purpose: Purpose,
    ) -> Result<Session> {
        let cfg = &self.config;
        quote_ident(&cfg.database).map_err(Error::Config)?;
        let mut opts = OptsBuilder::default()
            .ip_or_hostname(target.host.clone())
            .tcp_port(target.port)
            .user(Some(creds.username.clone()))
            .pass(Some(creds.password.clone()))
            .prefer_socket(false)
            .client_found_rows(false)
            // The writer's prepared INSERTs: a few shapes per object (see `ingest::Statements`);
            // a statement pushed out of the cache is closed on the server.
            .stmt_cache_size(16);
        if purpose == Purpose::Write {
            opts = opts.db_name(Some(cfg.database.clone()));
        }
        if cfg.tls == TlsMode::Required {
            let mut ssl = SslOpts::default();
            if let Some(path) = &cfg.ca_bundle {
                if !path.is_file() {
                    return Err(Error::Config(format!(
                        "DB_CA_BUNDLE {} is not a readable file",
                        path.display()
                    )));
                }
                ssl = ssl.with_root_certs(vec![path.clone().into()]);
            }
            opts = opts.ssl_opts(Some(ssl));
        }
        let target_name = format!("{}:{}/{}", target.host, target.port, cfg.database);
        let conn = match tokio::time::timeout(cfg.connect_timeout, Conn::new(opts)).await {
            Err(_) => {
                return Err(Error::ConnectTimeout {
                    target: target_name,
                    after: cfg.connect_timeout,
                });
            }
            Ok(Err(source)) => {
                if let mysql_async::Error::Server(e) = &source {
                    if e.code == 1049 {
                        return Err(Error::Schema(format!(
                            "database {} does not exist",
                            cfg.database
                        )));
                    }
                }
                return Err(Error::Connect {
                    target: target_name,
                    source,
                });
            }
            Ok(Ok(conn)) => conn,
        };
        let mut session = Session {
            conn,
            log: self.log.clone(),
        };
        // Without NO_BACKSLASH_ESCAPES (our literals rely on it), strict (a value that does
        // not fit is an error, never a silent truncation).
        session
            .exec(
                "SET NAMES utf8mb4, SESSION sql_mode = 'STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,\
                 NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'",
                "setting up the session",
            )
            .await?;
        // Write forwarding supports only REPEATABLE READ.
        session
            .exec(
                "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
                "setting up the session",
            )
            .await?;
        // Aurora forwards no writes while this is empty. It is set only when configured or
        // forwarding, so a plain MariaDB (which lacks it) is not asked; an error is an error.
        if let Some(c) = target.consistency {
            session
                .exec(
                    &format!(
                        "SET SESSION aurora_replica_read_consistency = '{}'",
                        c.as_str()
                    ),
                    "setting aurora_replica_read_consistency (write forwarding)",
                )
                .await?;
        }
        Ok(session)
    }
}

/// One open connection. All SQL goes through [`Session::exec`], [`Session::exec_prepared`] and
/// [`Session::query`].
pub struct Session {
    conn: Conn,
    log: Option<StatementLog>,
}

impl Session {
    /// Runs a statement and returns the affected rows.
    pub async fn exec(&mut self, sql: &str, doing: &str) -> Result<u64> {
        if let Some(log) = &self.log {
            log.record(sql);
        }
        self.conn.query_drop(sql).await.map_err(db(doing))?;
        Ok(self.conn.affected_rows())
    }

    /// Runs a prepared statement (the binary protocol; prepared on this connection the first
    /// time, then taken from the connection's statement cache) and returns the affected rows.
    pub async fn exec_prepared(
        &mut self,
        sql: &str,
        params: Vec<mysql_async::Value>,
        doing: &str,
    ) -> Result<u64> {
        if let Some(log) = &self.log {
            log.record(sql);
        }
        self.conn
            .exec_drop(sql, mysql_async::Params::Positional(params))
            .await
            .map_err(db(doing))?;
        Ok(self.conn.affected_rows())
    }

    /// Runs a statement that holds a secret: neither recorded nor quoted in an error (a
    /// syntax error's message quotes the statement from where it failed).
    pub async fn exec_secret(&mut self, sql: &str, secret: &str, doing: &str) -> Result<u64> {
        if let Some(log) = &self.log {
            log.record(&sql.replace(secret, "<redacted>"));
        }
        match self.conn.query_drop(sql).await {
            Ok(()) => Ok(self.conn.affected_rows()),
            Err(mysql_async::Error::Server(mut e))
                if e.code == 1064 || e.message.contains(secret) =>
            {
                e.message =
                    "(the server's message quotes the statement, which holds a secret)".into();
                Err(db(doing)(mysql_async::Error::Server(e)))
            }
            Err(e) => Err(db(doing)(e)),
        }
    }

    pub async fn query<T: FromRow + Send + 'static>(
        &mut self,
        sql: &str,
        doing: &str,
    ) -> Result<Vec<T>> {
        if let Some(log) = &self.log {
            log.record(sql);
        }
        self.conn.query(sql).await.map_err(db(doing))
    }

    /// The server's id for this connection (what `KILL` takes).
    pub fn connection_id(&self) -> u32 {
        self.conn.id()
    }

    pub async fn close(self) {
        let _ = self.conn.disconnect().await;
    }
}
