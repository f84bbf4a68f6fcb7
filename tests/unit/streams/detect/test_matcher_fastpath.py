"""The field matchers' fast path (top-level key, equals over strings) decides exactly
as the general walk does, over every matcher of the library and varied events."""

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.detect import expr_ast as ast
from streams.detect import load_rules
from streams.detect.evaluators.matchers import FieldMatcher, Selection
from streams.detect.loader import default_rules_path


def _matchers() -> list[FieldMatcher]:
    found = []

    def walk(obj, depth=0):
        if isinstance(obj, FieldMatcher):
            found.append(obj)
        elif isinstance(obj, Selection):
            for group in obj.groups:
                found.extend(group)
        elif depth < 3 and hasattr(obj, "__dict__"):
            for value in vars(obj).values():
                walk(value, depth + 1)
                if isinstance(value, list | tuple):
                    for v in value:
                        walk(v, depth + 1)
    for rule in load_rules(default_rules_path()):
        walk(rule)
    return found


MATCHERS = _matchers()


def _general(m: FieldMatcher) -> FieldMatcher:
    plain = dataclasses.replace(m)
    object.__setattr__(plain, "_key", None)
    object.__setattr__(plain, "_nested", None)
    object.__setattr__(plain, "_equals", None)
    return plain


GENERAL = [_general(m) for m in MATCHERS]
WORDS = st.sampled_from(["authentication", "AUTHENTICATION", "failure", "success", "login", "sudo", "root", "ssh",
                         "admin-console", "10.1.2.3", "203.0.113.9", "", "true", "5", "role_grant", "mfa_disable",
                         "TLSv1", "TLSv1.3", "cardholder"])
VALUES = st.one_of(WORDS, st.integers(-3, 30), st.booleans(), st.none(), st.lists(WORDS, max_size=3))
FIELDS = sorted({m.field.split(".")[0] for m in MATCHERS} | {"attributes"})


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8),
       st.dictionaries(st.sampled_from(["protocol", "app", "command", "field", "audit", "tls.version", "tls",
                                        "tls.server_name", "data_class"]),
                       st.one_of(WORDS, st.dictionaries(st.sampled_from(["version", "server_name"]), WORDS)),
                       max_size=4))
def test_fast_and_general_matchers_agree(event, attributes):
    event = {**event, "attributes": attributes, **({"attributes.app": event["source_ip"]} if "source_ip" in event else {}),
             **({"attributes.tls": {"version": event["category"]}} if "category" in event else {})}
    assert len(MATCHERS) > 20 and any(m._equals is not None for m in MATCHERS)
    assert any(m._nested is not None for m in MATCHERS) and any(m._key is not None for m in MATCHERS)
    for fast, plain in zip(MATCHERS, GENERAL, strict=True):
        assert fast._find(event) == ast.resolve(event, fast.path.parts), (fast.field, event)
        assert fast.test(event) == plain.test(event), (fast.field, fast.op, fast.values, event)
