//! Text of the statements the writer sends. Rows go as multi-row `INSERT` literals over the
//! text protocol: one round trip per statement, nothing to prepare, and accepted by Aurora's
//! write forwarding like any other DML. The session sets `sql_mode` itself (without
//! `NO_BACKSLASH_ESCAPES`) and `utf8mb4`, which is what makes the escaping below sound.

use std::fmt::Write as _;

use crate::model::ReviewRecord;

/// Columns of `reviews` in the order [`push_review_values`] writes them.
pub const REVIEW_COLUMNS: &str =
    "reviewer_id, asin, unix_review_time, reviewer_name, review_text, \
    summary, overall, verified, review_time, vote, style, image, region_indicator, source_key";

/// The duplicate-key clause that keeps the first writer's row untouched (so the Region that
/// wrote it first stays), and makes `affected_rows` count only the rows really inserted.
pub const KEEP_FIRST: &str = " ON DUPLICATE KEY UPDATE reviewer_id = reviewer_id";

pub fn insert_reviews_prefix() -> String {
    format!("INSERT INTO reviews ({REVIEW_COLUMNS}) VALUES ")
}

/// Appends `'text'` with MySQL string-literal escaping (as `mysql_real_escape_string` does for
/// utf8mb4, where no multi-byte sequence contains a backslash or a quote).
pub fn push_str_literal(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('\'');
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
        out.push_str(&s[start..i]);
        out.push_str(esc);
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('\'');
}

pub fn push_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_str_literal(out, s),
        None => out.push_str("NULL"),
    }
}

/// Appends `(…)` for one review. `region_and_key` is the already-escaped
/// `'region', 'key'` tail shared by every row of a file.
pub fn push_review_values(out: &mut String, r: &ReviewRecord<'_>, region_and_key: &str) {
    out.push('(');
    push_str_literal(out, &r.reviewer_id);
    out.push(',');
    push_str_literal(out, &r.asin);
    let _ = write!(out, ",{},", r.unix_review_time);
    push_opt_str(out, r.reviewer_name.as_deref());
    out.push(',');
    push_opt_str(out, r.review_text.as_deref());
    out.push(',');
    push_opt_str(out, r.summary.as_deref());
    match r.overall {
        Some(o) => {
            let _ = write!(out, ",{o},");
        }
        None => out.push_str(",NULL,"),
    }
    out.push_str(match r.verified {
        Some(true) => "1,",
        Some(false) => "0,",
        None => "NULL,",
    });
    push_opt_str(out, r.review_date.as_deref());
    match r.vote {
        Some(v) => {
            let _ = write!(out, ",{v},");
        }
        None => out.push_str(",NULL,"),
    }
    push_opt_str(out, r.style);
    out.push(',');
    push_opt_str(out, r.image);
    out.push(',');
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
    fn identifiers_are_checked() {
        assert_eq!(quote_ident("reviews_db").unwrap(), "`reviews_db`");
        assert!(quote_ident("x`; DROP").is_err());
        assert!(quote_ident("").is_err());
    }
}
