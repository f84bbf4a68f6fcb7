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


def test_a_second_run_on_the_same_data_dir_lands_every_record(tmp_path):
    """Each run starts its own embedded broker, whose offsets start at 0 again: the
    ClickHouse insert deduplication must not take the second run's batches (and dead
    letters) for replays of the first's."""
    for run in range(2):
        # fresh settings per run, as per command: a started stack writes its broker into them
        settings = load_settings(data_dir=tmp_path / "var", **{"kafka.partitions": 1})
        lines = [f"<134>Dec 31 23:59:{i % 60:02d} gw-0{run} api[7]: run {run} line {i}" for i in range(300)]
        lines[150] = "\xff not UTF-8"  # one dead letter per run, at the same offset
        path = tmp_path / f"run{run}.log"
        path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape").replace(b"\xc3\xbf", b"\xff"))
        # no rule fires on these lines: the alerts need no settling time
        result = run_process(settings, [path], "logs", "auto", None, echo=lambda _l: None, alerts_quiet_s=1.0)
        assert result["missing"] == 0 and result["duplicates"] == 0, (run, result)
        assert result["rows"]["logs"] == 299 and result["rows"]["dead_letters"] == 1, (run, result["rows"])
    sql = SqlClient(settings)
    try:
        db = settings.clickhouse.database
        assert int(sql.scalar(f"SELECT count() FROM {db}.logs")) == 598
        assert int(sql.scalar(f"SELECT count() FROM {db}.dead_letters")) == 2
    finally:
        sql.close()
