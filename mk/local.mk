# Local stand-ins for AWS, on 127.0.0.1 only: moto server with the project's
# plugin (local/moto_plugin) on 5000, MariaDB on 3307. moto enforces IAM (administrator key
# test/test) and its Lambda runs the workspace's functions on cargo-lambda (CARGO_LAMBDA,
# mk/lambdas.mk), each with its own role's credentials. State: .local/ (run/ PID files,
# log/ including the functions' lambda-<region>-<function>.log, mariadb/ data). Ports can be
# moved with MOTO_PORT=... MARIADB_PORT=...

.PHONY: local-up
local-up: $(VENV)/.installed $(CARGO_LAMBDA) ## start moto (with our plugin) and MariaDB on 127.0.0.1
	VENV=$(VENV) bash local/up.sh

# What the tests that take a service's address (the functions' tests, the plugin's TLS
# test) are given, unless set already: the stand-in local-up started (.local/run/stand-in.env,
# which follows MOTO_PORT and MARIADB_PORT) rather than their defaults, 5000 and 3307, which
# another clone's stand-in may hold.
STAND_IN_ADDRESSES := if [ -f .local/run/stand-in.env ]; then . .local/run/stand-in.env; fi; \
  export DEPLOY_TEST_MYSQL_URL="$${DEPLOY_TEST_MYSQL_URL:-mysql://root@127.0.0.1:$${MARIADB_PORT:-3307}/}" \
  DEPLOY_TEST_S3_ENDPOINT="$${DEPLOY_TEST_S3_ENDPOINT:-$${MOTO_URL:-http://127.0.0.1:5000}}";

.PHONY: local-down
local-down: ## stop what local-up started (by PID file)
	VENV=$(VENV) bash local/down.sh

# Runs the plugin's tests against a real moto server each test session starts on a free
# port. Every non-zero pytest status fails the target, 5 ("no tests collected") included:
# a suite that collects nothing must not pass.
.PHONY: test-local-plugin
# The functions' runtime test (test_lambda_runtime.py) runs preprocess on cargo-lambda.
test-local-plugin: $(VENV)/.installed $(CARGO_LAMBDA) ## test the moto plugin and the state machine (rendered by `cargo run`) against a real moto server
	$(STAND_IN_ADDRESSES) cd local && $(VENV)/bin/python -m pytest
