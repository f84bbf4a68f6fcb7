from __future__ import annotations

from streams.detect.yamlloc import LocList, LocMap, load_text

TEXT = """\
id: x
match:
  - service: api
    message|re: 'abc'
filter: |
  a == 1
    and b
plain: one two
"""


def test_positions_of_keys_values_and_offsets():
    (doc,), problems = load_text(TEXT, "r.yaml")
    assert problems == []
    assert isinstance(doc.data, LocMap) and isinstance(doc.data["match"], LocList)
    assert str(doc.loc(("id",))) == "r.yaml:1:5"
    assert str(doc.loc(("match", 0, "service"), at_key=True)) == "r.yaml:3:5"
    assert str(doc.loc(("match", 0, "message|re"))) == "r.yaml:4:17"
    assert str(doc.loc(("match", 0, "message|re"), offset=2)) == "r.yaml:4:20"  # after the quote
    assert str(doc.loc(("filter",), offset=doc.data["filter"].index("b"))) == "r.yaml:7:9"
    assert str(doc.loc(("plain",), offset=4)) == "r.yaml:8:12"
    # Elements pydantic adds (union tags) are skipped: the error lands on the nearest node.
    assert str(doc.loc(("match", "dict[str,any]", 0))) == "r.yaml:3:5"


def test_multiple_documents_and_empty_ones():
    docs, problems = load_text("id: a\n---\nid: b\n", "m.yaml")
    assert [d.data["id"] for d in docs] == ["a", "b"]
    assert str(docs[1].loc(("id",))) == "m.yaml:3:5"
    assert problems == []


def test_unhashable_key_is_a_problem():
    _, problems = load_text("? [a, b]\n: 1\n", "k.yaml")
    assert [str(p) for p in problems] == ["k.yaml:1:3: error: a mapping key must be a scalar"]
