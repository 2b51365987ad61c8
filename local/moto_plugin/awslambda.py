"""moto's simple Lambda backend (`{"lambda": {"use_docker": false}}`), able to fail.

moto 5.2.5's simple backend answers each Invoke with the next result queued through
`POST /moto-api/static/lambda-simple/response` (or echoes the payload), and can never fail.
To test a state machine's Retry and Catch, a queued result may instead be an envelope:

- `{"moto_plugin": {"function_error": {"errorType": "ReadError", "errorMessage": "..."}}}`:
  the function failed. Answered as Lambda does: 200, `X-Amz-Function-Error: Unhandled`, the
  error object as the payload (Step Functions names the error by its `errorType`).
- `{"moto_plugin": {"service_error": {"code": "ServiceException", "message": "...",
  "status": 500}}}`: Lambda itself failed. Answered with that HTTP status and error code
  (Step Functions' lambda:invoke integration names it `Lambda.ServiceException`).

Every Invoke is also recorded (function, qualifier, payload) and listed, oldest first, by
`GET /moto-api/plugin/lambda-simple/invocations?account_id=...&region=...`: moto's engine
runs a Distributed Map's children without keeping their histories, so this is the only
place their calls can be seen. Both live in the backend, so `/moto-api/reset` clears them.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlparse

from moto.awslambda_simple.models import LambdaSimpleBackend, lambda_simple_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import JsonRESTError

ENVELOPE = "moto_plugin"
INVOCATIONS_PATH = "{0}/moto-api/plugin/lambda-simple/invocations"


class LambdaServiceError(JsonRESTError):
    """An error of the Lambda service, not of the function."""

    def __init__(self, code: str, message: str, status: int):
        super().__init__(code, message)
        self.code = status


def _envelope(result: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(result)
    except (TypeError, ValueError):
        return None
    if isinstance(parsed, dict) and set(parsed) == {ENVELOPE}:
        return parsed[ENVELOPE]
    return None


def invoke(
    self: LambdaSimpleBackend,
    function_name: str,
    qualifier: str | None,
    body: Any,
    headers: Any,
    response_headers: Any,
) -> bytes:
    payload = body.decode("utf-8") if isinstance(body, bytes) else body
    invocations(self).append(
        {"function_name": function_name, "qualifier": qualifier, "payload": payload}
    )
    if not self.lambda_simple_results_queue:
        # moto's own default: echo the payload.
        return str.encode(payload or "Simple Lambda happy path OK")
    result = self.lambda_simple_results_queue.pop(0)
    envelope = _envelope(result)
    if envelope is None:
        return str.encode(result)
    if "function_error" in envelope:
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps(envelope["function_error"]).encode("utf-8")
    if "service_error" in envelope:
        error = envelope["service_error"]
        raise LambdaServiceError(
            error["code"], error.get("message", error["code"]), int(error.get("status", 500))
        )
    raise ValueError(f"unknown {ENVELOPE} envelope: {result}")


def invocations(backend: LambdaSimpleBackend) -> list[dict[str, Any]]:
    if not hasattr(backend, "plugin_invocations"):
        backend.plugin_invocations = []
    return backend.plugin_invocations


def list_invocations(request: Any, full_url: str, headers: Any):
    query = parse_qs(urlparse(full_url).query)
    account_id = query.get("account_id", [DEFAULT_ACCOUNT_ID])[0]
    region = query.get("region", ["us-east-1"])[0]
    backend = lambda_simple_backends[account_id][region]
    body = json.dumps({"invocations": invocations(backend)})
    return 200, {"Content-Type": "application/json"}, body


def install() -> None:
    LambdaSimpleBackend.invoke = invoke
    # Read when moto's server builds its moto-api app, i.e. after install().
    from moto.moto_api._internal import urls

    urls.url_paths[INVOCATIONS_PATH] = list_invocations
