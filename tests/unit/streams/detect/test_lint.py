from __future__ import annotations

from pathlib import Path

import pytest

from streams.detect.lint import lint_path
from streams.detect.loader import RuleLoadError, load_rules

FIXTURES = Path(__file__).parent / "fixtures"


def problems(name: str) -> list[str]:
    result = lint_path(FIXTURES / "broken" / name)
    return [f"{p.loc.line}:{p.loc.col}: {p.severity}: {p.message}" for p in result.problems]


def test_yaml_syntax_error_points_at_the_offending_line():
    assert problems("yaml_syntax.yaml") == ["4:9: error: YAML syntax error: mapping values are not allowed here"]


def test_unknown_kind_names_the_key_and_the_known_kinds():
    (only,) = problems("unknown_kind.yaml")
    assert only.startswith("5:7: error: unknown kind 'treshold' in key 'kind' (known kinds: absence, anomaly,")


def test_every_schema_problem_in_a_file_is_reported():
    assert problems("schema.yaml") == [
        "1:1: error: missing required key 'severity'",
        "1:5: error: id: id must be lower-case letters, digits, '_', '.', '-' (at most 128)",
        "3:1: error: unknown key 'severty'",
        "8:6: error: for: invalid duration 'soon': use a number with a unit (ms, s, m, h, d, w), e.g. 5m or 1h30m",
        "11:3: error: unknown key 'runbook'",
    ]


def test_expression_and_template_errors_point_inside_the_value():
    assert problems("expressions.yaml") == [
        "7:28: error: filter: unexpected end of expression",
        "8:31: error: condition: names starting with '_' are reserved: '__class__'",  # inside a quoted scalar
        "9:14: error: value: exponent 99999999 is larger than 64",
        "11:32: error: annotations.summary: unknown formatter 'shout' (known: default, duration, join, lower, pct, "
        "round, truncate, upper)",
    ]


def test_hostile_pattern_rule_is_rejected_for_every_reason():
    found = problems("hostile_pattern.yaml")
    assert found[0] == "9:23: error: filter: unexpected 'startswith' after a complete expression"  # block scalar
    assert found[1].startswith("11:15: error: 'message|re': unsafe or invalid regex '(a+)+$': ")
    assert "nested quantifier" in found[1] and "unanchored pattern" in found[1]
    assert found[2] == "12:23: error: 'attributes.ip|cidr': '10.0.0.0/33' is not a CIDR network (e.g. 10.0.0.0/8)"
    assert found[3].startswith("13:11: error: unknown modifier 'sounds_like' in 'service|sounds_like'")
    assert len(found) == 4


def test_misspelt_event_fields_are_errors_for_closed_schemas():
    found = problems("fields.yaml")
    assert [f.split(" does not exist")[0] for f in found] == [
        "7:9: error: field 'sevrity_number'",
        "9:3: error: field 'actr'",
        "10:3: error: field 'labels'",  # security events have attributes, not labels
    ]


def test_duplicate_keys_and_duplicate_ids():
    assert "9:3: error: duplicate key 'service' (first defined at line 8)" in problems("duplicate_key.yaml")
    result = lint_path(FIXTURES / "dups")
    (dup,) = result.errors
    assert dup.loc.file.endswith("b.yaml") and (dup.loc.line, dup.loc.col) == (1, 5)
    assert "duplicate rule id 'dup.same' (also at" in dup.message and "a.yaml:1:5" in dup.message


def test_missing_tests_are_a_warning_not_an_error():
    result = lint_path(FIXTURES / "dups" / "b.yaml")
    assert not result.errors
    assert [p.message for p in result.problems] == ["rule 'dup.same' has no test cases (tests:)"]


def test_load_rules_refuses_a_broken_library_listing_every_error():
    with pytest.raises(RuleLoadError) as info:
        load_rules(FIXTURES / "broken")
    assert info.value.problems == lint_path(FIXTURES / "broken").errors
    assert "unknown kind 'treshold'" in str(info.value)


def test_missing_path():
    (problem,) = lint_path(FIXTURES / "nope").problems
    assert problem.message == "no such file or directory"
