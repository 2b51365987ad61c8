//! One line of the public Amazon review data, validated into a [`ReviewRecord`] or a
//! [`RejectReason`] that says why it cannot be stored.
//!
//! Every field may be missing or `null`. The identity of a review is (`reviewerID`, `asin`,
//! `unixReviewTime`): a line without one of them cannot be deduplicated, so it is rejected
//! rather than stored. `style` and `image` are kept verbatim as JSON text (JSON columns).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// Column limits of the `reviews` table (see `schema.rs`); a longer value is rejected, never
/// truncated.
pub const MAX_REVIEWER_ID_CHARS: usize = 64;
pub const MAX_ASIN_CHARS: usize = 32;
pub const MAX_TEXT_BYTES: usize = 65_535;
pub const MAX_MEDIUMTEXT_BYTES: usize = 16_777_215;

/// A review that passed validation. Strings borrow from the line when no JSON escape forced a
/// copy, so parsing a line allocates little.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewRecord<'a> {
    pub reviewer_id: Cow<'a, str>,
    pub asin: Cow<'a, str>,
    pub unix_review_time: i64,
    pub reviewer_name: Option<Cow<'a, str>>,
    pub review_text: Option<Cow<'a, str>>,
    pub summary: Option<Cow<'a, str>>,
    pub overall: Option<f64>,
    pub verified: Option<bool>,
    /// `reviewTime` ("02 27, 2013") as an ISO date, `YYYY-MM-DD`.
    pub review_date: Option<String>,
    /// `vote` ("1,234") as a number.
    pub vote: Option<u32>,
    /// `style` as compact JSON text (an object).
    pub style: Option<&'a str>,
    /// `image` as compact JSON text (an array).
    pub image: Option<&'a str>,
}

/// Why a line was not stored; written to `review_rejects` with its line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    NotJson(String),
    NotAnObject,
    WrongType(String),
    Missing(&'static str),
    Invalid { field: &'static str, why: String },
    TooLong { field: &'static str, limit: usize },
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::NotJson(e) => write!(f, "not JSON: {e}"),
            RejectReason::NotAnObject => f.write_str("not a JSON object"),
            RejectReason::WrongType(e) => write!(f, "wrong type: {e}"),
            RejectReason::Missing(field) => {
                write!(
                    f,
                    "missing {field} (a review needs reviewerID, asin and unixReviewTime)"
                )
            }
            RejectReason::Invalid { field, why } => write!(f, "invalid {field}: {why}"),
            RejectReason::TooLong { field, limit } => write!(f, "{field} longer than {limit}"),
        }
    }
}

#[derive(Deserialize)]
#[allow(non_snake_case)]
struct RawReview<'a> {
    #[serde(borrow, default)]
    reviewerID: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    asin: Option<Cow<'a, str>>,
    #[serde(default)]
    unixReviewTime: Option<i64>,
    #[serde(borrow, default)]
    reviewerName: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reviewText: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    summary: Option<Cow<'a, str>>,
    #[serde(default)]
    overall: Option<f64>,
    #[serde(default)]
    verified: Option<bool>,
    #[serde(borrow, default)]
    reviewTime: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "vote")]
    vote: Option<u32>,
    #[serde(borrow, default)]
    style: Option<&'a RawValue>,
    #[serde(borrow, default)]
    image: Option<&'a RawValue>,
}

/// Parses one line (without its line end). The caller has already skipped blank lines and the
/// byte order mark.
pub fn parse_review(line: &[u8]) -> Result<ReviewRecord<'_>, RejectReason> {
    // serde reads a struct from an array too, by position: `["A1", "B2"]` would become a
    // review missing its time. A review is an object.
    if line.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(RejectReason::NotAnObject);
    }
    let raw: RawReview<'_> = match serde_json::from_slice(line) {
        Ok(raw) => raw,
        Err(e) => return Err(classify(line, e)),
    };
    validate(raw)
}

fn validate(raw: RawReview<'_>) -> Result<ReviewRecord<'_>, RejectReason> {
    let reviewer_id = identity(raw.reviewerID, "reviewerID", MAX_REVIEWER_ID_CHARS)?;
    let asin = identity(raw.asin, "asin", MAX_ASIN_CHARS)?;
    let unix_review_time = raw
        .unixReviewTime
        .ok_or(RejectReason::Missing("unixReviewTime"))?;
    check_bytes(&raw.reviewerName, "reviewerName", MAX_TEXT_BYTES)?;
    check_bytes(&raw.summary, "summary", MAX_TEXT_BYTES)?;
    check_bytes(&raw.reviewText, "reviewText", MAX_MEDIUMTEXT_BYTES)?;
    let review_date = match raw.reviewTime.as_deref() {
        None => None,
        Some(s) => Some(parse_review_time(s).ok_or_else(|| RejectReason::Invalid {
            field: "reviewTime",
            why: format!("{} is not \"MM DD, YYYY\"", quoted(s)),
        })?),
    };
    let style = json_of_kind(raw.style, "style", b'{')?;
    let image = json_of_kind(raw.image, "image", b'[')?;
    if let Some(o) = raw.overall {
        if !(0.0..=1000.0).contains(&o) {
            return Err(RejectReason::Invalid {
                field: "overall",
                why: format!("{o} is out of range"),
            });
        }
    }
    Ok(ReviewRecord {
        reviewer_id,
        asin,
        unix_review_time,
        reviewer_name: raw.reviewerName,
        review_text: raw.reviewText,
        summary: raw.summary,
        overall: raw.overall,
        verified: raw.verified,
        review_date,
        vote: raw.vote,
        style,
        image,
    })
}

fn identity<'a>(
    v: Option<Cow<'a, str>>,
    field: &'static str,
    max_chars: usize,
) -> Result<Cow<'a, str>, RejectReason> {
    match v {
        None => Err(RejectReason::Missing(field)),
        Some(s) if s.trim().is_empty() => Err(RejectReason::Missing(field)),
        Some(s) if s.chars().count() > max_chars => Err(RejectReason::TooLong {
            field,
            limit: max_chars,
        }),
        Some(s) => Ok(s),
    }
}

fn check_bytes(
    v: &Option<Cow<'_, str>>,
    field: &'static str,
    max: usize,
) -> Result<(), RejectReason> {
    match v {
        Some(s) if s.len() > max => Err(RejectReason::TooLong { field, limit: max }),
        _ => Ok(()),
    }
}

/// JSON nesting the JSON columns take: MariaDB's JSON functions, behind the column's
/// `JSON_VALID` check, stop at a depth of 32 (MySQL's JSON type at 100).
pub const MAX_JSON_DEPTH: usize = 32;

fn json_of_kind<'a>(
    v: Option<&'a RawValue>,
    field: &'static str,
    opener: u8,
) -> Result<Option<&'a str>, RejectReason> {
    let Some(raw) = v else { return Ok(None) };
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'n') => return Ok(None), // null
        Some(&c) if c == opener => {}
        _ => {
            return Err(RejectReason::WrongType(format!(
                "{field} must be {}",
                if opener == b'{' {
                    "an object"
                } else {
                    "an array"
                }
            )))
        }
    }
    // The line parsed, but the column may still refuse the value: skipping it does not
    // check numbers' range (1e400) or escapes' pairing (a lone surrogate), nor depth.
    let invalid = |why: String| RejectReason::Invalid { field, why };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| invalid(e.to_string()))?;
    if depth(&value) > MAX_JSON_DEPTH {
        return Err(invalid(format!(
            "nested deeper than {MAX_JSON_DEPTH} levels"
        )));
    }
    Ok(Some(text))
}

fn depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// A value quoted in a reason: at most 64 characters of it, so a reason stays short.
fn quoted(s: &str) -> String {
    match s.char_indices().nth(64) {
        None => format!("{s:?}"),
        Some((cut, _)) => format!("{:?}… ({} characters)", &s[..cut], s.chars().count()),
    }
}

/// "02 27, 2013" (day not always zero-padded) to "2013-02-27".
pub fn parse_review_time(s: &str) -> Option<String> {
    let (md, year) = s.trim().split_once(',')?;
    let mut it = md.split_whitespace();
    let month: u32 = it.next()?.parse().ok()?;
    let day: u32 = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    let year: u32 = year.trim().parse().ok()?;
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if !(1000..=9999).contains(&year) || day == 0 || day > days_in_month {
        return None;
    }
    Some(format!("{year:04}-{month:02}-{day:02}"))
}

/// `vote` is a string with thousands separators in the data set ("1,234"); a plain number is
/// accepted too.
fn vote<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<u32>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("vote as a count such as \"1,234\"")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(V)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            u32::try_from(v)
                .map(Some)
                .map_err(|_| E::custom("vote out of range"))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            u32::try_from(v)
                .map(Some)
                .map_err(|_| E::custom("vote out of range"))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let digits: String = v.trim().chars().filter(|&c| c != ',').collect();
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(E::custom(format!("vote {v:?} is not a count")));
            }
            digits
                .parse()
                .map(Some)
                .map_err(|_| E::custom("vote out of range"))
        }
    }
    d.deserialize_option(V)
}

/// Turns a serde error into a reason a person can act on: the rare path, so it may re-parse.
fn classify(line: &[u8], e: serde_json::Error) -> RejectReason {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => RejectReason::NotJson(e.to_string()),
        Category::Data => match serde_json::from_slice::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(map)) => {
                // Name the field whose type is wrong; serde's own message does not.
                for (field, ok) in [
                    ("reviewerID", is_str as fn(&serde_json::Value) -> bool),
                    ("asin", is_str),
                    ("unixReviewTime", |v| v.is_null() || v.is_i64()),
                    ("reviewerName", is_str),
                    ("reviewText", is_str),
                    ("summary", is_str),
                    ("overall", |v| v.is_null() || v.is_number()),
                    ("verified", |v| v.is_null() || v.is_boolean()),
                    ("reviewTime", is_str),
                ] {
                    if let Some(v) = map.get(field) {
                        if !ok(v) {
                            return RejectReason::WrongType(format!("{field} is {}", kind(v)));
                        }
                    }
                }
                RejectReason::WrongType(e.to_string())
            }
            Ok(_) => RejectReason::NotAnObject,
            Err(_) => RejectReason::NotJson(e.to_string()),
        },
    }
}

fn is_str(v: &serde_json::Value) -> bool {
    v.is_null() || v.is_string()
}

fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_line_parses() {
        let line = br#"{"overall": 5.0, "verified": true, "reviewTime": "02 7, 2013", "reviewerID": "A1", "asin": "B00", "style": {"Format:": " Hardcover"}, "reviewerName": "Ann", "reviewText": "Great \ud83d\ude00 book\u2028yes", "summary": "Five", "unixReviewTime": 1360195200, "vote": "1,234", "image": ["https://x/y.jpg"]}"#;
        let r = parse_review(line).unwrap();
        assert_eq!(r.reviewer_id, "A1");
        assert_eq!(r.asin, "B00");
        assert_eq!(r.unix_review_time, 1360195200);
        assert_eq!(r.overall, Some(5.0));
        assert_eq!(r.verified, Some(true));
        assert_eq!(r.review_date.as_deref(), Some("2013-02-07"));
        assert_eq!(r.vote, Some(1234));
        assert_eq!(
            r.review_text.as_deref(),
            Some("Great \u{1F600} book\u{2028}yes")
        );
        assert_eq!(r.style, Some(r#"{"Format:": " Hardcover"}"#));
        assert_eq!(r.image, Some(r#"["https://x/y.jpg"]"#));
    }

    #[test]
    fn optional_fields_may_be_missing_or_null_and_overall_an_int() {
        let r = parse_review(
            br#"{"reviewerID":"A","asin":"B","unixReviewTime":1,"overall":4,"vote":null,"style":null,"summary":null}"#,
        )
        .unwrap();
        assert_eq!(r.overall, Some(4.0));
        assert_eq!(r.vote, None);
        assert_eq!(r.style, None);
        assert_eq!(r.summary, None);
        assert_eq!(r.review_date, None);
    }

    #[test]
    fn identity_is_required() {
        for (line, field) in [
            (&br#"{"asin":"B","unixReviewTime":1}"#[..], "reviewerID"),
            (br#"{"reviewerID":"A","unixReviewTime":1}"#, "asin"),
            (br#"{"reviewerID":"A","asin":"B"}"#, "unixReviewTime"),
            (
                br#"{"reviewerID":null,"asin":"B","unixReviewTime":1}"#,
                "reviewerID",
            ),
            (
                br#"{"reviewerID":" ","asin":"B","unixReviewTime":1}"#,
                "reviewerID",
            ),
        ] {
            assert_eq!(parse_review(line), Err(RejectReason::Missing(field)));
        }
    }

    #[test]
    fn bad_lines_say_why() {
        let reason = |l: &[u8]| parse_review(l).unwrap_err().to_string();
        assert!(reason(b"{not json").starts_with("not JSON"));
        assert_eq!(reason(b"[1,2]"), "not a JSON object");
        assert_eq!(reason(br#"["A1", "B2", 1]"#), "not a JSON object");
        assert_eq!(reason(b"42"), "not a JSON object");
        assert_eq!(
            reason(br#"{"reviewerID":"A","asin":"B","unixReviewTime":1,"overall":"5"}"#),
            "wrong type: overall is a string"
        );
        assert_eq!(
            reason(br#"{"reviewerID":"A","asin":"B","unixReviewTime":"1"}"#),
            "wrong type: unixReviewTime is a string"
        );
        assert_eq!(
            reason(br#"{"reviewerID":7,"asin":"B","unixReviewTime":1}"#),
            "wrong type: reviewerID is a number"
        );
        assert!(
            reason(br#"{"reviewerID":"A","asin":"B","unixReviewTime":1,"vote":"lots"}"#)
                .contains("not a count")
        );
        assert_eq!(
            reason(br#"{"reviewerID":"A","asin":"B","unixReviewTime":1,"style":[1]}"#),
            "wrong type: style must be an object"
        );
        assert!(reason(
            br#"{"reviewerID":"A","asin":"B","unixReviewTime":1,"reviewTime":"yesterday"}"#
        )
        .starts_with("invalid reviewTime"));
        assert!(reason(b"{\"reviewerID\":\"A\xff\"}").starts_with("not JSON"));
    }

    #[test]
    fn long_texts_within_limits_are_kept() {
        let text = "é".repeat(40_000); // 80 KB, over 64 KiB
        let line =
            format!(r#"{{"reviewerID":"A","asin":"B","unixReviewTime":1,"reviewText":"{text}"}}"#);
        assert_eq!(
            parse_review(line.as_bytes())
                .unwrap()
                .review_text
                .unwrap()
                .len(),
            80_000
        );
        let line =
            format!(r#"{{"reviewerID":"A","asin":"B","unixReviewTime":1,"summary":"{text}"}}"#);
        assert_eq!(
            parse_review(line.as_bytes()),
            Err(RejectReason::TooLong {
                field: "summary",
                limit: MAX_TEXT_BYTES
            })
        );
    }

    #[test]
    fn review_time_formats() {
        assert_eq!(
            parse_review_time("09 4, 2015").as_deref(),
            Some("2015-09-04")
        );
        assert_eq!(
            parse_review_time("02 29, 2016").as_deref(),
            Some("2016-02-29")
        );
        assert_eq!(parse_review_time("02 29, 2015"), None);
        assert_eq!(parse_review_time("13 1, 2015"), None);
        assert_eq!(parse_review_time("2015-01-01"), None);
    }
}
