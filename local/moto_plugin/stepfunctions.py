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
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

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


def install() -> None:
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
