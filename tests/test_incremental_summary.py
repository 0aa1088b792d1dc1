"""Incremental incident summaries: a live step updates an incident from its new reports and
its stored summary state, and the result is identical to a full recomputation, on each
backend (SQLite and a real PostgreSQL)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from truceguard.geo.project import UKRAINE_EAST
from truceguard.judge.adjudicate import SIGHTING_CATEGORIES
from truceguard.judge.fusion import FusionParams
from truceguard.judge.grading import load_grading
from truceguard.judge.incident_summary import (
    SIGHTING_CATEGORIES as SUMMARY_SIGHTINGS,
)
from truceguard.judge.incident_summary import (
    SummaryState,
    exact_sum,
    incident_states,
    merge_states,
    state_records,
)
from truceguard.judge.places import view_regions
from truceguard.model import Observation
from truceguard.pipeline import _view_regions, fuse_store, stored_params, views_evidence
from truceguard.pipeline_incremental import fuse_step
from truceguard.store import Store

T0 = 1_700_000_000
CATEGORIES = ("movement", "shelling", "weapon_presence", "shots")
SOURCES = ("patrol", "drone", "web", "UCDP GED")
HOW = ("observed", "heard", "open_source", "party_claim")
UNCERTAINTY = (None, 1.0, 50.0, 500.0, 7000.0)

# One report: (step along the track, track, minutes, uncertainty, category, source, how known,
# marked REL TO GBR instead of PUBLIC)
report = st.tuples(st.integers(0, 30), st.integers(0, 3), st.integers(0, 600),
                   st.sampled_from(UNCERTAINTY), st.sampled_from(CATEGORIES),
                   st.sampled_from(SOURCES), st.sampled_from(HOW), st.booleans())
batches = st.lists(st.lists(report, min_size=1, max_size=12), min_size=2, max_size=5)


def test_the_summary_sightings_are_the_adjudicators() -> None:
    assert SUMMARY_SIGHTINGS == SIGHTING_CATEGORIES


def test_exact_sums_do_not_depend_on_order_or_grouping() -> None:
    values = [1e16, 1.0, -1e16, 3.5e-12, 0.1, 0.2, 0.3]
    assert exact_sum(values) == exact_sum(values[::-1])
    assert exact_sum(exact_sum(values[:3]) + exact_sum(values[3:])) == exact_sum(values)
    assert exact_sum(values)[0] == math.fsum(values)
    assert sum(values) != math.fsum(values)  # plain addition would not do
    assert exact_sum([]) == () and exact_sum([2.0, -2.0]) == ()


def _arrays(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    return {
        "lat": np.array([48.0 + r[0] * 0.01 for r in rows]),
        "lon": np.array([37.0 + r[1] * 0.02 for r in rows]),
        "uncertainty_m": np.array([np.nan if r[3] is None else r[3] for r in rows]),
        "t_start": np.array([T0 + 60.0 * r[2] for r in rows]),
        "t_end": np.array([T0 + 60.0 * r[2] + 30 for r in rows]),
        "category": np.array([r[4] for r in rows]),
        "weapon_class": np.array(["unknown" if r[7] else "small_arms" for r in rows]),
        "source": np.array([r[5] for r in rows]),
        "origin": np.array(["" if r[6] == "open_source" else f"{r[5]} {r[1]}" for r in rows]),
        "how_known": np.array([r[6] for r in rows]),
    }


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(report, min_size=1, max_size=40), cuts=st.lists(st.integers(0, 40)),
       groups=st.integers(1, 3))
def test_merged_states_equal_the_state_of_all(rows: list[tuple[Any, ...]], cuts: list[int],
                                              groups: int) -> None:
    """Any split of an incident's reports into batches: merging the batches' states gives
    the state of all of them, and so the same record."""
    a = _arrays(rows)
    n = len(rows)
    labels = np.arange(n) % groups
    labels = np.unique(labels, return_inverse=True)[1].reshape(-1)
    rules = load_grading()
    kw = dict(rules=rules, projection=UKRAINE_EAST)
    whole = incident_states(labels, obs_id=np.arange(n), **a, **kw)  # type: ignore[arg-type]
    edges = sorted({0, n, *(c for c in cuts if c < n)})
    parts: list[list[SummaryState]] = [[] for _ in whole]
    for lo, hi in zip(edges, edges[1:], strict=False):
        sl = slice(lo, hi)
        lab = labels[sl]
        present, local = np.unique(lab, return_inverse=True)
        got = incident_states(local.reshape(-1), obs_id=np.arange(n)[sl],
                              **{k: v[sl] for k, v in a.items()}, **kw)  # type: ignore[arg-type]
        for g, s in zip(present.tolist(), got, strict=True):
            parts[g].append(s)
    merged = [merge_states(p) for p in parts]
    assert merged == whole
    assert state_records(merged, rules, UKRAINE_EAST) == state_records(whole, rules,
                                                                       UKRAINE_EAST)
    # The state survives its JSON form exactly.
    assert [SummaryState.from_json(json.loads(json.dumps(s.as_json()))) for s in whole] == whole


def _observations(rows: list[tuple[Any, ...]], start: int) -> list[Observation]:
    out = []
    for k, r in enumerate(rows):
        ref = f"r{start + k}"
        t = T0 + 60 * r[2]
        out.append(Observation(
            source=r[5], how_known=r[6], t_start=t, t_end=t + 30, time_precision_s=30,
            lat=48.0 + r[0] * 0.01, lon=37.0 + r[1] * 0.02, uncertainty_m=r[3],
            category=r[4], origin="" if r[6] == "open_source" else f"{r[5]} {r[1]}",
            source_ref=ref, raw=ref, raw_sha256=hashlib.sha256(ref.encode()).hexdigest(),
            releasability="REL TO GBR" if r[7] else "PUBLIC"))
    return out


def _snapshot(store: Store) -> tuple[list[Any], list[Any], list[Any]]:
    views = store.execute("SELECT * FROM incident_views ORDER BY parent_id, sig, incident_id"
                          ).fetchall()
    sums = store.execute("SELECT parent_id, marking_id, state FROM incident_sums "
                         "ORDER BY parent_id, marking_id").fetchall()
    links = store.execute("SELECT obs_id, incident_id FROM observations ORDER BY obs_id"
                          ).fetchall()
    return ([tuple(r) for r in views], [(p, m, json.loads(s)) for p, m, s in sums],
            [tuple(r) for r in links])


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=batches, single=st.booleans())
@example(steps=[[(0, 0, 0, None, "movement", "patrol", "observed", False)],
                [(1, 0, 1, 50.0, "movement", "drone", "heard", False),
                 (30, 3, 600, 7000.0, "shelling", "web", "open_source", False)]], single=True)
def test_live_steps_equal_a_full_recomputation(new_store: Callable[[], Store],
                                               steps: list[list[tuple[Any, ...]]],
                                               single: bool) -> None:
    """Random sequences of batches, each fused as a live step; then the same store fused
    again in full: the incidents' views, their summary states, each report's incident and each
    view's evidence are identical. With one marking every step after the first takes the
    incremental path (and reads no incident in full); with two, incidents of both markings go
    the general way where they must."""
    store = new_store()
    try:
        _live_then_full(store, steps, single)
    finally:  # each example's store is closed at once (a PostgreSQL has few connections)
        store.close()


def _live_then_full(store: Store, steps: list[list[tuple[Any, ...]]], single: bool) -> None:
    rules = load_grading()
    taken = 0
    for k, rows in enumerate(steps):
        if single:
            rows = [(*r[:7], False) for r in rows]
        store.add_observations(_observations(rows, 100 * k), reader="csv")
        params = stored_params(store)
        if params is None:
            fuse_store(store, FusionParams())
            continue
        pending = store.fusion_arrays(unfused=True)
        params_json = json.dumps({**vars(params), "curated_sources_never_self_fuse": True},
                                 sort_keys=True)
        done = fuse_step(store, params, params_json, pending, rules, UKRAINE_EAST,
                         lambda _name: None)
        if done is None:
            assert not single, "one marking: the incremental path must take every step"
            fuse_store(store, params, pending=pending)
        else:
            taken += 1
    if single:
        assert taken == len(steps) - 1
    live = _snapshot(store)
    evidence = views_evidence(store, store.view_arrays())
    # Regions asked only of the views that may have one: the same as asking every view.
    assert _view_regions(store, store.view_arrays()) == view_regions(store, store.view_arrays())
    fuse_store(store, FusionParams(), full=True)
    assert _snapshot(store) == live
    assert views_evidence(store, store.view_arrays()) == evidence
    # The evidence read through the summary states equals the one read report by report.
    store.execute("DELETE FROM incident_sums")
    assert views_evidence(store, store.view_arrays()) == evidence
