"""Benchmark: fusing 1,000,000 observations into incidents, spread and dense, against scikit-learn.

Two cases, each on seeded data:

- **spread**: reports clustered along a 1,200 km line of contact over 30 days. 80% belong to
  true events of about 10 reports each, every report off by 0.5-3 km and a few minutes
  (normal, 3 min); 20% are noise spread along the line. eps_m = 3 km, eps_s = 10 min,
  min_samples = 1.
- **dense**: what UCDP and ACLED look like: every report at one of 2,000 coarse locations
  (district or province centroids) along the same line, on an integer day over 8 years
  (2014-2021), its window a whole day (78%) or 2, 3, 7, 30 or 365 days, as UCDP's
  date_start/date_end give them, and its position uncertainty that of its location (25 km
  for 70% of locations, 50 km for 10%, 150 km for 20%: UCDP where_prec 2, 3 and 4).
  Locations are drawn with Zipf weights (1/rank): the busiest holds 12% of the reports, as
  the Donetsk oblast centroid (where_prec 4) holds 11% of the shipped UCDP extract.
  Parameters: the ``fuse`` defaults (eps_m = 3 km, eps_s = 1 h, max_link_uncertainty_m =
  5 km, min_samples = 1).
  Day windows 1 s apart link, so a busy centroid chains into long incidents: the case that
  made fusion enumerate hundreds of millions of pairs.

Why min_samples = 1: it is fusion's default; incidents are then exactly the connected
components of the link graph. The same exactness checks run at min_samples = 3
(``ari_min_samples_3``), where border points reachable from two clusters exercise the tie rule.

Exact references, never our own code:
- spread: scikit-learn ``DBSCAN(metric="precomputed")`` on the exact neighbour graph (a k-d tree
  box query over (x/eps_m, y/eps_m, t/eps_s), which contains every cylinder, filtered by the
  cylinder test);
- dense: the same DBSCAN on the distinct rows, each weighted by how often it occurs
  (``sample_weight``; identical rows link each other and share their neighbours), with the
  neighbour graph from a join of location pairs within reach (a k-d tree over the 2,000
  locations) and, per pair, of the windows within eps_s (binary search), filtered by the link
  test. Noise copies become one incident each, as fusion makes them.

Peer, on the same data and parameters: ``sklearn.DBSCAN`` on (x, y, t * eps_m / eps_s) with a
k-d tree, n_jobs=2, what most users do; its ellipsoid neighbourhood ignores windows and
uncertainty, so ``peer_ari`` is below 1. ``st_dbscan`` 0.2.3 (exact cylinder, memory growing
with N^2) runs at 100,000 spread points when installed.

Each side runs in its own process, which imports what it needs, generates the data, then runs
the operation; peak memory is that process's peak resident set (VmHWM), and
``*_base_rss_mb`` its peak before the operation started (interpreter, libraries and data).
The dense case also times fusion with two of seven feeds marked curated (``dense_curated_s``;
no peer does that).

Run: ``python benchmarks/bench_fusion.py [n] [--case spread|dense|both]``. The last line is one
JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from truceguard.judge.fusion import FusionParams, Points, canonical_labels, cluster_labels

SPREAD = FusionParams(eps_m=3000.0, eps_s=600.0, min_samples=1)
DENSE = FusionParams(eps_m=3000.0, eps_s=3600.0, min_samples=1, max_link_uncertainty_m=5000.0)
DAY = 86_400.0


def synthetic(n: int, seed: int = 20150215) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y (metres) and t (epoch seconds) of n reports along a 1,200 km line, shuffled."""
    rng = np.random.default_rng(seed)
    length, days = 1.2e6, 30
    n_events_obs = int(n * 0.8)
    n_events = max(n_events_obs // 10, 1)
    ev_s = rng.uniform(0, length, n_events)  # along the line
    ev_off = rng.normal(0, 3000, n_events)  # across it
    ev_t = rng.uniform(0, days * 86400, n_events)
    which = rng.integers(0, n_events, n_events_obs)
    err = rng.uniform(500, 3000, n_events_obs)
    ang = rng.uniform(0, 2 * np.pi, n_events_obs)
    n_noise = n - n_events_obs
    s = np.concatenate([ev_s[which], rng.uniform(0, length, n_noise)])
    off = np.concatenate([ev_off[which], rng.normal(0, 8000, n_noise)])
    t = np.concatenate(
        [ev_t[which] + rng.normal(0, 180, n_events_obs), rng.uniform(0, days * 86400, n_noise)]
    )
    ex = np.concatenate([err * np.cos(ang), np.zeros(n_noise)])
    ey = np.concatenate([err * np.sin(ang), np.zeros(n_noise)])
    x = s + ex
    y = 40_000 * np.sin(s / 200_000) + off + ey  # a winding line
    perm = rng.permutation(n)
    t0 = 1_420_070_400.0  # 2015-01-01
    return x[perm], y[perm], np.round(t[perm]) + t0


def dense_synthetic(n: int, n_locations: int = 2000, seed: int = 20220224) -> Points:
    """n reports at coarse locations, on whole days over 8 years (see the module docstring)."""
    rng = np.random.default_rng(seed)
    s = rng.uniform(0, 1.2e6, n_locations)
    lx = s
    ly = 40_000 * np.sin(s / 200_000) + rng.normal(0, 40_000, n_locations)
    radius = rng.choice([25_000.0, 50_000.0, 150_000.0], n_locations, p=[0.7, 0.1, 0.2])
    weight = 1.0 / np.arange(1, n_locations + 1)
    loc = rng.choice(n_locations, n, p=weight / weight.sum())
    day = rng.integers(0, 2922, n)
    days = rng.choice([1, 2, 3, 7, 30, 365], n, p=[0.78, 0.12, 0.02, 0.035, 0.035, 0.01])
    t0 = 1_388_534_400.0 + day * DAY  # 2014-01-01
    return Points.of(lx[loc], ly[loc], t0, t0 + days * DAY - 1, radius[loc])


def case_points(case: str, n: int) -> Points:
    if case == "spread":
        x, y, t = synthetic(n)
        return Points.of(x, y, t)
    return dense_synthetic(n)


# --------------------------------------------------------------------------------------------
# Exact references
# --------------------------------------------------------------------------------------------


def _noise_as_singletons(lab: np.ndarray) -> np.ndarray:
    lab = np.asarray(lab).copy()
    noise = lab < 0
    lab[noise] = lab.max() + 1 + np.arange(int(noise.sum()))
    return canonical_labels(lab)


def _dbscan_on_graph(
    n: int, i: np.ndarray, j: np.ndarray, min_samples: int, weight: np.ndarray | None = None
) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from sklearn.cluster import DBSCAN

    half = np.full(i.shape[0], 0.5)
    graph = coo_matrix(
        (np.concatenate([half, half]), (np.concatenate([i, j]), np.concatenate([j, i]))),
        shape=(n, n),
    ).tocsr()
    return DBSCAN(eps=1.0, min_samples=min_samples, metric="precomputed").fit_predict(
        graph, sample_weight=weight
    )


def spread_reference(p: Points, min_samples: int) -> np.ndarray:
    """Exact ST-DBSCAN: sklearn DBSCAN on the precomputed exact neighbour graph."""
    from scipy.spatial import cKDTree

    x, y, t = p.x, p.y, p.t_start
    eps_m, eps_s = SPREAD.eps_m, SPREAD.eps_s
    tree = cKDTree(np.column_stack([x / eps_m, y / eps_m, (t - t.min()) / eps_s]))
    pairs = tree.query_pairs(1.0 + 1e-9, p=np.inf, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    dx, dy = x[j] - x[i], y[j] - y[i]
    ok = (dx * dx + dy * dy <= eps_m * eps_m) & (np.abs(t[j] - t[i]) <= eps_s)
    return _noise_as_singletons(_dbscan_on_graph(len(p), i[ok], j[ok], min_samples))


def dense_reference(p: Points, min_samples: int) -> np.ndarray:
    """Exact DBSCAN over distinct rows (weighted), from a join of locations and windows."""
    from scipy.spatial import cKDTree

    prm = DENSE
    rows = np.column_stack([p.x, p.y, p.t_start, p.t_end, p.uncertainty_m])
    _, first, inverse, counts = np.unique(
        rows, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    by_first = np.argsort(first)
    rank = np.empty_like(by_first)
    rank[by_first] = np.arange(by_first.shape[0])
    u = p.take(first[by_first])
    weight = counts[by_first]
    w = np.minimum(u.uncertainty_m, prm.max_link_uncertainty_m)
    # Rows grouped by location, by start within each.
    locs, loc = np.unique(np.column_stack([u.x, u.y]), axis=0, return_inverse=True)
    loc = loc.reshape(-1)
    order = np.lexsort((u.t_start, loc))
    start = np.searchsorted(loc[order], np.arange(locs.shape[0] + 1))
    t0s = u.t_start[order]
    longest = np.maximum.reduceat((u.t_end - u.t_start)[order], start[:-1])
    reach = prm.eps_m + 2 * prm.max_link_uncertainty_m
    tree = cKDTree(locs)
    lp = tree.query_pairs(reach * (1 + 1e-9), output_type="ndarray")
    lp = np.concatenate([lp, np.repeat(np.arange(locs.shape[0])[:, None], 2, axis=1)])
    ii_all, jj_all = [], []
    for a, b in lp.tolist():  # one step per pair of locations, a few thousand
        ia = order[start[a] : start[a + 1]]
        lo = start[b] + np.searchsorted(
            t0s[start[b] : start[b + 1]], u.t_start[ia] - prm.eps_s - longest[b], side="left"
        )
        hi = start[b] + np.searchsorted(
            t0s[start[b] : start[b + 1]], u.t_end[ia] + prm.eps_s, side="right"
        )
        cnt = hi - lo
        src = np.repeat(ia, cnt)
        # lo .. hi-1 for every row, in one array
        jj = order[np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt - lo, cnt)]
        keep = src < jj if a == b else np.ones(src.shape[0], dtype=bool)
        src, jj = src[keep], jj[keep]
        dx, dy = u.x[jj] - u.x[src], u.y[jj] - u.y[src]
        r = prm.eps_m + w[src] + w[jj]
        gap = np.maximum(u.t_start[jj] - u.t_end[src], u.t_start[src] - u.t_end[jj])
        ok = (dx * dx + dy * dy <= r * r) & (gap <= prm.eps_s)
        ii_all.append(src[ok])
        jj_all.append(jj[ok])
    i, j = np.concatenate(ii_all), np.concatenate(jj_all)
    lab = _dbscan_on_graph(len(u), i, j, min_samples, weight)
    full = lab[rank[inverse.reshape(-1)]]
    noise = full < 0  # noise is one incident per observation, copies included
    full[noise] = full.max() + 1 + np.arange(int(noise.sum()))
    return canonical_labels(full)


# --------------------------------------------------------------------------------------------
# One side in its own process
# --------------------------------------------------------------------------------------------


def _peak_mb() -> float:
    """This process's peak resident set (VmHWM: unlike ``ru_maxrss``, not inherited from the
    process that started it), in MiB."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def worker(side: str, case: str, n: int, out: Path) -> None:
    p = case_points(case, n)
    params = SPREAD if case == "spread" else DENSE
    if side == "ours":
        cluster_labels(p.take(np.arange(min(n, 10_000))), params)  # warm up imports
        base = _peak_mb()
        runs = []
        labels = np.empty(0, np.int64)
        for _ in range(5 if case == "spread" else 1):
            start = time.perf_counter()
            labels = cluster_labels(p, params)
            runs.append(time.perf_counter() - start)
        seconds = statistics.median(runs)
    else:
        from sklearn.cluster import DBSCAN

        scaled = np.column_stack(
            [p.x, p.y, (p.t_start - p.t_start.min()) * (params.eps_m / params.eps_s)]
        )
        base = _peak_mb()
        start = time.perf_counter()
        labels = DBSCAN(
            eps=params.eps_m, min_samples=1, algorithm="kd_tree", n_jobs=2
        ).fit_predict(scaled)
        seconds = time.perf_counter() - start
    np.save(out, labels)
    print(json.dumps({"seconds": seconds, "peak_rss_mb": _peak_mb(), "base_rss_mb": base}))


def run_side(side: str, case: str, n: int, tmp: Path) -> tuple[dict[str, float], np.ndarray]:
    out = tmp / f"{side}-{case}.npy"
    cmd = [sys.executable, __file__, str(n), "--worker", side, "--case", case, "--out", str(out)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1]), np.load(out)


def time_in_process(p: Points, params: FusionParams, repeats: int) -> tuple[float, np.ndarray]:
    runs = []
    labels = np.empty(0, np.int64)
    for _ in range(repeats):
        start = time.perf_counter()
        labels = cluster_labels(p, params)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), labels


def bench_case(case: str, n: int, tmp: Path) -> dict[str, object]:
    from sklearn.metrics import adjusted_rand_score

    ours, ours_labels = run_side("ours", case, n, tmp)
    peer, peer_labels = run_side("peer", case, n, tmp)
    print(
        f"{case}: ours {ours['seconds']:.3f} s, peak {ours['peak_rss_mb']:.0f} MB "
        f"(before {ours['base_rss_mb']:.0f}); sklearn.DBSCAN {peer['seconds']:.3f} s, "
        f"peak {peer['peak_rss_mb']:.0f} MB (before {peer['base_rss_mb']:.0f}); "
        f"{ours_labels.max() + 1} incidents from {n} observations"
    )
    p = case_points(case, n)
    reference = spread_reference if case == "spread" else dense_reference
    exact = reference(p, 1)
    ari = adjusted_rand_score(exact, ours_labels)
    identical = bool(np.array_equal(exact, ours_labels))
    peer_ari = adjusted_rand_score(exact, _noise_as_singletons(peer_labels))
    print(f"{case}: ARI vs exact: ours {ari:.6f} (identical: {identical}), sklearn {peer_ari:.4f}")
    params = SPREAD if case == "spread" else DENSE
    params3 = FusionParams(params.eps_m, params.eps_s, 3, params.max_link_uncertainty_m)
    ours3_s, ours3 = time_in_process(p, params3, 3 if case == "spread" else 1)
    ari3 = adjusted_rand_score(reference(p, 3), ours3)
    print(f"{case}: min_samples=3: ours {ours3_s:.3f} s, ARI vs exact {ari3:.6f}")
    out: dict[str, object] = {
        "incidents": int(ours_labels.max() + 1),
        "ours_s": round(ours["seconds"], 4),
        "peer_s": round(peer["seconds"], 4),
        "ratio": round(peer["seconds"] / ours["seconds"], 2),
        "ours_peak_rss_mb": round(ours["peak_rss_mb"]),
        "ours_base_rss_mb": round(ours["base_rss_mb"]),
        "peer_peak_rss_mb": round(peer["peak_rss_mb"]),
        "peer_base_rss_mb": round(peer["base_rss_mb"]),
        "ari": round(float(ari), 6),
        "identical_partition": identical,
        "peer_ari": round(float(peer_ari), 4),
        "ours_min_samples_3_s": round(ours3_s, 4),
        "ari_min_samples_3": round(float(ari3), 6),
    }
    if case == "dense":
        feed = np.random.default_rng(7).integers(0, 7, n)
        curated = np.where(feed < 2, feed, -1)  # two of seven feeds are UCDP- or ACLED-like
        start = time.perf_counter()
        lab = cluster_labels(p, params, curated_group=curated)
        out["curated_s"] = round(time.perf_counter() - start, 4)
        out["curated_incidents"] = int(lab.max() + 1)
        print(f"dense: with two curated feeds: {out['curated_s']} s, {lab.max() + 1} incidents")
    return out


def st_dbscan_check(n: int) -> dict[str, object]:
    """st_dbscan at 100,000 spread points (its memory grows with N^2)."""
    from sklearn.metrics import adjusted_rand_score

    m = min(n, 100_000)
    x, y, t = synthetic(n)
    sub = Points.of(x[:m], y[:m], t[:m])
    ours_s, ours = time_in_process(sub, SPREAD, 5)
    st_s = st_ari = None
    try:
        from st_dbscan import ST_DBSCAN

        start = time.perf_counter()
        st = ST_DBSCAN(eps1=SPREAD.eps_m, eps2=SPREAD.eps_s, min_samples=1, n_jobs=2)
        st.fit(np.column_stack([t[:m] - t.min(), x[:m], y[:m]]))
        st_s = time.perf_counter() - start
        st_ari = adjusted_rand_score(_noise_as_singletons(st.labels), ours)
        print(f"st_dbscan at {m}: {st_s:.3f} s (ours {ours_s:.3f} s), ARI {st_ari:.6f}")
    except ImportError:
        print("st_dbscan is not installed: see benchmarks/bench_fusion.py docstring")
    return {
        "st_dbscan_n": m,
        "st_dbscan_s": None if st_s is None else round(st_s, 4),
        "ours_st_dbscan_n_s": round(ours_s, 4),
        "st_dbscan_ratio": None if st_s is None else round(st_s / ours_s, 2),
        "st_dbscan_ari": None if st_ari is None else round(float(st_ari), 6),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=1_000_000)
    ap.add_argument("--case", choices=["spread", "dense", "both"], default="both")
    ap.add_argument("--worker", choices=["ours", "peer"], help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.case, args.n, args.out)
        return
    result: dict[str, object] = {"benchmark": "fusion", "n": args.n}
    with tempfile.TemporaryDirectory() as tmp:
        if args.case in ("spread", "both"):
            result.update(
                {"eps_m": SPREAD.eps_m, "eps_s": SPREAD.eps_s, "min_samples": 1,
                 "peer": "sklearn.DBSCAN"}
            )
            result.update(bench_case("spread", args.n, Path(tmp)))
            result.update(st_dbscan_check(args.n))
        if args.case in ("dense", "both"):
            dense = bench_case("dense", args.n, Path(tmp))
            result.update({f"dense_{k}": v for k, v in dense.items()})
    print(json.dumps(result))


if __name__ == "__main__":
    main()
