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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingFile {
    pub key: String,
    pub etag: String,
    pub size: i64,
}

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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveOutcome {
    Moved,
    /// The source is gone and the destination exists: an earlier attempt moved it.
    AlreadyMoved,
}

impl S3Store {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        S3Store {
            client,
            bucket: bucket.into(),
        }
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

    /// Copy, verify the copy's size, then delete the source. Safe to repeat: a source that is
    /// gone with the destination present counts as moved.
    pub async fn move_object(&self, from: &str, to: &str) -> Result<MoveOutcome> {
        let Some(src) = self.head(from).await? else {
            return match self.head(to).await? {
                Some(_) => Ok(MoveOutcome::AlreadyMoved),
                None => Err(Error::NotFound {
                    bucket: self.bucket.clone(),
                    key: from.to_string(),
                }),
            };
        };
        self.client
            .copy_object()
            .bucket(&self.bucket)
            .key(to)
            .copy_source(format!("{}/{}", self.bucket, percent_encode_key(from)))
            .copy_source_if_match(format!("\"{}\"", src.etag))
            .send()
            .await
            .map_err(|e| self.fail("copy", from, DisplayErrorContext(e)))?;
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
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(from)
            .send()
            .await
            .map_err(|e| self.fail("delete", from, DisplayErrorContext(e)))?;
        Ok(MoveOutcome::Moved)
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
