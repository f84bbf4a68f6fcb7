from __future__ import annotations

import re
import time

import pytest

from streams.detect.expr import compile_expr
from streams.detect.functions import MAX_MATCH_INPUT
from streams.detect.regex_safety import MAX_PATTERN, UnsafeRegexError, check_regex, safe_compile

CATASTROPHIC = {
    "(a+)+$": "nested quantifier",
    "(a*)*b": "nested quantifier",
    "(x+x+)+y": "nested quantifier",
    r"(\w+\s?)*$": "nested quantifier",
    r"(\d+\.?)+$": "nested quantifier",
    "(.*a)+$": "nested quantifier",
    "^(([a-z])+.)+[A-Z]([a-z])+$": "nested quantifier",
    "(a|a)*b": "overlapping alternation",
    r"(\w+|\d+)*$": "overlapping alternation",
    r"(a*)\1": "backreferences",
    r"\w+$": "unanchored pattern that starts with an unbounded repetition",
    ".*timeout": "unanchored pattern that starts with an unbounded repetition",
    "a{1,100000}": "repetition bound",
}

SAFE = [
    r"^[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}$",
    r"^(\w+\s)+$",  # the separator is required and cannot be eaten by \w+
    "x(ab+c)+",
    "^(GET|POST|PUT)+ /",
    r"^(\w|\d)+$",  # re merges single-character branches into one class
    r"(?<!\w)\w+$",  # the lookbehind makes every retry fail at once
    r"\d+",  # a lone repetition succeeds or fails at its first character
    "(?i)^(admin|administrators?|superuser|root)$",
    r"(?:[0-9]{4}[ -]?){3}[0-9]{4}",
    "^(a++)+$",  # possessive: never backtracks
    "^(?>a+)+$",  # atomic group
    r"^TLSv1(\.[01])?$",
]


@pytest.mark.parametrize(("pattern", "reason"), CATASTROPHIC.items())
def test_catastrophic_patterns_are_rejected_with_a_reason(pattern, reason):
    problems = check_regex(pattern)
    assert any(reason in p for p in problems), problems
    with pytest.raises(UnsafeRegexError):
        safe_compile(pattern)


@pytest.mark.parametrize("pattern", SAFE)
def test_safe_patterns_pass_and_stay_fast_on_adversarial_input(pattern):
    assert check_regex(pattern) == []
    compiled = safe_compile(pattern)
    start = time.perf_counter()
    n = MAX_MATCH_INPUT
    for text in ("a" * n + "!", "ab" * (n // 2) + "!", "1" * n + "x", "a " * (n // 2) + "!", "@" * n):
        compiled.search(text)
    assert time.perf_counter() - start < 0.5


def test_polynomial_patterns_lint_accepts_are_bounded_by_the_input_cap():
    assert check_regex(r"a\w+$") == []  # quadratic on "aaaa…!", but not rejected
    matcher = compile_expr(r'matches(message, "a\\w+$")')
    start = time.perf_counter()
    # Only the first MAX_MATCH_INPUT characters are searched (documented), so the
    # trailing "!" is out of view and the anchored pattern matches the prefix.
    assert matcher.evaluate({"message": "a" * 1_000_000 + "!"}) is True
    assert time.perf_counter() - start < 0.5


def test_the_rejected_shapes_really_are_slow():
    # Guards the premise: if Python's engine stopped backtracking, this list would be moot.
    start = time.perf_counter()
    re.match("(a|a)*b", "a" * 18)
    re.match("(x+x+)+y", "x" * 16)
    assert time.perf_counter() - start > 0.01


def test_invalid_and_overlong_patterns():
    assert check_regex("(")[0].startswith("invalid regex at position 0")
    assert "limit is" in check_regex("a" * (MAX_PATTERN + 1))[0]
    assert check_regex(5)[0].startswith("a regex must be a string")  # type: ignore[arg-type]
