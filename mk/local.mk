# Local stand-ins for AWS, on 127.0.0.1 only: moto server with the project's
# plugin (local/moto_plugin) on 5000, MariaDB on 3307. moto enforces IAM (administrator key
# test/test) and its Lambda runs the workspace's functions on cargo-lambda (CARGO_LAMBDA,
# mk/lambdas.mk), each with its own role's credentials. State: .local/ (run/ PID files,
# log/ including the functions' lambda-<region>-<function>.log, mariadb/ data). Ports can be
# moved with MOTO_PORT=... MARIADB_PORT=...

.PHONY: local-up
local-up: $(VENV)/.installed $(CARGO_LAMBDA) ## start moto (with our plugin) and MariaDB on 127.0.0.1
	VENV=$(VENV) bash local/up.sh

.PHONY: local-down
local-down: ## stop what local-up started (by PID file)
	VENV=$(VENV) bash local/down.sh

# Runs the plugin's tests against a real moto server each test session starts on a free
# port. Every non-zero pytest status fails the target, 5 ("no tests collected") included:
# a suite that collects nothing must not pass.
.PHONY: test-local-plugin
# The functions' runtime test (test_lambda_runtime.py) runs preprocess on cargo-lambda.
test-local-plugin: $(VENV)/.installed $(CARGO_LAMBDA) ## test the moto plugin and the state machine (rendered by `cargo run`) against a real moto server
	cd local && $(VENV)/bin/python -m pytest
