//! The buckets as deploy uses them, one place for each S3 operation the capabilities
//! share: listing a prefix, reading a JSON object, uploading a file, moving an object
//! exactly, and emptying a bucket.

use std::collections::HashMap;
use std::io::Read as _;
use std::path::Path;

use anyhow::{bail, Context as _};
use aws_sdk_s3::operation::head_object::HeadObjectOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, Delete, MetadataDirective, ObjectIdentifier,
};

use crate::aws::{api_error, AwsContext};

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub size: i64,
    /// Without its quotes.
    pub etag: String,
    /// Seconds since the epoch.
    pub last_modified: Option<i64>,
}

/// Every object under `prefix`, in S3's order (by key).
pub async fn list(
    aws: &AwsContext,
    region: &str,
    bucket: &str,
    prefix: &str,
) -> anyhow::Result<Vec<Object>> {
    let mut pages = aws
        .s3(region)
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut objects = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page
            .map_err(api_error)
            .with_context(|| format!("listing s3://{bucket}/{prefix}"))?;
        objects.extend(page.contents().iter().map(|o| Object {
            key: o.key().unwrap_or_default().to_string(),
            size: o.size().unwrap_or_default(),
            etag: o.e_tag().unwrap_or_default().trim_matches('"').to_string(),
            last_modified: o.last_modified().map(|t| t.secs()),
        }));
    }
    Ok(objects)
}

/// A JSON object of the bucket, `None` when there is no such key.
pub async fn get_json(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> anyhow::Result<Option<serde_json::Value>> {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(object) => {
            let body = object.body.collect().await?.into_bytes();
            let value = serde_json::from_slice(&body)
                .with_context(|| format!("reading s3://{bucket}/{key}"))?;
            Ok(Some(value))
        }
        Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
        Err(error) => Err(api_error(error)).with_context(|| format!("reading s3://{bucket}/{key}")),
    }
}

/// HeadObject: `None` for a missing key (the caller may s3:ListBucket, so S3 answers 404).
pub async fn head(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> anyhow::Result<Option<HeadObjectOutput>> {
    match s3.head_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(Some(out)),
        Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
        Err(error) => Err(api_error(error)).with_context(|| format!("s3://{bucket}/{key}")),
    }
}

/// Files larger than this go up in parts of this size (S3 allows 5 MiB to 5 GiB a part).
const PART_SIZE: usize = 16 * 1024 * 1024;

/// Uploads one file, in parts when it is large; an unfinished multipart upload is
/// aborted so no half-written object or hidden parts are left. Returns its size.
pub async fn put_file(
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
            .map_err(api_error)
            .with_context(|| format!("uploading {} to s3://{bucket}/{key}", path.display()))?;
        return Ok(size);
    }
    let upload = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(api_error)?;
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
                .map_err(api_error)?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(part.e_tag().map(str::to_string))
                    .build(),
            );
        }
        complete_upload(&s3, bucket, key, &upload_id, parts, false)
            .await
            .map_err(api_error)?;
        anyhow::Ok(())
    }
    .await;
    if let Err(error) = result {
        abort_upload(&s3, bucket, key, &upload_id).await;
        return Err(error)
            .with_context(|| format!("uploading {} to s3://{bucket}/{key}", path.display()));
    }
    Ok(size)
}

/// What became of a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    Moved,
    /// The destination key was written between the caller's check and the copy.
    DestinationTaken,
}

/// One CopyObject copies at most 5 GB (S3 API reference, CopyObject); larger objects are
/// copied in parts, as postprocess does.
const COPY_OBJECT_LIMIT: i64 = 5 * 1024 * 1024 * 1024;
const COPY_PART_BYTES: i64 = 512 * 1024 * 1024;

/// The version-exact move postprocess makes (lambdas/reviews/src/s3.rs, `move_object`):
/// the object's current version, by its version id and ETag, copied to `to` only if that
/// key is still free (`If-None-Match: *`: S3 user guide, "How to prevent object overwrites
/// with conditional writes"), the copy's size checked, then exactly that version deleted.
/// Its metadata is kept, with `metadata` added (`x-amz-metadata-directive: REPLACE`, S3
/// API reference, CopyObject).
pub async fn move_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    from: &str,
    to: &str,
    metadata: &[(&str, String)],
) -> anyhow::Result<Moved> {
    let source = head(s3, bucket, from)
        .await?
        .with_context(|| format!("s3://{bucket}/{from} is gone"))?;
    let etag = source.e_tag().unwrap_or_default().to_string();
    let size = source.content_length().unwrap_or_default();
    let mut kept: HashMap<String, String> = source.metadata().cloned().unwrap_or_default();
    for (name, value) in metadata {
        kept.insert(name.to_string(), value.clone());
    }
    let mut copy_source = format!("{bucket}/{}", percent_encode_key(from));
    if let Some(version) = source.version_id() {
        // That version, even if the key is written again meanwhile (S3 API reference,
        // CopyObject: `x-amz-copy-source` with `?versionId=`).
        copy_source.push_str(&format!("?versionId={}", percent_encode_key(version)));
    }
    let copied = if size > COPY_OBJECT_LIMIT {
        copy_in_parts(s3, bucket, &copy_source, &source, kept, to).await
    } else {
        s3.copy_object()
            .bucket(bucket)
            .key(to)
            .copy_source(&copy_source)
            .copy_source_if_match(&etag)
            .if_none_match("*")
            .metadata_directive(MetadataDirective::Replace)
            .set_metadata(Some(kept))
            .set_content_type(source.content_type().map(str::to_string))
            .set_content_encoding(source.content_encoding().map(str::to_string))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                let status = e.raw_response().map(|r| r.status().as_u16());
                (status, api_error(e))
            })
    };
    match copied {
        Ok(()) => {}
        // 412 for If-None-Match on a taken key (409 when a concurrent write races it).
        Err((Some(412 | 409), _)) => return Ok(Moved::DestinationTaken),
        Err((_, error)) => {
            return Err(error).with_context(|| format!("copying s3://{bucket}/{from} to {to}"))
        }
    }
    match head(s3, bucket, to).await? {
        Some(copy) if copy.content_length() == Some(size) => {}
        Some(copy) => bail!(
            "the copy at s3://{bucket}/{to} has {} bytes, the source {size}; s3://{bucket}/{from} is kept",
            copy.content_length().unwrap_or_default()
        ),
        None => bail!("the copy at s3://{bucket}/{to} is not there"),
    }
    let mut delete = s3.delete_object().bucket(bucket).key(from);
    if let Some(version) = source.version_id() {
        delete = delete.version_id(version);
    }
    delete
        .send()
        .await
        .map_err(api_error)
        .with_context(|| format!("deleting s3://{bucket}/{from} after copying it to {to}"))?;
    Ok(Moved::Moved)
}

/// A copy larger than one CopyObject: UploadPartCopy, part by part, completed only if the
/// destination key is still free; an unfinished upload is aborted.
async fn copy_in_parts(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    copy_source: &str,
    source: &aws_sdk_s3::operation::head_object::HeadObjectOutput,
    metadata: HashMap<String, String>,
    to: &str,
) -> Result<(), (Option<u16>, anyhow::Error)> {
    let size = source.content_length().unwrap_or_default();
    let etag = source.e_tag().unwrap_or_default();
    let plain = |e: anyhow::Error| (None, e);
    let upload = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(to)
        .set_metadata(Some(metadata))
        .set_content_type(source.content_type().map(str::to_string))
        .set_content_encoding(source.content_encoding().map(str::to_string))
        .send()
        .await
        .map_err(|e| plain(api_error(e)))?;
    let upload_id = upload
        .upload_id()
        .ok_or_else(|| plain(anyhow::anyhow!("S3 gave no upload id")))?
        .to_string();
    let copied = async {
        let mut parts = Vec::new();
        let (mut start, mut number) = (0, 1);
        while start < size {
            let end = (start + COPY_PART_BYTES).min(size) - 1;
            let part = s3
                .upload_part_copy()
                .bucket(bucket)
                .key(to)
                .upload_id(&upload_id)
                .part_number(number)
                .copy_source(copy_source)
                .copy_source_range(format!("bytes={start}-{end}"))
                .copy_source_if_match(etag)
                .send()
                .await
                .map_err(|e| plain(api_error(e)))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(
                        part.copy_part_result()
                            .and_then(|r| r.e_tag())
                            .map(str::to_string),
                    )
                    .build(),
            );
            start = end + 1;
            number += 1;
        }
        complete_upload(s3, bucket, to, &upload_id, parts, true)
            .await
            .map_err(|e| (e.raw_response().map(|r| r.status().as_u16()), api_error(e)))?;
        Ok(())
    }
    .await;
    if copied.is_err() {
        abort_upload(s3, bucket, to, &upload_id).await;
    }
    copied
}

/// Completes a multipart upload from its parts; with `only_if_new`, only if the key is
/// still free (`If-None-Match: *`).
async fn complete_upload(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    parts: Vec<CompletedPart>,
    only_if_new: bool,
) -> Result<
    aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadOutput,
    aws_sdk_s3::error::SdkError<
        aws_sdk_s3::operation::complete_multipart_upload::CompleteMultipartUploadError,
    >,
> {
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .set_if_none_match(only_if_new.then(|| "*".to_string()))
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
}

/// Aborts an unfinished multipart upload, so its parts are not kept (and billed); a failure
/// to abort leaves the error that made us abort as the one reported.
async fn abort_upload(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, upload_id: &str) {
    let _ = s3
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await;
}

/// CopySource is `bucket/key` URL-encoded; `/` stays as it is.
fn percent_encode_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Deletes every object version and delete marker, a page at a time.
pub async fn empty_bucket(aws: &AwsContext, region: &str, bucket: &str) -> anyhow::Result<usize> {
    let s3 = aws.s3(region);
    let mut removed = 0;
    loop {
        let page = match s3
            .list_object_versions()
            .bucket(bucket)
            .max_keys(1000)
            .send()
            .await
        {
            Ok(page) => page,
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.to_string().contains("NoSuchBucket")) =>
            {
                return Ok(removed)
            }
            Err(error) => {
                let text = aws_sdk_s3::error::DisplayErrorContext(&error).to_string();
                if text.contains("NoSuchBucket") {
                    return Ok(removed);
                }
                bail!("listing s3://{bucket}: {text}");
            }
        };
        let mut objects = Vec::new();
        for version in page.versions() {
            objects.push((version.key().unwrap_or_default(), version.version_id()));
        }
        for marker in page.delete_markers() {
            objects.push((marker.key().unwrap_or_default(), marker.version_id()));
        }
        if objects.is_empty() {
            return Ok(removed);
        }
        let identifiers = objects
            .iter()
            .map(|(key, version)| {
                ObjectIdentifier::builder()
                    .key(*key)
                    .set_version_id(version.map(str::to_string))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let count = identifiers.len();
        s3.delete_objects()
            .bucket(bucket)
            .delete(
                Delete::builder()
                    .set_objects(Some(identifiers))
                    .quiet(true)
                    .build()?,
            )
            .send()
            .await
            .map_err(api_error)
            .with_context(|| format!("emptying s3://{bucket}"))?;
        removed += count;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_source_is_encoded() {
        assert_eq!(percent_encode_key("a b/ü+c.json"), "a%20b/%C3%BC%2Bc.json");
    }
}
