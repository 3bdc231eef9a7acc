# The local demo and the end-to-end tests built on it. Included by the Makefile.
#
#   make demo                                   # 200 tasks, demo/caps.json, UTC
#   make demo TASKS=60 CAPS=my-caps.json TIMEZONE=Asia/Tokyo
#   make sandbox CAPS=my-caps.json TIMEZONE=Asia/Tokyo   # the same stack, left running for your own
#                                               # SDK scripts until Ctrl-C (docs/sandbox.md)
#   make demo NATIVE_LIMITS=freeze              # the guard freezes a breached QPU with a native
#                                               # spending limit; the notebook stops on Braket's error
#
# Everything runs on 127.0.0.1 (moto, the Braket emulator, a Slack sink); Terraform applies
# examples/sandbox when it is installed, otherwise boto3 creates the same table, topic and
# parameter. Logs and summary.json of the last run land in .demo/ (gitignored).

TASKS ?= 200
CAPS ?= demo/caps.json
TIMEZONE ?= UTC
NATIVE_LIMITS ?= off
DEMO_ARGS ?=
SANDBOX_ARGS ?=

.PHONY: demo sandbox test-e2e

## demo TASKS=200 CAPS=demo/caps.json TIMEZONE=UTC NATIVE_LIMITS=off - the demo with its options (NATIVE_LIMITS=freeze|mirror_and_freeze: native spending limits; DEMO_ARGS=--help for more)
demo: venv
	@PYTHONPATH=lambda:sandbox $(VPY) -m braket_sandbox.demo --tasks $(TASKS) --caps $(CAPS) \
		--timezone $(TIMEZONE) --native-limits $(NATIVE_LIMITS) $(DEMO_ARGS)

## sandbox CAPS=demo/caps.json TIMEZONE=UTC NATIVE_LIMITS=off - the demo's stack (moto, Braket emulator with running devices, Slack sink, the guard) until Ctrl-C, for your own SDK scripts (docs/sandbox.md; SANDBOX_ARGS=--help for more)
sandbox: venv
	@PYTHONPATH=lambda:sandbox $(VPY) -m braket_sandbox.sandbox --caps $(CAPS) --timezone $(TIMEZONE) \
		--native-limits $(NATIVE_LIMITS) $(SANDBOX_ARGS)

TEST_TARGETS += test-e2e

## test-e2e        - the demo's sandbox end to end under pytest, and `make demo` itself (part of make test)
test-e2e: venv
	$(VPY) -m pytest tests/e2e -p no:cacheprovider
