//! `make bench-lambdas`: review ingestion on one MariaDB, every method in the same run, with
//! generated data. Methods, each run `--reps` times, interleaved (one of each, then again), so
//! a slow spell of a shared machine hits them all; the median is reported:
//! - `ingest`, the dbprocess code path end to end from a file (parse + idempotent write into
//!   the migrated `reviews` table), at each writer count of `--writers`;
//! - the method of AWS's published sample (aws-samples/multi-region-active-active-apps-with-globaldb,
//!   lambda/bookreview_db_processing): one connection, PyMySQL `executemany` of 501 rows (one
//!   multi-row INSERT, as PyMySQL rewrites it, cut at its `max_stmt_length` of 1,024,000
//!   bytes), then COMMIT, into a table of the sample's nine columns. Twice: its own loop in
//!   Python (bench/sample_method.py, with `--sample-python`, as `make` passes the project's
//!   venv, which has PyMySQL), and emulated here, which leaves out Python's parsing: the
//!   server's side of the method only. Its repository ships no DDL, so the table has no
//!   keys, which flatters it. "vs sample" compares with the Python loop when it ran;
//! - LOAD DATA LOCAL INFILE of the same rows, pre-converted to TSV (conversion not timed):
//!   into a keyless table of the sample's columns, into a keyless table of the project's
//!   columns (the physical ceiling: every column `reviews` stores, no index), and into the
//!   migrated `reviews` table itself;
//! - a naive baseline: one INSERT per row, autocommit, on `--naive-rows` rows.
//!
//! Writes `target/bench/ingest.md` (the table) and `target/bench/ingest.svg` (a bar chart of
//! rows/s per method and writer count). Also parse throughput alone (one core), the re-run of a
//! finished file, and the peak RSS of `ingest` on large single files.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use clap::Parser;
use mysql_async::prelude::Queryable;
use reviews::parser::{parse_batches, BatchOptions, LineReader};
use reviews::sql::push_str_literal;

#[derive(Parser)]
struct Args {
    /// Admin URL of the server; the benchmark creates its own databases there
    #[arg(long)]
    database_url: String,
    /// The release `ingest` binary
    #[arg(long)]
    ingest_bin: PathBuf,
    #[arg(long, default_value_t = 200_000)]
    rows: usize,
    /// Rows for the naive baseline (one autocommit INSERT each: a commit, so a disk flush,
    /// per row)
    #[arg(long, default_value_t = 2_000)]
    naive_rows: usize,
    /// Sizes of the single files whose peak RSS is measured, in MiB (0 to skip)
    #[arg(long, value_delimiter = ',', default_value = "256,1024")]
    rss_mib: Vec<u64>,
    /// Writer connections for the ingest path: each count is a method of its own
    #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
    writers: Vec<usize>,
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Repetitions of every method (interleaved); the median is reported
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Where generated files go (default: a temporary directory)
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// A Python with PyMySQL: runs the sample's own loop (bench/sample_method.py) as a method
    /// of its own, Python's parsing included
    #[arg(long)]
    sample_python: Option<PathBuf>,
    /// Where the report (ingest.md, ingest.svg) goes
    #[arg(long, default_value = "target/bench")]
    report_dir: PathBuf,
}

/// One method of writing the rows, as the report names it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Ingest(usize),
    Sample,
    SamplePython,
    LoadSampleColumns,
    LoadCeiling,
    LoadReviews,
    Naive,
}

impl Method {
    fn name(self) -> String {
        match self {
            Method::Ingest(w) => format!("ingest, {w} writer{}", if w == 1 { "" } else { "s" }),
            Method::Sample => "AWS sample's method, emulated in Rust (server side only)".into(),
            Method::SamplePython => "AWS sample's method: its Python loop, PyMySQL".into(),
            Method::LoadSampleColumns => "LOAD DATA, keyless table of the sample's columns".into(),
            Method::LoadCeiling => "LOAD DATA, keyless table of reviews' columns (ceiling)".into(),
            Method::LoadReviews => "LOAD DATA into the reviews table".into(),
            Method::Naive => "naive: one INSERT per row, autocommit".into(),
        }
    }
}

struct Measured {
    method: Method,
    rows: usize,
    rates: Vec<f64>,
}

impl Measured {
    fn median(&self) -> f64 {
        let mut r = self.rates.clone();
        r.sort_by(|a, b| a.total_cmp(b));
        match r.len() {
            0 => 0.0,
            n if n % 2 == 1 => r[n / 2],
            n => (r[n / 2 - 1] + r[n / 2]) / 2.0,
        }
    }
}

struct Bench {
    args: Args,
    base: String,
    tag: u32,
    data: PathBuf,
    empty: PathBuf,
    tsv: PathBuf,
    sample_tsv: PathBuf,
    conn: mysql_async::Conn,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    assert!(args.reps >= 1 && !args.writers.is_empty());
    let tmp = std::env::temp_dir().join(format!("reviews-bench-{}", std::process::id()));
    let dir = args.work_dir.clone().unwrap_or(tmp);
    std::fs::create_dir_all(&dir).unwrap();
    let admin = mysql_async::Opts::from_url(&args.database_url).expect("--database-url");
    let base = format!(
        "mysql://{}{}@{}:{}",
        admin.user().unwrap_or("root"),
        admin.pass().map(|p| format!(":{p}")).unwrap_or_default(),
        admin.ip_or_hostname(),
        admin.tcp_port()
    );
    let tag = std::process::id();

    let data = dir.join("reviews.json");
    let bytes = generate(&data, Target::Rows(args.rows));
    println!(
        "data: {} reviews, {:.1} MB, {:.0} bytes a line",
        args.rows,
        bytes as f64 / 1e6,
        bytes as f64 / args.rows as f64
    );

    // Parse alone, one core: split lines, parse and validate JSON, build the statements' parameters.
    let started = Instant::now();
    let done = HashSet::new();
    let opts = BatchOptions {
        batch_size: 1000,
        region_and_key: "'r','k'".into(),
        done: &done,
    };
    let file = std::io::BufReader::with_capacity(256 << 10, std::fs::File::open(&data).unwrap());
    let totals = parse_batches(file, &opts, |_| Ok::<_, ()>(())).unwrap();
    let parse_s = started.elapsed().as_secs_f64();
    assert_eq!(totals.valid as usize, args.rows);
    println!(
        "parse only (one core, JSON + validation + parameters): {:.0} MB/s, {:.0} rows/s",
        bytes as f64 / 1e6 / parse_s,
        args.rows as f64 / parse_s
    );

    let tsv = dir.join("reviews.tsv");
    let sample_tsv = dir.join("sample.tsv");
    to_tsv(&data, &tsv, &sample_tsv);
    let empty = dir.join("empty.json");
    std::fs::write(&empty, "").unwrap();
    let conn = connect(&base, None, &[&tsv, &sample_tsv]).await;
    let mut bench = Bench {
        args,
        base,
        tag,
        data,
        empty,
        tsv,
        sample_tsv,
        conn,
    };

    let mut methods: Vec<Method> = bench
        .args
        .writers
        .iter()
        .map(|&w| Method::Ingest(w))
        .collect();
    if bench.args.sample_python.is_some() {
        methods.push(Method::SamplePython);
    }
    methods.extend([
        Method::Sample,
        Method::LoadSampleColumns,
        Method::LoadCeiling,
        Method::LoadReviews,
        Method::Naive,
    ]);
    let mut results: Vec<Measured> = methods
        .iter()
        .map(|&method| Measured {
            method,
            rows: if method == Method::Naive {
                bench.args.naive_rows.min(bench.args.rows)
            } else {
                bench.args.rows
            },
            rates: Vec::new(),
        })
        .collect();
    for rep in 0..bench.args.reps {
        for m in &mut results {
            let secs = bench.run(m.method, m.rows).await;
            let rate = m.rows as f64 / secs;
            eprintln!(
                "repetition {}/{}: {:<58} {rate:>9.0} rows/s",
                rep + 1,
                bench.args.reps,
                m.method.name()
            );
            m.rates.push(rate);
        }
    }

    // Same again: the ledger answers at once.
    let db = format!("bench_rerun_{}", bench.tag);
    bench.fresh_schema(&db).await;
    bench.ingest(&db, &bench.data, bench.args.writers[0]);
    let started = Instant::now();
    bench.ingest(&db, &bench.data, bench.args.writers[0]);
    let rerun_ms = started.elapsed().as_millis();
    bench.drop_db(&db).await;

    let report = Report::new(&bench.args, &results);
    println!();
    print!("{}", report.text);
    println!("re-running a finished file: {rerun_ms} ms (process start included)");
    std::fs::create_dir_all(&bench.args.report_dir).unwrap();
    let md = bench.args.report_dir.join("ingest.md");
    let svg = bench.args.report_dir.join("ingest.svg");
    std::fs::write(&md, report.markdown(rerun_ms)).unwrap();
    std::fs::write(&svg, report.svg()).unwrap();
    println!("report: {} and {}", md.display(), svg.display());
    for f in [&bench.data, &bench.tsv, &bench.sample_tsv] {
        std::fs::remove_file(f).ok();
    }

    for mib in bench.args.rss_mib.clone().into_iter().filter(|&m| m > 0) {
        let big = dir.join(format!("big-{mib}.json"));
        let bytes = generate(&big, Target::Bytes(mib << 20));
        let db = format!("bench_rss_{}_{mib}", bench.tag);
        bench.fresh_schema(&db).await;
        let started = Instant::now();
        let out = bench.ingest(&db, &big, *bench.args.writers.last().unwrap());
        let secs = started.elapsed().as_secs_f64();
        match out.max_rss_kib {
            Some(kib) => println!(
                "peak RSS ingesting one {:.2} GiB file: {:.1} MiB ({:.0} rows/s)",
                bytes as f64 / (1u64 << 30) as f64,
                kib as f64 / 1024.0,
                out.rows as f64 / secs
            ),
            None => println!("peak RSS: /usr/bin/time is not installed; not measured"),
        }
        bench.drop_db(&db).await;
        std::fs::remove_file(&big).ok();
    }
    std::fs::remove_file(&bench.empty).ok();
    for arch in ["arm64", "x86_64"] {
        let dir = Path::new("target/lambda").join(arch);
        for f in ["preprocess", "dbprocess", "postprocess", "migrate"] {
            if let Ok(m) = std::fs::metadata(dir.join(f).join("bootstrap.zip")) {
                println!("zip {arch}/{f}: {:.2} MB", m.len() as f64 / 1e6);
            }
        }
    }
}

/// The sample's table: the nine columns its INSERT names (`reviewTime` kept as text, as it
/// sends it), no keys.
const SAMPLE_TABLE: &str = "CREATE TABLE sample_reviews (
    reviewer_id VARCHAR(64) NOT NULL, asin VARCHAR(32) NOT NULL, reviewer_name TEXT NULL,
    review_text MEDIUMTEXT NULL, summary TEXT NULL, overall DOUBLE NULL, verified BOOLEAN NULL,
    unix_review_time BIGINT NULL, review_time VARCHAR(32) NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";
const SAMPLE_COLUMNS: &str = "reviewer_id, asin, reviewer_name, review_text, summary, overall, \
    verified, unix_review_time, review_time";
/// PyMySQL's `Cursor.max_stmt_length`: `executemany` packs rows into one INSERT up to this.
const PYMYSQL_MAX_STMT: usize = 1_024_000;
/// The sample commits every 501 rows (`if i > 500`).
const SAMPLE_CHUNK: usize = 501;
/// `reviews.source_key` of the benchmark's rows, as `ingest` writes it for a file: the file's
/// absolute path. LOAD DATA and the naive loop write the same bytes.
fn source_key(data: &Path) -> String {
    std::fs::canonicalize(data)
        .unwrap_or_else(|_| data.to_path_buf())
        .display()
        .to_string()
}

impl Bench {
    async fn exec(&mut self, sql: impl AsRef<str>) {
        self.conn.query_drop(sql.as_ref()).await.unwrap();
    }

    async fn drop_db(&mut self, db: &str) {
        self.exec(format!("DROP DATABASE IF EXISTS {db}")).await;
    }

    /// A database with the schema `ingest --migrate` applies (every migration), and no rows.
    async fn fresh_schema(&mut self, db: &str) {
        self.drop_db(db).await;
        let empty = self.empty.clone();
        let out = run_ingest(&self.args, &format!("{}/{db}", self.base), &empty, 1, true);
        assert_eq!(out.rows, 0, "{}", out.stdout);
    }

    fn ingest(&self, db: &str, file: &Path, writers: usize) -> IngestRun {
        run_ingest(
            &self.args,
            &format!("{}/{db}", self.base),
            file,
            writers,
            false,
        )
    }

    async fn count(&mut self, table: &str) -> u64 {
        let n: Option<u64> = self
            .conn
            .query_first(format!("SELECT COUNT(*) FROM {table}"))
            .await
            .unwrap();
        n.unwrap_or(0)
    }

    async fn load(&mut self, tsv: &Path, table: &str, columns: &str) -> f64 {
        let started = Instant::now();
        self.exec(format!(
            "LOAD DATA LOCAL INFILE '{}' INTO TABLE {table} CHARACTER SET utf8mb4 \
             FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({columns})",
            tsv.display(),
        ))
        .await;
        started.elapsed().as_secs_f64()
    }

    /// Seconds to write `rows` rows with `method`, into a database of its own.
    async fn run(&mut self, method: Method, rows: usize) -> f64 {
        let db = format!("bench_{}", self.tag);
        let (secs, table) = match method {
            Method::Ingest(writers) => {
                self.fresh_schema(&db).await;
                let started = Instant::now();
                let out = self.ingest(&db, &self.data, writers);
                assert_eq!(out.rows as usize, rows, "{}", out.stdout);
                (started.elapsed().as_secs_f64(), "reviews")
            }
            Method::LoadReviews => {
                self.fresh_schema(&db).await;
                self.exec(format!("USE {db}")).await;
                let tsv = self.tsv.clone();
                (
                    self.load(&tsv, "reviews", reviews::sql::REVIEW_COLUMNS)
                        .await,
                    "reviews",
                )
            }
            Method::LoadCeiling => {
                // The migrated table's own column definitions, without its keys.
                self.fresh_schema(&db).await;
                self.exec(format!(
                    "USE {db}; CREATE TABLE reviews_nokeys LIKE reviews; \
                     ALTER TABLE reviews_nokeys DROP COLUMN id, DROP INDEX review_identity"
                ))
                .await;
                let tsv = self.tsv.clone();
                (
                    self.load(&tsv, "reviews_nokeys", reviews::sql::REVIEW_COLUMNS)
                        .await,
                    "reviews_nokeys",
                )
            }
            Method::LoadSampleColumns => {
                self.sample_db(&db).await;
                let tsv = self.sample_tsv.clone();
                (
                    self.load(&tsv, "sample_reviews", SAMPLE_COLUMNS).await,
                    "sample_reviews",
                )
            }
            Method::Sample => {
                self.sample_db(&db).await;
                (self.sample_method().await, "sample_reviews")
            }
            Method::SamplePython => {
                self.sample_db(&db).await;
                (self.sample_python(&db), "sample_reviews")
            }
            Method::Naive => {
                self.fresh_schema(&db).await;
                self.exec(format!("USE {db}")).await;
                (self.naive(rows).await, "reviews")
            }
        };
        assert_eq!(
            self.count(&format!("{db}.{table}")).await,
            rows as u64,
            "{}",
            method.name()
        );
        self.drop_db(&db).await;
        secs
    }

    async fn sample_db(&mut self, db: &str) {
        self.drop_db(db).await;
        self.exec(format!(
            "CREATE DATABASE {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        ))
        .await;
        self.exec(format!("USE {db}")).await;
        self.exec(SAMPLE_TABLE).await;
    }

    /// The sample's loop: parse a line, keep its nine fields, and every 501 rows
    /// `executemany` (multi-row INSERTs of at most PyMySQL's statement length) and COMMIT.
    async fn sample_method(&mut self) -> f64 {
        let started = Instant::now();
        let prefix = format!("INSERT INTO sample_reviews ({SAMPLE_COLUMNS}) VALUES ");
        let mut lines = LineReader::new(std::io::BufReader::new(
            std::fs::File::open(&self.data).unwrap(),
        ));
        let mut chunk: Vec<String> = Vec::with_capacity(SAMPLE_CHUNK);
        self.exec("SET autocommit = 0").await;
        loop {
            let line = lines.next_line().unwrap();
            let end = line.is_none();
            if let Some((_, reviews::parser::Line::Content(line))) = line {
                let r = reviews::model::parse_review(line).unwrap();
                let mut t = String::from("(");
                push_str_literal(&mut t, &r.reviewer_id);
                t.push(',');
                push_str_literal(&mut t, &r.asin);
                for s in [&r.reviewer_name, &r.review_text, &r.summary] {
                    t.push(',');
                    reviews::sql::push_opt_str(&mut t, s.as_deref());
                }
                let _ = write!(
                    t,
                    ",{},{},{},",
                    r.overall.map_or("NULL".into(), |o| o.to_string()),
                    r.verified.map_or("NULL", |v| if v { "1" } else { "0" }),
                    r.unix_review_time
                );
                reviews::sql::push_opt_str(&mut t, r.review_date.as_deref());
                t.push(')');
                chunk.push(t);
            }
            if chunk.len() == SAMPLE_CHUNK || (end && !chunk.is_empty()) {
                let mut stmt = prefix.clone();
                for t in chunk.drain(..) {
                    if stmt.len() > prefix.len() && stmt.len() + t.len() + 1 > PYMYSQL_MAX_STMT {
                        self.exec(&stmt).await;
                        stmt.truncate(prefix.len());
                    }
                    if stmt.len() > prefix.len() {
                        stmt.push(',');
                    }
                    stmt.push_str(&t);
                }
                self.exec(&stmt).await;
                self.exec("COMMIT").await;
            }
            if end {
                break;
            }
        }
        self.exec("SET autocommit = 1").await;
        started.elapsed().as_secs_f64()
    }

    /// The sample's own loop in Python (bench/sample_method.py); the seconds it reports
    /// (interpreter start left out).
    fn sample_python(&self, db: &str) -> f64 {
        let python = self.args.sample_python.as_ref().expect("--sample-python");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/sample_method.py");
        let admin = mysql_async::Opts::from_url(&self.args.database_url).unwrap();
        let out = Command::new(python)
            .arg(script)
            .arg(&self.data)
            .arg(admin.ip_or_hostname())
            .arg(admin.tcp_port().to_string())
            .arg(admin.user().unwrap_or("root"))
            .arg(admin.pass().unwrap_or(""))
            .arg(db)
            .output()
            .expect("running the sample's Python loop");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "sample_method.py failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("sample_method.py prints rows and seconds")
    }

    /// One INSERT per row, autocommit, one connection, into the migrated `reviews`.
    async fn naive(&mut self, n: usize) -> f64 {
        let started = Instant::now();
        let mut lines = LineReader::new(std::io::BufReader::new(
            std::fs::File::open(&self.data).unwrap(),
        ));
        let prefix = reviews::sql::insert_reviews_prefix();
        let tail = reviews::sql::region_and_key_literal("bench", &source_key(&self.data));
        let mut i = 0;
        while let Some((_, reviews::parser::Line::Content(line))) = lines.next_line().unwrap() {
            let r = reviews::model::parse_review(line).unwrap();
            let mut sql = prefix.clone();
            reviews::sql::push_review_values(&mut sql, &r, &tail);
            self.exec(sql).await;
            i += 1;
            if i == n {
                break;
            }
        }
        started.elapsed().as_secs_f64()
    }
}

async fn connect(base: &str, db: Option<&str>, infiles: &[&Path]) -> mysql_async::Conn {
    let url = format!("{base}/{}", db.unwrap_or(""));
    let opts = mysql_async::OptsBuilder::from_opts(mysql_async::Opts::from_url(&url).unwrap())
        .prefer_socket(false)
        .local_infile_handler(Some(mysql_async::WhiteListFsHandler::new(
            infiles.iter().map(|p| p.to_path_buf()).collect::<Vec<_>>(),
        )));
    mysql_async::Conn::new(opts)
        .await
        .expect("cannot connect to the benchmark database")
}

struct IngestRun {
    stdout: String,
    max_rss_kib: Option<u64>,
    rows: u64,
}

fn run_ingest(args: &Args, url: &str, file: &Path, writers: usize, migrate: bool) -> IngestRun {
    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-f").arg("maxrss_kib=%M").arg(&args.ingest_bin);
        c
    } else {
        Command::new(&args.ingest_bin)
    };
    cmd.arg("--database-url")
        .arg(url)
        .arg("--region-indicator")
        .arg("bench")
        .arg("--writers")
        .arg(writers.to_string())
        .arg("--batch-size")
        .arg(args.batch_size.to_string());
    if migrate {
        cmd.arg("--migrate");
    }
    let out = cmd.arg(file).output().expect("running ingest");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ingest failed:\n{stdout}\n{stderr}");
    let max_rss_kib = stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kib=")?.trim().parse().ok());
    let rows = stdout
        .lines()
        .find_map(|l| {
            l.strip_prefix("total: read ")?
                .split(',')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or(0);
    IngestRun {
        stdout,
        max_rss_kib,
        rows,
    }
}

enum Target {
    Rows(usize),
    Bytes(u64),
}

/// Reviews of realistic size (about 650 bytes) and shape; deterministic.
fn generate(path: &Path, target: Target) -> u64 {
    const WORDS: &[&str] = &[
        "book",
        "story",
        "great",
        "characters",
        "plot",
        "read",
        "author",
        "recommend",
        "ending",
        "pages",
        "writing",
        "loved",
        "boring",
        "classic",
        "gift",
        "edition",
        "series",
        "novel",
        "kindle",
        "cover",
        "chapter",
        "beautiful",
        "slow",
        "début",
        "naïve",
        "café",
        "😀",
    ];
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).unwrap());
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut bytes, mut i) = (0u64, 0u64);
    loop {
        match target {
            Target::Rows(n) if i as usize >= n => break,
            Target::Bytes(b) if bytes >= b => break,
            _ => {}
        }
        let words = 30 + (next() % 56) as usize;
        let mut text = String::with_capacity(words * 8);
        for k in 0..words {
            if k > 0 {
                text.push(' ');
            }
            text.push_str(WORDS[(next() % WORDS.len() as u64) as usize]);
        }
        let line = format!(
            "{{\"overall\": {}.0, \"verified\": {}, \"reviewTime\": \"{:02} {}, {}\", \"reviewerID\": \"A{:013X}\", \"asin\": \"{:010}\", \"style\": {{\"Format:\": \" Paperback\"}}, \"reviewerName\": \"Reader {}\", \"reviewText\": \"{}\", \"summary\": \"{}\", \"unixReviewTime\": {}{}}}\n",
            1 + next() % 5,
            next() % 2 == 0,
            1 + next() % 12,
            1 + next() % 28,
            2000 + next() % 18,
            next() & 0xF_FFFF_FFFF_FFFF,
            next() % 10_000_000_000,
            i,
            text,
            WORDS[(next() % WORDS.len() as u64) as usize],
            946_684_800 + next() % 500_000_000,
            if next() % 4 == 0 { format!(", \"vote\": \"{}\"", 1 + next() % 2000) } else { String::new() }
        );
        w.write_all(line.as_bytes()).unwrap();
        bytes += line.len() as u64;
        i += 1;
    }
    w.flush().unwrap();
    bytes
}

/// The same rows as LOAD DATA's default text format (tab-separated, `\N` for NULL): in
/// `reviews`' columns ([`reviews::sql::REVIEW_COLUMNS`]) and in the sample's.
fn to_tsv(json: &Path, tsv: &Path, sample_tsv: &Path) {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(tsv).unwrap());
    let mut sample = BufWriter::with_capacity(1 << 20, std::fs::File::create(sample_tsv).unwrap());
    let mut lines = LineReader::new(std::io::BufReader::new(std::fs::File::open(json).unwrap()));
    let mut row = String::new();
    let key = source_key(json);
    while let Some((_, line)) = lines.next_line().unwrap() {
        let reviews::parser::Line::Content(line) = line else {
            continue;
        };
        let r = reviews::model::parse_review(line).unwrap();
        let fields: [Option<String>; 14] = [
            Some(r.reviewer_id.to_string()),
            Some(r.asin.to_string()),
            Some(r.unix_review_time.to_string()),
            r.reviewer_name.as_deref().map(str::to_string),
            r.review_text.as_deref().map(str::to_string),
            r.summary.as_deref().map(str::to_string),
            r.overall.map(|o| o.to_string()),
            r.verified.map(|v| if v { "1".into() } else { "0".into() }),
            r.review_date.clone(),
            r.vote.map(|v| v.to_string()),
            r.style.map(str::to_string),
            r.image.map(str::to_string),
            Some("bench".into()),
            Some(key.clone()),
        ];
        tsv_row(&mut row, fields.iter());
        out.write_all(row.as_bytes()).unwrap();
        // reviewer_id, asin, reviewer_name, review_text, summary, overall, verified,
        // unix_review_time, review_time
        tsv_row(
            &mut row,
            [0, 1, 3, 4, 5, 6, 7, 2, 8].iter().map(|&i| &fields[i]),
        );
        sample.write_all(row.as_bytes()).unwrap();
    }
    out.flush().unwrap();
    sample.flush().unwrap();
}

fn tsv_row<'a>(row: &mut String, fields: impl Iterator<Item = &'a Option<String>>) {
    row.clear();
    for (k, f) in fields.enumerate() {
        if k > 0 {
            row.push('\t');
        }
        match f {
            None => row.push_str("\\N"),
            Some(s) => {
                for c in s.chars() {
                    match c {
                        '\\' => row.push_str("\\\\"),
                        '\t' => row.push_str("\\t"),
                        '\n' => row.push_str("\\n"),
                        '\r' => row.push_str("\\r"),
                        '\0' => row.push_str("\\0"),
                        c => row.push(c),
                    }
                }
            }
        }
    }
    row.push('\n');
}

/// One method's results.
struct Line {
    name: String,
    /// Writer connections, for the ingest path.
    writers: Option<usize>,
    median: f64,
    /// Each run's rows/s.
    rates: Vec<f64>,
}

/// The results as text (stdout), Markdown and SVG.
struct Report {
    lines: Vec<Line>,
    ceiling: f64,
    sample: f64,
    text: String,
    settings: String,
}

impl Report {
    fn new(args: &Args, results: &[Measured]) -> Report {
        let median = |m: Method| {
            results
                .iter()
                .find(|r| r.method == m)
                .map(Measured::median)
                .unwrap_or(f64::NAN)
        };
        let ceiling = median(Method::LoadCeiling);
        // The sample's own loop when it ran, else its emulation.
        let sample = if results.iter().any(|r| r.method == Method::SamplePython) {
            median(Method::SamplePython)
        } else {
            median(Method::Sample)
        };
        let lines: Vec<_> = results
            .iter()
            .map(|r| {
                let writers = match r.method {
                    Method::Ingest(w) => Some(w),
                    _ => None,
                };
                Line {
                    name: r.method.name(),
                    writers,
                    median: r.median(),
                    rates: r.rates.clone(),
                }
            })
            .collect();
        let settings = format!(
            "{} generated reviews (about 650 bytes each); {} interleaved repetitions, medians; \
             ingest: batches of {} lines, prepared statements of at most {} rows; naive: {} rows",
            args.rows,
            args.reps,
            args.batch_size,
            reviews::parser::STATEMENT_ROWS,
            args.naive_rows.min(args.rows),
        );
        let mut text = String::new();
        let _ = writeln!(text, "{settings}");
        let _ = writeln!(
            text,
            "{:<58} {:>9} {:>11} {:>10}   runs",
            "method", "rows/s", "vs ceiling", "vs sample"
        );
        for Line {
            name,
            median: med,
            rates,
            ..
        } in &lines
        {
            let runs: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
            let _ = writeln!(
                text,
                "{name:<58} {med:>9.0} {:>10.2}x {:>9.2}x   {}",
                med / ceiling,
                med / sample,
                runs.join(" ")
            );
        }
        Report {
            lines,
            ceiling,
            sample,
            text,
            settings,
        }
    }

    fn markdown(&self, rerun_ms: u128) -> String {
        let mut md = String::from("# Review ingestion (`make bench`)\n\n");
        let _ = writeln!(md, "{}.\n", self.settings);
        md.push_str(
            "| method | writers | rows/s (median) | vs ceiling | vs sample | runs (rows/s) |\n",
        );
        md.push_str("| --- | ---: | ---: | ---: | ---: | --- |\n");
        for Line {
            name,
            writers,
            median: med,
            rates,
        } in &self.lines
        {
            let runs: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
            let _ = writeln!(
                md,
                "| {name} | {} | {med:.0} | {:.2}× | {:.2}× | {} |",
                writers.map_or("1".to_string(), |w| w.to_string()),
                med / self.ceiling,
                med / self.sample,
                runs.join(", ")
            );
        }
        let _ = writeln!(
            md,
            "\nThe ceiling is LOAD DATA LOCAL INFILE into a table of `reviews`' own columns \
             without any index; \"vs sample\" compares with the sample's Python loop when it \
             ran (`--sample-python`), else with its emulation. Re-running a finished file: \
             {rerun_ms} ms.\n\n![rows/s](ingest.svg)"
        );
        md
    }

    /// A horizontal bar per method (and writer count), labelled with its median.
    fn svg(&self) -> String {
        let (label_w, bar_w, row_h, top) = (400.0, 420.0, 30.0, 58.0);
        let width = label_w + bar_w + 200.0;
        let height = top + row_h * self.lines.len() as f64 + 40.0;
        let max = self
            .lines
            .iter()
            .map(|l| l.median)
            .fold(1.0f64, f64::max)
            .max(self.ceiling);
        let x = |v: f64| label_w + bar_w * v / max;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
             viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"13\">"
        );
        let _ = writeln!(
            s,
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"10\" y=\"22\" font-size=\"16\" font-weight=\"bold\">Review ingestion, rows/s (median of each method's runs)</text>\n\
             <text x=\"10\" y=\"42\" font-size=\"10\" fill=\"#555\">{}</text>",
            xml(&self.settings)
        );
        for (
            i,
            Line {
                name,
                writers,
                median: med,
                ..
            },
        ) in self.lines.iter().enumerate()
        {
            let y = top + row_h * i as f64;
            let color = match (writers, name.as_str()) {
                (Some(_), _) => "#2b7bb9",
                (None, n) if n.contains("ceiling") => "#6a6a6a",
                (None, n) if n.starts_with("LOAD DATA") => "#a0a0a0",
                (None, n) if n.contains("sample") => "#e08a1e",
                _ => "#c44e52",
            };
            let _ = writeln!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n\
                 <rect x=\"{label_w}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{color}\"/>\n\
                 <text x=\"{:.1}\" y=\"{:.1}\">{med:.0} ({:.2}×)</text>",
                label_w - 8.0,
                y + row_h * 0.62,
                xml(name),
                y + 4.0,
                (x(*med) - label_w).max(1.0),
                row_h - 8.0,
                x(*med) + 6.0,
                y + row_h * 0.62,
                med / self.ceiling
            );
        }
        // The ceiling as a line across every bar, and the 0.9× mark.
        let bottom = top + row_h * self.lines.len() as f64;
        for (v, label, dash) in [
            (self.ceiling, "ceiling", ""),
            (0.9 * self.ceiling, "0.9×", "4,3"),
        ] {
            let _ = writeln!(
                s,
                "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"#333\" stroke-dasharray=\"{dash}\"/>\n\
                 <text x=\"{0:.1}\" y=\"{3:.1}\" text-anchor=\"middle\" font-size=\"11\">{label}</text>",
                x(v),
                top - 2.0,
                bottom + 2.0,
                bottom + 16.0
            );
        }
        s.push_str("</svg>\n");
        s
    }
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
