"""A real moto server with the plugin loaded, started once per test session on a free
port, and boto3 clients for it. Each test resets moto first."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

LOCAL_DIR = Path(__file__).resolve().parent.parent
PRIMARY = "us-east-1"
SECONDARY = "us-east-2"


_server_log: list[Path] = []
# The logs of the servers with IAM enforced (moto_auth_url, moto_lambda_url), by name.
_other_logs: dict[str, Path] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test shows the end of the moto server's log (its tracebacks)."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and _server_log and _server_log[0].exists():
        report.sections.append(("moto server log (tail)", _server_log[0].read_text()[-6000:]))
    if report.failed:
        for name, path in _other_logs.items():
            if name in item.fixturenames and path.exists():
                report.sections.append((f"{name} server log (tail)", path.read_text()[-6000:]))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(log_path: Path, extra_env: dict[str, str]):
    """A moto server with the plugin on a free port; returns (process, url) once it answers.
    MOTO_PORT is its own port: moto's Step Functions engine calls the other services at
    localhost:$MOTO_PORT (default 5000, the shared stand-in). Retry waits are slept at 1/100
    of the definition's intervals (moto sleeps them for real); the intervals themselves are
    recorded unscaled (moto_plugin/stepfunctions.py)."""
    port = _free_port()
    env = dict(
        os.environ,
        PYTHONPATH=str(LOCAL_DIR),
        MOTO_PORT=str(port),
        MOTO_PLUGIN_RETRY_SLEEP_SCALE="0.01",
        **extra_env,
    )
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "moto_plugin", "-H", "127.0.0.1", "-p", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{url}/moto-api/", timeout=1)
            return server, url
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(
                    f"moto server did not start; its log:\n{log_path.read_text()[-3000:]}"
                )
            time.sleep(0.1)


@pytest.fixture(scope="session")
def moto_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    log_path = tmp_path_factory.mktemp("moto") / "moto.log"
    _server_log[:] = [log_path]
    server, url = start_server(log_path, {})
    yield url
    server.terminate()
    server.wait(timeout=10)


# --- servers with IAM enforced (moto_plugin/iam.py), as local/up.sh starts the stand-in ----

ADMIN = ("test", "test")


def _start_enforcing_server(tmp_path_factory, name: str, extra_env: dict[str, str]):
    log_path = tmp_path_factory.mktemp(name) / "moto.log"
    _other_logs[name] = log_path
    return start_server(log_path, {"INITIAL_NO_AUTH_ACTION_COUNT": "0", **extra_env})


def _stop(server) -> None:
    server.terminate()  # SIGTERM: the plugin stops its Lambda runtimes on the way out
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


def _reset_server(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"))
    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/seed?a=42", method="POST"))


@pytest.fixture(scope="session")
def moto_auth_server(tmp_path_factory):
    server, url = _start_enforcing_server(tmp_path_factory, "moto_auth_url", {})
    yield url
    _stop(server)


@pytest.fixture
def moto_auth_url(moto_auth_server: str) -> str:
    """A moto server enforcing IAM from its first request (INITIAL_NO_AUTH_ACTION_COUNT=0),
    reset for the test; its administrator's key is ADMIN."""
    _reset_server(moto_auth_server)
    return moto_auth_server


def aws_client(url: str, service: str, region: str = PRIMARY, key: str = ADMIN[0],
               secret: str = ADMIN[1], token: str | None = None, **config):
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=url,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"total_max_attempts": 1}, **config),
    )


@pytest.fixture(autouse=True)
def reset(moto_url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))
    urllib.request.urlopen(
        urllib.request.Request(f"{moto_url}/moto-api/seed?a=42", method="POST")
    )


@pytest.fixture
def client(moto_url: str):
    def make(service: str, region: str = PRIMARY):
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=moto_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            # A server error should fail the test at once, not be retried.
            config=Config(retries={"max_attempts": 1}),
        )

    return make


def deploy(cfn, stack_name: str, template: str, parameters: dict[str, str] | None = None,
           change_set_type: str = "CREATE") -> dict:
    """Deploy through a change set, as the deploy CLI does; return the stack."""
    name = f"cs-{uuid.uuid4().hex[:8]}"
    cfn.create_change_set(
        StackName=stack_name,
        ChangeSetName=name,
        TemplateBody=template,
        ChangeSetType=change_set_type,
        Parameters=[
            {"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()
        ],
    )
    cfn.execute_change_set(StackName=stack_name, ChangeSetName=name)
    return cfn.describe_stacks(StackName=stack_name)["Stacks"][0]


def outputs(stack: dict) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
