//! The environment file: its types, and loading it with every problem reported at once.
//!
//! `load` reads the YAML (with `yaml_serde`), checks it against the JSON Schema generated
//! from the types (the one editors use), then runs the checks a schema cannot express, and
//! only then builds the typed [`Environment`]. Problems carry field paths; positions come
//! from a second, event-level read of the text ([`locate`]).

mod alerts;
mod diagnostics;
pub mod locate;
mod merge;
pub mod model;
mod mysql;
mod names;
mod reference;
pub mod regions;
pub mod schedule;
mod schema_check;
mod semantic;
mod tags;

use std::collections::HashSet;
use std::path::Path;
use std::sync::OnceLock;

pub use diagnostics::{Diagnostic, Diagnostics};
use locate::{FieldPath, SourceMap};
pub use model::*;

/// Reads and validates an environment file.
pub fn load(path: &Path) -> Result<Environment, Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        Diagnostics::single(Diagnostic::file_level(
            path,
            format!("cannot read the file: {error}"),
        ))
    })?;
    parse(path, &text)
}

/// Parses and validates an environment file's text; `path` names the file in messages.
pub fn parse(path: &Path, text: &str) -> Result<Environment, Diagnostics> {
    // Editors on Windows may save UTF-8 with a byte order mark; the YAML reader takes it
    // for content. It is invisible, so columns on the first line count without it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut value: serde_json::Value = match yaml_serde::from_str(text) {
        Ok(value) => value,
        Err(_) if is_blank(text) => return Err(empty_file(path)),
        Err(error) => return Err(Diagnostics::single(yaml_error(path, &error))),
    };
    if value.is_null() {
        return Err(empty_file(path));
    }
    let mut problems = merge::apply(&mut value);
    problems.extend(schema_check::check(schema_value(), &value));
    // One message per value: what the schema refuses is not checked again.
    let refused: HashSet<FieldPath> = problems.iter().map(|p| p.path.clone()).collect();
    problems.extend(
        semantic::check(&value)
            .into_iter()
            .filter(|problem| !refused.contains(&problem.path)),
    );
    problems.extend(names::check(&value, &refused));
    let source = SourceMap::index(text);
    let duplicates = source
        .duplicates()
        .iter()
        .map(|duplicate| duplicate_key(path, duplicate));
    if problems.is_empty() && source.duplicates().is_empty() {
        return serde_json::from_value(value).map_err(|error| {
            // The schema is generated from the same types, so this is a bug in deploy.
            Diagnostics::single(Diagnostic::file_level(
                path,
                format!("internal error: {error}"),
            ))
        });
    }
    let mut diagnostics: Vec<Diagnostic> = problems
        .into_iter()
        .map(|problem| problem.locate(path, &source))
        .chain(duplicates)
        .collect();
    diagnostics.sort_by(|a, b| (a.line, a.column, &a.field).cmp(&(b.line, b.column, &b.field)));
    diagnostics.dedup();
    Err(Diagnostics(diagnostics))
}

/// A key written twice in one mapping: YAML readers keep one of the values without a
/// word, so which one the file means is a guess deploy does not make.
fn duplicate_key(file: &Path, duplicate: &locate::DuplicateKey) -> Diagnostic {
    Diagnostic {
        file: file.to_path_buf(),
        line: duplicate.again.line,
        column: duplicate.again.column,
        field: duplicate.path.to_string(),
        message: format!(
            "duplicate key; first at {}, a second value here would win silently",
            if duplicate.first.line == duplicate.again.line {
                format!(
                    "line {} column {}",
                    duplicate.first.line, duplicate.first.column
                )
            } else {
                format!("line {}", duplicate.first.line)
            }
        ),
        hint: None,
    }
}

/// A problem found in the parsed value, before it is given its place in the file.
#[derive(Debug)]
pub(crate) struct Problem {
    path: FieldPath,
    /// Point at the field's key (unknown, missing, too many) or at its value (wrong).
    at_key: bool,
    message: String,
    hint: Option<String>,
}

impl Problem {
    pub(crate) fn at_key(path: FieldPath, message: impl Into<String>) -> Self {
        Problem {
            path,
            at_key: true,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn at_value(path: FieldPath, message: impl Into<String>) -> Self {
        Problem {
            path,
            at_key: false,
            message: message.into(),
            hint: None,
        }
    }

    fn locate(self, file: &Path, source: &SourceMap) -> Diagnostic {
        let position = if self.at_key {
            source.key_position(&self.path)
        } else {
            source.value_position(&self.path)
        };
        let position = position.unwrap_or(locate::Position { line: 1, column: 1 });
        Diagnostic {
            file: file.to_path_buf(),
            line: position.line,
            column: position.column,
            field: self.path.to_string(),
            message: self.message,
            hint: self.hint,
        }
    }
}

/// A file with nothing in it but blank lines, comments and document markers.
pub fn is_blank(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "---"
    })
}

fn empty_file(path: &Path) -> Diagnostics {
    let mut diagnostic = Diagnostic::file_level(path, "the file is empty");
    diagnostic.hint = Some(
        "an environment needs at least application, environment, regions and database; see environments/prod.yaml".into(),
    );
    Diagnostics::single(diagnostic)
}

fn yaml_error(path: &Path, error: &yaml_serde::Error) -> Diagnostic {
    let mut diagnostic = Diagnostic::file_level(path, format!("not valid YAML: {error}"));
    if let Some(location) = error.location() {
        diagnostic.line = location.line();
        diagnostic.column = location.column();
        // The position is shown in front already; keep the message short.
        let text = error.to_string();
        let suffix = format!(" at line {} column {}", location.line(), location.column());
        diagnostic.message = format!("not valid YAML: {}", text.replace(&suffix, ""));
    }
    diagnostic
}

/// The JSON Schema of the environment file, as committed in `environments/schema.json`.
pub fn schema_json() -> String {
    let mut text = serde_json::to_string_pretty(schema_value()).expect("a schema serialises");
    text.push('\n');
    text
}

/// The environment file reference in Markdown (a table of every field), as in the README.
pub fn reference_markdown() -> String {
    reference::markdown(schema_value())
}

fn schema_value() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA.get_or_init(|| schemars::schema_for!(Environment).to_value())
}
