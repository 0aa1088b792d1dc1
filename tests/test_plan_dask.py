"""The Dask path gives the same numbers as the local run (LocalCluster, two small workers)."""

import numpy as np
import pytest

from truceguard.plan.scenario import load_scenario
from truceguard.plan.sensitivity import sensitivity
from truceguard.plan.sweep import resolve_all, sweep


@pytest.mark.slow
def test_dask_local_cluster_matches_local_run():
    distributed = pytest.importorskip("dask.distributed")
    scen = load_scenario("reassurance-2026")
    resolved = resolve_all(scen, ["us-isr-only", "no-us"])
    local = sweep(resolved, 600, 9)
    keys = ["capabilities.fighters.standoff_km", "ukraine.share_at_line"]
    local_sens = sensitivity(scen, samples=300, raid_replications=3, only=keys)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = sweep(resolved, 600, 9, client=client)
        remote_sens = sensitivity(scen, samples=300, raid_replications=3, only=keys,
                                  client=client)
    assert [r.name for r in remote] == [r.name for r in local]
    for a, b in zip(local, remote, strict=True):
        assert a.metrics == b.metrics
        assert a.gaps == b.gaps
        assert np.array_equal(a.t_response, b.t_response)
    assert remote_sens.rows == local_sens.rows
