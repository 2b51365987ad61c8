//! Command-line arguments. Only the shape of the interface lives here; each command's
//! work lives in `commands/<verb>.rs`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "deploy",
    version,
    about = "Deploys a multi-Region Aurora MySQL Global Database application from one YAML file",
    propagate_version = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check an environment file and report every problem with its line and field.
    Validate(ValidateArgs),
    /// Print the JSON Schema of the environment file.
    Schema(SchemaArgs),
    /// Edit an environment file in $EDITOR; it is saved only when it is valid.
    Edit(EditArgs),
    /// Render every stack's CloudFormation template and the deploy plan, offline.
    Render(RenderArgs),
}

#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The environment file, for example environments/prod.yaml.
    pub env: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Print the field reference as a Markdown table instead.
    #[arg(long)]
    pub markdown: bool,
}

#[derive(Debug, clap::Args)]
pub struct EditArgs {
    /// The environment file to edit.
    pub env: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The environment file, for example environments/prod.yaml.
    pub env: PathBuf,
    /// Write one template per stack and Region, and plan.json, into this directory.
    /// Without it, print a summary table.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}
