"""Side + distance + zone for 1,000,000 incidents against geneva-2025: truceguard against
geopandas ``sjoin`` on buffered zone polygons plus ``shapely.distance``; then the location
probabilities (side and every zone under each position's uncertainty) against the Monte Carlo
a GIS user would run with the same geopandas classification.

Both start from WGS84 lon/lat arrays and work in the terms' own transverse Mercator. Ours is
``truceguard.judge.adjudicate.place`` (pyproj, a prepared ``contains_xy`` for the side and an
exact point-to-segment distance over a grid of candidate segments). The peer is what a GIS
user would write: a GeoDataFrame of points reprojected with ``to_crs``, ``sjoin`` against the
zone rings (each zone's band on each side, cut from buffers of the line) and the side polygon,
and ``shapely.distance`` to the line. Building the indexes (ours) and the buffered rings (the
peer) happens once per terms and is timed separately (``*_build_s``); the ratio compares the
per-batch work.

Incidents are seeded: 80% near the line (a random point of the line moved a normally
distributed 20 km in a random direction), 20% anywhere in eastern and southern Ukraine.
Distances must agree to 1 m; zones may differ only where the peer's polygonal buffer
(``quad_segs``) cuts a corner of the true band.

Location probabilities: the first ``--n-located`` incidents get a 95% radius drawn with the
frequencies of the shipped UCDP events' ``where_prec`` codes (their radii as
``truceguard.io.ucdp`` reads them: about a quarter 1 km, half 25 km, a sixth 150 km), and
``truceguard.judge.location.locate`` is timed on them. The ratio compares both ways on the
same ``--n-mc`` incidents: ours against the peer's Monte Carlo with ``--draws`` positions per
incident (2,500 draws: a standard error of at most 0.01), classified by the same ``sjoin``.
The probabilities must agree within the Monte Carlo's own noise (5 standard errors).
The last line printed is one JSON object.

    python benchmarks/bench_adjudicate.py [--n 1000000] [--n-located 100000] [--n-mc 200]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import shapely

from truceguard.geo.shipped import data_path
from truceguard.io.ucdp import WHERE_PREC_M
from truceguard.judge.adjudicate import place, terms_geometry
from truceguard.judge.location import SIGMA_PER_R95, locate
from truceguard.judge.terms import load_terms

TERMS = "geneva-2025"
UCDP = ("events", "ucdp_ged_ukraine_2014-01-22_2022-02-23.csv")


def incidents(terms, n: int, seed: int = 20260822) -> tuple[np.ndarray, np.ndarray]:
    """Seeded incident positions (lon, lat): mostly near the line, some deep."""
    rng = np.random.default_rng(seed)
    proj = terms.projection
    line = proj.project_geometry(terms.line)
    n_near = int(n * 0.8)
    on = shapely.line_interpolate_point(line, rng.uniform(0, line.length, n_near))
    r = rng.normal(0.0, 20_000.0, n_near)
    a = rng.uniform(0, 2 * np.pi, n_near)
    x = shapely.get_x(on) + r * np.cos(a)
    y = shapely.get_y(on) + r * np.sin(a)
    lon_n, lat_n = proj.inverse(x, y)
    lon_f = rng.uniform(30.0, 40.2, n - n_near)
    lat_f = rng.uniform(45.0, 52.0, n - n_near)
    return np.concatenate([lon_n, lon_f]), np.concatenate([lat_n, lat_f])


def peer_rings(terms, quad_segs: int = 16):
    """The zone bands as polygons: (side, zone index, polygon) plus the side polygon."""
    import geopandas as gpd

    proj = terms.projection
    line = proj.project_geometry(terms.line)
    side1 = proj.project_geometry(terms.side_polygon)
    rows = []
    for s in (0, 1):
        depth = [z.distance_m[s] for z in terms.zones]
        order = np.argsort(depth, kind="stable")
        inner = None
        for z in order:
            band = shapely.buffer(line, depth[z], quad_segs=quad_segs)
            ring = band if inner is None else shapely.difference(band, inner)
            ring = shapely.intersection(ring, side1) if s == 1 else shapely.difference(ring, side1)
            rows.append({"kind": "zone", "side": s, "zone": int(z), "geometry": ring})
            inner = band
    rows.append({"kind": "side", "side": 1, "zone": -1, "geometry": side1})
    return gpd.GeoDataFrame(rows, crs=proj.crs), line


def ucdp_radii(n: int, seed: int = 2015) -> np.ndarray:
    """95% radii drawn with the frequencies of the shipped UCDP events' where_prec codes."""
    import csv

    with open(data_path(*UCDP), encoding="utf-8", newline="") as fh:
        codes = [int(r["where_prec"]) for r in csv.DictReader(fh)]
    values, counts = np.unique(codes, return_counts=True)
    radius = np.array([WHERE_PREC_M[int(v)] for v in values])
    return np.random.default_rng(seed).choice(radius, size=n, p=counts / counts.sum())


def peer_classify(frame, lon, lat):
    """(side, zone) of points the GeoPandas way (see run_peer)."""
    import geopandas as gpd

    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs(frame.crs)
    joined = gpd.sjoin(frame, pts, how="inner", predicate="contains")
    side = np.zeros(len(pts), np.int8)
    zone = np.full(len(pts), -1, np.int16)
    point = joined["index_right"].to_numpy()
    is_side = (joined["kind"] == "side").to_numpy()
    side[point[is_side]] = 1
    zone[point[~is_side]] = joined["zone"].to_numpy()[~is_side]
    return side, zone


def peer_monte_carlo(terms, frame, lon, lat, r95, draws: int, seed: int = 1):
    """P(side 1) and P(zone z) per incident from ``draws`` positions each, the peer's way."""
    rng = np.random.default_rng(seed)
    proj = terms.projection
    x, y = proj.forward(lon, lat)
    s = (r95 * SIGMA_PER_R95)[:, None]
    px = (x[:, None] + s * rng.standard_normal((x.size, draws))).ravel()
    py = (y[:, None] + s * rng.standard_normal((x.size, draws))).ravel()
    plon, plat = proj.inverse(px, py)
    side, zone = peer_classify(frame, plon, plat)
    depth = np.array([[z.distance_m[k] for z in terms.zones] for k in (0, 1)])
    inner = np.where(zone >= 0, depth[side, np.maximum(zone, 0)], np.inf)
    in_zone = inner[:, None] <= depth[side].reshape(-1, depth.shape[1])
    return (side.reshape(x.size, draws).mean(axis=1),
            in_zone.reshape(x.size, draws, -1).mean(axis=1))  # fmt: skip


def run_peer(terms, frame, line, lon, lat):
    """(side, zone, distance, seconds in sjoin, seconds in distance) the GeoPandas way."""
    import geopandas as gpd

    t = time.perf_counter()
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326").to_crs(frame.crs)
    # The zones query a tree built on the points: the faster way round for a few large
    # polygons and many points.
    joined = gpd.sjoin(frame, pts, how="inner", predicate="contains")
    n = len(pts)
    side = np.zeros(n, np.int8)
    zone = np.full(n, -1, np.int16)
    point = joined["index_right"].to_numpy()
    is_side = (joined["kind"] == "side").to_numpy()
    side[point[is_side]] = 1
    zone[point[~is_side]] = joined["zone"].to_numpy()[~is_side]
    t_join = time.perf_counter() - t
    t = time.perf_counter()
    dist = shapely.distance(pts.geometry.values, line)
    return side, zone, np.asarray(dist), t_join, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--n-located", type=int, default=100_000)
    ap.add_argument("--n-mc", type=int, default=200)
    ap.add_argument("--draws", type=int, default=2_500)
    args = ap.parse_args()
    terms = load_terms(TERMS)
    lon, lat = incidents(terms, args.n)

    t = time.perf_counter()
    terms_geometry(terms)
    ours_build = time.perf_counter() - t
    t = time.perf_counter()
    ours = place(terms, lon, lat)
    ours_s = time.perf_counter() - t

    t = time.perf_counter()
    frame, line = peer_rings(terms)
    peer_build = time.perf_counter() - t
    t = time.perf_counter()
    p_side, p_zone, p_dist, join_s, dist_s = run_peer(terms, frame, line, lon, lat)
    peer_s = time.perf_counter() - t

    err = float(np.abs(np.abs(ours.signed_m) - p_dist).max())
    side_agree = float((ours.side == p_side).mean())
    zone_agree = float((ours.zone == p_zone).mean())
    print(f"ours: {ours_s:.3f} s (+ {ours_build:.2f} s index build, once per terms)")
    print(
        f"peer: {peer_s:.3f} s (to_crs + sjoin {join_s:.2f} s, distance {dist_s:.2f} s; "
        f"+ {peer_build:.2f} s buffering, once per terms)"
    )
    print(
        f"side agreement {side_agree:.6f}, zone agreement {zone_agree:.6f}, "
        f"max distance difference {err:.2e} m"
    )
    assert err < 1.0, err

    # Location probabilities under each position's uncertainty.
    n_loc = min(args.n_located, args.n)
    r95 = ucdp_radii(n_loc)
    t = time.perf_counter()
    _ = terms_geometry(terms).boundary  # the side polygon's boundary index, once per terms
    loc_build = time.perf_counter() - t
    t = time.perf_counter()
    _, probs = locate(terms, lon[:n_loc], lat[:n_loc], r95)
    loc_s = time.perf_counter() - t
    # Ours against the peer's Monte Carlo on the same incidents (spread along the sample).
    pick = np.linspace(0, n_loc - 1, min(args.n_mc, n_loc)).astype(np.int64)
    t = time.perf_counter()
    _, mine = locate(terms, lon[pick], lat[pick], r95[pick])
    mc_ours_s = time.perf_counter() - t
    t = time.perf_counter()
    mc_side, mc_zone = peer_monte_carlo(terms, frame, lon[pick], lat[pick], r95[pick], args.draws)
    mc_peer_s = time.perf_counter() - t
    diff = max(float(np.abs(mine.p_side1 - mc_side).max()),
               float(np.abs(mine.p_zone - mc_zone).max()))  # fmt: skip
    noise = 5 * 0.5 / np.sqrt(args.draws)
    print(f"locate: {loc_s:.3f} s for {n_loc:,} incidents ({loc_s / n_loc * 1e6:.1f} us each; "
          f"{probs.certain.mean():.1%} certain; + {loc_build:.2f} s boundary index)")
    print(f"on {pick.size} incidents: ours {mc_ours_s:.3f} s, peer Monte Carlo "
          f"({args.draws} draws each) {mc_peer_s:.2f} s; largest difference {diff:.4f} "
          f"(Monte Carlo noise bound {noise:.4f})")
    assert diff < noise, diff
    print(
        json.dumps(
            {
                "benchmark": "adjudicate",
                "n": args.n,
                "ours_s": round(ours_s, 4),
                "peer": "geopandas.sjoin+shapely.distance",
                "peer_s": round(peer_s, 4),
                "ratio": round(peer_s / ours_s, 2),
                "located_n": n_loc,
                "located_s": round(loc_s, 3),
                "located_certain_share": round(float(probs.certain.mean()), 4),
                "located_build_s": round(loc_build, 3),
                "p_location_n": int(pick.size),
                "p_location_draws": args.draws,
                "p_location_ours_s": round(mc_ours_s, 4),
                "p_location_peer": "Monte Carlo with geopandas.sjoin",
                "p_location_peer_s": round(mc_peer_s, 3),
                "p_location_ratio": round(mc_peer_s / mc_ours_s, 1),
                "p_location_max_difference": round(diff, 4),
                "max_distance_error_m": err,
                "side_agreement": side_agree,
                "zone_agreement": zone_agree,
                "ours_build_s": round(ours_build, 3),
                "peer_build_s": round(peer_build, 3),
                "peer_sjoin_s": round(join_s, 3),
                "peer_distance_s": round(dist_s, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
