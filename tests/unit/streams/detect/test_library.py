"""The rule library in rules/: loads cleanly, and every test case kept next to each rule passes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from streams.detect.lint import lint_path
from streams.detect.registry import KINDS
from streams.detect.ruletest import run_tests

ROOT = Path(__file__).resolve().parents[4]
LIBRARY = ROOT / "rules"
FIXTURES = Path(__file__).parent / "fixtures"


def test_every_case_of_every_rule_passes():
    results, problems, rule_count = run_tests(str(LIBRARY))
    assert [str(p) for p in problems] == []
    failures = [f"{r.loc} {r.rule_id} :: {r.name}: {r.message}" for r in results if not r.passed]
    assert failures == []
    assert rule_count >= 20
    assert len(results) >= 2 * 20


def test_library_is_lint_clean_and_covers_every_kind_and_domain():
    result = lint_path(LIBRARY)
    assert [str(p) for p in result.problems] == []  # no errors, no warnings either
    models = [loaded.model for loaded in result.rules]
    assert all(model.tests for model in models)
    assert set(Counter(model.kind for model in models)) == set(KINDS)
    domains = Counter(model.id.split(".")[0] for model in models)
    assert {"payments", "sre", "security", "compliance", "deployments"} <= set(domains)
    compliance = [m for m in models if m.kind == "compliance"]
    assert len(compliance) >= 3 and all(any(t.startswith("pci-dss:") for t in m.tags) for m in compliance)


def test_a_wrong_expectation_fails():
    results, problems, _ = run_tests(str(FIXTURES / "failing"))
    assert problems == []
    assert [(r.name, r.passed) for r in results] == [("expects no alert but one is raised", False),
                                                     ("this one is right", True)]
    assert results[0].message.startswith("expected 0 alert(s), got 1")
    assert str(results[0].loc).endswith("wrong_expectation.yaml:10:11")
