# Terraform module: checks, package, docs, deploy. Included by the Makefile.
#
# Terraform runs with a CLI config generated here (.terraformrc.generated, gitignored): a
# filesystem_mirror of $(TF_PROVIDER_MIRROR) when it is set (no registry access needed), the
# public registry otherwise, and a plugin cache so that the provider is unpacked once.

TF ?= terraform
TF_CLI_CONFIG_GENERATED := $(CURDIR)/.terraformrc.generated
# The user's own CLI configuration, read before the line below replaces it for the checks. make
# deploy / make clean keep it (their provider mirrors, credentials helpers, plugin cache): see
# TF_DEPLOY_ENV.
TF_USER_CLI_CONFIG_FILE := $(TF_CLI_CONFIG_FILE)
export TF_CLI_CONFIG_FILE := $(TF_CLI_CONFIG_GENERATED)
# deploy / clean: the user's TF_CLI_CONFIG_FILE when set; else their ~/.terraformrc when it exists
# (Terraform's default, so the variable is unset); else the generated configuration.
TF_DEPLOY_ENV = $(if $(TF_USER_CLI_CONFIG_FILE),env TF_CLI_CONFIG_FILE="$(TF_USER_CLI_CONFIG_FILE)",$(if $(wildcard $(HOME)/.terraformrc),env -u TF_CLI_CONFIG_FILE,env))
export TF_IN_AUTOMATION := 1
export CHECKPOINT_DISABLE := 1
TF_PLUGIN_CACHE := $(CURDIR)/.terraform/plugin-cache
TF_ROOT_DIRS := . examples/basic examples/multi-region examples/sandbox examples/tokyo
TF_DIR ?= examples/multi-region
TFVARS ?=
CHECKOV_VENV ?= .venv-checkov
CHECKOV_VERSION ?= 3.3.30
PACKAGE_ZIP := dist/braket-guard-lambda.zip

TF_CHECKS := tf-fmt tf-validate tf-test tf-e2e checkov package-check docs-check
TEST_TARGETS += test-terraform

.PHONY: test-terraform tf-config tf-init tf-fmt tf-validate tf-test tf-e2e checkov package package-lock \
	package-check docs docs-check deploy clean

## test-terraform  - every Terraform check below, three at a time (part of make test)
## tf-fmt          - terraform fmt -check -recursive
## tf-validate     - terraform init (provider mirror when set) and validate of the module and every example
## tf-test         - terraform test with a mocked provider (plan asserts, one run per validation rule)
## tf-e2e          - apply/assert/re-plan/destroy examples/sandbox and examples/tokyo against moto; IAM and configuration parity contracts
## checkov         - checkov on the module (zero failed checks; skips are inline with reasons)
## package         - rebuild dist/braket-guard-lambda.zip reproducibly from lambda/ (commit it)
## package-lock    - re-resolve lambda/requirements.txt into scripts/lambda-wheels.lock
## package-check   - fail if the committed zip differs from a rebuild of lambda/
## docs            - regenerate docs/terraform.md's inputs/outputs tables, the state tables (states.py) and the CLI output blocks (scripts/doc_outputs.py)
## docs-check      - fail if a generated table or output block in README.md or docs/ is stale
## deploy          - TFVARS=file.tfvars [TF_DIR=examples/multi-region]: check prerequisites, plan, confirm, apply
## clean           - TFVARS=file.tfvars [TF_DIR=examples/multi-region]: check prerequisites, plan destroy, confirm, destroy

# The e2e test mostly waits on the provider's polling, so the checks run side by side.
test-terraform: venv tf-config
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory -j3 --output-sync=target $(TF_CHECKS) \
	  && echo "test-terraform: $(TF_CHECKS) passed in $$(( $$(date +%s) - start ))s"

$(TF_CLI_CONFIG_GENERATED): FORCE
	@mkdir -p $(TF_PLUGIN_CACHE)
	@{ echo 'plugin_cache_dir = "$(TF_PLUGIN_CACHE)"'; \
	   echo 'plugin_cache_may_break_dependency_lock_file = true'; \
	   if [ -n "$(TF_PROVIDER_MIRROR)" ]; then \
	     echo 'provider_installation {'; \
	     echo '  filesystem_mirror {'; \
	     echo '    path    = "$(TF_PROVIDER_MIRROR)"'; \
	     echo '    include = ["registry.terraform.io/*/*"]'; \
	     echo '  }'; \
	     echo '  direct {'; \
	     echo '    exclude = ["registry.terraform.io/*/*"]'; \
	     echo '  }'; \
	     echo '}'; \
	   fi; } > $@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; fi

.PHONY: FORCE
FORCE:

tf-config: $(TF_CLI_CONFIG_GENERATED)

tf-init: tf-config
	@for d in $(TF_ROOT_DIRS); do \
	  echo "terraform init $$d"; \
	  (cd $$d && $(TF) init -backend=false -input=false -no-color > /dev/null) || exit 1; \
	done
	@$(TF) init -backend=false -input=false -no-color -test-directory=tests/terraform > /dev/null

tf-fmt: tf-config
	$(TF) fmt -check -recursive -diff .

tf-validate: tf-init
	@for d in $(TF_ROOT_DIRS); do \
	  echo "terraform validate $$d"; \
	  (cd $$d && $(TF) validate -no-color) || exit 1; \
	done

tf-test: tf-init
	$(TF) test -test-directory=tests/terraform -no-color

tf-e2e: tf-init venv
	$(VPY) -m pytest tests/terraform tests/contract -p no:cacheprovider -v -s

$(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $@

checkov: $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
	$(CHECKOV_VENV)/bin/checkov --directory . --framework terraform --skip-download --compact --quiet \
		--skip-path examples --skip-path tests --skip-path '\.venv' --skip-path '\.terraform'

package: venv
	$(VPY) scripts/build_package.py --output $(PACKAGE_ZIP)

package-lock: venv
	$(VPY) scripts/build_package.py --update-lock

package-check: venv
	$(VPY) scripts/build_package.py --check $(PACKAGE_ZIP)

docs: venv
	$(PYTHON) scripts/tf_docs.py
	$(PYTHON) scripts/state_docs.py
	$(VPY) scripts/doc_outputs.py

docs-check: venv
	$(PYTHON) scripts/tf_docs.py --check
	$(PYTHON) scripts/state_docs.py --check
	$(VPY) scripts/doc_outputs.py --check

# deploy / clean: scripts/deploy.sh checks the prerequisites (scripts/preflight.py: terraform and
# its version, AWS credentials and session, the account and region about to change) before any
# plan, then init, plan into build/<deploy|destroy>.tfplan, ask, apply that plan. The plan file
# is removed on every exit path (applied, declined, failed, interrupted). docs/deploy.md. They run
# with the user's Terraform CLI configuration (TF_DEPLOY_ENV), not the checks' generated one.
deploy: tf-config
	@$(TF_DEPLOY_ENV) TF="$(TF)" AUTO_APPROVE="$(AUTO_APPROVE)" PLAN_DIR="$(CURDIR)/build" scripts/deploy.sh deploy "$(TF_DIR)" "$(TFVARS)"

clean: tf-config
	@$(TF_DEPLOY_ENV) TF="$(TF)" AUTO_APPROVE="$(AUTO_APPROVE)" PLAN_DIR="$(CURDIR)/build" scripts/deploy.sh clean "$(TF_DIR)" "$(TFVARS)"
