#!/usr/bin/env bash
# Stop what local/up.sh started (`make local-down`), by PID file only; idempotent.
# Data (.local/mariadb) and logs (.local/log) are kept; remove .local/ to start afresh.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Reverse order of up.sh.
stop MariaDB "$RUN_DIR/mariadb.pid" mariadbd
stop moto "$RUN_DIR/moto.pid" moto_plugin
