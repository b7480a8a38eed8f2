"""The judging engine on hand-made units: exact tails, segment baselines, pooled sparse hours,
traffic mix, slow-by-design agents, seasonality and earlier incidents in the baseline."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from workbench import runbooks, schema
from workbench.analysis import Judge, agent_budgets, stats, trace_signals, units_for
from workbench.analysis.judge import judge_for

DAY0 = pd.Timestamp("2026-11-02", tz="UTC")
H = pd.Timedelta(hours=1)
D = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def books():
    return runbooks.load_all()


def binom_tail(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p ** i * (1 - p) ** (n - i) for i in range(k, n + 1))


def poisson_tail(k: int, mu: float) -> float:
    return 1.0 - sum(math.exp(-mu) * mu ** i / math.factorial(i) for i in range(k))


@pytest.mark.parametrize("k,n,p", [(3, 50, 0.01), (10, 100, 0.05), (1, 2, 0.01), (7, 7, 0.5)])
def test_rate_tails_are_exact_binomial(k, n, p):
    assert stats.p_upper("rate", k, n * p, n=n) == pytest.approx(binom_tail(k, n, p), rel=1e-9)


@pytest.mark.parametrize("k,mu", [(5, 1.0), (1, 0.1), (20, 10.0)])
def test_count_tails_are_exact_poisson(k, mu):
    assert stats.p_upper("count", k, mu) == pytest.approx(poisson_tail(k, mu), rel=1e-9)


def test_overdispersion_widens_and_nothing_expected_nothing_seen_is_no_evidence():
    assert stats.p_upper("rate", 10, 2.0, n=100, phi=3.0) > stats.p_upper("rate", 10, 2.0, n=100)
    assert stats.p_upper("rate", 0, 0.0, n=10) == 1.0
    assert stats.p_upper("count", 2, 0.0) == 0.0  # events where none are possible: certain
    # a handful of scores is judged with a t tail: far less sure than a normal one
    assert stats.p_upper("mean", 5.0, 0.0, n=4, variance=1.0) > \
        stats.p_upper("mean", 5.0, 0.0, variance=1.0) * 100
    assert stats.overdispersion([1, 2], [1, 2], [1, 2]) == 1.0  # too few buckets to tell


def test_between_spread_finds_a_shared_daily_level_and_nothing_where_there_is_none():
    """Days whose level moves as a whole: the DerSimonian-Laird estimate recovers the variance
    of that level; days that scatter only as their units do give 0, as do too few days."""
    rng = np.random.default_rng(7)
    n = rng.integers(150, 400, size=4000).astype("float64")
    p0, tau = 0.06, 0.02  # a 6 % rate whose days run at 6 % +- 2 points
    level = np.clip(p0 + rng.normal(0.0, tau, size=len(n)), 0.0, 1.0)
    o = rng.binomial(n.astype(int), level).astype("float64")
    v = n * p0 * (1 - p0)
    assert stats.between_spread(o, n * p0, v, n) == pytest.approx(tau ** 2, rel=0.1)
    steady = rng.binomial(n.astype(int), p0).astype("float64")
    assert stats.between_spread(steady, n * p0, v, n) < 0.05 * tau ** 2
    # each day exactly as expected: no spread at all; two days cannot tell
    assert stats.between_spread(n * p0, n * p0, v, n) == 0.0
    assert stats.between_spread(o[:2], n[:2] * p0, v[:2], n[:2]) == 0.0


def test_detectable_ratio_is_the_first_significant_multiple():
    r = stats.detectable_ratio("rate", 12.5, n=250, alpha=1e-5)
    assert stats.p_upper("rate", r * 12.5, 12.5, n=250) <= 1e-5
    assert stats.p_upper("rate", r * 12.5 * 0.97, 12.5, n=250) > 1e-5
    assert stats.detectable_ratio("count", 0.0) == float("inf")


def test_a_rate_no_window_of_its_units_could_show_is_no_size_not_the_cap():
    # 3 scored traces at 5 %: all 3 bad has p = 1.25e-4, never significant at 1e-5
    assert stats.p_upper("rate", 3, 0.15, n=3) > 1e-5
    assert stats.detectable_ratio("rate", 0.15, n=3, alpha=1e-5) == float("inf")
    assert stats.detectable_ratio("rate", 0.05, n=1, alpha=1e-5) == float("inf")
    # 7 at 5 %: 5 of 7 bad is significant, so a finite size short of all of them
    r = stats.detectable_ratio("rate", 0.35, n=7, alpha=1e-5)
    assert 0.35 * r < 7 and stats.p_upper("rate", np.ceil(0.35 * r), 0.35, n=7) <= 1e-5


# -- units by hand ---------------------------------------------------------------------------

def units(rows: list[dict], baseline: tuple[pd.Timestamp, pd.Timestamp] | None = None
          ) -> pd.DataFrame:
    """Traces from row dicts (time, agent, duration, cost, status, ...) through the real
    signals layer (budgets from the ``baseline`` period, else from all of them)."""
    t = pd.DataFrame(rows)
    n = len(t)
    t = t.assign(trace_id=[f"{i:032x}" for i in range(n)],
                 name=t.get("agent", "a"), environment="production",
                 end_time=t["start_time"] + pd.to_timedelta(t["duration_s"], unit="s"),
                 input_tokens=100, output_tokens=20, total_tokens=120,
                 n_observations=2, n_generations=1, n_tool_calls=0,
                 n_errors=(t["status"] != "ok").astype(int))
    traces = schema.conform(t, "traces")
    return trace_signals(traces, None, None, runbooks.load_all(),
                         budgets=agent_budgets(traces, runbooks.load_all(), baseline))


def traffic(days: int, per_hour, agent: str = "a", duration=2.0, cost=0.01,
            status=lambda t, i: "ok", seed: int = 0) -> list[dict]:
    """``per_hour(hour_of_day)`` traces each hour for ``days`` days from DAY0 - 7 d."""
    rng = np.random.default_rng(seed)
    rows = []
    start = DAY0 - 7 * D
    for h in range(days * 24):
        t0 = start + h * H
        for i in range(per_hour(t0.hour) if callable(per_hour) else per_hour):
            t = t0 + pd.Timedelta(seconds=float(rng.uniform(0, 3599)))
            dur = duration(t, rng) if callable(duration) else duration
            c = cost(t, rng) if callable(cost) else cost * float(rng.lognormal(0, 0.3))
            rows.append({"start_time": t, "agent": agent, "duration_s": dur, "cost_usd": c,
                         "status": status(t, i)})
    return rows


def night(hour: int) -> int:
    """Deep night troughs: 2 traces an hour at night, 30 by day."""
    return 2 if hour < 7 or hour >= 22 else 30


def test_a_change_spread_over_sparse_night_hours_is_found_by_pooling(books):
    # timeouts: 1 % normally; from 00:00 to 06:00 on the judged day every other trace
    def status(t, i):
        if DAY0 <= t < DAY0 + 6 * H:
            return "timeout" if i % 2 == 0 else "ok"
        return "timeout" if (t.value // 1000) % 100 == 0 else "ok"  # about 1 %
    u = units(traffic(8, night, status=status))
    j = Judge(books["timeout_surge"], u, DAY0, DAY0 + D)
    # no single night hour of two traces is significant on its own
    assert not any(j.interval("timeout_rate", DAY0 + k * H, DAY0 + (k + 1) * H).significant
                   for k in range(6))
    found = j.scan("timeout_rate")
    assert len(found) == 1
    assert (found[0].start, found[0].end) == (DAY0, DAY0 + 6 * H)
    assert found[0].units == 12 and found[0].events == 6
    assert j.shortest("timeout_rate", found[0]) > H


def test_a_shift_in_traffic_mix_is_not_a_cost_spike(books):
    # an expensive agent's share of traffic triples in the evening, every day, judged day too
    cheap = traffic(8, 20, agent="cheap", cost=0.002, seed=1)
    pricey = traffic(8, lambda h: 30 if h >= 18 else 10, agent="pricey", cost=0.05, seed=2)
    u = units(cheap + pricey)
    rb = books["cost_spike"]
    j = Judge(rb, u, DAY0, DAY0 + D)
    evening = j.interval("cost_per_request", DAY0 + 18 * H, DAY0 + 24 * H)
    naive = u[(u["time"] >= DAY0) & (u["time"] < DAY0 + 18 * H)]["cost"].mean()
    assert evening.observed > 1.6 * naive  # all traffic does cost more per request at night...
    assert evening.ratio == pytest.approx(1.0, abs=0.15)  # ...as expected for that mix
    assert j.scan("cost_per_request") == []


def test_an_agent_slow_by_design_is_judged_against_its_own_budget(books):
    slow = traffic(8, 10, agent="research", duration=lambda t, r: float(r.uniform(9, 20)))
    fast = traffic(8, 30, agent="chat", duration=lambda t, r: float(r.uniform(0.5, 3)))
    traces_units = units(slow + fast)
    budgets = traces_units.attrs["budgets"]
    assert budgets.of("chat") == 8.0 and budgets.of("research") == 20.0
    assert any("research runs past the 8 s budget" in n for n in budgets.notes)
    j = Judge(books["timeout_surge"], traces_units, DAY0, DAY0 + D)
    assert j.interval("timeout_rate", DAY0, DAY0 + D, "research").observed < 0.05
    assert all(j.scan(s, g) == [] for s in j.signals() for g in j.groups())


def test_a_slow_by_design_agent_running_slower_is_slow_not_timing_out(books):
    """Past its own p99 (a derived budget) a run is slow, which the latency signals judge; its
    timeouts are the ones it reported. A loop that doubles its runs' time is no timeout surge."""
    def duration(t, r):
        return float(r.uniform(9, 20)) * (3 if t >= DAY0 + 10 * H else 1)

    def status(t, i):
        return "timeout" if t >= DAY0 + 10 * H and i == 0 else "ok"

    u = units(traffic(8, 10, agent="research", duration=duration, status=status),
              baseline=(DAY0 - 7 * D, DAY0))
    assert u.attrs["budgets"].of("research") == 20.0
    day = u[u["time"] >= DAY0 + 10 * H]
    assert day["near_timeout"].eq(1.0).mean() > 0.9
    # only the reported ones: one an hour
    assert day["timeout"].sum() == day["timeout_reported"].sum() == 14
    assert set(day.loc[day["timeout"] > 0, "timeout_reason"]) == {"reported"}
    j = Judge(books["timeout_surge"], u, DAY0, DAY0 + D)
    found = {s for s in j.signals() for g in j.groups() if j.scan(s, g)}
    assert "latency_p95" in found and "timeout_rate" in found  # 10 % reported against none
    assert j.interval("timeout_rate", DAY0 + 10 * H, DAY0 + D, "research").observed \
        == pytest.approx(0.1)


def test_a_slow_day_in_the_baseline_does_not_stretch_a_derived_budget(books):
    """The budget leaves out a baseline day that stands apart: an incident five days ago, its
    runs up to 60 s, leaves a 9-20 s agent judged against 20 s (the pooled p99 would be ~55 s,
    and a repeat of that incident would barely show)."""
    slow_day = DAY0 - 5 * D

    def duration(t, r):
        return float(r.uniform(9, 20)) * (3 if slow_day <= t < slow_day + D else 1)

    rows = traffic(7, 10, agent="research", duration=duration)
    u = units(rows, baseline=(DAY0 - 7 * D, DAY0))
    pooled = float(np.quantile([r["duration_s"] for r in rows], 0.99))
    assert pooled > 50
    assert u.attrs["budgets"].of("research") == 20.0
    # fewer than three days to tell one apart: the pooled p99 (two days of 9-20 s runs)
    two = traffic(2, 10, agent="research", duration=lambda t, r: float(r.uniform(9, 20)))
    assert units(two, baseline=(DAY0 - 7 * D, DAY0)).attrs["budgets"].of("research") == \
        float(np.ceil(np.quantile([r["duration_s"] for r in two], 0.99)))


def test_a_derived_budget_is_the_p99_of_ordinary_days_pooled(books):
    """Days alike are pooled: each day's p99 is its few slowest runs, and their median sits
    below the agent's p99, which would put its own usual tail over the near-timeout line."""
    rows = traffic(7, 12, agent="research",
                   duration=lambda t, r: 9.0 + float(r.lognormal(1.5, 0.6)))
    durations = pd.Series([r["duration_s"] for r in rows])
    days = pd.Series([r["start_time"].floor("D") for r in rows])
    median_of_days = float(durations.groupby(days).quantile(0.99).median())
    pooled = float(np.ceil(durations.quantile(0.99)))
    assert np.ceil(median_of_days) < pooled  # the two rules differ on this traffic
    u = units(rows, baseline=(DAY0 - 7 * D, DAY0))
    assert u.attrs["budgets"].of("research") == pooled


def test_several_slow_agents_budgets_are_said_in_one_line():
    from workbench.analysis.signals import Budgets

    b = Budgets(derived={"research": 53.0, "claims": 29.0},
                over={"research": 0.95, "claims": 0.96},
                notes_by_agent={"research": "research note", "claims": "claims note"})
    assert b.notes == [
        "2 agents run past the 8 s budget in much of their baseline traffic, so each is judged "
        "against its own p99 and its timeouts are only those it reported: claims 29 s (96% "
        "past), research 53 s (95% past) (set budget.per_agent.<agent> in the timeout_surge "
        "runbook)"]
    one = Budgets(derived={"research": 53.0}, over={"research": 0.95},
                  notes_by_agent={"research": "research note"})
    assert one.notes == ["research note"]


def test_budgets_set_per_agent_in_the_runbook_win(books):
    rb = books["timeout_surge"]
    spec = {**rb.spec, "budget": {**rb.spec["budget"], "per_agent": {"research": 30}}}
    custom = runbooks.Runbook(name=rb.name, path=rb.path, spec=spec)
    rows = traffic(2, 5, agent="research", duration=25.0)
    t = pd.DataFrame(rows).assign(trace_id=lambda d: [f"{i:032x}" for i in range(len(d))])
    b = agent_budgets(schema.conform(t.assign(
        name="x", environment="p", end_time=t["start_time"], input_tokens=0, output_tokens=0,
        total_tokens=0, n_observations=1, n_generations=0, n_tool_calls=0, n_errors=0),
        "traces"), {"timeout_surge": custom})
    assert b.of("research") == 30.0 and b.derived == {}


def test_cost_per_request_is_expected_per_hour_of_day_when_seasonal(books):
    # every night, requests are 3x dearer (long batch conversations): not a spike at night
    cost = lambda t, r: (0.03 if t.hour < 6 else 0.01) * float(r.lognormal(0, 0.3))  # noqa: E731
    u = units(traffic(8, 20, cost=cost))
    j = Judge(books["cost_spike"], u, DAY0, DAY0 + D)
    night_iv = j.interval("cost_per_request", DAY0, DAY0 + 6 * H)
    assert night_iv.ratio == pytest.approx(1.0, abs=0.2)
    assert j.scan("cost_per_request") == []


def test_an_earlier_incident_in_the_baseline_does_not_raise_the_bar(books):
    # a strong three-hour cost incident two days before; a 2x one on the judged day
    def cost(t, r):
        base = 0.01 * float(r.lognormal(0, 0.3))
        if DAY0 - 2 * D + 10 * H <= t < DAY0 - 2 * D + 13 * H:
            return base * 40
        if DAY0 + 10 * H <= t < DAY0 + 14 * H:
            return base * 2.5
        return base
    u = units(traffic(8, 30, cost=cost))
    j = Judge(books["cost_spike"], u, DAY0, DAY0 + D)
    assert j.prepared("cost_per_request").expectation.dropped_hours >= 3
    found = j.scan("cost_per_request")
    assert found and (found[0].start, found[0].end) == (DAY0 + 10 * H, DAY0 + 14 * H)
    assert found[0].ratio == pytest.approx(2.5, rel=0.2)


def test_the_baseline_is_the_whole_days_before_the_judged_day(books):
    u = units(traffic(8, 5))
    j = Judge(books["cost_spike"], u, DAY0 + 9 * H, DAY0 + 12 * H)
    assert (j.baseline_start, j.baseline_end) == (DAY0 - 7 * D, DAY0)
    # the same hours judged from a day-long window give the same verdict
    whole = Judge(books["cost_spike"], u, DAY0, DAY0 + D)
    a = j.interval("cost_per_request", DAY0 + 9 * H, DAY0 + 12 * H)
    b = whole.interval("cost_per_request", DAY0 + 9 * H, DAY0 + 12 * H)
    assert (a.observed, a.expected, a.p_value) == (b.observed, b.expected, b.p_value)


def test_what_a_window_can_tell_apart_grows_with_its_volume(books):
    def status(t, i):
        return "timeout" if (t.value // 1000) % 50 == 0 else "ok"  # about 2 %
    small = Judge(books["timeout_surge"], units(traffic(8, 3, status=status)), DAY0, DAY0 + D)
    big = Judge(books["timeout_surge"], units(traffic(8, 60, status=status)), DAY0, DAY0 + D)
    assert 1.0 < big.detectable("timeout_rate") < small.detectable("timeout_rate")
    assert big.detectable("timeout_rate") < 3.0  # 1,440 traces, 2 %: a 2.5x change shows


def test_an_agent_too_small_to_judge_is_told_by_its_volume_not_by_rare_events(books):
    """Beside a busy agent at ~2 % timeouts, one agent sends a trace every other hour (12 a
    day) and another as many as the busy one but never times out. The small one's traffic
    could not show a page-size timeout change (40x at the least); the one that never times out
    has the volume to, so it is not called small."""
    from workbench.analysis.detect import too_little_traffic

    def status(t, i):
        return "timeout" if (t.value // 1000) % 50 == 0 else "ok"
    rows = traffic(8, 20, agent="busy", status=status) + \
        traffic(8, lambda h: h % 2, agent="small", status=status, seed=1) + \
        traffic(8, 20, agent="steady", seed=2)
    u = units(rows)
    j = Judge(books["timeout_surge"], u, DAY0, DAY0 + D)
    n_all = j.window_units("timeout_rate")
    assert j.detectable_at("timeout_rate", n_all) == pytest.approx(j.detectable("timeout_rate"))
    assert j.detectable_at("timeout_rate", 12) > 10.0 > j.detectable_at("timeout_rate", 480)
    assert j.interval("timeout_rate", DAY0, DAY0 + D, "steady").expected < 0.001
    assert too_little_traffic(j) == {"small": 12}
    assert too_little_traffic(j, 1e-3) == {"small": 12}
    # 12 traces of steady cost per request could show a 1.7x change, under its 5x page size
    cost = Judge(books["cost_spike"], u, DAY0, DAY0 + D)
    assert too_little_traffic(cost) == {} == too_little_traffic(cost, 1e-3)


def test_what_an_agents_traffic_could_show_is_what_the_scan_finds(books):
    """A small agent (2 traces an hour) beside a busy one: the smallest cost change its six
    hours could show is what the scan finds. Its cost at 1.4 times that ratio for six hours is
    found; at 0.6 times it, it is not. An hour of it, two traces, cannot show any change."""
    from workbench.analysis.detect import sensitivity

    def rows(factor):
        def cost(t, r):
            base = 0.01 * float(r.lognormal(0, 0.3))
            return base * factor if DAY0 + 12 * H <= t < DAY0 + 18 * H else base
        return traffic(8, 20, agent="busy") + traffic(8, 2, agent="small", cost=cost, seed=1)

    quiet = Judge(books["cost_spike"], units(rows(1.0)), DAY0, DAY0 + D)
    table = {(r["agent"], r["signal"]): r for r in sensitivity(quiet)}
    small, busy = table[("small", "cost_per_request")], table[("busy", "cost_per_request")]
    assert small["units"] == 48 and busy["units"] == 480
    assert small["1h"] == float("inf") and small["6h"] > small["window"] > 1.0
    assert busy["1h"] < 2.0 and busy["6h"] < small["6h"] and busy["window"] < small["window"]
    assert quiet.smallest_finding("cost_per_request", None, "small") == small["window"]
    r6 = small["6h"]
    assert 1.5 < r6 < 5.0, r6
    seen = Judge(books["cost_spike"], units(rows(1.4 * r6)), DAY0, DAY0 + D)
    found = seen.scan("cost_per_request", "small")
    assert found and found[0].start >= DAY0 + 12 * H and found[0].end <= DAY0 + 18 * H
    missed = Judge(books["cost_spike"], units(rows(0.6 * r6)), DAY0, DAY0 + D)
    assert missed.scan("cost_per_request", "small") == []


# -- new versions and unattainable SLOs ---------------------------------------------------------

def _judged_traffic(days, per_hour, version_of, hallucinated, seed=3):
    """Traces of agent ``support`` with one generation each (prompt ``answer`` at
    ``version_of(t)``), every one scored; ``hallucinated(t, version, rng)`` says which."""
    rng = np.random.default_rng(seed)
    t_rows, o_rows, s_rows = [], [], []
    start = DAY0 - 7 * D
    for h in range(days * 24):
        t0 = start + h * H
        for i in range(per_hour):
            t = t0 + pd.Timedelta(seconds=float(rng.uniform(0, 3500)))
            tid, oid = f"{len(t_rows):032x}", f"{len(t_rows):016x}"
            v = version_of(t)
            t_rows.append({"trace_id": tid, "start_time": t, "agent": "support"})
            o_rows.append({"trace_id": tid, "observation_id": oid, "start_time": t,
                           "end_time": t + pd.Timedelta(seconds=2), "duration_s": 2.0,
                           "name": "answer", "type": "generation", "level": "DEFAULT",
                           "agent": "support", "environment": "production", "model": "m",
                           "prompt_name": "answer", "prompt_version": v, "input_tokens": 10,
                           "output_tokens": 5, "total_tokens": 15, "cost_usd": 0.001})
            bad = hallucinated(t, v, rng)
            s_rows.append({"score_id": f"s{tid}", "trace_id": tid,
                           "timestamp": t + pd.Timedelta(minutes=2), "name": "Hallucination",
                           "value": 0.9 if bad else 0.1, "data_type": "NUMERIC",
                           "source": "EVAL"})
    obs = schema.conform(pd.DataFrame(o_rows), "observations")
    return (schema.traces_from_observations(obs), obs,
            schema.conform(pd.DataFrame(s_rows), "scores"))


def _release_day(around: float):
    """Version 9 ships 09:00-17:00 and hallucinates 35 % of the time; version 8 runs at 6 %,
    and at ``around`` in the four hours either side of the release."""
    def bad(t, v, rng):
        near = DAY0 + 5 * H <= t < DAY0 + 9 * H or DAY0 + 17 * H <= t < DAY0 + 21 * H
        return rng.random() < (0.35 if v == 9 else around if near else 0.06)

    return _judged_traffic(8, 12, lambda t: 9 if DAY0 + 9 * H <= t < DAY0 + 17 * H else 8,
                           bad, seed=5)


def test_a_new_prompt_version_is_judged_on_its_own_traffic(books):
    from workbench.analysis import detect

    # 6 % hallucinate; version 9 ships at 09:00 on the judged day and nearly triples it: over
    # its ~100 scored traces that is not significant for the hourly scan, but it is for the
    # one test a new version gets
    def bad(t, v, rng):
        return rng.random() < (0.17 if v == 9 else 0.06)
    t, o, s = _judged_traffic(8, 12, lambda t: 9 if DAY0 + 9 * H <= t < DAY0 + 17 * H else 8,
                              bad)
    found = [f for f in detect(books["hallucination_spike"], t, o, s, DAY0, DAY0 + D)
             if f.status == "firing"]
    new = [f for f in found if f.labels.get("prompt_version") == "9"]
    assert new, [f.summary for f in found]
    f = new[0]
    # the one agent that runs the version owns the finding (alerts group and match on it)
    assert f.labels == {"agent": "support", "prompt_version": "9", "prompt_name": "answer"}
    assert (f.start, f.end) == (DAY0 + 9 * H, DAY0 + 17 * H)
    assert 1e-5 < f.p_value <= 0.01 and f.observed > 1.5 * f.baseline
    assert "New prompt_version=9 in prompt_name=answer" in f.summary
    # a new version as good as the old one raises nothing
    t, o, s = _judged_traffic(8, 12, lambda t: 9 if t >= DAY0 + 9 * H else 8,
                              lambda t, v, rng: rng.random() < 0.06)
    assert not [f for f in detect(books["hallucination_spike"], t, o, s, DAY0, DAY0 + D)
                if f.status == "firing"]


def test_a_finding_a_new_version_carries_starts_when_the_version_shipped(books):
    from workbench.analysis import detect

    # the version 8 hours around the release run a little high by chance, below any finding
    # of their own, and pull the scanned window wider than the release
    t, o, s = _release_day(around=0.14)
    book = books["hallucination_spike"]
    units = units_for({"hallucination_spike": book}, t, o, s, DAY0)
    judge = judge_for(book, units, DAY0, DAY0 + D)
    scanned = judge.scan("hallucination_rate", "support")[0]
    assert scanned.start < DAY0 + 9 * H or scanned.end > DAY0 + 17 * H
    found = [f for f in detect(book, t, o, s, DAY0, DAY0 + D)
             if f.status == "firing" and f.signal == "hallucination_rate"
             and f.labels.get("agent") == "support"]
    assert len(found) == 1
    f = found[0]
    assert (f.start, f.end) == (DAY0 + 9 * H, DAY0 + 17 * H)
    assert (f.suspects[0].dimension, f.suspects[0].value) == ("prompt_version", "9")
    # its figures are the judge's over those hours, as a notebook opened on them shows
    iv = judge.interval("hallucination_rate", f.start, f.end, "support")
    assert (f.observed, f.baseline, f.p_value) == (iv.observed, iv.expected, iv.p_value)
    assert "over 2026-11-02 09:00–17:00 UTC" in f.summary
    # what shipped, and when: the version's first trace
    first = t.loc[o.set_index("trace_id").loc[t["trace_id"], "prompt_version"].to_numpy() == 9,
                  "start_time"].min()
    assert f.summary.endswith(f"; prompt_version=9 in prompt_name=answer is new since the "
                              f"baseline, first seen {first:%Y-%m-%d %H:%M} UTC")


def test_an_agent_missing_its_slo_in_its_baseline_gets_no_burn_alerts(books):
    from workbench.analysis import detect

    # 3 % of an agent's requests always time out: a 99 % SLO would burn every day
    rows = traffic(8, 20, status=lambda t, i: "timeout" if (t.value // 1000) % 33 == 0
                   else "ok")
    t = pd.DataFrame(rows)
    n = len(t)
    traces = schema.conform(t.assign(
        trace_id=[f"{i:032x}" for i in range(n)], name="a", environment="production",
        end_time=t["start_time"] + pd.to_timedelta(t["duration_s"], unit="s"),
        input_tokens=1, output_tokens=1, total_tokens=2, n_observations=1, n_generations=1,
        n_tool_calls=0, n_errors=(t["status"] != "ok").astype(int)), "traces")
    found = detect(books["timeout_surge"], traces, None, None, DAY0, DAY0 + D)
    assert not [f for f in found if f.signal == "slo_burn_rate"]
    assert not [f for f in found if f.status == "firing"]


def test_a_new_version_that_alone_carries_the_excess_is_named_first(books):
    from workbench.analysis import detect

    # the hours around the release run high on version 8 too (a change of their own), so the
    # scanned window is wider than the release and the model every trace uses explains more of
    # that window than the version does
    t, o, s = _release_day(around=0.25)
    found = [f for f in detect(books["hallucination_spike"], t, o, s, DAY0, DAY0 + D)
             if f.status == "firing" and f.signal == "hallucination_rate"]
    assert found, "no finding"
    f = found[0]
    assert f.start < DAY0 + 9 * H or f.end > DAY0 + 17 * H  # wider than the release
    top = f.suspects[0]
    assert (top.dimension, top.value, top.within) == ("prompt_version", "9",
                                                      {"prompt_name": "answer"})
    assert 0 < top.contribution < 1 and top.incident > 4 * top.baseline
    # the model every trace ran before and runs now tells no trace apart: no suspect, though
    # it explains the whole window's excess
    assert [(x.dimension, x.value) for x in f.suspects[1:]] == [("prompt_version", "8")]

    # the hours around are a change of their own (at canary_alpha over the scan's 24 possible
    # edges): the window keeps them
    judge = judge_for(books["hallucination_spike"], units_for(
        {"hallucination_spike": books["hallucination_spike"]}, t, o, s, DAY0), DAY0, DAY0 + D)
    assert min(judge.interval("hallucination_rate", f.start, DAY0 + 9 * H, "support").p_value,
               judge.interval("hallucination_rate", DAY0 + 17 * H, f.end, "support").p_value) \
        <= 0.01 / 24

    # when the rest of the traffic is as bad over the same hours, the version is not singled
    # out: something both versions go through broke
    def both(t, v, rng):
        return rng.random() < (0.35 if DAY0 + 9 * H <= t < DAY0 + 17 * H else 0.06)

    t, o, s = _judged_traffic(8, 12, lambda t: 9 if DAY0 + 9 * H <= t < DAY0 + 17 * H
                              and int(t.value) % 2 else 8, both, seed=5)
    found = [f for f in detect(books["hallucination_spike"], t, o, s, DAY0, DAY0 + D)
             if f.status == "firing" and f.signal == "hallucination_rate"]
    assert found and found[0].suspects
    # what both go through (the model, the prompt every trace runs) tells no trace apart; both
    # versions are listed, the new one not first, each far above what its traces expect
    got = {x.value: x for x in found[0].suspects if x.dimension == "prompt_version"}
    assert found[0].suspects[0].value != "9" and set(got) == {"8", "9"}
    assert all(x.incident > 3 * x.baseline for x in got.values())


def test_totals_are_the_sums_an_interval_divides(books):
    # a cost spike of 2.5x between 10:00 and 14:00 on the judged day
    def cost(t, r):
        base = 0.01 * float(r.lognormal(0, 0.3))
        return base * 2.5 if DAY0 + 10 * H <= t < DAY0 + 14 * H else base
    u = units(traffic(8, 30, cost=cost))
    j = Judge(books["cost_spike"], u, DAY0, DAY0 + D)
    a, b = DAY0 + 10 * H, DAY0 + 14 * H
    iv, tot = j.interval("cost_per_request", a, b), j.totals("cost_per_request", a, b)
    in_window = u[(u["time"] >= a) & (u["time"] < b)]
    assert tot.units == iv.units == len(in_window) == 120
    assert tot.value == pytest.approx(in_window["cost"].sum(), rel=1e-12)  # dollars spent
    assert tot.value / tot.units == pytest.approx(iv.observed, rel=1e-12)
    assert tot.expected / tot.units == pytest.approx(iv.expected, rel=1e-12)
    assert tot.excess == pytest.approx(tot.value * (1 - 1 / 2.5), rel=0.2)
    # a quiet window's excess is noise around zero; a rate's totals count events
    quiet = j.totals("cost_per_request", DAY0, DAY0 + 9 * H)
    assert abs(quiet.excess) < 0.1 * quiet.value
    def status(t, i):
        return "timeout" if DAY0 + 3 * H <= t < DAY0 + 4 * H and i < 10 else "ok"
    tj = Judge(books["timeout_surge"], units(traffic(8, 30, status=status)), DAY0, DAY0 + D)
    rate = tj.totals("timeout_rate", DAY0 + 3 * H, DAY0 + 4 * H)
    assert (rate.units, rate.value) == (30, 10.0) and rate.expected < 1.0


def _agent_week(seed: int, calls) -> pd.DataFrame:
    """Eight days of one agent, 20 traces an hour; ``calls(t, in_window, rng)`` gives each
    trace's calls one after another as (name, type, model, duration, cost), ``in_window`` when
    the trace starts from 10:00 to 16:00 on the judged day."""
    rng = np.random.default_rng(seed)
    o_rows = []
    for h in range(8 * 24):
        t0 = DAY0 - 7 * D + h * H
        for _ in range(20):
            t = t0 + pd.Timedelta(seconds=float(rng.uniform(0, 3500)))
            tid = f"{len(o_rows) // 3:032x}"
            for name, typ, model, d, cost in calls(t, DAY0 + 10 * H <= t < DAY0 + 16 * H, rng):
                o_rows.append({
                    "trace_id": tid, "observation_id": f"{len(o_rows):016x}",
                    "start_time": t, "end_time": t + pd.Timedelta(seconds=d), "duration_s": d,
                    "name": name, "type": typ, "level": "DEFAULT", "agent": "triage",
                    "environment": "production", "model": model,
                    "tool_name": name if typ == "tool" else None, "input_tokens": 100,
                    "output_tokens": 10, "total_tokens": 110, "cost_usd": cost})
                t += pd.Timedelta(seconds=d)
    return schema.conform(pd.DataFrame(o_rows), "observations")


def test_a_cost_spike_is_put_on_the_model_whose_calls_got_dearer(books):
    from workbench.analysis import detect

    # every trace of the agent calls the tool search_kb, a cheap model and gpt-4o; from 10:00
    # to 16:00 on the judged day only gpt-4o's calls cost three times as much
    def calls(t, in_window, rng):
        dear = 3.0 if in_window else 1.0
        return [("search_kb", "tool", None, 1.0, None),
                ("route", "generation", "gpt-4.1-nano", 1.0,
                 0.0004 * float(rng.lognormal(0, 0.2))),
                ("answer", "generation", "gpt-4o", 1.0,
                 0.012 * dear * float(rng.lognormal(0, 0.2)))]

    obs = _agent_week(11, calls)
    traces = schema.traces_from_observations(obs)
    found = [f for f in detect(books["cost_spike"], traces, obs, None, DAY0, DAY0 + D)
             if f.status == "firing" and f.signal == "cost_per_request"]
    assert found, "no finding"
    f = found[0]
    top = f.suspects[0]
    assert (top.dimension, top.value, top.within) == ("model", "gpt-4o", {"agent": "triage"})
    assert 0.9 < top.contribution <= 1.0 and top.incident > 2 * top.baseline
    # the cheap model spent no more than before: it explains nothing and is not listed
    assert "gpt-4.1-nano" not in {s.value for s in f.suspects}


def test_what_ran_before_and_runs_now_is_no_suspect_but_a_new_release_is(books):
    """A release and an environment every trace ran in the baseline and runs in the window
    explain nothing ("release=1.9.0 (100 %)" reads as a release that shipped), nor does the
    agent a finding is scoped to; a release new in the window stays a suspect."""
    from workbench.analysis import detect

    def calls(t, in_window, rng):
        return [("answer", "generation", "gpt-4o", 1.0,
                 0.012 * (3.0 if in_window else 1.0) * float(rng.lognormal(0, 0.2)))]

    def cost_suspects(obs: pd.DataFrame) -> list[tuple]:
        traces = schema.traces_from_observations(obs)
        found = [f for f in detect(books["cost_spike"], traces, obs, None, DAY0, DAY0 + D)
                 if f.status == "firing" and f.signal == "cost_per_request"]
        assert found and found[0].labels.get("agent") == "triage", found
        return [(s.dimension, s.value) for s in found[0].suspects]

    obs = _agent_week(12, calls).assign(release="1.9.0")
    same = cost_suspects(schema.conform(obs, "observations"))
    assert same[0] == ("model", "gpt-4o")
    assert not {d for d, _ in same} & {"release", "environment", "agent"}, same
    shipped = obs["start_time"] >= DAY0 + 10 * H
    new = cost_suspects(schema.conform(obs.assign(release=obs["release"].where(~shipped, "2.0.0")),
                                       "observations"))
    assert ("release", "2.0.0") in new and ("environment", "production") not in new, new


def test_a_hallucination_spike_names_no_value_every_trace_carries(books):
    """The model and the prompt every scored trace ran before and runs now tell no trace
    apart: after the new prompt version, nothing pads the list at "100 %"; its figures are its
    own traces' rate and what the baseline expects of them."""
    from workbench.analysis import detect

    t, o, s = _release_day(around=0.06)
    found = [f for f in detect(books["hallucination_spike"], t, o, s, DAY0, DAY0 + D)
             if f.status == "firing" and f.signal == "hallucination_rate"]
    assert found and found[0].labels == {"agent": "support"}, found
    f = found[0]
    assert [(x.dimension, x.value, x.within) for x in f.suspects] == [
        ("prompt_version", "9", {"prompt_name": "answer"})]
    # 35 % of version 9's scored traces hallucinate, against the agent's usual 6 %
    bad = s.assign(bad=s["value"] > 0.5).set_index("trace_id")["bad"]
    version = o.set_index("trace_id")["prompt_version"].astype(str)
    when = o.set_index("trace_id")["start_time"]
    mine = (version == "9") & (when >= f.start) & (when < f.end)
    before = when < DAY0
    top = f.suspects[0]
    assert (f.start, f.end) == (DAY0 + 9 * H, DAY0 + 17 * H)
    assert top.incident == pytest.approx(bad[mine.index[mine]].mean(), rel=1e-12)
    assert top.incident == pytest.approx(0.34375, rel=1e-12)
    assert top.baseline == pytest.approx(bad[before.index[before]].mean(), abs=0.005)


def _mixed_day(bad_b_on_8: float):
    """Eight days of agent ``support``, 16 scored traces an hour, each in production (85 %) or
    staging, on model ``a`` or ``b`` at random; from 09:00 to 17:00 on the judged day half of
    them run prompt version 9, which hallucinates 40 % of the time. Elsewhere answers are bad
    6 % of the time, except version 8's on model ``b`` in those hours: ``bad_b_on_8``."""
    rng = np.random.default_rng(11)
    o_rows, s_rows = [], []
    for h in range(8 * 24):
        t0 = DAY0 - 7 * D + h * H
        for _ in range(16):
            t = t0 + pd.Timedelta(seconds=float(rng.uniform(0, 3500)))
            tid = f"{len(o_rows):032x}"
            shipped = DAY0 + 9 * H <= t < DAY0 + 17 * H
            v = 9 if shipped and rng.random() < 0.5 else 8
            model = "b" if rng.random() < 0.5 else "a"
            p_bad = 0.4 if v == 9 else bad_b_on_8 if shipped and model == "b" else 0.06
            o_rows.append({"trace_id": tid, "observation_id": f"{len(o_rows):016x}",
                           "start_time": t, "end_time": t + pd.Timedelta(seconds=2),
                           "duration_s": 2.0, "name": "answer", "type": "generation",
                           "level": "DEFAULT", "agent": "support",
                           "environment": "staging" if rng.random() < 0.15 else "production",
                           "model": model, "prompt_name": "answer", "prompt_version": v,
                           "input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
                           "cost_usd": 0.001})
            s_rows.append({"score_id": f"s{tid}", "trace_id": tid,
                           "timestamp": t + pd.Timedelta(minutes=2), "name": "Hallucination",
                           "value": 0.9 if rng.random() < p_bad else 0.1,
                           "data_type": "NUMERIC", "source": "EVAL"})
    obs = schema.conform(pd.DataFrame(o_rows), "observations")
    return (schema.traces_from_observations(obs), obs,
            schema.conform(pd.DataFrame(s_rows), "scores"))


@pytest.mark.parametrize("bad_b_on_8", [0.06, 0.4])
def test_later_suspects_carry_what_the_first_leaves_unexplained(books, bad_b_on_8):
    """After the cause, a value is listed only where it carries part of the change the cause
    does not explain: not production (85 % of the excess from 85 % of the traffic), staging or
    a model half the traces ran, but a second cause (model ``b`` failing on the old version
    too) stays beside the first, and production does not go before them."""
    from workbench.analysis import detect

    t, o, s = _mixed_day(bad_b_on_8)
    found = [f for f in detect(books["hallucination_spike"], t, o, s, DAY0, DAY0 + D)
             if f.status == "firing" and f.signal == "hallucination_rate"
             and f.labels == {"agent": "support"}]
    assert found, "no finding"
    named = [(x.dimension, x.value) for x in found[0].suspects]
    if bad_b_on_8 == 0.06:
        assert named == [("prompt_version", "9")]
        return
    # two causes: production explains most of the excess (it holds most of both), but
    # runs no worse than the scope, so the version goes first and the model stays; the old
    # version, the rest of the traffic, carries the model's part
    assert named[:2] == [("prompt_version", "9"), ("model", "b")]
    assert 0.1 < found[0].suspects[1].contribution < 0.9
    assert not {("environment", "production"), ("environment", "staging"),
                ("model", "a")} & set(named), named


def test_a_model_new_since_the_baseline_is_one_suspect_with_its_traces_figures(books):
    """A model that replaced gpt-4o at 10:00 and costs three times as much: named once (not
    also unscoped beside its agent's finding), and shown, like every row, as its traces' cost
    per request against what the baseline expects of them: never $0 for "new"."""
    from workbench.analysis import detect

    def calls(t, in_window, rng):
        return [("search_kb", "tool", None, 1.0, None),
                ("route", "generation", "gpt-4.1-nano", 1.0,
                 0.0004 * float(rng.lognormal(0, 0.2))),
                ("answer", "generation", "gpt-4o-next" if in_window else "gpt-4o", 1.0,
                 0.012 * (3.0 if in_window else 1.0) * float(rng.lognormal(0, 0.2)))]

    obs = _agent_week(11, calls)
    traces = schema.traces_from_observations(obs)
    found = [f for f in detect(books["cost_spike"], traces, obs, None, DAY0, DAY0 + D)
             if f.status == "firing" and f.signal == "cost_per_request"]
    assert found and found[0].labels == {"agent": "triage"}, found
    f = found[0]
    assert [x.label for x in f.suspects] == ["model=gpt-4o-next in agent=triage",
                                             "tool_name=search_kb in agent=triage"]
    cost = obs.groupby("trace_id")["cost_usd"].sum()
    when = obs.groupby("trace_id")["start_time"].min()
    window = cost[(when >= f.start) & (when < f.end)]
    for x in f.suspects:  # every trace of the window holds both: the finding's own figures
        assert x.incident == pytest.approx(window.mean(), rel=1e-9)
        assert x.incident == pytest.approx(0.03667385, rel=1e-6)
        assert x.baseline == pytest.approx(f.baseline, rel=1e-9)
        assert x.baseline == pytest.approx(cost[when < DAY0].mean(), rel=0.05)


def _slow_model_day(slow: float) -> pd.DataFrame:
    """Every trace of the agent calls a cheap model, the tool search_kb (its slowest span,
    about 3 s) and gpt-4o (about 1.5 s); from 10:00 to 16:00 on the judged day gpt-4o's calls
    take ``slow`` times as long."""
    def calls(t, in_window, rng):
        return [(name, typ, model,
                 median * float(rng.lognormal(0, 0.25)) * (slow if in_window and model == "gpt-4o"
                                                          else 1.0), None)
                for name, typ, model, median in (("route", "generation", "gpt-4.1-nano", 0.3),
                                                 ("search_kb", "tool", None, 3.0),
                                                 ("answer", "generation", "gpt-4o", 1.5))]

    return _agent_week(5, calls)


def test_a_slowdown_is_put_on_the_calls_that_took_the_time(books):
    """The tool every trace calls is each slow trace's slowest span, but the model's calls
    took the extra time: the model leads the latency findings, shown as the signal is."""
    from workbench.analysis import detect

    obs = _slow_model_day(4.0)
    traces = schema.traces_from_observations(obs)
    found = [f for f in detect(books["timeout_surge"], traces, obs, None, DAY0, DAY0 + D)
             if f.status == "firing" and f.signal == "latency_p95"]
    assert found, "no finding"
    top = found[0].suspects[0]
    assert (top.dimension, top.value, top.within) == ("model", "gpt-4o", {"agent": "triage"})
    # the share of the extra time its calls took, and the signal's rates beside it
    assert 0.9 < top.contribution <= 1.0
    assert top.incident > 0.5 and top.baseline == pytest.approx(0.05, abs=0.02)
    assert "search_kb" in {s.value for s in found[0].suspects[1:]}
    # named by the runbook's label: a share of slow traces, not a latency in per cent
    assert found[0].summary.startswith("Share slower than the baseline p95 in triage ")


def test_the_time_split_promotes_only_calls_that_took_most_of_the_extra_time():
    from workbench.analysis import latency
    from workbench.findings import Suspect

    lead = Suspect(dimension="tool_name", value="inventory_api", contribution=0.9,
                   within={"agent": "order"})
    table = pd.DataFrame({"agent": ["order", "order"], "dimension": ["model", "tool_name"],
                          "value": ["gpt-4o", "lookup"], "per_request": [2.0, 0.2],
                          "per_request_base": [1.0, 0.2], "excess": [50.0, 0.1]})
    moved = latency.slowest_component_first([lead], table)
    assert [s.value for s in moved] == ["gpt-4o", "inventory_api"]
    # a component whose time per request barely rose is not promoted
    flat = table.assign(per_request=[1.1, 0.2])
    assert latency.slowest_component_first([lead], flat) == [lead]
    # nor one that shares the extra time with another whose time per request rose too
    shared = table.assign(excess=[50.0, 40.0], per_request=[2.0, 0.4])
    assert latency.slowest_component_first([lead], shared) == [lead]
    # a long model call a few per cent slower piles up seconds over many requests: it does not
    # stand in the way of the tool whose calls took a third longer (a timing-out tool in an
    # agent loop whose model turns take 12 s)
    loop = pd.DataFrame({"agent": ["travel"] * 3, "dimension": ["tool_name", "model", "tool_name"],
                         "value": ["flight_search", "claude-sonnet-4", "hotel_search"],
                         "per_request": [2.40, 12.12, 0.47], "per_request_base": [1.76, 11.63, 0.40],
                         "excess": [85.8, 66.6, 9.7]})
    moved = latency.slowest_component_first([lead], loop)
    assert [s.value for s in moved] == ["flight_search", "inventory_api"]
    assert moved[0].contribution == pytest.approx(85.8 / (85.8 + 66.6 + 9.7))
    # ... but two components that both rose still share it
    both = loop.assign(per_request=[2.40, 16.0, 0.47])
    assert latency.slowest_component_first([lead], both) == [lead]


def test_a_derived_budget_is_said_on_its_own_agents_latency_findings_only(books):
    from workbench.analysis.detect import Context
    from workbench.analysis.judge import ALL

    slow = traffic(8, 10, agent="research", duration=lambda t, r: float(r.uniform(9, 20)))
    fast = traffic(8, 30, agent="chat", duration=lambda t, r: float(r.uniform(0.5, 3)))
    u = units(slow + fast)
    ctx = Context(books["timeout_surge"], Judge(books["timeout_surge"], u, DAY0, DAY0 + D), None)
    said = "agent research runs past the 8 s budget"
    assert any(said in n for n in ctx.notes_for("research"))
    assert any(said in n for n in ctx.notes_for(ALL))
    assert not any(said in n for n in ctx.notes_for("chat"))
    ctx.add_note("chat misses the SLO", agent="chat")
    assert ctx.notes_for("chat") == ["chat misses the SLO"]
    assert not any("chat" in n for n in ctx.notes_for("research"))
    # a cost finding is no place for a latency budget
    cost = Context(books["cost_spike"], Judge(books["cost_spike"], u, DAY0, DAY0 + D), None)
    assert cost.notes_for(ALL) == [] and cost.notes_for("research") == []


def test_reported_timeouts_surge_where_slow_traces_hide_them_in_the_timeout_rate(books):
    """An agent whose traces run past the 8 s budget one time in eight (too few to be judged
    against its own p99) has a timeout rate of ~14 % from durations alone; a tool that times
    out five times as often (2 % -> 10 % of traces, reported as errors) for four hours barely
    moves it, and is plain in the reported timeouts."""
    rng = np.random.default_rng(5)

    def duration(t, r):
        return 12.0 if r.random() < 0.12 else 3.0

    def status(t, i):
        p = 0.10 if DAY0 + 10 * H <= t < DAY0 + 14 * H else 0.02
        return "timeout" if rng.random() < p else "ok"

    u = units(traffic(8, 100, duration=duration, status=status, seed=3))
    j = Judge(books["timeout_surge"], u, DAY0, DAY0 + D)
    diluted = j.interval("timeout_rate", DAY0 + 10 * H, DAY0 + 14 * H)
    assert diluted.ratio < 1.6 and not j.scan("timeout_rate")
    (found,) = j.scan("timeout_errors")
    assert (found.start, found.end) == (DAY0 + 10 * H, DAY0 + 14 * H)
    assert found.expected == pytest.approx(0.02, abs=0.005)  # the share a normal hour has
    assert found.ratio > 3 and found.p_value < 1e-5


def _office(first: int, last: int):
    """One trace an hour from ``first`` to ``last`` o'clock, none otherwise."""
    return lambda h: 1 if first <= h <= last else 0


def test_a_small_agent_beside_cheaper_ones_is_judged_on_its_own_spread(books):
    """A crew of agents running 8 times a day at ~$0.04 (tight: each run does the same work)
    beside chat agents at a tenth of a cent: the crew's baseline must be its own level and
    scatter, not dragged toward the chat agents' and swollen by the gap between them, or 4 of
    its 8 runs looping at 10x the cost on the judged day stay below significance."""
    def crew_cost(t, r):
        loop = DAY0 + 16 * H <= t < DAY0 + 20 * H
        return 0.04 * float(r.lognormal(0, 0.2)) * (10.0 if loop else 1.0)

    crew = traffic(8, _office(13, 20), agent="crew", cost=crew_cost, seed=4)
    chat = traffic(8, 20, agent="chat", cost=0.001, seed=5)
    helper = traffic(8, 10, agent="helper", cost=0.003, seed=6)
    u = units(crew + chat + helper)
    j = Judge(books["cost_spike"], u, DAY0, DAY0 + D)
    p = j.prepared("cost_per_request")
    mine = j.group_mask("crew")
    base = mine & j.in_base
    assert base.sum() == 56
    own_mean, own_var = p.y[base].mean(), p.y[base].var()
    # expected at its own level, with its own scatter (the floor aside), not the chat agents'
    assert np.abs(p.e[mine] - own_mean).max() < 0.05
    assert p.v[mine].max() < 1.5 * max(own_var, (0.05 * own_mean) ** 2)
    assert np.exp(own_mean) == pytest.approx(0.04, rel=0.1)
    (found,) = j.scan("cost_per_request", "crew")
    assert found.start <= DAY0 + 16 * H and found.end >= DAY0 + 20 * H
    assert found.p_value <= 1e-5 and found.severity in ("critical", "page")
    assert found.units <= 10 and found.ratio > 3
    # the same crew on a day like the others: nothing
    quiet = traffic(8, _office(13, 20), agent="crew", cost=0.04, seed=4)
    j2 = Judge(books["cost_spike"], units(quiet + chat + helper), DAY0, DAY0 + D)
    assert j2.scan("cost_per_request", "crew") == [] and j2.scan("cost_per_request") == []


def test_a_score_with_rare_low_values_is_judged_as_far_as_its_spread_is_known(books):
    """A judge's groundedness: mostly 0.75-1, now and then a hallucinated answer near 0.2. One
    day of baseline with 2 of those in 240 says little of how far the mean swings: a few
    hours holding their usual share of them is no spike, while answers all losing grounding,
    or a quarter of six hours' answers hallucinated, still are."""
    rows = [r for r in traffic(8, 10, agent="rag", seed=9) if r["start_time"] >= DAY0 - D]
    u = units(rows)
    rng = np.random.default_rng(3)
    g = 0.75 + 0.25 * rng.beta(5, 2, len(u))
    t = u["time"]
    day = (t >= DAY0).to_numpy()
    base_rows, day_rows = np.flatnonzero(~day), np.flatnonzero(day)
    # 2 low in the baseline's 240, 6 in the judged day's 240: four of them by chance in 13
    low = np.concatenate([base_rows[[40, 170]], day_rows[[40, 118, 122, 126, 131, 200]]])
    g[low] = rng.uniform(0.1, 0.3, len(low))
    spike = ((t >= DAY0 + 12 * H) & (t < DAY0 + 18 * H)).to_numpy()
    bad = spike & (rng.random(len(u)) < 0.25)

    def scan(scores):
        j = Judge(books["hallucination_spike"], u.assign(groundedness=scores), DAY0, DAY0 + D)
        return j, j.scan("groundedness")

    j, found = scan(g)
    assert found == []
    # the baseline's spread rests on its two low scores: worth far fewer than 239 degrees of
    # freedom, and the 13 traces' shift is judged against a t with that many
    cap = j.prepared("groundedness").df_cap["rag"]
    assert 3 < cap < 20
    iv = j.interval("groundedness", DAY0 + 11 * H, DAY0 + 14 * H)
    assert iv.observed < 0.85 < 0.9 < iv.expected and 1e-5 < iv.p_value < 1e-2
    _, (drop,) = scan(np.where(day, g - 0.1, g))
    assert (drop.start, drop.end, drop.units) == (DAY0, DAY0 + D, 240)
    assert drop.p_value < 1e-7 and drop.severity is not None
    _, (spiked,) = scan(np.where(bad, rng.uniform(0.1, 0.3, len(u)), g))
    assert DAY0 + 11 * H <= spiked.start and spiked.end <= DAY0 + 19 * H
    assert spiked.p_value < 1e-7 and spiked.severity == "page"


def test_the_mean_of_a_few_dozen_skewed_scores_is_judged_with_its_skew():
    """A categorical judge read as 1 / 0.5 / 0 (grounded, partly, hallucinated), 0 about one
    answer in 28: the mean of 130 such answers falls further than a symmetric spread of the
    same variance would, so its tail is wider than the t's; where the units are not skewed in
    the bad direction the test is the t test."""
    values = np.array([1.0] * 245 + [0.5] * 22 + [0.0] * 10)  # a baseline's answers
    bad = 1.0 - values  # judged in the bad direction: up
    r = bad - bad.mean()
    skew = float(np.mean(r ** 3) / np.mean(r ** 2) ** 1.5)
    assert 2.5 < skew < 3.5
    n, var = 130, float(np.var(bad))
    # the window: 13 hallucinated and 17 partly grounded of 130, against 4.7 and 10.3 expected
    o, e = 13 + 0.5 * 17, n * float(bad.mean())
    t_only = float(stats.p_upper("mean", o, e, n=n, variance=n * var))
    skewed = float(stats.p_upper("mean", o, e, n=n, variance=n * var, skew=skew))
    assert t_only < 1e-5 < skewed < 1e-4
    assert float(stats.p_upper("mean", o, e, n=n, variance=n * var, skew=-skew)) == t_only
    # the detectable shift is where the skewed tail reaches alpha
    z = stats.mean_z(1e-5, n - 1, skew, n)
    assert float(stats.p_upper("mean", e + z * np.sqrt(n * var), e, n=n, variance=n * var,
                               skew=skew)) == pytest.approx(1e-5, rel=1e-6)
    assert stats.mean_z(1e-5, n - 1, None, n) < z


def test_a_segment_the_baseline_never_saw_keeps_the_spread_between_segments(books):
    """A new agent is expected at the level of all traffic; how far agents' levels lie apart
    stays in its variance (a $0.04 agent showing up is no cost spike by itself)."""
    old = traffic(8, 10, agent="chat", cost=0.001, seed=5) + \
        traffic(8, 10, agent="crew", cost=0.04, seed=4)
    new = [r for r in traffic(8, 10, agent="fresh", cost=0.01, seed=7)
           if r["start_time"] >= DAY0]
    u = units(old + new)
    j = Judge(books["cost_spike"], u, DAY0, DAY0 + D)
    p = j.prepared("cost_per_request")
    fresh = j.group_mask("fresh")
    base = j.in_base
    spread = np.var([p.y[base & j.group_mask(a)].mean() for a in ("chat", "crew")])
    assert fresh.sum() == 240 and (p.v[fresh] >= 0.8 * spread).all()
    assert j.scan("cost_per_request", "fresh") == []


def test_segments_that_never_varied_still_give_a_new_one_its_parents_level():
    """Two agents whose every unit shows the same value (no scatter within, all of it between):
    their own levels stand, and an agent first seen in the window gets all traffic's level and
    the spread between agents, not a division by zero."""
    from workbench.analysis.baseline import expect

    t = DAY0 - D + pd.to_timedelta(np.arange(13), unit="h")
    agents = ["chat"] * 6 + ["crew"] * 6 + ["fresh"]
    u = pd.DataFrame({"time": t, "agent": agents})
    y = np.array([1.0] * 6 + [3.0] * 6 + [2.5])
    base = np.arange(13) < 12
    exp = expect(u, y, "mean", base, segments=["agent"], robust=False)
    assert np.isfinite(exp.expected).all() and np.isfinite(exp.variance).all()
    assert exp.expected[:6] == pytest.approx([1.0] * 6)
    assert exp.expected[6:12] == pytest.approx([3.0] * 6)
    assert exp.expected[12] == pytest.approx(2.0)  # all traffic's level
    assert exp.variance[12] >= 1.0  # the agents' levels lie 1 apart either side of it


def test_active_span_is_the_whole_hours_a_group_ran_in_clipped_to_the_window(books):
    """An agent that ran once an hour from 13:00 to 15:59 on the judged day ran in 13:00-16:00;
    asked about 14:00-15:00 only, in those hours; asked about hours it did not run, in none."""
    crew = traffic(8, _office(13, 15), agent="crew", cost=0.04, seed=4)
    chat = traffic(8, 20, agent="chat", cost=0.001, seed=5)
    u = units(crew + chat)
    j = Judge(books["cost_spike"], u, DAY0, DAY0 + D)
    mine = j.group_mask("crew") & j.in_window
    rows = np.flatnonzero(mine)
    first = j.earliest(rows)
    assert DAY0 + 13 * H <= first < DAY0 + 14 * H
    assert j.active_span(mine, DAY0, DAY0 + D) == (DAY0 + 13 * H, DAY0 + 16 * H)
    assert j.active_span(mine, DAY0 + 14 * H, DAY0 + 15 * H) == (DAY0 + 14 * H, DAY0 + 15 * H)
    assert j.active_span(mine, DAY0 + 17 * H, DAY0 + D) is None
