//! The file's `tags`, checked as AWS checks them. deploy puts them on every stack, and
//! CloudFormation passes a stack's tags on to its resources, so each tag must suit the
//! strictest of them: the Aurora clusters and instances.
//!
//! - Stack tags: <https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Tag.html>
//!   (key 1 to 128 characters, value 1 to 256, `aws:` reserved).
//! - RDS tags: <https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_Tag.html>
//!   (`aws:` and `rds:` reserved in keys and values; the character pattern below).
//! - Tagging AWS resources: <https://docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html>
//!   (50 tags a resource, `aws:` reserved in any case, lengths in Unicode characters).
//!
//! The number of tags is the schema's business (`maxProperties`): its limit plus the tags
//! deploy adds stays under AWS's 50 (a test below holds it there).

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

use super::locate::FieldPath;
use super::Problem;

/// The tags deploy adds to every stack itself (see `plan::planned_stack`), and what it sets
/// them to.
pub const DEPLOY_TAGS: [(&str, &str); 2] = [
    ("deploy:application", "application"),
    ("deploy:environment", "environment"),
];

const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

/// Prefixes that AWS keeps for its own tags, compared without regard to case.
const RESERVED_PREFIXES: [(&str, &str); 2] = [("aws:", "AWS"), ("rds:", "Aurora")];

pub fn check(value: &Value) -> Vec<Problem> {
    let Some(tags) = value.get("tags").and_then(Value::as_object) else {
        return Vec::new();
    };
    let tags_path = FieldPath::root().key("tags");
    let mut problems = Vec::new();
    for (key, tag_value) in tags {
        let path = tags_path.key(key);
        if let Some(problem) = check_key(key, &path) {
            problems.push(problem);
        }
        // A value of the wrong type is the schema's to report.
        if let Some(text) = tag_value.as_str() {
            if let Some(problem) = check_value(text, &path) {
                problems.push(problem);
            }
        }
    }
    problems
}

fn check_key(key: &str, path: &FieldPath) -> Option<Problem> {
    let chars = key.chars().count();
    let message = if key.is_empty() {
        "a tag key cannot be empty".to_string()
    } else if let Some((_, field)) = DEPLOY_TAGS.iter().find(|(tag, _)| *tag == key) {
        format!("deploy sets the tag `{key}` itself (to the {field}'s name); it cannot be set here")
    } else if let Some((prefix, owner)) = reserved_prefix(key) {
        format!(
            "a tag key cannot start with `{prefix}`; {owner} keeps that prefix for its own tags"
        )
    } else if chars > MAX_KEY_CHARS {
        format!("the tag key is {chars} characters long; AWS allows at most {MAX_KEY_CHARS}")
    } else if let Some(bad) = bad_characters(key) {
        let mut problem = Problem::at_key(
            path.clone(),
            format!("the tag key has characters AWS does not allow in tags: {bad}"),
        );
        problem.hint = Some(ALLOWED.into());
        return Some(problem);
    } else {
        return None;
    };
    Some(Problem::at_key(path.clone(), message))
}

fn check_value(text: &str, path: &FieldPath) -> Option<Problem> {
    let chars = text.chars().count();
    let message = if text.is_empty() {
        // CloudFormation's stack tags need a value of at least one character.
        "the tag value is empty; CloudFormation needs at least one character".to_string()
    } else if let Some((prefix, owner)) = reserved_prefix(text) {
        format!(
            "a tag value cannot start with `{prefix}`; {owner} keeps that prefix for its own tags"
        )
    } else if chars > MAX_VALUE_CHARS {
        format!("the tag value is {chars} characters long; AWS allows at most {MAX_VALUE_CHARS}")
    } else if let Some(bad) = bad_characters(text) {
        let mut problem = Problem::at_value(
            path.clone(),
            format!("the tag value has characters AWS does not allow in tags: {bad}"),
        );
        problem.hint = Some(ALLOWED.into());
        return Some(problem);
    } else {
        return None;
    };
    Some(Problem::at_value(path.clone(), message))
}

const ALLOWED: &str = "tags may use letters, digits, spaces and _ . : / = + - @";

/// The reserved prefix `text` starts with, as written, and who reserves it.
fn reserved_prefix(text: &str) -> Option<(&str, &'static str)> {
    RESERVED_PREFIXES.iter().find_map(|(prefix, owner)| {
        let start = text.get(..prefix.len())?;
        start
            .eq_ignore_ascii_case(prefix)
            .then_some((start, *owner))
    })
}

/// The characters outside AWS's tag pattern, each once, in order, as `#`, `!`.
fn bad_characters(text: &str) -> Option<String> {
    static ALLOWED_CHAR: OnceLock<Regex> = OnceLock::new();
    // The pattern of the RDS Tag API reference, one character at a time.
    let allowed = ALLOWED_CHAR
        .get_or_init(|| Regex::new(r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]$").expect("a valid pattern"));
    let mut bad: Vec<char> = Vec::new();
    for c in text.chars() {
        if !allowed.is_match(c.encode_utf8(&mut [0; 4])) && !bad.contains(&c) {
            bad.push(c);
        }
    }
    if bad.is_empty() {
        return None;
    }
    Some(
        bad.iter()
            .map(|c| match c {
                '\t' => "a tab".to_string(),
                '\n' => "a line break".to_string(),
                c if c.is_control() => format!("U+{:04X}", *c as u32),
                c => format!("`{c}`"),
            })
            .collect::<Vec<_>>()
            .join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's limit on the tags of one resource, counting every tag but AWS's own.
    const MAX_TAGS: usize = 50;

    #[test]
    fn the_schema_leaves_room_for_the_tags_deploy_adds() {
        let limit = super::super::schema_value()
            .pointer("/properties/tags/maxProperties")
            .and_then(Value::as_u64)
            .expect("the schema limits the number of tags");
        assert!(limit as usize + DEPLOY_TAGS.len() <= MAX_TAGS);
    }

    #[test]
    fn deploy_adds_exactly_these_tags() {
        let environment =
            super::super::load(std::path::Path::new("environments/prod.yaml")).unwrap();
        let plan = crate::plan::StackPlan::for_environment(&environment);
        for (_, stack) in plan.stacks() {
            let added: Vec<&str> = stack
                .tags
                .keys()
                .filter(|key| !environment.tags.contains_key(*key))
                .map(String::as_str)
                .collect();
            let expected: Vec<&str> = DEPLOY_TAGS.iter().map(|(key, _)| *key).collect();
            assert_eq!(added, expected, "{}", stack.name);
        }
    }

    #[test]
    fn characters_outside_the_pattern() {
        assert_eq!(bad_characters("Équipe données 42 _.:/=+-@"), None);
        assert_eq!(bad_characters("a\u{3000}b"), None); // an ideographic space is \p{Z}
        assert_eq!(
            bad_characters("O'Brien, #1!#"),
            Some("`'`, `,`, `#`, `!`".into())
        );
        assert_eq!(bad_characters("a\tb"), Some("a tab".into()));
    }

    #[test]
    fn reserved_prefixes_in_any_case() {
        assert_eq!(reserved_prefix("AWS:team"), Some(("AWS:", "AWS")));
        assert_eq!(reserved_prefix("Rds:x"), Some(("Rds:", "Aurora")));
        assert_eq!(reserved_prefix("awsome"), None);
        assert_eq!(reserved_prefix("é"), None);
    }
}
