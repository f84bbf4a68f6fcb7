"""Platform time: the clock the collector stamps events with and the detect stage
evaluates rules and alert timers against.

In production it is the wall clock (`speed` 1). `sluice demo` runs a simulated
platform whose time passes `speed` times faster than the wall clock from `origin`
on, so a one-minute demo covers the rule library's 5-minute windows, `for: 2m` and
10-minute canary analyses. Processing delays (polling, the merge grace of rollup
partials) stay in wall time; ingest keeps stamping `observed_ts` with the wall clock.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict, Field, model_validator


class ClockConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    speed: float = Field(default=1.0, ge=1.0, le=10_000.0, description="platform seconds per wall second (demo only; 1 = wall clock)")
    origin: float | None = Field(default=None, description="wall time (epoch s) from which platform time runs `speed` times faster")

    @model_validator(mode="after")
    def _needs_origin(self):
        if self.speed != 1.0 and self.origin is None:
            raise ValueError("a clock speed other than 1 needs an origin")
        return self

    def at(self, wall: float) -> float:
        """Platform time at wall time `wall`."""
        if self.speed == 1.0 or self.origin is None or wall <= self.origin:
            return wall
        return self.origin + (wall - self.origin) * self.speed

    def now(self) -> float:
        return self.at(time.time())
