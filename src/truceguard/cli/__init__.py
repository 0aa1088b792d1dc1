"""The ``truceguard`` command: thin commands that parse, call one core function, and print.

Each submodule registers its commands on the group through ``register(group)``, the same
extension point a plugin would use.
"""

from __future__ import annotations

import click

from truceguard import __version__
from truceguard.cli import demo, judge, observe, plan, report, server, terms


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="truceguard")
def main() -> None:
    """truceguard: watch a ceasefire and plan the force that safeguards it.

    See (import observations), judge (fuse, adjudicate, report) and plan (is this coalition
    enough?), offline, on one SQLite file by default.
    """


for _module in (observe, judge, plan, report, demo, server, terms):
    _module.register(main)

__all__ = ["main"]
