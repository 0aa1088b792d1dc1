"""Releasability markings as validated codes, and who may see what.

A marking is ``PUBLIC`` (releasable to everyone) or ``REL TO`` a set of codes: ISO 3166-1
alpha-3 countries (``GBR``) and groups (``NATO``, ``EU``, ``FVEY``) whose members are data
(``data/releasability/groups.yaml``). Text is parsed into a ``Marking`` once, on the way in;
everything after that works on the codes, never on the text, and never by pattern.

- Syntax: ``PUBLIC``; ``REL TO GBR, FRA, NATO`` (case and spacing are free; commas or spaces
  separate). Older markings (``REL UK FR``, ``REL TO UK, FR``: alpha-2 codes) still read, and
  are converted to alpha-3 (``legacy=True``, the default for imported data).
- A code that is neither a country nor a known group is refused (``MarkingError``), with the
  closest valid code as a hint; so are wildcards (``%``, ``_``, ``*``) and empty lists.
- The canonical text lists countries, then groups, each alphabetically: ``REL TO FRA, GBR,
  NATO``. ``OWNER ONLY`` is the marking no code may see (what narrowing two disjoint markings
  leaves): only the database's owner sees it.

Who may see: a ``Viewer`` holds codes: a nation's viewer holds its country code and the code
of every group the country belongs to. A viewer may see a marking when the marking is PUBLIC
or shares a code with the viewer. ``narrow`` (the intersection) is never wider than either
marking for any viewer of one nation or one group; a marking can only be narrowed, never
widened, by combining it with another.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from truceguard.errors import MarkingError, suggest

PUBLIC_TEXT = "PUBLIC"
OWNER_ONLY_TEXT = "OWNER ONLY"
_CODE = re.compile(r"^[A-Z]{2,8}$")


@dataclass(frozen=True, slots=True)
class Groups:
    """The releasability vocabulary: countries (alpha-3 -> name), groups (code -> members)."""

    countries: dict[str, str]
    alpha2: dict[str, str]  # legacy code -> alpha-3
    groups: dict[str, frozenset[str]]
    titles: dict[str, str]

    def is_code(self, code: str) -> bool:
        return code in self.countries or code in self.groups

    def groups_of(self, country: str) -> frozenset[str]:
        return frozenset(g for g, members in self.groups.items() if country in members)

    def expand(self, code: str) -> frozenset[str]:
        """The countries a code stands for (a country: itself)."""
        return self.groups.get(code, frozenset({code}))

    @property
    def codes(self) -> tuple[str, ...]:
        return (*sorted(self.countries), *sorted(self.groups))


@lru_cache(maxsize=1)
def vocabulary() -> Groups:
    """The shipped countries and groups (read once)."""
    from truceguard.config import load_yaml
    from truceguard.geo.shipped import data_path

    countries: dict[str, str] = {}
    alpha2: dict[str, str] = {}
    table = data_path("releasability", "iso3166.txt").read_text(encoding="utf-8")
    for line in table.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        a3, a2, name = line.split(" ", 2)
        countries[a3] = name
        alpha2[a2] = a3
    doc = load_yaml(data_path("releasability", "groups.yaml"))
    groups = {str(k): frozenset(str(m) for m in v["members"]) for k, v in doc["groups"].items()}
    titles = {str(k): str(v["title"]) for k, v in doc["groups"].items()}
    for legacy, a3 in doc.get("legacy_codes", {}).items():
        alpha2[str(legacy)] = str(a3)
    return Groups(countries, alpha2, groups, titles)


def parse_code(text: str, *, what: str = "releasability code", legacy: bool = False) -> str:
    """One validated code (``GBR``, ``NATO``); MarkingError naming the value otherwise."""
    voc = vocabulary()
    code = str(text).strip().upper()
    if legacy and code in voc.alpha2 and code not in voc.groups:
        code = voc.alpha2[code]
    if voc.is_code(code):
        return code
    if code in voc.alpha2:
        hint = f"use ISO 3166-1 alpha-3 codes: {code} is {voc.alpha2[code]}"
    elif not _CODE.match(code):
        hint = "a code is 3 letters (a country, ISO 3166-1 alpha-3) or a group: " + ", ".join(
            sorted(voc.groups))
    else:
        hint = suggest(code, voc.codes)
    raise MarkingError(f"{what} {text!r} is not a country (ISO 3166-1 alpha-3) or a known group",
                       hint=hint, code="marking.unknown_code")


@dataclass(frozen=True, slots=True)
class Marking:
    """A parsed marking: ``codes`` None for PUBLIC, else the codes it releases to (empty: owner
    only)."""

    codes: frozenset[str] | None = None

    @property
    def is_public(self) -> bool:
        return self.codes is None

    @property
    def text(self) -> str:
        if self.codes is None:
            return PUBLIC_TEXT
        if not self.codes:
            return OWNER_ONLY_TEXT
        voc = vocabulary()
        countries = sorted(c for c in self.codes if c not in voc.groups)
        groups = sorted(c for c in self.codes if c in voc.groups)
        return "REL TO " + ", ".join(countries + groups)

    def __str__(self) -> str:
        return self.text

    def narrow(self, other: Marking) -> Marking:
        """What may be released to someone who may see both (never wider than either)."""
        if self.codes is None:
            return other
        if other.codes is None:
            return self
        voc = vocabulary()
        a, b = self.codes, other.codes
        keep = {g for g in a & b if g in voc.groups}
        candidates: set[str] = set()
        for c in a | b:
            candidates |= voc.expand(c)
        for n in candidates:
            holds = {n} | voc.groups_of(n)
            if holds & a and holds & b:
                keep.add(n)
        return Marking(frozenset(keep))


PUBLIC = Marking(None)
OWNER_ONLY = Marking(frozenset())


def parse_marking(text: str | Marking | None, *, legacy: bool = True) -> Marking:
    """A marking from its text (see the module docstring); MarkingError if it is not valid."""
    if isinstance(text, Marking):
        return text
    raw = "" if text is None else str(text)
    t = " ".join(raw.replace(",", " , ").split()).upper()
    if t in ("", PUBLIC_TEXT):
        return PUBLIC
    if t == OWNER_ONLY_TEXT:
        return OWNER_ONLY
    if t == "REL" or not t.startswith("REL "):
        raise MarkingError(f"releasability marking {raw!r}: expected PUBLIC or 'REL TO ...'",
                           code="marking.bad_syntax")
    rest = t[4:].strip()
    new_syntax = rest == "TO" or rest.startswith("TO ")
    if new_syntax:
        rest = rest[2:]
    words = [w for w in rest.replace(",", " ").split() if w]
    if not words:
        raise MarkingError(f"releasability marking {raw!r} names no code",
                           code="marking.bad_syntax")
    codes = frozenset(parse_code(w, legacy=legacy or not new_syntax) for w in words)
    return Marking(codes)


def most_restrictive(markings: Iterable[Marking | str]) -> Marking:
    """The banner of a set of records: the narrowing of all their markings (PUBLIC if none)."""
    out = PUBLIC
    for m in markings:
        out = out.narrow(parse_marking(m))
    return out


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking, and the codes they hold.

    ``Viewer.owner()`` is the database's owner (the local analyst who imported the data): sees
    everything. ``Viewer.of(*codes)`` holds the given codes; each country code brings the codes
    of the groups the country belongs to.
    """

    codes: frozenset[str] = frozenset()
    sees_all: bool = False

    @classmethod
    def owner(cls) -> Viewer:
        return cls(sees_all=True)

    @classmethod
    def of(cls, *codes: str) -> Viewer:
        voc = vocabulary()
        held: set[str] = set()
        for c in codes:
            code = parse_code(c, what="viewer code")
            held.add(code)
            if code in voc.countries:
                held |= voc.groups_of(code)
        return cls(codes=frozenset(held))

    @classmethod
    def parse(cls, text: str | None) -> Viewer:
        """``--releasable-to`` text (``GBR,FRA``); None is the owner. MarkingError if bad."""
        if text is None:
            return cls.owner()
        words = [w for w in text.replace(",", " ").split() if w]
        if not words:
            raise MarkingError(f"--releasable-to {text!r} names no code",
                               code="marking.bad_syntax")
        return cls.of(*words)

    def may_see(self, marking: Marking | str) -> bool:
        if self.sees_all:
            return True
        m = parse_marking(marking)
        return m.codes is None or bool(m.codes & self.codes)


__all__ = [
    "OWNER_ONLY",
    "PUBLIC",
    "Marking",
    "Viewer",
    "most_restrictive",
    "parse_code",
    "parse_marking",
    "vocabulary",
]
