//! The review pipeline shared by the Lambda functions (`preprocess`, `dbprocess`,
//! `postprocess`, `migrate`) and the `ingest` CLI.

pub mod aws;
pub mod config;
pub mod db;
pub mod endpoint;
pub mod error;
pub mod format;
pub mod handlers;
pub mod ingest;
pub mod logging;
pub mod metrics;
pub mod model;
pub mod parser;
pub mod reports;
pub mod s3;
pub mod schema;
pub mod sql;

/// The variables the pipeline template gives the functions (the contract's names).
pub use contract::variables;
pub use error::{Error, Result};
