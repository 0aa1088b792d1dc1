"""Cross-checks of the planning model against published figures; writes docs/planning-checks.md.

    python scripts/planning_checks.py [-o docs/planning-checks.md]

1. Force-generation arithmetic: 64,000 deployed -> about 256,000 over two years with rotation;
   the IISS options of about 10,000 and 25,000 under the rule of thirds.
2. Great-circle times from the shipped air bases to Kyiv against the distances in the
   coalition facts (derived figures, km), at the scenario's fighter speed.
3. The radar-horizon rule of thumb (4.12 (sqrt h1 + sqrt h2) km).
Exits non-zero if any check fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from truceguard.geo.radar import flight_minutes, radar_horizon_m
from truceguard.geo.shipped import air_bases
from truceguard.geo.sphere import haversine_m
from truceguard.plan.forcegen import over_horizon, pool_needed
from truceguard.plan.scenario import load_scenario

KYIV = (50.45, 30.52)
# Base -> great-circle km to Kyiv, as published (coalition facts, derived).
PUBLISHED_KM = {"EPRZ": 605, "EPLK": 802, "LRCK": 694, "LRCT": 657, "EYSA": 769, "EEEI": 1059}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", default="docs/planning-checks.md")
    args = ap.parse_args()
    scen = load_scenario("reassurance-2025")
    fg = {k: float(v.value) for k, v in scen.force_generation.items()}
    speed = scen.capabilities["fighters"].params["speed_kmh"]
    react = scen.capabilities["fighters"].params["react_min"]
    ok = True
    lines = ["# Planning cross-checks", "",
             "Written by `scripts/planning_checks.py` from the shipped scenario "
             "`reassurance-2025` and the shipped air bases; run it again after changing them.",
             "", "## Force generation", "",
             f"Rules: pool factor {fg['pool_factor']:g} (rule of thirds), tours of "
             f"{fg['tour_months']:g} months, horizon {fg['horizon_months']:g} months.", "",
             "| case | deployed | published | computed | check |", "|---|---:|---:|---:|---|"]
    cases = [
        ("UK proposal, over two years with rotation", 64_000, 256_000,
         over_horizon(64_000, fg["tour_months"], fg["horizon_months"])),
        ("IISS option 1 (one brigade), pool", 10_000, 30_000,
         pool_needed(10_000, fg["pool_factor"])),
        ("IISS option 2 (large division), pool", 25_000, 75_000,
         pool_needed(25_000, fg["pool_factor"])),
        ("IISS option 1, over two years", 10_000, 40_000,
         over_horizon(10_000, fg["tour_months"], fg["horizon_months"])),
        ("IISS option 2, over two years", 25_000, 100_000,
         over_horizon(25_000, fg["tour_months"], fg["horizon_months"])),
    ]
    for name, dep, pub, got in cases:
        good = abs(got - pub) <= 0.01 * pub
        ok &= good
        lines.append(f"| {name} | {dep:,} | {pub:,} | {got:,.0f} | {'ok' if good else 'FAIL'} |")
    lines += ["", "The IISS pool figures apply the rule of thirds to the published deployed sizes; "
              "the two-year figures apply the same x4 as the UK proposal.", "",
              "## Great-circle distances and times to Kyiv (50.45N 30.52E)", "",
              f"Fighter speed {speed:g} km/h, airborne within {react:g} min (scenario values).", "",
              "| base | published km | computed km | difference | flight min | scramble + "
              "flight min | check |", "|---|---:|---:|---:|---:|---:|---|"]
    bases = air_bases()
    for ident, pub in PUBLISHED_KM.items():
        b = bases[ident]
        km = float(haversine_m(b.lat, b.lon, *KYIV)) / 1000.0
        fly = float(flight_minutes(km * 1000.0, speed))
        good = abs(km - pub) <= 0.01 * pub + 2
        ok &= good
        lines.append(f"| {ident} {b.name} | {pub:,} | {km:,.0f} | {km - pub:+.1f} | {fly:.0f} | "
                     f"{fly + react:.0f} | {'ok' if good else 'FAIL'} |")
    lines += ["", "Base positions come from the shipped OurAirports list and differ from the "
              "published coordinates by up to a few hundred metres.", "",
              "## Radar horizon (4/3-Earth model)", "",
              "| sensor | target | published km | computed km | check |",
              "|---|---|---:|---:|---|"]
    for sensor, h1, h2, pub in (("10 m mast", 10, 50, 42), ("AWACS at 9 km", 9000, 50, 420)):
        km = float(radar_horizon_m(h1, h2)) / 1000.0
        good = abs(km - pub) <= 0.02 * pub
        ok &= good
        lines.append(f"| {sensor} | {h2} m | {pub} | {km:.1f} | {'ok' if good else 'FAIL'} |")
    lines.append("")
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {args.output}: {'all checks pass' if ok else 'SOME CHECKS FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
