//! `deploy schema`: the environment file's JSON Schema.

use crate::env::schema_json;

pub fn run() -> anyhow::Result<()> {
    print!("{}", schema_json());
    Ok(())
}
