"""The alert manager: rule engine candidates in, alert notifications out.

Pure Python; the detect app (faust) does the I/O and owns the state:

    config = load_alerting_config()                       # config/alerting.yaml
    silences = SilenceStore()                             # fed from {prefix}.silences
    manager = AlertManager(config, states_table, groups_table, silences,
                           database="sluice", topic_prefix="sluice")
    for note in manager.on_candidate(candidate, now):     # and manager.tick(now) from a timer
        for topic in note.topics:
            produce(topic, key=note.key, value=note.value, headers=note.headers)
    for row in manager.drain_history():                   # state changes, for the `alerts` table
        produce(topics.alert_history, *encode_history(row))
    silences.apply(record.key, record.value)              # each record of the silences topic

The message format is schemas/alerts.py (docs/alerts.md has the full picture).
"""

from __future__ import annotations

from streams.alerting.config import AlertingConfig, InhibitRule, Route, load_alerting_config
from streams.alerting.manager import AlertManager, Notification
from streams.alerting.matchers import Matcher, MatcherError, parse_matcher
from streams.alerting.records import encode_history, history_row, silence_history_row
from streams.alerting.routing import RouteMatch, Router
from streams.alerting.silences import (
    Silence,
    SilenceStore,
    decode_silence,
    encode_silence,
    expire_silence,
    new_silence,
)

__all__ = ["AlertManager", "AlertingConfig", "InhibitRule", "Matcher", "MatcherError", "Notification", "Route",
           "RouteMatch", "Router", "Silence", "SilenceStore", "decode_silence", "encode_history", "encode_silence",
           "expire_silence", "history_row", "load_alerting_config", "new_silence", "parse_matcher",
           "silence_history_row"]
