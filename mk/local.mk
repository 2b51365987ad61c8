# Local stand-ins for AWS (DESIGN §7), on 127.0.0.1 only: moto server with the project's
# plugin (local/moto_plugin) on 5000, MariaDB on 3307. The functions need no service here: deploy starts a
# `cargo lambda watch` per Region when it invokes them (src/functions.rs). State: .local/ (run/ PID files,
# log/, mariadb/ data). Ports can be moved with MOTO_PORT=... MARIADB_PORT=...

.PHONY: local-up
local-up: $(VENV)/.installed ## start moto (with our plugin) and MariaDB on 127.0.0.1
	VENV=$(VENV) bash local/up.sh

.PHONY: local-down
local-down: ## stop what local-up started (by PID file)
	VENV=$(VENV) bash local/down.sh

# Runs the plugin's tests against a real moto server each test session starts on a free
# port. Every non-zero pytest status fails the target, 5 ("no tests collected") included:
# a suite that collects nothing must not pass.
.PHONY: test-local-plugin
test-local-plugin: $(VENV)/.installed ## test the moto plugin and the state machine (rendered by `cargo run`) against a real moto server
	cd local && $(VENV)/bin/python -m pytest
