"""`sluice rules backtest` over events that went through the real pipeline lists exactly
the events the in-stream evaluator matches."""

from __future__ import annotations

import time

import orjson
import pytest
from click.testing import CliRunner

from schemas.topics import Topics
from sluice.cli import main
from streams.detect import load_rules
from streams.detect.loader import default_rules_path
from streams.ingest.pipeline import Ingestor
from tests.integration.harness import Pipeline, produce

pytestmark = pytest.mark.integration


def _sudo(i: int, command: str, actor: str = "bob", env: str = "prod") -> dict:
    return {"event_id": f"00000000-0000-7000-a000-{i:012d}", "ts": time.time() - 60 + i, "category": "privilege",
            "action": "sudo", "outcome": "success", "user": actor, "target": "root", "host": f"ledger-{i % 2}",
            "env": env, "service": "ledger", "command": command}


def test_backtest_lists_the_events_the_stream_evaluator_matches(tmp_path, embedded_broker, topic_prefix,
                                                                monkeypatch):
    from tests.integration.stacks import make_stack

    stack = make_stack("embedded", embedded_broker, None, tmp_path, topic_prefix)
    events = [_sudo(0, "/bin/bash"), _sudo(1, "/usr/bin/systemctl status ledger"), _sudo(2, "su -"),
              _sudo(3, "/bin/bash", actor="svc-deploy"), _sudo(4, "/bin/zsh", env="staging"), _sudo(5, "-i")]
    values = [orjson.dumps(e) for e in events]
    pipeline = Pipeline(stack)
    try:
        produce(stack, "security", values)
        pipeline.pump_ingest(len(events))
        pipeline.pump_store("security_events", len(events))
    finally:
        pipeline.close()  # one process may hold the chDB directory: the CLI opens it next

    rule = next(r for r in load_rules(default_rules_path()) if r.id == "security.sudo_root_shell")
    canonical = Ingestor(Topics(topic_prefix)).process(
        [(v, Topics(topic_prefix).raw("security"), 0, i) for i, v in enumerate(values)], time.time(),
        keep_events=True).events
    in_stream = {e["event_id"] for e in canonical if rule.accepts(e)}
    assert in_stream == {events[i]["event_id"] for i in (0, 2, 5)}

    monkeypatch.setenv("SLUICE_CLICKHOUSE__DATABASE", stack.clickhouse.database)
    monkeypatch.setenv("SLUICE_CLICKHOUSE__DATA_DIR", str(stack.clickhouse.data_dir))
    result = CliRunner().invoke(main, ["rules", "backtest", "security.sudo_root_shell", "--since", "1d",
                                       "--format", "JSONEachRow", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    backtested = {orjson.loads(line)["event_id"] for line in result.output.splitlines() if line.startswith("{")}
    assert backtested == in_stream
