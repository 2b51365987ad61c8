# Rendering: the benchmark of `deploy render`.

.PHONY: bench-render
bench-render: ## time `deploy render` (prod.yaml, 10 secondaries) against load/validate
	cargo bench --bench render
