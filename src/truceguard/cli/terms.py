"""The terms commands: what ceasefire terms ship, and each clause with the text it quotes."""

from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING, Any

import click

from truceguard.cli.common import domain_errors
from truceguard.model import iso

if TYPE_CHECKING:
    from truceguard.judge.terms import Terms

FORMATS = click.Choice(["text", "json"])


def terms_summary(t: Terms) -> dict[str, Any]:
    """One line of ``terms list``: name, title, version, effective date."""
    return {"name": t.name, "title": t.title, "version": t.version,
            "effective": iso(t.effective), "effective_local": t.effective_text,
            "end": iso(t.end) if t.end is not None else None,
            "clauses": len(t.all_clauses)}  # fmt: skip


def _wrap(text: str, indent: str = "      ") -> str:
    return textwrap.fill(text, width=96, initial_indent=indent, subsequent_indent=indent)


def render_terms(t: Terms) -> str:
    """``terms show`` as text: the terms, then each clause with its quoted provision."""
    lines = [f"{t.title}", f"  name {t.name}, version {t.version}, effective {t.effective_text}"
             + (f", ends {iso(t.end)}" if t.end is not None else ""),
             f"  sides: {t.sides[0].id} ({t.sides[0].label}), {t.sides[1].id} ({t.sides[1].label})",
             f"  line of contact: {t.line_certainty.level}",
             _wrap(t.line_certainty.note, "    ")]  # fmt: skip
    if t.area is not None:
        lines += [f"  area the terms cover: {t.area_certainty.level}",
                  _wrap(t.area_certainty.note, "    ")]  # fmt: skip
    for c in t.all_clauses:
        d = t.clause_dict(c)
        period = f"effective {iso(d['effective'])}"
        if d["phase_in_days"]:
            period += f", phase-in {d['phase_in_days']:g} days (binds from {iso(d['binds_from'])})"
        period += f", ends {iso(d['end'])}" if d["end"] is not None else ", no end"
        where = "the terms' area" if c.zone == "anywhere" else f"zone {c.zone}"
        lines += [
            "",
            f"  {c.code}  ({d['mechanism'].replace('_', ' ')}, {d['severity_label']}, {where})",
            f"    binds: {', '.join(d['parties'])}",
            f"    period: {period}",
            f"    geometry: {d['geometry_certainty']}: {d['geometry_note']}",
            f"    {'quote' if d['verbatim'] else 'paraphrase (no verbatim text found)'}, "
            f"{d['source_title']}" + (f", {d['article']}" if d["article"] else "")
            + (f" ({d['source_date']})" if d["source_date"] else "") + ":",
            _wrap(f'"{d["text"]}"' if d["verbatim"] else d["text"]),
        ]
        if d["source_url"]:
            lines.append(f"      {d['source_url']}")
        if d["note"]:
            lines.append(_wrap(f"note: {d['note']}"))
    if t.notes:
        lines += ["", _wrap(t.notes, "  ")]
    return "\n".join(lines)


@click.group("terms")
def terms_group() -> None:
    """The ceasefire terms that ship, and what each clause says."""


@terms_group.command("list")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@domain_errors
def list_cmd(fmt: str) -> None:
    """List the shipped terms: name, title, version, effective date."""
    from truceguard.judge.terms import load_terms, shipped_terms

    rows = [terms_summary(load_terms(name)) for name in shipped_terms()]
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    for r in rows:
        click.echo(f"{r['name']:<16} v{r['version']:<4} {r['effective_local'][:10]}  {r['title']}")


@terms_group.command("show")
@click.argument("name", metavar="NAME|PATH")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
@domain_errors
def show_cmd(name: str, fmt: str) -> None:
    """Show one terms file: each clause with its quoted text, the parties it binds, its
    mechanism, its period and how certain its geometry is."""
    from truceguard.judge.terms import load_terms

    t = load_terms(name)
    if fmt == "json":
        click.echo(json.dumps(t.as_dict(), ensure_ascii=False, indent=1))
    else:
        click.echo(render_terms(t))


def register(group: click.Group) -> None:
    """Add this module's commands to the group."""
    group.add_command(terms_group)
