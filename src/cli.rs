//! Command-line arguments. Only the shape of the interface lives here; each command's
//! glue lives in `commands/<verb>.rs`, its work in the capability's module (`deployment`,
//! `ingestion`, `teardown`, `writer`, `monitoring`).

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
    /// Deploy every stack in dependency order across Regions, through change sets.
    #[cfg(feature = "aws")]
    Up(UpArgs),
    /// Show what `up` would change (change sets created, shown, then deleted).
    #[cfg(feature = "aws")]
    Diff(UpArgs),
    /// Delete every stack of the environment, in reverse order.
    #[cfg(feature = "aws")]
    Destroy(DestroyArgs),
    /// Show the stacks, the global database's live topology and the buckets' backlog.
    #[cfg(feature = "aws")]
    Status(StatusArgs),
    /// Ingest the pending review files: start the state machine in every Region at once
    /// (or one), and with --wait follow it to a table of what each Region ingested.
    #[cfg(feature = "aws")]
    Run(RunArgs),
    /// Move review files in and out of the data buckets.
    #[cfg(feature = "aws")]
    #[command(subcommand)]
    Data(DataCommand),
    /// Planned switchover: move the global database's writer to another Region, losing nothing.
    #[cfg(feature = "aws")]
    Switchover(SwitchoverArgs),
    /// Unplanned failover: promote another Region at once, losing writes not yet replicated.
    #[cfg(feature = "aws")]
    Failover(FailoverArgs),
    /// Print the shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions(CompletionsArgs),
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete commands and options for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Upload review files (JSON lines, .json or .json.gz) to the pending prefix of every
    /// Region's data bucket, or of one.
    Upload(UploadArgs),
    /// List the files in the failed prefix of every Region's data bucket (or one), with
    /// when and why each failed.
    Failed(FailedArgs),
    /// Move failed review files back to the pending prefix, for `deploy run` (never their
    /// reports; a file whose pending key is taken is refused).
    Requeue(RequeueArgs),
}

#[derive(Debug, clap::Args)]
pub struct FailedArgs {
    #[command(flatten)]
    pub target: EnvArgs,
    /// Only this Region (default: every Region).
    #[arg(long)]
    pub region: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, clap::Args)]
pub struct RequeueArgs {
    #[command(flatten)]
    pub target: EnvArgs,
    /// Only this Region (default: every Region).
    #[arg(long)]
    pub region: Option<String>,
    /// Only files that failed at least this long ago, for example 30m, 2h or 7d.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub older_than: Option<std::time::Duration>,
    /// List what would be moved, and move nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation.
    #[arg(long, short)]
    pub yes: bool,
}

#[derive(Debug, clap::Args)]
pub struct UploadArgs {
    #[command(flatten)]
    pub target: EnvArgs,
    /// A directory of review files (uploaded with their paths below it), or one file.
    pub path: PathBuf,
    /// Only this Region (default: every Region).
    #[arg(long)]
    pub region: Option<String>,
}

/// The environment a command works on, and the credentials it reaches AWS with.
#[derive(Debug, clap::Args)]
pub struct EnvArgs {
    /// The environment file, for example environments/prod.yaml.
    pub env: PathBuf,
    /// The AWS profile to use (else the standard credential chain).
    #[arg(long)]
    pub profile: Option<String>,
}

/// How a command's report is printed on stdout (progress and errors go to stderr).
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct OutputArgs {
    /// Print a machine-readable report on stdout.
    #[arg(long = "output", value_name = "OUTPUT", value_enum, default_value_t)]
    pub format: OutputFormat,
}

/// How results are printed on stdout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub target: EnvArgs,
    /// Approve every change set without asking.
    #[arg(long, short)]
    pub yes: bool,
    #[command(flatten)]
    pub output: OutputArgs,
    /// Use the functions' zips in this directory (`<dir>/<function>/bootstrap.zip`, as
    /// `make lambdas` leaves them) instead of building them. Default: build them with
    /// `make lambdas` into target/lambda/<the environment's architecture> (for the local
    /// stand-in, `make lambdas-local` into target/lambda/local).
    #[arg(long, value_name = "DIR")]
    pub lambda_dir: Option<PathBuf>,
    /// Invoke `migrate` even when deploy's record says this migrate code already ran on
    /// this cluster and no stack changed (for a schema changed outside deploy).
    #[arg(long)]
    pub migrate: bool,
}

#[derive(Debug, clap::Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub target: EnvArgs,
    /// Do not ask for confirmation (deletion protection still needs --force and the
    /// environment's name typed).
    #[arg(long, short)]
    pub yes: bool,
    /// Turn off deletion protection through the API, after you type the environment's name.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub target: EnvArgs,
    /// Only this Region (default: every Region at once).
    #[arg(long)]
    pub region: Option<String>,
    /// Follow the runs to the end and print what each Region ingested.
    #[arg(long)]
    pub wait: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: EnvArgs,
    #[command(flatten)]
    pub output: OutputArgs,
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

#[derive(Debug, clap::Args)]
pub struct SwitchoverArgs {
    #[command(flatten)]
    pub target: EnvArgs,
    /// The Region whose cluster becomes the writer (one of the environment's Regions).
    #[arg(long, value_name = "REGION")]
    pub to: String,
    /// Do not ask for confirmation.
    #[arg(long, short)]
    pub yes: bool,
    /// How long to wait for the new writer and write forwarding, for example 30m or 90s.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    pub timeout: std::time::Duration,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, clap::Args)]
pub struct FailoverArgs {
    #[command(flatten)]
    pub switchover: SwitchoverArgs,
    /// Accept losing the writes that had not replicated to the new writer yet.
    #[arg(long)]
    pub allow_data_loss: bool,
}

/// `90s`, `30m`, `2h`, `7d`, or a number of seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let wrong = || format!("{text:?} is not a duration such as 90s, 30m, 2h or 7d");
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(wrong()),
    };
    let number: u64 = number.parse().map_err(|_| wrong())?;
    number
        .checked_mul(seconds)
        .map(std::time::Duration::from_secs)
        .ok_or_else(wrong)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations_in_seconds_minutes_hours_and_days() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for wrong in [
            "",
            "h",
            "2w",
            "1.5h",
            "-1h",
            "2 h",
            "2hours",
            "99999999999999999999d",
        ] {
            assert_eq!(
                parse_duration(wrong),
                Err(format!(
                    "{wrong:?} is not a duration such as 90s, 30m, 2h or 7d"
                )),
                "{wrong}"
            );
        }
    }
}
