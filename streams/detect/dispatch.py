"""Which rules of a source may accept an item, by their guards (streams/detect/guards.py).

The detect stage sees every item a rule of its source wants, and most rules of that
source cannot accept it (a login is not a sudo). Testing each rule's guards costs a
Python call per rule and item; here the guards on top-level fields are answered once
per combination of the values that decide them and remembered, so an item costs one
lookup per guarded field. Guards on a map key (`attributes.app`) are tested per item:
they read more than one field.

Values of a field decide alike when every guard on that field treats them alike: a
string one of its guards lists stands for itself; any other non-empty string fails
every value guard and passes a presence guard; "" fails both; None and values that
are not strings are decided by no guard except presence (None fails it).
"""

from __future__ import annotations

from collections.abc import Mapping

from streams.detect.evaluators.base import CompiledRule
from streams.detect.guards import Guard, passes_any_shape

_UNLISTED = object()  # a non-empty string no guard of its field lists
_OTHER = object()  # neither a string nor None
LIMIT = 4096  # remembered combinations; case variants of listed values are all that can add more


class Dispatch:
    def __init__(self, rules: list[tuple[list[Guard], CompiledRule]]):
        listed: dict[str, set] = {}
        for guards, _ in rules:
            for key, values, _fold in guards:
                if type(key) is str:
                    listed.setdefault(key, set()).update(values or ())
        self.fields = tuple((key, frozenset(values)) for key, values in sorted(listed.items()))
        self.rules = [([g for g in guards if type(g[0]) is str], [g for g in guards if type(g[0]) is not str], rule)
                      for guards, rule in rules]
        self._chosen: dict[tuple, list[tuple[list[Guard], CompiledRule]]] = {}

    def candidates(self, item: Mapping) -> list[tuple[list[Guard], CompiledRule]]:
        """(map-key guards still to test, rule) for each rule whose field guards pass."""
        signature = []
        for key, values in self.fields:
            v = item.get(key)
            if type(v) is str:
                if not (v in values or v.lower() in values):
                    v = _UNLISTED if v else ""
            elif v is not None:
                v = _OTHER
            signature.append(v)
        signature = tuple(signature)
        chosen = self._chosen.get(signature)
        if chosen is None:
            if len(self._chosen) >= LIMIT:
                self._chosen.clear()
            chosen = self._chosen[signature] = [(rest, rule) for fields, rest, rule in self.rules
                                                if not fields or passes_any_shape(fields, item)]
        return chosen
