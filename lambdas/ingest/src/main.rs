//! `ingest`: the dbprocess code path on local files, for backfills from a host inside the VPC,
//! benchmarks and tests. Prints the counts per file and in total; exits 1 if any file could not
//! be finished, 2 on a usage or configuration error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, UNIX_EPOCH};

use clap::{Parser, ValueEnum};
use reviews::db::{Consistency, CredentialSource, Database, DbConfig, DbCredentials, TlsMode};
use reviews::ingest::{ingest_object, IngestReport, IngestSettings, ObjectId};

#[derive(Parser)]
#[command(
    version,
    about = "Ingest JSON-lines review files (.json, .json.gz) into the reviews table"
)]
struct Cli {
    /// mysql://USER:PASS@HOST:PORT/DB (never printed)
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The Region stored on the rows this run inserts
    #[arg(long)]
    region_indicator: String,
    /// aurora_replica_read_consistency for write forwarding from a secondary Region
    #[arg(long, value_enum)]
    consistency: Option<ConsistencyArg>,
    /// Apply the schema migrations first (only against the primary writer)
    #[arg(long)]
    migrate: bool,
    /// Non-blank lines per batch transaction
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Connections writing batches in parallel
    #[arg(long, default_value_t = 2)]
    writers: usize,
    /// TLS to the database; auto = off for a loopback host, required otherwise
    #[arg(long, value_enum, default_value_t = TlsArg::Auto)]
    tls: TlsArg,
    /// PEM CA bundle to trust (the RDS bundle for Aurora)
    #[arg(long, env = "DB_CA_BUNDLE")]
    ca_bundle: Option<PathBuf>,
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ConsistencyArg {
    Eventual,
    Session,
    Global,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum TlsArg {
    Auto,
    Required,
    Disabled,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    reviews::logging::init_with(std::io::stderr, "warn");
    let db = match database(&cli) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("ingest: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.migrate {
        match reviews::handlers::migrate(&db, None).await {
            Ok(r) => println!("schema: version {} (applied {:?})", r.version, r.applied),
            Err(e) => {
                eprintln!("ingest: migrate: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let settings = IngestSettings {
        region_indicator: cli.region_indicator.clone(),
        batch_size: cli.batch_size,
        writers: cli.writers,
    };
    let started = Instant::now();
    let mut total = IngestReport {
        key: "total".into(),
        etag: String::new(),
        outcome: reviews::ingest::Outcome::Ingested,
        lines: 0,
        blank_lines: 0,
        read: 0,
        inserted: 0,
        already_present: 0,
        rejected: 0,
        bytes: 0,
        batches: 0,
        resumed_batches: 0,
        elapsed_ms: 0,
        rejected_lines: Vec::new(),
    };
    let mut failed = 0;
    for path in &cli.files {
        match ingest_file(&db, &settings, path).await {
            Ok(r) => {
                print_counts(&path.display().to_string(), &r);
                total.lines += r.lines;
                total.blank_lines += r.blank_lines;
                total.read += r.read;
                total.inserted += r.inserted;
                total.already_present += r.already_present;
                total.rejected += r.rejected;
                total.bytes += r.bytes;
            }
            Err(e) => {
                failed += 1;
                println!("{}: FAILED: {e}", path.display());
            }
        }
    }
    total.elapsed_ms = started.elapsed().as_millis() as u64;
    print_counts("total", &total);
    if failed > 0 {
        println!(
            "{failed} of {} files could not be finished",
            cli.files.len()
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn database(cli: &Cli) -> reviews::Result<Database> {
    let opts = mysql_async::Opts::from_url(&cli.database_url).map_err(|e| {
        reviews::Error::Config(format!("--database-url is not a mysql:// URL: {e}"))
    })?;
    let database = opts
        .db_name()
        .filter(|d| !d.is_empty())
        .ok_or_else(|| {
            reviews::Error::Config(
                "--database-url needs a database name: mysql://USER:PASS@HOST:PORT/DB".into(),
            )
        })?
        .to_string();
    let host = opts.ip_or_hostname().to_string();
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false);
    let tls = match cli.tls {
        TlsArg::Required => TlsMode::Required,
        TlsArg::Disabled => TlsMode::Disabled,
        TlsArg::Auto if loopback => TlsMode::Disabled,
        TlsArg::Auto => TlsMode::Required,
    };
    let consistency = cli.consistency.map(|c| match c {
        ConsistencyArg::Eventual => Consistency::Eventual,
        ConsistencyArg::Session => Consistency::Session,
        ConsistencyArg::Global => Consistency::Global,
    });
    let config = DbConfig {
        host,
        port: opts.tcp_port(),
        database,
        tls,
        ca_bundle: cli.ca_bundle.clone(),
        consistency,
        connect_timeout: Duration::from_secs(10),
    };
    let creds = DbCredentials::new(
        opts.user().unwrap_or_default(),
        opts.pass().unwrap_or_default(),
    );
    Ok(Database::new(config, CredentialSource::Fixed(creds)))
}

/// A local file's ETag stand-in: its size and modification time, so an edited file is a new
/// version and an untouched one is recognised by the ledger.
async fn ingest_file(
    db: &Database,
    settings: &IngestSettings,
    path: &Path,
) -> reviews::Result<IngestReport> {
    let fail = |e: std::io::Error| reviews::Error::Other(format!("{}: {e}", path.display()));
    let abs = std::fs::canonicalize(path).map_err(fail)?;
    let meta = std::fs::metadata(&abs).map_err(fail)?;
    let mtime = meta
        .modified()
        .map_err(fail)?
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let object = ObjectId::new(
        abs.display().to_string(),
        format!(
            "local-{}-{}.{:09}",
            meta.len(),
            mtime.as_secs(),
            mtime.subsec_nanos()
        ),
    );
    ingest_object(db, settings, &object, || async {
        let f = std::fs::File::open(&abs).map_err(fail)?;
        Ok(Box::new(f) as Box<dyn std::io::Read + Send>)
    })
    .await
}

fn print_counts(name: &str, r: &IngestReport) {
    let secs = r.elapsed_ms as f64 / 1000.0;
    let note = if r.outcome == reviews::ingest::Outcome::AlreadyIngested {
        " (already ingested)"
    } else {
        ""
    };
    println!(
        "{name}: read {}, inserted {}, already present {}, rejected {} ({} lines, {} blank) in {secs:.2} s, {:.0} rows/s{note}",
        r.read, r.inserted, r.already_present, r.rejected, r.lines, r.blank_lines, r.rows_per_second()
    );
}
