//! `deploy`: one typed YAML file in, a multi-Region Aurora MySQL Global Database
//! application out. The binary is a thin shell over this library so tests can call it.
//!
//! The flow a reader can follow: [`env::load`] → [`render::render`] → [`plan`].

pub mod cli;
pub mod commands;
pub mod env;
pub mod plan;
pub mod render;
