"""Kill -9 the store and the ingest worker while traffic flows; count rows and duplicates
in ClickHouse afterwards. Real processes, real broker, real chDB."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from collectors.publisher import Publisher, run_at_rate
from collectors.synthetic import SyntheticSource
from sinks.kafka import kafka_cluster_id
from sluice import summary
from sluice.settings import load_settings
from sluice.sqlclient import SqlClient
from sluice.stack import Stack
from sluice.waiting import wait_drained

pytestmark = pytest.mark.faults


def _kill(child) -> None:
    os.kill(child.proc.pid, signal.SIGKILL)
    child.proc.wait()


def test_sigkill_of_sink_and_ingest_mid_stream_loses_and_duplicates_nothing(tmp_path, embedded_broker,
                                                                            topic_prefix):
    settings = load_settings(data_dir=tmp_path, **{
        "kafka.bootstrap_servers": embedded_broker.bootstrap_servers, "kafka.topic_prefix": topic_prefix,
        "kafka.partitions": 2, "store.batch_size": 3000, "ingest.batch_size": 2000})
    stack = Stack(settings).start()
    try:
        sql = SqlClient(settings, stack.sql_url)
        cluster = kafka_cluster_id(settings.kafka)
        pub = Publisher(settings.kafka)
        source = SyntheticSource(seed=11, poison_every=997)
        stop = threading.Event()
        sender = threading.Thread(target=run_at_rate, args=(source.batch, pub, 4000, 25), kwargs={"stop": stop})
        sender.start()
        # Wait until rows flow, then kill each stage while batches are in flight.
        deadline = time.monotonic() + 60
        while summary.landed(sql, cluster) == 0:
            assert time.monotonic() < deadline, "nothing landed within 60s"
            time.sleep(0.2)
        kills = 0
        for name in ("sink", "ingest-0", "sink", "ingest-0"):
            time.sleep(3)
            _kill(stack.child(name))
            kills += 1
            stack.supervise()
        sender.join()
        pub.flush()
        assert pub.stats.failed == 0
        wait_drained(lambda: summary.landed(sql, cluster), pub.stats.acked, 120, stack, lambda _n: None)
        time.sleep(2)  # anything duplicated would arrive right after the last batch
        acked = tmp_path / "acked.tsv"
        acked.write_bytes(b"\n".join(pub.acked_ids) + b"\n")
        assert summary.missing(sql, cluster, acked) == 0
        assert summary.duplicates(sql, cluster) == 0, summary.duplicate_report(sql, cluster)
        assert summary.landed(sql, cluster) == pub.stats.acked
        assert pub.stats.poison > 0
        dead = sql.scalar(f"SELECT count() FROM {settings.clickhouse.database}.dead_letters "
                          f"WHERE _cluster = '{cluster}'")
        assert int(dead) == pub.stats.poison
        assert stack.child("sink").restarts == 2 and stack.child("ingest-0").restarts == 2 and kills == 4
        pub.close()
    finally:
        stack.close()
