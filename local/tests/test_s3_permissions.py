"""S3 as strict as S3 (moto_plugin/s3.py), on a server enforcing IAM.

S3 API Reference, HeadObject and GetObject, "Permissions": a missing key is 404 (NoSuchKey)
for a caller that may s3:ListBucket on the bucket, 403 AccessDenied for one that may not.
CopyObject needs s3:GetObject on its source as well as s3:PutObject on its destination.
This is the bug moto hid: postprocess without ListBucket had every HeadObject of a missing
destination refused on AWS, and answered 404 here.
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError
from conftest import aws_client

BUCKET = "data-bucket"
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "sts:AssumeRole",
    "Principal": {"AWS": "arn:aws:iam::123456789012:user/admin"}}]})


def role_s3(url: str, name: str, statements: list[dict]):
    """An S3 client with the credentials of a new role allowed just `statements`."""
    iam = aws_client(url, "iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))
    credentials = aws_client(url, "sts").assume_role(
        RoleArn=f"arn:aws:iam::123456789012:role/{name}", RoleSessionName="session")["Credentials"]
    return aws_client(url, "s3", key=credentials["AccessKeyId"],
                      secret=credentials["SecretAccessKey"], token=credentials["SessionToken"])


def get(prefix: str) -> dict:
    return {"Effect": "Allow", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/{prefix}*"}


LIST = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"}


def status(call) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


@pytest.fixture
def bucket(moto_auth_url):
    s3 = aws_client(moto_auth_url, "s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="pending/a", Body=b"A")
    s3.put_object(Bucket=BUCKET, Key="other/b", Body=b"B")
    return moto_auth_url


def test_a_missing_key_is_403_without_list_bucket_and_404_with_it(bucket):
    get_only = role_s3(bucket, "get-only", [get("pending/")])
    get_and_list = role_s3(bucket, "get-and-list", [get("pending/"), LIST])

    for s3 in (get_only, get_and_list):
        assert s3.head_object(Bucket=BUCKET, Key="pending/a")["ContentLength"] == 1
        assert s3.get_object(Bucket=BUCKET, Key="pending/a")["Body"].read() == b"A"
        # Not allowed to read it at all: 403 whether it exists or not.
        assert status(lambda: s3.head_object(Bucket=BUCKET, Key="other/b"))[0] == 403
        assert status(lambda: s3.get_object(Bucket=BUCKET, Key="other/missing")) == (
            403, "AccessDenied")

    assert status(lambda: get_only.head_object(Bucket=BUCKET, Key="pending/missing"))[0] == 403
    assert status(lambda: get_only.get_object(Bucket=BUCKET, Key="pending/missing")) == (
        403, "AccessDenied")
    assert status(lambda: get_and_list.head_object(Bucket=BUCKET, Key="pending/missing"))[0] == 404
    assert status(lambda: get_and_list.get_object(Bucket=BUCKET, Key="pending/missing")) == (
        404, "NoSuchKey")
    # The administrator may list everything.
    admin = aws_client(bucket, "s3")
    assert status(lambda: admin.head_object(Bucket=BUCKET, Key="pending/missing"))[0] == 404


def test_copy_object_needs_get_object_on_its_source(bucket):
    put_done = {"Effect": "Allow", "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{BUCKET}/done/*"}
    put_only = role_s3(bucket, "put-only", [put_done])
    mover = role_s3(bucket, "mover", [put_done, get("pending/")])
    mover_with_list = role_s3(bucket, "mover-with-list", [put_done, get("pending/"), LIST])

    def copy(s3, source):
        return s3.copy_object(Bucket=BUCKET, Key="done/x",
                              CopySource={"Bucket": BUCKET, "Key": source})

    assert status(lambda: copy(put_only, "pending/a")) == (403, "AccessDenied")
    assert status(lambda: copy(mover, "other/b")) == (403, "AccessDenied")
    copy(mover, "pending/a")
    assert aws_client(bucket, "s3").get_object(Bucket=BUCKET, Key="done/x")["Body"].read() == b"A"
    # A missing source: NoSuchKey only with ListBucket on the source bucket.
    assert status(lambda: copy(mover, "pending/missing")) == (403, "AccessDenied")
    assert status(lambda: copy(mover_with_list, "pending/missing"))[1] == "NoSuchKey"
    # Put is still checked on the destination.
    with pytest.raises(ClientError):
        mover.copy_object(Bucket=BUCKET, Key="elsewhere/x",
                          CopySource={"Bucket": BUCKET, "Key": "pending/a"})


def test_without_enforcement_s3_answers_as_moto_does(client):
    # The plugin's other tests run on a server without enforcement: any key, 404s as before.
    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET)
    assert status(lambda: s3.head_object(Bucket=BUCKET, Key="missing"))[0] == 404
    assert status(lambda: s3.get_object(Bucket=BUCKET, Key="missing")) == (404, "NoSuchKey")


def test_a_tls_only_bucket_policy_denies_nothing_over_the_stand_ins_endpoint(moto_auth_url):
    """Our buckets deny every call made without TLS. The stand-in's HTTP endpoint stands for
    AWS's HTTPS one, so that Deny must not apply to it; a Deny without the condition does."""
    s3 = aws_client(moto_auth_url, "s3")
    s3.create_bucket(Bucket=BUCKET)
    resources = [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
    tls_only = {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*",
                "Action": "s3:*", "Resource": resources,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [tls_only]}))
    s3.put_object(Bucket=BUCKET, Key="a.json", Body=b"{}")
    assert s3.get_object(Bucket=BUCKET, Key="a.json")["Body"].read() == b"{}"

    deny_reads = {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                  "Resource": f"arn:aws:s3:::{BUCKET}/*"}
    s3.put_bucket_policy(Bucket=BUCKET, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": [tls_only, deny_reads]}))
    with pytest.raises(ClientError) as denied:
        s3.get_object(Bucket=BUCKET, Key="a.json")
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
