//! `deploy`: one typed YAML file in, a multi-Region Aurora MySQL Global Database
//! application out. The binary is a thin shell over this library so tests can call it.
//!
//! The flow a reader can follow: [`env::load`] → [`render::render`] → [`plan`].

#[cfg(feature = "aws")]
pub mod aws;
pub mod cli;
#[cfg(feature = "aws")]
pub mod cloudformation;
pub mod commands;
#[cfg(feature = "aws")]
pub mod deployment;
pub mod env;
#[cfg(feature = "aws")]
pub mod functions;
#[cfg(feature = "aws")]
pub mod ingestion;
#[cfg(feature = "aws")]
pub mod monitoring;
pub mod plan;
#[cfg(feature = "aws")]
pub mod progress;
#[cfg(feature = "aws")]
pub mod prompt;
pub mod render;
#[cfg(feature = "aws")]
pub mod s3;
#[cfg(feature = "aws")]
pub mod schedules;
#[cfg(feature = "aws")]
pub mod teardown;
#[cfg(feature = "aws")]
pub mod topology;
#[cfg(feature = "aws")]
pub mod writer;
