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

Who may see: a ``Viewer`` is one audience or several. A nation's viewer is one audience
holding its country code and the code of every group the country belongs to; a group's viewer
(``NATO``) holds that code alone. A viewer may see a marking when the marking is PUBLIC or
shares a code with the viewer.

A viewer named by several codes (``--releasable-to GBR,FRA``) stands for an audience that is
all of them at once: a product that will be read by GBR *and* FRA. It may see a marking only
when *every* one of its audiences may (``REL TO GBR, FRA`` and ``REL TO NATO``, not ``REL TO
GBR``). So what a viewer is shown never includes something one of the nations it names may not
hold, and anything derived from what it may see (an incident fused from its reports, the
violations judged on that incident) carries a marking (the narrowing) that every audience, and
so the viewer, may see. The rule is the same everywhere: listings, counts, exports, incidents,
violations, reports and the API all select by ``Viewer.may_see``.

``narrow`` (the intersection) is never wider than either marking for any audience; a marking
can only be narrowed, never widened, by combining it with another.
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

    def covers(self, other: Marking) -> bool:
        """Whether every audience that may see ``other`` may see this marking too."""
        if self.codes is None:
            return True
        if other.codes is None:
            return False
        voc = vocabulary()
        for code in other.codes:
            if code in voc.groups:
                if code not in self.codes:  # that group's own viewer
                    return False
                members = voc.groups[code]
            else:
                members = frozenset({code})
            for n in members:
                if not ({n} | voc.groups_of(n)) & self.codes:
                    return False
        return True

    def narrow(self, other: Marking) -> Marking:
        """What may be released to someone who may see both (never wider than either; one of
        them when it is the narrower)."""
        if self.codes is None:
            return other
        if other.codes is None:
            return self
        if self.covers(other):
            return other
        if other.covers(self):
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
    """The banner of a set of records: the narrowing of all their markings (PUBLIC if none).
    Depends on the set alone, not on the order the markings come in."""
    distinct = {parse_marking(m) for m in markings}
    out = PUBLIC
    for m in sorted(distinct, key=lambda m: m.text):
        out = out.narrow(m)
    return out


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking: one or more audiences, each the set of codes it holds.

    ``Viewer.owner()`` is the database's owner (the local analyst who imported the data): sees
    everything. ``Viewer.of(*codes)`` is one audience per code (a country brings the codes of
    its groups); it may see a marking only when every audience may (the module docstring).
    ``Viewer()`` holds no code and sees PUBLIC records only.
    """

    audiences: tuple[frozenset[str], ...] = ()
    sees_all: bool = False
    names: tuple[str, ...] = ()

    @classmethod
    def owner(cls) -> Viewer:
        return cls(sees_all=True)

    @classmethod
    def of(cls, *codes: str) -> Viewer:
        voc = vocabulary()
        audiences: dict[str, frozenset[str]] = {}
        for c in codes:
            code = parse_code(c, what="viewer code")
            held = {code}
            if code in voc.countries:
                held |= voc.groups_of(code)
            audiences[code] = frozenset(held)
        names = tuple(sorted(audiences))
        return cls(audiences=tuple(audiences[n] for n in names), names=names)

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

    @property
    def codes(self) -> frozenset[str]:
        """Every code some audience of the viewer holds."""
        return frozenset().union(*self.audiences)

    def may_see(self, marking: Marking | str) -> bool:
        if self.sees_all:
            return True
        m = parse_marking(marking)
        if m.codes is None:
            return True
        return bool(self.audiences) and all(m.codes & a for a in self.audiences)

    @property
    def text(self) -> str:
        """Who this viewer is, for banners and reports."""
        if self.sees_all:
            return "the owner"
        return " and ".join(self.names) if self.names else "PUBLIC only"


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
