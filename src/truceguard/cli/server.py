"""Commands of the mission server: serve, users, alerts, audit."""

from __future__ import annotations

import json
from typing import Any

import click

from truceguard.cli.common import db_option, domain_errors, open_existing, resolve_db
from truceguard.errors import InputError, MissingExtraError, NotFoundError
from truceguard.model import ROLES

audit_key_option = click.option(
    "--audit-key", "audit_key", envvar="TRUCEGUARD_AUDIT_KEY_FILE", show_envvar=True,
    type=click.Path(dir_okay=False), metavar="FILE",
    help="The audit key file (kept outside the database; `truceguard init --audit-key FILE` "
         "creates it): the audit chain is HMAC-keyed with it, so a rewrite is detected.")



def basemap_options(f: Any) -> Any:
    """``--basemap FILE`` and ``--basemap-marking``, for serve and dashboard."""
    f = click.option("--basemap-marking", default="PUBLIC", show_default=True,
                     metavar="MARKING",
                     help="Who may see the basemap, e.g. 'REL TO GBR, FRA'; to anyone else "
                          "the server has none.")(f)
    return click.option("--basemap", type=click.Path(dir_okay=False), metavar="FILE.pmtiles",
                         help="A PMTiles archive (raster or vector tiles, version 3) drawn "
                              "under the dashboard's layers; read from this file, never "
                              "from the network.")(f)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535),
              help="HTTP port of the API.")
@click.option("--terms", "terms", multiple=True, metavar="NAME|PATH",
              help="Terms to judge new observations against, live (repeatable).")
@click.option("--cot-tcp", type=click.IntRange(1, 65535), metavar="PORT",
              help="Listen for Cursor on Target over TCP (XML or TAK protobuf; TAK's usual "
                   "port is 8087).")
@click.option("--cot-udp", type=click.IntRange(1, 65535), metavar="PORT",
              help="Listen for Cursor on Target datagrams (XML or TAK protobuf mesh).")
@click.option("--cot-tcp-as", "cot_as", metavar="USER",
              help="Whose nation and marking data on the plain CoT ports gets (a user).")
@click.option("--cot-tls", type=click.IntRange(1, 65535), metavar="PORT",
              help="Listen for CoT over TLS (usually 8089); each client is the user of its "
                   "certificate (users add --cert-fingerprint). Needs --cert, --key, "
                   "--client-ca.")
@click.option("--cot-max-per-peer", "cot_max_per_peer", default=64, show_default=True,
              type=click.IntRange(1, 4096), metavar="N",
              help="CoT connections taken from one source address at a time (more are "
                   "refused, so one host cannot take every slot); raise it for many "
                   "clients behind one address (a NAT, a relay, a load test on loopback).")
@click.option("--cert", type=click.Path(exists=True, dir_okay=False),
              help="The server's TLS certificate (PEM).")
@click.option("--key", type=click.Path(exists=True, dir_okay=False),
              help="The server's TLS private key (PEM).")
@click.option("--client-ca", type=click.Path(exists=True, dir_okay=False),
              help="The CA certificate (PEM) that signs the clients' certificates.")
@click.option("--loop-debug-ms", "loop_debug_ms", type=click.FloatRange(min=1), metavar="MS",
              help="Run the event loop in asyncio's debug mode and log every callback that "
                   "holds it longer than MS milliseconds of wall time, and every one that "
                   "uses more than MS of the loop's CPU (slower; for diagnosis).")
@click.option("--federation-cert", type=click.Path(exists=True, dir_okay=False),
              help="This server's federation certificate (PEM; its CN is the server's name "
                   "to its partners): runs the links to the partners of `federation add`.")
@click.option("--federation-key", type=click.Path(exists=True, dir_okay=False),
              help="The private key of --federation-cert (PEM).")
@click.option("--federation-port", type=click.IntRange(1, 65535), metavar="PORT",
              help="Listen for partners over mutual TLS (each client certificate must be a "
                   "registered partner's). Needs --federation-cert and --federation-key.")
@basemap_options
@audit_key_option
@db_option
@domain_errors
def serve_cmd(host: str, port: int, terms: tuple[str, ...], cot_tcp: int | None,
              cot_udp: int | None, cot_as: str | None, cot_tls: int | None, cert: str | None,
              key: str | None, client_ca: str | None, cot_max_per_peer: int,
              loop_debug_ms: float | None, federation_cert: str | None,
              federation_key: str | None, federation_port: int | None, audit_key: str | None,
              basemap: str | None, basemap_marking: str, db: str | None) -> None:
    """Run the mission server: the HTTP API (/api/v1, OpenAPI at /openapi.json), live
    judging, alerts and Cursor on Target in and out, in one process. Needs the server
    extra: pip install 'truceguard[server]'. Stop it with Ctrl-C or SIGTERM: it stops
    accepting, finishes the requests under way, commits every CoT event it read, then
    exits."""
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ModuleNotFoundError as exc:
        raise MissingExtraError("truceguard serve", "server", exc.name or "fastapi") from None
    from truceguard.server.serve import ServeConfig, run

    if cot_tls is not None and not (cert and key and client_ca):
        raise InputError("--cot-tls needs --cert, --key and --client-ca",
                         hint="the server's certificate and key, and the CA of the clients",
                         code="input.missing")
    if (cot_tcp or cot_udp) and not cot_as:
        raise InputError("--cot-tcp/--cot-udp need --cot-tcp-as USER",
                         hint="the user whose nation and marking plain-port data gets",
                         code="input.missing")
    if (federation_port or federation_cert or federation_key) and not (
            federation_cert and federation_key):
        raise InputError("federation needs --federation-cert and --federation-key",
                         hint="this server's federation certificate and its key",
                         code="input.missing")
    run(ServeConfig(db=resolve_db(db), host=host, port=port, terms=list(terms),
                    cot_tcp=cot_tcp, cot_udp=cot_udp, cot_tls=cot_tls, cert=cert, key=key,
                    client_ca=client_ca, cot_as=cot_as, cot_max_per_peer=cot_max_per_peer,
                    audit_key=audit_key, loop_debug_ms=loop_debug_ms,
                    federation_cert=federation_cert, federation_key=federation_key,
                    federation_port=federation_port, basemap=basemap,
                    basemap_marking=basemap_marking))


@click.group("users")
def users_group() -> None:
    """The server's users: add (prints the API token once), list, disable."""


@users_group.command("add")
@click.argument("name")
@click.option("--nation", required=True, help="ISO 3166-1 alpha-3 code, e.g. GBR.")
@click.option("--role", required=True, type=click.Choice(list(ROLES)),
              help="observer: submit and read; analyst: also review, report, plan; admin: "
                   "also users, terms, alert targets.")
@click.option("--marking", help="Ceiling of what the user submits (default: REL TO NATION).")
@click.option("--cert-fingerprint", default="",
              help="SHA-256 of the user's client certificate, for CoT over TLS.")
@db_option
@domain_errors
def users_add(name: str, nation: str, role: str, marking: str | None, cert_fingerprint: str,
              db: str | None) -> None:
    """Add a user; the API token is printed once, alone on the last line."""
    from truceguard.store import open_store
    from truceguard.users import add_user

    with open_store(resolve_db(db)) as store:
        user, token = add_user(store, name, nation, role, marking=marking,
                               cert_fingerprint=cert_fingerprint, by="cli")
    click.echo(f"user {user.name}: {user.role} of {user.nation}, submits under "
               f"{user.marking}. Its token (shown once, keep it secret):")
    click.echo(token)


@users_group.command("list")
@db_option
@domain_errors
def users_list(db: str | None) -> None:
    """The users (never their tokens)."""
    from rich.console import Console
    from rich.table import Table

    with open_existing(db) as store:
        users = store.users()
    table = Table("name", "nation", "role", "marking", "certificate", "state")
    for u in users:
        table.add_row(u.name, u.nation, u.role, u.marking, "yes" if u.cert_fingerprint else "",
                      "disabled" if u.disabled else "active")
    Console(width=160).print(table)


@users_group.command("disable")
@click.argument("name")
@db_option
@domain_errors
def users_disable(name: str, db: str | None) -> None:
    """Disable a user: their token and certificate stop working at once."""
    from truceguard.users import disable_user

    with open_existing(db) as store:
        disable_user(store, name, by="cli")
    click.echo(f"user {name} disabled")


@click.group("alerts")
def alerts_group() -> None:
    """Alert targets: webhooks and TAK endpoints that receive new violations."""


@alerts_group.command("add")
@click.option("--name", help="A name for the target (default: from the URL).")
@click.option("--webhook", metavar="URL", help="POST each new violation here (JSON, signed).")
@click.option("--cot", metavar="tcp://HOST:PORT", help="Send each new violation as a CoT marker.")
@click.option("--min-severity", default=1, show_default=True, type=click.IntRange(1, 5),
              help="Only violations at least this severe.")
@click.option("--terms", default="", help="Only violations of these terms (default: all).")
@click.option("--as", "as_user", required=True, metavar="USER",
              help="Whose releasability the target gets: it receives only what USER may see.")
@click.option("--allow-private", is_flag=True,
              help="Let this target point at a loopback, private, link-local or other "
                   "non-public address (refused otherwise, when added and when delivering).")
@click.option("--audience", default="team", show_default=True, metavar="team|published",
              help="team: the mission's duty officers, alerted on every new violation; "
                   "published: anyone beyond the team, alerted only on published findings.")
@db_option
@domain_errors
def alerts_add(name: str | None, webhook: str | None, cot: str | None, min_severity: int,
               terms: str, as_user: str, allow_private: bool, audience: str,
               db: str | None) -> None:
    """Add an alert target; a webhook's signing secret is printed once."""
    from truceguard.server.alerts import add_target

    url = webhook or cot or ""
    with open_existing(db) as store:
        target, secret = add_target(store, webhook=webhook, cot=cot, as_user=as_user,
                                    name=name, min_severity=min_severity, terms=terms,
                                    allow_private=allow_private, audience=audience, by="cli")
    click.echo(f"alert target {target.name}: {target.kind} {url}, severity >= {min_severity}, "
               f"as {as_user}, audience {target.audience} (" + (
                   "published findings only)" if target.audience == "published"
                   else "every new violation)"))
    if secret:
        click.echo("Its signing secret (HMAC-SHA256 of the body, header "
                   "X-Truceguard-Signature; shown once):")
        click.echo(secret)


@alerts_group.command("list")
@db_option
@domain_errors
def alerts_list(db: str | None) -> None:
    """Alert targets and their deliveries."""
    from rich.console import Console
    from rich.table import Table

    with open_existing(db) as store:
        targets = store.alert_targets()
        rows = [(t, store.outbox(t.target_id)) for t in targets]
    table = Table("name", "kind", "url", "severity >=", "terms", "audience", "delivered",
                  "pending", "failed")
    for t, items in rows:
        count = {s: sum(1 for i in items if i.state == s) for s in
                 ("delivered", "pending", "failed")}
        table.add_row(t.name, t.kind, t.url, str(t.min_severity), t.terms or "(all)",
                      t.audience, *(str(count[s]) for s in ("delivered", "pending", "failed")))
    Console(width=160).print(table)


@alerts_group.command("test")
@click.argument("name")
@db_option
@domain_errors
def alerts_test(name: str, db: str | None) -> None:
    """Send a test alert to NAME now and say whether it arrived."""
    import asyncio

    from truceguard.server.alerts import test_target

    with open_existing(db) as store:
        target = next((t for t in store.alert_targets() if t.name == name), None)
        if target is None:
            raise NotFoundError(f"no alert target named {name!r}",
                                hint=f"known: {', '.join(t.name for t in store.alert_targets())}",
                                code="not_found.alert_target")
        result = asyncio.run(test_target(target))
    click.echo(result)


@click.group("audit")
def audit_group() -> None:
    """The hash-chained audit log."""


@audit_group.command("verify")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="text: one line; json: the check as an object.")
@audit_key_option
@click.option("--anchor", type=click.Path(dir_okay=False), metavar="HEAD.json",
              help="The head that `truceguard audit anchor` wrote: finds a deleted tail, an "
                   "emptied log and a rewritten chain.")
@db_option
@domain_errors
def audit_verify(fmt: str, audit_key: str | None, anchor: str | None, db: str | None) -> None:
    """Check that no audit entry was edited, deleted or inserted (exit 1 if one was).

    Without a key a keyed log has only its links checked, and an unkeyed log cannot show a
    rewrite of the whole chain (the output says so); with --anchor, a log cut or rewritten
    since the anchor was written is found."""
    from dataclasses import asdict

    from truceguard.audit import load_key, read_anchor, verify_log

    key = load_key(audit_key) if audit_key else None
    head = read_anchor(anchor) if anchor else None
    with open_existing(db) as store:
        check = verify_log(store.audit_entries(), store.audit_head(), key=key, anchor=head)
    if fmt == "json":
        click.echo(json.dumps(asdict(check)))
    elif check.ok:
        keyed = (f", keyed from entry {check.keyed_from}" if check.keyed_from else "")
        anchored = ", matches the anchor" if head else ""
        click.echo(f"audit log intact: {check.entries} entries{keyed}{anchored}")
        if check.note:
            click.echo(f"note: {check.note}")
    else:
        click.echo(f"audit log BROKEN: {check.problem}")
    if not check.ok:
        raise SystemExit(1)


@audit_group.command("anchor")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              metavar="HEAD.json", help="Where to write the anchor (keep it outside the "
                                         "database's machine).")
@audit_key_option
@db_option
@domain_errors
def audit_anchor(output: str, audit_key: str | None, db: str | None) -> None:
    """Write the log's head (last entry's seq and hash), signed with the audit key, for
    `audit verify --anchor`. The log is verified first; a broken log is not anchored."""
    from truceguard.audit import load_key, make_anchor, verify_log
    from truceguard.model import utc_now

    key = load_key(audit_key) if audit_key else None
    with open_existing(db) as store:
        entries = store.audit_entries()
        check = verify_log(entries, store.audit_head(), key=key)
    if not check.ok:
        click.echo(f"audit log BROKEN: {check.problem}; not anchored")
        raise SystemExit(1)
    a = make_anchor(entries, key, utc_now())
    with open(output, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(a.to_json(), indent=2) + "\n")
    click.echo(f"anchored entry {a.seq} in {output}"
               + ("" if key else " (unsigned: no audit key)"))


@audit_group.command("list")
@click.option("--since", metavar="DATE",
              help="Entries written at or after DATE: ISO 8601 (2026-11-30, 2026-11, "
                   "2026-11-30T06:00Z), UTC unless it says otherwise.")
@click.option("--until", metavar="DATE",
              help="Entries written at or before DATE (a date stands for its whole day, month "
                   "or year).")
@click.option("--actor", metavar="NAME",
              help="Entries by this actor only (a user's name, or 'cli'; exact).")
@click.option("--action", metavar="NAME",
              help="Entries of this action only (exact, e.g. cot.write, user.add); an action "
                   "the log does not hold is an error listing those it does.")
@click.option("--limit", type=int, metavar="N",
              help="Only the N most recent of the matching entries.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table",
              show_default=True,
              help='table: for reading (details cut short); json: {"count", "rows"}, each row '
                   "whole, with ISO 8601 times.")
@db_option
@domain_errors
def audit_list(since: str | None, until: str | None, actor: str | None, action: str | None,
               limit: int | None, fmt: str, db: str | None) -> None:
    """List audit log entries, oldest first: who did what, when, with its detail."""
    from truceguard.audit import AuditFilter, list_audit
    from truceguard.model import iso
    from truceguard.query import parse_time_option

    flt = AuditFilter(since=parse_time_option(since, "--since") if since else None,
                      until=parse_time_option(until, "--until", end=True) if until else None,
                      actor=actor, action=action, limit=limit)
    with open_existing(db) as store:
        entries = list_audit(store, flt)
    rows = [{"seq": e.seq, "at": iso(e.at), "actor": e.actor, "action": e.action,
             "detail": e.detail, "prev_hash": e.prev_hash, "hash": e.hash} for e in entries]
    if fmt == "json":
        click.echo(json.dumps({"count": len(rows), "rows": rows}, ensure_ascii=False))
    elif rows:
        _audit_table(rows)
    if not rows:
        filtered = any(v is not None for v in (since, until, actor, action))
        click.echo("0 audit entries match. Hint: widen --since/--until or drop --actor/"
                   "--action (`truceguard audit list` shows all)." if filtered else
                   "0 audit entries: the log is empty. Hint: entries appear as the CLI and "
                   "the server write (users, imports, CoT).", err=True)


def _audit_table(rows: list[dict[str, Any]]) -> None:
    """Audit rows as a table, each detail cut to 100 characters."""
    from rich.console import Console
    from rich.table import Table

    table = Table("seq", "at", "actor", "action", "detail")
    for r in rows:
        detail = json.dumps(r["detail"], sort_keys=True, ensure_ascii=False)
        table.add_row(str(r["seq"]), r["at"], r["actor"], r["action"],
                      detail if len(detail) <= 100 else detail[:99] + "…")
    Console(width=180).print(table)


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    for cmd in (serve_cmd, users_group, alerts_group, audit_group):
        group.add_command(cmd)
