//! `deploy switchover ENV --to REGION` and `deploy failover ENV --to REGION --allow-data-loss`:
//! the writer moved ([`crate::writer`]), then the topology before and after.

use std::sync::Arc;

use super::{emit, Failure, Outcome};
use crate::aws::AwsContext;
use crate::cli::{FailoverArgs, SwitchoverArgs};
use crate::env;
use crate::progress::{Printer, Progress};
use crate::prompt::Prompt;
use crate::writer::{check_region, move_writer, render_text, MoveError, Operation, Refused};

impl From<Refused> for Failure {
    fn from(refused: Refused) -> Self {
        if refused.is_usage() {
            Failure::Usage(refused.into())
        } else {
            Failure::Error(refused.into())
        }
    }
}

impl From<MoveError> for Failure {
    fn from(error: MoveError) -> Self {
        match error {
            MoveError::Refused(refused) => refused.into(),
            MoveError::Failed(error) => Failure::Error(error),
        }
    }
}

pub fn switchover(args: &SwitchoverArgs) -> Outcome {
    run(args, Operation::Switchover)
}

pub fn failover(args: &FailoverArgs) -> Outcome {
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

fn run(args: &SwitchoverArgs, operation: Operation) -> Outcome {
    let environment = env::load(&args.env)?;
    check_region(&environment, &args.to)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let printer: Arc<dyn Progress> = Arc::new(Printer::new());
    let prompt = Prompt { yes: args.yes };
    let report = runtime.block_on(async {
        let aws = AwsContext::connect(&environment, args.profile.as_deref()).await?;
        tokio::select! {
            report = move_writer(&environment, &aws, operation, &args.to, &prompt, printer.as_ref(), args.timeout) => report,
            _ = tokio::signal::ctrl_c() => Err(MoveError::Failed(anyhow::anyhow!(
                "interrupted: stopped waiting. A {operation} already started goes on in RDS; `deploy status {}` shows the writer",
                args.env.display()
            ))),
        }
    })?;
    emit(&report, args.output, render_text)
}
