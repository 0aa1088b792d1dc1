"""A land breach at a point of the line: who arrives, when, and whether it is contained.

A breach is an attack of ``attacker_troops`` that has broken through at one point of the line
(drawn from the scenario's violation distribution along the line). It is **contained** at the
first moment the defenders at the point reach ``attacker / hold_ratio`` (the 3:1 rule read
backwards: an attacker without a local 3:1 advantage stalls; Mearsheimer 1989), counting a
follow-on echelon of the attacker once it arrives. Defenders arrive in this order:

1. Ukraine's forces at the line: its troops at the line per km (``ukraine.troops x
   share_at_line / line length``) over the breach frontage, of which a share survives it.
2. Ukraine's tactical and operational reserves, after their movement times.
3. Tripwire posts of the reassurance force within ``tripwire_radius_km``: present at once,
   and they cut the decision delay in capitals to ``tripwire_decision_h``.
4. The reassurance force's hubs (every ground-force pledge in force, troops split over its
   basing, times readiness): after the decision in capitals, a quick-reaction share after
   ``qrf_notice_h`` and the rest after ``main_notice_h``, plus the road march (great-circle
   distance x ``road_factor`` / ``march_kmh``). Only ``committed_share`` of a hub goes.
5. The follow-on forces staged in Poland and Romania (``staging``: a share of the pledged
   troops), after the decision, their notice and the march.

Capitals commit the force at all with ``commit_probability``. Every number with a range is
drawn per replication from a triangular distribution (low, value, high); the replications are
one set of numpy arrays (no loop over them). ``force_scale`` multiplies the reassurance
force's troops (hubs, staging, tripwire) after the draws, so runs at different sizes share
their random numbers and differ only by the size. What is not modelled: ``docs/land-breach.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from truceguard.errors import ConfigError
from truceguard.geo.radar import unit_vectors
from truceguard.geo.sphere import EARTH_RADIUS_M
from truceguard.plan.scenario import Assumption, Location, ResolvedVariant, Scenario
from truceguard.plan.stats import wilson

HORIZONS_H = (6.0, 24.0, 72.0)
QUANTILES = (0.1, 0.5, 0.9)
# key -> (lowest, highest) a value may take
NUMBER_KEYS: dict[str, tuple[float, float]] = {
    "attacker_troops": (1.0, 1e6), "hold_ratio": (1.0, 10.0),
    "attacker_follow_on_share": (0.0, 5.0), "attacker_follow_on_h": (0.0, 1000.0),
    "frontage_km": (1.0, 500.0), "local_surviving_share": (0.0, 1.0),
    "ukraine_tactical_reserve_troops": (0.0, 1e6), "ukraine_tactical_reserve_h": (0.0, 1000.0),
    "ukraine_operational_reserve_troops": (0.0, 1e6),
    "ukraine_operational_reserve_h": (0.0, 1000.0),
    "decision_delay_h": (0.0, 1000.0), "tripwire_decision_h": (0.0, 1000.0),
    "tripwire_radius_km": (0.0, 1000.0), "commit_probability": (0.0, 1.0),
    "committed_share": (0.0, 1.0), "qrf_notice_h": (0.0, 1000.0),
    "main_notice_h": (0.0, 1000.0), "march_kmh": (1.0, 200.0), "road_factor": (1.0, 3.0),
}


@dataclass(frozen=True)
class Ranged:
    """A number of the breach block: its value, range and source."""

    value: float
    low: float
    high: float
    source: str


@dataclass(frozen=True)
class Staging:
    """Follow-on forces staged outside Ukraine (Poland, Romania): a share of the pledged
    troops, their notice to move, where they stand."""

    name: str
    location: Location
    share_of_pledged: Ranged
    notice_h: Ranged


@dataclass(frozen=True)
class TripwirePost:
    """A reassurance-force post at a point of Ukraine (a tripwire where it is)."""

    name: str
    location: Location
    troops: float


@dataclass(frozen=True)
class BreachSpec:
    """The scenario's ``breach`` block, parsed."""

    numbers: dict[str, Ranged]
    staging: tuple[Staging, ...]
    tripwire: tuple[TripwirePost, ...]
    assumptions: tuple[Assumption, ...] = ()  # the ranged numbers, with their paths


def breach_spec(scen: Scenario) -> BreachSpec:
    """Parse the scenario's ``breach`` block (ConfigError naming key and line)."""
    from truceguard.config import ConfigMap
    from truceguard.plan.scenario_read import Reader, _location

    doc = scen.doc
    node = doc.get("breach") if isinstance(doc, dict) else None
    if node is None:
        raise ConfigError(scen.path, "breach", "the scenario has no breach block",
                          hint="add a breach block (see the shipped reassurance-2026 scenario "
                          "and docs/land-breach.md)")
    rd = Reader(scen.path)
    if not isinstance(node, ConfigMap):
        raise rd.fail("breach", "must be a mapping", doc, "breach")
    allowed = {*NUMBER_KEYS, "staging", "tripwire", "note", "source"}
    for k in node:
        if k not in allowed:
            from truceguard.errors import suggest

            raise rd.fail(f"breach.{k}", "unknown field", node, k,
                          hint=suggest(str(k), allowed))

    def num(parent: Any, key: str, label: str, path: tuple[Any, ...],
            bounds: tuple[float, float]) -> Ranged:
        before = len(rd.assumptions)
        s = rd.number(parent, key, label, path, *bounds)
        if len(rd.assumptions) > before:
            a = rd.assumptions[-1]
            return Ranged(s.value, a.low, a.high, s.source)
        return Ranged(s.value, s.value, s.value, s.source)

    numbers = {k: num(node, k, f"breach.{k}", ("breach", k), b)
               for k, b in NUMBER_KEYS.items()}
    staging = []
    seq = rd.sequence(node, "staging", "breach.staging")
    for i, st in enumerate(seq):
        key = f"breach.staging[{i}]"
        if not isinstance(st, ConfigMap) or "name" not in st:
            raise rd.fail(key, "needs name, base or point, share_of_pledged and notice_h",
                          seq, i)
        where = {k: v for k, v in st.items() if k in ("base", "point", "hub")}
        loc_raw = ConfigMap(where)
        loc_raw.line, loc_raw.lines = st.line, dict(st.lines)
        loc = _location(rd, loc_raw, key, seq, i, scen.hubs)
        staging.append(Staging(
            str(st["name"]), loc,
            num(st, "share_of_pledged", key + ".share_of_pledged",
                ("breach", "staging", i, "share_of_pledged"), (0.0, 5.0)),
            num(st, "notice_h", key + ".notice_h", ("breach", "staging", i, "notice_h"),
                (0.0, 1000.0))))
    posts = []
    seq = rd.sequence(node, "tripwire", "breach.tripwire")
    for i, tp in enumerate(seq):
        key = f"breach.tripwire[{i}]"
        if not isinstance(tp, ConfigMap) or "name" not in tp:
            raise rd.fail(key, "needs name, point (or hub) and troops", seq, i)
        where = {k: v for k, v in tp.items() if k in ("base", "point", "hub")}
        loc_raw = ConfigMap(where)
        loc_raw.line, loc_raw.lines = tp.line, dict(tp.lines)
        loc = _location(rd, loc_raw, key, seq, i, scen.hubs)
        troops = rd.number(tp, "troops", key + ".troops", ("breach", "tripwire", i, "troops"),
                           0.0, 1e6).value
        posts.append(TripwirePost(str(tp["name"]), loc, troops))
    return BreachSpec(numbers, tuple(staging), tuple(posts), tuple(rd.assumptions))


@dataclass
class BreachResult:
    """What a planner reads: containment within 6, 24 and 72 hours (with 95% intervals),
    time to contain and to the first coalition unit (percentiles), and the inputs."""

    samples: int
    seed: int
    force_scale: float
    coalition_troops: float
    contained: dict[str, dict[str, float]]  # "6h" -> {value, low, high}
    time_to_contain_h: dict[str, float | None]
    time_to_first_coalition_unit_h: dict[str, float | None]
    coalition_never_arrives_share: float
    coalition_decisive_share: float  # contained by 72 h only with the coalition's arrivals
    breach_points: int
    assumptions: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


@dataclass(frozen=True)
class _Draws:
    """Every random number of a run: one value per replication per assumption, and the
    breach points."""

    v: dict[str, NDArray]
    point: NDArray
    commit: NDArray
    staging_share: NDArray  # (S, stagings)
    staging_notice: NDArray  # (S, stagings)


def _tri(rng: np.random.Generator, r: Ranged, n: int) -> NDArray:
    if r.high <= r.low:
        return np.full(n, r.value)
    return rng.triangular(r.low, min(max(r.value, r.low), r.high), r.high, n)


def _draw(spec: BreachSpec, rv: ResolvedVariant, samples: int, seed: int) -> _Draws:
    from truceguard.plan.simulate import line_distribution

    rng = np.random.default_rng(np.random.SeedSequence([seed, 18]))
    v = {k: _tri(rng, r, samples) for k, r in spec.numbers.items()}
    p = line_distribution(rv)
    point = rng.choice(len(p), size=samples, p=p / p.sum())
    commit = rng.random(samples) < v["commit_probability"]
    ns = len(spec.staging)
    share = np.stack([_tri(rng, s.share_of_pledged, samples) for s in spec.staging], 1) \
        if ns else np.zeros((samples, 0))
    notice = np.stack([_tri(rng, s.notice_h, samples) for s in spec.staging], 1) \
        if ns else np.zeros((samples, 0))
    return _Draws(v, point, commit, share, notice)


def _hubs(rv: ResolvedVariant) -> tuple[NDArray, NDArray, NDArray, float]:
    """(lat, lon, troops) of every ground-force basing in force (troops x readiness), and the
    pledges' quick-reaction share (troops-weighted)."""
    lat, lon, troops, qrf = [], [], [], []
    for p in rv.pledges:
        cap = rv.scenario.capabilities[p.capability]
        if cap.role != "ground_force":
            continue
        par = {**cap.params, **p.params}
        for loc in p.basing:
            lat.append(loc.lat)
            lon.append(loc.lon)
            troops.append(p.quantity / len(p.basing) * p.readiness)
            qrf.append(par.get("qrf_share", 0.1))
    t = np.array(troops, dtype=float)
    share = float((t * np.array(qrf)).sum() / t.sum()) if t.sum() > 0 else 0.1
    return np.array(lat, dtype=float), np.array(lon, dtype=float), t, share


def _km(u_from: NDArray, u_to: NDArray) -> NDArray:
    """Great-circle km from each row of ``u_from`` (A, 3) to each row of ``u_to`` (B, 3)."""
    return np.arccos(np.clip(u_from @ u_to.T, -1.0, 1.0)) * EARTH_RADIUS_M / 1000.0


def _arrivals(spec: BreachSpec, rv: ResolvedVariant, d: _Draws, scale: float
              ) -> tuple[NDArray, NDArray, NDArray]:
    """(times h, troops, is coalition) per replication and arrival, (S, K) each."""
    from truceguard.plan.coverage import line_points

    v = d.v
    s = len(d.point)
    lat, lon, w = line_points(rv)
    bu = unit_vectors(lat[d.point], lon[d.point])  # (S, 3) breach points
    ua = rv.scenario.ukraine
    density = ua.troops * ua.share_at_line / max(float(w.sum()) / 1000.0, 1e-9)
    times = [np.zeros(s), v["ukraine_tactical_reserve_h"], v["ukraine_operational_reserve_h"]]
    troops = [density * v["frontage_km"] * v["local_surviving_share"],
              v["ukraine_tactical_reserve_troops"], v["ukraine_operational_reserve_troops"]]
    coalition = [False, False, False]
    # tripwire posts: present where they are; a struck tripwire speeds the decision
    struck = np.zeros(s, dtype=bool)
    for post in spec.tripwire:
        km = _km(bu, unit_vectors([post.location.lat], [post.location.lon]))[:, 0]
        near = km <= v["tripwire_radius_km"]
        struck |= near
        times.append(np.where(near, 0.0, np.inf))
        troops.append(np.full(s, post.troops * scale))
        coalition.append(True)
    decision = np.where(struck, np.minimum(v["tripwire_decision_h"], v["decision_delay_h"]),
                        v["decision_delay_h"])
    go = np.where(d.commit, 0.0, np.inf)  # not committed: the force never comes
    hlat, hlon, htroops, qrf = _hubs(rv)
    if len(hlat):
        march = _km(bu, unit_vectors(hlat, hlon)) * v["road_factor"][:, None] \
            / v["march_kmh"][:, None]  # (S, hubs)
        for j in range(len(hlat)):
            sent = htroops[j] * scale * v["committed_share"]
            for notice, part in ((v["qrf_notice_h"], qrf), (v["main_notice_h"], 1.0 - qrf)):
                times.append(decision + notice + march[:, j] + go)
                troops.append(sent * part)
                coalition.append(True)
    pledged = float(htroops.sum())
    for k, st in enumerate(spec.staging):
        km = _km(bu, unit_vectors([st.location.lat], [st.location.lon]))[:, 0]
        times.append(decision + d.staging_notice[:, k] + km * v["road_factor"] / v["march_kmh"]
                     + go)
        troops.append(pledged * scale * d.staging_share[:, k] * v["committed_share"])
        coalition.append(True)
    return (np.stack(times, 1), np.stack([np.broadcast_to(t, (s,)) for t in troops], 1),
            np.array(coalition))


def _contain_time(times: NDArray, troops: NDArray, v: dict[str, NDArray]) -> NDArray:
    """First arrival time at which the defenders reach attacker / hold_ratio (inf: never)."""
    order = np.argsort(times, axis=1)
    t = np.take_along_axis(times, order, 1)
    cum = np.cumsum(np.take_along_axis(troops, order, 1), axis=1)
    attacker = v["attacker_troops"][:, None] * (
        1.0 + v["attacker_follow_on_share"][:, None] * (t >= v["attacker_follow_on_h"][:, None]))
    ok = (cum * v["hold_ratio"][:, None] >= attacker) & np.isfinite(t)
    first = np.argmax(ok, axis=1)
    return np.where(ok.any(axis=1), t[np.arange(len(t)), first], np.inf)


def _quantiles(x: NDArray) -> dict[str, float | None]:
    f = x[np.isfinite(x)]
    return {f"p{int(q * 100)}": (float(np.quantile(f, q)) if len(f) else None)
            for q in QUANTILES}


def _apply(spec: BreachSpec, overrides: dict[str, float] | None) -> BreachSpec:
    if not overrides:
        return spec
    nums = dict(spec.numbers)
    for k, val in overrides.items():
        if k not in nums:
            from truceguard.errors import NotFoundError, suggest

            raise NotFoundError(f"the breach model has no number {k!r}",
                                hint=suggest(k, nums), code="not_found.assumption")
        nums[k] = Ranged(float(val), float(val), float(val), "override")
    return BreachSpec(nums, spec.staging, spec.tripwire, spec.assumptions)


def breach_model(rv: ResolvedVariant, samples: int = 4000, seed: int = 0,
                 force_scale: float = 1.0, overrides: dict[str, float] | None = None,
                 spec: BreachSpec | None = None) -> BreachResult:
    """The breach Monte Carlo for one variant (module docstring). ``overrides`` fixes numbers
    of the breach block (key -> value, no range)."""
    if samples <= 1:
        raise ValueError("samples must be at least 2")
    spec = _apply(spec or breach_spec(rv.scenario), overrides)
    d = _draw(spec, rv, samples, seed)
    times, troops, coalition = _arrivals(spec, rv, d, force_scale)
    t_contain = _contain_time(times, troops, d.v)
    local = _contain_time(np.where(coalition[None, :], np.inf, times), troops, d.v)
    arrived = np.where(troops > 0, times, np.inf)  # an empty arrival is no unit
    t_first = arrived[:, coalition].min(axis=1) if coalition.any() else np.full(samples, np.inf)
    contained = {}
    for h in HORIZONS_H:
        k = int((t_contain <= h).sum())
        lo, hi = wilson(k, samples)
        contained[f"{h:g}h"] = {"value": k / samples, "low": lo, "high": hi}
    _, _, htroops, _ = _hubs(rv)
    return BreachResult(
        samples, seed, force_scale,
        float(htroops.sum() * force_scale + sum(p.troops for p in spec.tripwire) * force_scale),
        contained, _quantiles(t_contain), _quantiles(t_first),
        float((~np.isfinite(t_first)).mean()),
        float(((t_contain <= HORIZONS_H[-1]) & ~(local <= HORIZONS_H[-1])).mean()),
        int(len(np.unique(d.point))),
        [{"key": k, "value": r.value, "low": r.low, "high": r.high, "source": r.source}
         for k, r in spec.numbers.items()])


def breach_by_force_size(rv: ResolvedVariant, scales: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0),
                         samples: int = 4000, seed: int = 0) -> list[dict[str, Any]]:
    """What the reassurance force's size changes: containment within 6, 24 and 72 hours and
    the time to the first coalition unit at each multiple of the pledged troops (the same
    random numbers at every size)."""
    spec = breach_spec(rv.scenario)
    out = []
    for s in scales:
        r = breach_model(rv, samples, seed, s, spec=spec)
        out.append({"force_scale": s, "coalition_troops": r.coalition_troops,
                    "contained": {k: c["value"] for k, c in r.contained.items()},
                    "time_to_first_coalition_unit_h": r.time_to_first_coalition_unit_h["p50"]})
    return out


def breach_report(rv: ResolvedVariant, samples: int = 4000, seed: int = 0) -> dict[str, Any]:
    """The breach figures ``results.json`` can carry for one variant: the model at the
    pledged size and the table by force size."""
    r = breach_model(rv, samples, seed)
    return {**r.as_dict(), "by_force_size": breach_by_force_size(rv, samples=samples,
                                                                 seed=seed)}
