"""Lambda's account concurrency: reservations refused as AWS refuses them, and
GetAccountSettings.

AWS keeps at least 100 of a Region's concurrency unreserved: a function may reserve up to
the unreserved concurrency minus 100 (Lambda developer guide, "Configuring reserved
concurrency"); the default quota is 1,000 per Region (Lambda quotas), and new accounts may
have less. moto 5.2.5 checks only PutFunctionConcurrency, and only with
MOTO_LAMBDA_CONCURRENCY_QUOTA set; a stack's ReservedConcurrentExecutions was never
checked, and an update of it never applied. It has no GetAccountSettings, which deploy's
preflight reads. The quota here is MOTO_LAMBDA_CONCURRENCY_QUOTA, default 1,000.
"""

from __future__ import annotations

import json
import os
from typing import Any

from moto.awslambda import urls as lambda_urls
from moto.awslambda.exceptions import InvalidParameterValueException
from moto.awslambda.models import LambdaFunction, lambda_backends
from moto.awslambda.responses import LambdaResponse

# Lambda keeps this much unreserved for the functions without a reservation.
UNRESERVED_MINIMUM = 100


def quota() -> int:
    return int(os.environ.get("MOTO_LAMBDA_CONCURRENCY_QUOTA") or 1000)


def _reserved(backend: Any, excluding: str | None = None) -> int:
    return sum(
        int(fn.reserved_concurrency)
        for fn in backend.list_functions()
        if fn.reserved_concurrency and fn.function_name != excluding
    )


def _check(backend: Any, function_name: str, reserved: Any) -> None:
    if reserved in (None, ""):
        return
    if quota() - _reserved(backend, function_name) - int(reserved) < UNRESERVED_MINIMUM:
        raise InvalidParameterValueException(
            "Specified ReservedConcurrentExecutions for function decreases account's "
            f"UnreservedConcurrentExecution below its minimum value of [{UNRESERVED_MINIMUM}]."
        )


_moto_create = LambdaFunction.create_from_cloudformation_json.__func__
_moto_update = LambdaFunction.update_from_cloudformation_json.__func__


def create_function(cls: Any, resource_name: str, cloudformation_json: Any, account_id: str,
                    region_name: str, **kwargs: Any) -> LambdaFunction:
    properties = cloudformation_json["Properties"]
    backend = lambda_backends[account_id][region_name]
    _check(backend, resource_name, properties.get("ReservedConcurrentExecutions"))
    return _moto_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)


def update_function(cls: Any, original_resource: LambdaFunction, new_resource_name: str,
                    cloudformation_json: Any, account_id: str, region_name: str) -> LambdaFunction:
    properties = cloudformation_json["Properties"]
    backend = lambda_backends[account_id][region_name]
    reserved = properties.get("ReservedConcurrentExecutions")
    _check(backend, original_resource.function_name, reserved)
    function = _moto_update(cls, original_resource, new_resource_name, cloudformation_json,
                            account_id, region_name)
    function.reserved_concurrency = None if reserved in (None, "") else int(reserved)
    return function


def get_account_settings(self: LambdaResponse) -> tuple[int, dict[str, str], str]:
    backend = self.backend
    functions = backend.list_functions()
    settings = {
        "AccountLimit": {
            "TotalCodeSize": 80530636800,
            "CodeSizeUnzipped": 262144000,
            "CodeSizeZipped": 52428800,
            "ConcurrentExecutions": quota(),
            "UnreservedConcurrentExecutions": quota() - _reserved(backend),
        },
        "AccountUsage": {
            "TotalCodeSize": sum(int(getattr(fn, "code_size", 0) or 0) for fn in functions),
            "FunctionCount": len(functions),
        },
    }
    return 200, {}, json.dumps(settings)


def install() -> None:
    LambdaFunction.create_from_cloudformation_json = classmethod(create_function)
    LambdaFunction.update_from_cloudformation_json = classmethod(update_function)
    LambdaResponse.get_account_settings = get_account_settings
    lambda_urls.url_paths[r"{0}/(?P<api_version>[^/]+)/account-settings/?$"] = LambdaResponse.dispatch
