# Tools the tests call, installed on first use and pinned.

CFN_GUARD_VERSION := 3.2.1
CFN_GUARD := $(TOOLS)/cfn-guard-$(CFN_GUARD_VERSION)/bin/cfn-guard
CFN_LINT := $(VENV)/bin/cfn-lint
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := $(TOOLS)/checkov-$(CHECKOV_VERSION)
CHECKOV := $(CHECKOV_VENV)/bin/checkov
export CFN_GUARD CFN_LINT CHECKOV

$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

# cfn-guard is AWS's own Rust tool, published on crates.io.
$(CFN_GUARD):
	cargo install cfn-guard --version $(CFN_GUARD_VERSION) --locked --root $(TOOLS)/cfn-guard-$(CFN_GUARD_VERSION)

# checkov (security checks of the rendered templates), in a venv of its own: its many
# dependencies must not move the pins of moto and cfn-lint.
$(CHECKOV): requirements-checkov.txt
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

.PHONY: tools
tools: $(VENV)/.installed $(CFN_GUARD) $(CHECKOV) ## install the pinned Python venv, cfn-guard and checkov
