//! The data bucket: listing pending objects, streaming one, and moving finished ones.

use std::io::Read;

use aws_sdk_s3::error::DisplayErrorContext;
use serde::{Deserialize, Serialize};
use tokio_util::io::SyncIoBridge;

use crate::error::{Error, Result};
use crate::ingest::ObjectId;

#[derive(Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    /// Objects larger than this are copied in parts (UploadPartCopy) of `copy_part` bytes:
    /// one CopyObject copies at most 5 GB (S3 API reference, CopyObject).
    copy_limit: i64,
    copy_part: i64,
}

/// No report the pipeline writes is larger (their parts are bounded to fit a state's
/// 256 KiB of data).
pub const REPORT_MAX_BYTES: usize = 1024 * 1024;

/// S3's limit for one CopyObject.
pub const COPY_OBJECT_LIMIT: i64 = 5 * 1024 * 1024 * 1024;
/// Parts of a multipart copy: 512 MiB, so a 5 TB object (S3's largest) takes under 10,000
/// parts (S3's most).
pub const COPY_PART_BYTES: i64 = 512 * 1024 * 1024;

pub use contract::{MoveOutcome, PendingFile};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingListing {
    pub files: Vec<PendingFile>,
    /// More pending objects remain after these.
    pub more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub etag: String,
    pub size: i64,
    /// In a versioned bucket, the version this describes.
    pub version_id: Option<String>,
}

/// A file's move: how it went, and whether a newer upload of the same key stays pending
/// (it was uploaded after the version that was read; the next listing takes it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moved {
    pub outcome: MoveOutcome,
    pub newer_version_pending: bool,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3Store {
            client,
            bucket: bucket.into(),
            copy_limit: COPY_OBJECT_LIMIT,
            copy_part: COPY_PART_BYTES,
        }
    }

    /// Copies objects over `limit` bytes in parts of `part` (tests use small ones; S3 wants
    /// parts of at least 5 MiB but the last).
    pub fn with_copy_parts(mut self, limit: i64, part: i64) -> Self {
        self.copy_limit = limit;
        self.copy_part = part;
        self
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn fail(&self, op: &'static str, key: &str, why: impl std::fmt::Display) -> Error {
        Error::S3 {
            op,
            bucket: self.bucket.clone(),
            key: key.to_string(),
            why: why.to_string(),
        }
    }

    /// Up to `limit` objects under `prefix`, in key order, paging through ListObjectsV2
    /// (1,000 keys a page). Folder markers (keys ending in `/`) are not files.
    pub async fn list_pending(&self, prefix: &str, limit: usize) -> Result<PendingListing> {
        let mut files = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| self.fail("list", prefix, DisplayErrorContext(e)))?;
            for o in out.contents() {
                let Some(key) = o.key() else { continue };
                if key.ends_with('/') {
                    continue;
                }
                if files.len() == limit {
                    return Ok(PendingListing { files, more: true });
                }
                files.push(PendingFile {
                    key: key.to_string(),
                    etag: o.e_tag().unwrap_or_default().trim_matches('"').to_string(),
                    size: o.size().unwrap_or(0),
                });
            }
            match out.next_continuation_token() {
                Some(t) if out.is_truncated() == Some(true) => token = Some(t.to_string()),
                _ => return Ok(PendingListing { files, more: false }),
            }
        }
    }

    pub async fn head(&self, key: &str) -> Result<Option<ObjectMeta>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(ObjectMeta {
                etag: out
                    .e_tag()
                    .unwrap_or_default()
                    .trim_matches('"')
                    .to_string(),
                size: out.content_length().unwrap_or(0),
                version_id: out.version_id().map(str::to_string),
            })),
            Err(e)
                if e.as_service_error()
                    .map(|s| s.is_not_found())
                    .unwrap_or(false) =>
            {
                Ok(None)
            }
            // A HEAD answer has no body to name the error: the status is all there is.
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(403) => Err(self.fail(
                "head",
                key,
                "403 Forbidden: access denied (S3 also answers 403 for a missing key to a caller without s3:ListBucket on the bucket)",
            )),
            Err(e) => Err(self.fail("head", key, DisplayErrorContext(e))),
        }
    }

    /// The identity of the object to ingest: the ETag the caller listed, or the current one.
    pub async fn object_id(&self, key: &str, etag: Option<&str>) -> Result<ObjectId> {
        match etag {
            Some(e) if !e.is_empty() => Ok(ObjectId::in_bucket(&self.bucket, key, e)),
            _ => match self.head(key).await? {
                Some(meta) => Ok(ObjectId::in_bucket(&self.bucket, key, meta.etag)),
                None => Err(Error::NotFound {
                    bucket: self.bucket.clone(),
                    key: key.to_string(),
                }),
            },
        }
    }

    /// Streams the object (never held whole in memory) as a blocking reader, for the parser
    /// thread. `If-Match` makes sure the bytes are the version the ledger row names.
    pub async fn open(&self, object: &ObjectId) -> Result<Box<dyn Read + Send>> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&object.key)
            .if_match(format!("\"{}\"", object.etag))
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .map(|s| s.is_no_such_key())
                    .unwrap_or(false)
                {
                    return Error::NotFound {
                        bucket: self.bucket.clone(),
                        key: object.key.clone(),
                    };
                }
                if e.raw_response().map(|r| r.status().as_u16()) == Some(412) {
                    return self.fail(
                        "get",
                        &object.key,
                        format!(
                            "the object changed since it was listed (ETag {} no longer matches)",
                            object.etag
                        ),
                    );
                }
                self.fail("get", &object.key, DisplayErrorContext(e))
            })?;
        let reader = Box::pin(out.body.into_async_read());
        Ok(Box::new(SyncIoBridge::new(reader)))
    }

    /// Whether the object is one of the pipeline's own reports (crate::reports), moved into
    /// the pending prefix by hand. Its first 16 bytes are read (a ranged GET: S3 API
    /// reference, GetObject, `Range`); only an object that starts as a pretty-printed JSON
    /// object, as every report does, is read whole (at most [`REPORT_MAX_BYTES`]) and
    /// checked. An empty object has no byte 0: S3 answers the range with 416 InvalidRange.
    pub async fn own_report(&self, object: &ObjectId) -> Result<Option<crate::reports::Report>> {
        let Some(head) = self.read_range(object, Some("bytes=0-15")).await? else {
            return Ok(None);
        };
        if !crate::reports::may_be_report(&head) {
            return Ok(None);
        }
        let Some(whole) = self.read_range(object, None).await? else {
            return Ok(None);
        };
        Ok(crate::reports::recognise(&whole))
    }

    /// The object's bytes (or a range of them), `None` for a range past its end; an object
    /// over [`REPORT_MAX_BYTES`] read whole answers its first bytes only (no report is
    /// that large).
    async fn read_range(&self, object: &ObjectId, range: Option<&str>) -> Result<Option<Vec<u8>>> {
        let out = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&object.key)
            .if_match(format!("\"{}\"", object.etag))
            .set_range(
                range
                    .map(str::to_string)
                    .or(Some(format!("bytes=0-{}", REPORT_MAX_BYTES - 1))),
            )
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(416) => {
                return Ok(None)
            }
            Err(e) => return Err(self.fail("get", &object.key, DisplayErrorContext(e))),
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| self.fail("get", &object.key, e))?;
        Ok(Some(body.into_bytes().to_vec()))
    }

    /// How many times the current version of `key` failed before, as `deploy data requeue`
    /// noted it in the object's user metadata (S3 user guide, "Working with object
    /// metadata": `x-amz-meta-*`, returned by HeadObject); 0 when it did not, or when the
    /// current version is not the one with `etag` (a newer upload starts afresh).
    pub async fn earlier_failures(&self, key: &str, etag: Option<&str>) -> Result<u32> {
        let out = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await;
        let Ok(out) = out else {
            // Gone (moved already) or unreadable: the move says which; the count is unknown.
            return Ok(0);
        };
        let current = out.e_tag().unwrap_or_default().trim_matches('"');
        if etag.is_some_and(|e| e != current) {
            return Ok(0);
        }
        Ok(out
            .metadata()
            .and_then(|m| m.get(crate::reports::ATTEMPTS_METADATA))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0))
    }

    pub async fn put_json(&self, key: &str, body: Vec<u8>) -> Result<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/json")
            .body(body.into())
            .send()
            .await
            .map_err(|e| self.fail("put", key, DisplayErrorContext(e)))?;
        Ok(())
    }

    /// The version of `key` whose ETag is `etag`, when it is not the current one (uploaded
    /// again since): ListObjectVersions, newest first.
    async fn version_with_etag(&self, key: &str, etag: &str) -> Result<Option<ObjectMeta>> {
        let (mut key_marker, mut version_marker) = (None::<String>, None::<String>);
        loop {
            let page = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(key)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| self.fail("list versions", key, DisplayErrorContext(e)))?;
            for v in page.versions() {
                if v.key() == Some(key) && v.e_tag().map(|t| t.trim_matches('"')) == Some(etag) {
                    return Ok(Some(ObjectMeta {
                        etag: etag.to_string(),
                        size: v.size().unwrap_or(0),
                        version_id: v.version_id().map(str::to_string),
                    }));
                }
            }
            if page.is_truncated() != Some(true) {
                break;
            }
            key_marker = page.next_key_marker().map(str::to_string);
            version_marker = page.next_version_id_marker().map(str::to_string);
        }
        Ok(None)
    }

    /// Moves the version of `from` whose ETag is `etag` (the one that was read; without one,
    /// the current version) to `to`: copy it, check the copy's size, delete exactly that
    /// version. A file uploaded again meanwhile is never moved unread: its newer version stays
    /// pending. Safe to repeat: a version that is gone with the destination present counts
    /// as moved.
    pub async fn move_object(&self, from: &str, to: &str, etag: Option<&str>) -> Result<Moved> {
        let current = self.head(from).await?;
        let (src, newer_version_pending) = match (&current, etag) {
            (Some(cur), None) => (Some(cur.clone()), false),
            (Some(cur), Some(e)) if cur.etag == e => (Some(cur.clone()), false),
            (cur, Some(e)) => (self.version_with_etag(from, e).await?, cur.is_some()),
            (None, None) => (None, false),
        };
        let Some(src) = src else {
            return match self.head(to).await? {
                Some(_) => Ok(Moved {
                    outcome: MoveOutcome::AlreadyMoved,
                    newer_version_pending,
                }),
                None => Err(Error::NotFound {
                    bucket: self.bucket.clone(),
                    key: from.to_string(),
                }),
            };
        };
        let mut copy_source = format!("{}/{}", self.bucket, percent_encode_key(from));
        if let Some(version) = &src.version_id {
            copy_source.push_str(&format!("?versionId={}", percent_encode_key(version)));
        }
        if src.size > self.copy_limit {
            self.copy_in_parts(&copy_source, &src, from, to).await?;
        } else {
            self.client
                .copy_object()
                .bucket(&self.bucket)
                .key(to)
                .copy_source(&copy_source)
                .copy_source_if_match(format!("\"{}\"", src.etag))
                .send()
                .await
                .map_err(|e| self.fail("copy", from, DisplayErrorContext(e)))?;
        }
        match self.head(to).await? {
            Some(dst) if dst.size == src.size => {}
            Some(dst) => {
                return Err(self.fail(
                    "copy",
                    from,
                    format!(
                        "the copy at {to} has {} bytes, the source {}",
                        dst.size, src.size
                    ),
                ))
            }
            None => return Err(self.fail("copy", from, format!("the copy at {to} is not there"))),
        }
        let mut delete = self.client.delete_object().bucket(&self.bucket).key(from);
        if let Some(version) = &src.version_id {
            // That version only: a newer upload of the key stays.
            delete = delete.version_id(version);
        }
        delete
            .send()
            .await
            .map_err(|e| self.fail("delete", from, DisplayErrorContext(e)))?;
        Ok(Moved {
            outcome: MoveOutcome::Moved,
            newer_version_pending,
        })
    }

    /// A copy of more than one CopyObject can take: UploadPartCopy, part by part; an
    /// unfinished upload is aborted, so no hidden parts are left.
    async fn copy_in_parts(
        &self,
        copy_source: &str,
        src: &ObjectMeta,
        from: &str,
        to: &str,
    ) -> Result<()> {
        use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
        let fail = |why: String| self.fail("copy", from, why);
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(&self.bucket)
            .key(to)
            .send()
            .await
            .map_err(|e| fail(DisplayErrorContext(e).to_string()))?;
        let upload_id = upload
            .upload_id()
            .ok_or_else(|| fail("S3 gave no upload id".into()))?
            .to_string();
        let copied = async {
            let mut parts = Vec::new();
            let mut start = 0;
            let mut number = 1;
            while start < src.size {
                let end = (start + self.copy_part).min(src.size) - 1;
                let part = self
                    .client
                    .upload_part_copy()
                    .bucket(&self.bucket)
                    .key(to)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .copy_source(copy_source)
                    .copy_source_range(format!("bytes={start}-{end}"))
                    .copy_source_if_match(format!("\"{}\"", src.etag))
                    .send()
                    .await
                    .map_err(|e| fail(DisplayErrorContext(e).to_string()))?;
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
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(to)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts))
                        .build(),
                )
                .send()
                .await
                .map_err(|e| fail(DisplayErrorContext(e).to_string()))?;
            Ok(())
        }
        .await;
        if copied.is_err() {
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(to)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        copied
    }
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

#[cfg(test)]
mod tests {
    #[test]
    fn copy_source_is_encoded() {
        assert_eq!(
            super::percent_encode_key("a b/ü+c.json"),
            "a%20b/%C3%BC%2Bc.json"
        );
    }
}
