"""Step Functions: Retry waits that a test can shorten and read back; a Distributed Map
run fails when its failed items exceed the tolerated failures.

moto 5.2.5's engine really sleeps each Retry interval (after BackoffRate, MaxDelaySeconds
and JitterStrategy). Our production policy (2 s, x2, at most 60 s, 6 attempts, full jitter)
would keep a test of a file that fails every retry waiting about a minute, so with
`MOTO_PLUGIN_RETRY_SLEEP_SCALE` (say 0.01) it sleeps that fraction of each interval instead.
The interval moto computed is unchanged and recorded:
`GET /moto-api/plugin/stepfunctions/retry-waits` lists them (seconds, oldest first), so a test
can check the backoff, the cap and the jitter of the definition it runs.

moto 5.2.5 parses ToleratedFailureCount/Percentage but ignores them ("currently have no
effect"): a Distributed Map whose children fail still succeeds, with a null result for each
failed child. AWS fails the Map Run with States.ExceedToleratedFailureThreshold when the
failed (or timed-out) items exceed the threshold; both default to 0, so without either field
one failed child fails the Map. That is what this implements (a definition giving both
thresholds is outside it: moto cannot tell a field left out from one set to 0).

The engine's calls (a Task's Lambda invoke, its S3 reads...) are made as the state
machine's role, as Step Functions makes them: moto signed them with the fixed key "ak"/"sk"
and ignored the role. The role is assumed in-process (iam.service_credentials), after
checking that its trust policy names states.amazonaws.com (while IAM is enforced), so the
role's own statements (lambda:InvokeFunction on the functions) decide what a Task may call.
Credentials and clients are kept (and made again after /moto-api/reset); a client waits
for an answer as long as a function may run (Lambda's longest Timeout, 900 s, plus a first
invoke's build and start) and never retries by itself: the state machine's Retry decides.
A Task's own `Credentials.RoleArn` is assumed the same way (by the service, not by the
state machine's role as AWS chains it). StartExecution without a name gets a UUID, as on
AWS (moto named every such execution "None", so a second one collided).

Speed only: the engine parsed a JSONPath (a parser built anew each time) at every use; the
parsed paths are kept, as the same few recur for every item of a Map.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from . import iam

WAITS_PATH = "{0}/moto-api/plugin/stepfunctions/retry-waits"

_waits: list[float] = []
_lock = threading.Lock()


class _ScaledClock:
    """Stands in for the `time` module inside moto's retrier: only `sleep` is used there."""

    def __init__(self, scale: float):
        self.scale = scale

    def sleep(self, seconds: float) -> None:
        with _lock:
            _waits.append(seconds)
        time.sleep(seconds * self.scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def list_waits(request: Any, full_url: str, headers: Any):
    with _lock:
        body = json.dumps({"waits": list(_waits)})
    return 200, {"Content-Type": "application/json"}, body


def _fail_beyond_tolerance(original):
    from moto.stepfunctions.parser.api import EvaluationFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    def _map_run(self, env, eval_input) -> None:
        original(self, env, eval_input)
        items = eval_input.map_run_record.item_counter
        failed = items.failed.get() + items.timed_out.get()
        total = max(items.total.get(), 1)
        if failed == 0 or (
            failed <= eval_input.tolerated_failure_count
            or 100.0 * failed / total <= eval_input.tolerated_failure_percentage
        ):
            return
        env.stack.pop()  # the results, which the failed Map does not output
        error = StatesErrorName(typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold)
        raise FailureEventException(
            failure_event=FailureEvent(
                env=env,
                error_name=error,
                event_type=HistoryEventType.MapRunFailed,
                event_details=EventDetails(
                    evaluationFailedEventDetails=EvaluationFailedEventDetails(
                        error=error.error_name,
                        cause=(
                            "The specified tolerated failure threshold was exceeded: "
                            f"{failed} of {items.total.get()} items failed"
                        ),
                    )
                ),
            )
        )

    return _map_run


# --- the engine's AWS calls, as the state machine's role ----------------------------------

# Lambda's longest Timeout (900 s), plus a first invoke's build and start of the function.
ENGINE_READ_TIMEOUT = 900 + 300

# Every engine module that imported boto_client_for by name.
_ASL = "moto.stepfunctions.parser.asl"
_SERVICE = f"{_ASL}.component.state.exec.state_task.service.state_task_service"
_ENGINE_MODULES = (
    f"{_ASL}.utils.boto_client",
    f"{_ASL}.component.state.exec.state_task.lambda_eval_utils",
    *(
        f"{_SERVICE}_{name}"
        for name in (
            "aws_sdk", "sfn", "sqs", "sns", "dynamodb", "events", "ecs", "batch", "glue",
            "unsupported",
        )
    ),
    f"{_ASL}.component.state.exec.state_map.item_reader.eval.resource_eval_s3",
    f"{_ASL}.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3",
)

_clients: dict[tuple[str, str, str, str | None], Any] = {}
_clients_lock = threading.Lock()


class StateMachineRoleError(Exception):
    """Step Functions cannot assume the state machine's role."""


def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
    """moto's engine helper (asl/utils/boto_client.py), signing as the state machine's role."""
    import boto3
    from botocore.config import Config
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port

    role_arn = getattr(state_credentials, "role_arn", None)
    if role_arn:
        try:
            assumed = iam.service_credentials(role_arn, iam.STATES, "states-execution", region)
        except iam.ServiceRoleError as error:
            raise StateMachineRoleError(
                f"Neither the global service principal states.amazonaws.com, nor the regional "
                f"one is authorized to assume the provided role: {error}"
            ) from None
        key_id, secret = assumed.access_key_id, assumed.secret_access_key
        token = assumed.session_token
    else:
        key_id, secret, token = "ak", "sk", None
    endpoint = None if botocore_stubber.enabled else f"http://127.0.0.1:{moto_server_port()}"
    cache_key = (service, region, key_id, endpoint)
    with _clients_lock:
        client = _clients.get(cache_key)
        if client is None:
            client = boto3.session.Session().client(
                service_name=service,
                region_name=region,
                aws_access_key_id=key_id,
                aws_secret_access_key=secret,
                aws_session_token=token,
                endpoint_url=endpoint,
                config=Config(
                    parameter_validation=False,
                    retries={"max_attempts": 0, "total_max_attempts": 1},
                    connect_timeout=10,
                    read_timeout=ENGINE_READ_TIMEOUT,
                    max_pool_connections=64,
                ),
            )
            _clients[cache_key] = client
        return client


def _check_role(role_arn: str | None, region: str, account: str, name: str | None = None) -> None:
    """CreateStateMachine and UpdateStateMachine refuse a role Step Functions cannot assume
    (while IAM is enforced)."""
    from moto.core.exceptions import JsonRESTError

    if not role_arn or not iam.enforcing():
        return
    source = f"arn:aws:states:{region}:{account}:stateMachine:{name}" if name else None
    try:
        iam.service_credentials(role_arn, iam.STATES, "states-validation", region, source)
    except iam.ServiceRoleError:
        raise JsonRESTError(
            "AccessDeniedException",
            "Neither the global service principal states.amazonaws.com, nor the regional one "
            "is authorized to assume the provided role.",
        ) from None


def _checking_create(original):
    def create_state_machine(self, name, definition, roleArn, *args, **kwargs):
        _check_role(roleArn, self.region_name, self.account_id, name)
        return original(self, name, definition, roleArn, *args, **kwargs)

    return create_state_machine


def _checking_update(original):
    def update_state_machine(self, arn, definition=None, role_arn=None, *args, **kwargs):
        _check_role(role_arn, self.region_name, self.account_id, arn.rsplit(":", 1)[-1])
        return original(self, arn, definition, role_arn, *args, **kwargs)

    return update_state_machine


# --- AWS::StepFunctions::StateMachine -------------------------------------------------------
#
# moto created it in the backend that never runs anything, whatever the server's config,
# and ignored DefinitionSubstitutions (and Definition): a deployed state machine could not
# be started. It now lands where StartExecution looks (the engine when
# execute_state_machine is on), with its definition as CloudFormation renders it.


def _backend(account_id: str, region_name: str) -> Any:
    from moto.stepfunctions.responses import get_backend

    return get_backend(account_id, region_name)


def _all_backends(account_id: str, region_name: str) -> list[Any]:
    from moto.stepfunctions.models import stepfunctions_backends
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    return [
        stepfunctions_parser_backends[account_id][region_name],
        stepfunctions_backends[account_id][region_name],
    ]


def _cfn_definition(properties: dict[str, Any]) -> str | None:
    definition = properties.get("DefinitionString")
    if definition is None and properties.get("Definition") is not None:
        definition = json.dumps(properties["Definition"])
    if definition is None:
        return None
    for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
        text = value if isinstance(value, str) else json.dumps(value)
        definition = definition.replace("${" + key + "}", text)
    return definition


def _cfn_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    from moto.stepfunctions.utils import cfn_to_api_tags

    properties = cloudformation_json["Properties"]
    return _backend(account_id, region_name).create_state_machine(
        properties.get("StateMachineName", resource_name),
        _cfn_definition(properties) or "",
        properties.get("RoleArn", ""),
        tags=cfn_to_api_tags(properties.get("Tags", [])),
    )


def _cfn_delete(cls, resource_name, cloudformation_json, account_id, region_name):
    from moto.stepfunctions.exceptions import StateMachineDoesNotExist

    for backend in _all_backends(account_id, region_name):
        try:
            backend.describe_state_machine(resource_name)
        except StateMachineDoesNotExist:
            continue
        backend.delete_state_machine(resource_name)


def _cfn_update(
    cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
):
    from moto.stepfunctions.utils import cfn_to_api_tags

    properties = cloudformation_json.get("Properties", {})
    name = properties.get("StateMachineName", original_resource.name)
    if name != original_resource.name:  # a new name replaces it
        new = _cfn_create(cls, name, cloudformation_json, account_id, region_name)
        _cfn_delete(cls, original_resource.arn, cloudformation_json, account_id, region_name)
        return new
    holders = [
        b for b in _all_backends(account_id, region_name) if original_resource in b.state_machines
    ]
    backend = holders[0] if holders else _backend(account_id, region_name)
    machine = backend.update_state_machine(
        original_resource.arn,
        definition=_cfn_definition(properties),
        role_arn=properties.get("RoleArn"),
    )
    backend.tagger.tag_resource(machine.arn, cfn_to_api_tags(properties.get("Tags", [])))
    return machine


def _named_execution(original):
    def start_execution(
        self, state_machine_arn, name=None, execution_input=None, trace_header=None
    ):
        from moto.moto_api._internal import mock_random

        return original(
            self, state_machine_arn, name or str(mock_random.uuid4()), execution_input, trace_header
        )

    return start_execution


def _iterative_map_workers() -> None:
    """moto 5.2.5's Map workers take their next item by calling themselves, once per item: a
    worker that takes about a thousand items (a batch of 1,000 files at MaxConcurrency 1)
    dies of RecursionError and its execution stays RUNNING for ever. A listing may hold up to
    1,000 files (`files_per_batch`), so: the same steps as moto's `_eval_pool`, as a loop."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        iteration_worker,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
        distributed_item_processor_worker as distributed_processor,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iterator import (
        distributed_iterator_worker as distributed_iterator,
    )

    def inline_pool(self, job, worker_frame) -> None:
        while True:
            if job is None:
                self._env.close_frame(worker_frame)
                return
            job_frame = worker_frame.open_inner_frame()
            self._eval_job(env=job_frame, job=job)
            worker_frame.close_frame(job_frame)
            if isinstance(job.job_output, Exception) or self.stopped():
                self._env.close_frame(worker_frame)
                self._job_pool.close_job(job)
                return
            next_job = self._job_pool.next_job()
            if next_job is None:
                worker_frame.event_history_context.source_event_id = (
                    job_frame.event_history_context.last_published_event_id
                )
                self._env.close_frame(worker_frame)
                self._job_pool.close_job(job)
                return
            self._job_pool.close_job(job)
            job = next_job

    def distributed_pool(open_job_frame: str):
        def pool(self, job, worker_frame) -> None:
            while True:
                if job is None:
                    self._env.delete_frame(worker_frame)
                    return
                job_frame = getattr(worker_frame, open_job_frame)()
                self._eval_job(env=job_frame, job=job)
                worker_frame.delete_frame(job_frame)
                if isinstance(job.job_output, Exception) or self.stopped():
                    self._env.delete_frame(worker_frame)
                    self._job_pool.close_job(job)
                    return
                next_job = self._job_pool.next_job()
                if next_job is None:
                    self._env.delete_frame(worker_frame)
                    self._job_pool.close_job(job)
                    return
                self._job_pool.close_job(job)
                job = next_job

        return pool

    iteration_worker.IterationWorker._eval_pool = inline_pool
    distributed_processor.DistributedItemProcessorWorker._eval_pool = distributed_pool(
        "open_inner_frame"
    )
    distributed_iterator.DistributedIteratorWorker._eval_pool = distributed_pool("open_frame")


def install() -> None:
    import importlib

    from moto.moto_api._internal.models import MotoAPIBackend
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    for name in _ENGINE_MODULES:
        module = importlib.import_module(name)
        if hasattr(module, "boto_client_for"):
            module.boto_client_for = boto_client_for
    StepFunctionsParserBackend.start_execution = _named_execution(
        StepFunctionsParserBackend.start_execution
    )
    from moto.stepfunctions.models import StateMachine, StepFunctionBackend

    for backend_class in (StepFunctionBackend, StepFunctionsParserBackend):
        backend_class.create_state_machine = _checking_create(backend_class.create_state_machine)
        backend_class.update_state_machine = _checking_update(backend_class.update_state_machine)
    StateMachine.create_from_cloudformation_json = classmethod(_cfn_create)
    StateMachine.update_from_cloudformation_json = classmethod(_cfn_update)
    StateMachine.delete_from_cloudformation_json = classmethod(_cfn_delete)
    original_reset = MotoAPIBackend.reset

    def reset(self: MotoAPIBackend) -> None:
        original_reset(self)
        with _clients_lock:
            _clients.clear()

    MotoAPIBackend.reset = reset
    _cache_json_paths()
    _install_retry_and_tolerance()
    _iterative_map_workers()


def _cache_json_paths() -> None:
    import functools

    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    # A parsed path is never changed by finding or updating with it: one can be shared.
    for module in (json_path, result_path):
        module.parse = functools.lru_cache(maxsize=1024)(module.parse)


def _install_retry_and_tolerance() -> None:
    from moto.moto_api._internal import urls
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as distributed,
    )

    scale = float(os.environ.get("MOTO_PLUGIN_RETRY_SLEEP_SCALE", "1"))
    retrier_decl.time = _ScaledClock(scale)
    urls.url_paths[WAITS_PATH] = list_waits
    component = distributed.DistributedIterationComponent
    component._map_run = _fail_beyond_tolerance(component._map_run)
