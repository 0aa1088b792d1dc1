"""Commands of federation: add, list, remove and status of the partner servers."""

from __future__ import annotations

import json

import click

from truceguard.cli.common import db_option, domain_errors, open_existing
from truceguard.model import iso

format_option = click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table",
    show_default=True, help="How to print (json: the result, or the error envelope).")


NO_PARTNERS = ("no partner server yet: `truceguard federation add NAME --url ... --nation ...` "
               "registers one")

@click.group("federation")
def federation_group() -> None:
    """Partner servers that receive what their nation may see: add, list, remove, status."""


@federation_group.command("add")
@click.argument("name")
@click.option("--url", required=True, metavar="https://HOST:PORT",
              help="The partner's federation listener (its serve --federation-port).")
@click.option("--nation", required=True, help="The nation the partner speaks for (alpha-3).")
@click.option("--group", "groups", multiple=True, metavar="CODE",
              help="A group the link carries (repeatable; each one the nation belongs to; "
                   "default: all of the nation's groups).")
@click.option("--cert", required=True, type=click.Path(exists=True, dir_okay=False),
              help="This server's client certificate for the partner (PEM; its CN is this "
                   "server's federation name).")
@click.option("--key", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The private key of --cert (PEM).")
@click.option("--ca", required=True, type=click.Path(exists=True, dir_okay=False),
              help="The CA certificate (PEM) that signs the partner's certificates.")
@click.option("--relay", is_flag=True,
              help="Send the partner records that came from other servers too (when their "
                   "marking allows), and take relayed records from it.")
@format_option
@db_option
@domain_errors
def federation_add(name: str, url: str, nation: str, groups: tuple[str, ...], cert: str,
                   key: str, ca: str, relay: bool, fmt: str, db: str | None) -> None:
    """Register partner server NAME (the CN of its certificate)."""
    from truceguard.federation import add_partner

    with open_existing(db) as store:
        p = add_partner(store, name, url, nation, groups, cert, key, ca, relay=relay, by="cli")
    if fmt == "json":
        click.echo(json.dumps({"name": p.name, "url": p.url, "nation": p.nation,
                               "groups": list(p.groups), "relay": p.relay}))
        return
    click.echo(f"partner {p.name}: {p.url}, speaks for {p.nation} "
               f"({', '.join(p.groups) or 'no group'}){', relays' if p.relay else ''}")


@federation_group.command("list")
@format_option
@db_option
@domain_errors
def federation_list(fmt: str, db: str | None) -> None:
    """The partner servers."""
    from rich.console import Console
    from rich.table import Table

    with open_existing(db) as store:
        partners = store.partners()
    if fmt == "json":
        click.echo(json.dumps([{"name": p.name, "url": p.url, "nation": p.nation,
                                "groups": list(p.groups), "relay": p.relay,
                                "added": iso(p.added_at)} for p in partners], indent=2))
        return
    if not partners:
        click.echo(NO_PARTNERS)
        return
    table = Table("name", "url", "nation", "groups", "relay", "added")
    for p in partners:
        table.add_row(p.name, p.url, p.nation, ", ".join(p.groups), "yes" if p.relay else "",
                      iso(p.added_at))
    Console(width=160).print(table)


@federation_group.command("remove")
@click.argument("name")
@format_option
@db_option
@domain_errors
def federation_remove(name: str, fmt: str, db: str | None) -> None:
    """Remove partner NAME: its link stops and its requests are refused."""
    from truceguard.federation import remove_partner

    with open_existing(db) as store:
        remove_partner(store, name, by="cli")
    click.echo(json.dumps({"removed": name}) if fmt == "json" else f"partner {name} removed")


@federation_group.command("status")
@format_option
@db_option
@domain_errors
def federation_status(fmt: str, db: str | None) -> None:
    """Each link's lag (observations not yet settled), counts and last error."""
    with open_existing(db) as store:
        links = store.federation_links()
    rows = [{"partner": s.partner.name, "nation": s.partner.nation, "pending": s.pending,
             "sent": s.sent, "received": s.received, "refused": s.refused,
             "withdrawn": s.withdrawn, "last_ok": iso(s.last_ok_at),
             "last_error": s.last_error, "last_error_at": iso(s.last_error_at)}
            for s in links]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo(NO_PARTNERS)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("partner", "nation", "pending", "sent", "received", "refused", "withdrawn",
                  "last ok", "last error")
    for r in rows:
        table.add_row(*(str(r[k]) for k in ("partner", "nation", "pending", "sent", "received",
                                             "refused", "withdrawn", "last_ok")),
                      f"{r['last_error']} ({r['last_error_at']})" if r["last_error"] else "")
    Console(width=200).print(table)


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    group.add_command(federation_group)
