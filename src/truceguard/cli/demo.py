"""The demo command: the main job on the shipped real data."""

from __future__ import annotations

import click

from truceguard.cli.common import db_option, domain_errors, resolve_db
from truceguard.demo import run_demo


@click.command("demo")
@db_option
@domain_errors
def demo_cmd(db: str | None) -> None:
    """Run the whole chain on the real data shipped with truceguard."""
    run_demo(resolve_db(db), say=click.echo)


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    group.add_command(demo_cmd)
