"""S3 authorization as strict as S3's, while IAM is enforced (iam.py).

- A missing key: S3 answers HeadObject and GetObject with 404 (NoSuchKey) only when the
  caller may s3:ListBucket on the bucket, otherwise with 403 AccessDenied (S3 API
  Reference, HeadObject and GetObject, "Permissions"). moto answered 404 to anyone allowed
  s3:GetObject on the key, which hid a role without ListBucket: on AWS its HeadObject of a
  missing destination is refused, so every file move failed there and passed here.
- CopyObject and UploadPartCopy read their source: S3 checks s3:GetObject (or
  s3:GetObjectVersion for a versionId) on it, and a missing source is NoSuchKey only with
  s3:ListBucket on the source bucket. moto checked only s3:PutObject on the destination.

Speed only, same answers: a copy of a single-part object takes the source's ETag (moto
hashed the same bytes again: 10 ms for each 6.4 MB file the demo moves).

A server without enforcement behaves as moto does (and its request counter is untouched).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from moto.s3.exceptions import MissingKey, S3AccessDeniedError
from moto.s3.models import FakeKey, S3Backend
from moto.s3.responses import S3Response

from .iam import enforcing


def _allowed(response: S3Response, action: str, bucket: str, key: str | None = None) -> bool:
    """Whether the caller may `s3:<action>` on the bucket (or the key in it)."""
    saved = response.data.get("Action")
    response.data["Action"] = action
    try:
        response._authenticate_and_authorize_s3_action(bucket_name=bucket, key_name=key)
        return True
    except S3AccessDeniedError:  # BucketAccessDeniedError is one too
        return False
    finally:
        response.data["Action"] = saved


def _may_list(response: S3Response, bucket: str) -> bool:
    return not enforcing() or _allowed(response, "ListBucket", bucket)


def _head_object(original):
    def head_object(self: S3Response, bucket_name: str, query: Any, key_name: str, headers: Any):
        status, response_headers, body = original(self, bucket_name, query, key_name, headers)
        if (
            int(status) == 404
            and "x-amz-delete-marker" not in response_headers
            and not _may_list(self, bucket_name)
        ):
            return 403, {}, ""
        return status, response_headers, body

    return head_object


def _get_key(original):
    def get_key(self: S3Response, *args: Any, **kwargs: Any):
        try:
            return original(self, *args, **kwargs)
        except MissingKey:
            if not _may_list(self, self.bucket_name):
                raise S3AccessDeniedError() from None
            raise

    return get_key


def _copy_source(response: S3Response) -> tuple[str, str, str | None] | None:
    source = response.headers.get("x-amz-copy-source")
    if isinstance(source, bytes):
        source = source.decode("utf-8")
    if not source:
        return None
    parsed = urlparse(source)
    bucket, _, key = unquote(parsed.path).lstrip("/").partition("/")
    version = parse_qs(parsed.query).get("versionId", [None])[0]
    return bucket, key, version


def _check_copy_source(response: S3Response) -> None:
    if not enforcing():
        return
    source = _copy_source(response)
    if source is None:
        return
    bucket, key, version = source
    if not _allowed(response, "GetObjectVersion" if version else "GetObject", bucket, key):
        raise S3AccessDeniedError()
    try:
        found = response.backend.get_object(bucket, key, version_id=version)
    except Exception:  # noqa: BLE001 - a missing bucket: moto's own answer follows
        return
    if found is None and not _may_list(response, bucket):
        raise S3AccessDeniedError()


def _checking_source(original):
    def copy(self: S3Response, *args: Any, **kwargs: Any):
        _check_copy_source(self)
        return original(self, *args, **kwargs)

    return copy


def _keeping_etag(original):
    def copy_object(self: S3Backend, src_key: FakeKey, dest_bucket_name: str,
                    dest_key_name: str, *args: Any, **kwargs: Any):
        result = original(self, src_key, dest_bucket_name, dest_key_name, *args, **kwargs)
        # The MD5 of the same bytes; a multipart source's ETag is not its bytes' MD5.
        if not src_key.multipart and src_key._etag:
            copied = self.get_bucket(dest_bucket_name).keys.get(dest_key_name)
            if copied is not None and copied._etag is None and copied.size == src_key.size:
                copied._etag = src_key._etag
        return result

    return copy_object


def install() -> None:
    S3Response.head_object = _head_object(S3Response.head_object)
    S3Response._get_key = _get_key(S3Response._get_key)
    S3Response.copy_object = _checking_source(S3Response.copy_object)
    S3Response.upload_part_copy = _checking_source(S3Response.upload_part_copy)
    S3Backend.copy_object = _keeping_etag(S3Backend.copy_object)
