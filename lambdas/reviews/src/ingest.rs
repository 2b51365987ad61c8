//! One object (an S3 object or a local file) into the `reviews` table, idempotently.
//!
//! A blocking thread streams and parses the object into batches; `writers` connections write
//! them, each batch in one short transaction that also records the batch in `ingest_batches`.
//! A retry after a crash skips the recorded batches and ends with the same counts as a run
//! that never failed; a finished object (`ingest_objects.status = 'complete'`) returns at once.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, Mutex};

use crate::db::{Database, Purpose, Session};
use crate::error::{Error, Result};
use crate::format::OpenError;
use crate::parser::{
    bounded_reason, excerpt, parse_batches, Batch, BatchOptions, ParseError, ParseTotals, Reject,
};
use crate::schema::check_ready;
use crate::sql::{self, push_str_literal};

#[derive(Debug, Clone)]
pub struct IngestSettings {
    /// The Region that writes (`REGION_INDICATOR`), stored on every row it inserts.
    pub region_indicator: String,
    /// Non-blank lines per batch transaction (`BATCH_SIZE`).
    pub batch_size: usize,
    /// Connections writing batches in parallel (`DB_WRITERS`).
    pub writers: usize,
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            region_indicator: "local".into(),
            batch_size: 1000,
            writers: 2,
        }
    }
}

/// What identifies one version of an object: its bucket, key and ETag (for a local file, no
/// bucket, and its size and modification time as the ETag). The bucket counts: the same file
/// uploaded in two Regions is two objects, each ingested (its rows are then present).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectId {
    pub bucket: String,
    pub key: String,
    pub etag: String,
}

impl ObjectId {
    /// A local file, or an object whose bucket does not matter.
    pub fn new(key: impl Into<String>, etag: impl AsRef<str>) -> Self {
        ObjectId::in_bucket("", key, etag)
    }

    pub fn in_bucket(bucket: &str, key: impl Into<String>, etag: impl AsRef<str>) -> Self {
        ObjectId {
            bucket: bucket.to_string(),
            key: key.into(),
            etag: etag.as_ref().trim_matches('"').to_string(),
        }
    }

    fn hash_literal(&self) -> String {
        let mut h = Sha256::new();
        if !self.bucket.is_empty() {
            h.update(self.bucket.as_bytes());
            h.update(b"\n");
        }
        h.update(self.key.as_bytes());
        h.update(b"\n");
        h.update(self.etag.as_bytes());
        let mut s = String::from("X'");
        for b in h.finalize() {
            s.push_str(&format!("{b:02x}"));
        }
        s.push('\'');
        s
    }
}

// The report and its parts are the contract with the state machine and the CLI.
pub use contract::{IngestReport, Outcome, RejectedLine, REPORTED_REJECTS};

/// What the caller knows about one attempt at an object.
#[derive(Debug, Clone, Default)]
pub struct Attempt {
    /// No batch is started after this: the report is then [`Outcome::Incomplete`] unless
    /// every batch was done by then.
    pub stop_at: Option<Instant>,
    /// The run this attempt belongs to (`contract::DbProcessRequest::run`), recorded with
    /// the object when it finishes. An attempt of the same run that finds the object
    /// finished gets the finishing attempt's counts; any other gets `AlreadyIngested`.
    pub run: Option<String>,
}

impl Attempt {
    pub fn until(stop_at: Instant) -> Attempt {
        Attempt {
            stop_at: Some(stop_at),
            run: None,
        }
    }

    pub fn of_run(run: impl Into<String>) -> Attempt {
        Attempt {
            stop_at: None,
            run: Some(run.into()),
        }
    }
}

/// Ingests one object. `open` is called only when the ledger says there is work to do.
pub async fn ingest_object<F, Fut>(
    db: &Database,
    settings: &IngestSettings,
    object: &ObjectId,
    open: F,
) -> Result<IngestReport>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Box<dyn Read + Send>>>,
{
    ingest_attempt(db, settings, object, &Attempt::default(), open).await
}

/// As [`ingest_object`], for one [`Attempt`]: its deadline and its run.
pub async fn ingest_attempt<F, Fut>(
    db: &Database,
    settings: &IngestSettings,
    object: &ObjectId,
    attempt: &Attempt,
    open: F,
) -> Result<IngestReport>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Box<dyn Read + Send>>>,
{
    let started = Instant::now();
    let stop_at = attempt.stop_at;
    if settings.batch_size == 0 || settings.writers == 0 {
        return Err(Error::Config(
            "batch size and writers must be at least 1".into(),
        ));
    }
    let hash = object.hash_literal();
    let mut session = db.connect(Purpose::Write).await?;
    check_ready(&mut session).await?;

    let mut ledger = read_ledger(&mut session, &hash).await?;
    if ledger.is_none() {
        let mut key = String::new();
        push_str_literal(&mut key, &object.key);
        let mut etag = String::new();
        push_str_literal(&mut etag, &object.etag);
        let mut region = String::new();
        push_str_literal(&mut region, &settings.region_indicator);
        session
            .exec(
                &format!(
                    "INSERT INTO ingest_objects (object_hash, object_key, etag, batch_size, status, \
                     region_indicator) VALUES ({hash}, {key}, {etag}, {}, 'running', {region}) \
                     ON DUPLICATE KEY UPDATE object_hash = object_hash",
                    settings.batch_size
                ),
                "recording the object in the ledger",
            )
            .await?;
        ledger = read_ledger(&mut session, &hash).await?;
    }
    let mut ledger = ledger.ok_or_else(|| Error::Other("the ledger row vanished".into()))?;
    // One attempt at a time: another one (a retry while the first still runs, a second
    // execution) waits for it, then finds the object finished, or takes over its lease
    // once the holder stopped renewing it.
    let lease = Arc::new(Lease::new(&hash));
    let waiting_since = Instant::now();
    loop {
        if let Some(done) = ledger.finished {
            let same_run = attempt.run.is_some() && attempt.run == ledger.finished_by_run;
            return already_ingested(&mut session, object, &hash, done, same_run, started).await;
        }
        if lease.take(&mut session).await? {
            break;
        }
        if waiting_since.elapsed() > LEASE_WAIT || stop_at.is_some_and(|at| Instant::now() >= at) {
            return Err(Error::Busy(format!(
                "another attempt has been ingesting {} for {} s",
                object.key,
                waiting_since.elapsed().as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        ledger = read_ledger(&mut session, &hash)
            .await?
            .ok_or_else(|| Error::Other("the ledger row vanished".into()))?;
    }
    let result = ingest_leased(
        db, settings, object, attempt, open, session, &lease, &ledger, started,
    )
    .await;
    if !matches!(&result, Ok(r) if r.outcome == Outcome::Ingested) {
        // Stopped or failed: the next attempt may start at once. Best effort: a lease that
        // cannot be given back runs out by itself.
        if let Ok(mut session) = db.connect(Purpose::Write).await {
            lease.give_back(&mut session).await;
            session.close().await;
        }
    }
    result
}

/// The report of an object a previous attempt finished: nothing new. Its rows are present,
/// its bad lines rejected as before; its first run's `inserted` is not counted again, unless
/// this attempt is of that same run (`same_run`): then the finishing attempt's reply was
/// lost, and this is that reply again, so the run's totals count the file once.
async fn already_ingested(
    session: &mut Session,
    object: &ObjectId,
    hash: &str,
    done: IngestReport,
    same_run: bool,
    started: Instant,
) -> Result<IngestReport> {
    let rejected_lines = rejected_lines(session, hash, done.rejected).await?;
    let (outcome, inserted, already_present) = if same_run {
        tracing::info!(key = %object.key, etag = %object.etag, inserted = done.inserted,
            already_present = done.already_present, rejected = done.rejected,
            "object finished by an earlier attempt of this run; answering with its counts");
        (Outcome::Ingested, done.inserted, done.already_present)
    } else {
        tracing::info!(key = %object.key, etag = %object.etag, rows = done.inserted + done.already_present,
            rejected = done.rejected, "object already ingested; nothing to do");
        (
            Outcome::AlreadyIngested,
            0,
            done.inserted + done.already_present,
        )
    };
    Ok(IngestReport {
        key: object.key.clone(),
        etag: object.etag.clone(),
        outcome,
        inserted,
        already_present,
        elapsed_ms: started.elapsed().as_millis() as u64,
        rejected_lines,
        ..done
    })
}

/// How long an attempt's claim on an object lasts unless renewed; a crashed attempt's runs
/// out after this.
const LEASE_SECONDS: u64 = 60;
/// Renewed when this much of it has passed.
const LEASE_RENEW_AFTER: Duration = Duration::from_secs(20);
/// How long an attempt waits for another one that holds the object.
const LEASE_WAIT: Duration = Duration::from_secs(300);

/// An attempt's claim on an object in the ledger (`ingest_objects.lease_owner`/`lease_until`),
/// taken and renewed with plain UPDATEs, which write forwarding forwards like any DML.
struct Lease {
    hash: String,
    owner: String,
    renewed: std::sync::Mutex<Instant>,
}

impl Lease {
    fn new(hash: &str) -> Lease {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        Lease {
            hash: hash.to_string(),
            owner: format!("{}-{nanos}", std::process::id()),
            renewed: std::sync::Mutex::new(Instant::now()),
        }
    }

    async fn take(&self, session: &mut Session) -> Result<bool> {
        let (hash, owner) = (&self.hash, &self.owner);
        let took = session
            .exec(
                &format!(
                    "UPDATE ingest_objects SET lease_owner = '{owner}', \
                     lease_until = NOW(6) + INTERVAL {LEASE_SECONDS} SECOND \
                     WHERE object_hash = {hash} AND status <> 'complete' \
                     AND (lease_owner IS NULL OR lease_until < NOW(6))"
                ),
                "taking the object's lease",
            )
            .await?;
        *self.renewed.lock().expect("lease clock") = Instant::now();
        Ok(took == 1)
    }

    /// Renews the lease when it is due; an error if another attempt took it meanwhile.
    async fn renew(&self, session: &mut Session) -> Result<()> {
        if self.renewed.lock().expect("lease clock").elapsed() < LEASE_RENEW_AFTER {
            return Ok(());
        }
        let (hash, owner) = (&self.hash, &self.owner);
        let kept = session
            .exec(
                &format!(
                    "UPDATE ingest_objects SET lease_until = NOW(6) + INTERVAL {LEASE_SECONDS} SECOND \
                     WHERE object_hash = {hash} AND lease_owner = '{owner}'"
                ),
                "renewing the object's lease",
            )
            .await?;
        if kept != 1 {
            return Err(Error::Busy(
                "another attempt took over the object (this one stalled past its lease)".into(),
            ));
        }
        *self.renewed.lock().expect("lease clock") = Instant::now();
        Ok(())
    }

    async fn give_back(&self, session: &mut Session) {
        let (hash, owner) = (&self.hash, &self.owner);
        let _ = session
            .exec(
                &format!(
                    "UPDATE ingest_objects SET lease_owner = NULL, lease_until = NULL \
                     WHERE object_hash = {hash} AND lease_owner = '{owner}'"
                ),
                "giving the object's lease back",
            )
            .await;
    }
}

/// The ingestion itself, under the object's lease.
#[allow(clippy::too_many_arguments)]
async fn ingest_leased<F, Fut>(
    db: &Database,
    settings: &IngestSettings,
    object: &ObjectId,
    attempt: &Attempt,
    open: F,
    mut session: Session,
    lease: &Arc<Lease>,
    ledger: &Ledger,
    started: Instant,
) -> Result<IngestReport>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Box<dyn Read + Send>>>,
{
    let hash = lease.hash.clone();
    // An earlier attempt's batch size wins, so its batches line up with ours.
    let batch_size = ledger.batch_size;

    let done_rows: Vec<(u64, u64, u64, u64)> = session
        .query(
            &format!(
                "SELECT first_line, inserted, already_present, refused FROM ingest_batches WHERE object_hash = {hash}"
            ),
            "reading the batch ledger",
        )
        .await?;
    let done: Arc<HashMap<u64, BatchCounts>> = Arc::new(
        done_rows
            .into_iter()
            .map(|(first_line, inserted, already_present, refused)| {
                (
                    first_line,
                    BatchCounts {
                        inserted,
                        already_present,
                        refused,
                    },
                )
            })
            .collect(),
    );
    if !done.is_empty() {
        tracing::info!(key = %object.key, batches = done.len(), "resuming: skipping batches an earlier attempt committed");
    }

    let reader = open().await?;
    let (tx, rx) = mpsc::channel::<Batch>(settings.writers * 2);
    let region_and_key = sql::region_and_key_literal(&settings.region_indicator, &object.key);
    let done_lines: HashSet<u64> = done.keys().copied().collect();
    let key_for_parser = object.key.clone();
    let region_and_key_for_parser = region_and_key.clone();
    let parser = tokio::task::spawn_blocking(move || -> Result<ParseTotals> {
        let reader = crate::format::open(reader).map_err(|e| match e {
            OpenError::Io(source) => Error::Read {
                key: key_for_parser.clone(),
                source,
            },
            OpenError::Unsupported(format) => Error::UnsupportedFormat {
                key: key_for_parser.clone(),
                format,
            },
        })?;
        let opts = BatchOptions {
            batch_size,
            region_and_key: region_and_key_for_parser,
            done: &done_lines,
        };
        parse_batches(reader, &opts, |batch| tx.blocking_send(batch).map_err(drop)).map_err(|e| {
            match e {
                ParseError::Io(source) => Error::Read {
                    key: key_for_parser.clone(),
                    source,
                },
                // The writers stopped: their error is the one to report.
                ParseError::Sink(_) => Error::Other("writers stopped".into()),
            }
        })
    });

    let rx = Arc::new(Mutex::new(rx));
    let mut sessions = vec![session];
    for _ in 1..settings.writers {
        sessions.push(db.connect(Purpose::Write).await?);
    }
    let mut writers = tokio::task::JoinSet::new();
    for session in sessions {
        let rx = rx.clone();
        let done = done.clone();
        let ctx = WriteContext {
            hash: hash.clone(),
            key: object.key.clone(),
            region: settings.region_indicator.clone(),
            region_and_key: region_and_key.clone(),
            stop_at: attempt.stop_at,
            lease: lease.clone(),
        };
        writers.spawn(write_batches(session, rx, done, ctx));
    }
    let mut counts = Counts::default();
    let mut first_error = None;
    let mut stopped = false;
    while let Some(joined) = writers.join_next().await {
        match joined
            .map_err(|e| Error::Other(format!("writer task failed: {e}")))
            .and_then(|r| r)
        {
            Ok(c) => {
                if c.stopped && !stopped {
                    // The deadline: the parser must stop too, and the others after their
                    // current batch.
                    stopped = true;
                    rx.lock().await.close();
                }
                counts.add(c)
            }
            Err(e) => {
                if first_error.is_none() {
                    // Stop the parser and the other writers: the object is not finished.
                    rx.lock().await.close();
                    first_error = Some(e);
                }
            }
        }
    }
    let parsed = parser
        .await
        .map_err(|e| Error::Other(format!("parser task failed: {e}")));
    if let Some(e) = first_error {
        tracing::error!(key = %object.key, error = %e, "ingestion failed");
        return Err(e);
    }
    if stopped {
        let report = IngestReport {
            key: object.key.clone(),
            etag: object.etag.clone(),
            outcome: Outcome::Incomplete,
            lines: 0,
            blank_lines: 0,
            read: 0,
            inserted: counts.inserted,
            already_present: counts.already_present,
            rejected: 0,
            bytes: 0,
            batches: counts.batches,
            resumed_batches: counts.resumed,
            elapsed_ms: started.elapsed().as_millis() as u64,
            rejected_lines: Vec::new(),
        };
        tracing::warn!(key = %report.key, batches = report.batches, inserted = report.inserted,
            "stopped at the deadline between batches; the next attempt resumes after them");
        return Ok(report);
    }
    let totals = parsed??;
    let accounted = counts.inserted + counts.already_present + counts.refused;
    if accounted != totals.valid {
        return Err(Error::Other(format!(
            "{}: {} valid reviews but the batches account for {accounted}: the batch ledger does \
             not match this file",
            object.key, totals.valid,
        )));
    }
    // Rows the server refused are rejects too (their reason is the server's).
    let rejected = totals.rejected + counts.refused;
    let mut run = String::new();
    sql::push_opt_str(&mut run, attempt.run.as_deref());
    let mut session = db.connect(Purpose::Write).await?;
    let report = IngestReport {
        rejected_lines: rejected_lines(&mut session, &hash, rejected).await?,
        key: object.key.clone(),
        etag: object.etag.clone(),
        outcome: Outcome::Ingested,
        lines: totals.lines,
        blank_lines: totals.blank_lines,
        read: totals.read,
        inserted: counts.inserted,
        already_present: counts.already_present,
        rejected,
        bytes: totals.bytes,
        batches: counts.batches,
        resumed_batches: counts.resumed,
        elapsed_ms: started.elapsed().as_millis() as u64,
    };
    session
        .exec(
            &format!(
                "UPDATE ingest_objects SET status = 'complete', lines_total = {}, reviews_read = {}, \
                 inserted = {}, already_present = {}, rejected = {}, bytes_read = {}, \
                 finished_at = CURRENT_TIMESTAMP(6), finished_by_run = {run}, \
                 lease_owner = NULL, lease_until = NULL WHERE object_hash = {hash}",
                report.lines, report.read, report.inserted, report.already_present, report.rejected, report.bytes
            ),
            "marking the object complete in the ledger",
        )
        .await?;
    session.close().await;
    tracing::info!(key = %report.key, etag = %report.etag, lines = report.lines, read = report.read,
        inserted = report.inserted, already_present = report.already_present,
        rejected = report.rejected, bytes = report.bytes, batches = report.batches,
        resumed_batches = report.resumed_batches, elapsed_ms = report.elapsed_ms,
        "object ingested");
    Ok(report)
}

/// The first rejected lines of an object, from the table every attempt wrote them to (so a
/// resumed or repeated run names them too). No query when nothing was rejected.
async fn rejected_lines(
    session: &mut crate::db::Session,
    hash: &str,
    rejected: u64,
) -> Result<Vec<RejectedLine>> {
    if rejected == 0 {
        return Ok(Vec::new());
    }
    let rows: Vec<(u64, String)> = session
        .query(
            &format!(
                "SELECT line_no, reason FROM review_rejects WHERE object_hash = {hash} \
                 ORDER BY line_no LIMIT {REPORTED_REJECTS}"
            ),
            "reading the rejected lines",
        )
        .await?;
    Ok(within_report_budget(rows))
}

/// The report is the function's answer and, through the state machine, one state's data,
/// which Step Functions limits to 256 KiB (an overflow is `States.DataLimitExceeded`, which
/// no Catch on `States.ALL` catches): the rejected lines it names take at most this much.
pub const REPORTED_REJECTS_BYTES: usize = 32 << 10;
/// Each reason named in a report, at most (the `review_rejects` table has it whole).
const REPORTED_REASON_CHARS: usize = 200;

fn within_report_budget(rows: Vec<(u64, String)>) -> Vec<RejectedLine> {
    let mut bytes = 0;
    let mut lines = Vec::new();
    for (line, reason) in rows {
        let reason = match reason.char_indices().nth(REPORTED_REASON_CHARS) {
            None => reason,
            Some((cut, _)) => format!("{}…", &reason[..cut]),
        };
        // The line number and the JSON around it.
        bytes += reason.len() + 32;
        if bytes > REPORTED_REJECTS_BYTES {
            break;
        }
        lines.push(RejectedLine { line, reason });
    }
    lines
}

struct Ledger {
    batch_size: usize,
    finished: Option<IngestReport>,
    /// The run whose attempt finished the object, when it named one.
    finished_by_run: Option<String>,
}

type LedgerRow = (
    u32,
    String,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<u64>,
    Option<String>,
);

async fn read_ledger(session: &mut Session, hash: &str) -> Result<Option<Ledger>> {
    let rows: Vec<LedgerRow> = session
        .query(
            &format!(
                "SELECT batch_size, status, lines_total, reviews_read, inserted, already_present, \
                 rejected, bytes_read, finished_by_run FROM ingest_objects WHERE object_hash = {hash}"
            ),
            "reading the object ledger",
        )
        .await?;
    Ok(rows.into_iter().next().map(
        |(batch_size, status, lines, read, ins, ap, rej, bytes, run)| {
            let finished = (status == "complete").then(|| IngestReport {
                key: String::new(),
                etag: String::new(),
                outcome: Outcome::AlreadyIngested,
                lines: lines.unwrap_or(0),
                blank_lines: lines.unwrap_or(0).saturating_sub(read.unwrap_or(0)),
                read: read.unwrap_or(0),
                inserted: ins.unwrap_or(0),
                already_present: ap.unwrap_or(0),
                rejected: rej.unwrap_or(0),
                bytes: bytes.unwrap_or(0),
                batches: 0,
                resumed_batches: 0,
                elapsed_ms: 0,
                rejected_lines: Vec::new(),
            });
            Ledger {
                batch_size: batch_size as usize,
                finished,
                finished_by_run: run,
            }
        },
    ))
}

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    inserted: u64,
    already_present: u64,
    /// Rows the server refused (each recorded as a reject).
    refused: u64,
    batches: u64,
    resumed: u64,
    /// The writer stopped at the deadline with batches left.
    stopped: bool,
}

/// What one committed batch recorded in `ingest_batches`.
#[derive(Default, Debug, Clone, Copy)]
struct BatchCounts {
    inserted: u64,
    already_present: u64,
    refused: u64,
}

impl Counts {
    fn add(&mut self, o: Counts) {
        self.inserted += o.inserted;
        self.already_present += o.already_present;
        self.refused += o.refused;
        self.batches += o.batches;
        self.resumed += o.resumed;
        self.stopped |= o.stopped;
    }
}

struct WriteContext {
    hash: String,
    key: String,
    region: String,
    /// `'region','key'`, the literals every row of the object shares.
    region_and_key: String,
    /// No batch is started after this.
    stop_at: Option<Instant>,
    lease: Arc<Lease>,
}

async fn write_batches(
    mut session: Session,
    rx: Arc<Mutex<mpsc::Receiver<Batch>>>,
    done: Arc<HashMap<u64, BatchCounts>>,
    ctx: WriteContext,
) -> Result<Counts> {
    let mut statements = Statements::default();
    let mut counts = Counts::default();
    loop {
        let batch = { rx.lock().await.recv().await };
        let Some(batch) = batch else { break };
        if !batch.done && ctx.stop_at.is_some_and(|at| Instant::now() >= at) {
            // Left unrecorded: the next attempt writes it.
            counts.stopped = true;
            break;
        }
        counts.batches += 1;
        if batch.done {
            let c = done.get(&batch.first_line).copied().unwrap_or_default();
            counts.inserted += c.inserted;
            counts.already_present += c.already_present;
            counts.refused += c.refused;
            counts.resumed += 1;
            continue;
        }
        let c = write_batch(&mut session, &batch, &mut statements, &ctx).await?;
        counts.inserted += c.inserted;
        counts.already_present += c.already_present;
        counts.refused += c.refused;
        ctx.lease.renew(&mut session).await?;
    }
    session.close().await;
    Ok(counts)
}

/// The text of the prepared `INSERT` for each number of rows a writer has sent (a handful:
/// [`crate::parser::STATEMENT_ROWS`], one row, and the last statements of batches).
#[derive(Default)]
struct Statements(HashMap<usize, String>);

impl Statements {
    fn get(&mut self, rows: usize, region_and_key: &str) -> &str {
        self.0
            .entry(rows)
            .or_insert_with(|| sql::insert_reviews_statement(rows, region_and_key))
    }
}

/// MySQL's deadlock and lock-wait-timeout errors roll the transaction back; retrying it whole
/// is safe. Anything else (a killed connection included) fails the object.
const RETRYABLE: [u16; 2] = [1213, 1205];

async fn write_batch(
    session: &mut Session,
    batch: &Batch,
    statements: &mut Statements,
    ctx: &WriteContext,
) -> Result<BatchCounts> {
    let mut attempt = 0;
    loop {
        match try_write_batch(session, batch, statements, ctx).await {
            Ok(n) => return Ok(n),
            Err(e) => {
                let _ = session.exec("ROLLBACK", "rolling back").await;
                let retryable = matches!(&e, Error::Database { source: mysql_async::Error::Server(s), .. }
                    if RETRYABLE.contains(&s.code));
                attempt += 1;
                if retryable && attempt < 5 {
                    tracing::warn!(key = %ctx.key, first_line = batch.first_line, attempt, error = %e, "retrying batch");
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                    continue;
                }
                return Err(match e {
                    Error::Database { doing, source } => Error::Database {
                        doing: format!(
                            "{doing} (lines {}-{} of {})",
                            batch.first_line, batch.last_line, ctx.key
                        ),
                        source,
                    },
                    other => other,
                });
            }
        }
    }
}

async fn try_write_batch(
    session: &mut Session,
    batch: &Batch,
    statements: &mut Statements,
    ctx: &WriteContext,
) -> Result<BatchCounts> {
    session
        .exec("START TRANSACTION", "starting a batch transaction")
        .await?;
    let mut inserted = 0;
    let mut refused: Vec<Reject> = Vec::new();
    let mut first_row = 0;
    for &rows in &batch.statements {
        let params =
            &batch.params[first_row * sql::ROW_PARAMS..(first_row + rows) * sql::ROW_PARAMS];
        let statement = statements.get(rows, &ctx.region_and_key);
        match session
            .exec_prepared(statement, params.to_vec(), "inserting reviews")
            .await
        {
            Ok(n) => inserted += n,
            // The server refused a value of one of the rows (a statement's failure rolls
            // back that statement only, not the transaction): find which, row by row.
            Err(e) if is_refused_row(&e) => {
                for row in first_row..first_row + rows {
                    let params = batch.row_params(row);
                    let one = statements.get(1, &ctx.region_and_key);
                    match session
                        .exec_prepared(one, params.to_vec(), "inserting a review")
                        .await
                    {
                        Ok(n) => inserted += n,
                        Err(e) if is_refused_row(&e) => {
                            let mut tuple = String::new();
                            sql::push_params_tuple(&mut tuple, params, &ctx.region_and_key);
                            refused.push(Reject {
                                line_no: batch.lines[row],
                                reason: bounded_reason(format!(
                                    "the database refused the row: {}",
                                    server_message(&e)
                                )),
                                excerpt: excerpt(tuple.as_bytes()),
                            })
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
            Err(e) => return Err(e),
        }
        first_row += rows;
    }
    let rejects: Vec<&Reject> = batch.rejects.iter().chain(&refused).collect();
    if !rejects.is_empty() {
        let mut stmt = String::from(
            "INSERT INTO review_rejects (object_hash, line_no, object_key, reason, excerpt, region_indicator) VALUES ",
        );
        for (i, r) in rejects.iter().enumerate() {
            if i > 0 {
                stmt.push(',');
            }
            stmt.push('(');
            stmt.push_str(&ctx.hash);
            stmt.push_str(&format!(",{},", r.line_no));
            push_str_literal(&mut stmt, &ctx.key);
            stmt.push(',');
            push_str_literal(&mut stmt, &r.reason);
            stmt.push(',');
            push_str_literal(&mut stmt, &r.excerpt);
            stmt.push(',');
            push_str_literal(&mut stmt, &ctx.region);
            stmt.push(')');
        }
        stmt.push_str(" ON DUPLICATE KEY UPDATE line_no = line_no");
        session.exec(&stmt, "recording rejected lines").await?;
    }
    let counts = BatchCounts {
        inserted,
        already_present: batch.rows as u64 - inserted - refused.len() as u64,
        refused: refused.len() as u64,
    };
    session
        .exec(
            &format!(
                "INSERT INTO ingest_batches (object_hash, first_line, last_line, inserted, already_present, refused) \
                 VALUES ({}, {}, {}, {}, {}, {})",
                ctx.hash,
                batch.first_line,
                batch.last_line,
                counts.inserted,
                counts.already_present,
                counts.refused,
            ),
            "recording the batch in the ledger",
        )
        .await?;
    session.exec("COMMIT", "committing a batch").await?;
    Ok(counts)
}

/// Server errors about one row's values (too long, out of range, invalid JSON, a CHECK
/// constraint, a bad character): the row is a reject, its batch goes on.
const ROW_REFUSED: [u16; 10] = [
    1048, // ER_BAD_NULL_ERROR
    1264, // ER_WARN_DATA_OUT_OF_RANGE
    1265, // WARN_DATA_TRUNCATED
    1292, // ER_TRUNCATED_WRONG_VALUE
    1366, // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD (a character the column cannot hold)
    1406, // ER_DATA_TOO_LONG
    3140, // ER_INVALID_JSON_TEXT (MySQL's JSON type)
    3146, // ER_INVALID_TYPE_FOR_JSON
    3156, // ER_INVALID_JSON_VALUE_FOR_CAST
    4025, // ER_CONSTRAINT_FAILED (MariaDB's JSON_VALID check)
];

fn is_refused_row(e: &Error) -> bool {
    matches!(e, Error::Database { source: mysql_async::Error::Server(s), .. } if ROW_REFUSED.contains(&s.code))
}

fn server_message(e: &Error) -> String {
    match e {
        Error::Database {
            source: mysql_async::Error::Server(s),
            ..
        } => format!("{} ({})", s.message, s.code),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_rejected_lines_a_report_names_fit_its_budget() {
        let rows = (1..=100).map(|n| (n, "é".repeat(1000))).collect();
        let lines = super::within_report_budget(rows);
        let json = serde_json::to_string(&lines).unwrap();
        assert!(
            json.len() <= super::REPORTED_REJECTS_BYTES + 4096,
            "{}",
            json.len()
        );
        assert!(!lines.is_empty());
        assert!(lines.iter().all(|l| l.reason.chars().count() <= 201));
        let short = super::within_report_budget(vec![(3, "not JSON".into())]);
        assert_eq!(short[0].reason, "not JSON");
    }
}
