import os
import shutil
import time
from pathlib import Path

from streams.detect.reload import RuleSet

LIBRARY = Path(__file__).resolve().parents[4] / "rules"


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "rules"
    shutil.copytree(LIBRARY / "security", dst)
    return dst


def _touch_later(path: Path, text: str) -> None:
    path.write_text(text)
    later = time.time() + 5
    os.utime(path, (later, later))


def test_a_broken_edit_keeps_the_running_rules_and_reports_why(tmp_path):
    rules_dir = _copy(tmp_path)
    rs = RuleSet(rules_dir)
    before = {r.id for r in rs.rules}
    assert rs.reload_if_changed() is False
    victim = rules_dir / "ssh_brute_force.yaml"
    _touch_later(victim, victim.read_text().replace("kind: sequence", "kind: no_such_kind"))
    assert rs.reload_if_changed() is False
    assert {r.id for r in rs.rules} == before and rs.version == 1
    assert "no_such_kind" in (rs.last_error or "") and "ssh_brute_force.yaml" in rs.last_error


def test_a_good_edit_is_picked_up(tmp_path):
    rules_dir = _copy(tmp_path)
    rs = RuleSet(rules_dir)
    (rules_dir / "sudo_root_shell.yaml").unlink()
    assert rs.reload_if_changed() is True
    assert "security.sudo_root_shell" not in {r.id for r in rs.rules} and rs.version == 2 and rs.last_error is None
