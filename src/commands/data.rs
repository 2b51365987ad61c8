//! `deploy data upload ENV PATH [--region R]`: review files into the pending prefix of
//! the data buckets ([`crate::ingestion::upload`]).
//! `deploy data failed ENV`: the files in the failed prefix, with why each failed.
//! `deploy data requeue ENV`: failed files back to the pending prefix (never a report).

use super::{emit, Context, Outcome};
use crate::cli::{FailedArgs, RequeueArgs, UploadArgs};
use crate::env;
use crate::ingestion::failed::{self, files, humanize, requeue_line, NotRequeued};
use crate::ingestion::{regions_in_scope, upload};
use crate::prompt::Confirm as _;

pub fn upload(args: &UploadArgs) -> Outcome {
    let environment = env::load(&args.target.env)?;
    let files = upload::review_files(&args.path)?;
    if files.is_empty() {
        return Err(anyhow::anyhow!(
            "no review files (.json, .jsonl, .json.gz) under {}",
            args.path.display()
        )
        .into());
    }
    let regions = regions_in_scope(&environment, args.region.as_deref(), &args.target.env)?;
    let ctx = Context::connect(environment, &args.target, false)?;
    let progress = ctx.progress.as_ref();
    ctx.block_on(upload::upload(
        &ctx.environment,
        &ctx.aws,
        &regions,
        &files,
        progress,
    ))?;
    Ok(())
}

/// `deploy data failed`: a table of the failed files per Region (or JSON).
pub fn failed(args: &FailedArgs) -> Outcome {
    let environment = env::load(&args.target.env)?;
    let regions = regions_in_scope(&environment, args.region.as_deref(), &args.target.env)?;
    let ctx = Context::connect(environment, &args.target, false)?;
    let report = ctx.block_on(failed::report(&ctx.aws, &ctx.environment, &regions))?;
    emit(&report, args.output.format, failed::render_text)
}

/// `deploy data requeue`: failed review files back to the pending prefix, each file's
/// outcome on a line of its own as it happens.
pub fn requeue(args: &RequeueArgs) -> Outcome {
    let environment = env::load(&args.target.env)?;
    let regions = regions_in_scope(&environment, args.region.as_deref(), &args.target.env)?;
    let ctx = Context::connect(environment, &args.target, args.yes)?;
    let (environment, aws) = (&ctx.environment, &ctx.aws);
    let results = ctx.block_on(async {
        let selection = failed::select(aws, environment, &regions, args.older_than).await?;
        let recent = format!(
            "{} failed less than {} ago",
            files(selection.newer),
            args.older_than.map(humanize).unwrap_or_default()
        );
        if selection.chosen.is_empty() {
            match selection.newer {
                0 => println!("nothing to requeue: no failed files"),
                _ => println!("nothing to requeue: {recent}"),
            }
            return anyhow::Ok(Vec::new());
        }
        if selection.newer > 0 {
            println!("left where they are: {recent}");
        }
        let question = format!(
            "Move {} back to the pending prefix ({})?",
            files(selection.chosen.len()),
            environment.pipeline.pending_prefix
        );
        if !args.dry_run && !ctx.prompt.confirm(&question) {
            anyhow::bail!("not confirmed; nothing was moved");
        }
        let mut results = Vec::new();
        for (region, bucket, file) in &selection.chosen {
            let result = failed::requeue(aws, region, bucket, file, args.dry_run).await;
            println!("{}", requeue_line(&result));
            results.push(result);
        }
        Ok(results)
    })?;
    if results.is_empty() {
        return Ok(());
    }
    let count = |outcome| results.iter().filter(|r| r.outcome == outcome).count();
    if args.dry_run {
        println!(
            "dry run: nothing was moved; {} would be requeued. Run without --dry-run to move them.",
            files(count(failed::Outcome::WouldRequeue))
        );
    } else if count(failed::Outcome::Requeued) > 0 {
        println!(
            "requeued {} (failure reports removed). Next: deploy run {} --wait",
            files(count(failed::Outcome::Requeued)),
            ctx.file.display()
        );
    }
    let not_moved = count(failed::Outcome::Refused) + count(failed::Outcome::Failed);
    if not_moved > 0 {
        return Err(anyhow::Error::from(NotRequeued {
            not_moved,
            files: results.len(),
        })
        .into());
    }
    Ok(())
}
