//! `deploy up ENV` (and `deploy diff ENV`, its dry run): the environment deployed
//! ([`crate::deployment`]), then its report.

use std::sync::Arc;

use crate::aws::AwsContext;
use crate::cli::{OutputFormat, UpArgs};
use crate::deployment::{self, Options};
use crate::env;
use crate::progress::{Printer, Progress};
use crate::prompt::Prompt;

pub fn run(args: &UpArgs, dry_run: bool) -> super::Outcome {
    let environment = env::load(&args.env)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let printer: Arc<dyn Progress> = Arc::new(Printer::new());
    let options = Options {
        dry_run,
        lambda_dir: args.lambda_dir.clone(),
        migrate: args.migrate,
    };
    let prompt = Prompt { yes: args.yes };
    let report = runtime.block_on(async {
        let aws = AwsContext::connect(&environment, args.profile.as_deref()).await?;
        tokio::select! {
            report = deployment::up(&environment, &aws, printer.clone(), &prompt, &options) => report,
            _ = tokio::signal::ctrl_c() => {
                anyhow::bail!("interrupted: stopped waiting. Operations already started go on in CloudFormation; `deploy status {}` shows where they are", args.env.display())
            }
        }
    })?;
    if args.output == OutputFormat::Json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        eprint!("{}", deployment::render_text(&report));
    }
    match report.error {
        Some(error) => Err(anyhow::anyhow!("{error}").into()),
        None => Ok(()),
    }
}
