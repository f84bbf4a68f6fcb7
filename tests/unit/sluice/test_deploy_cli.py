from click.testing import CliRunner

from sluice.cli import main


def test_deploy_rejects_a_bad_announcement_naming_the_option(tmp_path):
    result = CliRunner().invoke(main, ["deploy", "--service", "", "--version", "1.0", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "--service" in result.output and "at least 1 character" in result.output


def test_deploy_without_kafka_says_how_to_start_one(tmp_path, monkeypatch):
    monkeypatch.delenv("SLUICE_KAFKA__BOOTSTRAP_SERVERS", raising=False)
    result = CliRunner().invoke(main, ["deploy", "--service", "payments", "--version", "2.0",
                                       "--data-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert "no running stack found" in result.output and "sluice run" in result.output
