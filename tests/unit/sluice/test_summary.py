"""The demo summary's duplicate count and report, on a real embedded chDB."""

from __future__ import annotations

from sluice import summary
from sluice.settings import load_settings
from sluice.sqlclient import SqlClient


def _log_rows(sql: SqlClient, rows: list[tuple[str, int, int]]) -> None:
    values = ", ".join(f"(toUUID('{eid}'), now64(3), now64(3), 'c1', 'sluice.logs', {p}, {o})" for eid, p, o in rows)
    sql.query(f"INSERT INTO {sql.database}.logs (event_id, ts, observed_ts, _cluster, _topic, _partition, _offset) "
              f"VALUES {values}")


def test_duplicate_report_names_the_offsets_of_both_copies(tmp_path):
    sql = SqlClient(load_settings(data_dir=tmp_path))
    try:
        ids = [f"0190a000-0000-7000-8000-{i:012d}" for i in range(4)]
        _log_rows(sql, [(ids[0], 0, 10), (ids[1], 0, 11), (ids[2], 1, 5), (ids[3], 1, 6)])
        assert summary.duplicates(sql, "c1") == 0
        assert summary.duplicate_report(sql, "c1") == []
        _log_rows(sql, [(ids[0], 0, 500), (ids[1], 0, 501)])  # one batch written twice upstream
        assert summary.duplicates(sql, "c1") == 2
        assert summary.duplicate_report(sql, "c1") == [{
            "table": "logs", "topic": "sluice.logs", "partition": 0, "ids": 2, "first_from": 10, "first_to": 11,
            "last_partition": 0, "last_from": 500, "last_to": 501}]
        assert summary.duplicates(sql, "other-cluster") == 0
    finally:
        sql.close()


def test_landed_counts_a_clusters_rows_and_skips_the_filter_only_when_alone(tmp_path):
    sql = SqlClient(load_settings(data_dir=tmp_path))
    try:
        assert summary.alone(sql, "c1") and summary.landed(sql, "c1", alone=True) == 0
        ids = [f"0190a000-0000-7000-8000-{i:012d}" for i in range(3)]
        _log_rows(sql, [(ids[0], 0, 10), (ids[1], 0, 11)])
        assert summary.alone(sql, "c1") and summary.landed(sql, "c1", alone=True) == summary.landed(sql, "c1") == 2
        _log_rows(sql, [(ids[2], 0, 12)])
        sql.query(f"ALTER TABLE {sql.database}.logs UPDATE _cluster = 'c0' WHERE _offset = 12 "
                  "SETTINGS mutations_sync = 1")
        assert not summary.alone(sql, "c1") and summary.landed(sql, "c1") == 2
    finally:
        sql.close()
