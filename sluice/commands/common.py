"""Helpers every command shares: settings from the click context and the running
embedded stack (topic reading lives in sinks.kafka_tail)."""

from __future__ import annotations

from pathlib import Path

import click

from schemas.errors import ConfigError
from sluice.embedded import read_stack
from sluice.settings import Settings, load_settings

data_dir_option = click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
                               help="Data directory (default ./var, or SLUICE_DATA_DIR).")


def cli_settings(ctx: click.Context, **overrides) -> Settings:
    """Settings from the `--config` of the root command (if any), env and overrides."""
    config = (ctx.find_root().obj or {}).get("config") if ctx is not None else None
    try:
        return load_settings(config, **overrides)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None


def with_running_kafka(settings: Settings) -> Settings:
    """Point the settings at the configured Kafka, else at the running embedded stack's
    broker and topic prefix; a ClickException says how to start one when neither exists."""
    if not settings.kafka.bootstrap_servers:
        info = read_stack(settings.stack_file)
        if info is None:
            raise click.ClickException(f"no Kafka configured and no running stack found in {settings.data_dir} "
                                       "(start one with `sluice run`, or set SLUICE_KAFKA__BOOTSTRAP_SERVERS)")
        settings.kafka.bootstrap_servers = info.bootstrap_servers
        settings.kafka.topic_prefix = info.topic_prefix
    return settings


