"""Words for counts, shared by the CLI and the reports."""

from __future__ import annotations

_IRREGULAR = {"casualty": "casualties", "analysis": "analyses", "hotspot": "hotspots"}


def plural(n: int, noun: str, plural_form: str | None = None) -> str:
    """``n`` and the noun in the number it takes: "1 observation", "2 observations",
    "0 incidents", with thousands separated ("1,442 violations")."""
    many = plural_form or _IRREGULAR.get(noun) or (noun + "s")
    return f"{n:,} {noun if n == 1 else many}"


__all__ = ["plural"]
