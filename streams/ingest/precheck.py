"""The cheap test run on every raw record of a batch before it is decoded: which
records might yield a card number or a secret, and therefore have their events
(or dead-letter payload) go through the exact, slow redaction of redact.py.

It must never miss (a superset of what redact.py would change in any string the
decoders derive from the record) and should rarely fire on clean records. Decoders
only produce substrings of the record, constants, and the derived forms that
`redact.RAW_GATE_PARTS` covers (JSON escapes, exponent numbers, values that become
field names), so testing the raw bytes is enough; it is also cheaper than testing
the serialized events, which are half as long again.

- The C form (`_precheck.c`, built when a compiler is at hand) takes over the built-in
  patterns unless SLUICE_PURE_PYTHON=1 (or `accelerate=False`): one pass over each
  record, 64 bytes at a time as bit masks, with an exact check at the few bytes that
  can anchor a match; exactly the two lists of the regex, in ~0.4 µs for a 300-byte
  record where Arrow takes ~1 µs (most of it reading records that are not in the
  cache). It runs only while the patterns redact.py builds are those it was written
  for (`_precheck.GATE_SHA256`); configured patterns keep the regex route below (hint
  or pattern), and their hits are added to both of its lists.
- With pyarrow (installed with chdb): one RE2 regex over the whole batch, as an
  Arrow binary array built over the joined records without a copy per value. RE2
  is a linear-time automaton: about 2 ns a byte here for every pattern at once,
  where Python's `re` needs 20-100 ns a byte for the same alternation.
- Without pyarrow: the same regex with Python's `re`: correct, an order of
  magnitude slower per byte. Arrow compiles the regex on every call (about 1 ms for
  the two patterns), so tiny batches use `re` too: call `Ingestor.process` with
  whole consumer batches rather than record by record.

The regex (`re`, `accelerate=False, use_arrow=False`) is the reference.
"""

from __future__ import annotations

import functools
import importlib.util
import re

from streams.ingest import accel
from streams.ingest.redact import gate_pattern, raw_gate_built

_precheck = accel.load("_precheck")
# pyarrow comes with chdb; without it the pure-Python test is used
_HAS_ARROW = importlib.util.find_spec("pyarrow") is not None and importlib.util.find_spec("numpy") is not None


@functools.cache
def _arrow() -> tuple:
    """(numpy, pyarrow, pyarrow.compute), imported on first use: the C form needs none of
    them, and importing numpy starts a BLAS thread pool in every ingest process."""
    import numpy
    import pyarrow
    import pyarrow.compute
    return numpy, pyarrow, pyarrow.compute


# pyarrow compiles the regex on every call (~1 ms for both): below this many records
# Python's `re` is the cheaper way.
_ARROW_MIN = 12


def available() -> bool:
    """Whether the C form is built and written for the gate redact.py builds today (a
    change of the built-in patterns there turns it off until _precheck.c follows)."""
    return raw_gate_built()


def accelerated() -> bool:
    """Whether new PreCheck instances take the C path."""
    return available() and accel.wanted()


class PreCheck:
    """Indices of the records of a batch that need exact redaction."""

    def __init__(self, extra: list[tuple[str, str, str]] | None = None, use_arrow: bool = True,
                 accelerate: bool | None = None):
        """extra: (kind, regex, hint) of configured patterns; a pattern with a hint is
        pre-checked by its hint only (case-insensitive). accelerate: None = the C path
        for the built-in patterns when it is built and SLUICE_PURE_PYTHON is not 1."""
        pairs = [(p, h) for _, p, h in (extra or [])]
        self.pattern = gate_pattern(pairs, raw=True)
        self.secrets = gate_pattern(pairs, raw=True, cards=False)
        self.arrow = use_arrow and _HAS_ARROW
        if self.arrow and pairs:  # fails now if RE2 rejects a configured pattern
            _, pa, pc = _arrow()
            for pattern in (self.pattern, self.secrets):
                pc.match_substring_regex(pa.array([b""], pa.binary()), pattern)
        self._py_gate = re.compile(self.pattern.encode())
        self._py_secrets = re.compile(self.secrets.encode())
        if accelerate is None:
            accelerate = accelerated()
        elif accelerate and not available():
            raise ImportError("streams.ingest._precheck is not built, or not for the gate redact.py builds")
        # The configured patterns alone (gate_pattern appends them to the built-in ones):
        # what the C path adds by regex. A hit is both a card and a secret candidate.
        builtin = gate_pattern(raw=True)
        self.accelerated = accelerate and self.pattern.startswith(builtin)
        self.extra_pattern = (self.pattern[len(builtin) + 1:] or None) if self.accelerated else None
        self._py_extra = re.compile(self.extra_pattern.encode()) if self.extra_pattern else None

    def flagged(self, values: list[bytes]) -> tuple[list[int], list[int]]:
        """(indices of records to check for card numbers, indices of records that may
        also hold a secret). Digit runs are common (epoch milliseconds, order ids),
        secrets rare, so the second list is searched within the first only."""
        if not values:
            return [], []
        if self.accelerated:
            maybe, secret = _precheck.flagged(values)
            if self.extra_pattern is None:
                return maybe, secret
            extra = self._extra_hits(values)
            if not extra:
                return maybe, secret
            return sorted(set(maybe).union(extra)), sorted(set(secret).union(extra))
        if not self.arrow or len(values) < _ARROW_MIN:
            maybe = [i for i, v in enumerate(values) if self._py_gate.search(v) is not None]
            return maybe, [i for i in maybe if self._py_secrets.search(values[i]) is not None]
        maybe = self._match(values, self.pattern)
        if not maybe:
            return [], []
        secret = self._match([values[i] for i in maybe], self.secrets)
        return maybe, [maybe[j] for j in secret]

    def _extra_hits(self, values: list[bytes]) -> list[int]:
        if not self.arrow or len(values) < _ARROW_MIN:
            search = self._py_extra.search
            return [i for i, v in enumerate(values) if search(v) is not None]
        return self._match(values, self.extra_pattern)

    @staticmethod
    def _match(values: list[bytes], pattern: str) -> list[int]:
        np, pa, pc = _arrow()
        n = len(values)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=n), out=offsets[1:])
        arr = pa.Array.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets),
                                                            pa.py_buffer(b"".join(values))])
        return pc.indices_nonzero(pc.match_substring_regex(arr, pattern)).to_numpy().tolist()
