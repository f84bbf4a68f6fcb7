"""What ingest forwards to the detect stage: the events and 1-minute rollups some rule
reads, nothing else (or everything, with the pre-filter off)."""

from streams.detect.loader import default_rules_path
from streams.ingest.routing import DetectFilter


def _partial(family: str, window_s: int, **series) -> dict:
    return {"v": 1, "family": family, "window_start": 1_800_000_000.0, "window_s": window_s, "key": family,
            "series": series, "count": 10, "failures": 1}


def test_rollups_of_the_rules_window_size_that_a_rule_reads_pass():
    f = DetectFilter(default_rules_path())
    payment = _partial("payment", 60, provider="adyen", tenant="acme")
    partials = [payment, _partial("payment", 10, provider="adyen"), _partial("security_actor", 60, actor="bob"),
                _partial("metric", 60, name="http_request_duration_seconds")]
    assert f.wanted_rollups(partials) == [payment]


def test_the_size_is_configurable_and_prefilter_off_passes_everything_of_that_size():
    assert DetectFilter(default_rules_path(), rollup_window_s=10).wanted_rollups(
        [_partial("payment", 10), _partial("payment", 60)]) == [_partial("payment", 10)]
    everything = DetectFilter(default_rules_path(), everything=True)
    assert everything.wanted_rollups([_partial("security_actor", 60)]) == [_partial("security_actor", 60)]
    assert everything.wanted([{"kind": "log", "message": "anything"}]) == [{"kind": "log", "message": "anything"}]


def test_events_no_rule_reads_stay_out():
    f = DetectFilter(default_rules_path())
    ordinary = {"kind": "log", "service": "ledger", "severity_number": 9, "message": "journal entry posted",
                "attributes": {}}
    assert f.wanted([ordinary]) == []
