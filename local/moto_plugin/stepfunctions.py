"""Step Functions: Retry waits that a test can shorten and read back.

moto 5.2.5's engine really sleeps each Retry interval (after BackoffRate, MaxDelaySeconds
and JitterStrategy). Our production policy (2 s, x2, at most 60 s, 6 attempts, full jitter)
would keep a test of a file that fails every retry waiting about a minute, so with
`MOTO_PLUGIN_RETRY_SLEEP_SCALE` (say 0.01) it sleeps that fraction of each interval instead.
The interval moto computed is unchanged and recorded:
`GET /moto-api/plugin/stepfunctions/retry-waits` lists them (seconds, oldest first), so a test
can check the backoff, the cap and the jitter of the definition it runs.
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


def install() -> None:
    from moto.moto_api._internal import urls
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    scale = float(os.environ.get("MOTO_PLUGIN_RETRY_SLEEP_SCALE", "1"))
    retrier_decl.time = _ScaledClock(scale)
    urls.url_paths[WAITS_PATH] = list_waits
