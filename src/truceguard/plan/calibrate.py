"""Ukraine's air-defence layer calibrated on the raids of 2025, and its hindcast.

Data: ``data/raids/ua_air_force_raids_2025-01-01_2026-04-04.csv`` (:data:`RAIDS_FILE`), one row
per national morning report of the Ukrainian Air Force: drones launched, of them attack drones
where reported, defeated (destroyed or suppressed) and suppressed where reported apart (until 22
July 2025), cruise and ballistic missiles launched and destroyed, and the launch areas named.
Window: raids that began on or after :data:`FIT_START` and ended by :data:`FIT_END`
(31 December 2025, 23:59). :func:`fit_rows` is the only reader of the file for the fit and
drops every later row before any figure is looked at; 2026 raids stay for an out-of-sample check.

Fitted (:class:`Fit`): the chance a drone is suppressed by electronic warfare, the barrier's
meetings per 100 km of defended path for drones and for cruise missiles, Patriot's kill chance
per interceptor against ballistic missiles, the barrier's engagements per hour (saturation), and
two nuisance parameters of 2025 targeting (``depth_a``, ``depth_b``): the share of a raid aimed
deep (capital, energy, other cities) rather than at front-line cities and ports, a logistic in
the raid's log size; reports do not say where each threat flew. The fit maximises a binomial
likelihood of the expected shares (the mean-field form of :func:`airdefence.engage`);
uncertainty is a bootstrap over raids. The hindcast runs the Monte Carlo itself.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from truceguard.plan.airdefence import SYSTEMS, Engagement, Layer, Magazine, placed_group
from truceguard.plan.raid import LAUNCH_AREAS, TARGET_NAMES, Raid, defended_km

RAIDS_FILE = "ua_air_force_raids_2025-01-01_2026-04-04.csv"
CALIBRATION_FILE = "calibration_2025.json"
FIT_START = datetime(2025, 1, 1)
FIT_END = datetime(2025, 12, 31, 23, 59)
US_PAUSE = (datetime(2025, 3, 5), datetime(2025, 3, 12))  # US intelligence sharing paused
EW_DECOY = 0.85  # assumption (0.7-0.95): decoys carry no warhead and are mostly "lost"
ATTACK_SHARE = 0.6  # attack drones among drones where unreported: 2025 H2 reports (0.58-0.64)
NEAR = {"front_cities": 0.6, "ports": 0.4}
DEEP = {"capital": 0.35, "energy": 0.45, "cities": 0.2}
PATRIOT_UA = 8.0  # assumption (6-12): at least four received by mid-2024, five more promised
MEDIUM_SAM_UA = 30.0  # assumption (20-50) fire units of IRIS-T, NASAMS, Buk, S-300, Hawk
# The barrier's engagements an hour: not identified by 2025 (no raid saturated it; the largest
# mean demand was about 36 an hour, the night of 7 Sep 2025): assumption 60 (40-120), above the
# nights' mean for their waves.
BARRIER_PER_H = 60.0
UA_PLACEMENT = {"capital": 0.5, "energy": 0.2, "cities": 0.1, "front_cities": 0.1, "ports": 0.1}
UA_MAGAZINES = {  # assumptions with ranges: stocks are not published
    "pac3_gemt": Magazine(250.0, 0.7),  # 100-500 on hand, about 20 a month
    "medium_sam_missile": Magazine(600.0, 3.0),  # 300-1200, 1-5 a day
    "barrier_rounds": Magazine(5000.0, 800.0),  # 2,000-10,000 engagements; 400-1,500 a day
}


@dataclass(frozen=True)
class Fit:
    """Fitted parameters of Ukraine's layer (2025) and the two nuisance ones."""

    ew_drone: float
    meet_drone: float
    meet_cruise: float
    pk_ballistic: float
    barrier_per_h: float
    depth_a: float
    depth_b: float


@dataclass(frozen=True)
class RaidRows:
    """Raids of the window as arrays (one entry a raid)."""

    start: NDArray
    end: NDArray
    duration_h: NDArray
    drones: NDArray
    attack: NDArray  # attack drones (NaN where unreported)
    defeated: NDArray
    suppressed: NDArray  # NaN where reported together with destroyed
    cruise: NDArray
    cruise_destroyed: NDArray
    ballistic: NDArray
    ballistic_destroyed: NDArray
    areas: tuple[dict[str, tuple[str, ...]], ...]
    us_feed: NDArray

    def __len__(self) -> int:
        return len(self.start)


def raids_path() -> Path:
    from truceguard.geo.shipped import data_path

    return data_path("raids", RAIDS_FILE)


def _num(v: str) -> float:
    return float(v) if v.strip() else math.nan


def fit_rows(path: str | Path | None = None, start: datetime = FIT_START,
             end: datetime = FIT_END) -> RaidRows:
    """The raids that began on or after ``start`` and ended by ``end``; later rows are
    dropped as they are read, before any of their figures is parsed."""
    rows = []
    with open(path or raids_path(), encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            t0 = datetime.fromisoformat(r["start"])
            t1 = datetime.fromisoformat(r["end"])
            if t0 < start or t1 > end:
                continue
            rows.append((t0, t1, r))
    if not rows:
        raise ValueError(f"no raid between {start} and {end} in {path or raids_path()}")
    t0s = np.array([a for a, _, _ in rows], dtype="datetime64[m]")
    t1s = np.array([b for _, b, _ in rows], dtype="datetime64[m]")

    def col(k: str) -> NDArray:
        return np.array([_num(r[k]) for _, _, r in rows])

    areas = tuple({c: tuple(a for a in r[f"{c}_areas"].split(";") if a in LAUNCH_AREAS)
                   for c in ("drone", "cruise", "ballistic")} for _, _, r in rows)
    us = np.array([not (US_PAUSE[0] <= a <= US_PAUSE[1]) for a, _, _ in rows])
    dur = np.maximum((t1s - t0s).astype(float) / 60.0, 1.0)
    return RaidRows(t0s, t1s, dur, col("drones_launched"), col("drones_attack"),
                    col("drones_defeated"), col("drones_suppressed"), col("cruise_launched"),
                    col("cruise_destroyed"), col("ballistic_launched"),
                    col("ballistic_destroyed"), areas, us)


@cache
def launch_mix_2025() -> dict[str, dict[str, float]]:
    """Share of the window's reports naming each launch area, per class (decoys as drones)."""
    try:
        rows = fit_rows()
    except (OSError, ValueError):
        from truceguard.plan.raid import DEFAULT_LAUNCH_MIX

        return DEFAULT_LAUNCH_MIX
    out: dict[str, dict[str, float]] = {}
    for cls in ("drone", "cruise", "ballistic"):
        counts: dict[str, float] = {}
        for a in rows.areas:
            for name in a[cls]:
                counts[name] = counts.get(name, 0.0) + 1.0
        total = sum(counts.values())
        out[cls] = {k: v / total for k, v in sorted(counts.items())} if total else {}
    out["decoy"] = out["drone"]
    return out


def ukraine_layer(fit: Fit) -> Layer:
    """Ukraine's own layer with the fitted parameters and the stated assumptions."""
    mfg = SYSTEMS["mobile_fire_groups"]
    eng = dict(mfg.engages)
    eng["drone"] = Engagement(eng["drone"].pk, 1, meet_per_100km=fit.meet_drone)
    eng["decoy"] = Engagement(eng["decoy"].pk, 1, meet_per_100km=fit.meet_drone)
    eng["cruise"] = Engagement(eng["cruise"].pk, 1, meet_per_100km=fit.meet_cruise)
    barrier = replace(mfg, engages=eng)
    pat = SYSTEMS["patriot"]
    peng = dict(pat.engages)
    b = peng["ballistic"]
    peng["ballistic"] = Engagement(fit.pk_ballistic, b.shots, b.range_km, 0.0,
                                   b.need_warning_min)
    patriot = replace(pat, engages=peng)
    units = fit.barrier_per_h / mfg.rate_per_h
    groups = (placed_group(barrier, units, {"capital": 1.0}, "mobile fire groups"),
              placed_group(SYSTEMS["medium_sam"], MEDIUM_SAM_UA, UA_PLACEMENT, "medium SAM"),
              placed_group(patriot, PATRIOT_UA, UA_PLACEMENT, "Patriot"))
    return Layer("ukraine", groups, dict(UA_MAGAZINES),
                 {"drone": fit.ew_drone, "decoy": EW_DECOY})


def depth_share(fit: Fit, total: NDArray) -> NDArray:
    """Share of a 2025 raid aimed deep, by its size (the nuisance of the fit)."""
    z = fit.depth_a + fit.depth_b * np.log(np.maximum(total, 1.0) / 100.0)
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def targeting(fit: Fit, total: NDArray) -> NDArray:
    """(raids, target sets) weights: near and deep mixes by :func:`depth_share`."""
    near = np.array([NEAR.get(g, 0.0) for g in TARGET_NAMES])
    deep = np.array([DEEP.get(g, 0.0) for g in TARGET_NAMES])
    dlt = depth_share(fit, total)[:, None]
    return np.asarray((1 - dlt) * near[None, :] + dlt * deep[None, :])


@cache
def _km_table() -> tuple[tuple[str, ...], NDArray]:
    names = tuple(LAUNCH_AREAS)
    return names, np.array([[defended_km(a, g) for g in TARGET_NAMES] for a in names])


def _area_weights(rows: RaidRows, cls: str) -> NDArray:
    names, _ = _km_table()
    mix = launch_mix_2025()[cls]
    default = np.array([mix.get(n, 0.0) for n in names])
    out = np.empty((len(rows), len(names)))
    for i, a in enumerate(rows.areas):
        if a[cls]:
            out[i] = [1.0 if n in a[cls] else 0.0 for n in names]
        else:
            out[i] = default
        out[i] /= out[i].sum()
    return out


@dataclass(frozen=True)
class _Prepared:
    """What the mean-field model needs of a set of raids, computed once."""

    rows: RaidRows
    aw: dict[str, NDArray]  # class -> (raids, areas) launch-area weights
    total: NDArray
    attack: NDArray
    warn_ok: NDArray  # share of engagements warning allows, per raid (times pk's share)


def _prepare(rows: RaidRows) -> _Prepared:
    need = SYSTEMS["patriot"].engages["ballistic"].need_warning_min
    warn = np.where(rows.us_feed, _warn_factor(True, need), _warn_factor(False, need))
    att = np.where(np.isnan(rows.attack), ATTACK_SHARE * rows.drones, rows.attack)
    return _Prepared(rows, {c: _area_weights(rows, c) for c in ("drone", "cruise")},
                     rows.drones + rows.cruise + rows.ballistic, att, warn)


@cache
def _covers() -> dict[str, NDArray]:
    layer = ukraine_layer(START)
    _, msam, pat = layer.groups
    return {n: np.array([g.cover.get(c, {}).get(s, 0.0) for s in TARGET_NAMES])
            for g, n, c in ((msam, "msam", "cruise"), (pat, "patc", "cruise"),
                            (pat, "patb", "ballistic"))}


def expected(fit: Fit, rows: RaidRows | _Prepared) -> dict[str, NDArray]:
    """Mean-field expected shares per raid: drones suppressed and defeated, cruise and
    ballistic destroyed (the shapes the reports give)."""
    pr = rows if isinstance(rows, _Prepared) else _prepare(rows)
    r = pr.rows
    _, km = _km_table()
    w = targeting(fit, pr.total)
    sup = pr.attack * fit.ew_drone + (r.drones - pr.attack) * EW_DECOY
    eng = SYSTEMS["mobile_fire_groups"].engages

    def meet(cls: str, m: float) -> NDArray:
        q = 1.0 - np.exp(-m * km / 100.0)  # (areas, sets)
        return np.asarray(np.einsum("ra,ag,rg->r", pr.aw[cls], q, w))

    qd, qc = meet("drone", fit.meet_drone), meet("cruise", fit.meet_cruise)
    demand = (r.drones - sup) * qd + r.cruise * qc
    rho = np.minimum(1.0, fit.barrier_per_h * r.duration_h / np.maximum(demand, 1e-9))
    kd = (r.drones - sup) * qd * rho * eng["drone"].p_kill
    cov = _covers()
    pat, msam = SYSTEMS["patriot"].engages, SYSTEMS["medium_sam"].engages
    miss = (1 - cov["msam"] * msam["cruise"].p_kill) * (1 - cov["patc"] * pat["cruise"].p_kill)
    cruise = 1 - (1 - qc * rho * eng["cruise"].p_kill) * (w @ miss)
    pk_b = 1.0 - (1.0 - fit.pk_ballistic) ** pat["ballistic"].shots
    bal = (w @ cov["patb"]) * pr.warn_ok * pk_b
    n = np.maximum(r.drones, 1.0)
    return {"drone_sup": sup / n, "drone_def": (sup + kd) / n, "cruise": cruise,
            "ballistic": bal}


@cache
def _warn_factor(us_feed: bool, need: float) -> float:
    from truceguard.plan.raid import warning_minutes

    lo, hi = warning_minutes(us_feed)
    grid = np.linspace(lo, hi, 101)
    return float(np.minimum(1.0, grid / max(need, 1e-9)).mean())


# bounds of the fitted parameters (every field of Fit but barrier_per_h)
FITTED = ("ew_drone", "meet_drone", "meet_cruise", "pk_ballistic", "depth_a", "depth_b")
_LO = np.array([0.0, 0.01, 0.001, 0.05, -8.0, -3.0])
_HI = np.array([0.95, 5.0, 2.0, 0.95, 8.0, 8.0])


def _to_fit(x: NDArray) -> Fit:
    v = _LO + (_HI - _LO) / (1 + np.exp(-x))
    return Fit(**dict(zip(FITTED, map(float, v), strict=True)), barrier_per_h=BARRIER_PER_H)


def _from_fit(f: Fit) -> NDArray:
    v = np.array([getattr(f, k) for k in FITTED])
    p = np.clip((v - _LO) / (_HI - _LO), 1e-6, 1 - 1e-6)
    return np.asarray(np.log(p / (1 - p)))


def _binom(k: NDArray, n: NDArray, p: NDArray) -> float:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    ok = n > 0
    return float((k[ok] * np.log(p[ok]) + (n[ok] - k[ok]) * np.log(1 - p[ok])).sum())


def log_likelihood(fit: Fit, rows: RaidRows | _Prepared) -> float:
    """Binomial log-likelihood of the reported counts under :func:`expected`."""
    pr = rows if isinstance(rows, _Prepared) else _prepare(rows)
    rows = pr.rows
    e = expected(fit, pr)
    apart = ~np.isnan(rows.suppressed)
    ll = _binom(rows.suppressed[apart], rows.drones[apart], e["drone_sup"][apart])
    # destroyed among those not suppressed, where reported apart; defeated otherwise
    n2 = rows.drones[apart] - rows.suppressed[apart]
    p2 = (e["drone_def"] - e["drone_sup"]) / np.maximum(1 - e["drone_sup"], 1e-9)
    ll += _binom(rows.defeated[apart] - rows.suppressed[apart], n2, p2[apart])
    ll += _binom(rows.defeated[~apart], rows.drones[~apart], e["drone_def"][~apart])
    ll += _binom(rows.cruise_destroyed, rows.cruise, e["cruise"])
    ll += _binom(rows.ballistic_destroyed, rows.ballistic, e["ballistic"])
    return ll


START = Fit(0.3, 0.3, 0.15, 0.5, 60.0, 0.0, 1.0)


def fit(rows: RaidRows, start: Fit = START) -> Fit:
    """Maximum-likelihood parameters for the raids ``rows``."""
    from scipy.optimize import minimize

    pr = _prepare(rows)
    res = minimize(lambda x: -log_likelihood(_to_fit(x), pr), _from_fit(start),
                   method="L-BFGS-B", options={"maxiter": 500})
    return _to_fit(res.x)


def bootstrap(rows: RaidRows, best: Fit, draws: int, seed: int = 2025) -> list[Fit]:
    """Fits to raids resampled with replacement: the parameters' uncertainty."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(draws):
        idx = rng.integers(0, len(rows), len(rows))
        out.append(fit(_take(rows, idx), best))
    return out


def _take(rows: RaidRows, idx: NDArray) -> RaidRows:
    vals: dict[str, Any] = {}
    for f in fields(RaidRows):
        v = getattr(rows, f.name)
        vals[f.name] = tuple(v[i] for i in idx) if isinstance(v, tuple) else v[idx]
    return RaidRows(**vals)


@dataclass(frozen=True)
class Calibration:
    """The shipped fit: best parameters, bootstrap draws, what data and window."""

    best: Fit
    draws: tuple[Fit, ...]
    data: str
    window: tuple[str, str]
    raids: int


def calibration_path() -> Path:
    from truceguard.geo.shipped import data_path

    return data_path("raids", CALIBRATION_FILE)


@cache
def load_calibration() -> Calibration:
    """The fit shipped in ``data/raids/calibration_2025.json``."""
    doc = json.loads(calibration_path().read_text(encoding="utf-8"))
    window = (str(doc["window"][0]), str(doc["window"][1]))
    return Calibration(Fit(**doc["best"]), tuple(Fit(**d) for d in doc["draws"]), doc["data"],
                       window, int(doc["raids"]))


def write_calibration(draws: int = 40, path: Path | None = None) -> Calibration:
    """Fit, bootstrap and write the calibration file."""
    rows = fit_rows()
    best = fit(rows)
    cal = Calibration(best, tuple(bootstrap(rows, best, draws)), RAIDS_FILE,
                      (FIT_START.isoformat(), FIT_END.isoformat()), len(rows))
    doc = {"data": cal.data, "window": list(cal.window), "raids": cal.raids,
           "best": asdict(best), "draws": [asdict(d) for d in cal.draws],
           "note": "Ukraine's air-defence layer fitted on the 2025 raids (calibrate.py)"}
    (path or calibration_path()).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    load_calibration.cache_clear()
    return cal


# --- hindcast: the Monte Carlo run on every raid of the window --------------------------------

SIZE_BINS = (0, 50, 100, 200, 400, 10_000)


def _raid_of(rows: RaidRows, i: int, fit: Fit) -> Raid:
    from truceguard.plan.raid import launch_mix

    att = rows.attack[i] if not np.isnan(rows.attack[i]) else round(ATTACK_SHARE * rows.drones[i])
    counts = {"drone": int(att), "decoy": int(rows.drones[i] - att),
              "cruise": int(rows.cruise[i]), "ballistic": int(rows.ballistic[i])}
    base = launch_mix(False)
    mix = {c: ({a: 1.0 for a in rows.areas[i][c if c != "decoy" else "drone"]}
               or base[c]) for c in ("drone", "decoy", "cruise", "ballistic")}
    w = targeting(fit, np.array([rows.drones[i] + rows.cruise[i] + rows.ballistic[i]]))[0]
    return Raid(counts, mix, dict(zip(TARGET_NAMES, w.tolist(), strict=True)),
                float(rows.duration_h[i]))


def hindcast(cal: Calibration, rows: RaidRows, draws: int = 10, reps: int = 4,
             seed: int = 7) -> dict[str, NDArray]:
    """Per raid, per class: (draws x reps, raids) arrays of defeated counts from the Monte
    Carlo with the calibration's bootstrap draws."""
    from truceguard.plan.airdefence import engage, full_stocks
    from truceguard.plan.raid import draw_raid, warning_minutes

    rng = np.random.default_rng(seed)
    out = {k: np.zeros((draws * reps, len(rows))) for k in ("drone", "cruise", "ballistic")}
    for k in range(draws):
        fit_k = cal.draws[k % len(cal.draws)]
        layers = [ukraine_layer(fit_k)]
        for i in range(len(rows)):
            raid = _raid_of(rows, i, fit_k)
            d = draw_raid(raid, reps, rng, warning_minutes(bool(rows.us_feed[i])))
            o = engage(d, layers, full_stocks(layers, reps), raid.duration_h, rng)
            sl = slice(k * reps, (k + 1) * reps)
            out["drone"][sl, i] = sum(o.destroyed[c] + o.suppressed[c] for c in ("drone", "decoy"))
            out["cruise"][sl, i] = o.destroyed["cruise"]
            out["ballistic"][sl, i] = o.destroyed["ballistic"]
    return out


def hindcast_table(rows: RaidRows, sims: dict[str, NDArray], groups: NDArray,
                   names: list[str]) -> list[dict[str, object]]:
    """Published and hindcast shares defeated per group (quarter or size bin), with the 90%
    interval of the hindcast."""
    launched = {"drone": rows.drones, "cruise": rows.cruise, "ballistic": rows.ballistic}
    published = {"drone": rows.defeated, "cruise": rows.cruise_destroyed,
                 "ballistic": rows.ballistic_destroyed}
    table = []
    for gi, name in enumerate(names):
        m = groups == gi
        row: dict[str, object] = {"group": name, "raids": int(m.sum())}
        for c in ("drone", "cruise", "ballistic"):
            n = float(launched[c][m].sum())
            if n == 0:
                continue
            sh = sims[c][:, m].sum(axis=1) / n
            row[c] = {"launched": int(n), "published": round(float(published[c][m].sum()) / n, 3),
                      "hindcast": round(float(sh.mean()), 3),
                      "low": round(float(np.quantile(sh, 0.05)), 3),
                      "high": round(float(np.quantile(sh, 0.95)), 3)}
        table.append(row)
    return table


def quarters(rows: RaidRows) -> NDArray:
    return np.asarray((rows.start.astype("datetime64[M]").astype(int) % 12) // 3)


def size_bins(rows: RaidRows) -> NDArray:
    return np.asarray(np.digitize(rows.drones, SIZE_BINS[1:-1]))


def plot(q_table: list[dict[str, object]], s_table: list[dict[str, object]], path: Path) -> None:
    """Published beside hindcast shares, per quarter and per raid size (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, table, title in ((axes[0], q_table, "2025 per quarter"),
                             (axes[1], s_table, "2025 per raid size (drones)")):
        x = np.arange(len(table))
        for j, (c, colour) in enumerate((("drone", "C0"), ("cruise", "C1"),
                                         ("ballistic", "C3"))):
            pub = [r[c]["published"] if c in r else np.nan for r in table]  # type: ignore[index]
            hc = [r[c]["hindcast"] if c in r else np.nan for r in table]  # type: ignore[index]
            lo = [r[c]["low"] if c in r else np.nan for r in table]  # type: ignore[index]
            hi = [r[c]["high"] if c in r else np.nan for r in table]  # type: ignore[index]
            off = (j - 1) * 0.25
            ax.scatter(x + off, pub, color=colour, marker="o", label=f"{c} published")
            ax.errorbar(x + off + 0.06, hc, yerr=[np.subtract(hc, lo), np.subtract(hi, hc)],
                        color=colour, marker="x", linestyle="none", label=f"{c} hindcast (90%)")
        ax.set_xticks(x, [str(r["group"]) for r in table])
        ax.set_ylim(0, 1.02)
        ax.set_title(title)
        ax.set_ylabel("share defeated")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle("Ukraine's layer calibrated on 2025 raids: published (o) and hindcast (x)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:  # pragma: no cover - regenerates the shipped fit and the documented figures
    """Fit, bootstrap, write the calibration; hindcast 2025; print the tables; draw the plot."""
    cal = write_calibration()
    rows = fit_rows()
    print(json.dumps(asdict(cal.best), indent=1))
    for q in range(4):
        m = quarters(rows) == q
        print(f"Q{q + 1} fit alone:", asdict(fit(_take(rows, np.flatnonzero(m)), cal.best)))
    sims = hindcast(cal, rows)
    qt = hindcast_table(rows, sims, quarters(rows), ["Q1", "Q2", "Q3", "Q4"])
    names = [f"{a + 1}-{b}" for a, b in zip(SIZE_BINS[:-2], SIZE_BINS[1:-1], strict=True)]
    st = hindcast_table(rows, sims, size_bins(rows), [*names, f"{SIZE_BINS[-2] + 1}+"])
    print(json.dumps({"quarters": qt, "sizes": st}, indent=1))
    plot(qt, st, Path("docs") / "raid-calibration.png")


if __name__ == "__main__":  # pragma: no cover
    main()
