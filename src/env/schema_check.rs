//! Checks a parsed file against the environment's JSON Schema — the same schema that
//! editors use — and words each failure for a person: what is wrong, where, and a hint.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use serde_json::Value;

use super::locate::FieldPath;
use super::Problem;

/// Every way `value` breaks `schema`, as problems with field paths.
pub fn check(schema: &Value, value: &Value) -> Vec<Problem> {
    let validator = jsonschema::validator_for(schema).expect("the generated schema is valid");
    let mut problems = Vec::new();
    for error in validator.iter_errors(value) {
        let path = FieldPath::from_pointer(&error.instance_path().to_string(), value);
        let instance = error.instance();
        problems.extend(describe(schema, &path, error.kind(), instance));
    }
    problems
}

fn describe(
    schema: &Value,
    path: &FieldPath,
    kind: &ValidationErrorKind,
    instance: &Value,
) -> Vec<Problem> {
    let field = path.last_key().unwrap_or("");
    match kind {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let known = known_keys(schema, path);
            unexpected
                .iter()
                .map(|key| {
                    let mut problem =
                        Problem::at_key(path.key(key), format!("unknown field `{key}`"));
                    problem.hint = match did_you_mean(key, known.iter().map(String::as_str)) {
                        Some(suggestion) => Some(format!("did you mean `{suggestion}`?")),
                        None if !known.is_empty() => {
                            Some(format!("known fields: {}", known.join(", ")))
                        }
                        None => None,
                    };
                    problem
                })
                .collect()
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            vec![Problem::at_key(path.key(name), "required field is missing")]
        }
        ValidationErrorKind::Type { kind } => {
            let expected = match kind {
                TypeKind::Single(one) => article(&one.to_string()),
                TypeKind::Multiple(many) => many
                    .iter()
                    .filter(|t| t.to_string() != "null")
                    .map(|t| article(&t.to_string()))
                    .collect::<Vec<_>>()
                    .join(" or "),
            };
            let message = if path.0.is_empty() {
                format!(
                    "expected a mapping of settings at the top of the file, found {}",
                    describe_value(instance)
                )
            } else {
                format!("expected {expected}, found {}", describe_value(instance))
            };
            vec![Problem::at_value(path.clone(), message)]
        }
        // Documented enums become `oneOf` a list of `const`s in the schema.
        ValidationErrorKind::Enum { .. } | ValidationErrorKind::OneOfNotValid { .. } => {
            let options = allowed_values(schema, path);
            let found = plain(instance);
            let mut problem = if field == "region" {
                Problem::at_value(path.clone(), format!("unknown Region code `{found}`"))
            } else {
                Problem::at_value(
                    path.clone(),
                    format!("`{found}` is not one of: {}", options.join(", ")),
                )
            };
            problem.hint = did_you_mean(&found, options.iter().map(String::as_str))
                .map(|suggestion| format!("did you mean `{suggestion}`?"));
            if problem.hint.is_none() && field == "region" {
                problem.hint =
                    Some("Region codes look like `us-east-1`; `deploy schema` lists them".into());
            }
            vec![problem]
        }
        ValidationErrorKind::Minimum { .. } | ValidationErrorKind::Maximum { .. } => {
            let bounds = schema_at(schema, path);
            let low = bounds.and_then(|s| s.get("minimum")).map(plain);
            let high = bounds.and_then(|s| s.get("maximum")).map(plain);
            let range = match (low, high) {
                (Some(low), Some(high)) => format!("from {low} to {high}"),
                (Some(low), None) => format!("at least {low}"),
                (None, Some(high)) => format!("at most {high}"),
                (None, None) => String::from("in range"),
            };
            vec![Problem::at_value(
                path.clone(),
                format!(
                    "{} is out of range: {field} must be {range}",
                    plain(instance)
                ),
            )]
        }
        ValidationErrorKind::MaxItems { limit } | ValidationErrorKind::MinItems { limit } => {
            let count = instance.as_array().map_or(0, Vec::len);
            let bound = if matches!(kind, ValidationErrorKind::MaxItems { .. }) {
                "at most"
            } else {
                "at least"
            };
            let message = if field == "secondary" {
                format!("a global database has {bound} {limit} secondary Regions; found {count}")
            } else {
                format!("{field} needs {bound} {limit} entries; found {count}")
            };
            vec![Problem::at_key(path.clone(), message)]
        }
        ValidationErrorKind::MaxProperties { limit } => vec![Problem::at_key(
            path.clone(),
            format!("at most {limit} entries are allowed"),
        )],
        ValidationErrorKind::Pattern { .. } => vec![pattern_problem(path, field, &plain(instance))],
        other => vec![Problem::at_value(path.clone(), format!("{other:?}"))],
    }
}

/// The message for a value that does not have its field's shape.
fn pattern_problem(path: &FieldPath, field: &str, found: &str) -> Problem {
    let (message, hint): (String, &str) = match field {
        "vpc_id" => (
            format!("`{found}` is not a VPC ID"),
            "VPC IDs look like vpc-0a1b2c3d or vpc-0a1b2c3d4e5f60718 (8 or 17 hex digits)",
        ),
        "subnet_ids" => (
            format!("`{found}` is not a subnet ID"),
            "subnet IDs look like subnet-0a1b2c3d or subnet-0a1b2c3d4e5f60718 (8 or 17 hex digits)",
        ),
        "engine_version" => (
            format!("`{found}` is not an Aurora MySQL version"),
            "give the full version, for example 8.0.mysql_aurora.3.08.2; `aws rds describe-db-engine-versions --engine aurora-mysql` lists them",
        ),
        "instance_class" => (
            format!("`{found}` is not a database instance class"),
            "instance classes look like db.r6g.large",
        ),
        "application" => (
            format!("`{found}` is not a valid application name"),
            "use 2 to 24 lowercase letters, digits and hyphens, starting with a letter",
        ),
        "environment" => (
            format!("`{found}` is not a valid environment name"),
            "use 1 to 12 lowercase letters and digits, starting with a letter",
        ),
        "name" | "master_username" | "app_username" => (
            format!("`{found}` is not a valid MySQL identifier here"),
            "start with a letter; use letters, digits and underscores",
        ),
        "pending_prefix" | "completed_prefix" | "failed_prefix" => (
            format!("`{found}` is not an S3 key prefix"),
            "a prefix is one or more path parts, each ending in `/`, for example book-reviews/reviews/",
        ),
        "aws" | "lambda" => (
            format!("`{found}` is not an endpoint URL"),
            "for example http://127.0.0.1:5000",
        ),
        "database" => (
            format!("`{found}` is not HOST:PORT"),
            "for example 127.0.0.1:3307",
        ),
        _ => (format!("`{found}` does not have the expected form"), ""),
    };
    let mut problem = Problem::at_value(path.clone(), message);
    if !hint.is_empty() {
        problem.hint = Some(hint.to_string());
    }
    problem
}

/// The subschema that describes the value at `path`, following `$ref`s and skipping the
/// `null` branch of optional fields.
pub fn schema_at<'s>(root: &'s Value, path: &FieldPath) -> Option<&'s Value> {
    use super::locate::Segment;
    let mut current = resolve(root, root)?;
    for segment in &path.0 {
        current = match segment {
            Segment::Key(key) => current.get("properties")?.get(key)?,
            Segment::Index(_) => current.get("items")?,
        };
        current = resolve(root, current)?;
    }
    Some(current)
}

pub(super) fn resolve<'s>(root: &'s Value, mut schema: &'s Value) -> Option<&'s Value> {
    loop {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let name = reference.strip_prefix("#/$defs/")?;
            schema = root.get("$defs")?.get(name)?;
        } else if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
            schema = branches
                .iter()
                .find(|branch| branch.get("type").and_then(Value::as_str) != Some("null"))?;
        } else {
            return Some(schema);
        }
    }
}

/// The values an enum field allows, from its `enum` or its `oneOf` of `const`s.
fn allowed_values(schema: &Value, path: &FieldPath) -> Vec<String> {
    let Some(field) = schema_at(schema, path) else {
        return Vec::new();
    };
    if let Some(values) = field.get("enum").and_then(Value::as_array) {
        return values.iter().map(plain).collect();
    }
    field
        .get("oneOf")
        .and_then(Value::as_array)
        .map(|branches| {
            branches
                .iter()
                .filter_map(|b| b.get("const"))
                .map(plain)
                .collect()
        })
        .unwrap_or_default()
}

fn known_keys(schema: &Value, path: &FieldPath) -> Vec<String> {
    schema_at(schema, path)
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|properties| properties.keys().cloned().collect())
        .unwrap_or_default()
}

/// The closest candidate, if it is close enough to be what was meant.
pub fn did_you_mean<'a>(found: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .map(|candidate| {
            (
                strsim::normalized_damerau_levenshtein(found, candidate),
                candidate,
            )
        })
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

fn article(type_name: &str) -> String {
    match type_name {
        "integer" => "an integer".into(),
        "object" => "a mapping".into(),
        "array" => "a list".into(),
        "boolean" => "true or false".into(),
        other => format!("a {other}"),
    }
}

fn describe_value(value: &Value) -> String {
    match value {
        Value::Null => "nothing (null)".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the text \"{s}\""),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

/// A scalar as the user wrote it, without JSON quotes.
pub(super) fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
