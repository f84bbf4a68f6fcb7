"""`sluice deploy`: announce a deployment, so canary rules start comparing the canary
group's metrics with the baseline's (and the `deployments` table records it)."""

from __future__ import annotations

import getpass
from datetime import UTC, datetime

import click
from pydantic import ValidationError

from collectors.deployments import announce, new_deployment
from sluice.commands.common import cli_settings, data_dir_option, with_running_kafka


@click.command("deploy")
@click.option("--service", required=True, help="Deployed service, as its telemetry names it.")
@click.option("--version", "version", required=True, help="Version being rolled out.")
@click.option("--canary-group", default="canary", show_default=True,
              help="`deployment_group` label value of the canary hosts' metrics.")
@click.option("--baseline-group", default="baseline", show_default=True,
              help="`deployment_group` label value of the hosts still on the old version.")
@click.option("--tenant", default="default", show_default=True)
@click.option("--env", default="prod", show_default=True)
@click.option("--by", "actor", default=None, help="Who or which pipeline deploys (default: the current user).")
@click.option("--description", default="", help="Change summary, ticket or commit.")
@data_dir_option
@click.pass_context
def deploy(ctx, service, version, canary_group, baseline_group, tenant, env, actor, description, data_dir):
    """Announce a deployment on the deployments topic; prints its event id."""
    try:
        event = new_deployment(service, version, canary_group=canary_group, baseline_group=baseline_group,
                               tenant=tenant, env=env, actor=actor or getpass.getuser(), description=description)
    except ValidationError as exc:
        raise click.UsageError("; ".join(f"--{'-'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    kafka = with_running_kafka(cli_settings(ctx, data_dir=data_dir)).kafka
    try:
        announce(kafka, event)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(event.event_id)
    started = datetime.fromtimestamp(event.ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    click.echo(f"announced {service} {version} at {started}: canary rules compare `deployment_group` "
               f"{canary_group!r} with {baseline_group!r}", err=True)
