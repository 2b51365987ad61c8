//! `deploy switchover ENV --to REGION` and `deploy failover ENV --to REGION --allow-data-loss`:
//! the writer moved ([`crate::writer`]), then the topology before and after.

use super::{emit, Context, Failure, Outcome};
use crate::cli::{FailoverArgs, SwitchoverArgs};
use crate::env;
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
    let switchover = &args.switchover;
    if !args.allow_data_loss {
        // Refused before any call, and before the file's Regions are even read from AWS.
        let environment = env::load(&switchover.target.env)?;
        check_region(&environment, &switchover.to)?;
        return Err(Refused::DataLossNotAllowed {
            to: switchover.to.clone(),
            env: switchover.target.env.display().to_string(),
        }
        .into());
    }
    run(switchover, Operation::Failover)
}

fn run(args: &SwitchoverArgs, operation: Operation) -> Outcome {
    let environment = env::load(&args.target.env)?;
    check_region(&environment, &args.to)?;
    let ctx = Context::connect(environment, &args.target, args.yes)?;
    let report = ctx.until_interrupted(
        move_writer(
            &ctx.environment,
            &ctx.aws,
            operation,
            &args.to,
            &ctx.prompt,
            ctx.progress.as_ref(),
            args.timeout,
        ),
        || {
            MoveError::Failed(anyhow::anyhow!(
                "interrupted: stopped waiting. A {operation} already started goes on in RDS; `deploy status {}` shows the writer",
                ctx.file.display()
            ))
        },
    )?;
    emit(&report, args.output.format, render_text)
}
