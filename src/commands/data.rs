//! `deploy data upload ENV PATH [--region R]`: review files into the pending prefix of
//! the data buckets, so users need no other tool. Large files go up in parts.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::aws::AwsContext;
use crate::cli::UploadArgs;
use crate::cloudformation::StackClient;
use crate::env::{self, Environment};
use crate::plan::{stack_name, Part};
use crate::progress::Printer;

/// Files larger than this go up in parts of this size (S3 allows 5 MiB to 5 GiB a part).
const PART_SIZE: usize = 16 * 1024 * 1024;

pub fn upload(args: &UploadArgs) -> anyhow::Result<()> {
    let environment = env::load(&args.env)?;
    let files = review_files(&args.path)?;
    if files.is_empty() {
        bail!(
            "no review files (.json, .jsonl, .json.gz) under {}",
            args.path.display()
        );
    }
    let regions = regions_in_scope(&environment, args.region.as_deref(), &args.env)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let aws = AwsContext::connect(&environment, args.profile.as_deref()).await?;
        for region in &regions {
            let bucket = data_bucket(&environment, &aws, region).await?;
            let mut bytes = 0;
            for (path, relative) in &files {
                let key = format!("{}{relative}", environment.pipeline.pending_prefix);
                bytes += put_file(&aws, region, &bucket, &key, path).await?;
            }
            eprintln!(
                "{region}: uploaded {} files ({bytes} bytes) to s3://{bucket}/{}",
                files.len(),
                environment.pipeline.pending_prefix
            );
        }
        Ok(())
    })
}

/// The data bucket of a Region's pipeline stack.
pub async fn data_bucket(
    environment: &Environment,
    aws: &AwsContext,
    region: &str,
) -> anyhow::Result<String> {
    let outputs = pipeline_outputs(environment, aws, region).await?;
    output(&outputs, "DataBucketName", environment, region)
}

/// The outputs of a Region's pipeline stack (data bucket, state machine).
pub async fn pipeline_outputs(
    environment: &Environment,
    aws: &AwsContext,
    region: &str,
) -> anyhow::Result<BTreeMap<String, String>> {
    let stack = stack_name(environment, Part::Pipeline, region);
    let client = StackClient::new(
        aws.cloudformation(region),
        region,
        std::time::Duration::from_secs(1),
        std::sync::Arc::new(Printer::plain()),
    );
    let description = client.describe(&stack).await?;
    description
        .map(|d| d.outputs)
        .with_context(|| format!("{stack} is not deployed in {region}: run `deploy up` first"))
}

/// One output of a pipeline stack, or why it is missing.
pub fn output(
    outputs: &BTreeMap<String, String>,
    name: &str,
    environment: &Environment,
    region: &str,
) -> anyhow::Result<String> {
    outputs.get(name).cloned().with_context(|| {
        format!(
            "{} has no output {name}: run `deploy up` to update it",
            stack_name(environment, Part::Pipeline, region)
        )
    })
}

/// The Regions a command covers: the one asked for, or every Region of the file.
pub fn regions_in_scope(
    environment: &Environment,
    region: Option<&str>,
    file: &Path,
) -> anyhow::Result<Vec<String>> {
    match region {
        Some(region) if environment.all_regions().any(|r| r.region == region) => {
            Ok(vec![region.to_string()])
        }
        Some(region) => bail!("{region} is not a Region of {}", file.display()),
        None => Ok(environment
            .all_regions()
            .map(|r| r.region.clone())
            .collect()),
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
