"""`sluice rules lint|test`: check the rule library before it reaches the detect app."""

from __future__ import annotations

from pathlib import Path

import click

from streams.detect.lint import lint_path
from streams.detect.loader import default_rules_path
from streams.detect.ruletest import run_tests


def _path(path: Path | None) -> Path:
    return path if path is not None else default_rules_path()


@click.group("rules")
def rules() -> None:
    """Lint and test detection rules (YAML under rules/)."""


@rules.command("lint")
@click.argument("path", type=click.Path(path_type=Path), required=False)
@click.option("--strict", is_flag=True, help="Treat warnings as errors.")
def lint(path: Path | None, strict: bool) -> None:
    """Report every problem in every rule file as file:line:col; exit 1 if any error."""
    result = lint_path(_path(path))
    for problem in result.problems:
        click.echo(str(problem), err=problem.severity == "error")
    errors = len(result.errors)
    warnings = len(result.problems) - errors
    click.echo(f"{len(result.files)} file(s), {len(result.rules)} rule(s): {errors} error(s), {warnings} warning(s)")
    if errors or (strict and warnings):
        raise SystemExit(1)


@rules.command("test")
@click.argument("path", type=click.Path(path_type=Path), required=False)
@click.option("-k", "rule_filter", default=None, help="Only rules whose id contains this text.")
@click.option("-v", "--verbose", is_flag=True, help="List passing cases too.")
def test(path: Path | None, rule_filter: str | None, verbose: bool) -> None:
    """Run the test cases inside each rule file; exit 1 if any fails or a rule does not load."""
    results, problems, rule_count = run_tests(str(_path(path)), rule_filter)
    errors = [p for p in problems if p.severity == "error"]
    for problem in errors:
        click.echo(str(problem), err=True)
    failed = [r for r in results if not r.passed]
    for result in results:
        if not result.passed:
            click.echo(f"FAIL {result.loc} {result.rule_id} :: {result.name}\n    {result.message}")
        elif verbose:
            click.echo(f"ok   {result.rule_id} :: {result.name}")
    click.echo(f"{rule_count} rule(s), {len(results)} case(s): {len(results) - len(failed)} passed, "
               f"{len(failed)} failed" + (f", {len(errors)} rule file error(s)" if errors else ""))
    if failed or errors:
        raise SystemExit(1)
