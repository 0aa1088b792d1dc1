"""The ``truceguard`` command: thin commands that parse, call one core function, and print.

Each submodule defines its commands and adds them to a group through ``register(group)``. The
``truceguard`` group itself imports a command's module only when that command is run or asked
for its help: ``COMMANDS`` names where each command lives and gives its short help, so that
``truceguard --help`` lists every command without importing numpy, shapely, pyproj or scipy.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

import click

from truceguard import __version__
from truceguard.cli.common import EnvelopeGroup

# command name -> ("module:attribute", short help). The attribute is the command, or the
# module's ``register(group)`` when it defines its commands inside that function. The short help
# is the first sentence of the command's help (tests/test_cli.py checks both).
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("truceguard.cli.observe:init_cmd",
             "Create (or migrate) the database, owned by --nation."),
    "import": ("truceguard.cli.observe:import_cmd",
               "Import observations from PATH (UCDP, ACLED, GeoJSON, CSV with --map, CoT XML)."),
    "observations": ("truceguard.cli.observe:observations_cmd",
                     "List the observations that match the filters."),
    "export": ("truceguard.cli.observe:export_cmd",
               "Export exactly the observations that `observations` lists with the same "
               "filters."),
    "conflicts": ("truceguard.cli.observe:conflicts_cmd",
                  "Records kept for review: each claims the identity of a stored record with "
                  "other content (a revised event, or a forged id)."),
    "remark": ("truceguard.cli.observe:remark_cmd",
               "Change the marking of observations (wider or narrower), logged with who and "
               "why."),
    "markings": ("truceguard.cli.observe:markings_cmd",
                 "The codes a marking may name: ISO 3166-1 alpha-3 countries and the groups."),
    "attach": ("truceguard.cli.attach:attach_cmd",
               "Attach a photo, video or document to observation OBS_ID as evidence."),
    "attachments": ("truceguard.cli.attach:attachments_cmd",
                    "List the evidence files attached to observation OBS_ID, or export them."),
    "fuse": ("truceguard.cli.judge:fuse_cmd",
             "Fuse observations into incidents (new observations join or merge incidents)."),
    "adjudicate": ("truceguard.cli.judge:adjudicate_cmd",
                   "Judge every incident against the terms: which clauses it breaches."),
    "incidents": ("truceguard.cli.judge:incidents_cmd",
                  "List incidents (fused observations) matching the filters, as the viewer sees "
                  "them."),
    "violations": ("truceguard.cli.judge:violations_cmd",
                   "List violations (incidents judged against terms) matching the filters."),
    "review": ("truceguard.cli.judge:review_cmd",
               "Change a violation's status; the trail keeps every earlier decision."),
    "register": ("truceguard.cli.register:register_cmd",
                 "List weapons seen where the terms forbid them, re-sightings linked into "
                 "systems."),
    "plan": ("truceguard.cli.plan:register",
             "Is this coalition enough? Simulate SCENARIO (a shipped name or a YAML path; "
             "default reassurance-2026), rank the assumptions that drive each answer, and write "
             "the report."),
    "compare": ("truceguard.cli.plan:register",
                "Compare variants of SCENARIO side by side, with the gap each one leaves."),
    "scenarios": ("truceguard.cli.plan:register",
                  "The planning scenarios shipped with truceguard."),
    "report": ("truceguard.cli.report:report_cmd",
               "Period report (counts by category, weapon, clause, side and zone, change, "
               "hotspots, map), or a monitoring mission's daily or weekly report."),
    "demo": ("truceguard.cli.demo:demo_cmd",
             "Run the whole chain on the real data shipped with truceguard."),
    "dashboard": ("truceguard.cli.dashboard:dashboard_cmd",
                  "Open the dashboard (map, timeline, evidence) on this database in your browser."),
    "serve": ("truceguard.cli.server:serve_cmd",
              "Run the mission server: the HTTP API (/api/v1, OpenAPI at /openapi.json), live "
              "judging, alerts and Cursor on Target in and out, in one process."),
    "users": ("truceguard.cli.server:users_group",
              "The server's users: add (prints the API token once), list, disable."),
    "alerts": ("truceguard.cli.server:alerts_group",
               "Alert targets: webhooks and TAK endpoints that receive new violations."),
    "audit": ("truceguard.cli.server:audit_group", "The hash-chained audit log."),
    "federation": ("truceguard.cli.federation:federation_group",
                   "Partner servers that receive what their nation may see: add, list, "
                   "remove, status."),
    "raid": ("truceguard.cli.raid:raid_cmd",
             "Predict one raid's outcome: share defeated (90% interval), by class, layer, "
             "interceptor."),
    "terms": ("truceguard.cli.terms:terms_group",
              "The ceasefire terms that ship, and what each clause says."),
}


class LazyGroup(EnvelopeGroup):
    """A group whose commands are imported on first use (run, or asked for help), and whose
    usage errors read like every other error (``cli.common.EnvelopeGroup``).

    ``lazy`` maps a command name to ``("module:attribute", short help)``; ``--help`` on the group
    shows the short help from the table and imports nothing.
    """

    def __init__(self, *args: Any, lazy: Mapping[str, tuple[str, str]] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, tuple[str, str]] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            self._load(cmd_name)
        return self.commands.get(cmd_name)

    def _load(self, name: str) -> None:
        module_name, _, attr = self.lazy[name][0].partition(":")
        target = getattr(importlib.import_module(module_name), attr)
        if isinstance(target, click.Command):
            self.add_command(target, name)
            return
        # a register(group) function: take what it adds that this group expects
        scratch = click.Group()
        target(scratch)
        for added, cmd in scratch.commands.items():
            if self.lazy.get(added, ("",))[0] == self.lazy[name][0]:
                self.commands.setdefault(added, cmd)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click's, with the short help of commands not imported yet taken from the table."""
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            cmd = (self.commands[name] if name in self.commands
                   else click.Command(name, help=self.lazy[name][1]))
            if not cmd.hidden:
                rows.append((name, cmd))
        if not rows:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        with formatter.section("Commands"):
            formatter.write_dl([(name, cmd.get_short_help_str(limit)) for name, cmd in rows])


@click.group(cls=LazyGroup, lazy=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="truceguard")
def main() -> None:
    """truceguard: watch a ceasefire and plan the force that safeguards it.

    See (import observations), judge (fuse, adjudicate, report) and plan (is this coalition
    enough?), offline, on one SQLite file by default.
    """


__all__ = ["COMMANDS", "LazyGroup", "main"]
