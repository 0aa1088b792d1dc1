"""Synthetic inputs shaped like real ones, for benchmarks and load tests (never for results).

``write_ucdp_like(path, n, seed)`` writes ``n`` rows with the 49 columns of UCDP GED, events
scattered along the Minsk-era front with realistic precision codes, dates and text lengths.
"""

from __future__ import annotations

import os
from datetime import date, timedelta

import numpy as np

UCDP_HEADER = (
    "id,relid,year,active_year,code_status,type_of_violence,conflict_dset_id,conflict_new_id,"
    "conflict_name,dyad_dset_id,dyad_new_id,dyad_name,side_a_dset_id,side_a_new_id,side_a,"
    "side_b_dset_id,side_b_new_id,side_b,number_of_sources,source_article,source_office,"
    "source_date,source_headline,source_original,where_prec,where_coordinates,"
    "where_description,adm_1,adm_2,latitude,longitude,geom_wkt,priogrid_gid,country,country_id,"
    "region,event_clarity,date_prec,date_start,date_end,deaths_a,deaths_b,deaths_civilians,"
    "deaths_unknown,best,high,low,gwnoa,gwnob"
)
_PLACES = ["Avdiivka", "Horlivka", "Mariinka", "Svitlodarsk", "Shchastia", "Pisky", "Zolote"]


def write_ucdp_like(path: str | os.PathLike[str], n: int, seed: int = 0) -> None:
    """Write ``n`` UCDP-shaped rows (plus the header) to ``path``."""
    rng = np.random.default_rng(seed)
    lat = rng.uniform(47.0, 49.0, n).round(6)
    lon = rng.uniform(37.5, 39.8, n).round(6)
    day0 = date(2015, 2, 15)
    days = rng.integers(0, 2500, n)
    span = rng.choice([0, 0, 0, 0, 1, 3], n)
    wp = rng.choice([1, 2, 2, 2, 3, 4, 5], n)
    dp = rng.choice([1, 1, 1, 1, 2, 3, 4], n)
    best = rng.integers(1, 6, n)
    place = rng.integers(0, len(_PLACES), n)
    dates = [(day0 + timedelta(days=int(d))).isoformat() for d in range(2500 + 4)]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(UCDP_HEADER + "\n")
        lines = []
        for i in range(n):
            d = int(days[i])
            ds, de = dates[d], dates[d + int(span[i])]
            pl = _PLACES[place[i]]
            b = int(best[i])
            lines.append(
                f"{1_000_000 + i},UKR-{ds[:4]}-1-{i},{ds[:4]},True,Clear,1,13243,13243,"
                "Ukraine: Donetsk,14270,14270,Government of Ukraine - DPR,61,61,"
                "Government of Ukraine,5787,5787,DPR,2,"
                f'"""Reuters News,{ds},Shelling near {pl} kills {b}""",Reuters News,{ds},'
                f"Shelling near {pl} kills {b},OSCE SMM,{int(wp[i])},{pl} town,"
                f"{pl} town (near),Donetsk oblast,{pl} raion,{lat[i]},{lon[i]},"
                f"POINT ({lon[i]} {lat[i]}),180000,Ukraine,369,Europe,1,{int(dp[i])},{ds},{de},"
                f"{b},0,0,0,{b},{b + 1},{b},369,\n"
            )
            if len(lines) >= 10_000:
                fh.writelines(lines)
                lines = []
        fh.writelines(lines)
