"""The words of the period report: counts in the right number, clause texts in short form, and
where an observation came from without the folders it was read from.

- ``plural`` (from :mod:`truceguard.text`) writes every count phrase: "1 observation",
  "2 observations"; ``days_phrase`` does the same for days, which may be a part of a day.
- ``ClauseText`` is a clause of the terms as the report quotes it: its short code, when it
  binds, and its provision's text cut to a sentence a reader takes in at a glance.
- ``source_names`` turns the files observations were imported from into the shortest names
  that still tell them apart: the file name, with as many parent folders as it takes when two
  files of the same name came from different folders; never an absolute path (the store does
  not record the folder an import was run from, so a path relative to it cannot be given).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from truceguard.report.dates import days_text
from truceguard.text import plural

if TYPE_CHECKING:
    from truceguard.judge.terms import Terms
    from truceguard.model import Violation

DIMENSION_TITLES = {
    "category": "Category",
    "weapon_class": "Weapon class",
    "clause": "Clause",
    "side": "Side (whose territory)",
    "zone": "Zone",
}
# The Violation field behind each dimension (the others are named as the dimension).
DIMENSION_FIELDS = {"side": "controlled_by"}
SHORT_QUOTE = 160  # characters of a clause's text in the report's summary


def dimension_value(v: Violation, dim: str) -> str:
    """The value of dimension ``dim`` (a key of ``DIMENSION_TITLES``) for violation ``v``."""
    return str(getattr(v, DIMENSION_FIELDS.get(dim, dim)) or "")


def days_phrase(days: float) -> str:
    """'1 day', '2,566 days', '0.5 days' (a part of a day is never singular)."""
    if abs(days - round(days)) < 1e-9:
        return plural(round(days), "day")
    return f"{days_text(days)} days"


def short_text(text: str, limit: int = SHORT_QUOTE) -> str:
    """``text`` on one line, cut at a word before ``limit`` characters with an ellipsis."""
    one = " ".join(text.split())
    if len(one) <= limit:
        return one
    cut = one[: limit - 1]
    if " " in cut[limit // 2:]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:.\u2014-") + "\u2026"


@dataclass(frozen=True)
class ClauseText:
    """A clause of the terms as the report quotes it.

    ``quote`` is the provision's verbatim text (``verbatim``) or its paraphrase; ``short`` the
    same cut to ``SHORT_QUOTE`` characters; ``where`` the source and article it is from."""

    key: str  # the clause id, <terms>/<kind>/<ref>
    label: str  # the short code, <kind>/<ref>
    mechanism: str
    severity: int
    binds_from: int
    end: int | None
    where: str
    verbatim: bool
    quote: str
    short: str


def clause_texts(terms: Terms) -> list[ClauseText]:
    """Every clause of ``terms``, in the order the terms list them."""
    out = []
    for c in terms.clauses:
        p = c.meta.provision
        out.append(ClauseText(
            key=c.id, label=c.code, mechanism=c.meta.mechanism, severity=c.severity,
            binds_from=c.binds_from, end=c.end,
            where=", ".join(x for x in (p.source, p.article) if x), verbatim=p.verbatim,
            quote=" ".join(p.text.split()), short=short_text(p.text)))
    return out


_PARTS = re.compile(r"[\\/]+")


def source_names(paths: Iterable[str]) -> dict[str, str]:
    """Each path's shortest trailing part that no other path of ``paths`` shares.

    'data/events/ucdp.csv' is 'ucdp.csv', unless another 'ucdp.csv' came from another folder:
    then 'events/ucdp.csv' (and so on). A name that is no file path ('<cot>', a URL) is kept as
    it is. The result never starts at the root of a file system."""
    unique = set(paths)
    split: dict[str, list[str]] = {}
    out: dict[str, str] = {}
    for p in unique:
        if "://" in p or not _PARTS.search(p):
            out[p] = p
        else:
            split[p] = [x for x in _PARTS.split(p) if x and not x.endswith(":")]
    depth = dict.fromkeys(split, 1)
    while True:
        names: dict[str, list[str]] = {}
        for p, parts in split.items():
            names.setdefault("/".join(parts[-depth[p]:]), []).append(p)
        clash = [p for same in names.values() if len(same) > 1 for p in same
                 if depth[p] < len(split[p])]
        if not clash:
            break
        for p in clash:
            depth[p] += 1
    out.update({p: "/".join(parts[-depth[p]:]) or p for p, parts in split.items()})
    return out


__all__ = ["DIMENSION_FIELDS", "DIMENSION_TITLES", "ClauseText", "clause_texts", "days_phrase",
           "dimension_value", "plural",
           "short_text", "source_names"]
