//! `deploy status ENV`: the environment as it is now ([`crate::monitoring`]): stacks, the
//! global database's live topology, the buckets' backlog, schedules, alarms, dashboard.

use super::{emit, Context, Outcome};
use crate::cli::StatusArgs;
use crate::monitoring::{render_text, status};

pub fn run(args: &StatusArgs) -> Outcome {
    let ctx = Context::open(&args.target, false)?;
    let report = ctx.block_on(status(&ctx.environment, &ctx.aws))?;
    emit(&report, args.output.format, render_text)
}
