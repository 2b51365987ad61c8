# Shared by up.sh and down.sh: paths, PID files and waiting. Sourced, not run.
# Everything binds to 127.0.0.1 only; state lives under .local/ (gitignored).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
STATE_DIR=${LOCAL_STATE_DIR:-$ROOT/.local}
RUN_DIR=$STATE_DIR/run   # PID files (and MariaDB's socket)
LOG_DIR=$STATE_DIR/log
MOTO_PORT=${MOTO_PORT:-5000}
MARIADB_PORT=${MARIADB_PORT:-3307}
MARIADB_DATA=$STATE_DIR/mariadb
MARIADB_SOCKET=$RUN_DIR/mariadb.sock
# The stand-in's certificate authority and MariaDB's server certificate (up.sh makes them on
# first start): Aurora's connections are TLS, and so are the functions' here.
TLS_DIR=$STATE_DIR/tls
STARTUP_TIMEOUT=${LOCAL_STARTUP_TIMEOUT:-60}
# The stand-in's Lambda runs these workspace bins on cargo-lambda (mk/lambdas.mk installs it
# and exports CARGO_LAMBDA); CARGO_TARGET_DIR, when set, is where they are built.
CARGO_LAMBDA=${CARGO_LAMBDA:-$HOME/.cache/deploy-tools/cargo-lambda-1.9.2/bin/cargo-lambda}
LAMBDA_BINS=${LAMBDA_BINS:-preprocess,dbprocess,postprocess,migrate}
LAMBDA_CONCURRENCY=${LAMBDA_CONCURRENCY:-4}
# The cargo profile the functions run with: dev (debug builds), or release (optimised;
# `make demo-large` switches a running stand-in to it, awslambda.py's /profile).
LAMBDA_PROFILE=${LAMBDA_PROFILE:-dev}

say() { printf 'local: %s\n' "$*"; }
die() { printf 'local: error: %s\n' "$*" >&2; exit 1; }

# The PID in $1 (a PID file) if that process is alive and its command line contains $2:
# a stale file whose PID was reused by something else does not count.
live_pid() {
  local pid_file=$1 marker=$2 pid
  [[ -s $pid_file ]] || return 1
  pid=$(<"$pid_file")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$marker" || return 1
  echo "$pid"
}

port_busy() {
  ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

# wait_for NAME PID LOG COMMAND...: run COMMAND until it succeeds, the process dies, or
# STARTUP_TIMEOUT passes; on failure show the end of the service's log.
wait_for() {
  local name=$1 pid=$2 log=$3; shift 3
  local deadline=$((SECONDS + STARTUP_TIMEOUT))
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      printf 'local: error: %s exited during startup; last lines of %s:\n' "$name" "$log" >&2
      tail -n 40 "$log" >&2 || true
      exit 1
    fi
    if ((SECONDS >= deadline)); then
      printf 'local: error: %s did not answer within %ss; last lines of %s:\n' \
        "$name" "$STARTUP_TIMEOUT" "$log" >&2
      tail -n 40 "$log" >&2 || true
      exit 1
    fi
    sleep 0.2
  done
}

# stop NAME PID_FILE MARKER: stop the process this tooling started, if it still runs.
stop() {
  local name=$1 pid_file=$2 marker=$3 pid
  if ! pid=$(live_pid "$pid_file" "$marker"); then
    [[ -e $pid_file ]] && rm -f "$pid_file"
    say "$name not running"
    return 0
  fi
  kill -TERM "$pid"
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      say "$name (pid $pid) ignored SIGTERM for 30s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$pid_file"
  say "$name stopped (pid $pid)"
}
