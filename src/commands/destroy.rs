//! `deploy destroy ENV`: everything `up` made, removed in reverse order, safely
//! ([`crate::teardown`]), once the person has said so: deletion protection is only turned
//! off with `--force` and after typing the environment's name.

use std::sync::Arc;

use anyhow::bail;

use crate::aws::AwsContext;
use crate::cli::DestroyArgs;
use crate::env::{self, Environment};
use crate::progress::{Printer, Progress};
use crate::prompt;
use crate::teardown;

pub fn run(args: &DestroyArgs) -> super::Outcome {
    let environment = env::load(&args.env)?;
    confirmed(&environment, args)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let printer: Arc<dyn Progress> = Arc::new(Printer::new());
    runtime.block_on(async {
        let aws = AwsContext::connect(&environment, args.profile.as_deref()).await?;
        teardown::destroy(&environment, &aws, printer).await
    })?;
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
    } else if !args.yes
        && !prompt::ask(&format!(
            "Destroy {name}: every stack in {} Regions?",
            environment.all_regions().count()
        ))
    {
        bail!("not confirmed; nothing was deleted");
    }
    Ok(())
}
