# deploy: the two commands a new user needs are `make demo` and `make test`.
# Everything they need is installed on first use (a Python venv, cfn-guard, services).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Builds reuse a target directory outside the clone; a cold one works too, only slower.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/deploy-target
VENV := $(CURDIR)/.venv
TOOLS := $(HOME)/.cache/deploy-tools
DEPLOY := $(CARGO_TARGET_DIR)/debug/deploy

include mk/*.mk

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'
