"""The cheap test run on every raw record of a batch before it is decoded: which
records might yield a card number or a secret, and therefore have their events
(or dead-letter payload) go through the exact, slow redaction of redact.py.

It must never miss (a superset of what redact.py would change in any string the
decoders derive from the record) and should rarely fire on clean records. Decoders
only produce substrings of the record, constants, and the derived forms that
`redact.RAW_GATE_PARTS` covers (JSON escapes, exponent numbers, values that become
field names), so testing the raw bytes is enough; it is also cheaper than testing
the serialized events, which are half as long again.

- With pyarrow (installed with chdb): one RE2 regex over the whole batch, as an
  Arrow binary array built over the joined records without a copy per value. RE2
  is a linear-time automaton: about 2 ns a byte here for every pattern at once,
  where Python's `re` needs 20-100 ns a byte for the same alternation.
- Without pyarrow: the same regex with Python's `re`: correct, an order of
  magnitude slower per byte. Arrow compiles the regex on every call (about 1 ms for
  the two patterns), so tiny batches use `re` too: call `Ingestor.process` with
  whole consumer batches rather than record by record.
"""

from __future__ import annotations

import re

from streams.ingest.redact import gate_pattern

try:  # pyarrow comes with chdb; without it the pure-Python test is used
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
except ImportError:  # pragma: no cover
    np = pa = pc = None


# pyarrow compiles the regex on every call (~1 ms for both): below this many records
# Python's `re` is the cheaper way.
_ARROW_MIN = 12


class PreCheck:
    """Indices of the records of a batch that need exact redaction."""

    def __init__(self, extra: list[tuple[str, str, str]] | None = None, use_arrow: bool = True):
        """extra: (kind, regex, hint) of configured patterns; a pattern with a hint is
        pre-checked by its hint only (case-insensitive)."""
        self.pattern = gate_pattern([(p, h) for _, p, h in (extra or [])], raw=True)
        self.secrets = gate_pattern([(p, h) for _, p, h in (extra or [])], raw=True, cards=False)
        self.arrow = use_arrow and pc is not None
        if self.arrow:
            for pattern in (self.pattern, self.secrets):  # fails now if RE2 rejects a configured pattern
                pc.match_substring_regex(pa.array([b""], pa.binary()), pattern)
        self._py_gate = re.compile(self.pattern.encode())
        self._py_secrets = re.compile(self.secrets.encode())

    def flagged(self, values: list[bytes]) -> tuple[list[int], list[int]]:
        """(indices of records to check for card numbers, indices of records that may
        also hold a secret). Digit runs are common (epoch milliseconds, order ids),
        secrets rare, so the second list is searched within the first only."""
        if not values:
            return [], []
        if not self.arrow or len(values) < _ARROW_MIN:
            maybe = [i for i, v in enumerate(values) if self._py_gate.search(v) is not None]
            return maybe, [i for i in maybe if self._py_secrets.search(values[i]) is not None]
        maybe = self._match(values, self.pattern)
        if not maybe:
            return [], []
        secret = self._match([values[i] for i in maybe], self.secrets)
        return maybe, [maybe[j] for j in secret]

    @staticmethod
    def _match(values: list[bytes], pattern: str) -> list[int]:
        n = len(values)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=n), out=offsets[1:])
        arr = pa.Array.from_buffers(pa.large_binary(), n, [None, pa.py_buffer(offsets),
                                                            pa.py_buffer(b"".join(values))])
        return pc.indices_nonzero(pc.match_substring_regex(arr, pattern)).to_numpy().tolist()
