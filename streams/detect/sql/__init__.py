"""Compile rules to ClickHouse SQL over stored history (the basis of `rules backtest`).

Every query reads what the detect stage would have seen and lists when the rule
would have fired in the last `since`:

- pattern / compliance (raw tables `logs`, `metrics`, `security_events`): one row
  per matching event (ts, event_id, group columns); change windows and
  allow-lists are compiled too; `throttle` is not applied.
- threshold and ratio (raw tables, or `source: rollups`): one row per firing
  interval and group: `started` (when the condition began to hold), `fired`
  (when it had held for `for`), `resolved` (NULL while still firing) and
  `resolved_by` ('condition', or 'no data' when the group sent nothing for the
  rule's `stale_after`), `value` (at firing). Windows slide exactly like the
  evaluator's (window functions over one row per group and evaluation time);
  rollup items are rebuilt from `rollup_counts_1m` / `rollups_1m` (60 s windows),
  see sql/rollups.py. Details and stages: sql/stateful.py.
- sequence (raw tables): one row per alert (started, fired, count, event_id of
  the event that fired), the evaluator's state machine replayed with arrayFold
  (resets after an alert, `then` arming and expiry, `throttle`): sql/sequence.py.
- anomaly (rollups or raw metrics): one row per firing interval and group, like
  threshold, plus `baseline` and `z` at firing. The window's series are combined,
  each point is scored when the stream would score it, and the baseline (EWMA,
  median/MAD, seasonal slots) and lifecycle are replayed with arrayFold over the
  whole stored history: sql/anomaly.py.
- canary (deployments + raw metrics): one row per finished analysis whose verdict is
  in `alert_on`: verdict, score, recommendation, version, groups, event_id of the
  deployment and per metric (name, verdict, p, delta, medians, counts). Mann-Whitney U
  from ranks in SQL (not ClickHouse's mannWhitneyUTest, see sql/canary.py).
- absence: one row per silence of at least `window` between consecutive items of a
  group (fired = last_seen + window, resolved at the next item): sql/absence.py.

Not supported (SqlUnsupported says why): sources signals (and deployments outside
canary), the histogram rollup family, canary `samples: rollups`.

Where the backtest approximates the stream (threshold, ratio):
- items of one group at one time are evaluated together: several series of one
  group in the same minute (or events with equal ts) are summed before the
  condition is tested, and a threshold without windows holds only if it holds
  for all of them; the stream tests after each item, in arrival order, which
  storage does not keep. With one series per group the result is the stream's.
- items are taken in event-time order; the stream sees late items late.
- the stream resolves a silent firing group on a wall-clock timer; the backtest
  uses event time (`stale_after` after its last item). A group silent for
  `stale_after` while only pending starts over here, where the stream would keep
  it pending.
- the stream keeps at most 2000 buckets per group (MAX_BUCKETS); windows over
  more items are not capped here.
- only 60 s rollups are stored; the stream must be evaluating 60 s windows.

Anomaly: exact where the stream's order is event-time order, with two limits: a
window's series are combined in storage order (a float `sum`/`avg` may differ in the
last bit from the stream's arrival-order sum), and raw samples of one group with the
same ts keep the lowest event id (the stream: the first to arrive). Points are scored
at the group's next window or two window lengths later (the stream's timer), and a
group that ran all along is assumed (the stream's baseline starts when it started).
Canary: `fired` is the end of the analysis (the stream: its next tick or sample after
it); a deployment replaced before its end is dropped; samples are kept in event-time
order up to max_samples. Absence: event time, not arrival time (sql/absence.py).

Semantics follow the evaluator: string matchers are case-insensitive unless
`cased`, a missing map key is '' (the evaluator's null), numeric comparisons on
string attributes parse them as numbers. ClickHouse regexes are RE2: lookbehind
and possessive quantifiers, accepted by the live evaluator, fail here.
"""

from __future__ import annotations

from streams.detect.durations import parse_duration
from streams.detect.evaluators.absence import AbsenceEvaluator
from streams.detect.evaluators.anomaly import AnomalyEvaluator
from streams.detect.evaluators.base import CompiledRule
from streams.detect.evaluators.canary import CanaryEvaluator
from streams.detect.evaluators.pattern import PatternEvaluator
from streams.detect.evaluators.sequence import SequenceEvaluator
from streams.detect.evaluators.threshold import RatioEvaluator, ThresholdEvaluator
from streams.detect.sql.absence import absence_sql
from streams.detect.sql.anomaly import anomaly_sql
from streams.detect.sql.canary import canary_sql
from streams.detect.sql.events import pattern_sql
from streams.detect.sql.exprs import SqlUnsupported, quote
from streams.detect.sql.sequence import sequence_sql
from streams.detect.sql.stateful import ratio_sql, threshold_sql

__all__ = ["SqlUnsupported", "quote", "to_sql", "output_kind", "SUPPORTED"]

SUPPORTED = ("pattern", "compliance", "threshold", "ratio", "sequence", "anomaly", "canary", "absence")


# Evaluator class (first match wins: Ratio before Threshold, its base) -> SQL builder and
# what one row of its output is.
_FORMS = (
    (PatternEvaluator, pattern_sql, "events"),
    (RatioEvaluator, ratio_sql, "intervals"),
    (ThresholdEvaluator, threshold_sql, "intervals"),
    (SequenceEvaluator, sequence_sql, "alerts"),
    (AnomalyEvaluator, anomaly_sql, "intervals"),
    (CanaryEvaluator, canary_sql, "verdicts"),
    (AbsenceEvaluator, absence_sql, "intervals"),
)


def _form(rule: CompiledRule) -> tuple | None:
    return next((form for form in _FORMS if isinstance(rule, form[0])), None)


def output_kind(rule: CompiledRule) -> str:
    """'events' (one row per match), 'intervals' (firing intervals: threshold, ratio, anomaly,
    absence), 'alerts' (sequence alerts) or 'verdicts' (canary analyses)."""
    form = _form(rule)
    return form[2] if form is not None else "intervals"


def to_sql(rule: CompiledRule, since: float | str = "7d", database: str = "sluice") -> str:
    """ClickHouse SQL listing when `rule` would have fired in the last `since`; SqlUnsupported otherwise."""
    since_s = parse_duration(since)
    form = _form(rule)
    if form is None:
        raise SqlUnsupported(f"kind {rule.kind!r} has no SQL form (supported: {', '.join(SUPPORTED)})")
    return form[1](rule, since_s, database)
