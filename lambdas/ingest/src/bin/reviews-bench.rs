//! `make bench-lambdas`: review ingestion on one MariaDB, in one run, with generated data.
//! 1. the ingest path (the `ingest` binary, end to end from files: parse + idempotent write);
//! 2. a naive baseline: one INSERT per row, autocommit (on a subset; it is a rate);
//! 3. the ceiling: LOAD DATA LOCAL INFILE of the same rows, pre-converted to TSV, into a table
//!    without keys.
//!
//! Also parse throughput alone (one core) and the peak RSS of `ingest` on a large single file.

use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use clap::Parser;
use mysql_async::prelude::Queryable;
use reviews::parser::{parse_batches, BatchOptions, LineReader};

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
    /// Rows for the naive baseline (one autocommit INSERT each)
    #[arg(long, default_value_t = 20_000)]
    naive_rows: usize,
    /// Sizes of the single files whose peak RSS is measured, in MiB (0 to skip)
    #[arg(long, value_delimiter = ',', default_value = "256,1024")]
    rss_mib: Vec<u64>,
    /// Writer connections for the ingest path
    #[arg(long, default_value_t = 4)]
    writers: usize,
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Where generated files go (default: a temporary directory)
    #[arg(long)]
    work_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
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

    // Parse alone, one core: split lines, parse and validate JSON, render SQL values.
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
        "parse only (one core, JSON + validation + SQL rendering): {:.0} MB/s, {:.0} rows/s",
        bytes as f64 / 1e6 / parse_s,
        args.rows as f64 / parse_s
    );

    // 3. The ceiling first, so the TSV conversion is out of the way.
    let tsv = dir.join("reviews.tsv");
    to_tsv(&data, &tsv);
    let load_db = format!("bench_load_{tag}");
    let mut conn = connect(&base, None, Some(&tsv)).await;
    conn.query_drop(format!("DROP DATABASE IF EXISTS {load_db}"))
        .await
        .unwrap();
    conn.query_drop(format!("CREATE DATABASE {load_db} CHARACTER SET utf8mb4"))
        .await
        .unwrap();
    conn.query_drop(format!("USE {load_db}")).await.unwrap();
    conn.query_drop(NO_KEYS_TABLE).await.unwrap();
    let started = Instant::now();
    conn.query_drop(format!(
        "LOAD DATA LOCAL INFILE '{}' INTO TABLE reviews_nokeys CHARACTER SET utf8mb4 \
         FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ({})",
        tsv.display(),
        TSV_COLUMNS
    ))
    .await
    .unwrap();
    let load_s = started.elapsed().as_secs_f64();
    let loaded: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM reviews_nokeys")
        .await
        .unwrap();
    assert_eq!(loaded, Some(args.rows as u64));
    conn.query_drop(format!("DROP DATABASE {load_db}"))
        .await
        .unwrap();
    let load_rate = args.rows as f64 / load_s;

    // 1. The ingest path, end to end.
    let ingest_db = format!("bench_ingest_{tag}");
    conn.query_drop(format!("DROP DATABASE IF EXISTS {ingest_db}"))
        .await
        .unwrap();
    let started = Instant::now();
    let out = run_ingest(&args, &format!("{base}/{ingest_db}"), &data, true);
    let ingest_s = started.elapsed().as_secs_f64();
    print!("{}", out.stdout);
    let ingest_rate = args.rows as f64 / ingest_s;
    // Same again: the ledger answers at once.
    let started = Instant::now();
    run_ingest(&args, &format!("{base}/{ingest_db}"), &data, false);
    let rerun_ms = started.elapsed().as_millis();
    conn.query_drop(format!("DROP DATABASE {ingest_db}"))
        .await
        .unwrap();

    // 2. Naive: one INSERT per row, autocommit, one connection.
    let naive_db = format!("bench_naive_{tag}");
    conn.query_drop(format!("DROP DATABASE IF EXISTS {naive_db}"))
        .await
        .unwrap();
    conn.query_drop(format!("CREATE DATABASE {naive_db} CHARACTER SET utf8mb4"))
        .await
        .unwrap();
    conn.query_drop(format!("USE {naive_db}")).await.unwrap();
    for m in reviews::schema::MIGRATIONS {
        for s in m.statements {
            conn.query_drop(*s).await.unwrap();
        }
    }
    let n = args.naive_rows.min(args.rows);
    let started = Instant::now();
    let mut lines = LineReader::new(std::io::BufReader::new(std::fs::File::open(&data).unwrap()));
    let prefix = reviews::sql::insert_reviews_prefix();
    let tail = reviews::sql::region_and_key_literal("bench", "reviews.json");
    let mut i = 0;
    while let Some((_, reviews::parser::Line::Content(line))) = lines.next_line().unwrap() {
        let r = reviews::model::parse_review(line).unwrap();
        let mut sql = prefix.clone();
        reviews::sql::push_review_values(&mut sql, &r, &tail);
        conn.query_drop(sql).await.unwrap();
        i += 1;
        if i == n {
            break;
        }
    }
    let naive_rate = n as f64 / started.elapsed().as_secs_f64();
    conn.query_drop(format!("DROP DATABASE {naive_db}"))
        .await
        .unwrap();

    println!();
    println!("{:<58} {:>12} {:>10}", "method", "rows/s", "vs ceiling");
    let row =
        |name: &str, rate: f64| println!("{name:<58} {rate:>12.0} {:>9.2}x", rate / load_rate);
    row(
        &format!(
            "ingest path ({} writers, batches of {})",
            args.writers, args.batch_size
        ),
        ingest_rate,
    );
    row(
        &format!("naive: one INSERT per row, autocommit ({n} rows)"),
        naive_rate,
    );
    row(
        "ceiling: LOAD DATA LOCAL INFILE, TSV, table without keys",
        load_rate,
    );
    println!("ingest path vs naive: {:.1}x", ingest_rate / naive_rate);
    println!("re-running a finished file: {rerun_ms} ms (process start included)");
    std::fs::remove_file(&data).ok();
    std::fs::remove_file(&tsv).ok();

    for mib in args.rss_mib.iter().copied().filter(|&m| m > 0) {
        let big = dir.join(format!("big-{mib}.json"));
        let bytes = generate(&big, Target::Bytes(mib << 20));
        let db = format!("bench_rss_{tag}_{mib}");
        conn.query_drop(format!("DROP DATABASE IF EXISTS {db}"))
            .await
            .unwrap();
        let started = Instant::now();
        let out = run_ingest(&args, &format!("{base}/{db}"), &big, true);
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
        conn.query_drop(format!("DROP DATABASE {db}"))
            .await
            .unwrap();
        std::fs::remove_file(&big).ok();
    }
    for arch in ["arm64", "x86_64"] {
        let dir = Path::new("target/lambda").join(arch);
        for f in ["preprocess", "dbprocess", "postprocess", "migrate"] {
            if let Ok(m) = std::fs::metadata(dir.join(f).join("bootstrap.zip")) {
                println!("zip {arch}/{f}: {:.2} MB", m.len() as f64 / 1e6);
            }
        }
    }
}

async fn connect(base: &str, db: Option<&str>, infile: Option<&Path>) -> mysql_async::Conn {
    let url = format!("{base}/{}", db.unwrap_or(""));
    let mut opts = mysql_async::OptsBuilder::from_opts(mysql_async::Opts::from_url(&url).unwrap())
        .prefer_socket(false);
    if let Some(p) = infile {
        opts = opts.local_infile_handler(Some(mysql_async::WhiteListFsHandler::new(vec![
            p.to_path_buf()
        ])));
    }
    mysql_async::Conn::new(opts)
        .await
        .expect("cannot connect to the benchmark database")
}

struct IngestRun {
    stdout: String,
    max_rss_kib: Option<u64>,
    rows: u64,
}

fn run_ingest(args: &Args, url: &str, file: &Path, migrate: bool) -> IngestRun {
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
        .arg(args.writers.to_string())
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

const TSV_COLUMNS: &str =
    "reviewer_id, asin, unix_review_time, reviewer_name, review_text, summary, \
    overall, verified, review_time, vote, style, image, region_indicator, source_key";

const NO_KEYS_TABLE: &str = "CREATE TABLE reviews_nokeys (
    reviewer_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    asin VARCHAR(32) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    unix_review_time BIGINT NOT NULL,
    reviewer_name TEXT NULL, review_text MEDIUMTEXT NULL, summary TEXT NULL,
    overall DOUBLE NULL, verified BOOLEAN NULL, review_time DATE NULL, vote INT UNSIGNED NULL,
    style JSON NULL, image JSON NULL, region_indicator VARCHAR(32) NOT NULL,
    source_key VARCHAR(1024) NOT NULL,
    ingested_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci";

/// The same rows as LOAD DATA's default text format: tab-separated, `\N` for NULL.
fn to_tsv(json: &Path, tsv: &Path) {
    let mut out = BufWriter::with_capacity(1 << 20, std::fs::File::create(tsv).unwrap());
    let mut lines = LineReader::new(std::io::BufReader::new(std::fs::File::open(json).unwrap()));
    let mut row = String::new();
    while let Some((_, line)) = lines.next_line().unwrap() {
        let reviews::parser::Line::Content(line) = line else {
            continue;
        };
        let r = reviews::model::parse_review(line).unwrap();
        row.clear();
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
            Some("reviews.json".into()),
        ];
        for (k, f) in fields.iter().enumerate() {
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
        out.write_all(row.as_bytes()).unwrap();
    }
    out.flush().unwrap();
}
