"""Lambda: the functions' real code on cargo-lambda, with their own roles; queued results.

## The runtime bridge (a server with MOTO_PLUGIN_LAMBDA_WORKSPACE)

Lambda runs a function's code; so does the stand-in, for the workspace's Rust functions.
local/up.sh configures it:

- MOTO_PLUGIN_LAMBDA_WORKSPACE: the repository root, where `cargo lambda watch` builds and
  runs the workspace's bins.
- MOTO_PLUGIN_LAMBDA_BINS: the bins (preprocess,dbprocess,postprocess,migrate); a function
  runs the bin its name ends with (`book-reviews-local-dbprocess` runs dbprocess).
- MOTO_PLUGIN_CARGO_LAMBDA: the cargo-lambda executable (its directory, where zig is too,
  goes first on the child's PATH); default `cargo-lambda` from PATH.
- MOTO_PLUGIN_LAMBDA_CONCURRENCY: instances per function (default 4).
- MOTO_PLUGIN_LAMBDA_PROFILE: the cargo profile the bins are built and run with (default
  dev, the debug builds the tests use; `release` for optimised ones: `make demo-large`).
  `POST /moto-api/plugin/lambda/profile?profile=<name>` changes it while the server runs:
  the runtimes stop, and each function's next invoke builds and starts it with the new one.
- MOTO_PLUGIN_LAMBDA_LOG_DIR: where each runtime logs, as lambda-<region>-<function>.log
  (default: the temporary directory). CARGO_TARGET_DIR is inherited.

The plugin then sets moto's config, at install and after every /moto-api/reset, so that
state machines execute and Lambda uses the simple backend (a function lands in the backend
the config selects when it is created, so this must come before any stack):
`{"stepfunctions": {"execute_state_machine": true}, "lambda": {"use_docker": false}}`.

An Invoke with no queued result (below) starts, on first use, one `cargo lambda watch` for
the function (account, Region, name) on a free port, in its own process group, and keeps
it; a change of the function's environment, role, code or timeout starts a new one. Before
it starts, `cargo build --bin <bin>` builds the function (the same package set every time,
so the watcher's own `cargo run` finds it built), with the profile above. Its environment
file holds the function's variables, AWS_REGION/AWS_DEFAULT_REGION, AWS_ENDPOINT_URL (this server), the credentials of
the function's role (assumed in-process after checking that it trusts lambda.amazonaws.com:
iam.service_credentials), DB_TLS=required with DB_CA_BUNDLE the stand-in's CA when
MOTO_PLUGIN_MARIADB_TLS_DIR names one (local/up.sh; else DB_TLS=disabled) and
RUST_LOG=info unless the function sets it. The answer, as Lambda gives it:

- 200 from the runtime: the function's result.
- the function failed (cargo-lambda: 500 with `{"errorType", "errorMessage"}`): 200 with
  `X-Amz-Function-Error: Unhandled` and that document;
- it ran past its Timeout (cargo-lambda's `--timeout`, 408) or its process exited: 200,
  Unhandled, `Sandbox.Timedout` / `Runtime.ExitError` (the runtime is then restarted);
- anything else (the build failed, the runtime did not start, no connection): a Lambda
  service error, ServiceException (500), naming the log.

cargo-lambda 1.9.2 sends every invocation `Lambda-Runtime-Deadline-Ms: 600000` (a constant,
runtime/functions_router.rs; no flag or variable changes it): functions see a deadline in
1970, i.e. none they can plan by. `--timeout` (the function's Timeout, plus the 10 s Lambda
allows a cold start's init, since cargo-lambda counts the start in it) bounds the call.

`GET /moto-api/plugin/lambda/runtimes` lists the runtimes (function, region, port, pid,
log). /moto-api/reset, deleting the function, and the server's exit (atexit; SIGTERM, which
moto's server turns into an exit) stop them (their whole process group).

## Queued results (every server)

moto 5.2.5's simple backend answers each Invoke with the next result queued through
`POST /moto-api/static/lambda-simple/response` (or, without a workspace, echoes the
payload), and can never fail. To test a state machine's Retry and Catch, a queued result may
instead be an envelope:

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

import atexit
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from moto.awslambda.models import LambdaBackend, LambdaStorage
from moto.awslambda_simple.models import LambdaSimpleBackend, lambda_simple_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import JsonRESTError

from . import iam, rds_endpoints

ENVELOPE = "moto_plugin"
INVOCATIONS_PATH = "{0}/moto-api/plugin/lambda-simple/invocations"
RUNTIMES_PATH = "{0}/moto-api/plugin/lambda/runtimes"
PROFILE_PATH = "{0}/moto-api/plugin/lambda/profile"

ENGINE_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}

# Lambda lets a cold start's init take 10 s outside the function's Timeout; cargo-lambda's
# --timeout counts the start of the function's process in the call.
INIT_ALLOWANCE_S = 10
START_TIMEOUT_S = 120


class LambdaServiceError(JsonRESTError):
    """An error of the Lambda service, not of the function."""

    def __init__(self, code: str, message: str, status: int):
        super().__init__(code, message)
        self.code = status


# --- configuration ---------------------------------------------------------------------------


def workspace() -> Path | None:
    value = os.environ.get("MOTO_PLUGIN_LAMBDA_WORKSPACE", "").strip()
    return Path(value) if value else None


def bins() -> list[str]:
    value = os.environ.get("MOTO_PLUGIN_LAMBDA_BINS", "preprocess,dbprocess,postprocess,migrate")
    return [b.strip() for b in value.split(",") if b.strip()]


def bin_for(function_name: str) -> str | None:
    """The workspace bin a function runs: the one its name ends with (longest first)."""
    for name in sorted(bins(), key=len, reverse=True):
        if function_name == name or function_name.endswith("-" + name):
            return name
    return None


def cargo_lambda() -> str:
    return os.environ.get("MOTO_PLUGIN_CARGO_LAMBDA", "").strip() or "cargo-lambda"


def concurrency() -> int:
    return max(1, int(os.environ.get("MOTO_PLUGIN_LAMBDA_CONCURRENCY", "4")))


_profile_override: str | None = None
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def profile() -> str:
    """The cargo profile of the functions' builds: the override, else the environment's."""
    return _profile_override or os.environ.get("MOTO_PLUGIN_LAMBDA_PROFILE", "").strip() or "dev"


def log_dir() -> Path:
    value = os.environ.get("MOTO_PLUGIN_LAMBDA_LOG_DIR", "").strip()
    path = Path(value) if value else Path(tempfile.gettempdir())
    path.mkdir(parents=True, exist_ok=True)
    return path


def apply_config() -> None:
    """With a workspace: state machines execute, Lambda is the simple backend."""
    if workspace() is None:
        return
    from moto.core.config import default_user_config

    for section, values in ENGINE_CONFIG.items():
        default_user_config[section] = {**default_user_config.get(section, {}), **values}


# Variables of this server's environment a build needs; the function's own environment is
# Lambda's (the env file), not this server's.
_PASSED = {
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "TERM",
    "SHELL", "CC", "CXX", "AR", "LD_LIBRARY_PATH", "PKG_CONFIG_PATH", "SSL_CERT_FILE",
    "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy",
    "no_proxy",
}
_PASSED_PREFIXES = ("CARGO", "RUSTUP", "RUSTC", "RUSTDOC", "RUSTFLAGS", "ZIG", "OPENSSL")


def _child_environment() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key in _PASSED or key.startswith(_PASSED_PREFIXES)
    }
    directory = os.path.dirname(cargo_lambda())
    if directory:
        env["PATH"] = os.pathsep.join([directory, env.get("PATH", os.defpath)])
    return env


# --- the runtimes ----------------------------------------------------------------------------


class RuntimeError_(Exception):
    """The function's runtime could not be built, started or reached."""


def _quiet_dir(root: Path, bin_name: str) -> Path:
    """Where a watcher runs. `cargo lambda watch` watches its working directory, recursively,
    even with --ignore-changes (which filters the events after receiving them: cargo-lambda
    1.9, crates/cargo-lambda-watch/src/watcher.rs and watcher/ignore.rs). In the repository
    root that is every write of MariaDB's files and the functions' logs under .local/,
    received by every watcher (strace, one watcher, a run of 10 files: 45,270 system calls,
    9,615 of them stat; here: about 950, none). The function's own
    package directory holds only its sources, and is under the root, so cargo finds the same
    configuration there; --manifest-path keeps the workspace's package set, so the watcher's
    `cargo run` finds what `cargo build` built."""
    package = root / "lambdas" / bin_name
    return package if (package / "Cargo.toml").is_file() else root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env_line(key: str, value: str) -> str:
    """KEY='value' as cargo-lambda's env-file-reader reads it: a quoted value cannot hold
    its own quote, and `\\n` in it becomes a newline."""
    if "\\n" in value:
        raise RuntimeError_(f"{key}: a value holding \\n cannot go in cargo-lambda's env file")
    for quote in ("'", '"', "`"):
        if quote not in value:
            return f"{key}={quote}{value}{quote}"
    raise RuntimeError_(f"{key}: a value holding ' \" and ` cannot go in cargo-lambda's env file")


_EXIT_LINE = re.compile(r"command (exited|killed|stopped|ended by exception)")


class Runtime:
    def __init__(self, key: tuple[str, str, str], bin_name: str, fingerprint: Any):
        self.key = key
        self.bin = bin_name
        self.fingerprint = fingerprint
        account, region, function = key
        self.log = log_dir() / f"lambda-{region}-{function}.log"
        self.port = 0
        self.process: subprocess.Popen | None = None
        self.env_file: Path | None = None
        self.inflight = 0
        self.retired = False
        self.broken = False
        self.profile = profile()

    def describe(self) -> dict[str, Any]:
        account, region, function = self.key
        return {
            "function": function,
            "region": region,
            "account": account,
            "bin": self.bin,
            "port": self.port,
            "pid": self.process.pid if self.process else None,
            "log": str(self.log),
            "profile": self.profile,
        }

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None and not self.broken

    def start(self, variables: dict[str, str], timeout: int) -> None:
        root = workspace()
        env = _child_environment()
        with open(self.log, "a") as log:
            now = time.strftime("%Y-%m-%d %H:%M:%S")
            log.write(f"\n=== {now} moto_plugin: building {self.bin}\n")
            log.flush()
            with _build_lock:
                built = subprocess.run(
                    [os.environ.get("CARGO", "cargo"), "build", "--profile", self.profile,
                     "--bin", self.bin],
                    cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=log,
                    stderr=subprocess.STDOUT,
                )
            if built.returncode != 0:
                raise RuntimeError_(
                    f"building {self.bin} failed (cargo build exit {built.returncode}); "
                    f"log {self.log}"
                )
            handle, name = tempfile.mkstemp(
                prefix=f"lambda-{self.key[1]}-{self.key[2]}-", suffix=".env"
            )
            self.env_file = Path(name)
            with os.fdopen(handle, "w") as env_file:
                for key, value in sorted(variables.items()):
                    env_file.write(_env_line(key, value) + "\n")
            self.port = _free_port()
            command = [
                cargo_lambda(), "lambda", "watch",
                "--manifest-path", str(root / "Cargo.toml"),
                "--invoke-address", "127.0.0.1", "--invoke-port", str(self.port),
                "--ignore-changes", "--concurrency", str(concurrency()),
                "--profile", self.profile,
                "--timeout", str(timeout + INIT_ALLOWANCE_S),
                "--env-file", name,
            ]
            log.write(f"=== moto_plugin: {' '.join(command)}\n")
            log.flush()
            try:
                self.process = subprocess.Popen(
                    command, cwd=_quiet_dir(root, self.bin), env=env,
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as error:
                raise RuntimeError_(f"starting {command[0]}: {error}; log {self.log}") from None
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError_(
                    f"cargo lambda watch for {self.key[2]} exited ({self.process.returncode}); "
                    f"log {self.log}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError_(
                    f"cargo lambda watch for {self.key[2]} did not listen within "
                    f"{START_TIMEOUT_S} s; log {self.log}"
                )
            time.sleep(0.1)

    def terminate(self) -> None:
        """Asks the whole process group (the watcher and the functions it started) to stop."""
        if self.process is not None and self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def stop(self, grace: float = 5) -> None:
        """Stops the process group: SIGTERM, then SIGKILL after `grace` seconds."""
        self.terminate()
        process, self.process = self.process, None
        if process is not None:
            try:
                process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
            # What is left of the group: the watcher, or functions it left behind.
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.env_file is not None:
            self.env_file.unlink(missing_ok=True)
            self.env_file = None
        with _runtimes_lock:
            _live.discard(self)

    def invoke(self, payload: bytes, timeout: int) -> tuple[int, bytes]:
        """POSTs the event; watches the log for the function's process exiting meanwhile."""
        result: dict[str, Any] = {}
        done = threading.Event()
        offset = self.log.stat().st_size if self.log.exists() else 0

        def call() -> None:
            connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=timeout + INIT_ALLOWANCE_S + 30
            )
            try:
                connection.request(
                    "POST", f"/2015-03-31/functions/{self.bin}/invocations", body=payload,
                    headers={"Content-Type": "application/json"},
                )
                response = connection.getresponse()
                result["answer"] = (response.status, response.read())
            except OSError as error:
                result["error"] = error
            finally:
                connection.close()
                done.set()

        threading.Thread(target=call, daemon=True, name=f"invoke-{self.key[2]}").start()
        seen = ""  # the log's last unfinished line
        while not done.wait(0.25):
            process = self.process
            if process is None or process.poll() is not None:
                raise RuntimeError_(f"cargo lambda watch for {self.key[2]} stopped; log {self.log}")
            offset, text = self._read_log(offset)
            lines = (seen + text).split("\n")
            seen = lines.pop()
            exited = next((line.strip() for line in lines if _EXIT_LINE.search(line)), None)
            if exited:
                self.broken = True
                return 599, exited.encode()
        if "error" in result:
            raise RuntimeError_(
                f"no answer from cargo lambda watch for {self.key[2]}: {result['error']}; "
                f"log {self.log}"
            )
        return result["answer"]

    def _read_log(self, offset: int) -> tuple[int, str]:
        """What the log gained since `offset`, and the new offset."""
        try:
            with open(self.log, "rb") as log:
                log.seek(offset)
                data = log.read()
        except OSError:
            return offset, ""
        return offset + len(data), data.decode("utf-8", "replace")


_build_lock = threading.Lock()
_runtimes_lock = threading.Lock()
# The current runtime of each function; _live also holds replaced ones still answering.
_runtimes: dict[tuple[str, str, str], Runtime] = {}
_live: set[Runtime] = set()
_start_locks: dict[tuple[str, str, str], threading.Lock] = {}


def _fingerprint(fn: Any, credentials: Any) -> Any:
    return (
        credentials.access_key_id,
        json.dumps(fn.environment_vars or {}, sort_keys=True),
        fn.role,
        getattr(fn, "code_sha_256", None),
        getattr(fn, "last_modified", None),
        fn.timeout,
    )


def _variables(fn: Any, region: str, credentials: Any) -> dict[str, str]:
    from moto.settings import moto_server_port

    variables = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
    variables.update(
        {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{moto_server_port()}",
            "AWS_ACCESS_KEY_ID": credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
            "AWS_SESSION_TOKEN": credentials.session_token,
        }
    )
    # TLS to the cluster endpoints as on AWS, trusting the stand-in's CA instead of the RDS
    # bundle (rds_endpoints.py, "TLS"); plain only when the stand-in has no certificates.
    tls = rds_endpoints.tls_directory()
    if tls:
        variables.update({"DB_TLS": "required", "DB_CA_BUNDLE": os.path.join(tls, "ca.pem")})
    else:
        variables["DB_TLS"] = "disabled"
    variables.setdefault("RUST_LOG", "info")
    return variables


def _acquire(fn: Any, account: str, region: str) -> Runtime:
    """The function's runtime, started if need be, with one more invocation counted on it."""
    key = (account, region, fn.function_name)
    with _runtimes_lock:
        start_lock = _start_locks.setdefault(key, threading.Lock())
    with start_lock:
        try:
            credentials = iam.service_credentials(
                fn.role, iam.LAMBDA, fn.function_name, region, fn.function_arn
            )
        except iam.ServiceRoleError as error:
            raise LambdaServiceError(
                "InvalidParameterValueException",
                f"The role defined for the function cannot be assumed by Lambda ({error}).",
                400,
            ) from None
        fingerprint = _fingerprint(fn, credentials)
        with _runtimes_lock:
            runtime = _runtimes.get(key)
            if runtime is not None and runtime.fingerprint == fingerprint and runtime.alive():
                runtime.inflight += 1
                return runtime
            if runtime is not None:
                _retire(runtime)
        bin_name = bin_for(fn.function_name)
        if bin_name is None:
            raise LambdaServiceError(
                "ServiceException",
                f"{fn.function_name} runs none of the workspace's bins ({','.join(bins())}): "
                "the stand-in runs a function whose name ends with -<bin>",
                500,
            )
        runtime = Runtime(key, bin_name, fingerprint)
        try:
            runtime.start(_variables(fn, region, credentials), int(fn.timeout or 3))
        except RuntimeError_ as error:
            runtime.stop()
            raise LambdaServiceError("ServiceException", str(error), 500) from None
        with _runtimes_lock:
            _runtimes[key] = runtime
            _live.add(runtime)
            runtime.inflight += 1
        return runtime


def _retire(runtime: Runtime) -> None:
    """Called with _runtimes_lock: stops it now, or when its last invocation ends."""
    runtime.retired = True
    if _runtimes.get(runtime.key) is runtime:
        del _runtimes[runtime.key]
    if runtime.inflight == 0:
        threading.Thread(target=runtime.stop, daemon=True).start()


def _release(runtime: Runtime) -> None:
    with _runtimes_lock:
        runtime.inflight -= 1
        if runtime.broken and not runtime.retired:
            _retire(runtime)
        elif runtime.retired and runtime.inflight == 0:
            threading.Thread(target=runtime.stop, daemon=True).start()


def stop_runtime(account: str, region: str, function_name: str) -> None:
    with _runtimes_lock:
        runtime = _runtimes.get((account, region, function_name))
        if runtime is not None:
            runtime.retired = True
            del _runtimes[runtime.key]
    if runtime is not None:
        runtime.stop()


def stop_all() -> None:
    """Every runtime, all at once (reset, exit)."""
    with _runtimes_lock:
        runtimes = list(_live)
        _runtimes.clear()
    for runtime in runtimes:
        runtime.retired = True
        runtime.terminate()
    deadline = time.monotonic() + 5
    for runtime in runtimes:
        runtime.stop(grace=max(0.0, deadline - time.monotonic()))


def _function_error(error_type: str, message: str, response_headers: Any) -> bytes:
    response_headers["x-amz-function-error"] = "Unhandled"
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def run_function(backend: Any, fn: Any, body: Any, headers: Any, response_headers: Any) -> bytes:
    """Invokes the function's code on its runtime; Lambda's answer."""
    payload = body.encode("utf-8") if isinstance(body, str) else (body or b"")
    invocation_type = headers.get("X-Amz-Invocation-Type", "RequestResponse")
    account, region = backend.account_id, backend.region_name
    if invocation_type == "DryRun":
        return b""
    runtime = _acquire(fn, account, region)
    timeout = int(fn.timeout or 3)
    request_id = str(uuid.uuid4())

    def answer() -> bytes:
        try:
            status, content = runtime.invoke(payload or b"{}", timeout)
        except RuntimeError_ as error:
            raise LambdaServiceError("ServiceException", str(error), 500) from None
        finally:
            _release(runtime)
        if status == 200:
            return content
        if status == 500:
            try:
                document = json.loads(content)
            except ValueError:
                document = None
            if isinstance(document, dict) and "errorType" in document:
                response_headers["x-amz-function-error"] = "Unhandled"
                return content
        if status == 408:
            return _function_error(
                "Sandbox.Timedout",
                f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds",
                response_headers,
            )
        if status == 599:
            code = re.search(r"code=(?:ExitError\()?(-?\d+)", content.decode())
            how = f"with error: exit status {code.group(1)}" if code else "without a status"
            return _function_error(
                "Runtime.ExitError",
                f"RequestId: {request_id} Error: Runtime exited {how} (log {runtime.log})",
                response_headers,
            )
        raise LambdaServiceError(
            "ServiceException",
            f"cargo lambda watch answered HTTP {status}: {content[:300]!r}; log {runtime.log}",
            500,
        )

    if invocation_type == "Event":
        def background() -> None:
            try:
                answer()
            except Exception:  # noqa: BLE001 - an asynchronous invoke's failure: see its log
                pass

        threading.Thread(target=background, daemon=True, name=f"event-{fn.function_name}").start()
        return b""
    return answer()


def list_runtimes(request: Any, full_url: str, headers: Any):
    with _runtimes_lock:
        body = json.dumps({"runtimes": [r.describe() for r in _runtimes.values()]})
    return 200, {"Content-Type": "application/json"}, body


def set_profile(request: Any, full_url: str, headers: Any):
    """POST ?profile=<name>: the profile of the runtimes started from now on; the running
    ones stop (an invoke in flight on one gets its answer first: _retire)."""
    global _profile_override
    if getattr(request, "method", "POST") == "POST":
        name = parse_qs(urlparse(full_url).query).get("profile", [""])[0]
        if not _PROFILE_NAME.match(name):
            return 400, {"Content-Type": "application/json"}, json.dumps(
                {"error": f"not a cargo profile name: {name!r}"}
            )
        with _runtimes_lock:
            _profile_override = name
            for runtime in list(_runtimes.values()):
                _retire(runtime)
    return 200, {"Content-Type": "application/json"}, json.dumps({"profile": profile()})


# --- the simple backend --------------------------------------------------------------------


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
        if workspace() is not None:
            fn = self.get_function(function_name, qualifier)  # ResourceNotFoundException, 404
            return run_function(self, fn, body, headers, response_headers)
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


# --- the function's role -----------------------------------------------------------------------


def _checking_put_function(original):
    """CreateFunction (and CloudFormation) refuse a role Lambda cannot assume: while IAM is
    enforced, also one whose trust policy does not name lambda.amazonaws.com."""

    def put_function(self: LambdaStorage, fn: Any) -> None:
        _check_role(fn.role, fn.region, fn.function_arn)
        return original(self, fn)

    return put_function


def _check_role(role_arn: str, region: str, function_arn: str | None) -> None:
    from moto.awslambda.exceptions import InvalidParameterValueException

    if not iam.enforcing():
        return
    try:
        iam.service_credentials(role_arn, iam.LAMBDA, "lambda-validation", region, function_arn)
    except iam.ServiceRoleError:
        raise InvalidParameterValueException(
            "The role defined for the function cannot be assumed by Lambda."
        ) from None


def _checking_update_configuration(original):
    def update_function_configuration(
        self: LambdaBackend, function_name: str, qualifier: str, body: dict
    ):
        if body.get("Role"):
            fn = self.get_function(function_name, qualifier)
            _check_role(body["Role"], self.region_name, fn.function_arn)
        return original(self, function_name, qualifier, body)

    return update_function_configuration


def _stopping_delete(original):
    def delete_function(
        self: LambdaBackend, function_name: str, qualifier: str | None = None
    ) -> None:
        try:
            name = self.get_function(function_name, qualifier).function_name
        except Exception:  # noqa: BLE001 - moto's own error follows
            name = None
        original(self, function_name, qualifier)
        if name and not qualifier:
            stop_runtime(self.account_id, self.region_name, name)

    return delete_function


def install() -> None:
    from moto.moto_api._internal import urls
    from moto.moto_api._internal.models import MotoAPIBackend

    LambdaSimpleBackend.invoke = invoke
    LambdaStorage.put_function = _checking_put_function(LambdaStorage.put_function)
    LambdaBackend.update_function_configuration = _checking_update_configuration(
        LambdaBackend.update_function_configuration
    )
    LambdaBackend.delete_function = _stopping_delete(LambdaBackend.delete_function)
    # Read when moto's server builds its moto-api app, i.e. after install().
    urls.url_paths[INVOCATIONS_PATH] = list_invocations
    urls.url_paths[RUNTIMES_PATH] = list_runtimes
    urls.url_paths[PROFILE_PATH] = set_profile

    apply_config()
    original_reset = MotoAPIBackend.reset

    def reset(self: MotoAPIBackend) -> None:
        stop_all()
        original_reset(self)
        apply_config()

    MotoAPIBackend.reset = reset
    atexit.register(stop_all)
