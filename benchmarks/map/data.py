"""The benchmark's mission store: about 100,000 incidents along the 22 August 2026 line of
contact, built through the real path (observations written as a CSV, imported, fused and
judged against the GCSP-style terms on that line), and cached.

Events: spread along the line by length, most within a few kilometres of it (normal across
it, sd 4 km; one in ten deeper, Laplace with scale 15 km), over ``DAYS`` days from
2026-08-22, more of them at night (Kyiv time). Each event is reported by 1 to 6 sources
(1 + geometric), each report off by 200-2,500 m and a few minutes, with the position
uncertainty its kind of source has. Fusion (its defaults) joins the reports of an event and
sometimes two events that fall close in space and time, so the store gets a few percent fewer
incidents than events: the builder tops up with events after the last day until the store
holds at least the number asked for.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

T0 = int(datetime(2026, 8, 22, tzinfo=UTC).timestamp())
DAYS = 120
TERMS = "geneva-2025"
USER = ("bench-gbr", "GBR", "analyst")

# (source, how_known, uncertainty of its position in metres, marking, weight)
SOURCES = [
    ("monitor-patrol", "seen", 500.0, "REL TO GBR, FRA, DEU", 0.14),
    ("monitor-patrol", "heard", 2500.0, "REL TO GBR, FRA, DEU", 0.14),
    ("monitor-uav", "recorded", 150.0, "REL TO GBR, FRA, DEU", 0.10),
    ("monitor-acoustic", "sensor", 800.0, "REL TO GBR, FRA, DEU", 0.10),
    ("ua-general-staff", "party_report", 3000.0, "PUBLIC", 0.16),
    ("ru-mod", "party_report", 5000.0, "PUBLIC", 0.12),
    ("osint-telegram", "open_source", 2000.0, "PUBLIC", 0.14),
    ("osint-geolocated", "open_source", 300.0, "PUBLIC", 0.10),
]
# (category, weapon class, weight)
KINDS = [
    ("explosion", "artillery_ge100", 0.18), ("explosion", "mortar_120", 0.08),
    ("shelling", "artillery_ge100", 0.12), ("shelling", "mlrs", 0.05),
    ("shots", "small_arms", 0.10), ("armed_clash", "light_weapon", 0.04),
    ("drone", "uav", 0.16), ("projectile", "artillery_lt100", 0.06),
    ("muzzle_flash", "artillery_ge100", 0.04), ("illumination_flare", "light_weapon", 0.03),
    ("movement", "tank", 0.04), ("weapon_presence", "artillery_ge100", 0.04),
    ("mine", "mine", 0.02), ("air_strike", "aircraft", 0.02), ("missile", "tactical_missile", 0.02),
]
CSV_HEADER = ("time,lat,lon,uncertainty_m,time_precision_s,category,weapon_class,count,"
              "how_known,source,id,releasability,text")


def _line_points(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray,
                                                            np.ndarray, np.ndarray]:
    """n points on the 2026 line (x, y in the local projection's metres) and the unit normal
    of the line there."""
    from truceguard.geo.project import UKRAINE_EAST
    from truceguard.geo.shipped import front_line

    segs = []
    for part in getattr(front_line("2026-08-22"), "geoms", [front_line("2026-08-22")]):
        lon, lat = np.asarray(part.coords).T[:2]
        x, y = UKRAINE_EAST.forward(lon, lat)
        segs.append(np.column_stack([x[:-1], y[:-1], x[1:], y[1:]]))
    s = np.concatenate(segs)
    length = np.hypot(s[:, 2] - s[:, 0], s[:, 3] - s[:, 1])
    keep = length > 0
    s, length = s[keep], length[keep]
    k = rng.choice(len(s), n, p=length / length.sum())
    f = rng.uniform(0, 1, n)
    x = s[k, 0] + f * (s[k, 2] - s[k, 0])
    y = s[k, 1] + f * (s[k, 3] - s[k, 1])
    nx = -(s[k, 3] - s[k, 1]) / length[k]
    ny = (s[k, 2] - s[k, 0]) / length[k]
    return x, y, nx, ny


def write_reports(path: Path, n_events: int, seed: int, first_day: float,
                  days: float, id_base: int) -> int:
    """Write the reports of ``n_events`` events to ``path`` (CSV, our own columns); returns
    the number of reports."""
    from truceguard.geo.project import UKRAINE_EAST

    rng = np.random.default_rng(seed)
    x, y, nx, ny = _line_points(n_events, rng)
    deep = rng.uniform(0, 1, n_events) < 0.1
    off = np.where(deep, rng.laplace(0, 15_000, n_events), rng.normal(0, 4_000, n_events))
    ex, ey = x + off * nx, y + off * ny
    # more at night: hour of day (Kyiv, UTC+3) drawn with weights
    hour_w = np.array([3, 3, 3, 3, 2.5, 2, 1.5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.2, 1.5, 2, 2.5,
                       3, 3, 3])
    hour = rng.choice(24, n_events, p=hour_w / hour_w.sum())
    day = np.floor(rng.uniform(first_day, first_day + days, n_events))
    et = T0 + day * 86_400 + ((hour - 3) % 24) * 3600 + rng.uniform(0, 3600, n_events)
    kind = rng.choice(len(KINDS), n_events, p=[k[2] for k in KINDS] / np.sum([k[2] for k in KINDS]))
    per = np.minimum(1 + rng.geometric(0.45, n_events) - 1, 6)  # 1..6 reports, mean about 2.2
    ev = np.repeat(np.arange(n_events), per)
    n = len(ev)
    src_w = np.array([s[4] for s in SOURCES])
    src = rng.choice(len(SOURCES), n, p=src_w / src_w.sum())
    unc = np.array([s[2] for s in SOURCES])[src]
    err = rng.uniform(200, 2500, n) * np.minimum(1.0, unc / 2500 + 0.2)
    ang = rng.uniform(0, 2 * math.pi, n)
    lon, lat = UKRAINE_EAST.inverse(ex[ev] + err * np.cos(ang), ey[ev] + err * np.sin(ang))
    t = np.round(et[ev] + rng.normal(0, 180, n)).astype(np.int64)
    count = rng.choice([1, 1, 1, 2, 3, 5], n)
    stamps = [datetime.fromtimestamp(int(v), UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for v in t]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(CSV_HEADER + "\n")
        lines = []
        for i in range(n):
            s = SOURCES[src[i]]
            cat, weapon, _ = KINDS[kind[ev[i]]]
            lines.append(f"{stamps[i]},{lat[i]:.6f},{lon[i]:.6f},{unc[i]:.0f},60,{cat},{weapon},"
                         f"{count[i]},{s[1]},{s[0]},r{id_base + i},\"{s[3]}\","
                         f"{cat} {s[1]} by {s[0]}: {count[i]} ({weapon})\n")
            if len(lines) >= 20_000:
                fh.writelines(lines)
                lines = []
        fh.writelines(lines)
    return n


def build(folder: Path, n_incidents: int, seed: int = 20260822,
          log: Any = print) -> dict[str, Any]:
    """Build the store in ``folder`` (mission.db and meta.json); returns the meta."""
    from truceguard.ingest import import_file
    from truceguard.judge.terms import load_terms
    from truceguard.pipeline import adjudicate_store, fuse_store
    from truceguard.store import open_store
    from truceguard.users import add_user

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    db = folder / "mission.db"
    timings: dict[str, float] = {"write_csv": 0.0, "import": 0.0, "fuse": 0.0}
    started = time.perf_counter()
    reports = 0
    with open_store(str(db)) as store:
        store.set_owner_nation("GBR")
        _, token = add_user(store, *USER, by="bench")
        events_total, batch, first_day, days = 0, n_incidents, 0.0, float(DAYS)
        incidents = 0
        while incidents < n_incidents:
            csv_path = folder / f"reports-{events_total}.csv"
            t = time.perf_counter()
            reports += write_reports(csv_path, batch, seed + events_total, first_day, days,
                                     id_base=reports)
            timings["write_csv"] += time.perf_counter() - t
            t = time.perf_counter()
            summary = import_file(store, csv_path, fmt="csv")
            timings["import"] += time.perf_counter() - t
            if summary.rejected:
                raise RuntimeError(f"{summary.rejected} rows rejected in {csv_path}")
            csv_path.unlink()
            t = time.perf_counter()
            fuse_store(store)
            timings["fuse"] += time.perf_counter() - t
            events_total += batch
            incidents = _count_incidents(store)
            log(f"  {events_total:,} events, {reports:,} reports -> {incidents:,} incidents")
            # top up after the last day, with the same density
            short = n_incidents - incidents
            first_day, days = first_day + days, max(1.0, DAYS * short / n_incidents)
            batch = max(100, int(short * events_total / max(incidents, 1) * 1.03))
        t = time.perf_counter()
        adj = adjudicate_store(store, load_terms(TERMS))
        timings["adjudicate"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - started
    violations = _count_violations(db)
    meta = {"n_asked": n_incidents, "seed": seed, "incidents": incidents,
            "observations": reports, "events": events_total, "violations": violations,
            "terms": TERMS, "token": token, "user": USER[0], "build_s": timings,
            "by_clause": adj.by_clause, "built_at": datetime.now(UTC).isoformat()}
    (folder / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta


def _count_incidents(store: Any) -> int:
    return int(store.count_incidents())


def _count_violations(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return int(conn.execute("select count(*) from violations").fetchone()[0])
