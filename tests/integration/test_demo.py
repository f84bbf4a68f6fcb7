"""`sluice demo` end to end on the embedded stack: every acknowledged event lands once,
rollups are stored, and each injected incident raises its rule's alert."""

from __future__ import annotations

import orjson
import pytest
from click.testing import CliRunner

from collectors.incidents import default_incidents
from sluice.cli import main
from sluice.demo import run_demo
from sluice.settings import load_settings

pytestmark = pytest.mark.integration


def test_demo_lands_everything_once_and_alerts_on_each_incident(tmp_path):
    settings = load_settings(data_dir=tmp_path / "var", **{"kafka.partitions": 2})
    out = tmp_path / "s.json"
    lines: list[str] = []
    result = run_demo(settings, seconds=30, rate=1500, summary_json=out, echo=lines.append)
    assert orjson.loads(out.read_bytes()) == result
    assert result["missing"] == 0 and result["duplicates"] == 0
    produced = result["produced"]
    rows = result["rows"]
    assert min(produced.values()) > 0
    assert rows["logs"] + rows["dead_letters"] == produced["logs"]
    assert rows["metrics"] == produced["metrics"]
    assert rows["security_events"] == produced["security"]
    assert rows["deployments"] == produced["deployments"] == 1
    assert rows["rollups_1m"] > 0 and rows["rollup_counts_1m"] > 0
    assert rows["dead_letters"] == result["dead_letter_inputs"]
    expected = {r for inc in default_incidents() for r in inc.expected_rules}
    notified = [(a["rule_id"], a["status"]) for a in result["alerts"]]
    # Each incident: one firing notification, then one resolved after it ended; nothing else.
    assert sorted(notified) == sorted((r, s) for r in expected for s in ("firing", "resolved")), notified
    assert result["speed"] == 34 and result["platform_seconds"] >= 1020
    for alert in result["alerts"]:
        assert {"id", "fingerprint", "status", "severity", "rule_id", "title", "labels", "annotations",
                "starts_at", "evidence", "tenant"} <= set(alert)
    assert any("missing: 0" in line for line in lines)
    # The same incidents, looked for in the stored history by `sluice rules backtest`.
    for rule_id in sorted(expected - {"compliance.card_number_in_logs"}):  # signals are not stored
        found = CliRunner().invoke(main, ["rules", "backtest", rule_id, "--since", "1d", "--format", "JSONEachRow",
                                          "--data-dir", str(tmp_path / "var")])
        assert found.exit_code == 0, found.output
        assert [line for line in found.output.splitlines() if line.startswith("{")], (rule_id, found.output)
