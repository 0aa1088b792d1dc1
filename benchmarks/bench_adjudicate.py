"""Side + distance + zone for 1,000,000 incidents against geneva-2025: truceguard against
geopandas ``sjoin`` on buffered zone polygons plus ``shapely.distance``.

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
(``quad_segs``) cuts a corner of the true band. The last line printed is one JSON object.

    python benchmarks/bench_adjudicate.py [--n 1000000]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import shapely

from truceguard.judge.adjudicate import place, terms_geometry
from truceguard.judge.terms import load_terms

TERMS = "geneva-2025"


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
    print(
        json.dumps(
            {
                "benchmark": "adjudicate",
                "n": args.n,
                "ours_s": round(ours_s, 4),
                "peer": "geopandas.sjoin+shapely.distance",
                "peer_s": round(peer_s, 4),
                "ratio": round(peer_s / ours_s, 2),
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
