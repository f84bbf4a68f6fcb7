"""Notifications already on the alert topics, so a restarted detect worker does not
send one twice.

The manager marks a notification sent in its state table before returning it, but
with faust's at_least_once guarantee (exactly_once needs broker transactions) the
changelog record of that mark can be lost when the worker dies right after the send.
The restarted worker then replays the input and produces the same message (same id:
fingerprint + starts_at + status) again. The topic itself is the outbox: at start-up
the worker reads the recent notifications back, and a message whose id went to the
same topic within `window_s` is not sent again. Repeats (`repeat_interval`, hours)
keep the id by design and are far outside the window.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

WINDOW_S = 600.0


class RecentSends:
    def __init__(self, window_s: float = WINDOW_S):
        self.window_s = window_s
        self._sent: dict[tuple[str, str], float] = {}
        self.skipped = 0

    def record(self, topic: str, message_id: str, at: float | None = None) -> None:
        self._sent[(topic, message_id)] = time.time() if at is None else at

    def load(self, messages: Iterable[tuple[str, str, float]]) -> int:
        """(topic, message id, Kafka timestamp in s) of messages read back from the topics."""
        n = 0
        for topic, message_id, at in messages:
            self.record(topic, message_id, at)
            n += 1
        return n

    def should_send(self, topic: str, message_id: str, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        self._prune(now)
        at = self._sent.get((topic, message_id))
        if at is not None and now - at < self.window_s:
            self.skipped += 1
            return False
        return True

    def _prune(self, now: float) -> None:
        if len(self._sent) > 10_000:
            self._sent = {k: at for k, at in self._sent.items() if now - at < self.window_s}
