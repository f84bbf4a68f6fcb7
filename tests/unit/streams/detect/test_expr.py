from __future__ import annotations

import time

import pytest

from streams.detect.expr import MAX_DEPTH, MAX_NODES, MAX_STRING, MAX_TEXT, EvalError, ExprError, compile_expr

RECORD = {
    "kind": "log",
    "service": "checkout",
    "message": "Payment DECLINED for order 42",
    "severity_number": 17,
    "source_ip": "10.1.2.3",
    "attributes": {"provider": "adyen", "http.method": "POST", "status": "502", "amount": "12.50"},
    "labels": {"le": "0.5", "__name__": "http_requests_total"},
    "series": {"labels": {"queue": "webhooks"}},
    "count": 200,
    "failures": 12,
}


def ev(text: str, record: dict | None = None) -> object:
    return compile_expr(text).evaluate(RECORD if record is None else record)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('service == "checkout"', True),
        ("attributes.provider", "adyen"),
        ("attributes.http.method", "POST"),  # flattened dotted attribute key
        ('attributes["http.method"]', "POST"),
        ('labels["__name__"]', "http_requests_total"),  # a data key, never a Python attribute
        ("series.labels.queue", "webhooks"),
        ("attributes.status >= 500", True),  # numeric string compared as a number
        ("attributes.amount + 1", 13.5),
        ("failures / count", 0.06),
        ("failures / 0", None),  # division by zero is null, not an exception
        ("count - failures * 2 ** 3", 104),
        ("-count % 7", 3),
        ("not (count > 100) or service in ['a', 'checkout']", True),
        ("service not in ['a', 'b']", True),
        ('"DECLINED" in message', True),
        ("missing.field == null", True),
        ("missing.field > 3", False),  # comparisons with null are false
        ("missing.field < 3", False),
        ("missing + 1", None),
        ('if(count > 100, "big", missing.x / 0)', "big"),
        ("lower(message) == 'payment declined for order 42'", True),
        ('startswith(service, "check") and endswith(service, "out")', True),
        ('contains(lower(message), "declined")', True),
        ('matches(message, "order [0-9]+$")', True),
        ('cidr_match(source_ip, ["192.168.0.0/16", "10.0.0.0/8"])', True),
        ('cidr_match("not-an-ip", "10.0.0.0/8")', False),
        ("len(message)", 29),
        ("min(count, failures, missing)", 12),
        ("max([1, 5, 3])", 5),
        ("round(failures / count * 100, 1)", 6.0),
        ("abs(-3)", 3),
        ("coalesce(missing, attributes.provider)", "adyen"),
        ("exists(attributes.provider) and not exists(attributes.nope)", True),
        ('number("1e3") + 1', 1001.0),
        ('string(count) + "x"', "200x"),
        ('"multi" +\n "line"', "multiline"),
        ("# a comment\ncount > 1", True),
    ],
)
def test_evaluates(text, expected):
    assert ev(text) == expected


def test_paths_are_reported_in_source_order():
    expr = compile_expr('attributes.provider == "x" and count > labels["le"]')
    assert expr.paths() == [("attributes", "provider"), ("count",), ("labels", "le")]


def test_python_objects_are_never_introspected():
    class Thing:
        secret = "s3cret"

    record = {"obj": Thing()}
    assert compile_expr("obj.secret").evaluate(record) is None
    assert compile_expr("obj").evaluate(record) is record["obj"]


@pytest.mark.parametrize(
    ("text", "line", "col", "message"),
    [
        ("__class__", 1, 1, "names starting with '_' are reserved"),
        ("x.__class__", 1, 3, "names starting with '_' are reserved"),
        ('__import__("os").system("id")', 1, 1, "reserved"),
        ('"".__class__', 1, 4, "reserved"),
        ('"".upper', 1, 3, "unexpected '.'"),
        ("count ** 99999999", 1, 7, "exponent 99999999 is larger than 64"),
        ("(9 ** 64) ** 64", 1, 11, "integer result larger than 2**1024"),
        ("count >", 1, 8, "unexpected end of expression"),
        ("count > 1\n  and (failures >", 2, 18, "unexpected end of expression"),
        ("a < b < c", 1, 7, "chained comparisons"),
        ("eval('1')", 1, 1, "unknown function 'eval'"),
        ("lower(a, b)", 1, 1, "lower() takes 1 argument(s), got 2"),
        ('matches(message, "(a+)+$")', 1, 18, "nested quantifier"),
        ("matches(message, attributes.pattern)", 1, 1, "must be a string literal"),
        ('cidr_match(source_ip, "10.0.0.0/33")', 1, 23, "not a CIDR network"),
        ("sum_over(count)", 1, 1, "only allowed in a threshold condition"),
        ("count = 1", 1, 7, "did you mean '=='?"),
        ("'unterminated", 1, 1, "unterminated string"),
        ("count $ 2", 1, 7, "unexpected character '$'"),
        ("labels[le]", 1, 8, "subscript must be a string or integer literal"),
        ("", 1, 1, "empty expression"),
    ],
)
def test_compile_errors_have_positions(text, line, col, message):
    with pytest.raises(ExprError) as info:
        compile_expr(text)
    assert (info.value.line, info.value.col) == (line, col)
    assert message in info.value.message


def test_deep_nesting_is_an_expr_error_not_a_recursion_error():
    for text in ("(" * 10000 + "1" + ")" * 10000, "not " * 5000 + "true", "-" * 5000 + "1", "[" * 3000 + "]" * 3000):
        with pytest.raises(ExprError) as info:
            compile_expr(text)
        assert "nested deeper" in info.value.message or "longer than" in info.value.message
    compile_expr("(" * (MAX_DEPTH - 2) + "1" + ")" * (MAX_DEPTH - 2))


def test_size_limits():
    with pytest.raises(ExprError, match="longer than"):
        compile_expr("1 + " * (MAX_TEXT // 4) + "1")
    with pytest.raises(ExprError, match="string literal longer"):
        compile_expr('"' + "a" * (MAX_STRING + 1) + '"')
    with pytest.raises(ExprError, match="more than"):
        compile_expr(" + ".join(["count"] * (MAX_NODES + 1)))
    with pytest.raises(ExprError, match="number literal longer"):
        compile_expr("1" * 100)


def test_runtime_limits_are_bounded_and_fast():
    start = time.perf_counter()
    huge = {"x": 10**300, "s": "a" * 40000}
    with pytest.raises(EvalError):
        compile_expr("x ** 64").evaluate(huge)
    with pytest.raises(EvalError):
        compile_expr("x * x * x * x * x").evaluate(huge)
    with pytest.raises(EvalError):
        compile_expr("s + s").evaluate(huge)  # strings may not grow without bound
    assert compile_expr('"a" * 100000000').evaluate({}) is None  # no string repetition
    # A failing evaluation counts as "no match" for filters.
    assert compile_expr("x ** 64 > 1").test(huge) is False
    assert time.perf_counter() - start < 1.0


def test_hostile_regex_input_is_truncated_and_fast():
    start = time.perf_counter()
    expr = compile_expr('matches(message, "^(a|b)*c$")')
    assert expr.evaluate({"message": "ab" * 500000}) is False
    assert time.perf_counter() - start < 2.0


def test_window_functions_compile_in_threshold_mode():
    expr = compile_expr('sum_over(failures, "1h") / sum_over(count, "1h") > 0.1', allow_window=True)
    with pytest.raises(EvalError):
        expr.evaluate(RECORD)  # no window data given: the threshold evaluator supplies it
    with pytest.raises(ExprError, match="invalid duration"):
        compile_expr('sum_over(failures, "an hour")', allow_window=True)
