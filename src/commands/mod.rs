//! One module per command. [`run`] is the only dispatch, and the only place that turns
//! errors into exit codes.

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

use crate::cli::Command;
use crate::env::Diagnostics;

/// Exit code for an environment file with problems (usage errors, as clap uses).
pub const EXIT_INVALID: u8 = 2;

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
        Err(error) => {
            // An invalid environment file prints its diagnostics, nothing else.
            if let Some(diagnostics) = error.downcast_ref::<Diagnostics>() {
                eprint!("{diagnostics}");
                return ExitCode::from(EXIT_INVALID);
            }
            #[cfg(feature = "aws")]
            if error
                .downcast_ref::<crate::writer::Refused>()
                .is_some_and(|r| r.is_usage())
            {
                eprintln!("error: {error:#}");
                return ExitCode::from(EXIT_INVALID);
            }
            #[cfg(feature = "aws")]
            if error
                .downcast_ref::<crate::ingestion::FilesFailed>()
                .is_some()
            {
                eprintln!("error: {error:#}");
                return ExitCode::from(crate::ingestion::EXIT_FILES_FAILED);
            }
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
