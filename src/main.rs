use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = deploy::cli::Cli::parse();
    deploy::commands::run(cli.command)
}
