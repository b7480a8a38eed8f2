"""The maths under the detectors, on hand-made series with known answers."""

import numpy as np
import pandas as pd
import pytest

from workbench.analysis import burn_rates, severity_for
from workbench.analysis.series import ALL, Window, bucket_stats, judge, runs

START = pd.Timestamp("2026-11-09", tz="UTC")
H = pd.Timedelta(hours=1)
RATE_UP = {"direction": "up", "compare": "ratio", "thresholds": {"warning": 1.5, "critical": 2.0,
                                                               "page": 4.0}}


def window(days=1, trailing_days=2):
    return Window(start=START, end=START + pd.Timedelta(days=days), bucket=H,
                  trailing=pd.Timedelta(days=trailing_days))


def units(rate_by_hour, n_per_hour=100, days_before=2, base_rate=0.05, group="a"):
    """Binary units: ``base_rate`` every baseline hour, ``rate_by_hour[h]`` in window hour h."""
    rows = []
    for h in range(-24 * days_before, 24):
        rate = base_rate if h < 0 else rate_by_hour.get(h, base_rate)
        k = int(round(rate * n_per_hour))
        t = START + h * H + pd.Timedelta(minutes=1)
        rows += [{"time": t, "group": group, "y": 1.0}] * k
        rows += [{"time": t, "group": group, "y": 0.0}] * (n_per_hour - k)
    return pd.DataFrame(rows)


def test_severity_for_picks_the_most_urgent_threshold_reached():
    th = {"warning": 1.5, "critical": 3.0, "page": 10.0}
    assert severity_for(1.4, th) is None
    assert severity_for(1.5, th) == "warning"
    assert severity_for(9.9, th) == "critical"
    assert severity_for(float("inf"), th) == "page"
    assert severity_for(float("nan"), th) is None


def test_bucket_stats_counts_per_group_and_all():
    u = units({3: 0.20})
    u = pd.concat([u, units({}, group="b")])
    st = bucket_stats(u, window(), "y")
    at3 = st[st["bucket"] == START + 3 * H].set_index("group")
    assert at3.loc["a", "n"] == 100 and at3.loc["a", "sum"] == 20
    assert at3.loc[ALL, "n"] == 200 and at3.loc[ALL, "sum"] == 25
    assert at3.loc[ALL, "mean"] == pytest.approx(0.125)


def test_judge_flags_a_significant_rise_with_its_ratio_severity():
    u = units({5: 0.25, 6: 0.12})
    j = judge(bucket_stats(u, window(), "y"), window(), RATE_UP, min_volume=50, min_z=4.0,
              statistic="median", binary=True)
    a = j[j["group"] == "a"].set_index("bucket")
    assert a["baseline"].iloc[0] == pytest.approx(0.05)
    assert a.loc[START + 5 * H, "severity"] == "page"  # 5x >= 4
    assert a.loc[START + 5 * H, "score"] == pytest.approx(5.0)
    # 12 % of 100 is 2.4x but not significant alone (z < 4): no verdict in a single bucket
    assert a.loc[START + 6 * H, "severity"] is None
    assert a.loc[START + 4 * H, "severity"] is None


def test_judge_skips_buckets_under_min_volume_and_without_baseline():
    u = units({5: 0.5}, n_per_hour=20)
    j = judge(bucket_stats(u, window(), "y"), window(), RATE_UP, min_volume=50, min_z=0.0,
              statistic="mean", binary=True)
    assert not j["judged"].any() and j["severity"].isna().all()
    late = u[u["time"] >= START]  # no baseline at all
    j = judge(bucket_stats(late, window(), "y"), window(), RATE_UP, min_volume=10, min_z=0.0,
              statistic="mean", binary=True)
    assert j["baseline"].isna().all() and j["severity"].isna().all()


def test_scan_pools_a_sustained_modest_rise_but_not_its_quiet_neighbours():
    hot = {h: 0.10 for h in range(8, 14)}  # 2x for six hours: each hour alone is z ~ 2
    u = units(hot)
    one = judge(bucket_stats(u, window(), "y"), window(), RATE_UP, min_volume=50, min_z=4.0,
                statistic="mean", binary=True, scan=1)
    assert one[one["group"] == "a"]["severity"].isna().all()
    six = judge(bucket_stats(u, window(), "y"), window(), RATE_UP, min_volume=50, min_z=4.0,
                statistic="mean", binary=True, scan=6)
    fired = six[(six["group"] == "a") & six["severity"].notna()]
    assert sorted(fired["bucket"]) == [START + h * H for h in range(8, 14)]
    assert set(fired["severity"]) == {"critical"}  # pooled 2.0x
    assert (fired["span"] >= 5).all()  # judged on pooled runs, not alone


def test_a_strong_hour_does_not_lend_significance_to_its_neighbours():
    u = units({10: 0.60, 9: 0.06, 11: 0.06})
    j = judge(bucket_stats(u, window(), "y"), window(), RATE_UP, min_volume=50, min_z=4.0,
              statistic="mean", binary=True, scan=6)
    fired = j[(j["group"] == "a") & j["severity"].notna()]
    assert list(fired["bucket"]) == [START + 10 * H]


def test_delta_and_absolute_comparisons_and_min_value():
    down = {"direction": "down", "compare": "delta",
            "thresholds": {"warning": 0.05, "critical": 0.10}}
    u = units({4: 0.80, 5: 0.93}, base_rate=0.95)  # validity 95 % -> 80 %: a 0.15 drop
    j = judge(bucket_stats(u, window(), "y"), window(), down, min_volume=50, min_z=3.0,
              statistic="mean", binary=True).set_index(["group", "bucket"])
    assert j.loc[("a", START + 4 * H), "score"] == pytest.approx(0.15)
    assert j.loc[("a", START + 4 * H), "severity"] == "critical"
    assert j.loc[("a", START + 5 * H), "severity"] is None
    absolute = {"direction": "up", "compare": "absolute", "thresholds": {"warning": 0.02},
                "min_ratio_to_baseline": 3.0}
    u = units({4: 0.05}, base_rate=0.02)  # 5 % is over 2 % but only 2.5x the baseline
    j = judge(bucket_stats(u, window(), "y"), window(), absolute, min_volume=50, min_z=0.0,
              statistic="mean", binary=True)
    assert j["severity"].isna().all()
    spec = dict(RATE_UP, min_value=0.30)
    u = units({4: 0.25})
    j = judge(bucket_stats(u, window(), "y"), window(), spec, min_volume=50, min_z=0.0,
              statistic="mean", binary=True)
    assert j["severity"].isna().all()


def test_baseline_is_pooled_per_day_so_rare_events_do_not_vanish():
    # one event every other hour in 100 units: most hours have none, so a median of hourly
    # rates would say 0; pooled per day it is 12 / 2400
    rows = []
    for h in range(-48, 1):
        t = START + h * H
        rows += [{"time": t, "group": "a", "y": float(i == 0 and h % 2 == 0 and h < 0)}
                 for i in range(100)]
    j = judge(bucket_stats(pd.DataFrame(rows), window(), "y"), window(), RATE_UP,
              min_volume=50, min_z=0.0, statistic="median", binary=True)
    assert j["baseline"].iloc[0] == pytest.approx(0.005)


def test_runs_merge_adjacent_buckets_per_group():
    b = [START + h * H for h in (1, 2, 3, 7, 8)]
    j = pd.DataFrame({"group": ["a"] * 5 + ["b"], "bucket": b + [START + 2 * H],
                      "severity": ["warning", "page", "warning", "critical", None, "warning"],
                      "score": [1.0, 5.0, 1.0, 3.0, 0.0, 1.0]})
    got = [(r["group"].iloc[0], r["bucket"].min(), len(r)) for r in runs(j, H)]
    assert got == [("a", START + H, 3), ("a", START + 7 * H, 1), ("b", START + 2 * H, 1)]


def test_burn_rates_multiwindow_rule_fires_only_when_both_windows_burn():
    rules = [{"long": "1h", "short": "5m", "burn_rate": 14.4, "severity": "page"},
             {"long": "6h", "short": "30m", "burn_rate": 6.0, "severity": "critical"}]
    w = window()
    t = pd.date_range(START - pd.Timedelta(hours=6), START + pd.Timedelta(hours=6), freq="30s",
                      inclusive="left")
    bad = (t >= START + 2 * H) & (t < START + 3 * H)  # every request fails for one hour
    u = pd.DataFrame({"time": t, "timeout": bad.astype(float)})
    table = burn_rates(u, w, 0.99, rules, min_volume=50, step=pd.Timedelta(minutes=5))
    firing = table[table["rule"].notna()]
    page = firing[firing["rule"] == "page:1h/5m"]
    # the 1h window reaches 14.4x (14.4 % bad) after ~9 minutes of failures, and the 5m window
    # stops burning as soon as the failures stop
    assert page["at"].min() == START + 2 * H + pd.Timedelta(minutes=10)
    assert page["at"].max() == START + 3 * H
    assert firing["at"].min() == page["at"].min()
    # the slower 6h/30m rule keeps burning until its 30m window is clean again
    critical = firing[firing["rule"] == "critical:6h/30m"]
    assert critical["at"].min() == START + 3 * H + pd.Timedelta(minutes=5)
    assert critical["at"].max() == START + 3 * H + pd.Timedelta(minutes=25)
    at_end = table.set_index("at").loc[START + 3 * H]
    assert at_end["burn_1h"] == pytest.approx(100.0)
    assert at_end["burn_6h"] == pytest.approx(100.0 / 6, rel=1e-6)
    quiet = table[table["at"] < START + 2 * H]
    assert quiet["rule"].isna().all() and np.allclose(quiet["burn_1h"], 0.0)
