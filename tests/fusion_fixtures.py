"""What the fusion tests share: the shipped UCDP events as fusion arrays, the brute-force
neighbour graph and exact DBSCAN as references, and Hypothesis strategies for point sets."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import numpy as np
from hypothesis import strategies as st
from sklearn.cluster import DBSCAN

from truceguard.geo.shipped import data_path
from truceguard.judge.fusion import FusionParams, Points, canonical_labels, points_from_lonlat

UCDP = data_path("events", "ucdp_ged_ukraine_2014-01-22_2022-02-23.csv")
# UCDP where_prec -> a radius in metres (1 exact place ... 4 a whole oblast).
WHERE_PREC_M = {"1": 1000.0, "2": 25000.0, "3": 50000.0, "4": 150000.0}


def epoch(day: str) -> float:
    return datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()


def ucdp_arrays() -> dict[str, np.ndarray]:
    with open(UCDP, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {
        "lat": np.array([float(r["latitude"]) for r in rows]),
        "lon": np.array([float(r["longitude"]) for r in rows]),
        "t_start": np.array([epoch(r["date_start"]) for r in rows]),
        "t_end": np.array([epoch(r["date_end"]) + 86399 for r in rows]),
        "uncertainty_m": np.array([WHERE_PREC_M.get(r["where_prec"], np.nan) for r in rows]),
        "source": np.array(["UCDP GED"] * len(rows)),
        "origin": np.array([r["source_office"].split(";")[0] for r in rows]),
        "category": np.array(["armed_clash"] * len(rows)),
        "weapon_class": np.array(["unknown"] * len(rows)),
        "how_known": np.array(["open_source"] * len(rows)),
        "sources": np.array([int(r["number_of_sources"] or 0) for r in rows]),
    }


def as_points(ev: dict[str, np.ndarray]) -> Points:
    return points_from_lonlat(ev["lon"], ev["lat"], ev["t_start"], ev["t_end"], ev["uncertainty_m"])


def brute_links(p: Points, prm: FusionParams) -> tuple[np.ndarray, np.ndarray]:
    """Every pair checked one by one against the documented formula."""
    n = len(p)
    i, j = np.triu_indices(n, k=1)
    w = np.where(
        np.isnan(p.uncertainty_m), 0.0, np.minimum(p.uncertainty_m, prm.max_link_uncertainty_m)
    )
    w = np.nan_to_num(w)
    dx = p.x[j] - p.x[i]
    dy = p.y[j] - p.y[i]
    r = prm.eps_m + w[i] + w[j]
    gap = np.maximum(p.t_start[j] - p.t_end[i], p.t_start[i] - p.t_end[j])
    ok = (dx * dx + dy * dy <= r * r) & (gap <= prm.eps_s)
    return i[ok], j[ok]


def reference_labels(p: Points, prm: FusionParams) -> np.ndarray:
    """scikit-learn's exact DBSCAN on the brute-force neighbour graph, noise as singletons."""
    n = len(p)
    i, j = brute_links(p, prm)
    dist = np.full((n, n), 2.0)
    np.fill_diagonal(dist, 0.0)
    dist[i, j] = dist[j, i] = 0.0
    lab = DBSCAN(eps=1.0, min_samples=prm.min_samples, metric="precomputed").fit_predict(dist)
    noise = lab < 0
    lab[noise] = lab.max() + 1 + np.arange(noise.sum())
    return canonical_labels(lab)


coords = st.floats(0, 20_000, allow_nan=False)
DAY = 86_400.0


@st.composite
def point_sets(draw: st.DrawFn) -> tuple[Points, FusionParams]:
    n = draw(st.integers(1, 60))
    grid = draw(st.booleans())  # integer grids hit exact ties and cell edges
    x = np.array(draw(st.lists(coords, min_size=n, max_size=n)))
    y = np.array(draw(st.lists(coords, min_size=n, max_size=n)))
    t = np.array(draw(st.lists(st.floats(0, 20_000), min_size=n, max_size=n)))
    if grid:
        x, y, t = np.round(x / 1000) * 1000, np.round(y / 1000) * 1000, np.round(t / 600) * 600
    dur = np.array(
        draw(st.lists(st.sampled_from([0.0, 0.0, 300.0, 5000.0]), min_size=n, max_size=n))
    )
    unc = np.array(
        draw(st.lists(st.sampled_from([np.nan, 0.0, 500.0, 2000.0, 1e6]), min_size=n, max_size=n))
    )
    prm = FusionParams(
        eps_m=draw(st.sampled_from([0.0, 1000.0, 2500.0, 5000.0])),
        eps_s=draw(st.sampled_from([0.0, 600.0, 1800.0])),
        min_samples=draw(st.integers(1, 5)),
        max_link_uncertainty_m=draw(st.sampled_from([0.0, 1500.0])),
    )
    return Points.of(x, y, t, t + dur, unc), prm


@st.composite
def coarse_sets(draw: st.DrawFn) -> tuple[Points, FusionParams]:
    """Reports at a few shared places and days (centroids), some jittered, mixed windows."""
    n = draw(st.integers(1, 80))
    k = draw(st.integers(1, 4))
    places = np.array(draw(st.lists(st.integers(0, 8), min_size=2 * k, max_size=2 * k)))
    places = places.reshape(k, 2) * 1000.0
    which = np.array(draw(st.lists(st.integers(0, k - 1), min_size=n, max_size=n)))
    jitter = np.array(draw(st.lists(st.sampled_from([0.0, 0.0, 0.0, 150.0, 1400.0]),
                                    min_size=n, max_size=n)))
    x = places[which, 0] + jitter
    y = places[which, 1] - jitter / 2
    day = np.array(draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)))
    hour = np.array(draw(st.lists(st.sampled_from([0.0, 0.0, 1800.0, 3600.0, 5400.0]),
                                  min_size=n, max_size=n)))
    t = day * DAY + hour
    dur = np.array(draw(st.lists(st.sampled_from([0.0, DAY - 1, DAY - 1, 3 * DAY]),
                                 min_size=n, max_size=n)))
    unc = np.array(draw(st.lists(st.sampled_from([np.nan, 0.0, 500.0, 25_000.0]),
                                 min_size=n, max_size=n)))
    prm = FusionParams(
        eps_m=draw(st.sampled_from([0.0, 1000.0, 2500.0, 5000.0])),
        eps_s=draw(st.sampled_from([0.0, 600.0, 3600.0, 7200.0])),
        min_samples=draw(st.integers(1, 5)),
        max_link_uncertainty_m=draw(st.sampled_from([0.0, 1500.0])),
    )
    return Points.of(x, y, t, t + dur, unc), prm
