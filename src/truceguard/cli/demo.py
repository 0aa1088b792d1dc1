"""The demo command: the main job on the shipped real data, in a database of its own."""

from __future__ import annotations

import click

from truceguard.cli.common import domain_errors
from truceguard.cli.plan import step_bar
from truceguard.demo import DEMO_DB, run_demo


@click.command("demo")
@click.option("-o", "--output", "out_dir", default="truceguard-demo", show_default=True,
              type=click.Path(file_okay=False),
              help=f"Directory for the reports and the demo's own database ({DEMO_DB}).")
@click.option("--samples", type=click.IntRange(100), default=5_000, show_default=True,
              help="Violations sampled per planning variant.")
@click.option("--seed", type=int, default=2025, show_default=True, help="Monte Carlo seed.")
@click.option("--db", "db", default=None, metavar="PATH",
              help=f"A new database file for the demo (default: OUTPUT/{DEMO_DB}); refused if "
              "it exists. The demo never uses ./truceguard.db or $TRUCEGUARD_DB.")
@domain_errors
def demo_cmd(out_dir: str, samples: int, seed: int, db: str | None) -> None:
    """Run the whole chain on the real data shipped with truceguard.

    Imports the UCDP events of the Minsk era, fuses them into incidents, judges them against
    the Minsk terms, writes the violations report, and plans the 2026 reassurance force. All
    of it happens in the demo's own database, OUTPUT/demo.db: your own database
    (./truceguard.db, $TRUCEGUARD_DB) is never opened.
    """
    with step_bar("demo") as bar:
        run_demo(db, out_dir, samples=samples, seed=seed, say=bar.echo, progress=bar)


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    group.add_command(demo_cmd)
