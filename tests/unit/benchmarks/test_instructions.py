"""benchmarks/instructions.py: reading callgrind's total, and a clear error without valgrind
(the counting itself runs minutes under valgrind: `python -m benchmarks.instructions`)."""

from __future__ import annotations

import pytest

from benchmarks import instructions


def test_the_total_is_read_from_valgrinds_report():
    stderr = "==41== Callgrind, a call-graph generating cache profiler\n==41== Events    : Ir\n" \
             "==41== Collected : 1,302,833,837\n==41==\n==41== I   refs:      1,302,833,837\n"
    assert instructions.collected(stderr) == 1_302_833_837
    with pytest.raises(RuntimeError, match="no callgrind total"):
        instructions.collected("==41== error while loading shared libraries")


def test_without_valgrind_it_says_what_is_missing(monkeypatch):
    monkeypatch.setattr(instructions.shutil, "which", lambda _name: None)
    with pytest.raises(SystemExit, match="needs valgrind"):
        instructions.run(10)
