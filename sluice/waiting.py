"""Waiting for a run on the embedded stack to settle: every record landed, the last
rollups stored, the notifications out (`sluice demo` and `sluice process`)."""

from __future__ import annotations

import time
from collections.abc import Callable

from schemas.errors import RetryableSinkError
from sluice import summary
from sluice.settings import Settings
from sluice.stack import Stack


class DrainTimeout(RuntimeError):
    pass


def wait_drained(landed: Callable[[], int], expected: int, stall_timeout: float, stack: Stack,
                 report: Callable[[int], None]) -> int:
    """Wait until `landed()` (rows counted in ClickHouse, sluice.summary.landed) reaches
    `expected`; give up only when nothing lands for `stall_timeout` seconds (a long
    backlog that keeps moving is not an error)."""
    seen = -1
    last_progress = time.monotonic()
    while True:
        stack.supervise()
        try:
            now_seen = landed()
        except RetryableSinkError:  # the sink is restarting: its SQL endpoint is back shortly
            now_seen = max(seen, 0)
        report(now_seen)
        if now_seen >= expected:
            return now_seen
        now = time.monotonic()
        rate = (now_seen - seen) / (now - last_progress) if seen >= 0 and now_seen > seen else 0.0
        if now_seen > seen:
            seen, last_progress = now_seen, now
        elif now - last_progress > stall_timeout:
            raise DrainTimeout(f"only {seen} of {expected} records reached ClickHouse and nothing landed for "
                               f"{stall_timeout:.0f}s; see the stage logs in {stack.log_dir}")
        time.sleep(drain_poll_s(expected - now_seen, rate))


def drain_poll_s(left: int, rate: float) -> float:
    """How long to wait before counting again: half the time the rows left need at the
    rate they land, within [0.25, 2] s. A count filtered by cluster scans every stored
    row of the run (38-95 ms of the sink's CPU at 3.6 M rows): every half second, that
    was a tenth of a core taken from the drain."""
    if rate <= 0:
        return 0.5
    return min(2.0, max(0.25, 0.5 * left / rate))


def wait_quiet(read: Callable[[], int], quiet_s: float, timeout: float) -> int:
    """Wait until `read()` stops changing for `quiet_s` (the producer of what it counts
    has already exited); return the last value."""
    deadline = time.monotonic() + timeout
    last, since = read(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now_value = read()
        if now_value != last:
            last, since = now_value, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
    return last


def wait_alerts(settings: Settings, expected: set[str], timeout: float, echo: Callable[[str], None]) -> list[dict]:
    """Alerts on the notification topic, waiting up to `timeout` until each injected
    incident's rule has notified firing and then resolved."""
    deadline = time.monotonic() + timeout
    while True:
        alerts = summary.alerts_on_topic(settings.kafka)
        seen = {(a.get("rule_id"), a.get("status")) for a in alerts}
        missing = sorted(f"{rule} {status}" for rule in expected for status in ("firing", "resolved")
                         if (rule, status) not in seen)
        if not missing or time.monotonic() >= deadline:
            if missing:
                echo(f"warning: no notification yet for {', '.join(missing)}")
            return alerts
        time.sleep(1.0)


def wait_alerts_settled(settings: Settings, quiet_s: float) -> list[dict]:
    """Alerts on the notification topic once none arrived for `quiet_s` (grouping holds
    notifications back for group_wait)."""
    wait_quiet(lambda: len(summary.alerts_on_topic(settings.kafka)), quiet_s, 60.0)
    return summary.alerts_on_topic(settings.kafka)
