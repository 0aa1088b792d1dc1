"""Benchmark: fusing 1,000,000 observations into incidents, against scikit-learn and st_dbscan.

Data (seeded): reports clustered along a 1,200 km line of contact over 30 days. 80% belong to
true events of about 10 reports each, every report off by 0.5-3 km and a few minutes
(normal, 3 min); 20% are noise spread along the line. Parameters: eps_m = 3 km (the reports'
error), eps_s = 10 min, min_samples = 1.

Why min_samples = 1: it is fusion's default; incidents are then exactly the connected
components of the link graph, the same partition as min_samples = 2 with noise made into
single-report incidents. The exact reference is scikit-learn's ``DBSCAN(metric="precomputed")``
on the exact neighbour graph (a k-d tree box query over (x/eps_m, y/eps_m, t/eps_s), which
contains every cylinder, filtered by the cylinder test), so the ARI checks our labels against
exact spatio-temporal DBSCAN. The same check is made at min_samples = 3 (``ari_min_samples_3``),
where border points reachable from two clusters exercise the tie rule.

Peers on the same data and parameters:
- ``sklearn.DBSCAN`` on (x, y, t * eps_m / eps_s) with a k-d tree, n_jobs=2: what most users do
  (timed; its ellipsoid neighbourhood differs from the cylinder, so ``peer_ari`` is below 1);
- ``st_dbscan`` 0.2.3 (exact cylinder; memory grows with N^2, so at 100,000 only).

Run: ``python benchmarks/bench_fusion.py [n]``. The last line is one JSON object.
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import numpy as np
from scipy.sparse import coo_matrix
from scipy.spatial import cKDTree
from sklearn.cluster import DBSCAN
from sklearn.metrics import adjusted_rand_score

from truceguard.judge.fusion import FusionParams, Points, canonical_labels, cluster_labels

EPS_M = 3000.0
EPS_S = 600.0


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


def exact_reference(x: np.ndarray, y: np.ndarray, t: np.ndarray, min_samples: int) -> np.ndarray:
    """Exact ST-DBSCAN: sklearn DBSCAN on the precomputed exact neighbour graph."""
    n = x.shape[0]
    tree = cKDTree(np.column_stack([x / EPS_M, y / EPS_M, (t - t.min()) / EPS_S]))
    pairs = tree.query_pairs(1.0 + 1e-9, p=np.inf, output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    dx, dy = x[j] - x[i], y[j] - y[i]
    ok = (dx * dx + dy * dy <= EPS_M * EPS_M) & (np.abs(t[j] - t[i]) <= EPS_S)
    i, j = i[ok], j[ok]
    half = np.full(i.shape[0], 0.5)
    graph = coo_matrix(
        (np.concatenate([half, half]), (np.concatenate([i, j]), np.concatenate([j, i]))),
        shape=(n, n),
    ).tocsr()
    lab = DBSCAN(eps=1.0, min_samples=min_samples, metric="precomputed").fit_predict(graph)
    return _noise_as_singletons(lab)


def _noise_as_singletons(lab: np.ndarray) -> np.ndarray:
    lab = np.asarray(lab).copy()
    noise = lab < 0
    lab[noise] = lab.max() + 1 + np.arange(int(noise.sum()))
    return canonical_labels(lab)


def time_ours(p: Points, params: FusionParams, repeats: int) -> tuple[float, np.ndarray]:
    runs = []
    labels = np.empty(0, np.int64)
    for _ in range(repeats):
        start = time.perf_counter()
        labels = cluster_labels(p, params)
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), labels


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    x, y, t = synthetic(n)
    p = Points.of(x, y, t)
    params = FusionParams(eps_m=EPS_M, eps_s=EPS_S, min_samples=1)
    cluster_labels(p.take(np.arange(min(n, 10_000))), params)  # warm up imports

    ours_s, ours = time_ours(p, params, repeats=5)
    print(f"ours: {ours_s:.3f} s, {ours.max() + 1} incidents from {n} observations")

    scaled = np.column_stack([x, y, (t - t.min()) * (EPS_M / EPS_S)])
    start = time.perf_counter()
    peer = DBSCAN(eps=EPS_M, min_samples=1, algorithm="kd_tree", n_jobs=2).fit_predict(scaled)
    peer_s = time.perf_counter() - start
    print(f"sklearn.DBSCAN (scaled x, y, t; kd_tree; n_jobs=2): {peer_s:.3f} s")

    exact = exact_reference(x, y, t, 1)
    ari = adjusted_rand_score(exact, ours)
    identical = bool(np.array_equal(exact, ours))
    peer_ari = adjusted_rand_score(exact, _noise_as_singletons(peer))
    print(
        f"ARI vs exact: ours {ari:.6f} (identical partition: {identical}), sklearn {peer_ari:.4f}"
    )

    params3 = FusionParams(eps_m=EPS_M, eps_s=EPS_S, min_samples=3)
    ours3_s, ours3 = time_ours(p, params3, repeats=3)
    ari3 = adjusted_rand_score(exact_reference(x, y, t, 3), ours3)
    print(f"min_samples=3: ours {ours3_s:.3f} s, ARI vs exact {ari3:.6f}")

    # st_dbscan at 100,000 (its memory grows with N^2; 1,000,000 does not fit).
    m = min(n, 100_000)
    sub = Points.of(x[:m], y[:m], t[:m])
    ours_100k_s, ours_100k = time_ours(sub, params, repeats=5)
    st_s = st_ari = None
    try:
        from st_dbscan import ST_DBSCAN

        start = time.perf_counter()
        st = ST_DBSCAN(eps1=EPS_M, eps2=EPS_S, min_samples=1, n_jobs=2)
        st.fit(np.column_stack([t[:m] - t.min(), x[:m], y[:m]]))
        st_s = time.perf_counter() - start
        st_ari = adjusted_rand_score(_noise_as_singletons(st.labels), ours_100k)
        print(f"st_dbscan at {m}: {st_s:.3f} s (ours {ours_100k_s:.3f} s), ARI {st_ari:.6f}")
    except ImportError:
        print("st_dbscan is not installed: see benchmarks/bench_fusion.py docstring")

    result = {
        "benchmark": "fusion",
        "n": n,
        "eps_m": EPS_M,
        "eps_s": EPS_S,
        "min_samples": 1,
        "incidents": int(ours.max() + 1),
        "ours_s": round(ours_s, 4),
        "peer": "sklearn.DBSCAN",
        "peer_s": round(peer_s, 4),
        "ratio": round(peer_s / ours_s, 2),
        "ari": round(float(ari), 6),
        "identical_partition": identical,
        "peer_ari": round(float(peer_ari), 4),
        "ours_min_samples_3_s": round(ours3_s, 4),
        "ari_min_samples_3": round(float(ari3), 6),
        "st_dbscan_n": m,
        "st_dbscan_s": None if st_s is None else round(st_s, 4),
        "ours_st_dbscan_n_s": round(ours_100k_s, 4),
        "st_dbscan_ratio": None if st_s is None else round(st_s / ours_100k_s, 2),
        "st_dbscan_ari": None if st_ari is None else round(float(st_ari), 6),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
