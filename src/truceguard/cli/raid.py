"""The ``raid`` command: one raid's outcome against the air-defence layers in force."""

from __future__ import annotations

import json
from typing import Any

import click

from truceguard.cli.common import domain_errors

ASSUMPTIONS = (
    "Ukraine's layer is fitted on the Ukrainian Air Force's 2025 raid reports (window 1 Jan - "
    "31 Dec 2025); its stocks of interceptors, fire-unit counts and the barrier's engagements "
    "an hour are assumptions with ranges (plan/calibrate.py).",
    "Decoys are suppressed (lost without a shot) at 0.85 (0.7-0.95); a drone or decoy not "
    "suppressed meets the barrier along its defended path over government-held Ukraine.",
    "Ballistic missiles are engaged only by Patriot and SAMP/T, within about 25 km (20-35) of "
    "a defended site, and only with warning (shorter without the US feed).",
    "Threats fly great circles from their launch areas; drones arrive over the night, missiles "
    "in a salvo at its end; first come, first served within each half hour.",
)


def render(result: dict[str, Any]) -> str:
    """The human table of a prediction."""
    ds = result["defeated_share"]
    lines = [f"Raid: {result['raid']['counts']}  (scenario {result['scenario']}, variant "
             f"{result['variant']}, date {result['date'] or 'not given'})",
             f"Defeated (destroyed or suppressed): {ds['value']:.1%}  "
             f"[90% {ds['low']:.1%} - {ds['high']:.1%}]", "",
             f"{'class':<10}{'launched':>10}{'destroyed':>11}{'suppressed':>12}{'leaked':>9}"]
    for cls, row in result["by_class"].items():
        lines.append(f"{cls:<10}{row['launched']:>10.0f}{row['destroyed']:>11.1f}"
                     f"{row['suppressed']:>12.1f}{row['leaked']:>9.1f}")
    lines += ["", "Layers (threats destroyed, mean):"]
    for name, lay in result["layers"].items():
        groups = ", ".join(f"{g} {v:g}" for g, v in lay["groups"].items())
        lines.append(f"  {name:<10}{lay['destroyed']:>8.1f}   {groups}")
    lines += ["", "Interceptors used (mean):"]
    for name, kinds in result["interceptors_used"].items():
        lines.append(f"  {name:<10}" + ", ".join(f"{k} {v:g}" for k, v in kinds.items()))
    lines += ["", f"Belarus hostile: {result['belarus_hostile']}; ballistic warning "
              f"{result['warning_min'][0]:g}-{result['warning_min'][1]:g} min"]
    lines += [f"Note: {n}" for n in result["notes"]]
    lines += ["", f"Marking: {result['marking']}. Assumptions:"]
    lines += [f"  - {a}" for a in result["assumptions"]]
    return "\n".join(lines)


def predict(drones: int, decoys: int, cruise: int, ballistic: int, scenario: str | None,
            variant: str | None, date: str | None, belarus_hostile: bool | None,
            replications: int, seed: int) -> dict[str, Any]:
    """The prediction as plain data (what ``--format json`` prints)."""
    from truceguard.errors import InputError
    from truceguard.plan.raid import approaches, make_raid, setting, simulate, summarise

    if not 20 <= replications <= 20_000:
        raise InputError(f"replications {replications} is outside 20 to 20,000",
                         hint="e.g. --replications 400", code="input.bad_raid")
    st = setting(scenario, variant, date, belarus_hostile)
    raid = make_raid(drones, decoys, cruise, ballistic, belarus_hostile=st.belarus_hostile,
                     targeting=st.targeting)
    result = summarise(simulate(raid, st, replications, seed))
    from truceguard.plan.scenario import DEFAULT_SCENARIO

    return {"marking": "PUBLIC", "scenario": scenario or DEFAULT_SCENARIO,
            "variant": variant or "baseline", "date": date,
            "raid": {"counts": raid.counts, "duration_h": raid.duration_h,
                     "targeting": raid.targeting, "approaches": approaches(raid)},
            **result, "belarus_hostile": st.belarus_hostile, "warning_min": list(st.warning),
            "notes": list(st.notes), "assumptions": list(ASSUMPTIONS)}


@click.command("raid")
@click.option("--drones", type=int, default=0, show_default=True,
              help="One-way attack drones (Shahed-type).")
@click.option("--decoys", type=int, default=0, show_default=True, help="Decoy drones.")
@click.option("--cruise", type=int, default=0, show_default=True, help="Cruise missiles.")
@click.option("--ballistic", type=int, default=0, show_default=True,
              help="Ballistic missiles (Iskander-M, KN-23, Kinzhal).")
@click.option("--scenario", default=None, help="Scenario name or YAML path (default "
              "reassurance-2026).")
@click.option("--variant", default=None, help="Variant of the scenario (default its baseline).")
@click.option("--date", default=None, metavar="YYYY-MM-DD",
              help="Date of the raid: layers in force and the US feed on that day.")
@click.option("--belarus-hostile/--no-belarus-hostile", default=None,
              help="Launch from Belarus too (default: as the scenario and variant say).")
@click.option("--replications", type=int, default=400, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True)
@domain_errors
def raid_cmd(drones: int, decoys: int, cruise: int, ballistic: int, scenario: str | None,
             variant: str | None, date: str | None, belarus_hostile: bool | None,
             replications: int, seed: int, fmt: str) -> None:
    """Predict one raid's outcome: share defeated (90% interval), by class, layer, interceptor.

    Ukraine's layer is calibrated on the 2025 raids; the coalition's and the US's come from the
    scenario's pledges. Counts are whole numbers from 0 to 10,000.
    """
    result = predict(drones, decoys, cruise, ballistic, scenario, variant, date,
                     belarus_hostile, replications, seed)
    click.echo(json.dumps(result, indent=1) if fmt == "json" else render(result))


def register(group: click.Group) -> None:
    """Add ``raid`` to ``group``."""
    group.add_command(raid_cmd, "raid")
