# Reliability suite, security checks of the package and its pins, and the benchmark against the
# original monitoring tool. Included by the Makefile. docs/reliability.md says what each test
# proves; docs/benchmark.md holds the latest benchmark results.

TEST_TARGETS += test-reliability
BENCH_ARGS ?=
BANDIT_SEVERITY ?= low
AUDITED_REQUIREMENTS := lambda/requirements.txt requirements-dev.txt

.PHONY: test-reliability bandit audit-deps bench model

## test-reliability - property, fault-injection, crash, fuzz and secret tests, a bench smoke run (N=10, quick runaway at the quota), bandit, pip-audit
test-reliability: venv
	$(VPY) -m pytest tests/reliability -q -p no:cacheprovider
	$(MAKE) --no-print-directory bandit
	$(MAKE) --no-print-directory audit-deps

## bandit          - bandit on lambda/braket_guard (fails on any finding, low severity included)
bandit: venv
	$(VPY) -m bandit -q -r lambda/braket_guard --exit-zero --format custom \
		--msg-template '{relpath}:{line}: {test_id} [{severity}] {msg}'
	$(VPY) -m bandit -q -r lambda/braket_guard --severity-level $(BANDIT_SEVERITY)

## audit-deps      - pip-audit of the pinned requirements (fails when a pin is vulnerable or cannot be audited)
# pip-audit looks each pin up at https://pypi.org/pypi/<name>/<version>/json. Where PyPI access
# serves the package index but not that API (404, as on this project's CI machines), nothing can
# be audited: the target prints a NOT AUDITED banner and goes on (PIP_AUDIT_UNREACHABLE=warn, the
# default); PIP_AUDIT_UNREACHABLE=fail makes that an error where the API should be reachable.
# A pin with a known vulnerability always fails.
PIP_AUDIT_UNREACHABLE ?= warn
audit-deps: venv
	@out=$$($(VPY) -m pip_audit --strict --no-deps --disable-pip --progress-spinner off \
		$(foreach r,$(AUDITED_REQUIREMENTS),-r $(r)) 2>&1); status=$$?; echo "$$out" | grep -v "encouraged to fully hash\|pip-compile"; \
	if echo "$$out" | grep -q "could not be audited"; then \
		echo "audit-deps: NOT AUDITED: pip-audit could not get vulnerability data for the pins in $(AUDITED_REQUIREMENTS)"; \
		echo "  (PyPI's per-version JSON API is not reachable from this machine). Run 'make audit-deps' where it is."; \
		test "$(PIP_AUDIT_UNREACHABLE)" = warn; exit $$?; \
	fi; \
	if [ $$status -ne 0 ]; then echo "audit-deps: FAILED: a pinned requirement has a known vulnerability (above)"; fi; \
	exit $$status

## model           - the model-based test with 200 fresh random examples (MODEL_EXAMPLES=N to change; about 25 min)
model: venv
	MODEL_RANDOM=1 MODEL_EXAMPLES=$${MODEL_EXAMPLES:-200} $(VPY) -m pytest tests/reliability/test_model.py -p no:cacheprovider -q

## bench           - braket-guard vs the original tool, N=10..10,000, and the runaway at the quota per native-limits mode (tens of minutes: the last run's time is in docs/benchmark.md; BENCH_ARGS="--scenario quota": the runaway alone; --full: no time budget)
bench: venv
	$(VPY) -m bench.run $(BENCH_ARGS)
