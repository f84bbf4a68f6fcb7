"""Edge-assigned event ids: UUIDv7 (time-ordered, RFC 9562), cheap enough to mint
one per event at 100k events/s."""

from __future__ import annotations

import random
import time

_rand = random.SystemRandom()


class Uuid7Generator:
    """Monotonic within a process: a 12-bit counter orders ids minted in the same ms."""

    def __init__(self):
        self._ms = 0
        self._seq = 0
        self._bits = random.Random(_rand.getrandbits(64)).getrandbits

    def next(self, now: float | None = None) -> str:
        ms = int((time.time() if now is None else now) * 1000)
        if ms <= self._ms:
            self._seq += 1
            if self._seq > 0xFFF:
                self._ms += 1  # counter exhausted: borrow the next millisecond
                self._seq = 0
            ms = self._ms
        else:
            self._ms = ms
            self._seq = 0
        h = f"{ms & 0xFFFFFFFFFFFF:012x}7{self._seq:03x}{0x8000000000000000 | self._bits(62):016x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
