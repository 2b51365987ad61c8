# The deploy CLI itself: build, demo, test, lint, bench.

.PHONY: build
build: ## build the deploy CLI
	cargo build --bin deploy

.PHONY: demo
demo: build local-up ## deploy environments/local.yaml to the local stand-ins, upload sample reviews, show its status
	$(DEPLOY) validate environments/prod.yaml
	$(DEPLOY) render environments/prod.yaml
	$(DEPLOY) up environments/local.yaml --yes
	$(DEPLOY) data upload environments/local.yaml samples/reviews
	$(DEPLOY) status environments/local.yaml

.PHONY: test
test: tools lambdas local-up ## run every test; installs and starts what they need first
	cargo test --workspace --all-targets
	$(MAKE) --no-print-directory test-local-plugin

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
