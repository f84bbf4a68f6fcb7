from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from sluice.commands.rules import rules
from streams.detect.loader import default_rules_path as default_rules_dir

FIXTURES = Path(__file__).parent / "fixtures"
LIBRARY = Path(__file__).resolve().parents[4] / "rules"


def invoke(*args: str):
    return CliRunner().invoke(rules, list(args))


def test_lint_reports_file_line_col_and_fails():
    result = invoke("lint", str(FIXTURES / "broken"))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.endswith("unknown_kind.yaml:5:7: error: unknown kind 'treshold' in key 'kind' (known kinds: "
                             "absence, anomaly, canary, compliance, pattern, ratio, sequence, threshold)")
               for line in lines)
    assert lines[-1] == "7 file(s), 1 rule(s): 19 error(s), 1 warning(s)"


def test_lint_of_the_library_passes_and_strict_turns_warnings_into_failures():
    ok = invoke("lint", str(LIBRARY))
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip().endswith("0 error(s), 0 warning(s)")
    warned = invoke("lint", "--strict", str(FIXTURES / "dups" / "b.yaml"))
    assert warned.exit_code == 1 and "has no test cases" in warned.output


def test_test_command_passes_on_the_library_and_fails_on_a_wrong_case():
    ok = invoke("test", str(LIBRARY))
    assert ok.exit_code == 0, ok.output
    assert "0 failed" in ok.output
    bad = invoke("test", str(FIXTURES / "failing"), "-v")
    assert bad.exit_code == 1
    assert "FAIL " in bad.output and "failing.wrong_expectation :: expects no alert but one is raised" in bad.output
    assert "ok   failing.wrong_expectation :: this one is right" in bad.output
    filtered = invoke("test", str(LIBRARY), "-k", "canary")
    assert filtered.output.strip().splitlines()[-1].startswith("1 rule(s)")


def test_broken_rules_fail_the_test_command_too():
    result = invoke("test", str(FIXTURES / "broken"))
    assert result.exit_code == 1 and "rule file error(s)" in result.output


def test_default_rules_dir_is_the_repository_library(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert default_rules_dir() == LIBRARY
    (tmp_path / "rules").mkdir()
    assert default_rules_dir() == tmp_path / "rules"
