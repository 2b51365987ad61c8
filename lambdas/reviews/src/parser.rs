//! Streaming JSON-lines parsing: physical lines in, batches of ready-to-send SQL out. Memory is
//! bounded by one line (at most [`MAX_LINE_BYTES`]) plus the batches in flight, whatever the
//! size of the file.

use std::collections::HashSet;
use std::io::{self, BufRead};

use crate::model::{parse_review, RejectReason};
use crate::sql;

/// A line longer than this is rejected without being held in memory (MEDIUMTEXT holds 16 MiB;
/// JSON escaping can double that).
pub const MAX_LINE_BYTES: usize = 40 << 20;
/// A statement of a batch takes this many reviews at most (a prepared statement of 3,000
/// parameters, far under the 65,535 a statement may have). It divides the default batch of
/// 1,000 lines, so most statements have one shape. Measured with `make bench-lambdas`
/// prototypes: 64 and 128 rows ran about 15% slower than 250 to 1,000.
pub const STATEMENT_ROWS: usize = 250;
/// A statement is also cut at about this many bytes of values, far under the 16 MiB
/// `max_allowed_packet` of MariaDB and the 64 MiB of Aurora MySQL (measured with the literal
/// statements of earlier versions: the server handles many mid-sized statements faster than a
/// few huge ones).
pub const STATEMENT_BUDGET_BYTES: usize = 1 << 20;
/// How much of a rejected line is kept for the person who reads the rejects.
pub const REJECT_EXCERPT_BYTES: usize = 512;
/// A batch is cut at this many bytes of SQL as well as at `batch_size` lines, so a batch of
/// long texts stays a short transaction and a bounded amount of the function's memory.
pub const BATCH_BYTES: usize = 8 << 20;
/// One row's values (measured as their SQL literals) must fit one statement under the server's `max_allowed_packet` (16 MiB on
/// MariaDB, 64 MiB by default on Aurora MySQL 3), with room for the statement around it: a
/// longer row is a reject, never a failed file.
pub const MAX_ROW_BYTES: usize = 12 << 20;
/// `review_rejects.reason` is VARCHAR(1024): a longer reason is cut (with an ellipsis).
pub const MAX_REASON_CHARS: usize = 1024;

const BOM: &[u8] = b"\xEF\xBB\xBF";

pub enum Line<'a> {
    Blank,
    Content(&'a [u8]),
    /// Longer than [`MAX_LINE_BYTES`]: only its first bytes were kept, to name it by.
    TooLong(&'a [u8]),
}

/// Splits a byte stream into lines on `\n`, dropping a `\r` before it and a UTF-8 BOM at the
/// start. U+2028 and U+2029 are not line ends in JSON lines.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    line_no: u64,
    bytes: u64,
    eof: bool,
}

impl<R: BufRead> LineReader<R> {
    pub fn new(inner: R) -> Self {
        LineReader {
            inner,
            buf: Vec::with_capacity(64 << 10),
            line_no: 0,
            bytes: 0,
            eof: false,
        }
    }

    /// Bytes consumed so far (uncompressed).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn next_line(&mut self) -> io::Result<Option<(u64, Line<'_>)>> {
        if self.eof {
            return Ok(None);
        }
        self.buf.clear();
        let mut too_long = false;
        let mut saw_any = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                self.eof = true;
                if !saw_any {
                    return Ok(None);
                }
                break;
            }
            saw_any = true;
            let (take, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (i, i + 1),
                None => (available.len(), available.len()),
            };
            if !too_long {
                if self.buf.len() + take > MAX_LINE_BYTES {
                    too_long = true;
                    // Keep the start, to name the line by; give the rest of the memory back.
                    let mut prefix = Vec::with_capacity(64 << 10);
                    let have = self.buf.len().min(REJECT_EXCERPT_BYTES);
                    prefix.extend_from_slice(&self.buf[..have]);
                    let more = (REJECT_EXCERPT_BYTES - have).min(take);
                    prefix.extend_from_slice(&available[..more]);
                    self.buf = prefix;
                } else {
                    self.buf.extend_from_slice(&available[..take]);
                }
            }
            let newline = done > take;
            self.inner.consume(done);
            self.bytes += done as u64;
            if newline {
                break;
            }
        }
        self.line_no += 1;
        if too_long {
            return Ok(Some((self.line_no, Line::TooLong(&self.buf))));
        }
        let mut line = &self.buf[..];
        if self.line_no == 1 && line.starts_with(BOM) {
            line = &line[BOM.len()..];
        }
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return Ok(Some((self.line_no, Line::Blank)));
        }
        Ok(Some((self.line_no, Line::Content(line))))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    pub line_no: u64,
    pub reason: String,
    pub excerpt: String,
}

/// Consecutive non-blank lines: `batch_size` of them, or fewer when their values reach
/// [`BATCH_BYTES`] (measured as SQL literals, [`sql::review_values_len`]). Boundaries depend
/// only on the file and the batch size, so a retry cuts the file the same way and the batch
/// ledger can say which are done.
#[derive(Debug, Default)]
pub struct Batch {
    pub first_line: u64,
    pub last_line: u64,
    /// Already recorded in the ledger by an earlier attempt: nothing to write.
    pub done: bool,
    pub rows: usize,
    /// [`sql::ROW_PARAMS`] values for each row, in order.
    pub params: Vec<mysql_async::Value>,
    /// The line of each row, so a row the server refuses can be told apart from its batch.
    pub lines: Vec<u64>,
    /// Rows of each statement, in order: at most [`STATEMENT_ROWS`], and cut at about
    /// [`STATEMENT_BUDGET_BYTES`].
    pub statements: Vec<usize>,
    pub rejects: Vec<Reject>,
    /// Bytes of the rows as SQL literals, with a separator each.
    pub bytes: usize,
    /// Bytes of the current (last) statement.
    statement_bytes: usize,
}

impl Batch {
    /// The parameters of row `row` of the batch.
    pub fn row_params(&self, row: usize) -> &[mysql_async::Value] {
        &self.params[row * sql::ROW_PARAMS..(row + 1) * sql::ROW_PARAMS]
    }

    fn push_row(&mut self, line_no: u64, review: &crate::model::ReviewRecord<'_>, len: usize) {
        let full = self.statements.last().is_none_or(|&rows| {
            rows >= STATEMENT_ROWS || self.statement_bytes >= STATEMENT_BUDGET_BYTES
        });
        if full {
            self.statements.push(0);
            self.statement_bytes = 0;
        }
        *self.statements.last_mut().expect("just pushed") += 1;
        self.statement_bytes += len;
        sql::push_review_params(&mut self.params, review);
        self.lines.push(line_no);
        self.rows += 1;
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ParseTotals {
    pub lines: u64,
    pub blank_lines: u64,
    /// Non-blank lines: reviews and rejects.
    pub read: u64,
    pub valid: u64,
    pub rejected: u64,
    pub bytes: u64,
}

pub struct BatchOptions<'a> {
    pub batch_size: usize,
    /// `'region','key'`, see [`sql::region_and_key_literal`].
    pub region_and_key: String,
    /// First lines of batches that an earlier attempt recorded.
    pub done: &'a HashSet<u64>,
}

/// Reads every line of `reader` and hands each finished batch to `sink`; stops early (and
/// returns the sink's error) when the sink fails.
pub fn parse_batches<R: BufRead, E>(
    reader: R,
    opts: &BatchOptions<'_>,
    mut sink: impl FnMut(Batch) -> Result<(), E>,
) -> Result<ParseTotals, ParseError<E>> {
    let mut lines = LineReader::new(reader);
    let mut totals = ParseTotals::default();
    let mut batch = Batch::default();
    let mut in_batch = 0usize;
    while let Some((line_no, line)) = lines.next_line().map_err(ParseError::Io)? {
        totals.lines = line_no;
        if let Line::Blank = line {
            totals.blank_lines += 1;
            continue;
        }
        if in_batch == 0 {
            batch.first_line = line_no;
            batch.done = opts.done.contains(&line_no);
        }
        in_batch += 1;
        batch.last_line = line_no;
        totals.read += 1;
        let (content, prefix) = match line {
            Line::Content(c) => (Some(c), c),
            Line::TooLong(prefix) => (None, prefix),
            Line::Blank => unreachable!("blank lines are skipped above"),
        };
        let parsed = match content {
            Some(c) => parse_review(c),
            None => Err(RejectReason::TooLong {
                field: "line",
                limit: MAX_LINE_BYTES,
            }),
        };
        // Measured as the SQL literals it stands for (the measure batches are cut by); a row
        // too long for one statement is a reject.
        let measured = parsed.and_then(|review| {
            let len = sql::review_values_len(&review, &opts.region_and_key);
            if len > MAX_ROW_BYTES {
                return Err(RejectReason::TooLong {
                    field: "row (as SQL, for the server's packet limit)",
                    limit: MAX_ROW_BYTES,
                });
            }
            if !batch.done {
                batch.push_row(line_no, &review, len);
            }
            Ok(len)
        });
        match measured {
            Ok(len) => {
                totals.valid += 1;
                batch.bytes += len + 1;
            }
            Err(reason) => {
                totals.rejected += 1;
                if !batch.done {
                    batch.rejects.push(Reject {
                        line_no,
                        reason: bounded_reason(reason.to_string()),
                        excerpt: excerpt(prefix),
                    });
                }
            }
        }
        // Counted for done batches too, so a retry cuts the file where the first attempt did.
        if in_batch == opts.batch_size || batch.bytes >= BATCH_BYTES {
            sink(std::mem::take(&mut batch)).map_err(ParseError::Sink)?;
            in_batch = 0;
        }
    }
    if in_batch > 0 {
        sink(batch).map_err(ParseError::Sink)?;
    }
    totals.bytes = lines.bytes();
    Ok(totals)
}

#[derive(Debug)]
pub enum ParseError<E> {
    Io(io::Error),
    Sink(E),
}

pub fn excerpt(raw: &[u8]) -> String {
    let cut = &raw[..raw.len().min(REJECT_EXCERPT_BYTES)];
    let s = String::from_utf8_lossy(cut);
    // A cut in the middle of a character shows as U+FFFD; that is fine for a person.
    s.into_owned()
}

/// A reason that fits `review_rejects.reason` ([`MAX_REASON_CHARS`]).
pub fn bounded_reason(reason: String) -> String {
    match reason.char_indices().nth(MAX_REASON_CHARS - 1) {
        None => reason,
        Some((cut, _)) => format!("{}…", &reason[..cut]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8], batch_size: usize) -> (ParseTotals, Vec<Batch>) {
        let done = HashSet::new();
        let opts = BatchOptions {
            batch_size,
            region_and_key: "'r','k'".into(),
            done: &done,
        };
        let mut out = Vec::new();
        let totals = parse_batches(input, &opts, |b| {
            out.push(b);
            Ok::<_, ()>(())
        })
        .unwrap();
        (totals, out)
    }

    const GOOD: &str = r#"{"reviewerID":"A","asin":"B","unixReviewTime":1}"#;

    #[test]
    fn bom_crlf_blank_lines_and_no_final_newline() {
        let input = format!("\u{FEFF}{GOOD}\r\n\r\n   \n{GOOD}\r\n\n{GOOD}");
        let (t, batches) = collect(input.as_bytes(), 2);
        assert_eq!(
            t,
            ParseTotals {
                lines: 6,
                blank_lines: 3,
                read: 3,
                valid: 3,
                rejected: 0,
                bytes: input.len() as u64
            }
        );
        assert_eq!(batches.len(), 2);
        assert_eq!(
            (batches[0].first_line, batches[0].last_line, batches[0].rows),
            (1, 4, 2)
        );
        assert_eq!(
            (batches[1].first_line, batches[1].last_line, batches[1].rows),
            (6, 6, 1)
        );
    }

    #[test]
    fn rejects_carry_line_numbers_and_good_lines_still_land() {
        let input = format!("{GOOD}\nnope\n[1]\n{GOOD}\n{{\"asin\":\"B\",\"unixReviewTime\":1}}\n");
        let (t, batches) = collect(input.as_bytes(), 100);
        assert_eq!((t.read, t.valid, t.rejected), (5, 2, 3));
        let rejects = &batches[0].rejects;
        assert_eq!(
            rejects.iter().map(|r| r.line_no).collect::<Vec<_>>(),
            vec![2, 3, 5]
        );
        assert!(rejects[0].reason.starts_with("not JSON"));
        assert_eq!(rejects[0].excerpt, "nope");
        assert_eq!(rejects[1].reason, "not a JSON object");
        assert!(rejects[2].reason.starts_with("missing reviewerID"));
        assert_eq!(batches[0].rows, 2);
    }

    #[test]
    fn u2028_is_not_a_line_end() {
        let line = "{\"reviewerID\":\"A\",\"asin\":\"B\",\"unixReviewTime\":1,\"reviewText\":\"a\u{2028}b\"}";
        let (t, _) = collect(format!("{line}\n{line}\n").as_bytes(), 10);
        assert_eq!((t.lines, t.valid), (2, 2));
    }

    #[test]
    fn done_batches_are_counted_not_rendered() {
        let input = format!("{GOOD}\n{GOOD}\nbad\n{GOOD}\n");
        let done: HashSet<u64> = [1].into_iter().collect();
        let opts = BatchOptions {
            batch_size: 2,
            region_and_key: "'r','k'".into(),
            done: &done,
        };
        let mut out = Vec::new();
        let t = parse_batches(input.as_bytes(), &opts, |b| {
            out.push(b);
            Ok::<_, ()>(())
        })
        .unwrap();
        assert_eq!((t.read, t.valid, t.rejected), (4, 3, 1));
        assert!(out[0].done && out[0].params.is_empty() && out[0].rows == 0);
        assert!(!out[1].done);
        assert_eq!((out[1].rows, out[1].rejects.len()), (1, 1));
    }

    #[test]
    fn statements_are_cut_by_size() {
        let text = "x".repeat(300 << 10);
        let line =
            format!(r#"{{"reviewerID":"A","asin":"B","unixReviewTime":1,"reviewText":"{text}"}}"#);
        let input = format!("{line}\n").repeat(6);
        let (_, batches) = collect(input.as_bytes(), 100);
        assert_eq!(batches[0].rows, 6);
        assert_eq!(batches[0].statements, [4, 2]);
        assert_eq!(batches[0].params.len(), 6 * sql::ROW_PARAMS);
        let short = format!("{GOOD}\n").repeat(2 * STATEMENT_ROWS + 3);
        let (_, batches) = collect(short.as_bytes(), 1000);
        assert_eq!(batches[0].statements, [STATEMENT_ROWS, STATEMENT_ROWS, 3]);
        assert_eq!(batches[0].lines[STATEMENT_ROWS], STATEMENT_ROWS as u64 + 1);
    }

    #[test]
    fn batches_are_cut_by_bytes_the_same_way_when_resumed() {
        let text = "x".repeat(1 << 20);
        let line =
            format!(r#"{{"reviewerID":"A","asin":"B","unixReviewTime":1,"reviewText":"{text}"}}"#);
        let input = format!("{line}\n").repeat(20);
        let (_, batches) = collect(input.as_bytes(), 100);
        let cut: Vec<(u64, u64)> = batches
            .iter()
            .map(|b| (b.first_line, b.last_line))
            .collect();
        assert_eq!(cut, [(1, 8), (9, 16), (17, 20)]);
        // A retry that skips the first batch cuts the rest where the first attempt did.
        let done: HashSet<u64> = [1].into_iter().collect();
        let opts = BatchOptions {
            batch_size: 100,
            region_and_key: "'r','k'".into(),
            done: &done,
        };
        let mut again = Vec::new();
        parse_batches(input.as_bytes(), &opts, |b| {
            again.push((b.first_line, b.last_line, b.done));
            Ok::<_, ()>(())
        })
        .unwrap();
        assert_eq!(again, [(1, 8, true), (9, 16, false), (17, 20, false)]);
    }

    #[test]
    fn reasons_are_cut_to_their_column() {
        assert_eq!(bounded_reason("short".into()), "short");
        let long = bounded_reason("é".repeat(2000));
        assert_eq!(long.chars().count(), MAX_REASON_CHARS);
        assert!(long.ends_with('…'));
    }
}
