"""IAM enforced for every caller, as on AWS (moto_plugin/iam.py), on a server started as
local/up.sh starts the stand-in (INITIAL_NO_AUTH_ACTION_COUNT=0).

The administrator (`test`/`test`) may call everything `deploy` calls; an unknown key, a
wrong secret and an unsigned request are refused. A role made by CloudFormation gets its
inline and managed policies, and its credentials (as a service gets them, or through
AssumeRole) can do exactly what those allow, checked with the IAM action and resource ARN
AWS uses for each call; a service cannot use a role that does not trust it.
"""

from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.request
import uuid
import zipfile

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from conftest import PRIMARY, aws_client, deploy

from moto_plugin.cloudwatch import decode, encode

ACCOUNT = "123456789012"


def moto_api(url: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request) as response:
            text = response.read()
            return response.status, json.loads(text) if text else {}
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def error_code(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


def refused(call) -> bool:
    return error_code(call) in (
        "AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
    )


def service_credentials(url: str, role_arn: str, service: str = "lambda.amazonaws.com"):
    status, body = moto_api(url, "/moto-api/plugin/iam/service-credentials",
                            {"role_arn": role_arn, "service": service})
    assert status == 200, body
    return body


def as_role(url: str, credentials: dict):
    def make(service: str, region: str = PRIMARY, **config):
        return aws_client(url, service, region, credentials["AccessKeyId"],
                          credentials["SecretAccessKey"], credentials["SessionToken"], **config)

    return make


def cbor_call(url: str, operation: str, payload: dict, key: str, secret: str,
              token: str | None = None, region: str = PRIMARY) -> tuple[int, dict]:
    """CloudWatch over rpc-v2-cbor, signed as the AWS SDK for Rust signs it."""
    request = AWSRequest(
        method="POST",
        url=f"{url}/service/GraniteServiceVersion20100801/operation/{operation}",
        data=encode(payload),
        headers={"Content-Type": "application/cbor", "Accept": "application/cbor",
                 "smithy-protocol": "rpc-v2-cbor"},
    )
    SigV4Auth(Credentials(key, secret, token), "monitoring", region).add_auth(request)
    prepared = request.prepare()
    http = urllib.request.Request(prepared.url, data=prepared.body, method="POST",
                                  headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(http) as response:
            return response.status, decode(response.read())
    except urllib.error.HTTPError as error:
        return error.code, decode(error.read())


# --- the administrator and strangers ------------------------------------------------------


def test_the_administrator_may_call_every_service_deploy_uses(moto_auth_url):
    def admin(service, region=PRIMARY):
        return aws_client(moto_auth_url, service, region)

    assert admin("sts").get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/admin"
    s3 = admin("s3")
    s3.create_bucket(Bucket="admin-bucket")
    s3.put_object(Bucket="admin-bucket", Key="k", Body=b"x")
    assert s3.get_object(Bucket="admin-bucket", Key="k")["Body"].read() == b"x"
    assert s3.head_object(Bucket="admin-bucket", Key="k")["ContentLength"] == 1
    s3.copy_object(Bucket="admin-bucket", Key="k2",
                   CopySource={"Bucket": "admin-bucket", "Key": "k"})
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="admin-bucket")["Contents"]] == ["k", "k2"]
    assert error_code(lambda: s3.head_object(Bucket="admin-bucket", Key="missing")) == "404"
    s3.delete_objects(Bucket="admin-bucket", Delete={"Objects": [{"Key": "k"}, {"Key": "k2"}]})
    admin("iam").list_roles()
    admin("cloudformation").list_stacks()
    assert admin("ec2").describe_vpcs()["Vpcs"]
    admin("ec2").describe_subnets()
    admin("ec2").describe_security_groups()
    admin("rds").describe_db_clusters()
    admin("rds").describe_global_clusters()
    admin("rds").describe_db_engine_versions(Engine="aurora-mysql")
    admin("secretsmanager").create_secret(Name="s", SecretString="v")
    assert admin("secretsmanager").get_secret_value(SecretId="s")["SecretString"] == "v"
    admin("lambda").list_functions()
    assert error_code(lambda: admin("lambda").get_function(FunctionName="nope")) == (
        "ResourceNotFoundException"
    )
    admin("stepfunctions").list_state_machines()
    admin("logs").describe_log_groups()
    admin("kms").list_keys()
    cloudwatch = admin("cloudwatch")
    cloudwatch.put_metric_data(Namespace="N", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert cloudwatch.list_metrics(Namespace="N")["Metrics"]
    status, answer = cbor_call(moto_auth_url, "ListMetrics", {"Namespace": "N"}, "test", "test")
    assert status == 200 and answer["Metrics"], answer


def test_unknown_keys_wrong_secrets_and_unsigned_requests_are_refused(moto_auth_url):
    def stranger(service, secret="x", key="AKIAUNKNOWN000000000"):
        return aws_client(moto_auth_url, service, key=key, secret=secret)

    assert error_code(lambda: stranger("s3").list_buckets()) == "InvalidAccessKeyId"
    assert error_code(lambda: stranger("sts").get_caller_identity()) == "InvalidClientTokenId"
    assert error_code(lambda: stranger("cloudformation").list_stacks()) == "InvalidClientTokenId"
    assert error_code(lambda: stranger("lambda").list_functions()) == "UnrecognizedClientException"
    assert error_code(lambda: stranger("secretsmanager").list_secrets()) == (
        "UnrecognizedClientException"
    )
    assert error_code(lambda: stranger("ec2").describe_vpcs()) == "AuthFailure"
    # The administrator's key with another secret.
    assert error_code(lambda: stranger("rds", "wrong", "test").describe_db_clusters()) == (
        "SignatureDoesNotMatch"
    )
    assert error_code(lambda: stranger("stepfunctions", "wrong", "test").list_state_machines()) == (
        "InvalidSignatureException"
    )
    status, answer = cbor_call(moto_auth_url, "ListMetrics", {}, "test", "wrong")
    assert (status, answer["__type"]) == (403, "InvalidSignatureException")
    # Unsigned: refused, not a server error.
    for method, path, data, headers in [
        ("GET", "/", None, {}),
        ("POST", "/", b"Action=GetCallerIdentity&Version=2011-06-15",
         {"Content-Type": "application/x-www-form-urlencoded"}),
        ("POST", "/2015-03-31/functions/f/invocations", b"{}", {}),
        ("POST", "/", b"{}", {"X-Amz-Target": "secretsmanager.ListSecrets",
                              "Content-Type": "application/x-amz-json-1.1"}),
    ]:
        request = urllib.request.Request(f"{moto_auth_url}{path}", data=data, method=method,
                                         headers=headers)
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request)
        assert caught.value.code == 403, (path, caught.value.read())


# --- a role made by CloudFormation ----------------------------------------------------------

ROLE_STACK = """
Parameters:
  CodeBucket: {Type: String}
Resources:
  Data:
    Type: AWS::S3::Bucket
    Properties: {BucketName: data-bucket}
  Secret:
    Type: AWS::SecretsManager::Secret
    Properties: {Name: app-master, SecretString: '{"password": "p"}'}
  Other:
    Type: AWS::SecretsManager::Secret
    Properties: {Name: other-secret, SecretString: x}
  Worker:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: app-worker
      Runtime: provided.al2023
      Handler: bootstrap
      Role: !GetAtt FunctionRole.Arn
      Code: {S3Bucket: !Ref CodeBucket, S3Key: code.zip}
  Stranger:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: app-stranger
      Runtime: provided.al2023
      Handler: bootstrap
      Role: !GetAtt FunctionRole.Arn
      Code: {S3Bucket: !Ref CodeBucket, S3Key: code.zip}
  FunctionRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {Service: lambda.amazonaws.com}
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - !Sub arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole
      Policies:
        - PolicyName: app
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Sid: ReadPending
                Effect: Allow
                Action: s3:GetObject
                Resource: !Sub arn:${AWS::Partition}:s3:::${Data}/pending/*
              - Sid: List
                Effect: Allow
                Action: s3:ListBucket
                Resource: !Sub arn:${AWS::Partition}:s3:::${Data}
              - Sid: ReadSecret
                Effect: Allow
                Action: secretsmanager:GetSecretValue
                Resource: !Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:app-master-*
              - Sid: ReadCluster
                Effect: Allow
                Action: [rds:DescribeDBClusters, rds:DescribeGlobalClusters]
                Resource:
                  - !Sub arn:${AWS::Partition}:rds:${AWS::Region}:${AWS::AccountId}:cluster:app-cluster
                  - !Sub arn:${AWS::Partition}:rds::${AWS::AccountId}:global-cluster:app-global
              - Sid: InvokeWorker
                Effect: Allow
                Action: lambda:InvokeFunction
                Resource:
                  - !GetAtt Worker.Arn
                  - !Sub ${Worker.Arn}:*
              - Sid: Metrics
                Effect: Allow
                Action: cloudwatch:PutMetricData
                Resource: "*"
              - Sid: Executions
                Effect: Allow
                Action: [states:StartExecution, states:DescribeExecution]
                Resource:
                  - !Sub arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:app-machine
                  - !Sub arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:app-machine:*
Outputs:
  RoleArn: {Value: !GetAtt Role.Arn}
  RoleName: {Value: !Ref Role}
"""

MACHINE = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


def code_bucket(url: str) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bootstrap", "#!/bin/sh\n")
    s3 = aws_client(url, "s3")
    s3.create_bucket(Bucket="code-bucket")
    s3.put_object(Bucket="code-bucket", Key="code.zip", Body=buffer.getvalue())
    return "code-bucket"


@pytest.fixture
def role_stack(moto_auth_url):
    # Functions land in the backend the config names when they are created.
    moto_api(moto_auth_url, "/moto-api/config", {
        "lambda": {"use_docker": False}, "stepfunctions": {"execute_state_machine": True}})
    cfn = aws_client(moto_auth_url, "cloudformation")
    stack = deploy(cfn, "roles", ROLE_STACK, {"CodeBucket": code_bucket(moto_auth_url)})
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    s3 = aws_client(moto_auth_url, "s3")
    s3.put_object(Bucket="data-bucket", Key="pending/a", Body=b"A")
    s3.put_object(Bucket="data-bucket", Key="other/b", Body=b"B")
    return out


def test_a_cloudformation_role_can_do_what_its_policies_allow_and_nothing_else(
    moto_auth_url, role_stack
):
    iam = aws_client(moto_auth_url, "iam")
    name = role_stack["RoleName"]
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["app"]
    assert iam.get_role_policy(RoleName=name, PolicyName="app")["PolicyDocument"]["Statement"]
    assert [p["PolicyName"] for p in iam.list_attached_role_policies(RoleName=name)[
        "AttachedPolicies"]] == ["AWSLambdaVPCAccessExecutionRole"]

    credentials = service_credentials(moto_auth_url, role_stack["RoleArn"])
    role = as_role(moto_auth_url, credentials)
    assert role("sts").get_caller_identity()["Arn"].startswith(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/")

    # S3: objects under pending/ only; the bucket may be listed.
    s3 = role("s3")
    assert s3.get_object(Bucket="data-bucket", Key="pending/a")["Body"].read() == b"A"
    assert s3.list_objects_v2(Bucket="data-bucket")["KeyCount"] == 2
    assert refused(lambda: s3.get_object(Bucket="data-bucket", Key="other/b"))
    assert refused(lambda: s3.put_object(Bucket="data-bucket", Key="pending/c", Body=b"c"))
    assert refused(lambda: s3.list_objects_v2(Bucket="code-bucket"))
    assert refused(lambda: s3.list_buckets())

    # Secrets Manager: the secret by name or ARN, matched by secret:app-master-*.
    secrets = role("secretsmanager")
    arn = aws_client(moto_auth_url, "secretsmanager").describe_secret(SecretId="app-master")["ARN"]
    assert json.loads(secrets.get_secret_value(SecretId="app-master")["SecretString"]) == {
        "password": "p"}
    assert secrets.get_secret_value(SecretId=arn)["ARN"] == arn
    assert error_code(lambda: secrets.get_secret_value(SecretId="other-secret")) == (
        "AccessDeniedException")
    assert error_code(lambda: secrets.get_secret_value(SecretId="nope")) == (
        "AccessDeniedException")
    assert refused(lambda: secrets.describe_secret(SecretId="app-master"))

    # RDS: the named cluster and global cluster (authorized, then not found); others refused.
    rds = role("rds")
    assert error_code(lambda: rds.describe_db_clusters(DBClusterIdentifier="app-cluster")) == (
        "DBClusterNotFoundFault")
    assert error_code(lambda: rds.describe_global_clusters(
        GlobalClusterIdentifier="app-global")) == "GlobalClusterNotFoundFault"
    assert refused(lambda: rds.describe_db_clusters(DBClusterIdentifier="other"))
    assert refused(lambda: rds.describe_db_clusters())
    assert refused(lambda: rds.describe_global_clusters(GlobalClusterIdentifier="other"))
    # ... the cluster's ARN is Regional: the same identifier in another Region is another one.
    assert refused(lambda: role("rds", "us-east-2").describe_db_clusters(
        DBClusterIdentifier="app-cluster"))

    # Lambda: lambda:InvokeFunction on the worker, qualified or not.
    moto_api(moto_auth_url, "/moto-api/static/lambda-simple/response",
             {"region": PRIMARY, "results": ['{"ok": 1}', '{"ok": 2}', '{"ok": 3}']})
    lam = role("lambda")
    assert json.load(lam.invoke(FunctionName="app-worker")["Payload"]) == {"ok": 1}
    assert json.load(lam.invoke(FunctionName="app-worker", Qualifier="$LATEST")["Payload"]) == {
        "ok": 2}
    worker_arn = aws_client(moto_auth_url, "lambda").get_function(
        FunctionName="app-worker")["Configuration"]["FunctionArn"]
    assert json.load(lam.invoke(FunctionName=worker_arn)["Payload"]) == {"ok": 3}
    assert error_code(lambda: lam.invoke(FunctionName="app-stranger")) == "AccessDeniedException"
    assert refused(lambda: lam.list_functions())

    # CloudWatch is checked as cloudwatch:*, over the query, JSON and CBOR protocols.
    metric = {"Namespace": "App", "MetricData": [{"MetricName": "m", "Value": 1.0}]}
    role("cloudwatch").put_metric_data(**metric)
    assert refused(lambda: role("cloudwatch").list_metrics())
    status, _ = cbor_call(moto_auth_url, "PutMetricData", metric, credentials["AccessKeyId"],
                          credentials["SecretAccessKey"], credentials["SessionToken"])
    assert status == 200
    status, answer = cbor_call(moto_auth_url, "ListMetrics", {}, credentials["AccessKeyId"],
                               credentials["SecretAccessKey"], credentials["SessionToken"])
    assert (status, answer["__type"]) == (403, "AccessDeniedException")

    # The managed policy's actions.
    role("logs").create_log_group(logGroupName="/aws/lambda/app-worker")
    role("ec2").describe_network_interfaces()
    assert error_code(lambda: role("ec2").describe_vpcs()) == "UnauthorizedOperation"

    # Step Functions: that state machine and its executions.
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
             "Principal": {"Service": "states.amazonaws.com"}}]}
    machine_role = iam.create_role(RoleName="machine",
                                   AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    admin_sfn = aws_client(moto_auth_url, "stepfunctions")
    machines = {
        name: admin_sfn.create_state_machine(name=name, definition=MACHINE,
                                             roleArn=machine_role)["stateMachineArn"]
        for name in ("app-machine", "other-machine")
    }
    sfn = role("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=machines["app-machine"])["executionArn"]
    assert sfn.describe_execution(executionArn=execution)["status"] in ("RUNNING", "SUCCEEDED")
    assert refused(lambda: sfn.start_execution(stateMachineArn=machines["other-machine"]))
    other = admin_sfn.start_execution(stateMachineArn=machines["other-machine"])["executionArn"]
    assert refused(lambda: sfn.describe_execution(executionArn=other))


def test_a_statement_taken_from_a_role_takes_effect_on_the_next_request(moto_auth_url, role_stack):
    iam = aws_client(moto_auth_url, "iam")
    name = role_stack["RoleName"]
    s3 = as_role(moto_auth_url, service_credentials(moto_auth_url, role_stack["RoleArn"]))("s3")
    assert s3.get_object(Bucket="data-bucket", Key="pending/a")["Body"].read() == b"A"
    document = iam.get_role_policy(RoleName=name, PolicyName="app")["PolicyDocument"]
    narrowed = dict(document, Statement=[
        s for s in document["Statement"] if s.get("Sid") != "ReadPending"])
    iam.put_role_policy(RoleName=name, PolicyName="app", PolicyDocument=json.dumps(narrowed))
    assert refused(lambda: s3.get_object(Bucket="data-bucket", Key="pending/a"))
    iam.put_role_policy(RoleName=name, PolicyName="app", PolicyDocument=json.dumps(document))
    assert s3.get_object(Bucket="data-bucket", Key="pending/a")["Body"].read() == b"A"

    # The same through a stack update: a statement removed from the template, then the
    # managed policy.
    cfn = aws_client(moto_auth_url, "cloudformation")
    template = ROLE_STACK.replace("                Action: s3:GetObject\n",
                                  "                Action: s3:GetObjectTagging\n")
    assert template != ROLE_STACK
    deploy(cfn, "roles", template, {"CodeBucket": "code-bucket"}, change_set_type="UPDATE")
    assert refused(lambda: s3.get_object(Bucket="data-bucket", Key="pending/a"))
    logs = as_role(moto_auth_url, service_credentials(moto_auth_url, role_stack["RoleArn"]))("logs")
    logs.create_log_group(logGroupName="/aws/lambda/app-worker")  # the managed policy's
    managed = (
        "      ManagedPolicyArns:\n        - !Sub arn:${AWS::Partition}:iam::aws:policy/"
        "service-role/AWSLambdaVPCAccessExecutionRole\n"
    )
    assert managed in template
    template = template.replace(managed, "")
    deploy(cfn, "roles", template, {"CodeBucket": "code-bucket"}, change_set_type="UPDATE")
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
    assert error_code(lambda: logs.create_log_group(logGroupName="x")) == "AccessDeniedException"
    # The stack (role with policies, functions) can be deleted.
    cfn.delete_stack(StackName="roles")
    assert name not in [r["RoleName"] for r in iam.list_roles()["Roles"]]


# --- trust -----------------------------------------------------------------------------------


def trust_policy(principal) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}]})


def test_assume_role_follows_the_trust_policy(moto_auth_url):
    iam, sts = aws_client(moto_auth_url, "iam"), aws_client(moto_auth_url, "sts")
    policy = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]})
    arns = {}
    for name, principal in {
        "service": {"Service": "lambda.amazonaws.com"},
        "account": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "admin": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"},
        "someone-else": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/someone"},
        "anyone": "*",
    }.items():
        arns[name] = iam.create_role(
            RoleName=name, AssumeRolePolicyDocument=trust_policy(principal))["Role"]["Arn"]
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=policy)

    def assume(name):
        return sts.assume_role(RoleArn=arns[name], RoleSessionName="session")["Credentials"]

    # A role only a service may assume: refused (AWS: AccessDenied), not a server error.
    assert error_code(lambda: assume("service")) == "AccessDenied"
    assert error_code(lambda: assume("someone-else")) == "AccessDenied"
    for name in ("account", "admin", "anyone"):
        credentials = assume(name)
        s3 = aws_client(moto_auth_url, "s3", key=credentials["AccessKeyId"],
                        secret=credentials["SecretAccessKey"], token=credentials["SessionToken"])
        s3.list_buckets()
        assert refused(lambda: s3.create_bucket(Bucket=f"b-{name}"))
    # The service itself may: what the runtime bridge and the engine do.
    service_credentials(moto_auth_url, arns["service"])
    status, body = moto_api(moto_auth_url, "/moto-api/plugin/iam/service-credentials",
                            {"role_arn": arns["service"], "service": "states.amazonaws.com"})
    assert status == 403 and "does not let states.amazonaws.com" in body["error"]


def test_a_function_role_must_trust_lambda(moto_auth_url):
    moto_api(moto_auth_url, "/moto-api/config", {"lambda": {"use_docker": False}})
    iam, lam = aws_client(moto_auth_url, "iam"), aws_client(moto_auth_url, "lambda")
    states_only = iam.create_role(
        RoleName="states-only",
        AssumeRolePolicyDocument=trust_policy({"Service": "states.amazonaws.com"}))["Role"]["Arn"]
    status, body = moto_api(moto_auth_url, "/moto-api/plugin/iam/service-credentials",
                            {"role_arn": states_only, "service": "lambda.amazonaws.com"})
    assert status == 403, body
    function = dict(FunctionName="f", Runtime="provided.al2023", Handler="bootstrap",
                    Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18})
    with pytest.raises(ClientError) as caught:
        lam.create_function(Role=states_only, **function)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "cannot be assumed by Lambda" in caught.value.response["Error"]["Message"]
    # Through CloudFormation the function fails and the stack rolls back.
    cfn = aws_client(moto_auth_url, "cloudformation")
    stack = deploy(cfn, "bad-function", f"""
Resources:
  Function:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: f
      Runtime: provided.al2023
      Handler: bootstrap
      Role: {states_only}
      Code: {{S3Bucket: {code_bucket(moto_auth_url)}, S3Key: code.zip}}
""")
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE", stack
    # A role that trusts Lambda is accepted; taking Lambda out of its trust policy later
    # makes its invocations fail.
    lambda_role = iam.create_role(
        RoleName="fn", AssumeRolePolicyDocument=trust_policy(
            {"Service": "lambda.amazonaws.com"}))["Role"]["Arn"]
    lam.create_function(Role=lambda_role, **function)
    with pytest.raises(ClientError) as caught:
        lam.update_function_configuration(FunctionName="f", Role=states_only)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"


# --- Step Functions as the state machine's role -------------------------------------------------


def test_state_machine_tasks_call_lambda_as_the_state_machines_role(moto_auth_url):
    moto_api(moto_auth_url, "/moto-api/config", {
        "lambda": {"use_docker": False}, "stepfunctions": {"execute_state_machine": True}})
    iam, lam = aws_client(moto_auth_url, "iam"), aws_client(moto_auth_url, "lambda")
    fn_role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=trust_policy(
        {"Service": "lambda.amazonaws.com"}))["Role"]["Arn"]
    arns = {
        name: lam.create_function(FunctionName=name, Runtime="provided.al2023",
                                  Handler="bootstrap", Role=fn_role,
                                  Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18})["FunctionArn"]
        for name in ("allowed", "forbidden")
    }
    machine_trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]}
    machine_role = iam.create_role(
        RoleName="machine", AssumeRolePolicyDocument=json.dumps(machine_trust))["Role"]["Arn"]
    iam.put_role_policy(RoleName="machine", PolicyName="invoke", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "lambda:InvokeFunction",
            "Resource": [arns["allowed"], arns["allowed"] + ":*"]}]}))
    sfn = aws_client(moto_auth_url, "stepfunctions")

    def machine(function):
        return sfn.create_state_machine(
            name=f"m-{uuid.uuid4().hex[:8]}", roleArn=machine_role,
            definition=json.dumps({"StartAt": "Call", "States": {"Call": {
                "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": arns[function], "Payload.$": "$"},
                "OutputPath": "$.Payload", "End": True}}}))["stateMachineArn"]

    def run(machine_arn):
        # No name: Step Functions makes one (moto named them all "None").
        execution = sfn.start_execution(stateMachineArn=machine_arn, input='{"n": 1}')
        assert not execution["executionArn"].endswith(":None")
        deadline = time.monotonic() + 30
        while (described := sfn.describe_execution(
                executionArn=execution["executionArn"]))["status"] == "RUNNING":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        return described

    allowed = machine("allowed")
    assert run(allowed)["status"] == "SUCCEEDED"  # the simple backend echoes the input
    assert json.loads(run(allowed)["output"]) == {"n": 1}
    failed = run(machine("forbidden"))
    assert failed["status"] == "FAILED"
    assert failed["error"] == "Lambda.AccessDeniedException", failed
    assert "assumed-role/machine/" in failed["cause"]

    # A role Step Functions cannot assume is refused when the state machine is created.
    with pytest.raises(ClientError) as caught:
        sfn.create_state_machine(name="bad", roleArn=fn_role, definition=MACHINE)
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"


def test_a_cloudformation_state_machine_runs_with_its_substitutions(moto_auth_url):
    moto_api(moto_auth_url, "/moto-api/config", {
        "lambda": {"use_docker": False}, "stepfunctions": {"execute_state_machine": True}})
    cfn = aws_client(moto_auth_url, "cloudformation")
    stack = deploy(cfn, "machine", """
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: states.amazonaws.com}, Action: sts:AssumeRole}
  Machine:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      StateMachineName: substituted
      RoleArn: !GetAtt Role.Arn
      DefinitionString: '{"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"region": "${Word}"}, "End": true}}}'
      DefinitionSubstitutions:
        Word: !Ref AWS::Region
Outputs:
  Arn: {Value: !Ref Machine}
""")
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    arn = stack["Outputs"][0]["OutputValue"]
    sfn = aws_client(moto_auth_url, "stepfunctions")
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    deadline = time.monotonic() + 30
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert json.loads(described["output"]) == {"region": PRIMARY}, described
    cfn.delete_stack(StackName="machine")
    assert sfn.list_state_machines()["stateMachines"] == []
