"""Platform time: the clock the collector stamps events with and the detect stage
evaluates rules and alert timers against.

In production it is the wall clock (`speed` 1). `sluice demo` runs a simulated
platform whose time passes `speed` times faster than the wall clock from `origin`
on, so a one-minute demo covers the rule library's 5-minute windows, `for: 2m` and
10-minute canary analyses. Platform time at `origin` is `start` (default: `origin`):
the demo starts it in the past so that its run ends about now, and what it stored
reads as the last quarter of an hour to queries and backtests bounded by now().
Processing delays (polling, the merge grace of rollup partials) stay in wall time.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ClockConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    speed: float = Field(default=1.0, ge=1.0, le=10_000.0, description="platform seconds per wall second (demo only; 1 = wall clock)")
    origin: float | None = Field(default=None, description="wall time (epoch s) from which platform time runs `speed` times faster")
    start: float | None = Field(default=None, description="platform time at `origin` (unset: `origin`)")

    @model_validator(mode="after")
    def _needs_origin(self):
        if self.speed != 1.0 and self.origin is None:
            raise ValueError("a clock speed other than 1 needs an origin")
        return self

    def at(self, wall: float) -> float:
        """Platform time at wall time `wall`."""
        if self.origin is None:
            return wall
        start = self.origin if self.start is None else self.start
        if wall <= self.origin:
            return start - (self.origin - wall)
        return start + (wall - self.origin) * self.speed

    def now(self) -> float:
        return self.at(time.time())
