//! One module per command, each glue between the command line and a capability's module:
//! `Context` builds what the command needs once, [`emit`] prints its report. [`run`] is
//! the only dispatch, and the only place that turns errors into exit codes.

#[cfg(feature = "aws")]
mod context;
#[cfg(feature = "aws")]
pub mod data;
#[cfg(feature = "aws")]
pub mod destroy;
pub mod edit;
pub mod render;
#[cfg(feature = "aws")]
pub mod run;
pub mod schema;
#[cfg(feature = "aws")]
pub mod status;
#[cfg(feature = "aws")]
pub mod switchover;
#[cfg(feature = "aws")]
pub mod up;
pub mod validate;

use std::process::ExitCode;

use serde::Serialize;

use crate::cli::{Command, OutputFormat};
use crate::env::Diagnostics;
#[cfg(feature = "aws")]
pub use context::Context;

/// Exit code for an environment file with problems, or a command line asking for what
/// cannot be (usage errors, as clap uses).
pub const EXIT_INVALID: u8 = 2;
/// Exit code of a run that finished but moved files to the failed prefix: each is listed
/// with why, and `deploy run` exits with this so scripts notice.
pub const EXIT_FILES_FAILED: u8 = 3;

/// Why a command did not succeed, typed where it happens, so the exit code is chosen here
/// without guessing at an error's type.
#[derive(Debug)]
pub enum Failure {
    /// The environment file has problems: each is printed with its place, exit 2.
    Invalid(Diagnostics),
    /// The command line asks for something that cannot be (a Region not in the file, a
    /// failover without --allow-data-loss, the writer it already is): exit 2.
    Usage(anyhow::Error),
    /// The run finished but moved files to the failed prefix (listed above): exit 3.
    FilesFailed(anyhow::Error),
    /// Anything else: exit 1.
    Error(anyhow::Error),
}

/// What a command returns.
pub type Outcome = Result<(), Failure>;

impl Failure {
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Invalid(_) | Failure::Usage(_) => EXIT_INVALID,
            Failure::FilesFailed(_) => EXIT_FILES_FAILED,
            Failure::Error(_) => 1,
        }
    }

    /// On stderr: the diagnostics alone, or `error: ` and the error's chain.
    fn print(&self) {
        match self {
            Failure::Invalid(diagnostics) => eprint!("{diagnostics}"),
            Failure::Usage(error) | Failure::FilesFailed(error) | Failure::Error(error) => {
                eprintln!("error: {error:#}")
            }
        }
    }
}

impl From<Diagnostics> for Failure {
    fn from(diagnostics: Diagnostics) -> Self {
        Failure::Invalid(diagnostics)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure::Error(error)
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Self {
        Failure::Error(error.into())
    }
}

impl From<serde_json::Error> for Failure {
    fn from(error: serde_json::Error) -> Self {
        Failure::Error(error.into())
    }
}

/// A report on stdout, as the user asked: pretty JSON, or the command's text. Every
/// command's report goes this way; progress and errors go to stderr.
pub fn emit<R: Serialize>(
    report: &R,
    format: OutputFormat,
    text: impl FnOnce(&R) -> String,
) -> Outcome {
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(report)?),
        OutputFormat::Text => print!("{}", text(report)),
    }
    Ok(())
}

pub fn run(command: Command) -> ExitCode {
    let result = match command {
        Command::Validate(args) => validate::run(&args),
        Command::Schema(args) => schema::run(&args),
        Command::Edit(args) => edit::run(&args),
        Command::Render(args) => render::run(&args),
        #[cfg(feature = "aws")]
        Command::Up(args) => up::run(&args, false),
        #[cfg(feature = "aws")]
        Command::Diff(args) => up::run(&args, true),
        #[cfg(feature = "aws")]
        Command::Destroy(args) => destroy::run(&args),
        #[cfg(feature = "aws")]
        Command::Status(args) => status::run(&args),
        #[cfg(feature = "aws")]
        Command::Run(args) => run::run(&args),
        #[cfg(feature = "aws")]
        Command::Data(crate::cli::DataCommand::Upload(args)) => data::upload(&args),
        #[cfg(feature = "aws")]
        Command::Data(crate::cli::DataCommand::Failed(args)) => data::failed(&args),
        #[cfg(feature = "aws")]
        Command::Data(crate::cli::DataCommand::Requeue(args)) => data::requeue(&args),
        #[cfg(feature = "aws")]
        Command::Switchover(args) => switchover::switchover(&args),
        #[cfg(feature = "aws")]
        Command::Failover(args) => switchover::failover(&args),
        Command::Completions(args) => {
            use clap::CommandFactory as _;
            clap_complete::generate(
                args.shell,
                &mut crate::cli::Cli::command(),
                "deploy",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.print();
            ExitCode::from(failure.exit_code())
        }
    }
}
