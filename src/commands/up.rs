//! `deploy up ENV` (and `deploy diff ENV`, its dry run): the environment deployed
//! ([`crate::deployment`]), then its report.

use super::{emit, Context, Outcome};
use crate::cli::UpArgs;
use crate::deployment::{self, Options};

pub fn run(args: &UpArgs, dry_run: bool) -> Outcome {
    let ctx = Context::open(&args.target, args.yes)?;
    let options = Options {
        dry_run,
        lambda_dir: args.lambda_dir.clone(),
        migrate: args.migrate,
    };
    let report = ctx.until_interrupted(
        deployment::up(&ctx.environment, &ctx.aws, ctx.progress.clone(), &ctx.prompt, &options),
        || {
            anyhow::anyhow!(
                "interrupted: stopped waiting. Operations already started go on in CloudFormation; `deploy status {}` shows where they are",
                ctx.file.display()
            )
        },
    )?;
    emit(&report, args.output.format, deployment::render_text)?;
    match report.error {
        Some(error) => Err(anyhow::anyhow!("{error}").into()),
        None => Ok(()),
    }
}
