"""The demo command: the main job on the shipped real data."""

from __future__ import annotations

import click

from truceguard.cli.common import db_option, domain_errors, resolve_db
from truceguard.demo import run_demo


@click.command("demo")
@click.option("-o", "--output", "out_dir", default="truceguard-demo", show_default=True,
              type=click.Path(file_okay=False), help="Directory for the reports.")
@click.option("--samples", type=click.IntRange(100), default=5_000, show_default=True,
              help="Violations sampled per planning variant.")
@click.option("--seed", type=int, default=2025, show_default=True, help="Monte Carlo seed.")
@db_option
@domain_errors
def demo_cmd(out_dir: str, samples: int, seed: int, db: str | None) -> None:
    """Run the whole chain on the real data shipped with truceguard.

    Imports the UCDP events of the Minsk era, fuses them into incidents, judges them against
    the Minsk terms, writes the violations report, and plans the 2026 reassurance force.
    """
    run_demo(resolve_db(db), out_dir, samples=samples, seed=seed, say=click.echo)


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    group.add_command(demo_cmd)
