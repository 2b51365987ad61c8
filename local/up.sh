#!/usr/bin/env bash
# Start the local stand-ins for AWS on 127.0.0.1: `make local-up`.
# Idempotent: a service already running from an earlier run is detected (PID file plus
# command line) and left alone. Stop them with local/down.sh (`make local-down`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "$RUN_DIR" "$LOG_DIR"
PY=$VENV/bin/python
[[ -x $PY ]] || die "no Python venv at $VENV; run 'make local-up' (it installs requirements-dev.txt)"

http_ok() { "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$1"; }
http_post() {
  "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="POST"), timeout=5)' "$1"
}

# --- TLS: a certificate authority of the stand-in's own ---------------------------------
# Aurora MySQL serves TLS with certificates of the RDS CAs, and the application user
# connects with REQUIRE SSL. Here: a CA made once under $TLS_DIR (kept with the state), a
# server certificate for MariaDB (127.0.0.1), and the CA's key for the endpoint gateway,
# which issues each cluster endpoint a certificate for its addresses
# (local/moto_plugin/rds_endpoints.py). The functions trust ca.pem (DB_CA_BUNDLE, set by
# the plugin's Lambda), as they trust the RDS bundle on AWS.
make_certificates() {
  [[ -s $TLS_DIR/ca.pem && -s $TLS_DIR/server.pem && -s $TLS_DIR/server-key.pem ]] && return 0
  command -v openssl >/dev/null || die "openssl is missing (it makes the stand-in's TLS certificates)"
  say "making the stand-in's certificate authority and MariaDB's certificate in $TLS_DIR"
  mkdir -p "$TLS_DIR"
  chmod 700 "$TLS_DIR"
  local log=$LOG_DIR/tls.log
  {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=deploy local stand-in CA" -keyout "$TLS_DIR/ca-key.pem" -out "$TLS_DIR/ca.pem" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" &&
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -subj "/CN=127.0.0.1" -keyout "$TLS_DIR/server-key.pem" -out "$TLS_DIR/server.csr" &&
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$TLS_DIR/server.ext" &&
    openssl x509 -req -in "$TLS_DIR/server.csr" -CA "$TLS_DIR/ca.pem" -CAkey "$TLS_DIR/ca-key.pem" \
      -set_serial "0x$(openssl rand -hex 16)" -days 3650 -sha256 -extfile "$TLS_DIR/server.ext" \
      -out "$TLS_DIR/server.pem"
  } >>"$log" 2>&1 || { tail -n 20 "$log" >&2; die "making the TLS certificates failed"; }
  rm -f "$TLS_DIR/server.csr" "$TLS_DIR/server.ext"
}

# --- moto server with the project's plugin (local/moto_plugin) -------------------------
start_moto() {
  local pid_file=$RUN_DIR/moto.pid log=$LOG_DIR/moto.log url=http://127.0.0.1:$MOTO_PORT pid
  if pid=$(live_pid "$pid_file" "moto_plugin"); then
    say "moto already running (pid $pid) on $url"
    return 0
  fi
  port_busy "$MOTO_PORT" && die "port $MOTO_PORT is taken by a process local-up did not start: $(ss -Hltnp "sport = :$MOTO_PORT")"
  [[ -x $CARGO_LAMBDA ]] || die "no cargo-lambda at $CARGO_LAMBDA (the stand-in's Lambda runs the functions on it); run 'make local-up', which installs it, or set CARGO_LAMBDA"
  # `python -m moto_plugin` installs the plugin, then runs moto's own server main.
  # IAM is enforced from the first request (the administrator is test/test), and Lambda runs
  # the workspace's functions on cargo-lambda (local/moto_plugin/iam.py, awslambda.py).
  # MOTO_S3_DEFAULT_KEY_BUFFER_SIZE: moto keeps an object up to this size in memory, larger
  # ones in a temporary file (default 5 MiB); writing each 6.4 MB file of `make demo-large`
  # to disk cost 18 ms an upload or copy.
  ( cd "$ROOT/local" && MOTO_PLUGIN_MARIADB=127.0.0.1:$MARIADB_PORT PYTHONPATH=$ROOT/local \
      MOTO_S3_DEFAULT_KEY_BUFFER_SIZE=$((64 * 1024 * 1024)) \
      MOTO_PLUGIN_MARIADB_TLS_DIR=$TLS_DIR \
      INITIAL_NO_AUTH_ACTION_COUNT=0 \
      MOTO_PLUGIN_LAMBDA_WORKSPACE=$ROOT MOTO_PLUGIN_LAMBDA_BINS=$LAMBDA_BINS \
      MOTO_PLUGIN_CARGO_LAMBDA=$CARGO_LAMBDA MOTO_PLUGIN_LAMBDA_LOG_DIR=$LOG_DIR \
      MOTO_PLUGIN_LAMBDA_CONCURRENCY=$LAMBDA_CONCURRENCY MOTO_PLUGIN_LAMBDA_PROFILE=$LAMBDA_PROFILE \
      exec setsid "$PY" -m moto_plugin -H 127.0.0.1 -p "$MOTO_PORT" </dev/null >>"$log" 2>&1 ) &
  pid=$!
  echo "$pid" >"$pid_file"
  wait_for moto "$pid" "$log" http_ok "$url/moto-api/"
  # A fresh, seeded state gives the same generated IDs on every run.
  http_post "$url/moto-api/reset"
  http_post "$url/moto-api/seed?a=42"
  # moto makes each Region's default VPC on first use, with the next seeded ID: touch the
  # Regions in a fixed order so environments/local.yaml can name their VPCs.
  "$PY" - "$url" <<'PY'
import sys, boto3
for region in ("us-east-1", "us-east-2", "us-west-2", "eu-west-1"):
    boto3.client("ec2", region_name=region, endpoint_url=sys.argv[1],
                 aws_access_key_id="test", aws_secret_access_key="test").describe_vpcs()
PY
  say "moto started (pid $pid) on $url, IAM enforced (administrator key test/test); log: $log; functions log to $LOG_DIR/lambda-<region>-<function>.log"
}

# --- MariaDB standing in for Aurora MySQL ------------------------------------------------
install_mariadb() {
  command -v mariadbd >/dev/null && command -v mariadb-install-db >/dev/null && return 0
  [[ -x /usr/sbin/mariadbd ]] && export PATH=$PATH:/usr/sbin && return 0
  ((EUID == 0)) || die "mariadbd is missing; install Debian's mariadb-server (needs root)"
  say "installing Debian's mariadb-server"
  # Keep the package's post-install from starting a system-wide server on 3306:
  # policy-rc.d exit 101 tells invoke-rc.d not to start services (Debian policy 9.3.3).
  local policy=/usr/sbin/policy-rc.d made_policy=
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
  fi
  local status=0
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends mariadb-server mariadb-client; } >>"$LOG_DIR/apt.log" 2>&1 || status=$?
  [[ -n $made_policy ]] && rm -f "$policy"
  ((status == 0)) || { tail -n 30 "$LOG_DIR/apt.log" >&2; die "apt-get install mariadb-server failed"; }
  command -v mariadbd >/dev/null || export PATH=$PATH:/usr/sbin
}

mariadb_socket_sql() { mariadb --no-defaults --protocol=socket --socket="$MARIADB_SOCKET" -uroot "$@"; }
mariadb_tcp_ok() { mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P "$MARIADB_PORT" -uroot -e 'SELECT 1'; }

start_mariadb() {
  local pid_file=$RUN_DIR/mariadb.pid log=$LOG_DIR/mariadb.log pid
  if pid=$(live_pid "$pid_file" "mariadbd"); then
    say "MariaDB already running (pid $pid) on 127.0.0.1:$MARIADB_PORT"
    return 0
  fi
  port_busy "$MARIADB_PORT" && die "port $MARIADB_PORT is taken by a process local-up did not start: $(ss -Hltnp "sport = :$MARIADB_PORT")"
  install_mariadb
  if [[ ! -d $MARIADB_DATA/mysql ]]; then
    say "initialising MariaDB data dir $MARIADB_DATA"
    mkdir -p "$MARIADB_DATA"
    mariadb-install-db --no-defaults --user=root --datadir="$MARIADB_DATA" \
      --skip-test-db >>"$log" 2>&1 || { tail -n 30 "$log" >&2; die "mariadb-install-db failed"; }
  fi
  # InnoDB as Aurora's instances run it, not as a small server's defaults: a buffer pool
  # that holds the working set (Aurora's default is 3/4 of the instance's memory, AWS
  # Database blog, "Best practices for Amazon Aurora MySQL database configuration") and no
  # doublewrite or checkpoint flushing to wait on (Aurora writes only log records to its
  # cluster volume: Aurora user guide, "Amazon Aurora storage and reliability"). MariaDB's
  # 128 MiB pool and 96 MiB redo log are smaller than make demo-large's 600,000 rows
  # (about 450 MB), which InnoDB then flushed and evicted while they were being written.
  # --skip-name-resolve: a TCP client from 127.0.0.1 then matches 'root'@'127.0.0.1'
  # (created below) and never 'root'@'localhost' (unix_socket authentication only).
  # Our own PID file: mariadbd writes it itself, so it is the server's PID.
  setsid mariadbd --no-defaults --user=root --datadir="$MARIADB_DATA" \
    --port="$MARIADB_PORT" --bind-address=127.0.0.1 --socket="$MARIADB_SOCKET" \
    --pid-file="$pid_file" --skip-name-resolve --log-error="$log" \
    --ssl-ca="$TLS_DIR/ca.pem" --ssl-cert="$TLS_DIR/server.pem" --ssl-key="$TLS_DIR/server-key.pem" \
    --innodb-buffer-pool-size=1G --innodb-log-file-size=1G --innodb-doublewrite=0 \
    </dev/null >>"$log" 2>&1 &
  pid=$!
  echo "$pid" >"$pid_file"
  wait_for MariaDB "$pid" "$log" mariadb_socket_sql -e 'SELECT 1'
  # Tests and the local Lambdas connect as root over TCP from 127.0.0.1 without a
  # password (local only, bound to 127.0.0.1): a root@127.0.0.1 account with an empty
  # mysql_native_password, the plugin Aurora MySQL 2/3 clients also speak.
  mariadb_socket_sql -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('');
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;"
  wait_for MariaDB "$pid" "$log" mariadb_tcp_ok
  say "MariaDB started (pid $pid) on 127.0.0.1:$MARIADB_PORT with TLS (CA $TLS_DIR/ca.pem); data: $MARIADB_DATA; log: $log"
}

make_certificates
start_moto
start_mariadb
# Where they listen, for the tests (tests/it/common.rs reads it): the ports follow
# MOTO_PORT and MARIADB_PORT, so a second stand-in on other ports needs no other change.
printf '%s\n' "# written by local/up.sh" "MOTO_URL=http://127.0.0.1:$MOTO_PORT" \
  "MARIADB_PORT=$MARIADB_PORT" >"$RUN_DIR/stand-in.env"
