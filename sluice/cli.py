"""The `sluice` command line."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click

from collectors.publisher import EVENTS_PER_RECORD
from schemas.errors import ConfigError, SinkError
from sluice.commands.common import cli_settings, data_dir_option, with_running_kafka

FORMATS = ("PrettyCompact", "Pretty", "JSONEachRow", "CSV", "CSVWithNames", "TSV", "TabSeparated",
           "TSVWithNames", "JSON", "Vertical", "Markdown")


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              envvar="SLUICE_CONFIG", help="YAML settings file (env SLUICE_* and flags override it).")
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.pass_context
def main(ctx: click.Context, config: Path | None, verbose: bool) -> None:
    """Sluice: telemetry from Kafka into ClickHouse, with detection and alerts."""
    ctx.ensure_object(dict)
    ctx.obj["config"] = config
    ctx.obj["verbose"] = verbose


def _register_subcommands() -> None:
    from sluice.commands.alerts import alerts, silence
    from sluice.commands.deploy import deploy
    from sluice.commands.dlq import dlq
    from sluice.commands.rules import rules

    for group in (rules, silence, alerts, dlq, deploy):
        main.add_command(group)


events_per_record_option = click.option(
    "--events-per-record", type=click.IntRange(min=1, max=10_000), default=EVENTS_PER_RECORD, show_default=True,
    help="Events per raw Kafka record: JSON arrays of up to this many, as agents ship batches "
         "(1 = one JSON object per record).")


@main.command()
@click.option("--seconds", type=click.FloatRange(min=1), default=60, show_default=True,
              help="How long the synthetic collector publishes.")
@click.option("--rate", type=click.FloatRange(min=1), default=5000, show_default=True,
              help="Events per second the synthetic collector publishes.")
@click.option("--speed", type=click.FloatRange(min=1, max=10_000), default=None,
              help="Platform seconds per wall second (default: fast enough for every incident to fire and "
                   "resolve within --seconds; 1 = real time).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Ingest worker processes.")
@events_per_record_option
@data_dir_option
@click.option("--summary-json", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the run summary as JSON here.")
@click.pass_context
def demo(ctx, seconds, rate, speed, workers, events_per_record, data_dir, summary_json):
    """Run the whole pipeline on the embedded stack with synthetic payments telemetry."""
    from sluice.demo import run_demo

    if ctx.obj["verbose"]:
        _setup_logging(True)
    settings = cli_settings(ctx, data_dir=data_dir, **{"ingest.workers": workers})
    _run_checked(lambda: run_demo(settings, seconds, rate, summary_json, echo=click.echo, speed=speed,
                                  events_per_record=events_per_record))


def _run_checked(run_fn) -> dict:
    """Run a demo-like job; its errors become CLI errors, and a delivery check that
    failed makes the exit status non-zero."""
    try:
        result = run_fn()
    except (ConfigError, SinkError, RuntimeError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from None
    if result["missing"] or result["duplicates"]:
        raise click.ClickException(f"delivery check failed: missing={result['missing']} "
                                   f"duplicates={result['duplicates']}")
    return result


@main.command()
@click.option("--stage", type=click.Choice(["all", "ingest", "sink", "detect"]), default="all", show_default=True,
              help="Which stage this process runs; `all` supervises one process per stage.")
@click.option("--worker-index", type=click.IntRange(min=0), default=0, help="Slot of this ingest worker.")
@click.option("--sql-port", type=click.IntRange(min=0, max=65535), default=None,
              help="Sink only: serve SQL over HTTP on this port (embedded ClickHouse).")
@data_dir_option
@click.pass_context
def run(ctx, stage, worker_index, sql_port, data_dir):
    """Run the stages as long-lived services (embedded broker/ClickHouse when none is configured)."""
    from sluice import stages
    from sluice.stack import Stack

    _setup_logging(ctx.obj["verbose"])
    settings = cli_settings(ctx, data_dir=data_dir)
    try:
        if stage == "ingest":
            stages.run_ingest(settings, worker_index)
        elif stage == "sink":
            stages.run_sink(settings, sql_port)
        elif stage == "detect":
            stages.run_detect(settings)
        else:
            _run_all(Stack(settings))
    except (ConfigError, SinkError) as exc:
        raise click.ClickException(str(exc)) from None


def _run_all(stack) -> None:
    from streams.runtime import Stopper

    stopper = Stopper()
    stack.start()
    click.echo(f"sluice running: Kafka {stack.bootstrap_servers}"
               + (f", SQL {stack.sql_url}" if stack.sql_url else "")
               + f"; logs in {stack.log_dir}. Ctrl-C stops.", err=True)
    try:
        while not stopper.stopped:
            stack.supervise()
            time.sleep(0.5)
    finally:
        stack.close()


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(["logs", "metrics", "security"]), default="logs", show_default=True,
              help="Which raw stream the records enter.")
@click.option("--format", "fmt", type=click.Choice(["auto", "json", "logfmt", "syslog", "apache", "otlp",
                                                    "prometheus", "cef", "auth"]), default="auto", show_default=True,
              help="Decoder to force; auto detects per record.")
@data_dir_option
@click.option("--summary-json", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.pass_context
def process(ctx, files, kind, fmt, data_dir, summary_json):
    """Run log/metric files through the whole pipeline (and the rules), then summarise."""
    from sluice.process import run_process

    settings = cli_settings(ctx, data_dir=data_dir)
    _run_checked(lambda: run_process(settings, list(files), kind, fmt, summary_json, echo=click.echo))


@main.command()
@click.argument("query")
@click.option("--format", "fmt", type=click.Choice(FORMATS, case_sensitive=False), default="PrettyCompact",
              show_default=True, help="ClickHouse output format.")
@data_dir_option
@click.pass_context
def sql(ctx, query, fmt, data_dir):
    """Run SQL against the configured ClickHouse (the running stack's endpoint when one holds it)."""
    from sluice.sqlclient import SqlClient

    client = SqlClient(cli_settings(ctx, data_dir=data_dir))
    try:
        sys.stdout.buffer.write(client.query(query, fmt))
    except SinkError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        client.close()


@main.command()
@click.option("--seconds", type=click.FloatRange(min=0.1), default=60, show_default=True)
@click.option("--rate", type=click.FloatRange(min=1), default=1000, show_default=True, help="Events per second.")
@events_per_record_option
@data_dir_option
@click.pass_context
def collect(ctx, seconds, rate, events_per_record, data_dir):
    """Publish synthetic telemetry to the configured (or running embedded) Kafka."""
    from collectors.publisher import Publisher, run_at_rate
    from collectors.synthetic import SyntheticSource

    settings = with_running_kafka(cli_settings(ctx, data_dir=data_dir))
    pub = Publisher(settings.kafka, track=None, events_per_record=events_per_record)
    source = SyntheticSource(events_per_record=events_per_record)
    run_at_rate(source.batch, pub, rate, seconds,
                on_tick=lambda e: click.echo(f"  {e:5.0f}s  produced {pub.stats.total:,}", err=True))
    pub.flush()
    click.echo(f"published {pub.stats.total:,} events ({pub.stats.acked:,} acked, {pub.stats.failed} failed) "
               f"to {settings.kafka.bootstrap_servers}")


_register_subcommands()
