//! The schema, as numbered migrations applied in order and recorded in `schema_migrations`.
//! Only the `migrate` function (and `ingest --migrate`) runs this, against the primary writer:
//! write forwarding rejects DDL.
//!
//! Tables:
//! - `reviews`: the reference application's columns, plus `region_indicator` (the Region that
//!   wrote it first), `source_key` (the object it came from) and `ingested_at`. A unique key on
//!   the review's identity (reviewer, ASIN, review time) makes a review seen twice, from any
//!   file or Region, one row. The clustered primary key is an AUTO_INCREMENT id, so inserts
//!   append to the table instead of splitting pages all over it (identities arrive in random
//!   order, and rows are ~700 bytes against ~50 for an index entry). `style` and `image` are
//!   JSON columns.
//! - `ingest_objects`: one row per (object key, ETag): the ledger that lets a finished object
//!   return at once and holds its final counts, and the run that finished it.
//! - `ingest_batches`: one row per committed batch of an object, written in the batch's own
//!   transaction, so a retry after a crash skips exactly the batches that landed.
//! - `review_rejects`: the lines that could not be stored, with line number and reason.

use crate::db::{DbCredentials, Session};
use crate::error::{Error, Result};
use crate::sql::{push_str_literal, quote_ident};

pub struct Migration {
    pub version: u32,
    pub description: &'static str,
    pub statements: &'static [&'static str],
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "reviews and the ingestion ledger",
        statements: &[
            "CREATE TABLE IF NOT EXISTS reviews (
                id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
                reviewer_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
                asin VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
                unix_review_time BIGINT NOT NULL,
                reviewer_name TEXT NULL,
                review_text MEDIUMTEXT NULL,
                summary TEXT NULL,
                overall DOUBLE NULL,
                verified BOOLEAN NULL,
                review_time DATE NULL,
                vote INT UNSIGNED NULL,
                style JSON NULL,
                image JSON NULL,
                region_indicator VARCHAR(32) NOT NULL,
                source_key VARCHAR(1024) NOT NULL,
                ingested_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                PRIMARY KEY (id),
                UNIQUE KEY review_identity (reviewer_id, asin, unix_review_time)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
            "CREATE TABLE IF NOT EXISTS ingest_objects (
                object_hash BINARY(32) NOT NULL PRIMARY KEY,
                object_key VARCHAR(1024) NOT NULL,
                etag VARCHAR(128) NOT NULL,
                batch_size INT UNSIGNED NOT NULL,
                status VARCHAR(16) NOT NULL,
                region_indicator VARCHAR(32) NOT NULL,
                lines_total BIGINT UNSIGNED NULL,
                reviews_read BIGINT UNSIGNED NULL,
                inserted BIGINT UNSIGNED NULL,
                already_present BIGINT UNSIGNED NULL,
                rejected BIGINT UNSIGNED NULL,
                bytes_read BIGINT UNSIGNED NULL,
                started_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                finished_at TIMESTAMP(6) NULL
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci",
            "CREATE TABLE IF NOT EXISTS ingest_batches (
                object_hash BINARY(32) NOT NULL,
                first_line BIGINT UNSIGNED NOT NULL,
                last_line BIGINT UNSIGNED NOT NULL,
                inserted INT UNSIGNED NOT NULL,
                already_present INT UNSIGNED NOT NULL,
                committed_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                PRIMARY KEY (object_hash, first_line)
            ) ENGINE=InnoDB",
        ],
    },
    Migration {
        version: 2,
        description: "rejected lines",
        statements: &["CREATE TABLE IF NOT EXISTS review_rejects (
                object_hash BINARY(32) NOT NULL,
                line_no BIGINT UNSIGNED NOT NULL,
                object_key VARCHAR(1024) NOT NULL,
                reason VARCHAR(1024) NOT NULL,
                excerpt TEXT NOT NULL,
                region_indicator VARCHAR(32) NOT NULL,
                rejected_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
                PRIMARY KEY (object_hash, line_no)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci"],
    },
    Migration {
        version: 3,
        description:
            "identities compared byte for byte; refused rows and the attempt's lease in the ledger",
        statements: &[
            // utf8mb4_bin pads with spaces when it compares ("A" = "A "): bytes do not, and
            // VARBINARY behaves so on MariaDB and on every Aurora MySQL version alike.
            "ALTER TABLE reviews
                MODIFY reviewer_id VARBINARY(256) NOT NULL,
                MODIFY asin VARBINARY(128) NOT NULL",
            // Rows the server refused in a committed batch, so a resumed run counts them.
            "ALTER TABLE ingest_batches
                ADD COLUMN refused INT UNSIGNED NOT NULL DEFAULT 0",
            // One attempt at a time per object (lambdas/reviews/src/ingest.rs, Lease).
            "ALTER TABLE ingest_objects
                ADD COLUMN lease_owner VARCHAR(64) NULL,
                ADD COLUMN lease_until TIMESTAMP(6) NULL",
        ],
    },
    Migration {
        version: 4,
        description: "the run that finished an object, so its lost reply can be given again",
        statements: &[
            // An execution ARN is at most 256 characters (Step Functions API reference,
            // DescribeExecution, executionArn). A column added last, NULL: no table rebuild
            // (ALGORITHM=INSTANT on MySQL 8.0 and MariaDB 10.3+).
            "ALTER TABLE ingest_objects
                ADD COLUMN finished_by_run VARCHAR(256) NULL",
        ],
    },
];

/// The newest schema version this code writes against.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map(|m| m.version).unwrap_or(0)
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationReport {
    pub database: String,
    pub applied: Vec<u32>,
    pub version: u32,
    /// The application user created or updated, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_user: Option<String>,
}

/// Creates the database if missing and applies the migrations it has not recorded, in order,
/// under a named lock so two runs at once do not race. Running it twice changes nothing.
pub async fn migrate(session: &mut Session, database: &str) -> Result<MigrationReport> {
    migrate_with(session, database, None).await
}

/// What the application user (dbprocess) may do: exactly what its SQL needs
/// (lambdas/reviews/src/ingest.rs, sql.rs, and `check_ready` below), no DDL, no DELETE,
/// nothing on other tables:
/// - `schema_migrations`: reads the version (`check_ready`);
/// - `ingest_objects`: reads, inserts and updates its ledger row (status, counts, lease);
/// - `ingest_batches`: reads the committed batches and inserts one per batch;
/// - `review_rejects`: reads the rejected lines for the report, and inserts them with
///   `ON DUPLICATE KEY UPDATE line_no = line_no`;
/// - `reviews`: inserts with `ON DUPLICATE KEY UPDATE reviewer_id = reviewer_id`, which
///   reads `reviewer_id` (a column read in an update's expression needs SELECT on it:
///   MySQL reference manual, "Privileges Provided by MySQL"); it never reads the reviews.
///
/// UPDATE is granted on the whole table for the upserts: MariaDB checks it on the unique
/// key's columns of an `INSERT ... ON DUPLICATE KEY UPDATE`, not only on those it sets.
pub const APP_GRANTS: &[(&str, &str)] = &[
    ("SELECT", "schema_migrations"),
    ("SELECT, INSERT, UPDATE", "ingest_objects"),
    ("SELECT, INSERT", "ingest_batches"),
    ("SELECT, INSERT, UPDATE", "review_rejects"),
    ("SELECT (reviewer_id), INSERT, UPDATE", "reviews"),
];

/// [`migrate`], then, when given, the application user: created if missing (`REQUIRE
/// SSL`: it logs in over TLS only), its password set to the secret's current one (a
/// rotated secret takes effect here), and [`APP_GRANTS`] granted. Runs on the writer
/// (write forwarding does not forward account statements); the secondaries replicate the
/// primary's cluster volume, the `mysql` schema's accounts with it, and a forwarding
/// secondary runs the user's writes on the primary with the session's context (Aurora user
/// guide, "Using write forwarding in an Amazon Aurora global database"), where its
/// privileges are checked.
pub async fn migrate_with(
    session: &mut Session,
    database: &str,
    app_user: Option<&DbCredentials>,
) -> Result<MigrationReport> {
    let db = quote_ident(database).map_err(Error::Config)?;
    let mut lock_name = String::new();
    push_str_literal(&mut lock_name, &format!("deploy-migrate-{database}"));
    let got: Vec<Option<i64>> = session
        .query(
            &format!("SELECT GET_LOCK({lock_name}, 60)"),
            "taking the migration lock",
        )
        .await?;
    if got.first().copied().flatten() != Some(1) {
        return Err(Error::Other(format!(
            "another migration of {database} holds the lock after 60 s"
        )));
    }
    let mut result = apply(session, database, &db).await;
    if let (Ok(report), Some(user)) = (&mut result, app_user) {
        match ensure_app_user(session, &db, user).await {
            Ok(()) => report.app_user = Some(user.username.clone()),
            Err(e) => result = Err(e),
        }
    }
    let _ = session
        .exec(
            &format!("DO RELEASE_LOCK({lock_name})"),
            "releasing the lock",
        )
        .await;
    result
}

async fn apply(session: &mut Session, database: &str, db: &str) -> Result<MigrationReport> {
    session
        .exec(
            &format!(
                "CREATE DATABASE IF NOT EXISTS {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            ),
            "creating the database",
        )
        .await?;
    session
        .exec(&format!("USE {db}"), "selecting the database")
        .await?;
    session
        .exec(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version INT UNSIGNED NOT NULL PRIMARY KEY,
                description VARCHAR(255) NOT NULL,
                applied_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
            "creating schema_migrations",
        )
        .await?;
    let done: Vec<u32> = session
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            "reading schema_migrations",
        )
        .await?;
    let mut applied = Vec::new();
    for m in MIGRATIONS {
        if done.contains(&m.version) {
            continue;
        }
        tracing::info!(
            database,
            version = m.version,
            description = m.description,
            "applying migration"
        );
        for stmt in m.statements {
            session
                .exec(
                    stmt,
                    &format!("applying migration {} ({})", m.version, m.description),
                )
                .await?;
        }
        let mut desc = String::new();
        push_str_literal(&mut desc, m.description);
        session
            .exec(
                &format!(
                    "INSERT INTO schema_migrations (version, description) VALUES ({}, {desc})",
                    m.version
                ),
                "recording the migration",
            )
            .await?;
        applied.push(m.version);
    }
    let version = done
        .iter()
        .copied()
        .chain(applied.iter().copied())
        .max()
        .unwrap_or(0);
    Ok(MigrationReport {
        database: database.to_string(),
        applied,
        version,
        app_user: None,
    })
}

/// MySQL and MariaDB user names are at most 32 characters (MySQL 5.7.8 and later).
const MAX_USER_NAME: usize = 32;

async fn ensure_app_user(session: &mut Session, db: &str, user: &DbCredentials) -> Result<()> {
    let name = &user.username;
    if name.is_empty() || name.chars().count() > MAX_USER_NAME {
        return Err(Error::Config(format!(
            "the application user name {name:?} must be 1 to {MAX_USER_NAME} characters"
        )));
    }
    let current: Vec<String> = session
        .query(
            "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)",
            "reading the current user",
        )
        .await?;
    if current.first() == Some(name) {
        return Err(Error::Config(format!(
            "the application user {name} is the master user: give the application secret another username"
        )));
    }
    let mut account = String::new();
    push_str_literal(&mut account, name);
    account.push_str("@'%'");
    let mut password = String::new();
    push_str_literal(&mut password, user.password());
    // Idempotent: CREATE only when missing, then ALTER to the secret's current password
    // and TLS requirement (both statements in MySQL 5.7, 8.0 and MariaDB).
    for (verb, doing) in [
        ("CREATE USER IF NOT EXISTS", "creating the application user"),
        ("ALTER USER", "setting the application user's password"),
    ] {
        let sql = format!("{verb} {account} IDENTIFIED BY {password} REQUIRE SSL");
        session
            .exec_secret(&sql, user.password(), &format!("{doing} {name}"))
            .await?;
    }
    for (privileges, table) in APP_GRANTS {
        session
            .exec(
                &format!("GRANT {privileges} ON {db}.{table} TO {account}"),
                &format!("granting {privileges} on {table} to {name}"),
            )
            .await?;
    }
    tracing::info!(user = %name, "application user is current");
    Ok(())
}

/// Checks, without DDL, that the schema the writer needs is there: a clear error instead of
/// "table doesn't exist" halfway through a file.
pub async fn check_ready(session: &mut Session) -> Result<()> {
    let v: Vec<Option<u32>> = session
        .query(
            "SELECT MAX(version) FROM schema_migrations",
            "reading the schema version",
        )
        .await
        .map_err(|e| Error::Schema(format!("cannot read schema_migrations ({e})")))?;
    let have = v.first().copied().flatten().unwrap_or(0);
    if have < latest_version() {
        return Err(Error::Schema(format!(
            "schema version {have}, this code needs {}",
            latest_version()
        )));
    }
    Ok(())
}
