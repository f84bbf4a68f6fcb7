"""`sluice process` on 2,000 real-looking syslog / sshd / Apache error lines: every line
lands as an event or a dead letter, no card number survives anywhere, and the SSH
brute-force rule flags attacking addresses only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sluice.process import run_process
from sluice.settings import load_settings
from sluice.sqlclient import SqlClient

pytestmark = pytest.mark.integration

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
ATTACKERS = {"203.0.113.5", "203.0.113.77", "198.51.100.23", "192.0.2.14", "2001:db8:bad::1"}
FULL_CARD = re.compile(rb"4111[ -]?1111[ -]?1111[ -]?1111")


def test_process_accounts_for_every_line_and_redacts(tmp_path):
    log = CORPUS / "auth_2000.log"
    lines = log.read_bytes().rstrip(b"\n").split(b"\n")
    assert len(lines) == 2000 and any(FULL_CARD.search(ln) for ln in lines)
    settings = load_settings(data_dir=tmp_path / "var", **{"kafka.partitions": 2})
    result = run_process(settings, [log], "logs", "auto", tmp_path / "s.json", echo=lambda _l: None)
    assert result["missing"] == 0 and result["duplicates"] == 0
    assert result["produced"]["logs"] == 2000
    rows = result["rows"]
    assert rows["logs"] + rows["security_events"] + rows["dead_letters"] >= 2000
    assert rows["security_events"] > 500 and rows["dead_letters"] > 0

    sql = SqlClient(settings)
    try:
        db = settings.clickhouse.database
        for table in ("logs", "security_events", "dead_letters"):
            dump = sql.query(f"SELECT * FROM {db}.{table} FORMAT TSV")
            assert not FULL_CARD.search(dump), f"a full card number survived in {table}"
        masked = sql.scalar(f"SELECT count() FROM {db}.logs WHERE message LIKE '%411111******1111%'")
        assert int(masked) > 0
    finally:
        sql.close()

    flagged = {a["labels"].get("source_ip") for a in result["alerts"]
               if a["rule_id"] == "security.ssh_brute_force" and a["status"] == "firing"}
    assert flagged and flagged <= ATTACKERS, flagged
    cards = [a for a in result["alerts"] if a["rule_id"] == "compliance.card_number_in_logs"]
    assert cards
