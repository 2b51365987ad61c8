//! Text of the statements the writer sends, and the reviews' values.
//!
//! Reviews go as parameters of a prepared multi-row `INSERT` (the binary protocol): the server
//! neither lexes nor converts the values as it does string literals, which was most of its CPU
//! per row (measured with `perf` on MariaDB 10.11: the parser, the lexer's string scan and each
//! literal's name took about a third of it). Write forwarding forwards prepared statements
//! like other DML (Aurora user guide, "Using write forwarding in an Aurora MySQL global
//! database": "PREPARE and EXECUTE statements"). The other statements are literals over the
//! text protocol; the session sets `sql_mode` itself (without `NO_BACKSLASH_ESCAPES`) and
//! `utf8mb4`, which is what makes the escaping below sound.

use std::fmt::{self, Write as _};

use mysql_async::Value;

use crate::model::ReviewRecord;

/// Columns of `reviews` in the order [`push_review_values`] and [`push_review_params`] write
/// them: [`ROW_PARAMS`] parameters, then the region and the object's key.
pub const REVIEW_COLUMNS: &str =
    "reviewer_id, asin, unix_review_time, reviewer_name, review_text, \
    summary, overall, verified, review_time, vote, style, image, region_indicator, source_key";

/// Parameters of one review in a prepared `INSERT`: every column but the two every row of an
/// object shares, which are literals in the statement.
pub const ROW_PARAMS: usize = 12;

/// The duplicate-key clause that keeps the first writer's row untouched (so the Region that
/// wrote it first stays), and makes `affected_rows` count only the rows really inserted.
pub const KEEP_FIRST: &str = " ON DUPLICATE KEY UPDATE reviewer_id = reviewer_id";

pub fn insert_reviews_prefix() -> String {
    format!("INSERT INTO reviews ({REVIEW_COLUMNS}) VALUES ")
}

/// Writes `s`: the sinks here are a `String` and a [`Measure`], which never fail.
fn put(out: &mut impl fmt::Write, s: &str) {
    let _ = out.write_str(s);
}

/// Appends `'text'` with MySQL string-literal escaping (as `mysql_real_escape_string` does for
/// utf8mb4, where no multi-byte sequence contains a backslash or a quote).
pub fn push_str_literal(out: &mut impl fmt::Write, s: &str) {
    put(out, "'");
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = match b {
            0 => "\\0",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\\' => "\\\\",
            b'\'' => "\\'",
            b'"' => "\\\"",
            0x1a => "\\Z",
            _ => continue,
        };
        // Every byte matched above is ASCII, so `i` is a char boundary.
        put(out, &s[start..i]);
        put(out, esc);
        start = i + 1;
    }
    put(out, &s[start..]);
    put(out, "'");
}

/// The length of what [`push_str_literal`] writes: the quotes, the text, and one backslash
/// for each byte it escapes. Counted in byte-wide lanes, 255 bytes at a time (so a lane
/// never overflows), which the compiler vectorises: 3.2 GB/s against 1.0 for a
/// `filter().count()` and a byte-by-byte scan through the writer before.
pub fn str_literal_len(s: &str) -> usize {
    let mut escaped = 0;
    for chunk in s.as_bytes().chunks(255) {
        let mut lane: u8 = 0;
        for &b in chunk {
            let escapes = (b == 0)
                | (b == b'\n')
                | (b == b'\r')
                | (b == b'\\')
                | (b == b'\'')
                | (b == b'"')
                | (b == 0x1a);
            lane = lane.wrapping_add(u8::from(escapes));
        }
        escaped += usize::from(lane);
    }
    2 + s.len() + escaped
}

/// Where review values go as SQL: its text (a `String`), or only its length (a [`Measure`]).
pub trait SqlSink: fmt::Write + Sized {
    fn str_literal(&mut self, s: &str) {
        push_str_literal(self, s);
    }
}

impl SqlSink for String {}

pub fn push_opt_str(out: &mut impl SqlSink, s: Option<&str>) {
    match s {
        Some(s) => out.str_literal(s),
        None => put(out, "NULL"),
    }
}

/// Appends `(…)` for one review. `region_and_key` is the already-escaped
/// `'region', 'key'` tail shared by every row of a file.
pub fn push_review_values(out: &mut impl SqlSink, r: &ReviewRecord<'_>, region_and_key: &str) {
    put(out, "(");
    out.str_literal(&r.reviewer_id);
    put(out, ",");
    out.str_literal(&r.asin);
    let _ = write!(out, ",{},", r.unix_review_time);
    push_opt_str(out, r.reviewer_name.as_deref());
    put(out, ",");
    push_opt_str(out, r.review_text.as_deref());
    put(out, ",");
    push_opt_str(out, r.summary.as_deref());
    match r.overall {
        Some(o) => {
            let _ = write!(out, ",{o},");
        }
        None => put(out, ",NULL,"),
    }
    put(
        out,
        match r.verified {
            Some(true) => "1,",
            Some(false) => "0,",
            None => "NULL,",
        },
    );
    push_opt_str(out, r.review_date.as_deref());
    match r.vote {
        Some(v) => {
            let _ = write!(out, ",{v},");
        }
        None => put(out, ",NULL,"),
    }
    push_opt_str(out, r.style);
    put(out, ",");
    push_opt_str(out, r.image);
    put(out, ",");
    put(out, region_and_key);
    put(out, ")");
}

/// Counts the bytes of SQL written to it, without keeping them.
#[derive(Default)]
struct Measure(usize);

impl fmt::Write for Measure {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

impl SqlSink for Measure {
    fn str_literal(&mut self, s: &str) {
        self.0 += str_literal_len(s);
    }
}

/// The prepared `INSERT` of `rows` reviews of one object: [`ROW_PARAMS`] placeholders a row,
/// then `region_and_key` (see [`region_and_key_literal`]).
pub fn insert_reviews_statement(rows: usize, region_and_key: &str) -> String {
    let row = format!("(?,?,?,?,?,?,?,?,?,?,?,?,{region_and_key})");
    let mut sql = insert_reviews_prefix();
    sql.reserve(rows * (row.len() + 1) + KEEP_FIRST.len());
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&row);
    }
    sql.push_str(KEEP_FIRST);
    sql
}

/// Appends the [`ROW_PARAMS`] parameters of one review, in [`REVIEW_COLUMNS`]' order.
pub fn push_review_params(out: &mut Vec<Value>, r: &ReviewRecord<'_>) {
    let text = |s: Option<&str>| s.map_or(Value::NULL, |s| Value::Bytes(s.as_bytes().to_vec()));
    out.push(Value::Bytes(r.reviewer_id.as_bytes().to_vec()));
    out.push(Value::Bytes(r.asin.as_bytes().to_vec()));
    out.push(Value::Int(r.unix_review_time));
    out.push(text(r.reviewer_name.as_deref()));
    out.push(text(r.review_text.as_deref()));
    out.push(text(r.summary.as_deref()));
    out.push(r.overall.map_or(Value::NULL, Value::Double));
    out.push(r.verified.map_or(Value::NULL, |v| Value::Int(i64::from(v))));
    out.push(text(r.review_date.as_deref()));
    out.push(r.vote.map_or(Value::NULL, |v| Value::UInt(u64::from(v))));
    out.push(text(r.style));
    out.push(text(r.image));
}

/// The length of what [`push_review_values`] writes for this review, without keeping it:
/// batches are cut by this measure, and must be cut where an attempt by an earlier version
/// of the writer (which sent the literals) cut them, so that a resumed object's committed
/// batches line up (see `parser::parse_batches`).
pub fn review_values_len(r: &ReviewRecord<'_>, region_and_key: &str) -> usize {
    let mut measure = Measure::default();
    push_review_values(&mut measure, r, region_and_key);
    measure.0
}

/// One row's parameters as the SQL tuple they stand for, to show a row the server refused.
pub fn push_params_tuple(out: &mut String, params: &[Value], region_and_key: &str) {
    out.push('(');
    for p in params {
        match p {
            Value::Bytes(b) => push_str_literal(out, &String::from_utf8_lossy(b)),
            Value::NULL => out.push_str("NULL"),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::UInt(u) => {
                let _ = write!(out, "{u}");
            }
            Value::Double(d) => {
                let _ = write!(out, "{d}");
            }
            other => out.push_str(&other.as_sql(false)),
        }
        out.push(',');
    }
    out.push_str(region_and_key);
    out.push(')');
}

/// A backtick-quoted identifier; names come from configuration, so they are checked first.
pub fn quote_ident(name: &str) -> Result<String, String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
    {
        return Err(format!(
            "database name {name:?} must be 1 to 64 characters of A-Z, a-z, 0-9, _ or $"
        ));
    }
    Ok(format!("`{name}`"))
}

/// `'a','b'` for the columns every row of one object shares.
pub fn region_and_key_literal(region: &str, key: &str) -> String {
    let mut s = String::new();
    push_str_literal(&mut s, region);
    s.push(',');
    push_str_literal(&mut s, key);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_mysql_escapes() {
        let mut s = String::new();
        push_str_literal(&mut s, "a'b\\c\n\r\0\x1a\"é😀\u{2028}");
        assert_eq!(s, "'a\\'b\\\\c\\n\\r\\0\\Z\\\"é😀\u{2028}'");
    }

    #[test]
    fn the_literal_length_counts_every_escape() {
        // Every ASCII byte, alone and between others, and multi-byte characters around them.
        let mut texts: Vec<String> = (0u8..128).map(|b| char::from(b).to_string()).collect();
        texts.push((0u8..128).map(char::from).collect());
        texts.push("é'😀\"\u{2028}\\\0x".into());
        texts.push(String::new());
        // Longer than a counting lane's 255 bytes, with hundreds of escapes.
        texts.push("'".repeat(1000));
        texts.push("\\é".repeat(300));
        for text in texts {
            let mut rendered = String::new();
            push_str_literal(&mut rendered, &text);
            assert_eq!(str_literal_len(&text), rendered.len(), "{text:?}");
        }
    }

    #[test]
    fn renders_a_row() {
        let r = crate::model::parse_review(
            br#"{"reviewerID":"A","asin":"B","unixReviewTime":5,"overall":4,"verified":false,"vote":"2","style":{"a":1}}"#,
        )
        .unwrap();
        let mut s = String::new();
        push_review_values(&mut s, &r, &region_and_key_literal("eu-west-1", "k.json"));
        assert_eq!(
            s,
            "('A','B',5,NULL,NULL,NULL,4,0,NULL,2,'{\\\"a\\\":1}',NULL,'eu-west-1','k.json')"
        );
    }

    #[test]
    fn the_measured_length_is_the_rendered_length() {
        let lines = [
            r#"{"reviewerID":"A","asin":"B","unixReviewTime":5}"#,
            r#"{"reviewerID":"A'\"\\","asin":"B\n\r\u0000\u001a","unixReviewTime":-17,"overall":4.25,"verified":true,"vote":"1,234","reviewTime":"02 27, 2013","reviewerName":"é😀","reviewText":"x\ty","summary":"","style":{"a":"'"},"image":["u"]}"#,
            r#"{"reviewerID":"A","asin":"B","unixReviewTime":9007199254740993,"overall":3.3333333333333335,"verified":false}"#,
            r#"{"reviewerID":"A","asin":"B","unixReviewTime":1,"overall":0.1}"#,
        ];
        let tail = region_and_key_literal("eu-west-1", "it's/k.json");
        for line in lines {
            let r = crate::model::parse_review(line.as_bytes()).expect(line);
            let mut s = String::new();
            push_review_values(&mut s, &r, &tail);
            assert_eq!(review_values_len(&r, &tail), s.len(), "{s}");
        }
    }

    #[test]
    fn params_stand_for_the_row_they_replace() {
        let r = crate::model::parse_review(
            br#"{"reviewerID":"A","asin":"B","unixReviewTime":5,"overall":4,"verified":false,"vote":"2","style":{"a":1}}"#,
        )
        .unwrap();
        let tail = region_and_key_literal("eu-west-1", "k.json");
        let mut params = Vec::new();
        push_review_params(&mut params, &r);
        assert_eq!(params.len(), ROW_PARAMS);
        let (mut shown, mut rendered) = (String::new(), String::new());
        push_params_tuple(&mut shown, &params, &tail);
        push_review_values(&mut rendered, &r, &tail);
        assert_eq!(shown, rendered);
        let sql = insert_reviews_statement(2, &tail);
        assert_eq!(sql.matches('?').count(), 2 * ROW_PARAMS);
        assert!(sql
            .ends_with("'eu-west-1','k.json') ON DUPLICATE KEY UPDATE reviewer_id = reviewer_id"));
    }

    #[test]
    fn identifiers_are_checked() {
        assert_eq!(quote_ident("reviews_db").unwrap(), "`reviews_db`");
        assert!(quote_ident("x`; DROP").is_err());
        assert!(quote_ident("").is_err());
    }
}
