"""The daily or weekly report rendered: one self-contained HTML page (the map inlined, nothing
fetched), or Markdown for the terminal. The marking banner is the first and the last line of
both."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from jinja2 import Environment

from truceguard.judge.terms import Terms
from truceguard.report.mission_map import mission_map_png
from truceguard.report.mission_text import local_short, local_text, utc_offset_text
from truceguard.report.period_render import _env, terms_of
from truceguard.text import plural

if TYPE_CHECKING:
    from truceguard.report.mission import MissionReport, RegionRow

# (one, many) of the categories whose plural is not the word itself
CATEGORY_WORDS = {"explosion": ("explosion", "explosions"),
                  "shelling": ("explosion (shelling)", "explosions (shelling)"),
                  "muzzle_flash": ("muzzle flash", "muzzle flashes"),
                  "illumination_flare": ("illumination flare", "illumination flares"),
                  "projectile": ("projectile", "projectiles"),
                  "armed_clash": ("armed clash", "armed clashes"),
                  "air_strike": ("air strike", "air strikes"),
                  "missile": ("missile", "missiles")}
REGION_NAMES = {"Donetsk": "Donetsk region", "Luhansk": "Luhansk region",
                "elsewhere": "Elsewhere", "all regions": "All regions"}


def category_text(category: str, count: int = 2) -> str:
    """'explosions', 'muzzle flashes', 'shelling', 'shots' ('explosion' for one)."""
    word = category.replace("_", " ")
    one, many = CATEGORY_WORDS.get(category, (word, word))
    return one if count == 1 else many


def region_sentence(row: RegionRow) -> str:
    """'In Donetsk region, the mission recorded 12 ceasefire violations, including 5
    explosions, compared with 4 ceasefire violations (4 explosions) in the previous reporting
    period.'"""
    where = "Elsewhere" if row.region == "elsewhere" else f"In {row.region} region"
    now, before = row.now, row.before

    def explosions(n: int) -> str:
        return plural(n, "explosion") if n else "no explosions"

    said = (f"recorded {plural(now.total, 'ceasefire violation')}, including "
            f"{plural(now.explosions, 'explosion')}" if now.explosions else
            f"recorded {plural(now.total, 'ceasefire violation')}, none of them explosions"
            if now.total else "recorded no ceasefire violation")
    prev = (f"{plural(before.total, 'ceasefire violation')} ({explosions(before.explosions)})"
            if before.total else "none")
    return f"{where}, the mission {said}, compared with {prev} in the previous reporting period."


def _mission_env() -> Environment:
    env = _env()
    env.filters["local"] = local_short
    env.filters["cat"] = category_text
    env.filters["region"] = lambda r: REGION_NAMES.get(r, r)
    env.filters["sentence"] = region_sentence
    return env


def _context(report: MissionReport) -> dict[str, object]:
    w = report.window
    return {
        "r": report,
        "title": ("Daily report" if w.kind == "daily" else "Weekly report") + f": {report.date}",
        "as_of": local_text(w.end, year=True),
        "offset": utc_offset_text(w.end),
        "regions": [*report.regions, report.total],
        "fire_categories": _fire_categories(report),
    }


def _fire_categories(report: MissionReport) -> list[tuple[str, int, bool]]:
    """(category, violations, explosion) of the period's fire, the most first."""
    out: dict[str, list[int]] = {}
    for f in report.fire:
        row = out.setdefault(f.line.obs.category, [0, int(f.explosion)])
        row[0] += f.count
    return sorted(((c, n, bool(e)) for c, (n, e) in out.items()), key=lambda t: (-t[1], t[0]))


def render_mission_html(report: MissionReport, terms: Terms | None = None) -> str:
    """The report as one self-contained HTML page; ``terms`` draws the line on the map
    (default: the shipped terms of the report's name)."""
    png = mission_map_png(report, terms_of(report, terms))
    uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return _mission_env().get_template("mission.html.j2").render(map_uri=uri,
                                                                   **_context(report))


def render_mission_markdown(report: MissionReport) -> str:
    """The report as Markdown; the first and the last line are the banner."""
    return _mission_env().get_template("mission.md.j2").render(**_context(report))


__all__ = ["category_text", "region_sentence", "render_mission_html", "render_mission_markdown"]
