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

.PHONY: test
test: tools lambdas local-up ## run every test; installs and starts what they need first
	@# The functions as the stand-in's Lambda runs them (cargo lambda watch, no dev-dependencies),
	@# built before the tests so no test waits for their first compile.
	cargo build --bins
	cargo test --workspace --all-targets
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
