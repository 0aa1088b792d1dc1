"""``/api/v1/terms`` and ``/api/v1/scenarios``: the ceasefire terms and the planning scenarios
shipped with truceguard (never a file on the server named by a client)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter

from truceguard.errors import NotFoundError, unknown_value
from truceguard.judge.terms import load_terms, shipped_terms
from truceguard.server.routes.deps import Me
from truceguard.server.schemas import NameList, ScenarioDocument, TermsDocument

router = APIRouter(prefix="/api/v1", tags=["terms and scenarios"])


def shipped_terms_name(name: str) -> str:
    """``name`` if truceguard ships terms of that name; the API judges and reports against
    shipped terms only (never a path on the server)."""
    if name not in shipped_terms():
        raise unknown_value("terms", name, shipped_terms(), code="not_found.terms",
                            cls=NotFoundError)
    return name


@router.get("/terms", response_model=NameList)
def list_terms(u: Me) -> dict[str, Any]:
    """The terms shipped with truceguard."""
    return {"items": [{"name": n, "title": load_terms(n).title} for n in shipped_terms()]}


@router.get("/terms/{name}", response_model=TermsDocument)
def show_terms(name: str, u: Me) -> dict[str, Any]:
    """One shipped terms file: its clauses, zones and sources."""
    return load_terms(shipped_terms_name(name)).as_dict()


@router.get("/scenarios", response_model=NameList)
def list_scenarios(u: Me) -> dict[str, Any]:
    """The planning scenarios shipped with truceguard."""
    from truceguard.plan import load_scenario, shipped_scenarios

    return {"items": [{"name": n, "title": load_scenario(n).title}
                      for n in shipped_scenarios()]}


@router.get("/scenarios/{name}", response_model=ScenarioDocument)
def show_scenario(name: str, u: Me) -> dict[str, Any]:
    """One shipped scenario, as its file states it."""
    from truceguard.config import load_yaml
    from truceguard.geo.shipped import data_path
    from truceguard.plan import shipped_scenarios

    if name not in shipped_scenarios():
        raise unknown_value("scenario", name, shipped_scenarios(),
                            code="not_found.scenario", cls=NotFoundError)
    doc: dict[str, Any] = json.loads(json.dumps(load_yaml(data_path("scenarios",
                                                                    f"{name}.yaml")),
                                                default=str))
    return doc


__all__ = ["router", "shipped_terms_name"]
