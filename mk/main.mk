# The deploy CLI itself: build, demo, test, lint, bench.

.PHONY: build
build: ## build the deploy CLI
	cargo build --bin deploy

.PHONY: demo
demo: build ## validate and render environments/prod.yaml, then print the plan
	$(DEPLOY) validate environments/prod.yaml
	$(DEPLOY) render environments/prod.yaml --out out/prod
	$(DEPLOY) render environments/prod.yaml

.PHONY: test
test: tools ## run every test (installs what the tests need first)
	cargo test --workspace --all-targets

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
