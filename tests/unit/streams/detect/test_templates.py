from __future__ import annotations

import pytest

from streams.detect.templates import MAX_OUTPUT, TemplateError, compile_template

CONTEXT = {
    "group": {"series.provider": "adyen", "host": "pay-1"},
    "values": {"ratio": 0.0532, "silent_for": 3900, "controls": ["pci-dss:3.4.1", "soc2:CC7.2"], "z": None},
    "event": {"attributes": {"http.method": "POST"}, "message": "x" * 200},
    "value": 12.3456,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain text", "plain text"),
        ("{{ group.series.provider }}", "adyen"),
        ("{{ group.series.provider | upper }} {{ group.host|lower }}", "ADYEN pay-1"),
        ("{{ values.ratio | pct }} / {{ values.ratio | pct(2) }}", "5.3% / 5.32%"),
        ("{{ value | round }} {{ value | round(0) }}", "12.35 12"),
        ("{{ values.silent_for | duration }}", "1h5m"),
        ("{{ values.controls | join(\", \") }}", "pci-dss:3.4.1, soc2:CC7.2"),
        ("{{ values.z | default(\"n/a\") }} {{ missing.path }}!", "n/a !"),
        ('{{ event.attributes["http.method"] }} {{ event.attributes.http.method }}', "POST POST"),
        ("{{ event.message | truncate(5) }}", "xxxx…"),
    ],
)
def test_render(text, expected):
    assert compile_template(text).render(CONTEXT) == expected


@pytest.mark.parametrize(
    ("text", "pos", "message"),
    [
        ("a {{ value + 1 }}", 5, "field path and formatters only"),
        ("{{ value | shout }}", 11, "unknown formatter 'shout'"),
        ("{{ value | round('x') }}", 17, "must be a int literal"),
        ("{{ value.__class__ }}", 9, "reserved"),
        ("{{ lower(value) }}", 3, "field path and formatters only"),
        ("{{ value", 0, "unclosed"),
        ("{{  }}", 2, "empty placeholder"),
        ("{{ value | pct(1, 2) }}", 11, "at most 1 argument"),
    ],
)
def test_errors_point_into_the_template(text, pos, message):
    with pytest.raises(TemplateError) as info:
        compile_template(text)
    assert info.value.pos == pos
    assert message in info.value.message


def test_output_is_bounded():
    template = compile_template("{{ event.message }}" * 100)
    assert len(template.render(CONTEXT)) == MAX_OUTPUT
