"""`sluice rules lint|test|backtest`: check the rule library before it reaches the detect app."""

from __future__ import annotations

from pathlib import Path

import click

from sluice.commands.common import cli_settings, data_dir_option
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


@rules.command("backtest")
@click.argument("rule_id")
@click.option("--since", default="7d", show_default=True, help="How far back: 30m, 12h, 7d ...")
@click.option("--path", "rules_path", type=click.Path(path_type=Path), default=None, help="Rule files (default ./rules).")
@click.option("--show-sql", is_flag=True, help="Print the compiled SQL too.")
@click.option("--format", "fmt", default="text", show_default=True,
              help="text (one line per match, firing interval or alert), or a ClickHouse output format "
                   "(JSONEachRow, PrettyCompact, CSV ...).")
@data_dir_option
@click.pass_context
def backtest(ctx, rule_id: str, since: str, rules_path: Path | None, show_sql: bool, fmt: str, data_dir) -> None:
    """List when RULE_ID would have fired over stored history (the rule compiled to ClickHouse SQL).

    Supported kinds: pattern and compliance (one line per matching event); threshold,
    ratio, anomaly and absence (one line per firing interval and group: started,
    resolved or ongoing, value; anomaly adds baseline and z, absence last_seen; also
    over `source: rollups`); sequence (one line per alert); canary (one line per
    finished analysis whose verdict is in `alert_on`, with score and per-metric
    verdicts). Unsupported constructs are named in the error."""
    import orjson

    from schemas.errors import SinkError
    from sluice.sqlclient import SqlClient
    from streams.detect.loader import RuleLoadError, load_rules
    from streams.detect.sql import SqlUnsupported, output_kind, to_sql

    settings = cli_settings(ctx, data_dir=data_dir)
    try:
        found = {r.id: r for r in load_rules(_path(rules_path))}
    except RuleLoadError as exc:
        raise click.ClickException(str(exc)) from None
    if rule_id not in found:
        raise click.ClickException(f"no rule {rule_id!r}; known: {', '.join(sorted(found))}")
    rule = found[rule_id]
    try:
        sql = to_sql(rule, since, settings.clickhouse.database)
    except (SqlUnsupported, ValueError) as exc:
        raise click.ClickException(f"{rule_id} cannot be backtested: {exc}") from None
    if show_sql:
        click.echo(sql)
    client = SqlClient(settings)
    try:
        out = client.query(sql, "JSONEachRow" if fmt == "text" else fmt).decode()
    except SinkError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        client.close()
    if fmt != "text":
        click.echo(out if out else f"{rule_id}: no match in the last {since}", nl=not out)
        return
    rows = [orjson.loads(line) for line in out.splitlines() if line.strip()]
    groups = [text for text, _ in rule.group_paths]
    kind = output_kind(rule)
    for row in rows:
        click.echo(_backtest_line(kind, row, groups))
    noun = {"events": "matching event(s)", "intervals": "firing interval(s)", "alerts": "alert(s)",
            "verdicts": "canary verdict(s)"}[kind]
    click.echo(f"{rule_id}: {len(rows)} {noun} in the last {since}")
    if kind != "events":
        click.echo("note: the backtest evaluates each group once per item time (per minute for rollups), in "
                   "event-time order" + (", by event time rather than arrival time" if rule.kind == "absence" else "")
                   + "; see `streams/detect/sql` for where this can differ from the live stream.")


def _backtest_line(kind: str, row: dict, groups: list[str]) -> str:
    group = " ".join(f"{g}={row.get(g, '')}" for g in groups) or "(all)"
    if kind == "events":
        return f"{row['ts']}  {row['event_id']}  {group}"
    if kind == "alerts":
        return f"{row['fired']}  {group}  {row['count']} events since {row['started']}  (last: {row['event_id']})"
    if kind == "verdicts":
        metrics = ", ".join(f"{m[0]}={m[1]}" for m in row.get("metrics", []))
        return (f"{row['fired']}  {group}  {row['version']} deployed {row['started']}: {row['verdict']} "
                f"(score {row['score']}, {row['recommendation']})  {metrics}  (deployment {row['event_id']})")
    if row.get("resolved"):
        end = f"resolved {row['resolved']}" + (" (no data)" if row.get("resolved_by") == "no data" else "")
    else:
        end = "ongoing"
    value = row.get("value")
    shown = f"{value:.4g}" if isinstance(value, int | float) else str(value)
    extra = ""
    if "baseline" in row:  # anomaly
        baseline = row["baseline"]
        extra = f"  baseline={baseline:.4g}" if isinstance(baseline, int | float) else f"  baseline={baseline}"
        extra += f"  z={row['z']}" if row.get("z") is not None else "  z=inf"
    if "last_seen" in row:  # absence
        extra = f"  last_seen={row['last_seen']}"
    return f"{group}  started {row['started']}  fired {row['fired']}  {end}  value={shown}{extra}"
