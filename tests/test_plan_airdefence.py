"""Air defence with magazines: saturation, campaigns, who may engage ballistic missiles."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import pytest

from truceguard.plan.airdefence import (
    BIN_H,
    SYSTEMS,
    Layer,
    Magazine,
    Outcome,
    _first_come,
    _running,
    engage,
    engage_blocks,
    full_stocks,
    placed_group,
    resupply,
)
from truceguard.plan.raid import (
    CLASSES,
    TARGET_NAMES,
    RaidDraws,
    campaign,
    draw_raid,
    make_raid,
    setting,
)


def test_running_sums_within_groups_in_time_order() -> None:
    place = np.array([1, 0, 1, 1, 0])
    weight = np.array([1.0, 2.0, 1.0, 3.0, 1.0])
    assert _running(place, np.zeros(5, dtype=np.int64), weight).tolist() == [
        1.0, 2.0, 2.0, 5.0, 3.0]
    # keys out of order (threats not in time order) are sorted, not trusted
    key = np.array([2, 1, 2, 1, 1])
    assert _running(None, key, None).tolist() == [1.0, 1.0, 2.0, 2.0, 3.0]


def test_first_come_ranks_within_place_and_half_hour() -> None:
    key = np.array([0, 0, 0, 0, 1, 1, 3])
    place = np.array([2, 0, 2, 2, 0, 0, 2])
    counts = np.bincount(key * 3 + place, minlength=4 * 3).reshape(-1, 3)
    assert _first_come(key, place, counts).tolist() == [1, 1, 2, 3, 1, 2, 1]
    assert _first_come(key, None, np.bincount(key, minlength=4)[:, None]).tolist() == [
        1, 2, 3, 4, 1, 2, 1]
    back = key[::-1].copy()  # not in time order: the same as a sort would give
    assert _first_come(back, None, np.bincount(back, minlength=4)[:, None]).tolist() == [
        1, 1, 2, 1, 2, 3, 4]


def _reference(d: RaidDraws, blocks: Sequence[tuple[int, Sequence[Layer]]],
               stocks: dict[str, dict[str, np.ndarray]], duration_h: float,
               rng: np.random.Generator) -> Outcome:
    """The rules threat by threat, replication by replication, drawing the same uniform
    numbers as engage: one per threat for electronic warfare, then per group one per threat
    for meeting it and, when any threat did, one per threat for the kill."""
    r, t = d.cls.shape
    lay_of = [lays for k, lays in blocks for _ in range(k)]
    base = list(blocks[0][1])
    p_ew = np.zeros((r, len(CLASSES)))
    for i in range(r):
        for lay in lay_of[i]:
            for c, pe in lay.ew.items():
                ci = CLASSES.index(c)
                p_ew[i, ci] = 1.0 - (1.0 - p_ew[i, ci]) * (1.0 - pe)
    sup = rng.random((r, t)) < np.take_along_axis(p_ew, d.cls.astype(np.intp), 1)
    alive = ~sup
    killed_by = np.full((r, t), -1)
    last_bin = int(duration_h / BIN_H) + 1
    fired: dict[str, dict[str, np.ndarray]] = {lay.name: {} for lay in base}
    order = [(li, gi) for barrier in (True, False) for li, lay in enumerate(base)
             for gi, g in enumerate(lay.groups) if (g.system.mode == "barrier") == barrier]
    labels = []
    for n_group, (li, gi) in enumerate(order):
        labels.append(f"{base[li].name}:{base[li].groups[gi].label}")
        want = np.zeros((r, t))
        for i in range(r):
            grp = lay_of[i][li].groups[gi]
            for c, e in grp.system.engages.items():
                m = d.cls[i] == CLASSES.index(c)
                if grp.system.mode == "barrier":
                    p = 1.0 - np.exp(-e.meet_per_100km * d.path_km[i] / 100.0)
                else:
                    cov = np.array([grp.cover.get(c, {}).get(g, 0.0) for g in TARGET_NAMES])
                    p = cov[d.target[i]]
                    if e.need_warning_min > 0:
                        p = p * min(1.0, d.warning_min[i] / e.need_warning_min)
                want[i] = np.where(m, p, want[i])
        demand = alive & (rng.random((r, t)) < want)
        if not demand.any():
            continue
        ok = np.zeros((r, t), dtype=bool)
        name, kind = base[li].name, base[li].groups[gi].system.interceptor
        stock = stocks.setdefault(name, {}).setdefault(kind, np.array(
            [lay_of[i][li].magazines.get(kind, Magazine(0.0, 0.0)).on_hand for i in range(r)]))
        spent = np.zeros(r)
        for i in range(r):
            grp = lay_of[i][li].groups[gi]
            s = grp.system
            barrier = s.mode == "barrier"
            units = [grp.count] if barrier else [grp.units_at.get(g, 0.0) for g in TARGET_NAMES]
            engaged: dict[tuple[int, int], int] = {}
            used: dict[int, float] = {}
            for j in np.flatnonzero(demand[i]):
                place = 0 if barrier else int(d.target[i, j])
                half = min(int(d.hour[i, j] / BIN_H), last_bin)
                engaged[place, half] = engaged.get((place, half), 0) + 1
                if engaged[place, half] > units[place] * s.rate_per_h * BIN_H + 1e-9:
                    continue
                shots = s.engages[CLASSES[d.cls[i, j]]].shots
                used[place] = used.get(place, 0.0) + shots
                ready = units[place] * s.ready_rounds * (1.0 + np.floor(duration_h / s.reload_h))
                if used[place] <= min(ready, stock[i] * units[place] / max(grp.count, 1e-12)
                                      ) + 1e-9:
                    ok[i, j] = True
                    spent[i] += shots
        stock -= np.minimum(stock, spent)
        fired[name][kind] = fired[name].get(kind, np.zeros(r)) + spent
        pk = np.zeros((r, t))
        for i in range(r):
            for c, e in lay_of[i][li].groups[gi].system.engages.items():
                pk[i] = np.where(d.cls[i] == CLASSES.index(c), e.p_kill, pk[i])
        kill = ok & (rng.random((r, t)) < pk)
        killed_by[kill] = n_group
        alive &= ~kill
    out = Outcome({}, {}, {}, {}, {}, fired)
    for ci, c in enumerate(CLASSES):
        m = d.cls == ci
        out.launched[c] = m.sum(axis=1).astype(float)
        out.destroyed[c] = (m & (killed_by >= 0)).sum(axis=1).astype(float)
        out.suppressed[c] = (m & sup).sum(axis=1).astype(float)
        out.leaked[c] = (m & alive).sum(axis=1).astype(float)
    for i, lab in enumerate(labels):
        out.by_group[lab] = (killed_by == i).sum(axis=1).astype(float)
    return out


def _same(a: Outcome, b: Outcome) -> None:
    for attr in ("launched", "destroyed", "suppressed", "leaked", "by_group"):
        x, y = getattr(a, attr), getattr(b, attr)
        assert list(x) == list(y), attr
        for k in x:
            assert np.array_equal(x[k], y[k]), (attr, k, x[k], y[k])
    assert {k: sorted(v) for k, v in a.fired.items()} == {k: sorted(v) for k, v in b.fired.items()}
    for lay, kinds in a.fired.items():
        for k, v in kinds.items():
            assert np.array_equal(v, b.fired[lay][k]), (lay, k)


def _test_layers(scale: float = 1.0) -> list[Layer]:
    """Two layers drawing on one magazine type, a barrier that saturates, point defences at
    several target sets, magazines small enough to run dry."""
    bar = placed_group(SYSTEMS["mobile_fire_groups"], 4 * scale, {"capital": 1.0})
    med = placed_group(SYSTEMS["medium_sam"], 10, {"capital": 1.0, "front_cities": 2.0})
    pat = placed_group(SYSTEMS["patriot"], 6, {"capital": 2.0, "energy": 1.0, "ports": 1.0})
    samp = placed_group(SYSTEMS["samp_t"], 3, {"capital": 1.0, "cities": 1.0})
    return [Layer("a", (bar, med, pat), {"pac3_gemt": Magazine(30.0 * scale, 1.0),
                                         "barrier_rounds": Magazine(90.0, 5.0),
                                         "medium_sam_missile": Magazine(40.0, 2.0)},
                  {"drone": 0.1 * scale, "decoy": 0.5}),
            Layer("b", (samp, pat), {"aster30": Magazine(12.0, 1.0),
                                     "pac3_gemt": Magazine(8.0, 0.0)}, {"drone": 0.05})]


@pytest.mark.parametrize("shuffled", [False, True])
def test_engage_follows_the_rules_threat_by_threat(shuffled: bool) -> None:
    """engage and a plain loop over the rules give the same outcome, interceptors fired and
    magazines left, raid after raid of a campaign, on the same random numbers; with the
    threats out of time order too."""
    layers = _test_layers()
    raid = make_raid(400, 100, 60, 30, targeting={"capital": 0.5, "energy": 0.2, "ports": 0.1,
                                                  "cities": 0.1, "front_cities": 0.1},
                     duration_h=4.0)
    for seed in range(3):
        ours, ref = np.random.default_rng(seed), np.random.default_rng(seed)
        so = full_stocks(layers, 7)
        sr = copy.deepcopy(so)
        for k in range(3):
            d = draw_raid(raid, 7, np.random.default_rng([seed, k]), (1.0, 5.0))
            if shuffled:
                p = np.random.default_rng(k).permutation(d.cls.shape[1])
                d = RaidDraws(d.cls[:, p], d.target[:, p], d.path_km[:, p], d.hour[:, p],
                              d.warning_min)
            _same(engage(d, layers, so, raid.duration_h, ours),
                  _reference(d, [(7, layers)], sr, raid.duration_h, ref))
            for lay in so:
                for kind in so[lay]:
                    assert np.array_equal(so[lay][kind], sr[lay][kind])
            resupply(layers, so, 1.0)
            resupply(layers, sr, 1.0)
        assert ours.random() == ref.random()  # the same numbers drawn


def test_engage_blocks_gives_each_block_its_own_layers() -> None:
    """Blocks of replications against layers that differ in their figures (as the
    calibration's bootstrap draws do): the same as the plain loop with each replication's
    own layers."""
    raid = make_raid(300, 100, 40, 20, targeting={"capital": 0.6, "energy": 0.2,
                                                  "cities": 0.2}, duration_h=3.0)
    blocks = [(4, _test_layers(1.0)), (3, _test_layers(2.0)), (5, _test_layers(0.5))]
    for seed in range(3):
        d = draw_raid(raid, 12, np.random.default_rng(seed), (1.0, 5.0))
        ours, ref = np.random.default_rng(seed), np.random.default_rng(seed)
        so: dict[str, dict[str, np.ndarray]] = {}
        sr: dict[str, dict[str, np.ndarray]] = {}
        _same(engage_blocks(d, blocks, so, raid.duration_h, ours),
              _reference(d, blocks, sr, raid.duration_h, ref))
        assert ours.random() == ref.random()
        for lay in so:
            for kind in so[lay]:
                assert np.array_equal(so[lay][kind], sr[lay][kind])
    with pytest.raises(ValueError, match="blocks"):
        engage_blocks(d, [(5, _test_layers())], {}, raid.duration_h, ours)
    with pytest.raises(ValueError, match="differ"):
        engage_blocks(d, [(6, _test_layers()), (6, _test_layers()[:1])], {}, 3.0, ours)


def test_ballistic_missiles_are_engaged_only_by_patriot_and_samp_t() -> None:
    assert sorted(n for n, s in SYSTEMS.items() if "ballistic" in s.engages) == [
        "patriot", "samp_t"]
    st = setting()
    raid = make_raid(ballistic=40)
    rng = np.random.default_rng(3)
    d = draw_raid(raid, 50, rng, (4.0, 5.0))
    layers = list(st.layers)
    out = engage(d, layers, full_stocks(layers, 50), raid.duration_h, rng)
    ballistic_capable = [f"{lay.name}:{g.label}" for lay in layers for g in lay.groups
                         if "ballistic" in g.system.engages]
    others = [k for k in out.by_group if k not in ballistic_capable]
    assert others and all(out.by_group[k].sum() == 0 for k in others)
    assert sum(out.by_group[k].sum() for k in ballistic_capable) > 0
    # without any Patriot or SAMP/T, no ballistic missile is destroyed
    only_barrier = [Layer("ukraine", (layers[0].groups[0],), layers[0].magazines)]
    out = engage(d, only_barrier, full_stocks(only_barrier, 50), raid.duration_h, rng)
    assert out.destroyed["ballistic"].sum() == 0


def test_a_battery_engages_nothing_once_its_magazine_is_empty() -> None:
    pat = placed_group(SYSTEMS["patriot"], 4, {"capital": 1.0})
    layer = Layer("x", (pat,), {"pac3_gemt": Magazine(10.0, 0.0)})
    raid = make_raid(ballistic=30, targeting={"capital": 1.0})
    rng = np.random.default_rng(5)
    stocks = full_stocks([layer], 20)
    out = engage(draw_raid(raid, 20, rng, (5.0, 5.0)), [layer], stocks, 10.0, rng)
    assert (out.fired["x"]["pac3_gemt"] <= 10).all() and out.fired["x"]["pac3_gemt"].max() > 0
    assert (out.destroyed["ballistic"] <= 5).all()  # two interceptors an engagement
    assert (stocks["x"]["pac3_gemt"] >= 0).all()
    again = engage(draw_raid(raid, 20, rng, (5.0, 5.0)), [layer], stocks, 10.0, rng)
    assert again.fired["x"]["pac3_gemt"][stocks["x"]["pac3_gemt"] < 2].sum() == 0


def test_counts_add_up_by_class() -> None:
    st = setting()
    raid = make_raid(drones=300, decoys=100, cruise=20, ballistic=10)
    rng = np.random.default_rng(11)
    layers = list(st.layers)
    out = engage(draw_raid(raid, 30, rng, st.warning), layers,
                 full_stocks(layers, 30), raid.duration_h, rng)
    for c in CLASSES:
        total = out.destroyed[c] + out.suppressed[c] + out.leaked[c]
        assert np.array_equal(total, out.launched[c])
    assert out.suppressed["cruise"].sum() == 0 and out.suppressed["ballistic"].sum() == 0


def test_the_share_defeated_falls_over_a_campaign_of_raids() -> None:
    st = setting()
    raid = make_raid(drones=400, decoys=200, cruise=30, ballistic=15)
    shares = campaign(raid, st, raids=8, days_between=1.0, replications=30, seed=2)
    assert shares[-1] < shares[0] - 0.02
    assert np.mean(shares[-3:]) < np.mean(shares[:3])


@pytest.mark.parametrize("bad", [-1, 10_001, 2.5, True])
def test_bad_counts_are_domain_errors(bad: object) -> None:
    from truceguard.errors import InputError

    with pytest.raises(InputError) as e:
        make_raid(drones=bad)
    assert e.value.code == "input.bad_raid"
