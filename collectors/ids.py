"""Edge-assigned event ids: UUIDv7 (time-ordered, RFC 9562). `many` mints a batch's
ids in a few C-level passes over one buffer: formatting them one by one would cost
the load generator more CPU than everything else it does per event."""

from __future__ import annotations

import os
import random
import time

_rand = random.SystemRandom()

# The 12-bit counter as 3 hex digits, for every value in a row.
_SEQ_HEX = b"".join(b"%03x" % seq for seq in range(4096))
# Byte -> the same byte with the RFC 9562 variant (0b10) in its top two bits.
_VARIANT = bytes(0x80 | (b & 0x3F) for b in range(256))
# Where the 16 hex digits of the random half go in "xxxxxxxx-xxxx-7sss-vrrr-rrrrrrrrrrrr".
_RANDOM_AT = (19, 20, 21, 22, *range(24, 36))


class Uuid7Generator:
    """Monotonic within a process: a 12-bit counter orders ids minted in the same ms."""

    def __init__(self):
        self._ms = 0
        self._seq = 0
        self._bits = random.Random(_rand.getrandbits(64)).getrandbits

    def _take(self, k: int, now: float | None) -> int:
        """Reserves k consecutive (ms << 12 | counter) values; returns the first. Once the
        counter is exhausted the ids borrow the next millisecond."""
        ms = int((time.time() if now is None else now) * 1000)
        first = ms << 12 if ms > self._ms else (self._ms << 12 | self._seq) + 1
        last = first + k - 1
        self._ms, self._seq = last >> 12, last & 0xFFF
        return first

    def next(self, now: float | None = None) -> str:
        c = self._take(1, now)
        h = f"{(c >> 12) & 0xFFFFFFFFFFFF:012x}7{c & 0xFFF:03x}{0x8000000000000000 | self._bits(62):016x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def many(self, k: int, now: float | None = None) -> list[bytes]:
        """k ids (ASCII bytes), ordered and unique like k calls of `next`."""
        if k <= 0:
            return []
        c = self._take(k, now)
        out = bytearray()
        done = 0
        while done < k:  # one run per millisecond the ids span
            ms, seq = divmod(c + done, 4096)
            n = min(k - done, 4096 - seq)
            ms &= 0xFFFFFFFFFFFF
            # Each id is followed by a newline: split() then cuts them apart in one C call.
            run = bytearray(b"%08x-%04x-7000-0000-000000000000\n" % (ms >> 16, ms & 0xFFFF) * n)
            digits = _SEQ_HEX[3 * seq:3 * (seq + n)]
            for j in range(3):
                run[15 + j::37] = digits[j::3]
            out += run
            done += n
        rnd = bytearray(os.urandom(8 * k))
        rnd[::8] = rnd[::8].translate(_VARIANT)
        digits = rnd.hex().encode()
        for j, at in enumerate(_RANDOM_AT):
            out[at::37] = digits[j::16]
        return bytes(out).split()
