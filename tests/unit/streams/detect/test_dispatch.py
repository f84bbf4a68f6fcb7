"""The engine skips the rules whose guards reject an item (streams/detect/dispatch.py),
remembering the answer per combination of field values. An item of any shape reaches
the engine (a rule test may nest attributes or flatten them to the top), so a rule that
accepts an item must never be skipped, whatever the shape, and whatever items came
before it (the remembered answers)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.detect import Engine, load_rules, source_of
from streams.detect.guards import passes_any_shape, rule_guards
from streams.detect.loader import default_rules_path
from tests.unit.streams.detect.helpers import compile_rule

EXTRA = [
    """kind: pattern
source: security
match: {category: authentication, attributes.app|cased: Console, env: [prod, PROD]}
""",
    """kind: pattern
source: logs
filter: attributes.http.method == "POST" and service == "api"
""",
]

def _rules() -> list:
    extra = [compile_rule(body) for body in EXTRA]
    for i, rule in enumerate(extra):
        rule.id = f"t.extra{i}"
    return list(load_rules(default_rules_path())) + extra


RULES = _rules()
ENGINE = Engine(RULES)  # one for the module: its remembered answers carry over between examples

WORDS = ["authentication", "AUTHENTICATION", "Authentication", "success", "failure", "sudo", "prod", "PROD", "root",
         "role_grant", "admin-console", "Console", "console", "ssh", "TLSv1", "tlsv1.0", "TLSv1.3", "settlement",
         "settlement_batch", "completed", "POST", "api", "disk_used_ratio", "canary", "", "x"]
VALUES = st.one_of(st.sampled_from(WORDS), st.none(), st.integers(0, 2), st.lists(st.sampled_from(WORDS), max_size=2))
TOP = ["category", "outcome", "action", "env", "target", "service", "name", "actor", "signal"]
MAP_KEYS = ["app", "protocol", "tls.version", "tls", "http.method", "http", "job", "status", "data_class", "role",
            "command", "deployment_group"]
MAPS = st.recursive(st.dictionaries(st.sampled_from(MAP_KEYS + ["version", "method"]), VALUES, max_size=4),
                    lambda inner: st.dictionaries(st.sampled_from(MAP_KEYS + ["version", "method"]), inner, max_size=2),
                    max_leaves=6)
ITEMS = st.builds(
    lambda kind, top, maps, dotted: {"kind": kind, **top, **maps, **dotted},
    st.sampled_from(["security", "log", "metric", "signal"]),
    st.dictionaries(st.sampled_from(TOP), VALUES, max_size=7),
    st.dictionaries(st.sampled_from(["attributes", "labels"]), st.one_of(MAPS, VALUES), max_size=2),
    st.dictionaries(st.sampled_from(["attributes.app", "attributes.tls.version", "attributes.tls", "labels.deployment_group",
                                     "attributes.http.method"]), st.sampled_from(WORDS), max_size=2),
)


KIND = {"security": "security", "logs": "log", "metrics": "metric", "signals": "signal"}


@st.composite
def meeting_guards(draw) -> dict:
    """An item that meets some rule's guards (so that rules accept it often), its map
    fields nested, flattened to the top or left flat, plus random other fields."""
    rule = draw(st.sampled_from([r for r in RULES if set(r.sources) & set(KIND)]))
    source = draw(st.sampled_from(sorted(set(rule.sources) & set(KIND))))
    item = {"kind": KIND[source], **draw(st.dictionaries(st.sampled_from(TOP), VALUES, max_size=4))}
    for key, values, fold in rule_guards(rule, source):
        value = draw(st.sampled_from(sorted(values))) if values is not None else "x"
        if fold:
            value = draw(st.sampled_from([value, value.upper(), value.title()]))
        if type(key) is str:
            item[key] = value
            continue
        outer, inner = key
        shape = draw(st.sampled_from(["flat", "nested", "top"]))
        if shape == "top":
            item[f"{outer}.{inner}"] = value
            item.setdefault(outer, {})
        elif shape == "nested" and "." in inner:
            head, rest = inner.split(".", 1)
            item.setdefault(outer, {})[head] = {rest: value}
        else:
            item.setdefault(outer, {})[inner] = value
    if rule.id == "security.sudo_root_shell" and draw(st.booleans()):
        item.setdefault("attributes", {})["command"] = "/bin/sh"
    return item


def _kept(item: dict) -> set[str]:
    """The rules the engine would ask about `item`."""
    dispatch = ENGINE._by_source.get(source_of(item) or "")
    if dispatch is None:
        return set()
    return {rule.id for guards, rule in dispatch.candidates(item) if not guards or passes_any_shape(guards, item)}


@settings(max_examples=150, deadline=None)
@given(st.one_of(ITEMS, meeting_guards()))
def test_no_rule_that_accepts_an_item_is_skipped(item):
    kept = _kept(item)
    for rule in RULES:
        if rule.accepts(item):
            assert rule.id in kept, (rule.id, item)


def test_remembered_answers_follow_case_folding_and_shape():
    login = {"kind": "security", "category": "authentication", "outcome": "success", "attributes": {}}
    assert "security.success_after_failures" in _kept(login)
    for variant in ("AUTHENTICATION", "Authentication"):  # matchers fold case
        assert "security.success_after_failures" in _kept({**login, "category": variant})
    assert "security.success_after_failures" not in _kept({**login, "category": "authorization"})
    sudo = {"kind": "security", "env": "prod", "action": "sudo", "outcome": "success", "target": "root",
            "attributes": {"command": "/bin/sh"}}
    assert "security.sudo_root_shell" in _kept(sudo)
    assert "security.sudo_root_shell" not in _kept({**sudo, "env": "PROD"})  # a filter's == does not fold
    tls = {"kind": "log", "attributes": {"tls.version": "TLSv1.3"}}
    assert "compliance.tls_downgrade" not in _kept(tls)
    # the same field values, other shapes: the rule reads elsewhere, so it is asked
    nested = {"kind": "log", "attributes": {"tls": {"version": "TLSv1"}}}
    flattened = {"kind": "log", "attributes.tls.version": "TLSv1", "attributes": {}}
    for item in (nested, flattened):
        assert "compliance.tls_downgrade" in _kept(item)
        assert next(r for r in RULES if r.id == "compliance.tls_downgrade").accepts(item)


def test_the_engine_asks_few_rules_about_a_login():
    login = {"kind": "security", "category": "authentication", "action": "login", "outcome": "success",
             "source_ip": "10.0.0.1", "attributes": {}}
    assert _kept(login) == {"security.success_after_failures"}
