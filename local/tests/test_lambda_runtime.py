"""The stand-in's Lambda runs the functions' real code (moto_plugin/awslambda.py), on
cargo-lambda, with their own roles' credentials, on a server enforcing IAM.

Two servers: one with a stand-in for `cargo lambda watch` (its invoke API, written below),
which checks the bridge itself quickly (environment, errors, timeouts, restarts,
concurrency); and one with the real cargo-lambda and the workspace, which runs preprocess.
The second is skipped when cargo-lambda or cargo is missing; `make test` installs both.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from conftest import (
    LOCAL_DIR,
    PRIMARY,
    _reset_server,
    _start_enforcing_server,
    _stop,
    aws_client,
    deploy,
)

REPO = LOCAL_DIR.parent
CARGO_LAMBDA = os.environ.get("CARGO_LAMBDA") or str(
    Path.home() / ".cache/deploy-tools/cargo-lambda-1.9.2/bin/cargo-lambda"
)
TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}


def moto_api(url: str, path: str):
    with urllib.request.urlopen(f"{url}{path}") as response:
        return json.load(response)


def runtimes(url: str) -> list[dict]:
    return moto_api(url, "/moto-api/plugin/lambda/runtimes")["runtimes"]


def invoke(url: str, name: str, payload: dict | None = None, **kwargs):
    lam = aws_client(url, "lambda", read_timeout=900)
    response = lam.invoke(FunctionName=name, Payload=json.dumps(payload or {}).encode(), **kwargs)
    return response.get("FunctionError"), json.load(response["Payload"])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


# --- the bridge, against a stand-in for `cargo lambda watch` ------------------------------------

FAKE_WATCH = textwrap.dedent('''
    """`cargo lambda watch` as the bridge uses it: the invoke API of one workspace bin."""
    import json, os, sys, threading, time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    args = sys.argv[1:]
    assert args[:2] == ["lambda", "watch"], args
    option = lambda name: args[args.index(name) + 1]
    timeout = int(option("--timeout"))
    env = {}
    for line in open(option("--env-file")):
        key, _, value = line.rstrip("\\n").partition("=")
        env[key] = value[1:-1]
    state = {"inflight": 0, "max": 0}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def send(self, status, body):
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            event = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
            with lock:
                state["inflight"] += 1
                state["max"] = max(state["max"], state["inflight"])
            try:
                mode, sleep = event.get("mode", "ok"), event.get("sleep", 0)
                if mode == "exit":
                    print("ERROR cargo_lambda_watch::watcher: command exited code=ExitError(1)",
                          flush=True)
                    time.sleep(3600)
                if sleep > timeout:
                    time.sleep(timeout)
                    return self.send(408, b"")
                time.sleep(sleep)
                if mode == "fail":
                    return self.send(500, b'{"errorType":"Boom","errorMessage":"it failed"}')
                if mode == "garbage":
                    return self.send(502, b"bad gateway")
                self.send(200, json.dumps({
                    "bin": self.path.split("/")[3], "env": env, "event": event,
                    "concurrency": option("--concurrency"), "timeout": timeout,
                    "profile": option("--profile"),
                    "max_inflight": state["max"], "pid": os.getpid()}).encode())
            finally:
                with lock:
                    state["inflight"] -= 1

    ThreadingHTTPServer.daemon_threads = True
    address = (option("--invoke-address"), int(option("--invoke-port")))
    ThreadingHTTPServer(address, Handler).serve_forever()
''')


def _start_fake_server(tmp_path_factory, name: str):
    work = tmp_path_factory.mktemp("fake-lambda")
    watch = work / "bin" / "cargo-lambda"
    watch.parent.mkdir()
    watch.write_text(f"#!{sys.executable}\n{FAKE_WATCH}")
    watch.chmod(0o755)
    server, url = _start_enforcing_server(tmp_path_factory, name, {
        "MOTO_PLUGIN_LAMBDA_WORKSPACE": str(work),
        "MOTO_PLUGIN_CARGO_LAMBDA": str(watch),
        "MOTO_PLUGIN_LAMBDA_BINS": "preprocess,dbprocess",
        "MOTO_PLUGIN_LAMBDA_LOG_DIR": str(work / "logs"),
        "CARGO": "true",  # the build before each start: nothing to build here
    })
    return server, url, work


@pytest.fixture(scope="module")
def fake_server(tmp_path_factory):
    server, url, work = _start_fake_server(tmp_path_factory, "moto_fake_lambda_url")
    yield url, work
    _stop(server)


@pytest.fixture
def moto_fake_lambda_url(fake_server):
    url, _ = fake_server
    _reset_server(url)
    return url


def function(url: str, name: str, role: str = "fn", timeout: int = 30,
             variables: dict | None = None, trust: dict | None = None) -> str:
    iam = aws_client(url, "iam")
    try:
        arn = iam.create_role(RoleName=role,
                              AssumeRolePolicyDocument=json.dumps(trust or TRUST))["Role"]["Arn"]
    except ClientError:
        arn = iam.get_role(RoleName=role)["Role"]["Arn"]
    return aws_client(url, "lambda").create_function(
        FunctionName=name, Runtime="provided.al2023", Handler="bootstrap", Role=arn,
        Timeout=timeout, Environment={"Variables": variables or {}},
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18})["FunctionArn"]


def test_a_function_runs_its_bin_with_its_environment_and_its_roles_credentials(
    moto_fake_lambda_url, fake_server
):
    url, work = fake_server
    function(url, "app-dev-preprocess", variables={
        "DATA_BUCKET": "data", "SPACES": "a b", "QUOTES": "it's \"x\""})
    error, answer = invoke(url, "app-dev-preprocess", {"n": 1})
    assert error is None, answer
    assert answer["bin"] == "preprocess" and answer["event"] == {"n": 1}
    env = answer["env"]
    assert {k: env[k] for k in ("DATA_BUCKET", "SPACES", "QUOTES")} == {
        "DATA_BUCKET": "data", "SPACES": "a b", "QUOTES": "it's \"x\""}
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == PRIMARY
    assert env["AWS_ENDPOINT_URL"] == url
    assert (env["DB_TLS"], env["RUST_LOG"]) == ("disabled", "info")
    assert (answer["concurrency"], answer["timeout"]) == ("4", 30 + 10)
    # The credentials are the function's role's, as Lambda gives them.
    sts = aws_client(url, "sts", key=env["AWS_ACCESS_KEY_ID"],
                     secret=env["AWS_SECRET_ACCESS_KEY"], token=env["AWS_SESSION_TOKEN"])
    assert sts.get_caller_identity()["Arn"] == (
        "arn:aws:sts::123456789012:assumed-role/fn/app-dev-preprocess")
    [runtime] = runtimes(url)
    assert runtime["function"] == "app-dev-preprocess" and runtime["region"] == PRIMARY
    assert runtime["log"] == str(work / "logs" / "lambda-us-east-1-app-dev-preprocess.log")
    assert answer["pid"] == runtime["pid"] or alive(runtime["pid"])
    # The same runtime answers the next invocation.
    assert invoke(url, "app-dev-preprocess")[1]["pid"] == answer["pid"]


def test_the_profile_is_dev_until_switched_and_a_switch_restarts_the_runtimes(
    moto_fake_lambda_url,
):
    url = moto_fake_lambda_url
    switch = lambda name: json.load(urllib.request.urlopen(urllib.request.Request(
        f"{url}/moto-api/plugin/lambda/profile?profile={name}", method="POST")))
    function(url, "app-dev-preprocess")
    first = invoke(url, "app-dev-preprocess")[1]
    assert first["profile"] == "dev"
    try:
        assert switch("release") == {"profile": "release"}
        second = invoke(url, "app-dev-preprocess")[1]
        assert second["profile"] == "release" and second["pid"] != first["pid"]
        assert [r["profile"] for r in runtimes(url)] == ["release"]
        with pytest.raises(urllib.error.HTTPError) as refused:
            switch("../x")
        assert refused.value.code == 400
    finally:
        switch("dev")


def test_errors_come_back_as_lambdas(moto_fake_lambda_url):
    url = moto_fake_lambda_url
    function(url, "app-dev-dbprocess", timeout=1)
    assert invoke(url, "app-dev-dbprocess", {"mode": "fail"}) == (
        "Unhandled", {"errorType": "Boom", "errorMessage": "it failed"})
    with pytest.raises(ClientError) as caught:
        invoke(url, "app-dev-dbprocess", {"mode": "garbage"})
    error = caught.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (
        500, "ServiceException")
    assert "lambda-us-east-1-app-dev-dbprocess.log" in error["Error"]["Message"]
    # Its process exits: Lambda's Runtime.ExitError, and the next call gets a new runtime.
    pid = invoke(url, "app-dev-dbprocess")[1]["pid"]
    error_type, answer = invoke(url, "app-dev-dbprocess", {"mode": "exit"})
    assert (error_type, answer["errorType"]) == ("Unhandled", "Runtime.ExitError")
    assert invoke(url, "app-dev-dbprocess")[1]["pid"] != pid
    # Past its Timeout (plus the 10 s a cold start may take): Sandbox.Timedout.
    error_type, answer = invoke(url, "app-dev-dbprocess", {"sleep": 12})
    assert (error_type, answer["errorType"]) == ("Unhandled", "Sandbox.Timedout"), answer
    # A function that runs no workspace bin, or whose role no longer trusts Lambda.
    function(url, "app-dev-other")
    with pytest.raises(ClientError) as caught:
        invoke(url, "app-dev-other")
    assert caught.value.response["Error"]["Code"] == "ServiceException"
    aws_client(url, "iam").update_assume_role_policy(RoleName="fn", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
         "Principal": {"Service": "states.amazonaws.com"}}]}))
    with pytest.raises(ClientError) as caught:
        invoke(url, "app-dev-dbprocess")
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"


def test_a_changed_or_deleted_function_and_a_reset_stop_its_runtime(moto_fake_lambda_url):
    url = moto_fake_lambda_url
    function(url, "app-dev-preprocess", variables={"V": "1"})
    first = invoke(url, "app-dev-preprocess")[1]
    aws_client(url, "lambda").update_function_configuration(
        FunctionName="app-dev-preprocess", Environment={"Variables": {"V": "2"}})
    second = invoke(url, "app-dev-preprocess")[1]
    assert second["env"]["V"] == "2" and second["pid"] != first["pid"]
    deadline = time.monotonic() + 10
    while alive(first["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(first["pid"])
    aws_client(url, "lambda").delete_function(FunctionName="app-dev-preprocess")
    assert runtimes(url) == [] and not alive(second["pid"])
    function(url, "app-dev-preprocess")
    third = invoke(url, "app-dev-preprocess")[1]
    _reset_server(url)
    assert runtimes(url) == [] and not alive(third["pid"])


def test_the_servers_exit_stops_its_runtimes(tmp_path_factory):
    server, url, _ = _start_fake_server(tmp_path_factory, "exiting")
    try:
        function(url, "app-dev-preprocess")
        pid = invoke(url, "app-dev-preprocess")[1]["pid"]
        watcher = runtimes(url)[0]["pid"]
    finally:
        _stop(server)  # SIGTERM, as local/down.sh stops it
    assert server.returncode is not None
    assert not alive(pid) and not alive(watcher)


def test_invocations_run_concurrently_also_from_a_distributed_map(moto_fake_lambda_url):
    url = moto_fake_lambda_url
    arn = function(url, "app-dev-preprocess")
    started = time.monotonic()
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(
        invoke(url, "app-dev-preprocess", {"sleep": 1}))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 4 and all(error is None for error, _ in answers)
    assert time.monotonic() - started < 3, "four 1 s invocations ran one after another"

    # The engine runs a Distributed Map's children in threads, each invoking as the role.
    iam = aws_client(url, "iam")
    machine_role = iam.create_role(RoleName="machine", AssumeRolePolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
         "Principal": {"Service": "states.amazonaws.com"}}]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName="machine", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "lambda:InvokeFunction", "Resource": [arn, f"{arn}:*"]}]}))
    sfn = aws_client(url, "stepfunctions")
    machine = sfn.create_state_machine(name="fan", roleArn=machine_role, definition=json.dumps({
        "StartAt": "Fan", "States": {"Fan": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 4, "End": True,
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "Call", "States": {"Call": {
                    "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": arn, "Payload.$": "$"},
                    "OutputPath": "$.Payload.event.i", "End": True}}}}}}))["stateMachineArn"]
    started = time.monotonic()
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(
        {"items": [{"i": i, "sleep": 1} for i in range(4)]}))["executionArn"]
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() - started < 60
        time.sleep(0.1)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [0, 1, 2, 3]
    assert time.monotonic() - started < 3.5


# --- the workspace's functions on the real cargo-lambda -----------------------------------------

needs_cargo_lambda = pytest.mark.skipif(
    not (os.access(CARGO_LAMBDA, os.X_OK) and shutil.which("cargo")
         and (REPO / "Cargo.toml").exists()),
    reason=f"needs cargo-lambda at {CARGO_LAMBDA} (CARGO_LAMBDA; `make test` installs it), "
    "cargo, and the workspace",
)


@pytest.fixture(scope="module")
def real_server(tmp_path_factory):
    server, url = _start_enforcing_server(tmp_path_factory, "moto_lambda_url", {
        "MOTO_PLUGIN_LAMBDA_WORKSPACE": str(REPO),
        "MOTO_PLUGIN_CARGO_LAMBDA": CARGO_LAMBDA,
        "MOTO_PLUGIN_LAMBDA_BINS": "preprocess,dbprocess,postprocess,migrate",
        "MOTO_PLUGIN_LAMBDA_LOG_DIR": str(tmp_path_factory.mktemp("lambda-logs")),
    })
    yield url
    _stop(server)


@pytest.fixture
def moto_lambda_url(real_server):
    _reset_server(real_server)
    return real_server


PREPROCESS = """
Parameters:
  CodeBucket: {Type: String}
Resources:
  Data:
    Type: AWS::S3::Bucket
    Properties: {BucketName: reviews-data}
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
      Policies:
        - PolicyName: preprocess
          PolicyDocument:
            Version: "2012-10-17"
            Statement:
              - Sid: ListPendingFiles
                Effect: Allow
                Action: s3:ListBucket
                Resource: !Sub arn:${AWS::Partition}:s3:::${Data}
  Function:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: book-reviews-test-preprocess
      Runtime: provided.al2023
      Handler: bootstrap
      Timeout: 60
      Role: !GetAtt Role.Arn
      Code: {S3Bucket: !Ref CodeBucket, S3Key: preprocess.zip}
      Environment:
        Variables:
          DATA_BUCKET: !Ref Data
          PENDING_PREFIX: reviews/pending/
Outputs:
  RoleName: {Value: !Ref Role}
"""


@needs_cargo_lambda
def test_preprocess_runs_on_cargo_lambda_with_its_role(moto_lambda_url):
    url = moto_lambda_url
    s3 = aws_client(url, "s3")
    s3.create_bucket(Bucket="code")
    s3.put_object(Bucket="code", Key="preprocess.zip", Body=b"PK\x05\x06" + b"\x00" * 18)
    stack = deploy(aws_client(url, "cloudformation"), "pipeline", PREPROCESS,
                   {"CodeBucket": "code"})
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    role = stack["Outputs"][0]["OutputValue"]
    for key in ("reviews/pending/a.json", "reviews/pending/b.json", "reviews/done/c.json"):
        s3.put_object(Bucket="reviews-data", Key=key, Body=b"{}")

    started = time.monotonic()
    error, answer = invoke(url, "book-reviews-test-preprocess", {})
    first = time.monotonic() - started
    assert error is None, answer
    assert [f["key"] for f in answer["files"]] == [
        "reviews/pending/a.json", "reviews/pending/b.json"]
    assert answer["more"] is False and "files" in answer["totals"]
    started = time.monotonic()
    assert invoke(url, "book-reviews-test-preprocess", {})[0] is None
    print(f"first invoke (build check, start, run): {first:.1f} s; "
          f"second: {time.monotonic() - started:.2f} s")

    # Without s3:ListBucket its listing is refused: the function's own error, as Lambda
    # reports it.
    aws_client(url, "iam").delete_role_policy(RoleName=role, PolicyName="preprocess")
    error, answer = invoke(url, "book-reviews-test-preprocess", {})
    assert error == "Unhandled", answer
    assert set(answer) >= {"errorType", "errorMessage"}
    assert "AccessDenied" in json.dumps(answer), answer


@needs_cargo_lambda
def test_a_function_that_cannot_start_fails_as_on_lambda(moto_lambda_url):
    url = moto_lambda_url
    # preprocess exits at once without DATA_BUCKET.
    function(url, f"book-reviews-{uuid.uuid4().hex[:6]}-preprocess", timeout=20)
    [runtime_function] = [f["FunctionName"] for f in aws_client(url, "lambda").list_functions()[
        "Functions"]]
    error, answer = invoke(url, runtime_function, {})
    assert error == "Unhandled", answer
    assert answer["errorType"] == "Runtime.ExitError", answer
    print(answer)
