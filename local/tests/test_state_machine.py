"""The ingestion state machine's control flow in moto's Step Functions engine.

The definition is the real one: `deploy render` of environments/local.yaml with
max_concurrency 1 (so the canned Lambda results are consumed in a known order), created
through the API with the function ARNs substituted. The functions are moto's simple Lambda
backend answering queued results (moto_plugin/awslambda.py adds errors and the invocation
log). moto's engine runs a Distributed Map's children without keeping their histories, so
the order of calls is read from that invocation log; the parent's own history is checked
for its size.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.config import Config

from conftest import LOCAL_DIR

REPO = LOCAL_DIR.parent
REGION = "us-east-1"
FUNCTIONS = ("preprocess", "dbprocess", "postprocess")
ZERO = {"files": 0, "completed": 0, "failed": 0, "inserted": 0, "present": 0, "rejected": 0}
SERVICE_ERRORS = {
    "ServiceException": 500,
    "AWSLambdaException": 500,
    "TooManyRequestsException": 429,
    "ClientExecutionTimeoutException": 500,
}


@pytest.fixture(scope="module")
def definition(tmp_path_factory) -> str:
    """The state machine's ASL as `deploy render` writes it into the pipeline template."""
    work = tmp_path_factory.mktemp("render")
    source = (REPO / "environments/local.yaml").read_text()
    environment = source.replace("max_concurrency: 6", "max_concurrency: 1")
    assert environment != source, "environments/local.yaml no longer sets max_concurrency: 6"
    (work / "sfn.yaml").write_text(environment)
    # DEPLOY_BIN: the binary `make test` has just built with the rest of the workspace.
    # Otherwise cargo run, so the renderer is this checkout's (it builds `deploy` alone,
    # with the features of that package set: minutes, the first time).
    deploy = os.environ.get("DEPLOY_BIN")
    command = [deploy] if deploy else ["cargo", "run", "--quiet", "--bin", "deploy", "--"]
    subprocess.run(
        [*command, "render", str(work / "sfn.yaml"), "--out", str(work / "out")],
        cwd=REPO,
        check=True,
    )
    template = yaml.safe_load((work / "out" / REGION / "pipeline.yaml").read_text())
    machine = template["Resources"]["StateMachine"]["Properties"]
    assert set(machine["DefinitionSubstitutions"]) == {
        "LambdaInvoke",
        "PreprocessFunctionArn",
        "DbprocessFunctionArn",
        "PostprocessFunctionArn",
    }
    return machine["DefinitionString"]


def moto_api(moto_url: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{moto_url}{path}",
        data=data,
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        text = response.read()
    return json.loads(text) if text else {}


def aws(moto_url: str, service: str):
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=moto_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}),
    )


class Pipeline:
    """The three functions and the state machine in moto, and the queue of their answers."""

    def __init__(self, moto_url: str, definition: str):
        self.url = moto_url
        self.runs: list[str] = []  # the executions started, by ARN
        moto_api(moto_url, "/moto-api/config", {
            "stepfunctions": {"execute_state_machine": True},
            "lambda": {"use_docker": False},
        })
        iam, lam = aws(moto_url, "iam"), aws(moto_url, "lambda")
        role = iam.create_role(RoleName="pipeline", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        self.arns = {}
        for name in FUNCTIONS:
            self.arns[name] = lam.create_function(
                FunctionName=f"book-reviews-local-{name}",
                Runtime="provided.al2023",
                Handler="bootstrap",
                Role=role,
                Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
            )["FunctionArn"]
        substitutions = {
            "LambdaInvoke": "arn:aws:states:::lambda:invoke",
            **{f"{n.capitalize()}FunctionArn": arn for n, arn in self.arns.items()},
        }
        text = definition
        for key, value in substitutions.items():
            text = text.replace("${" + key + "}", value)
        assert "${" not in text, text
        self.sfn = aws(moto_url, "stepfunctions")
        self.machine = self.sfn.create_state_machine(
            name="book-reviews-local-pipeline", definition=text, roleArn=role
        )["stateMachineArn"]
        self.waits_before = len(moto_api(moto_url, "/moto-api/plugin/stepfunctions/retry-waits")["waits"])

    def queue(self, *results) -> None:
        moto_api(self.url, "/moto-api/static/lambda-simple/response", {
            "region": REGION,
            "results": [json.dumps(r) for r in results],
        })

    def run(self, timeout: float = 120) -> dict:
        # A name of our own: moto names every unnamed execution "None", so a second one
        # would collide (AWS generates a UUID).
        execution = self.sfn.start_execution(
            stateMachineArn=self.machine, name=str(uuid.uuid4()), input="{}"
        )
        self.runs.append(execution["executionArn"])
        deadline = time.monotonic() + timeout
        while True:
            described = self.sfn.describe_execution(executionArn=execution["executionArn"])
            if described["status"] != "RUNNING":
                return described
            assert time.monotonic() < deadline, "the execution did not finish"
            time.sleep(0.05)

    def calls(self) -> list[tuple[str, dict]]:
        """Every Lambda invocation, oldest first: (function, payload). Each dbprocess call
        must name one of this pipeline's runs (its execution ARN, which the state machine
        passes on so a retry gets a lost reply again); the name is checked and left out."""
        log = moto_api(self.url, f"/moto-api/plugin/lambda-simple/invocations?region={REGION}")
        names = {arn: name for name, arn in self.arns.items()}
        calls = [(names[c["function_name"]], json.loads(c["payload"])) for c in log["invocations"]]
        for name, payload in calls:
            if name == "dbprocess":
                assert payload.pop("run") in self.runs, payload
        return calls

    def history(self, execution_arn: str) -> list[dict]:
        events, token = [], None
        while True:
            kwargs = {"executionArn": execution_arn, "maxResults": 1000}
            if token:
                kwargs["nextToken"] = token
            page = self.sfn.get_execution_history(**kwargs)
            events += page["events"]
            token = page.get("nextToken")
            if not token:
                return events

    def retry_waits(self) -> list[float]:
        waits = moto_api(self.url, "/moto-api/plugin/stepfunctions/retry-waits")["waits"]
        return waits[self.waits_before:]


@pytest.fixture
def pipeline(moto_url, definition):
    yield Pipeline(moto_url, definition)
    moto_api(moto_url, "/moto-api/config", {
        "stepfunctions": {"execute_state_machine": False},
        "lambda": {"use_docker": True},
    })


# What the functions answer (lambdas/reviews/src/handlers.rs), and what the machine sends.

def key(n: int) -> str:
    return f"book-reviews/reviews/part-{n:05}.json"


def etag(n: int) -> str:
    return f"{n:032x}"


def listing(files: list[int], totals: dict, more: bool = False) -> dict:
    return {
        "files": [{"key": key(n), "etag": etag(n), "size": 100 + n} for n in files],
        "more": more,
        "totals": totals,
    }


def report(n: int) -> dict:
    """A dbprocess IngestReport with counts that differ per file."""
    inserted, present, rejected = 10 * n, n % 3, n % 2
    return {
        "key": key(n), "etag": etag(n), "outcome": "ingested", "lines": 12 * n,
        "blank_lines": 0, "read": inserted + present + rejected, "inserted": inserted,
        "already_present": present, "rejected": rejected, "bytes": 900 * n, "batches": 1,
        "resumed_batches": 0, "elapsed_ms": 5,
    }


def moved(n: int, outcome: str = "completed") -> dict:
    return {"key": key(n), "destination": key(n).replace("reviews/part", f"{outcome}/part"),
            "outcome": "moved"}


def completed(n: int) -> dict:
    r = report(n)
    return {"key": key(n), "outcome": "completed", "inserted": r["inserted"],
            "present": r["already_present"], "rejected": r["rejected"]}


def failed(n: int) -> dict:
    return {"key": key(n), "outcome": "failed", "inserted": 0, "present": 0, "rejected": 0}


def tally(totals: dict, results: list[dict]) -> dict:
    """preprocess's sum, to answer as the real function would."""
    out = dict(ZERO, **totals)
    for r in results:
        out["files"] += 1
        out[r["outcome"]] += 1
        for field in ("inserted", "present", "rejected"):
            out[field] += r[field]
    return out


def service_error(code: str) -> dict:
    return {"moto_plugin": {"service_error": {
        "code": code, "message": "Rate exceeded" if code.startswith("TooMany") else "try again",
        "status": SERVICE_ERRORS[code]}}}


def function_error(error_type: str, message: str) -> dict:
    return {"moto_plugin": {"function_error": {"errorType": error_type, "errorMessage": message}}}


def load(n: int) -> tuple[str, dict]:
    return ("dbprocess", {"key": key(n), "etag": etag(n)})


def move_completed(n: int) -> tuple[str, dict]:
    return ("postprocess", {"key": key(n), "etag": etag(n), "outcome": "completed", "report": report(n)})


def queue_batches(pipeline: Pipeline, batches: list[list[int]]) -> tuple[list, dict]:
    """Queues the answers of a run where every file completes; returns the expected calls
    and the expected output."""
    totals, results, expected = dict(ZERO), [], []
    answers = []
    for i, batch in enumerate(batches + [[]]):
        expected.append(("preprocess", {"totals": {} if i == 0 else totals, "results": results}))
        totals = tally(totals, results)
        answers.append(listing(batch, totals, more=i + 1 < len(batches)))
        for n in batch:
            expected += [load(n), move_completed(n)]
            answers += [report(n), moved(n)]
        results = [completed(n) for n in batch]
    pipeline.queue(*answers)
    return expected, totals


def test_no_pending_file_succeeds_with_zero_totals(pipeline):
    pipeline.queue(listing([], ZERO))
    execution = pipeline.run()
    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(execution["output"]) == ZERO
    assert pipeline.calls() == [("preprocess", {"totals": {}, "results": []})]


def test_one_pending_file_is_loaded_moved_and_counted(pipeline):
    expected, totals = queue_batches(pipeline, [[7]])
    execution = pipeline.run()
    assert execution["status"] == "SUCCEEDED", execution
    assert pipeline.calls() == expected
    assert json.loads(execution["output"]) == totals == {
        "files": 1, "completed": 1, "failed": 0, "inserted": 70, "present": 1, "rejected": 1,
    }


def test_41_files_over_five_loops(pipeline):
    batches = [list(range(b, min(b + 10, 41))) for b in range(0, 41, 10)]
    assert [len(b) for b in batches] == [10, 10, 10, 10, 1]
    expected, totals = queue_batches(pipeline, batches)
    execution = pipeline.run()
    assert execution["status"] == "SUCCEEDED", execution
    calls = pipeline.calls()
    assert calls == expected
    assert [c for c in calls if c[0] == "dbprocess"] == [load(n) for n in range(41)]
    assert json.loads(execution["output"]) == totals
    assert totals["files"] == totals["completed"] == 41
    assert totals["inserted"] == sum(10 * n for n in range(41))


def test_a_file_failing_every_retry_is_moved_to_failed_and_the_others_complete(pipeline):
    # The middle file's dbprocess meets Lambda.ServiceException on the first try and on all
    # six retries; its siblings are unaffected.
    pipeline.queue(
        listing([1, 2, 3], ZERO),
        report(1), moved(1),
        *[service_error("ServiceException")] * 7,
        moved(2, "failed"),
        report(3), moved(3),
    )
    results = [completed(1), failed(2), completed(3)]
    totals = tally(ZERO, results)
    pipeline.queue(listing([], totals))

    execution = pipeline.run()
    assert execution["status"] == "SUCCEEDED", execution
    calls = pipeline.calls()
    assert calls[:3] == [("preprocess", {"totals": {}, "results": []}), load(1), move_completed(1)]
    assert calls[3:10] == [load(2)] * 7
    name, request = calls[10]
    assert (name, request["key"], request["etag"], request["outcome"]) == (
        "postprocess", key(2), etag(2), "failed")
    assert request["error"]["Error"] == "Lambda.ServiceException"
    assert "try again" in request["error"]["Cause"]
    assert "report" not in request
    assert calls[11:] == [load(3), move_completed(3),
                          ("preprocess", {"totals": ZERO, "results": results})]
    assert json.loads(execution["output"]) == totals
    assert (totals["completed"], totals["failed"], totals["files"]) == (2, 1, 3)

    # Six waits: exponential from 2 s, capped at 60 s, each drawn below its cap (full jitter).
    waits = pipeline.retry_waits()
    assert len(waits) == 6
    caps = [min(2 * 2**i, 60) for i in range(6)]
    assert caps == [2, 4, 8, 16, 32, 60]
    assert all(0 <= w <= cap for w, cap in zip(waits, caps)), waits
    assert waits != caps, "full jitter draws each wait, it does not use the cap"


def test_a_function_error_is_not_retried_and_is_reported(pipeline):
    pipeline.queue(
        listing([4], ZERO),
        function_error("ReadError", "line 3: not gzip"),
        moved(4, "failed"),
        listing([], tally(ZERO, [failed(4)])),
    )
    execution = pipeline.run()
    assert execution["status"] == "SUCCEEDED", execution
    calls = pipeline.calls()
    assert [c[0] for c in calls] == ["preprocess", "dbprocess", "postprocess", "preprocess"]
    assert calls[2][1]["error"]["Error"] == "ReadError"
    assert json.loads(calls[2][1]["error"]["Cause"]) == {
        "errorType": "ReadError", "errorMessage": "line 3: not gzip"}
    assert calls[3][1]["results"] == [failed(4)]
    assert json.loads(execution["output"])["failed"] == 1
    assert pipeline.retry_waits() == []


def test_transient_lambda_errors_succeed_on_retry(pipeline):
    # preprocess is throttled once, dbprocess meets one ServiceException and one
    # AWSLambdaException, postprocess is throttled once: every file still completes once.
    pipeline.queue(
        service_error("TooManyRequestsException"),
        listing([5], ZERO),
        service_error("ServiceException"),
        service_error("AWSLambdaException"),
        report(5),
        service_error("TooManyRequestsException"),
        moved(5),
        listing([], tally(ZERO, [completed(5)])),
    )
    execution = pipeline.run()
    assert execution["status"] == "SUCCEEDED", execution
    first = ("preprocess", {"totals": {}, "results": []})
    assert pipeline.calls() == [
        first, first,
        load(5), load(5), load(5),
        move_completed(5), move_completed(5),
        ("preprocess", {"totals": ZERO, "results": [completed(5)]}),
    ]
    assert json.loads(execution["output"]) == tally(ZERO, [completed(5)])
    assert len(pipeline.retry_waits()) == 4


def test_parent_history_does_not_grow_with_the_batch(pipeline):
    """A batch's files run as child executions: the parent has as many events for a batch of
    one file as for a batch of hundreds, so the 25,000-event limit bounds loops, not files.
    The big batch is the largest a listing can be (files_per_batch: 1,000) at MaxConcurrency
    1: moto's own Map workers recursed once per item and never finished it (the plugin makes
    them loop); SFN_TEST_BIG_BATCH sets another size."""
    big = int(os.environ.get("SFN_TEST_BIG_BATCH", "1000"))
    sizes = {}
    for batch in (1, big):
        calls_before = len(pipeline.calls())
        expected, _ = queue_batches(pipeline, [list(range(batch))])
        started = time.monotonic()
        execution = pipeline.run(timeout=600)
        elapsed = time.monotonic() - started
        assert execution["status"] == "SUCCEEDED", execution
        assert json.loads(execution["output"])["completed"] == batch
        assert pipeline.calls()[calls_before:] == expected
        events = pipeline.history(execution["executionArn"])
        sizes[batch] = len(events)
        print(f"batch of {batch}: {len(events)} parent events, {elapsed:.1f} s")
    assert sizes[1] == sizes[big], sizes
    assert sizes[1] < 40, sizes


def test_a_file_that_cannot_be_moved_fails_the_run(pipeline):
    # File 1 is loaded but postprocess fails on every try: its data is in, so it must not be
    # reported completed nor moved to failed; it stays pending and the run fails visibly
    # (default tolerance 0), instead of listing the same file again forever.
    pipeline.queue(
        listing([1, 2], ZERO),
        report(1),
        *[service_error("ServiceException")] * 7,
        report(2), moved(2),
    )
    execution = pipeline.run()
    assert execution["status"] == "FAILED", execution
    assert execution["error"] == "States.ExceedToleratedFailureThreshold"
    calls = pipeline.calls()
    assert calls[:9] == [("preprocess", {"totals": {}, "results": []}), load(1)] + [
        move_completed(1)
    ] * 7
    assert [c[0] for c in calls].count("preprocess") == 1, "no success was tallied"
    assert all(c[1].get("outcome") != "failed" for c in calls if c[0] == "postprocess")


def test_a_database_blip_is_retried_and_the_file_completes(pipeline):
    # A switchover or failover makes the writer unavailable for up to about a minute: dbprocess
    # answers DatabaseUnavailable (and DatabaseBusy for contention) until it is back. The file
    # must complete, not go to failed/.
    pipeline.queue(
        listing([6], ZERO),
        function_error("DatabaseUnavailable", "cannot connect to the database"),
        function_error("DatabaseUnavailable", "the global database is switching-over"),
        function_error("DatabaseBusy", "Deadlock found when trying to get lock"),
        report(6),
        moved(6),
        listing([], tally(ZERO, [completed(6)])),
    )
    execution = pipeline.run()
    assert execution["status"] == "SUCCEEDED", execution
    calls = pipeline.calls()
    assert calls[1:6] == [load(6)] * 4 + [move_completed(6)], calls
    assert json.loads(execution["output"]) == tally(ZERO, [completed(6)])
    # Waits from 5 s doubling, each drawn below its cap (full jitter).
    waits = pipeline.retry_waits()
    assert len(waits) == 3, waits
    assert all(0 <= w <= cap for w, cap in zip(waits, [5, 10, 20])), waits


def test_a_database_that_stays_away_fails_the_file_after_about_two_minutes(pipeline):
    # Twelve retries, waits capped at 30 s: on average 150 s of waiting before the Catch.
    pipeline.queue(
        listing([8], ZERO),
        *[function_error("DatabaseUnavailable", "cannot connect to the database")] * 13,
        moved(8, "failed"),
        listing([], tally(ZERO, [failed(8)])),
    )
    execution = pipeline.run()
    assert execution["status"] == "SUCCEEDED", execution
    calls = pipeline.calls()
    assert calls[1:14] == [load(8)] * 13
    assert calls[14][1]["outcome"] == "failed"
    assert calls[14][1]["error"]["Error"] == "DatabaseUnavailable"
    waits = pipeline.retry_waits()
    caps = [min(5 * 2**i, 30) for i in range(12)]
    assert len(waits) == 12 and all(0 <= w <= cap for w, cap in zip(waits, caps)), waits


def test_lambda_client_execution_timeout_is_retried(pipeline):
    # The Step Functions best practice lists Lambda.ClientExecutionTimeoutException among the
    # transient Lambda errors to retry.
    pipeline.queue(
        listing([9], ZERO),
        service_error("ClientExecutionTimeoutException"),
        report(9),
        moved(9),
        listing([], tally(ZERO, [completed(9)])),
    )
    execution = pipeline.run()
    assert execution["status"] == "SUCCEEDED", execution
    assert [c for c in pipeline.calls() if c[0] == "dbprocess"] == [load(9)] * 2
    assert json.loads(execution["output"])["completed"] == 1


def test_an_incomplete_load_is_continued_until_the_file_is_complete(pipeline):
    # dbprocess stops between batches before its timeout and answers "incomplete"; the next
    # call resumes after the committed batches. Only the final report is counted.
    partial = dict(report(3), outcome="incomplete", lines=0, read=0, rejected=0)
    pipeline.queue(
        listing([3], ZERO),
        partial,
        partial,
        report(3),
        moved(3),
        listing([], tally(ZERO, [completed(3)])),
    )
    execution = pipeline.run()
    assert execution["status"] == "SUCCEEDED", execution
    calls = pipeline.calls()
    assert calls[1:5] == [load(3)] * 3 + [move_completed(3)], calls
    assert json.loads(execution["output"]) == tally(ZERO, [completed(3)])
    assert pipeline.retry_waits() == [], "continuing is not a retry"
