"""Rule state as the engine sees it while it works through one detect record.

Every assignment to a faust Table sends a changelog record, which costs more than
the rule evaluation that produced it. A record holds many items, and items of one
group (one source address, one provider) follow each other, so the engine writes
here and `flush()` hands the table the last state of each key once per record. A
worker that dies before the flush has committed neither the state nor the record's
offset, and evaluates the record again from the state before it.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping

_DELETED = object()
_MISSING = object()


class WriteBack(MutableMapping):
    def __init__(self, table: MutableMapping[str, dict]):
        self.table = table
        self.changed: dict[str, object] = {}

    def __getitem__(self, key: str) -> dict:
        value = self.changed.get(key, _MISSING)
        if value is _MISSING:
            return self.table[key]
        if value is _DELETED:
            raise KeyError(key)
        return value

    def get(self, key: str, default=None):
        value = self.changed.get(key, _MISSING)
        if value is _MISSING:
            # Most keys looked up are absent (a group that never mattered): a faust
            # Table answers `in` without the KeyError its get() raises and catches.
            table = self.table
            return table[key] if key in table else default
        return default if value is _DELETED else value

    def __setitem__(self, key: str, value: dict) -> None:
        self.changed[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self.changed[key] = _DELETED

    def __contains__(self, key) -> bool:
        value = self.changed.get(key, _MISSING)
        return key in self.table if value is _MISSING else value is not _DELETED

    def __iter__(self) -> Iterator[str]:
        for key, _ in self.items():
            yield key

    def items(self) -> Iterator[tuple[str, dict]]:
        """(key, state) of every key, in one pass over the table: the timer visits every
        group, and a look-up per key would go through the faust table's methods."""
        changed = self.changed
        for key, value in list(self.table.items()):
            if key not in changed:
                yield key, value
        for key, value in list(changed.items()):
            if value is not _DELETED:
                yield key, value

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def discard(self) -> None:
        """Forget what changed since the last flush."""
        self.changed.clear()

    def flush(self) -> int:
        """Write what changed to the table; return how many keys that was."""
        table = self.table
        for key, value in self.changed.items():
            if value is _DELETED:
                table.pop(key, None)
            else:
                table[key] = value
        n = len(self.changed)
        self.changed.clear()
        return n
