"""`_routing.c` (the rule pre-filter's loop in C) against its Python reference:
`guards.passes`, `sufficient.holds` and the Python loop of `DetectFilter.wanted` (and
`wanted_positions`), on the real rules, the benchmark's events and generated events and
guards."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from benchmarks import bench_ingest
from schemas.topics import Topics
from streams.detect.guards import passes
from streams.detect.loader import default_rules_path
from streams.detect.sufficient import holds
from streams.ingest import routing
from streams.ingest.pipeline import IngestConfig, Ingestor
from tests.unit.streams.ingest.accel_checks import props, switched

needs_c = pytest.mark.skipif(routing._routing is None, reason="streams.ingest._routing is not built (no C compiler)")


def filters() -> tuple[routing.DetectFilter, routing.DetectFilter]:
    return (routing.DetectFilter(default_rules_path(), accelerate=False),
            routing.DetectFilter(default_rules_path(), accelerate=True))


_SHARED: list = []


def same_wanted(events: list) -> list:
    if not _SHARED:  # loading the rules takes a while: once for the module (nothing here changes them)
        _SHARED.extend(filters())
    py, c = _SHARED
    expected, actual = py.wanted(list(events)), c.wanted(iter(events))
    assert [id(e) for e in actual] == [id(e) for e in expected]
    positions = c.wanted_positions(list(events))
    assert positions == py.wanted_positions(list(events))
    assert [id(events[i]) for i in positions] == [id(e) for e in expected]
    return actual


# Values the shipped rules' guards look for, and some they do not.
WORDS = ["settlement", "settlement_batch", "completed", "TLSv1.0", "tlsv1.2", "prod", "staging", "sudo", "SUDO",
         "user_create", "authentication", "Authentication", "ssh", "admin-console", "cardholder", "deploy",
         "mfa_disable", "disk_used_ratio", "host_cpu_utilization", "x", ""]
VALUES = st.one_of(st.sampled_from(WORDS), st.integers(-3, 3), st.none(), st.floats(allow_nan=False))
FIELDS = ["service", "env", "action", "category", "name", "kind", "message", "outcome"]
ATTRS = st.dictionaries(st.sampled_from(["tls.version", "job", "status", "protocol", "app", "data_class", "k"]),
                        VALUES, max_size=4)
EVENTS = st.builds(
    lambda kind, fields, attrs: {"kind": kind, **fields, **({} if attrs is None else {"attributes": attrs})},
    st.sampled_from(["log", "metric", "security", "signal", "deployment", "rollup", "other", 3]),
    st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=6),
    st.one_of(st.none(), ATTRS, st.sampled_from(["not a dict", 7])),
)
GUARDS = st.lists(st.tuples(
    st.one_of(st.sampled_from(FIELDS), st.tuples(st.just("attributes"), st.sampled_from(["tls.version", "job", "k"]))),
    st.one_of(st.frozensets(st.sampled_from(WORDS), max_size=4), st.none()),  # None: presence
    st.booleans(),
), max_size=3)


@needs_c
@props(500)
@given(GUARDS, EVENTS)
def test_passes_is_the_python_passes(guards, item):
    assert routing._routing.passes(guards, item, passes) is passes(guards, item)


@needs_c
@props(150)
@given(st.lists(GUARDS, max_size=3), EVENTS)
def test_holds_is_the_python_holds(alternatives, item):
    assert routing._routing.holds(alternatives, item) is holds(alternatives, item)


@needs_c
def test_holds_on_unusual_items_and_alternatives():
    alternatives = [[("service", frozenset({"settlement"}), False)], "not a list", [("odd",)]]
    for item in ({"service": "settlement"}, {"service": "ledger"}, ["service"], None):
        assert routing._routing.holds(alternatives, item) is holds(alternatives[:1], item)
    with pytest.raises(TypeError):
        routing._routing.holds([[("service", 5, False)]], {"service": "a"})  # `in 5`, as Python raises
    with pytest.raises(TypeError):
        holds([[("service", 5, False)]], {"service": "a"})


@needs_c
def test_unusual_items_and_guards_are_asked_of_the_python_passes():
    class Item(dict):
        def get(self, key, default=None):
            return "settlement" if key == "service" else default

    guards = [("service", frozenset({"settlement"}), False)]
    assert routing._routing.passes(guards, Item(), passes) is passes(guards, Item()) is True
    odd = [(("attributes", "job", "extra"), frozenset({"x"}), False)]
    assert routing._routing.passes(odd, {"attributes": {"job": "y"}}, passes) is passes(odd, {"attributes": {"job": "y"}})
    with pytest.raises(TypeError):
        routing._routing.passes([("service", 5, False)], {"service": "a"}, passes)  # `in 5`, as Python raises
    with pytest.raises(TypeError):
        passes([("service", 5, False)], {"service": "a"})


@needs_c
@props(300)
@given(st.lists(EVENTS, max_size=30))
def test_generated_events_are_wanted_alike(events):
    same_wanted(events)


@needs_c
def test_the_benchmarks_events_and_the_rules_that_fire_are_wanted_alike():
    ingestor = Ingestor(Topics(), IngestConfig())
    events = ingestor.process(bench_ingest.corpus(3000), bench_ingest.OBSERVED, keep_events=True).events
    firing = [
        {"kind": "security", "env": "prod", "action": "sudo", "category": "process", "attributes": {}},
        {"kind": "security", "category": "authentication", "action": "login", "outcome": "failure",
         "attributes": {"protocol": "ssh"}},
        {"kind": "log", "service": "api", "attributes": {"tls.version": "TLSv1.0"}, "message": "handshake"},
        {"kind": "metric", "name": "disk_used_ratio", "value": 0.97, "labels": {}, "attributes": {}},
    ]
    wanted = same_wanted(events + firing)
    assert wanted  # the fixtures above are what rules read: the test compares non-empty answers


@needs_c
def test_rollups_and_a_failing_rule_behave_alike():
    py, c = filters()
    partials = [{"v": 1, "family": f, "window_start": 1.8e9, "window_s": 60, "key": f, "series": {}, "count": 1,
                 "failures": 0} for f in ("payment", "security_actor", "metric", "log")]
    assert [id(p) for p in c.wanted_rollups(partials)] == [id(p) for p in py.wanted_rollups(partials)]

    class Boom(Exception):
        pass

    def broken(item):
        raise Boom

    for f in (py, c):
        for _guards, _sure, rule in f._by_source["security"]:
            rule.accepts = broken
        with pytest.raises(Boom):
            f.wanted([{"kind": "security", "env": "prod", "action": "sudo", "attributes": {}}])


def test_sluice_pure_python_selects_the_python_loop():
    code = ("from streams.ingest.routing import DetectFilter; from streams.detect.loader import default_rules_path; "
            "print(DetectFilter(default_rules_path())._fast is None)")
    pure, default = switched(code)
    assert pure == ["True"]
    if routing._routing is not None:
        assert default == ["False"]
