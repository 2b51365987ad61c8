//! The environment file reference in Markdown, generated from the schema so the README's
//! copy cannot drift from the types (a test compares them).

use serde_json::Value;

use super::locate::FieldPath;
use super::schema_check::{self, plain, schema_at};

/// A Markdown table: one row per field, nested fields as dotted paths.
pub fn markdown(schema: &Value) -> String {
    let mut out = String::from("| field | type | default | description |\n|---|---|---|---|\n");
    rows(schema, schema_at(schema, &FieldPath::root()), "", &mut out);
    out
}

fn rows(root: &Value, object: Option<&Value>, prefix: &str, out: &mut String) {
    let Some(object) = object else { return };
    let required: Vec<&str> = object
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = object.get("properties").and_then(Value::as_object) else {
        return;
    };
    for (name, property) in properties {
        let path = format!("{prefix}{name}");
        let resolved = resolve(root, property);
        let default = match property.get("default") {
            Some(Value::Object(_)) => String::new(),
            Some(value) => format!("`{}`", plain(value)),
            None if required.contains(&name.as_str()) => "required".into(),
            None => String::new(),
        };
        let description = property
            .get("description")
            .or_else(|| resolved.get("description"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .replace('\n', " ")
            .replace('|', "\\|");
        out.push_str(&format!(
            "| `{path}` | {} | {default} | {description} |\n",
            type_of(root, resolved)
        ));
        if resolved.get("properties").is_some() {
            rows(root, Some(resolved), &format!("{path}."), out);
        } else if let Some(items) = resolved.get("items") {
            let items = resolve(root, items);
            if items.get("properties").is_some() {
                rows(root, Some(items), &format!("{path}[]."), out);
            }
        }
    }
}

/// The subschema behind `$ref`s and optional (`anyOf` with null) wrappers.
fn resolve<'s>(root: &'s Value, schema: &'s Value) -> &'s Value {
    schema_check::resolve(root, schema).unwrap_or(schema)
}

fn type_of(root: &Value, schema: &Value) -> String {
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        return if values.len() > 8 {
            format!("one of {} values", values.len())
        } else {
            values.iter().map(plain).collect::<Vec<_>>().join(" \\| ")
        };
    }
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        return branches
            .iter()
            .filter_map(|b| b.get("const"))
            .map(plain)
            .collect::<Vec<_>>()
            .join(" \\| ");
    }
    let kind = match schema.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(Value::Array(kinds)) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|kind| *kind != "null")
            .unwrap_or("any")
            .to_string(),
        _ => "any".into(),
    };
    match kind.as_str() {
        "object" if schema.get("properties").is_none() => "map of string".into(),
        "array" => {
            let items = schema.get("items").map(|items| resolve(root, items));
            let item = if items.is_some_and(|i| i.get("properties").is_some()) {
                "mapping".to_string()
            } else {
                items
                    .map(|i| type_of(root, i))
                    .unwrap_or_else(|| "any".into())
            };
            let low = schema.get("minItems").map(plain);
            let high = schema.get("maxItems").map(plain);
            match (low, high) {
                (Some(low), Some(high)) => format!("list of {item} ({low}–{high})"),
                _ => format!("list of {item}"),
            }
        }
        "integer" => match (schema.get("minimum"), schema.get("maximum")) {
            (Some(low), Some(high)) => format!("integer {}–{}", plain(low), plain(high)),
            _ => "integer".into(),
        },
        "object" => "mapping".into(),
        other => other.into(),
    }
}
