"""Rollup rules keep one bucket per window, not one per contributing series: the state
travels in every changelog write, and payments groups have thousands of series."""

import orjson

from streams.detect import Engine, load_rules
from streams.detect.loader import default_rules_path

T0 = 1_800_000_000.0


def _payment(minute: int, merchant: int, failures: int) -> dict:
    return {"v": 1, "family": "payment", "window_start": T0 + 60 * minute, "window_s": 60,
            "key": f"payment|m{merchant}", "count": 10, "failures": failures,
            "series": {"tenant": "acme", "provider": "adyen", "merchant": f"m-{merchant}", "currency": "EUR"}}


def test_ratio_and_anomaly_state_do_not_grow_with_series_and_sums_are_exact():
    rules = [r for r in load_rules(default_rules_path())
             if r.id in ("payments.provider_failure_ratio", "payments.volume_drop")]
    assert len(rules) == 2
    engine = Engine(rules, strict=True)
    alerts = []
    for minute in range(6):
        for merchant in range(500):
            item = _payment(minute, merchant, failures=1 if minute < 3 else 0)
            alerts.extend(engine.process(item, item["window_start"] + 60))
    ratio_state = engine.states['payments.provider_failure_ratio/["adyen"]']
    assert len(ratio_state["buckets"]) == 5  # the 5-minute window, whatever the merchant count
    assert ratio_state["buckets"][-1][3] == [0, 5000]
    assert all(len(orjson.dumps(state)) < 4000 for state in engine.states.values())
    firing = [a for a in alerts if a["rule_id"] == "payments.provider_failure_ratio"]
    # 10% failures: fires once `for: 2m` held, i.e. on the first partial of the third
    # minute, with every earlier partial summed exactly (2 x 500 merchants + 1)
    assert firing and firing[0]["status"] == "firing"
    assert firing[0]["values"]["numerator"] == 1001 and firing[0]["values"]["denominator"] == 10010
