"""Threats built from events: what lets monitoring feed planning (``--threat-from-store``).

:func:`threat_from_events` turns a list of events, each ``(lat, lon, time, weight)`` (the
store's violations, for instance), into a threat that weights the line by where the events
happened; the scenario's threat types, rates and radius stay. :func:`with_threat` applies it
to every resolved variant, and ``results.json`` records ``threat: {source: "store",
n_events}``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from truceguard.errors import InputError
from truceguard.plan.scenario import ResolvedVariant, Threat


def threat_from_events(base: Threat, events: Iterable[Sequence[Any]], label: str = "store"
                       ) -> Threat:
    """``base`` with its line weighted by ``events`` (lat, lon, time, weight); events without
    a position are skipped; no usable event is an InputError (the store holds none)."""
    rows = []
    for ev in events:
        lat, lon, _time, weight = ev
        if lat is None or lon is None:
            continue
        lat, lon, w = float(lat), float(lon), 1.0 if weight is None else float(weight)
        if not (-90 <= lat <= 90 and -180 <= lon <= 180) or not math.isfinite(w) or w < 0:
            raise InputError(f"event at ({lat}, {lon}) with weight {w} is not usable",
                             hint="positions in degrees, weights of 0 or more",
                             code="input.bad_event")
        if w > 0:
            rows.append((lat, lon, w))
    if not rows:
        raise InputError("no violation with a position to build the threat from",
                         hint="run `truceguard adjudicate --terms NAME` first, or plan without "
                         "--threat-from-store", code="input.no_events")
    return replace(base, source="events", events=tuple(rows),
                   label=f"{label}: {len(rows)} events")


def with_threat(resolved: Sequence[ResolvedVariant], threat_events: Iterable[Sequence[Any]],
                label: str = "store") -> list[ResolvedVariant]:
    """Every resolved variant with its threat weighted by the same events."""
    events = list(threat_events)
    return [replace(rv, threat=threat_from_events(rv.threat, events, label)) for rv in resolved]
