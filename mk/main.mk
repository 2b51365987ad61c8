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
