//! `deploy destroy ENV`: everything `up` made, removed in reverse order, safely
//! ([`crate::teardown`]), once the person has said so: deletion protection is only turned
//! off with `--force` and after typing the environment's name.

use anyhow::bail;

use super::{Context, Outcome};
use crate::cli::DestroyArgs;
use crate::env::{self, Environment};
use crate::prompt::{self, Confirm as _, Prompt};
use crate::teardown;

pub fn run(args: &DestroyArgs) -> Outcome {
    let environment = env::load(&args.target.env)?;
    confirmed(&environment, args)?;
    let ctx = Context::connect(environment, &args.target, args.yes)?;
    ctx.block_on(teardown::destroy(
        &ctx.environment,
        &ctx.aws,
        ctx.progress.clone(),
    ))?;
    Ok(())
}

/// What the person must say first: `--force` and the environment's name typed when
/// deletion protection is on, otherwise `--yes` or "y".
fn confirmed(environment: &Environment, args: &DestroyArgs) -> anyhow::Result<()> {
    let name = environment.name_prefix();
    if environment.safety.deletion_protection {
        if !args.force {
            bail!(
                "deletion protection is on for {name}; `deploy destroy --force` turns it off, after you type the environment's name"
            );
        }
        if !prompt::typed_name_matches(&environment.environment) {
            bail!(
                "the name typed was not `{}`; nothing was deleted",
                environment.environment
            );
        }
    } else {
        let question = format!(
            "Destroy {name}: every stack in {} Regions?",
            environment.all_regions().count()
        );
        let prompt = Prompt { yes: args.yes };
        if !prompt.confirm(&question) {
            bail!("not confirmed; nothing was deleted");
        }
    }
    Ok(())
}
