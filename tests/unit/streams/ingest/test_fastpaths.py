"""The faster forms used on the ingest hot path give exactly what the plain forms give.

- QUOTED_BODY (decoders/base.py), the unrolled quoted-string body, against the
  textbook `(?:[^"\\]|\\.)*` inside every decoder regex that uses it;
- the all-digit epoch time path of JsonLogs against the normalizer's reading.
"""

from __future__ import annotations

import os
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.ingest.decoders import apache, logfmt, prometheus, syslog
from streams.ingest.decoders.base import QUOTED_BODY
from tests.unit.streams.ingest.corpus import OBSERVED

TEXTBOOK = r'(?:[^"\\]|\\.)*'
# Text made of the characters these regexes care about, so that quotes, escapes and
# line breaks meet in every combination.
NASTY = st.text(alphabet=st.sampled_from(['"', "\\", "a", " ", "\n", "=", "-", "1", "[", "]", ",", "|", ":"]),
                max_size=40)
SETTINGS = settings(max_examples=2000, deadline=None)
READERS = settings(max_examples=int(os.environ.get("SLUICE_PROP_EXAMPLES", "400")), deadline=None)


def _textbook(pattern: re.Pattern) -> re.Pattern:
    assert QUOTED_BODY in pattern.pattern
    return re.compile(pattern.pattern.replace(QUOTED_BODY, TEXTBOOK), pattern.flags)


PAIRS = [(p, _textbook(p)) for p in (apache.ACCESS, apache._NGINX_CONTEXT, logfmt._PAIR, syslog._SD_ELEMENT,
                                     syslog._SD_PARAM, prometheus._LABEL)]


@SETTINGS
@given(NASTY)
def test_unrolled_quoted_body_finds_what_the_textbook_form_finds(text):
    for fast, plain in PAIRS:
        assert fast.findall(text) == plain.findall(text), fast.pattern


@SETTINGS
@given(st.sampled_from(["1.2.3.4 - - [d] ", 'h i "u v" [31/Dec/2025:23:59:59 +0000] ']), NASTY, NASTY)
def test_unrolled_access_line_matches_like_the_textbook_form(head, request, rest):
    fast, plain = PAIRS[0]
    text = f'{head}"{request}" 200 1{rest}'
    m1, m2 = fast.match(text), plain.match(text)
    assert (m1 and m1.groups()) == (m2 and m2.groups())


@READERS
@given(st.one_of(st.text("0123456789", max_size=40), st.sampled_from(["١٢٣", "²", "1767225598123456768 ", "-1"]),
                 st.integers(0, 2 * 10 ** 19).map(str)), st.sampled_from(["ts", "timeUnixNano"]))
def test_epoch_digit_times_read_as_the_normalizer_reads_them(raw, key):
    from streams.ingest.jsonfast import JsonLogs
    from streams.ingest.normalize import Normalizer
    from streams.ingest.timeparse import TimeParser
    d = {key: raw, "msg": "m"}
    fast = JsonLogs(TimeParser()).event(dict(d), OBSERVED, "t", 1, 9, True)
    assert fast == Normalizer().log(dict(d), OBSERVED, ("t", 1, 9, 0))
