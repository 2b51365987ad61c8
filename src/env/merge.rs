//! YAML merge keys: `<<: *defaults` in a mapping copies in the keys of the anchored
//! mapping that it does not set itself (<https://yaml.org/type/merge.html>), so Regions
//! can share their settings:
//!
//! ```yaml
//! regions:
//!   primary: &region
//!     region: us-east-1
//!     vpc_id: vpc-0a1b2c3d
//!     instance_class: db.r7g.large
//!   secondary:
//!     - <<: *region
//!       region: us-east-2
//!       vpc_id: vpc-0b2c3d4e
//! ```
//!
//! The YAML reader resolves the alias but leaves `<<` as an ordinary key; this applies
//! the merge to the parsed value before anything checks it. The merged fields are located
//! where they are written, at the anchor ([`super::locate::SourceMap`]).

use serde_json::{Map, Value};

use super::locate::{FieldPath, MERGE_KEY};
use super::Problem;

/// Applies every merge key in `value`, innermost first. A `<<` whose value is not a
/// mapping or a list of mappings is a problem and is left out.
pub fn apply(value: &mut Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    apply_at(value, &FieldPath::root(), &mut problems);
    problems
}

fn apply_at(value: &mut Value, path: &FieldPath, problems: &mut Vec<Problem>) {
    match value {
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                apply_at(item, &path.index(index), problems);
            }
        }
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                apply_at(child, &path.key(key), problems);
            }
            if map.contains_key(MERGE_KEY) {
                *map = merged(std::mem::take(map), path, problems);
            }
        }
        _ => {}
    }
}

/// `map` with its `<<` replaced, in place, by the merged keys it does not set itself; the
/// first of several merged mappings wins, as in YAML.
fn merged(
    map: Map<String, Value>,
    path: &FieldPath,
    problems: &mut Vec<Problem>,
) -> Map<String, Value> {
    let explicit: Vec<String> = map.keys().filter(|k| *k != MERGE_KEY).cloned().collect();
    let mut out = Map::new();
    for (key, value) in map {
        if key != MERGE_KEY {
            out.insert(key, value);
            continue;
        }
        let sources = match value {
            Value::Object(source) => vec![source],
            Value::Array(items) if items.iter().all(Value::is_object) => items
                .into_iter()
                .filter_map(|item| match item {
                    Value::Object(source) => Some(source),
                    _ => None,
                })
                .collect(),
            other => {
                let mut problem = Problem::at_value(
                    path.key(MERGE_KEY),
                    format!(
                        "`<<` merges a mapping or a list of mappings into this one, not {}",
                        describe(&other)
                    ),
                );
                problem.hint = Some(
                    "anchor a mapping (`primary: &region`) and merge it with `<<: *region`".into(),
                );
                problems.push(problem);
                continue;
            }
        };
        for source in sources {
            for (key, value) in source {
                if !explicit.contains(&key) && !out.contains_key(&key) {
                    out.insert(key, value);
                }
            }
        }
    }
    out
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".into(),
        Value::Array(_) => "a list of other things".into(),
        Value::String(s) => format!("the text \"{s}\""),
        other => format!("`{other}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merge(text: &str) -> (Value, Vec<Problem>) {
        let mut value: Value = yaml_serde::from_str(text).unwrap();
        let problems = apply(&mut value);
        (value, problems)
    }

    #[test]
    fn explicit_keys_win_and_the_first_merged_mapping_wins() {
        let (value, problems) =
            merge("a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: [*a, *b]\n  x: 3\n");
        assert!(problems.is_empty());
        assert_eq!(value["c"], serde_json::json!({"x": 3, "y": 1, "z": 2}));
    }

    #[test]
    fn nested_merges_are_applied() {
        let (value, _) = merge("a: &a {x: 1}\nb: &b {<<: *a, y: 2}\nc: {<<: *b}\n");
        assert_eq!(value["c"], serde_json::json!({"x": 1, "y": 2}));
    }

    #[test]
    fn merging_a_scalar_is_a_problem() {
        let (value, problems) = merge("a: &a 1\nb: {<<: *a, y: 2}\n");
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].path.to_string(), "b.<<");
        assert_eq!(value["b"], serde_json::json!({"y": 2}));
    }
}
