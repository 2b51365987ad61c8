//! The environment file: its types, loading, and validation.

mod diagnostics;
pub mod model;
pub mod regions;

use std::path::Path;

pub use diagnostics::{Diagnostic, Diagnostics};
pub use model::*;

/// Reads and validates an environment file. Every problem found is returned at once.
pub fn load(path: &Path) -> Result<Environment, Diagnostics> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        Diagnostics::single(Diagnostic::file_level(path, format!("cannot read the file: {error}")))
    })?;
    parse(path, &text)
}

/// Parses and validates an environment file's text; `path` names it in messages.
pub fn parse(path: &Path, text: &str) -> Result<Environment, Diagnostics> {
    yaml_serde::from_str(text).map_err(|error| {
        Diagnostics::single(Diagnostic::file_level(path, error.to_string()))
    })
}

/// The JSON Schema of the environment file, as committed in `environments/schema.json`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(Environment);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}
