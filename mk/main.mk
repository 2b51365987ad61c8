# The deploy CLI itself: build, demo, test, lint, bench.

# Generated reviews for the demo: one set per Region (scripts/generate-reviews.py).
DEMO_DATA := .local/demo/reviews

.PHONY: build
build: ## build the deploy CLI
	cargo build --bin deploy

.PHONY: install
install: ## put deploy on PATH (~/.cargo/bin), reusing the dependencies make already built
	cargo install --path . --locked --debug --force --target-dir $(CARGO_TARGET_DIR)

.PHONY: demo
demo: build local-up $(CARGO_LAMBDA) ## deploy environments/local.yaml to the stand-ins, ingest 100,000 generated reviews in both Regions at once
	$(DEPLOY) validate environments/prod.yaml
	$(DEPLOY) render environments/prod.yaml
	$(DEPLOY) up environments/local.yaml --yes
	python3 scripts/generate-reviews.py $(DEMO_DATA)
	$(DEPLOY) data upload environments/local.yaml $(DEMO_DATA)/set-1 --region us-east-1
	$(DEPLOY) data upload environments/local.yaml $(DEMO_DATA)/set-2 --region us-east-2
	$(DEPLOY) run environments/local.yaml --wait
	@echo "A second run finds nothing to do:"
	$(DEPLOY) run environments/local.yaml --wait
	$(DEPLOY) status environments/local.yaml

# The workload of AWS's article on this architecture ("more than 600,000 records in both
# Regions in 1 min 14 s" on AWS, scripts/demo-large-report.py): two sets of 300,000 reviews,
# 2,400 of set 1's repeated in set 2, generated once. The functions run optimised: the
# running stand-in is switched to release builds (awslambda.py's /profile) and stays so.
DEMO_ENV ?= environments/local.yaml
LARGE_DATA := .local/demo-large/reviews
LARGE_ARGS := --files 30 --reviews 10000 --malformed 3 --shared 2400 --seed 13
MOTO_PORT ?= 5000

$(LARGE_DATA)/manifest.json: scripts/generate-reviews.py
	rm -rf $(LARGE_DATA)
	python3 scripts/generate-reviews.py $(LARGE_DATA) $(LARGE_ARGS)

.PHONY: demo-large
demo-large: build local-up $(CARGO_LAMBDA) $(LARGE_DATA)/manifest.json ## the article's 600,000 reviews in both Regions at once, optimised functions, timed beside the article's 1 min 14 s on AWS
	@# The functions as the stand-in will run them: host release builds, each with the command
	@# the stand-in's Lambda runs (awslambda.py), so it finds them built (another package set
	@# would unify other features and build the dependencies again).
	for f in $(LAMBDA_FUNCTIONS); do cargo build --profile release --bin $$f; done
	$(DEPLOY) up $(DEMO_ENV) --yes
	$(VENV)/bin/python -c 'import sys, urllib.request; print(urllib.request.urlopen(urllib.request.Request(sys.argv[1], method="POST"), timeout=10).read().decode())' \
	  "http://127.0.0.1:$(MOTO_PORT)/moto-api/plugin/lambda/profile?profile=release"
	@# The stand-in's Lambda starts each function instance with `cargo run` (cargo-lambda's
	@# emulator), up to 24 instances: a cost of the emulator, not of the architecture (62 s of
	@# CPU in the timed run instead of 35 s), so a first run of 8 one-line files per Region
	@# starts them before it. Their lines are no reviews (rejected): nothing is inserted.
	mkdir -p .local/demo-large/warm-up
	for i in 1 2 3 4 5 6 7 8; do echo '{"warm-up": "not a review"}' > .local/demo-large/warm-up/warm-up-$$i.json; done
	$(DEPLOY) data upload $(DEMO_ENV) .local/demo-large/warm-up --region us-east-1
	$(DEPLOY) data upload $(DEMO_ENV) .local/demo-large/warm-up --region us-east-2
	$(DEPLOY) run $(DEMO_ENV) --wait > .local/demo-large/warm-up.txt
	$(DEPLOY) data upload $(DEMO_ENV) $(LARGE_DATA)/set-1 --region us-east-1
	$(DEPLOY) data upload $(DEMO_ENV) $(LARGE_DATA)/set-2 --region us-east-2
	$(DEPLOY) run $(DEMO_ENV) --wait --output json > .local/demo-large/run.json
	python3 scripts/demo-large-report.py .local/demo-large/run.json

.PHONY: test
test: tools lambdas local-up ## run every test; installs and starts what they need first
	@# The functions as the stand-in's Lambda runs them (cargo lambda watch, no dev-dependencies),
	@# built before the tests so no test waits for their first compile.
	cargo build --bins
	$(STAND_IN_ADDRESSES) cargo test --workspace --all-targets
	DEPLOY_BIN=$(DEPLOY) $(MAKE) --no-print-directory test-local-plugin

.PHONY: lint
lint: ## rustfmt and clippy, as CI runs them
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

.PHONY: schema
schema: build ## regenerate environments/schema.json from the Rust types
	$(DEPLOY) schema > environments/schema.json

.PHONY: docs
docs: build ## regenerate the README's environment file reference from the schema
	$(DEPLOY) schema --markdown > $(CARGO_TARGET_DIR)/reference.md
	awk -v ref="$(CARGO_TARGET_DIR)/reference.md" ' \
	  /^<!-- environment-reference:start/ { print; while ((getline line < ref) > 0) print line; skip = 1; next } \
	  /^<!-- environment-reference:end/ { skip = 0 } \
	  !skip { print }' README.md > README.md.new
	mv README.md.new README.md

.PHONY: bench
bench: bench-render local-up bench-lambdas ## every benchmark, each printed against a baseline measured in the same run
