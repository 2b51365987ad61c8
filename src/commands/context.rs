//! What every command that talks to AWS needs, built once: the environment, the async
//! runtime, the AWS context, the progress printer (stderr) and the confirmation.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use super::Failure;
use crate::aws::AwsContext;
use crate::cli::EnvArgs;
use crate::env::{self, Environment};
use crate::progress::{Printer, Progress};
use crate::prompt::Prompt;

pub struct Context {
    pub environment: Environment,
    /// The environment file as the command line named it, for the commands a message
    /// suggests.
    pub file: PathBuf,
    pub aws: AwsContext,
    pub progress: Arc<dyn Progress>,
    /// Asks before what cannot be undone, unless `--yes` answered already.
    pub prompt: Prompt,
    runtime: tokio::runtime::Runtime,
}

impl Context {
    /// The environment file loaded, then [`Context::connect`].
    pub fn open(target: &EnvArgs, yes: bool) -> Result<Context, Failure> {
        let environment = env::load(&target.env)?;
        Ok(Context::connect(environment, target, yes)?)
    }

    /// For an environment already loaded (and checked as far as it can be without AWS, so
    /// a wrong command line is refused before any connection): a local stand-in that
    /// does not answer is said here, not by the first API call.
    pub fn connect(
        environment: Environment,
        target: &EnvArgs,
        yes: bool,
    ) -> anyhow::Result<Context> {
        let runtime = tokio::runtime::Runtime::new()?;
        let aws = runtime.block_on(AwsContext::connect(&environment, target.profile.as_deref()))?;
        Ok(Context {
            environment,
            file: target.env.clone(),
            aws,
            progress: Arc::new(Printer::new()),
            prompt: Prompt { yes },
            runtime,
        })
    }

    pub fn block_on<F: Future>(&self, work: F) -> F::Output {
        self.runtime.block_on(work)
    }

    /// `work` to its end, or until Ctrl-C, which ends it with `interrupted()`: what was
    /// started goes on in AWS, so the error says where to look.
    pub fn until_interrupted<T, E>(
        &self,
        work: impl Future<Output = Result<T, E>>,
        interrupted: impl FnOnce() -> E,
    ) -> Result<T, E> {
        self.runtime.block_on(async {
            tokio::select! {
                result = work => result,
                _ = tokio::signal::ctrl_c() => Err(interrupted()),
            }
        })
    }
}
