//! `deploy schema [--markdown]`: the environment file's JSON Schema, or its reference.

use crate::cli::SchemaArgs;
use crate::env;

pub fn run(args: &SchemaArgs) -> super::Outcome {
    if args.markdown {
        print!("{}", env::reference_markdown());
    } else {
        print!("{}", env::schema_json());
    }
    Ok(())
}
