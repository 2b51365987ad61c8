//! The review pipeline shared by the Lambda functions (`preprocess`, `dbprocess`,
//! `postprocess`, `migrate`) and the `ingest` CLI.

pub mod db;
pub mod error;
pub mod ingest;
pub mod model;
pub mod parser;
pub mod schema;
pub mod sql;

pub use error::{Error, Result};
