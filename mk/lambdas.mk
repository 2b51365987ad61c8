# The Rust Lambda functions (lambdas/): reproducible bootstrap zips, and the ingest benchmark.

LAMBDA_FUNCTIONS := preprocess dbprocess postprocess migrate
# arm64 (Graviton) unless asked otherwise: `make lambdas LAMBDA_ARCH=x86_64`.
LAMBDA_ARCH ?= arm64
# provided.al2023 (Amazon Linux 2023) ships glibc 2.34.
LAMBDA_MAX_GLIBC := 2.34
LAMBDA_OUT := $(CURDIR)/target/lambda/$(LAMBDA_ARCH)
# cargo-lambda and zig, pinned, in a venv of their own (cargo-lambda builds with cargo-zigbuild).
CARGO_LAMBDA_VERSION := 1.9.2
ZIGLANG_VERSION := 0.14.1
LAMBDAS_VENV := $(TOOLS)/cargo-lambda-$(CARGO_LAMBDA_VERSION)
CARGO_LAMBDA := $(LAMBDAS_VENV)/bin/cargo-lambda
# deploy starts `cargo lambda watch` itself for environments with `endpoints.lambda: cargo-lambda`.
export CARGO_LAMBDA
# Put an RDS CA bundle here (global-bundle.pem from AWS) to ship it in the dbprocess and
# migrate zips as rds-global-bundle.pem; see lambdas/README.md.
RDS_CA_BUNDLE ?= lambdas/reviews/certs/rds-global-bundle.pem

$(CARGO_LAMBDA):
	python3 -m venv $(LAMBDAS_VENV)
	$(LAMBDAS_VENV)/bin/pip install --quiet 'cargo-lambda==$(CARGO_LAMBDA_VERSION)' 'ziglang==$(ZIGLANG_VERSION)'

.PHONY: lambdas
lambdas: $(CARGO_LAMBDA) ## build the Lambda functions as reproducible bootstrap zips under target/lambda/ (LAMBDA_ARCH=arm64|x86_64)
	@if [ "$(LAMBDA_ARCH)" = arm64 ] && ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then \
	  echo "installing the aarch64 Rust standard library for the arm64 functions (rustup target add aarch64-unknown-linux-gnu)" >&2; \
	  rustup target add aarch64-unknown-linux-gnu || { \
	  echo "arm64 needs the aarch64 Rust standard library and rustup could not install it; or choose x86_64: set pipeline.architecture: x86_64 in the environment file, or LAMBDA_ARCH=x86_64 for make" >&2; exit 1; }; fi
	rm -rf $(LAMBDA_OUT)/build && mkdir -p $(LAMBDA_OUT)
	PATH="$(LAMBDAS_VENV)/bin:$$PATH" CARGO_PROFILE_RELEASE_STRIP=symbols \
	  $(CARGO_LAMBDA) lambda build --release $(if $(filter arm64,$(LAMBDA_ARCH)),--arm64,--x86-64) --lambda-dir $(LAMBDA_OUT)/build \
	  $(addprefix -p ,$(LAMBDA_FUNCTIONS))
	scripts/lambdas-glibc-check.sh $(LAMBDA_MAX_GLIBC) $(foreach f,$(LAMBDA_FUNCTIONS),$(LAMBDA_OUT)/build/$(f)/bootstrap)
	@for f in $(LAMBDA_FUNCTIONS); do \
	  extra=""; if [ -f "$(RDS_CA_BUNDLE)" ] && { [ $$f = dbprocess ] || [ $$f = migrate ]; }; then \
	    cp "$(RDS_CA_BUNDLE)" $(LAMBDA_OUT)/build/rds-global-bundle.pem; extra=$(LAMBDA_OUT)/build/rds-global-bundle.pem; fi; \
	  mkdir -p $(LAMBDA_OUT)/$$f; \
	  scripts/lambdas-zip.py $(LAMBDA_OUT)/build/$$f/bootstrap $(LAMBDA_OUT)/$$f/bootstrap.zip $$extra; \
	  printf '%-12s %9s bytes  sha256 %s\n' $$f $$(stat -c %s $(LAMBDA_OUT)/$$f/bootstrap.zip) $$(sha256sum $(LAMBDA_OUT)/$$f/bootstrap.zip | cut -c1-64); \
	done

.PHONY: bench-lambdas
bench-lambdas: ## benchmark review ingestion against AWS's sample, LOAD DATA and a naive INSERT loop; report in target/bench/ (needs MariaDB: make local-up)
	cargo build --release -p ingest --bins
	$(CARGO_TARGET_DIR)/release/reviews-bench --database-url "$${DEPLOY_TEST_MYSQL_URL:-mysql://root@127.0.0.1:3307/}" \
	  --ingest-bin $(CARGO_TARGET_DIR)/release/ingest \
	  $(if $(wildcard $(VENV)/bin/python),--sample-python $(VENV)/bin/python) $(BENCH_ARGS)

# The functions as the local stand-in runs them: host builds of the workspace's bins, the same
# binaries `cargo lambda watch` runs for the stand-in's Lambda (local/moto_plugin/awslambda.py),
# zipped the same way, for `deploy up` of an environment with `endpoints`. No cross-compiling
# and no arm64 standard library, so `make demo` works on a fresh machine.
LOCAL_LAMBDA_OUT := $(CURDIR)/target/lambda/local

.PHONY: lambdas-local
lambdas-local: ## the functions as the stand-in runs them (host debug builds), zipped under target/lambda/local/
	cargo build --bins
	@for f in $(LAMBDA_FUNCTIONS); do \
	  zip=$(LOCAL_LAMBDA_OUT)/$$f/bootstrap.zip; bin=$(CARGO_TARGET_DIR)/debug/$$f; \
	  if [ ! -f $$zip ] || [ $$bin -nt $$zip ]; then \
	    mkdir -p $(LOCAL_LAMBDA_OUT)/$$f; LAMBDA_ZIP_LEVEL=1 scripts/lambdas-zip.py $$bin $$zip; fi; \
	done
