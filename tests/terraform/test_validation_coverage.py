"""Every validation rule of the module's variables has its own expect_failures run."""

from __future__ import annotations

import re
from collections import Counter

import tfharness

VARIABLE = re.compile(r'^variable\s+"([^"]+)"\s*\{', re.M)


def validation_counts(path) -> Counter:
    counts: Counter = Counter()
    text = path.read_text()
    starts = [(m.start(), m.group(1)) for m in VARIABLE.finditer(text)] + [(len(text), None)]
    for (start, name), (end, _) in zip(starts, starts[1:]):
        counts[name] = len(re.findall(r"^\s*validation\s*\{", text[start:end], re.M))
    return +counts


def expect_failure_counts(path, module_source: str | None) -> Counter:
    counts: Counter = Counter()
    for block in re.split(r'^run\s+"', path.read_text(), flags=re.M)[1:]:
        source = re.search(r'module\s*\{\s*source\s*=\s*"([^"]+)"', block)
        if (source.group(1) if source else None) != module_source:
            continue
        for name in re.findall(r"expect_failures\s*=\s*\[\s*var\.([A-Za-z0-9_]+)\s*\]", block):
            counts[name] += 1
    return counts


def test_root_module_rules_each_have_a_run():
    rules = validation_counts(tfharness.ROOT / "variables.tf")
    runs = expect_failure_counts(tfharness.ROOT / "tests" / "terraform" / "validation.tftest.hcl", None)
    assert rules == runs


def test_forwarder_rules_each_have_a_run():
    rules = validation_counts(tfharness.ROOT / "modules" / "region-forwarder" / "variables.tf")
    runs = expect_failure_counts(tfharness.ROOT / "tests" / "terraform" / "forwarder.tftest.hcl",
                                 "./modules/region-forwarder")
    assert rules == runs
