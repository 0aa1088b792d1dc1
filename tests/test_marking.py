"""Releasability markings: parsed into validated codes, matched exactly, only ever narrowed."""

from __future__ import annotations

import pytest

from truceguard.errors import MarkingError
from truceguard.marking import OWNER_ONLY, PUBLIC, Marking, Viewer, most_restrictive, parse_marking


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("PUBLIC", "PUBLIC"),
        ("", "PUBLIC"),
        ("public", "PUBLIC"),
        ("REL TO GBR, FRA, NATO", "REL TO FRA, GBR, NATO"),
        ("rel to gbr,fra", "REL TO FRA, GBR"),
        ("REL UK FR", "REL TO FRA, GBR"),  # the old syntax, converted
        ("REL TO UK, FR", "REL TO FRA, GBR"),
        ("REL PL", "REL TO POL"),
        ("OWNER ONLY", "OWNER ONLY"),
    ],
)
def test_markings_parse_to_canonical_text(text: str, canonical: str) -> None:
    assert parse_marking(text).text == canonical


@pytest.mark.parametrize(
    "text", ["SECRET", "REL", "REL TO", "REL TO %", "REL TO _K", "REL TO G*", "REL NOBODY",
             "REL TO XXX", "REL TO GBR; DROP TABLE", "REL TO COALITION"],
)
def test_bad_markings_are_refused_naming_the_value(text: str) -> None:
    with pytest.raises(MarkingError) as err:
        parse_marking(text)
    assert err.value.hint
    assert err.value.code.startswith("marking.")


@pytest.mark.parametrize("code", ["REL", "%", "_K", "NOBODY", "UK", "gbr%", ""])
def test_a_viewer_code_that_is_not_known_is_an_error(code: str) -> None:
    with pytest.raises(MarkingError):
        Viewer.parse(code)


def test_uk_is_refused_as_a_viewer_code_with_the_alpha3_hint() -> None:
    with pytest.raises(MarkingError) as err:
        Viewer.parse("UK")
    assert "GBR" in err.value.hint


def test_a_nation_holds_its_groups() -> None:
    gbr = Viewer.of("GBR")
    assert gbr.codes == {"GBR", "NATO", "FVEY"}
    assert gbr.may_see("REL TO NATO")
    assert gbr.may_see("REL TO FVEY")
    assert not gbr.may_see("REL TO EU")
    assert not gbr.may_see("REL TO FRA")
    assert not Viewer.of("NATO").may_see("REL TO GBR")
    assert Viewer.of("NATO").may_see("REL TO GBR, NATO")
    assert not Viewer().may_see("OWNER ONLY")
    assert Viewer.owner().may_see("OWNER ONLY")


def test_narrowing_is_never_wider_than_either_marking() -> None:
    a, b = parse_marking("REL TO GBR, NATO"), parse_marking("REL TO FRA")
    both = a.narrow(b)
    assert both.text == "REL TO FRA"
    assert parse_marking("REL TO GBR").narrow(parse_marking("REL TO FRA")) == OWNER_ONLY
    assert PUBLIC.narrow(a) == a
    assert most_restrictive(["PUBLIC", "REL TO GBR, FRA", "REL TO GBR"]).text == "REL TO GBR"
    assert most_restrictive([]) == PUBLIC
    viewers = [Viewer.of(c) for c in ("GBR", "FRA", "DEU", "USA", "NATO", "EU", "FVEY", "UKR")]
    for x in ("PUBLIC", "REL TO NATO", "REL TO EU, GBR", "REL TO FVEY", "REL TO UKR"):
        for y in ("PUBLIC", "REL TO NATO", "REL TO EU", "REL TO USA, FRA", "OWNER ONLY"):
            n = parse_marking(x).narrow(parse_marking(y))
            for v in viewers:
                assert v.may_see(n) == (v.may_see(x) and v.may_see(y)), (x, y, v.codes)


def test_markings_are_values() -> None:
    assert Marking(frozenset({"GBR"})) == parse_marking("REL TO GBR")
