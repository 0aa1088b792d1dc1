"""ISR with physics: swath, revisit, latency, night and cloud; SAR apart from optical; the
US feed in Ukraine's air warning."""

import numpy as np
import pytest

from truceguard.errors import ConfigError
from truceguard.geo.shipped import data_path
from truceguard.plan import isr
from truceguard.plan.coverage import build_assets, coverage, line_points
from truceguard.plan.scenario import load_scenario, parse_scenario, resolve_variant

SCEN = load_scenario("reassurance-2026")
BASE = resolve_variant(SCEN, "us-isr-only")
LAT, LON, W = line_points(BASE)
TEXT = data_path("scenarios", "reassurance-2026.yaml").read_text(encoding="utf-8")


def _watch(system, month=7, tod="all", cloud=None, within_h=24.0, persists_h=6.0):
    return isr.line_watched([system], LAT, LON, W, month, within_h, persists_h, tod,
                            cloud=cloud).combined


def test_optical_watches_less_at_night_and_sar_does_not_care():
    optical = isr.space_system("us-vhr-optical")
    sar = isr.space_system("iceye")
    assert _watch(optical, tod="night") < _watch(optical, tod="day")
    assert _watch(sar, tod="night") == pytest.approx(_watch(sar, tod="day"))
    # a short-lived violation at midnight is never imaged by an optical satellite; at noon it is
    p = isr.report_probability(optical, 1.0, 1, 48.3, persists_h=0.5, within_h=24.0)
    assert p[isr.HOURS == 0.0][0] == 0.0 < p[isr.HOURS == 12.0][0]
    q = isr.report_probability(sar, 1.0, 1, 48.3, persists_h=0.5, within_h=24.0)
    assert q[isr.HOURS == 0.0][0] == q[isr.HOURS == 12.0][0] > 0.0


def test_cloud_blinds_optical_and_not_sar():
    optical, sar = isr.space_system("sentinel-2"), isr.space_system("iceye")
    assert _watch(optical, cloud=0.9) < _watch(optical, cloud=0.0)
    assert _watch(sar, cloud=0.9) == _watch(sar, cloud=0.0)
    # the climatology: winter at the line is cloudier than summer
    assert isr.cloud_share(1) > isr.cloud_share(8)


def test_a_wider_swath_watches_more_of_the_line():
    s = isr.space_system("us-vhr-optical")
    narrow, wide = s.with_values(swath_km=5.0), s.with_values(swath_km=40.0)
    assert isr.line_km_per_strip(LAT, LON, W, 5.0, 60.0) < isr.line_km_per_strip(
        LAT, LON, W, 40.0, 60.0)
    assert _watch(narrow) < _watch(wide)
    assert isr.swath_line_share(LAT, LON, W, 100.0) < isr.swath_line_share(LAT, LON, W, 290.0)


def test_no_satellite_images_the_whole_line_in_one_pass():
    for s in isr.space_systems().values():
        per_pass = (isr.swath_line_share(LAT, LON, W, s.swath_km) if s.mode == "swath"
                    else isr.image_probability(s, LAT, LON, W))
        assert 0.0 < per_pass < 0.5, s.name


def test_latency_beyond_the_detection_time_leaves_nothing():
    s1 = isr.space_system("sentinel-1")  # systematic products, a day or more
    assert _watch(s1, within_h=2.0) == 0.0
    assert _watch(s1, within_h=72.0) > 0.0


def test_coverage_counts_a_satellite_by_what_it_images():
    assets = build_assets(BASE)
    sat = assets.pattern == "satellite"
    revisit_min = 60.0 * SCEN.capabilities["satellites"].params["revisit_h"]
    factor = isr.satellite_cycle_factor(BASE, "satellites")
    assert 0.0 < factor < 1.0
    assert np.allclose(assets.cycle_min[sat], revisit_min / factor)
    with_us = coverage(BASE, assets).share(coverage(BASE, assets).line_ground_detect)
    rv = resolve_variant(SCEN, "no-us")
    no_us = coverage(rv, build_assets(rv))
    assert no_us.share(no_us.line_ground_detect) < with_us


def test_the_us_feed_lengthens_ukraines_air_warning():
    with_us, without = isr.air_warning_minutes(True), isr.air_warning_minutes(False)
    assert without[0] < with_us[0] and without[1] < with_us[1]
    assert all(lo <= hi for lo, hi in (with_us, without))
    for feed in (True, False):
        for w in isr.air_warning_by_class(feed).values():
            assert w.source and w.low <= w.high


def test_the_isr_block_is_checked_and_reported():
    assert isr.isr_settings(SCEN) == (1, {"satellites": "us-vhr-optical"})
    bad = parse_scenario(TEXT.replace("{satellites: us-vhr-optical}", "{satellites: kh-11}"),
                         "bad.yaml")
    with pytest.raises(ConfigError, match="unknown imaging system"):
        isr.isr_settings(bad)
    rep = isr.isr_report(BASE, within_h=24.0, persists_h=6.0)
    assert rep["systems_in_force"] == ["us-vhr-optical"] and rep["us_feed"] is True
    assert set(rep["alternative_systems"]) == {"sentinel-1", "sentinel-2", "pleiades-neo", "iceye"}
    assert rep["in_force"]["night"]["combined"] < rep["in_force"]["day"]["combined"]
