"""What the templates' security fixes rely on, refused where AWS refuses it:
bucket policies and access logging through CloudFormation (moto_plugin/s3_cloudformation.py),
reserved concurrency within the account's (moto_plugin/lambda_concurrency.py)."""

import io
import json
import zipfile

from conftest import deploy

LOGS_POLICY = """
  LogsPolicy:
    Type: AWS::S3::BucketPolicy
    Properties:
      Bucket: {Ref: Logs}
      PolicyDocument:
        Version: "2012-10-17"
        Statement:
          # A statement for everyone first, as our TLS-only Deny (moto's check broke on it).
          - Effect: Deny
            Principal: "*"
            Action: "s3:*"
            Resource: {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Logs}/*"}
            Condition: {Bool: {aws:SecureTransport: "false"}}
          - Effect: Allow
            Principal: {Service: logging.s3.amazonaws.com}
            Action: s3:PutObject
            Resource: {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Logs}/*"}
"""

DATA = """
  Data:
    Type: AWS::S3::Bucket
    DependsOn: %s
    Properties:
      LoggingConfiguration:
        DestinationBucketName: {Ref: Logs}
        LogFilePrefix: data/
"""


def test_a_bucket_logs_to_a_destination_whose_policy_lets_s3_write(client):
    s3, cfn = client("s3"), client("cloudformation")
    template = "Resources:\n  Logs:\n    Type: AWS::S3::Bucket\n" + LOGS_POLICY + DATA % "LogsPolicy"
    stack = deploy(cfn, "logging-ok", template)
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    resources = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                 for r in cfn.describe_stack_resources(StackName="logging-ok")["StackResources"]}
    policy = json.loads(s3.get_bucket_policy(Bucket=resources["Logs"])["Policy"])
    assert policy["Statement"][1]["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    logging = s3.get_bucket_logging(Bucket=resources["Data"])["LoggingEnabled"]
    assert logging == {"TargetBucket": resources["Logs"], "TargetPrefix": "data/"}
    # S3 wrote an access log of those calls: CloudFormation cannot delete the destination
    # while it holds it, and the stack ends DELETE_FAILED, naming the bucket.
    assert s3.list_objects_v2(Bucket=resources["Logs"])["KeyCount"] > 0
    cfn.delete_stack(StackName="logging-ok")
    failed = cfn.describe_stacks(StackName="logging-ok")["Stacks"][0]
    assert failed["StackStatus"] == "DELETE_FAILED", failed
    events = cfn.describe_stack_events(StackName="logging-ok")["StackEvents"]
    assert any(e["LogicalResourceId"] == "Logs" and e["ResourceStatus"] == "DELETE_FAILED"
               and "not empty" in e["ResourceStatusReason"] for e in events), events[:4]
    # Emptied, it goes.
    for item in s3.list_objects_v2(Bucket=resources["Logs"])["Contents"]:
        s3.delete_object(Bucket=resources["Logs"], Key=item["Key"])
    cfn.delete_stack(StackName="logging-ok")
    assert resources["Logs"] not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_logging_to_a_destination_s3_may_not_write_to_fails_the_stack(client):
    s3, cfn = client("s3"), client("cloudformation")
    before = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    template = "Resources:\n  Logs:\n    Type: AWS::S3::Bucket\n" + DATA % "Logs"
    stack = deploy(cfn, "logging-refused", template)
    assert stack["StackStatus"] in ("ROLLBACK_COMPLETE", "CREATE_FAILED"), stack
    events = cfn.describe_stack_events(StackName="logging-refused")["StackEvents"]
    reasons = [e.get("ResourceStatusReason", "") for e in events if e["LogicalResourceId"] == "Data"]
    assert any("permissions to the logging service" in r for r in reasons), reasons
    # No half-made data bucket is left.
    after = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert not [b for b in after - before if "data" in b.lower()], after - before


def _function_template(name: str, reserved: int) -> str:
    return f"""
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {{Service: lambda.amazonaws.com}}
            Action: sts:AssumeRole
  Function:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: {name}
      Runtime: provided.al2023
      Handler: bootstrap
      Role: {{"Fn::GetAtt": [Role, Arn]}}
      Code: {{S3Bucket: code, S3Key: fn.zip}}
      ReservedConcurrentExecutions: {reserved}
"""


def test_reserved_concurrency_leaves_100_unreserved(client):
    s3, cfn, lam = client("s3"), client("cloudformation"), client("lambda")
    s3.create_bucket(Bucket="code")
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("bootstrap", "")
    s3.put_object(Bucket="code", Key="fn.zip", Body=archive.getvalue())

    settings = lam.get_account_settings()["AccountLimit"]
    assert settings["ConcurrentExecutions"] == 1000
    unreserved = settings["UnreservedConcurrentExecutions"]

    # Up to the unreserved concurrency minus 100: accepted, and counted.
    deploy(cfn, "reserves-most", _function_template("reserves-most", unreserved - 100 - 5))
    assert lam.get_function_concurrency(FunctionName="reserves-most")[
        "ReservedConcurrentExecutions"] == unreserved - 105
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 105

    # Six more would leave 99: refused, as AWS refuses it.
    stack = deploy(cfn, "reserves-six", _function_template("reserves-six", 6))
    assert stack["StackStatus"] in ("ROLLBACK_COMPLETE", "CREATE_FAILED"), stack
    events = cfn.describe_stack_events(StackName="reserves-six")["StackEvents"]
    reasons = [e.get("ResourceStatusReason", "") for e in events if e["LogicalResourceId"] == "Function"]
    assert any("below its minimum value of [100]" in r for r in reasons), reasons

    # Five fit.
    assert deploy(cfn, "reserves-five", _function_template("reserves-five", 5))[
        "StackStatus"] == "CREATE_COMPLETE"
