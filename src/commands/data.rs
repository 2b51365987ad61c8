//! `deploy data upload ENV PATH [--region R]`: review files into the pending prefix of
//! the data buckets, so users need no other tool. Large files go up in parts.
//! `deploy data failed ENV`: the files in the failed prefix, with why each failed.
//! `deploy data requeue ENV`: failed files back to the pending prefix (never a report).

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use super::Context;
use crate::aws::AwsContext;
use crate::cli::{FailedArgs, RequeueArgs, UploadArgs};
use crate::env;
use crate::ingestion::failed::{self, Outcome, RegionFailures, Requeued};
use crate::ingestion::{data_bucket, regions_in_scope};
use crate::prompt::Confirm as _;

/// Files larger than this go up in parts of this size (S3 allows 5 MiB to 5 GiB a part).
const PART_SIZE: usize = 16 * 1024 * 1024;

pub fn upload(args: &UploadArgs) -> super::Outcome {
    let environment = env::load(&args.target.env)?;
    let files = review_files(&args.path)?;
    if files.is_empty() {
        return Err(anyhow::anyhow!(
            "no review files (.json, .jsonl, .json.gz) under {}",
            args.path.display()
        )
        .into());
    }
    let regions = regions_in_scope(&environment, args.region.as_deref(), &args.target.env)?;
    let ctx = Context::connect(environment, &args.target, false)?;
    let (environment, aws) = (&ctx.environment, &ctx.aws);
    ctx.block_on(async {
        for region in &regions {
            let bucket = data_bucket(environment, aws, region).await?;
            let mut bytes = 0;
            for (path, relative) in &files {
                let key = format!("{}{relative}", environment.pipeline.pending_prefix);
                bytes += put_file(aws, region, &bucket, &key, path).await?;
            }
            eprintln!(
                "{region}: uploaded {} files ({bytes} bytes) to s3://{bucket}/{}",
                files.len(),
                environment.pipeline.pending_prefix
            );
        }
        anyhow::Ok(())
    })?;
    Ok(())
}

/// `deploy data failed`: a table of the failed files per Region (or JSON).
pub fn failed(args: &FailedArgs) -> super::Outcome {
    let environment = env::load(&args.target.env)?;
    let regions = regions_in_scope(&environment, args.region.as_deref(), &args.target.env)?;
    let ctx = Context::connect(environment, &args.target, false)?;
    let (environment, aws) = (&ctx.environment, &ctx.aws);
    let listed = ctx.block_on(async {
        let mut listed = Vec::new();
        for region in &regions {
            let bucket = data_bucket(environment, aws, region).await?;
            listed.push(failed::list(aws, environment, region, &bucket).await?);
        }
        anyhow::Ok(listed)
    })?;
    let report = serde_json::json!({
        "environment": environment.name_prefix(),
        "regions": listed,
    });
    super::emit(&report, args.output.format, |_| render_failed(&listed))
}

/// The reasons in the table are cut to this many characters (`--output json` has them whole).
const SHOWN_REASON: usize = 160;

pub fn render_failed(listed: &[RegionFailures]) -> String {
    let mut out = String::new();
    for region in listed {
        let place = format!("s3://{}/{}", region.bucket, region.prefix);
        match region.files.len() {
            0 => out.push_str(&format!("{}: no failed files in {place}\n", region.region)),
            n => out.push_str(&format!(
                "{}: {} failed in {place}\n",
                region.region,
                files(n)
            )),
        }
        if !region.files.is_empty() {
            let width = region
                .files
                .iter()
                .map(|f| f.key.chars().count())
                .max()
                .unwrap_or(0)
                .max(3);
            out.push_str(&format!(
                "  {:<width$}  {:>10}  {:<20}  {:>8}  reason\n",
                "key", "bytes", "failed at", "attempts"
            ));
            for file in &region.files {
                let reason = if file.reason.chars().count() > SHOWN_REASON {
                    let cut: String = file.reason.chars().take(SHOWN_REASON - 1).collect();
                    format!("{cut}…")
                } else {
                    file.reason.clone()
                };
                out.push_str(&format!(
                    "  {:<width$}  {:>10}  {:<20}  {:>8}  {reason}\n",
                    file.key,
                    file.size,
                    file.failed_at.as_deref().unwrap_or("-"),
                    file.attempts.map_or("-".to_string(), |a| a.to_string()),
                ));
            }
        }
        if !region.stray_reports.is_empty() {
            out.push_str(&format!(
                "  reports in the failed prefix that belong to no failed file (not review files, never requeued; delete them once read): {}\n",
                region.stray_reports.join(", ")
            ));
        }
    }
    out.lines()
        .map(|line| format!("{}\n", line.trim_end()))
        .collect()
}

/// Some files could not be requeued (each is listed with why).
#[derive(Debug, thiserror::Error)]
#[error("{not_moved} of {files} failed files were not requeued (each is listed above with why)")]
pub struct NotRequeued {
    pub not_moved: usize,
    pub files: usize,
}

/// `deploy data requeue`: failed review files back to the pending prefix.
pub fn requeue(args: &RequeueArgs) -> super::Outcome {
    let environment = env::load(&args.target.env)?;
    let regions = regions_in_scope(&environment, args.region.as_deref(), &args.target.env)?;
    let ctx = Context::connect(environment, &args.target, args.yes)?;
    let (environment, aws) = (&ctx.environment, &ctx.aws);
    let results = ctx.block_on(async {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs() as i64;
        let mut chosen = Vec::new();
        let mut newer = 0;
        for region in &regions {
            let bucket = data_bucket(environment, aws, region).await?;
            let listed = failed::list(aws, environment, region, &bucket).await?;
            for file in listed.files {
                let old_enough = match (args.older_than, file.failed_at_unix) {
                    (Some(age), Some(at)) => at <= now - age.as_secs() as i64,
                    _ => true,
                };
                if old_enough {
                    chosen.push((region.clone(), bucket.clone(), file));
                } else {
                    newer += 1;
                }
            }
        }
        let recent = format!(
            "{} failed less than {} ago",
            files(newer),
            args.older_than.map(humanize).unwrap_or_default()
        );
        if chosen.is_empty() {
            match newer {
                0 => println!("nothing to requeue: no failed files"),
                _ => println!("nothing to requeue: {recent}"),
            }
            return anyhow::Ok(Vec::new());
        }
        if newer > 0 {
            println!("left where they are: {recent}");
        }
        let question = format!(
            "Move {} back to the pending prefix ({})?",
            files(chosen.len()),
            environment.pipeline.pending_prefix
        );
        if !args.dry_run && !ctx.prompt.confirm(&question) {
            anyhow::bail!("not confirmed; nothing was moved");
        }
        let mut results = Vec::new();
        for (region, bucket, file) in &chosen {
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
    let env_path = ctx.file.display();
    if args.dry_run {
        println!(
            "dry run: nothing was moved; {} would be requeued. Run without --dry-run to move them.",
            files(count(Outcome::WouldRequeue))
        );
    } else if count(Outcome::Requeued) > 0 {
        println!(
            "requeued {} (failure reports removed). Next: deploy run {env_path} --wait",
            files(count(Outcome::Requeued))
        );
    }
    let not_moved = count(Outcome::Refused) + count(Outcome::Failed);
    if not_moved > 0 {
        return Err(anyhow::Error::from(NotRequeued {
            not_moved,
            files: results.len(),
        })
        .into());
    }
    Ok(())
}

fn requeue_line(result: &Requeued) -> String {
    let why = result.why.as_deref().unwrap_or_default();
    match result.outcome {
        Outcome::Requeued if why.is_empty() => format!(
            "{}: requeued {} -> {}",
            result.region, result.key, result.pending_key
        ),
        Outcome::Requeued => format!(
            "{}: requeued {} -> {} (warning: {why})",
            result.region, result.key, result.pending_key
        ),
        Outcome::WouldRequeue => format!(
            "{}: would requeue {} -> {}",
            result.region, result.key, result.pending_key
        ),
        Outcome::Refused => format!("{}: not requeued {}: {why}", result.region, result.key),
        Outcome::Failed => format!("{}: could not requeue {}: {why}", result.region, result.key),
    }
}

/// `1 file`, `2 files`.
fn files(n: usize) -> String {
    match n {
        1 => "1 file".into(),
        n => format!("{n} files"),
    }
}

/// A duration as it would be typed: `2h`, `90m`, `45s`, `7d`.
fn humanize(duration: std::time::Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        s if s > 0 && s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s > 0 && s % 3600 == 0 => format!("{}h", s / 3600),
        s if s > 0 && s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Every review file under `path` with its path relative to it, sorted.
fn review_files(path: &Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let is_review = |p: &Path| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        name.ends_with(".json") || name.ends_with(".jsonl") || name.ends_with(".json.gz")
    };
    if path.is_file() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        return Ok(vec![(path.to_path_buf(), name)]);
    }
    let mut files = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
        {
            let entry = entry?.path();
            if entry.is_dir() {
                pending.push(entry);
            } else if is_review(&entry) {
                let relative = entry
                    .strip_prefix(path)?
                    .to_string_lossy()
                    .replace('\\', "/");
                files.push((entry, relative));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Uploads one file, in parts when it is large; an unfinished multipart upload is
/// aborted so no half-written object or hidden parts are left.
async fn put_file(
    aws: &AwsContext,
    region: &str,
    bucket: &str,
    key: &str,
    path: &Path,
) -> anyhow::Result<u64> {
    let s3 = aws.s3(region);
    let size = std::fs::metadata(path)?.len();
    if size as usize <= PART_SIZE {
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from_path(path).await?)
            .send()
            .await
            .map_err(crate::aws::api_error)
            .with_context(|| format!("uploading {} to s3://{bucket}/{key}", path.display()))?;
        return Ok(size);
    }
    let upload = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(crate::aws::api_error)?;
    let upload_id = upload
        .upload_id()
        .context("S3 gave no upload id")?
        .to_string();
    let result = async {
        // Plain reads: one part at a time in memory, and this CLI has nothing else to do.
        let mut file = std::fs::File::open(path)?;
        let mut parts = Vec::new();
        for number in 1.. {
            let mut chunk = Vec::with_capacity(PART_SIZE);
            (&mut file).take(PART_SIZE as u64).read_to_end(&mut chunk)?;
            if chunk.is_empty() {
                break;
            }
            let part = s3
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .part_number(number)
                .body(ByteStream::from(chunk))
                .send()
                .await
                .map_err(crate::aws::api_error)?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(part.e_tag().map(str::to_string))
                    .build(),
            );
        }
        s3.complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(crate::aws::api_error)?;
        anyhow::Ok(())
    }
    .await;
    if let Err(error) = result {
        let _ = s3
            .abort_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .send()
            .await;
        return Err(error)
            .with_context(|| format!("uploading {} to s3://{bucket}/{key}", path.display()));
    }
    Ok(size)
}
