//! `deploy switchover ENV --to REGION` and `deploy failover ENV --to REGION --allow-data-loss`:
//! the writer moved ([`crate::writer`]), then the topology before and after.

use std::sync::Arc;

use crate::aws::AwsContext;
use crate::cli::{FailoverArgs, OutputFormat, SwitchoverArgs};
use crate::env;
use crate::progress::{Printer, Progress};
use crate::prompt::Prompt;
use crate::writer::{check_region, move_writer, render_text, Operation, Refused};

pub fn switchover(args: &SwitchoverArgs) -> anyhow::Result<()> {
    run(args, Operation::Switchover)
}

pub fn failover(args: &FailoverArgs) -> anyhow::Result<()> {
    if !args.allow_data_loss {
        // Refused before any call, and before the file's Regions are even read from AWS.
        let environment = env::load(&args.target.env)?;
        check_region(&environment, &args.target.to)?;
        return Err(Refused::DataLossNotAllowed {
            to: args.target.to.clone(),
            env: args.target.env.display().to_string(),
        }
        .into());
    }
    run(&args.target, Operation::Failover)
}

fn run(args: &SwitchoverArgs, operation: Operation) -> anyhow::Result<()> {
    let environment = env::load(&args.env)?;
    check_region(&environment, &args.to)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let printer: Arc<dyn Progress> = Arc::new(Printer::new());
    let prompt = Prompt { yes: args.yes };
    let report = runtime.block_on(async {
        let aws = AwsContext::connect(&environment, args.profile.as_deref()).await?;
        tokio::select! {
            report = move_writer(&environment, &aws, operation, &args.to, &prompt, printer.as_ref(), args.timeout) => report,
            _ = tokio::signal::ctrl_c() => anyhow::bail!(
                "interrupted: stopped waiting. A {operation} already started goes on in RDS; `deploy status {}` shows the writer",
                args.env.display()
            ),
        }
    })?;
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        OutputFormat::Text => print!("{}", render_text(&report)),
    }
    Ok(())
}
