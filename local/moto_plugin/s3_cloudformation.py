"""S3 through CloudFormation: bucket policies applied, and a bucket's access logging.

moto 5.2.5 has no AWS::S3::BucketPolicy (a stack "created" it and applied nothing), and its
AWS::S3::Bucket ignores LoggingConfiguration. AWS applies both, and refuses logging to a
destination bucket that does not exist, is in another Region, or whose policy does not let
S3's logging service (logging.s3.amazonaws.com) write (S3 API reference, PutBucketLogging;
S3 user guide, "Permissions for log delivery"). moto's own PutBucketLogging checks exactly
these, so the bucket's CloudFormation handler goes through it.

A bucket that still holds objects is not deleted with its stack: the stack ends
DELETE_FAILED (see cloudformation.py), as on AWS.

moto does not evaluate bucket policies on requests (its IAM enforcement reads identity
policies only), so the TLS-only Deny statements of our buckets do not refuse the stand-in's
plain-HTTP endpoint.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel
from moto.s3 import models as s3_models
from moto.s3.exceptions import BucketNotEmpty
from moto.s3.models import FakeBucket, s3_backends
from moto.utilities.utils import get_partition

from .cfn_model import CfnModel, Request
from .util import name_of


def _backend(account_id: str, region_name: str) -> Any:
    return s3_backends[account_id][get_partition(region_name)]


def _apply_logging(backend: Any, bucket: str, properties: dict[str, Any]) -> None:
    config = properties.get("LoggingConfiguration")
    if not config:
        backend.put_bucket_logging(bucket, {})
        return
    logging = {"TargetBucket": name_of(config.get("DestinationBucketName"))}
    if config.get("LogFilePrefix"):
        logging["TargetPrefix"] = config["LogFilePrefix"]
    backend.put_bucket_logging(bucket, logging)


_moto_create = FakeBucket.create_from_cloudformation_json.__func__
_moto_update = FakeBucket.update_from_cloudformation_json.__func__


def create_bucket(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                  region_name: str, **kwargs: Any) -> FakeBucket:
    bucket = _moto_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
    properties = cloudformation_json.get("Properties", {})
    if properties.get("LoggingConfiguration"):
        backend = _backend(account_id, region_name)
        try:
            _apply_logging(backend, bucket.name, properties)
        except Exception:
            # The resource failed: leave no bucket behind, as CloudFormation would not.
            backend.delete_bucket(bucket.name)
            raise
    return bucket


def update_bucket(cls: Any, original_resource: Any, new_resource_name: str,
                  cloudformation_json: Any, account_id: str, region_name: str) -> FakeBucket:
    bucket = _moto_update(cls, original_resource, new_resource_name, cloudformation_json,
                          account_id, region_name)
    _apply_logging(_backend(account_id, region_name), bucket.name,
                   cloudformation_json.get("Properties", {}))
    return bucket


def delete_bucket(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                  region_name: str) -> None:
    """CloudFormation does not delete a bucket that holds objects: the resource fails with
    BucketNotEmpty (moto's handler skipped it and reported the stack deleted)."""
    backend = _backend(account_id, region_name)
    if resource_name in backend.buckets and backend.buckets[resource_name].keys:
        raise BucketNotEmpty(resource_name)
    backend.delete_bucket(resource_name)


class CfnBucketPolicy(CfnModel, CloudFormationModel):
    """AWS::S3::BucketPolicy: the policy document set on its bucket, removed with it."""

    __module__ = "moto.s3.models"
    TYPE = "AWS::S3::BucketPolicy"
    PHYSICAL_ID = "bucket"

    def __init__(self, account_id: str, region_name: str, bucket: str):
        super().__init__(account_id, region_name)
        self.bucket = bucket

    @classmethod
    def create(cls, request: Request) -> CfnBucketPolicy:
        properties = request.properties
        bucket = name_of(properties["Bucket"])
        document = properties["PolicyDocument"]
        if not isinstance(document, str):
            document = json.dumps(document)
        _backend(request.account_id, request.region_name).put_bucket_policy(
            bucket, document.encode()
        )
        return cls(request.account_id, request.region_name, bucket)

    @classmethod
    def update(cls, original: CfnBucketPolicy, request: Request) -> CfnBucketPolicy:
        # The old policy is removed first: the new one may be on the same bucket.
        original.delete(request.account_id, request.region_name)
        return cls.create(request)

    @classmethod
    def delete_named(cls, request: Request) -> None:
        bucket = name_of(request.properties["Bucket"])
        cls(request.account_id, request.region_name, bucket).delete(
            request.account_id, request.region_name
        )

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _backend(account_id, region_name)
        if self.bucket in backend.buckets:
            backend.delete_bucket_policy(self.bucket)


def _log_permissions_enabled_policy(target_bucket: FakeBucket, target_prefix: str | None) -> bool:
    """Whether the destination's policy lets S3's logging service put objects where the logs
    go. moto's own check failed (AttributeError, the stack saw "'str' object has no attribute
    'get'") on any statement whose Principal is "*", such as our TLS-only Deny, and took
    Action and Resource only as single strings."""
    if not target_bucket.policy:
        return False
    arn = f"arn:{target_bucket.partition}:s3:::{target_bucket.name}"
    wanted = {f"{arn}/{target_prefix or ''}*", f"{arn}/*", arn}
    for statement in json.loads(target_bucket.policy.decode()).get("Statement", []):
        principal = statement.get("Principal")
        if not isinstance(principal, dict) or principal.get("Service") != "logging.s3.amazonaws.com":
            continue
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not {"s3:PutObject", "s3:*", "*"} & set(actions):
            continue
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if wanted & set(resources):
            return True
    return False


def install() -> None:
    FakeBucket._log_permissions_enabled_policy = staticmethod(_log_permissions_enabled_policy)
    FakeBucket.create_from_cloudformation_json = classmethod(create_bucket)
    FakeBucket.update_from_cloudformation_json = classmethod(update_bucket)
    FakeBucket.delete_from_cloudformation_json = classmethod(delete_bucket)
    s3_models.CfnBucketPolicy = CfnBucketPolicy
