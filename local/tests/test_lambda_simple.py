"""The simple (no Docker) Lambda backend answering queued function and service errors, and
listing the invocations it answered (moto_plugin/awslambda.py)."""

import json
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ROLE_POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def post(moto_url: str, path: str, body: dict) -> None:
    request = urllib.request.Request(
        f"{moto_url}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request)


def get(moto_url: str, path: str) -> dict:
    with urllib.request.urlopen(f"{moto_url}{path}") as response:
        return json.load(response)


def queue(moto_url: str, *results, region: str = "us-east-1") -> None:
    post(
        moto_url,
        "/moto-api/static/lambda-simple/response",
        {"region": region, "results": [r if isinstance(r, str) else json.dumps(r) for r in results]},
    )


def simple_lambda(moto_url: str, client, name: str = "worker") -> str:
    post(moto_url, "/moto-api/config", {"lambda": {"use_docker": False}})
    role = client("iam").create_role(RoleName="worker", AssumeRolePolicyDocument=ROLE_POLICY)
    function = client("lambda").create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Handler="bootstrap",
        Role=role["Role"]["Arn"],
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )
    return function["FunctionArn"]


@pytest.fixture
def worker(moto_url, client):
    arn = simple_lambda(moto_url, client)
    yield arn
    post(moto_url, "/moto-api/config", {"lambda": {"use_docker": True}})


def invoke(moto_url, payload: dict):
    # One attempt: conftest's client (legacy mode, max_attempts 1) retries a 500 once,
    # which would take the next queued result.
    lam = boto3.client(
        "lambda",
        region_name="us-east-1",
        endpoint_url=moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )
    return lam.invoke(FunctionName="worker", Payload=json.dumps(payload).encode())


def test_queued_results_function_errors_and_service_errors(moto_url, client, worker):
    queue(
        moto_url,
        {"rows": 3},
        {"moto_plugin": {"function_error": {"errorType": "ReadError", "errorMessage": "bad gzip"}}},
        {"moto_plugin": {"service_error": {"code": "ServiceException", "message": "try again"}}},
        {
            "moto_plugin": {
                "service_error": {
                    "code": "TooManyRequestsException",
                    "message": "Rate exceeded",
                    "status": 429,
                }
            }
        },
    )

    ok = invoke(moto_url, {"n": 1})
    assert ok["StatusCode"] == 200 and "FunctionError" not in ok
    assert json.load(ok["Payload"]) == {"rows": 3}

    failed = invoke(moto_url, {"n": 2})
    # As Lambda answers a function's error: 200, the header, the error as the payload.
    assert failed["StatusCode"] == 200
    assert failed["FunctionError"] == "Unhandled"
    assert json.load(failed["Payload"]) == {"errorType": "ReadError", "errorMessage": "bad gzip"}

    for n, (code, status) in enumerate(
        [("ServiceException", 500), ("TooManyRequestsException", 429)], start=3
    ):
        with pytest.raises(ClientError) as error:
            invoke(moto_url, {"n": n})
        assert error.value.response["Error"]["Code"] == code
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == status

    # The queue is empty again: moto's own default, the payload echoed.
    assert json.load(invoke(moto_url, {"n": 5})["Payload"]) == {"n": 5}

    calls = get(moto_url, "/moto-api/plugin/lambda-simple/invocations?region=us-east-1")
    assert [(c["function_name"], json.loads(c["payload"])) for c in calls["invocations"]] == [
        ("worker", {"n": n}) for n in range(1, 6)
    ]
    assert get(moto_url, "/moto-api/plugin/lambda-simple/invocations?region=us-east-2") == {
        "invocations": []
    }


def test_reset_clears_the_invocations(moto_url, client, worker):
    invoke(moto_url, {"n": 1})
    assert len(get(moto_url, "/moto-api/plugin/lambda-simple/invocations")["invocations"]) == 1
    post(moto_url, "/moto-api/reset", {})
    assert get(moto_url, "/moto-api/plugin/lambda-simple/invocations") == {"invocations": []}
