//! Review files into the pending prefix of the data buckets (`deploy data upload`), so
//! users need no other tool.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::aws::AwsContext;
use crate::env::Environment;
use crate::ingestion::data_bucket;
use crate::progress::Progress;
use crate::s3;

/// Uploads `files` (from [`review_files`]) to the pending prefix of each Region's data
/// bucket, one Region after the other.
pub async fn upload(
    environment: &Environment,
    aws: &AwsContext,
    regions: &[String],
    files: &[(PathBuf, String)],
    progress: &dyn Progress,
) -> anyhow::Result<()> {
    let pending = &environment.pipeline.pending_prefix;
    for region in regions {
        let bucket = data_bucket(environment, aws, region).await?;
        let mut bytes = 0;
        for (path, relative) in files {
            let key = format!("{pending}{relative}");
            bytes += s3::put_file(aws, region, &bucket, &key, path).await?;
        }
        progress.message(&format!(
            "{region}: uploaded {} files ({bytes} bytes) to s3://{bucket}/{pending}",
            files.len()
        ));
    }
    Ok(())
}

/// Every review file under `path` with its path relative to it, sorted.
pub fn review_files(path: &Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
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
