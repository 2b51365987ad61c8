# Tools the tests call, installed on first use and pinned.

CFN_GUARD_VERSION := 3.2.1
CFN_GUARD := $(TOOLS)/cfn-guard-$(CFN_GUARD_VERSION)/bin/cfn-guard
CFN_LINT := $(VENV)/bin/cfn-lint
export CFN_GUARD CFN_LINT

$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

# cfn-guard is AWS's own Rust tool, published on crates.io.
$(CFN_GUARD):
	cargo install cfn-guard --version $(CFN_GUARD_VERSION) --locked --root $(TOOLS)/cfn-guard-$(CFN_GUARD_VERSION)

.PHONY: tools
tools: $(VENV)/.installed $(CFN_GUARD) ## install the pinned Python venv and cfn-guard
