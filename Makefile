# braket-guard: `make test` runs every check; `make demo` shows the guard at work locally.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
COVERAGE_MIN ?= 90

# Terraform provider mirror: a directory laid out as a filesystem_mirror
# (registry.terraform.io/hashicorp/aws/<version>/<os_arch>/...). Set TF_PROVIDER_MIRROR to use
# one; by default /opt/tf-plugins is used when it exists, otherwise the public registry.
TF_PROVIDER_MIRROR ?= $(shell test -d /opt/tf-plugins && echo /opt/tf-plugins)
export TF_PROVIDER_MIRROR

# Each mk/*.mk appends its checks to TEST_TARGETS.
TEST_TARGETS := test-python

.PHONY: help venv test test-python
help:
	@echo "make demo    - watch the guard stop a runaway burst locally (no AWS account)"
	@echo "make test    - run every test and check (what CI runs)"
	@grep -hE '^## ' $(MAKEFILE_LIST) | sed 's/^## /make /'

$(VENV)/.installed: requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip
	$(VPY) -m pip install --quiet -r requirements-dev.txt
	$(VPY) -m pip install --quiet --no-deps -e .
	touch $@

venv: $(VENV)/.installed

test-python: venv
	$(VPY) -m pytest tests/unit tests/integration tests/sandbox --cov=braket_guard --cov-report=term-missing \
		--cov-fail-under=$(COVERAGE_MIN)

-include mk/*.mk

test: $(TEST_TARGETS)
	@echo "make test: all checks passed ($(TEST_TARGETS))"
