import math

import pandas as pd
import pytest

from workbench import kpis, runbooks, schema
from workbench.analysis import trace_signals
from workbench.errors import ConfigError

D = pd.Timestamp("2026-11-01", tz="UTC")


def make_traces(rows):
    """rows: (day_offset, hour, duration_s, status, cost, input_tokens, output_tokens)."""
    recs = []
    for i, (day, hour, dur, status, cost, tin, tout) in enumerate(rows):
        start = D + pd.Timedelta(days=day, hours=hour)
        recs.append({"trace_id": f"{i:032x}", "name": "answer", "agent": "a",
                     "environment": "production", "start_time": start,
                     "end_time": start + pd.Timedelta(seconds=dur), "duration_s": dur,
                     "status": status, "input_tokens": tin, "output_tokens": tout,
                     "total_tokens": tin + tout, "cost_usd": cost, "n_observations": 1,
                     "n_generations": 1, "n_tool_calls": 0, "n_errors": int(status != "ok")})
    return schema.conform(pd.DataFrame(recs), "traces")


def make_scores(pairs, traces):
    """pairs: (trace index, value); scored right after the trace started."""
    recs = [{"score_id": f"s{i}", "trace_id": traces["trace_id"][t],
             "timestamp": traces["start_time"][t] + pd.Timedelta(minutes=1),
             "name": "hallucination", "value": v, "data_type": "NUMERIC", "source": "EVAL"}
            for i, (t, v) in enumerate(pairs)]
    return schema.conform(pd.DataFrame(recs), "scores") if recs else schema.empty("scores")


def units_of(traces, scores, books=None):
    return trace_signals(traces, None, scores, books or runbooks.load_all())


@pytest.fixture
def week():
    rows = [
        (0, 1, 1.0, "ok", 1.0, 10, 5), (0, 2, 2.0, "ok", 1.0, 10, 5),
        (0, 3, 3.0, "error", 1.0, 10, 5), (0, 23, 4.0, "timeout", 1.0, 10, 5),
        (1, 0, 2.0, "ok", 2.0, 100, 50), (1, 5, 2.0, "ok", 4.0, 100, 50),
        # day 2 has no traces at all
        (3, 12, 10.0, "timeout", 30.0, 1000, 500),
    ]
    t = make_traces(rows)
    s = make_scores([(0, 0.9), (0, 0.2), (1, 0.5), (2, 0.1), (4, 0.7), (6, 0.6)], t)
    return t, s


def test_daily_kpis_numbers(week):
    t, s = week
    k = kpis.daily_kpis(units_of(t, s))
    assert list(k.columns) == kpis.KPI_COLUMNS
    assert list(k.index) == [D + pd.Timedelta(days=i) for i in range(4)]
    assert str(k.index.dtype) == "datetime64[us, UTC]"
    d0 = k.iloc[0]
    assert d0["traces"] == 4
    assert d0["error_rate"] == 0.25 and d0["timeout_rate"] == 0.25
    assert d0["reported_timeout_rate"] == 0.25
    assert d0["latency_p50_s"] == pytest.approx(2.5)
    assert d0["latency_p95_s"] == pytest.approx(3.85)
    assert d0["latency_p99_s"] == pytest.approx(3.97)
    assert (d0["input_tokens"], d0["output_tokens"], d0["total_tokens"]) == (40, 20, 60)
    assert d0["cost_usd"] == 4.0 and d0["cost_per_trace_usd"] == 1.0
    # trace 0: worst of 0.9/0.2 is over 0.5; trace 1 at exactly 0.5 is not; trace 2 at 0.1 is not
    assert d0["scored_traces"] == 3
    assert d0["hallucination_rate"] == pytest.approx(1 / 3)
    d1 = k.iloc[1]
    assert d1["cost_usd"] == 6.0 and d1["cost_per_trace_usd"] == 3.0
    assert d1["scored_traces"] == 1 and d1["hallucination_rate"] == 1.0
    gap = k.iloc[2]
    assert gap["traces"] == 0 and gap["cost_usd"] == 0.0
    assert math.isnan(gap["error_rate"]) and math.isnan(gap["cost_per_trace_usd"])
    assert math.isnan(gap["hallucination_rate"])
    assert k.iloc[3]["timeout_rate"] == 1.0


def test_the_hallucination_rate_says_how_many_traces_were_scored(week):
    """A rate over a judge's sample, maybe one agent's, says its sample: "0.00%" alone read
    as every answer of the day checked."""
    from workbench.reports.html import kpi_table

    html = kpi_table(kpis.daily_kpis(units_of(*week)))
    assert "<th>halluc. rate (of scored)</th>" in html
    assert "<td>33.33% of 3</td>" in html and html.count("<td>100.00% of 1</td>") == 2
    assert html.count("<td>–</td>") >= 1 and "of 0" not in html  # the day without traces


def test_threshold_comes_from_the_runbook(week):
    t, s = week
    books = runbooks.load_all()
    rb = books["hallucination_spike"]
    low = runbooks.Runbook(name=rb.name, path=rb.path, spec={**rb.spec, "score_threshold": 0.0})
    k = kpis.daily_kpis(units_of(t, s, {**books, "hallucination_spike": low}))
    assert k.iloc[0]["hallucination_rate"] == 1.0
    default = kpis.daily_kpis(units_of(t, s))
    assert default.iloc[0]["hallucination_rate"] == pytest.approx(1 / 3)


def test_days_fix_the_rows(week):
    t, s = week
    days = pd.date_range("2026-10-31", periods=6, freq="D", tz="UTC")
    k = kpis.daily_kpis(units_of(t, s), days=days)
    assert len(k) == 6 and k.iloc[0]["traces"] == 0 and k.iloc[1]["traces"] == 4


def test_empty_frames_give_an_empty_table():
    k = kpis.daily_kpis(units_of(schema.empty("traces"), schema.empty("scores")))
    assert k.empty and list(k.columns) == kpis.KPI_COLUMNS


def kpi_frame(**cols):
    n = len(next(iter(cols.values())))
    idx = pd.date_range(D, periods=n, freq="D", tz="UTC").astype("datetime64[us, UTC]")
    data = {"traces": [100] * n, **cols}
    return pd.DataFrame(data, index=idx)


def test_daily_check_fires_on_ratio_to_median():
    rb = runbooks.load("cost_spike")  # cost_usd, max ratio 1.5, 7 baseline days
    k = kpi_frame(cost_usd=[10.0, 12.0, 11.0, 40.0, 16.0])
    found = kpis.daily_checks(k, {"cost_spike": rb}, "2026-11-04")
    assert len(found) == 1
    f = found[0]
    assert (f.runbook, f.signal, f.severity, f.status) == (
        "cost_spike", "daily_cost_usd", "warning", "firing")
    assert f.observed == 40.0 and f.baseline == 11.0
    assert f.ratio == pytest.approx(40 / 11)
    assert f.start == D + pd.Timedelta(days=3) and f.end == D + pd.Timedelta(days=4)
    assert f.labels == {"day": "2026-11-04"}
    assert "3.64x the 3-day median $11.00" in f.summary
    # 16.0 against the median of 10, 12, 11, 40 (= 11.5): 1.39x, under 1.5x
    assert kpis.daily_checks(k, [rb], "2026-11-05") == []


def test_check_findings_over_several_days_equal_each_days_checks():
    rb = runbooks.load("cost_spike")
    k = kpi_frame(cost_usd=[10.0, 12.0, 11.0, 40.0, 16.0, 45.0])
    days = pd.date_range(D, periods=6, freq="D", tz="UTC")
    table = pd.concat([kpis.check_table(k, [rb], d) for d in days], ignore_index=True)
    together = kpis.check_findings(k, table)
    one_by_one = [f for d in days for f in kpis.daily_checks(k, [rb], d)]
    assert [(f.status, f.start, f.observed) for f in together] == [
        (f.status, f.start, f.observed) for f in one_by_one]
    assert [f.status for f in together] == ["insufficient_data", "firing", "firing"]


def test_baseline_uses_only_the_configured_days():
    rb = runbooks.load("cost_spike")
    costs = [100.0] * 3 + [10.0] * 7 + [16.0]
    table = kpis.check_table(kpi_frame(cost_usd=costs), [rb], D + pd.Timedelta(days=10))
    row = table.iloc[0]
    assert row["baseline"] == 10.0 and row["baseline_days"] == 7
    assert row["ratio"] == pytest.approx(1.6) and row["status"] == "breach"


def test_max_value_fires_even_within_ratio():
    rb = runbooks.load("timeout_surge")  # ratio 3.0, max_value 0.02
    k = kpi_frame(timeout_rate=[0.02, 0.02, 0.03])
    t = kpis.check_table(k, [rb], "2026-11-03").iloc[0]
    assert t["ratio"] == pytest.approx(1.5) and t["status"] == "breach"
    k2 = kpi_frame(timeout_rate=[0.001, 0.001, 0.0015])
    assert kpis.check_table(k2, [rb], "2026-11-03").iloc[0]["status"] == "ok"
    k3 = kpi_frame(timeout_rate=[0.001, 0.001, 0.004])
    assert kpis.check_table(k3, [rb], "2026-11-03").iloc[0]["status"] == "breach"


def test_zero_baseline_with_a_value_is_a_breach():
    rb = runbooks.load("timeout_surge")
    f = kpis.daily_checks(kpi_frame(timeout_rate=[0.0, 0.0, 0.01]), [rb], "2026-11-03")[0]
    assert f.status == "firing" and math.isinf(f.ratio) and "infx" in f.summary


def test_insufficient_data_is_a_finding_not_a_pass():
    rb = runbooks.load("cost_spike")
    first = kpis.daily_checks(kpi_frame(cost_usd=[10.0, 11.0]), [rb], "2026-11-01")
    assert [(f.status, f.severity) for f in first] == [("insufficient_data", "info")]
    assert "no earlier days" in first[0].summary
    k = kpi_frame(cost_usd=[10.0, 11.0, 0.0])
    k.loc[k.index[2], "traces"] = 0
    gap = kpis.daily_checks(k, [rb], "2026-11-03")
    assert gap[0].status == "insufficient_data" and "no traces" in gap[0].summary
    # A day with no traces is left out of later baselines too.
    k.loc[k.index[2], "cost_usd"] = 1000.0
    k.loc[D + pd.Timedelta(days=3)] = {"traces": 100, "cost_usd": 12.0}
    assert kpis.check_table(k, [rb], "2026-11-04").iloc[0]["baseline"] == 10.5


def test_unknown_kpi_is_a_config_error(tmp_path):
    rb = runbooks.load("cost_spike")
    bad = runbooks.Runbook(name="x", path=tmp_path / "x.yaml",
                           spec={**rb.spec, "daily": {**rb.daily, "kpi": "nope"}})
    with pytest.raises(ConfigError, match="daily.kpi 'nope'"):
        kpis.daily_checks(kpi_frame(cost_usd=[1.0]), [bad], "2026-11-01")


def test_a_score_counts_with_its_trace_and_not_without_it(week):
    t, s = week
    k = kpis.daily_kpis(units_of(t.iloc[1:], s))  # trace 0, scored twice, left out
    assert k.iloc[0]["scored_traces"] == 2
    assert kpis.daily_kpis(units_of(schema.empty("traces"), s))["scored_traces"].sum() == 0


def _day_traffic(days, per_day, status_of):
    """``per_day`` traces a day for ``days`` days from D, status from ``status_of(day, i)``."""
    rows = [(d, (i * 24) // per_day, 2.0, status_of(d, i), 0.01, 100, 20)
            for d in range(days) for i in range(per_day)]
    return make_traces(rows)


def test_a_breach_needs_the_day_to_be_significant_not_only_over_the_ratio():
    books = runbooks.load_all()
    rb = books["timeout_surge"]  # limit 3x the median or over 2 %
    # 1,000 traces a day, 0.3 % time out; the judged day: 3.3 % (11x), or 5 of 150 (3.3 %)
    busy = _day_traffic(9, 1000, lambda d, i: "timeout" if i % 300 == 7 or (
        d == 8 and i % 30 == 1) else "ok")
    u = units_of(busy, None)
    k = kpis.daily_kpis(u)
    day = D + pd.Timedelta(days=8)
    row = kpis.check_table(k, [rb], day, u).iloc[0]
    assert row["status"] == "breach" and row["p_value"] < 1e-5
    assert row["observed"] == pytest.approx(k.loc[day, "timeout_rate"])  # one number
    found = kpis.daily_checks(k, books and {rb.name: rb}, day, u)
    assert found[0].status == "firing" and "p=" in found[0].summary
    # 150 a day, 2 % time out; the judged day 5 (3.3 %): over the 2 % limit, but chance
    quiet = _day_traffic(9, 150, lambda d, i: "timeout" if (d == 8 and i % 30 == 1) or (
        d < 8 and i % 50 == 7) else "ok")
    uq = units_of(quiet, None)
    kq = kpis.daily_kpis(uq)
    rq = kpis.check_table(kq, [rb], day, uq).iloc[0]
    assert rq["value"] > 0.02 and rq["p_value"] > 1e-3 and rq["status"] == "ok"


def test_spend_up_with_traffic_is_growth_not_a_breach():
    books = runbooks.load_all()
    rb = books["cost_spike"]
    t = make_traces([(d, (i * 24) // n, 2.0, "ok", 0.01 * (1 + (i % 5) / 10), 100, 20)
                     for d in range(9) for n in [300 if d < 8 else 900] for i in range(n)])
    u = units_of(t, None)
    k = kpis.daily_kpis(u)
    day = D + pd.Timedelta(days=8)
    row = kpis.check_table(k, [rb], day, u).iloc[0]
    assert row["ratio"] == pytest.approx(3.0, rel=0.01) and row["status"] == "growth"
    f = kpis.check_findings(k, kpis.check_table(k, [rb], day, u))[0]
    assert f.severity == "info" and "traffic growth" in f.summary


def test_spend_up_with_cost_per_request_on_a_few_traces_is_not_called_growth():
    """A small team's day: the same 12 traces as every day, each costing twice as much. Spend is
    2x the median and cost per request 2x expected, not significant on 12 traces: that is no
    traffic growth, and the check says it cannot tell."""
    rb = runbooks.load("cost_spike")
    spread = [0.002, 0.02, 0.004, 0.05, 0.008, 0.001, 0.03, 0.01, 0.003, 0.06, 0.006, 0.015]
    t = make_traces([(d, 8 + i % 10, 2.0, "ok", spread[(i + d) % 12] * (2.0 if d == 8 else 1.0),
                      100, 20) for d in range(9) for i in range(12)])
    u = units_of(t, None)
    k = kpis.daily_kpis(u)
    day = D + pd.Timedelta(days=8)
    row = kpis.check_table(k, [rb], day, u).iloc[0]
    assert row["ratio"] == pytest.approx(2.0) and k.loc[day, "traces"] == 12
    assert row["observed"] / row["expected"] == pytest.approx(2.0, rel=0.05)
    assert 1e-3 < row["p_value"] < 0.1 and row["status"] == "insufficient_data"
    f = kpis.check_findings(k, kpis.check_table(k, [rb], day, u))[0]
    assert (f.status, f.severity, f.signal) == ("insufficient_data", "info", "daily_cost_usd")
    assert "growth, cannot judge" in f.summary and "traffic growth, not" not in f.summary
    assert "cost_per_request 0.03483 against 0.01734 expected" in f.summary
    assert "(2.01x), not significant (p=0.034)" in f.summary


def test_a_day_without_hallucination_scores_says_so_not_that_it_had_no_traces():
    """A project whose judge writes only groundedness has traces every day and no
    hallucination score: the daily check cannot judge, and says why."""
    rb = runbooks.load("hallucination_spike")
    k = kpi_frame(hallucination_rate=[float("nan")] * 3)
    k["traces"] = [1200, 1180, 1215]
    (f,) = kpis.daily_checks(k, [rb], "2026-11-03")
    assert f.status == "insufficient_data"
    assert f.summary == ("hallucination_rate on 2026-11-03: none of the day's 1,215 traces has a "
                         "hallucination score, cannot judge (the hourly detectors read the "
                         "other evaluation signals)")


def _judged_scores(last):
    """Eight days of 200 traces, each scored, every 20th judged hallucinated (5 %); then the
    judged day with ``last`` traces: none hallucinated on a handful, 5 % on a full day."""
    rows, pairs = [], []
    for d in range(9):
        n = 200 if d < 8 else last
        for i in range(n):
            bad = i % 20 == 3 and (d < 8 or last >= 100)
            pairs.append((len(rows), 0.9 if bad else 0.1))
            rows.append((d, 8 + (i * 10) // n, 2.0, "ok", 0.01, 100, 20))
    t = make_traces(rows)
    return t, make_scores(pairs, t)


def test_a_handful_of_scored_traces_cannot_judge_the_day_and_says_why():
    """0 of 11 scored traces hallucinated, against 5 % before: under every limit, but 11 values
    could not show even the runbook's page-size change (4x) as significant, so the row says it
    cannot judge instead of "ok", and its finding says why in numbers."""
    rb = runbooks.load("hallucination_spike")
    t, s = _judged_scores(11)
    u = units_of(t, s)
    k = kpis.daily_kpis(u)
    day = D + pd.Timedelta(days=8)
    row = kpis.check_table(k, [rb], day, u).iloc[0]
    assert (row["value"], row["baseline"], row["ratio"]) == (0.0, 0.05, 0.0)
    assert row["status"] == "insufficient_data"
    # 4.2 hallucinated answers where 0.55 were expected would be the first significant count
    assert row["detectable"] == pytest.approx(7.57, abs=0.01)
    assert row["reason"] == (
        "hallucination_rate on 2026-11-09 was 0.00%, 0.00x the 7-day median 5.00% (limit "
        "1.5x); hallucination_rate 0 against 0.05032 expected for the day's traffic (0.00x); "
        "the day's 11 scored traces can only tell apart a hallucination_rate change of "
        "7.6x or more (page threshold 4x): too few to judge")
    (f,) = kpis.check_findings(k, kpis.check_table(k, [rb], day, u))
    assert (f.status, f.severity, f.signal) == ("insufficient_data", "info",
                                                "daily_hallucination_rate")
    assert f.summary == row["reason"]
    # where the detectors already say the runbook cannot judge that day, no second finding
    assert kpis.check_findings(k, kpis.check_table(k, [rb], day, u),
                               said=[("hallucination_spike", day)]) == []
    assert len(kpis.check_findings(k, kpis.check_table(k, [rb], day, u),
                                   said=[("timeout_surge", day)])) == 1


def test_a_full_day_of_scores_stays_ok():
    """200 scored traces at the usual 5 %: a 2.1x change would show, under the 4x page size;
    the check judges and passes."""
    rb = runbooks.load("hallucination_spike")
    t, s = _judged_scores(200)
    u = units_of(t, s)
    k = kpis.daily_kpis(u)
    day = D + pd.Timedelta(days=8)
    row = kpis.check_table(k, [rb], day, u).iloc[0]
    assert row["value"] == pytest.approx(0.05) and row["status"] == "ok"
    assert row["detectable"] == pytest.approx(2.11, abs=0.01) and row["reason"] is None
    assert kpis.check_findings(k, kpis.check_table(k, [rb], day, u)) == []


def test_forty_scored_traces_judge_a_page_size_change_and_pass():
    """Between the two: 40 scored traces, none hallucinated, could show a 3.9x change (under
    the 4x page size): ok, the check's own statistics decide, not a count."""
    rb = runbooks.load("hallucination_spike")
    t, s = _judged_scores(40)
    u = units_of(t, s)
    k = kpis.daily_kpis(u)
    row = kpis.check_table(k, [rb], D + pd.Timedelta(days=8), u).iloc[0]
    assert row["status"] == "ok" and row["detectable"] == pytest.approx(3.88, abs=0.01)


def test_the_timeout_rate_says_which_share_the_source_reported():
    """A run past its agent's budget counts as a timeout as a reported one does; the report
    says how many of them the source reported, so slow answers read apart from a hung tool."""
    from workbench.reports.html import kpi_table

    t = make_traces([(0, 1, 9.0, "ok", 1.0, 10, 5), (0, 2, 3.0, "timeout", 1.0, 10, 5),
                     (0, 3, 1.0, "ok", 1.0, 10, 5), (1, 1, 1.0, "timeout", 1.0, 10, 5)])
    k = kpis.daily_kpis(units_of(t, make_scores([], t)))
    assert k.iloc[0]["timeout_rate"] == pytest.approx(2 / 3)
    assert k.iloc[0]["reported_timeout_rate"] == pytest.approx(1 / 3)
    assert k.iloc[1]["timeout_rate"] == k.iloc[1]["reported_timeout_rate"] == 1.0
    html = kpi_table(k)
    assert "<td>66.67% (33.33% reported)</td>" in html
    assert "<td>100.00%</td>" in html and "100.00% (" not in html
    assert "in brackets, the share the source reported" in html
    same = k.assign(reported_timeout_rate=k["timeout_rate"])
    assert "in brackets" not in kpi_table(same)  # nothing in brackets, nothing to explain


def test_a_day_against_one_or_two_earlier_ones_is_not_judged_on_its_own():
    """Against two earlier days a day's p-value cannot know how far days swing: over its limit
    and improbable at the daily alpha but not at the detectors', it is "cannot judge" and says
    why, never a breach nor "ok"; the same day after a week is a breach, and a day far out
    breaches after two."""
    books = runbooks.load_all()
    rb = books["timeout_surge"]

    def status(d, i, every=100):  # 0.4 % time out; the last day 1.4 %, spread over its hours
        return "timeout" if i % 300 == 7 or (d == 8 and i % every == 3) else "ok"

    day = D + pd.Timedelta(days=8)
    full = units_of(_day_traffic(9, 1000, status), None)
    short = full[full["time"] >= day - pd.Timedelta(days=2)]
    rows = {}
    for name, u in (("week", full), ("two days", short)):
        k = kpis.daily_kpis(u)
        rows[name] = kpis.check_table(k, [rb], day, u).iloc[0]
        found = kpis.daily_checks(k, {rb.name: rb}, day, u)
        assert [f.status for f in found] == (
            ["firing"] if name == "week" else ["insufficient_data"])
    week, two = rows["week"], rows["two days"]
    assert week["baseline_days"] == 7 and two["baseline_days"] == 2
    assert week["observed"] == two["observed"] == pytest.approx(14 / 1000)
    assert 1e-5 < two["p_value"] <= 1e-3 and two["ratio"] > 3
    assert week["status"] == "breach" and two["status"] == "insufficient_data"
    assert two["reason"].startswith("timeout_rate on 2026-11-09 was 1.40%")
    assert "2 earlier days cannot show how far a whole day swings" in two["reason"]
    assert "no hour of it is a finding: cannot judge" in two["reason"]
    # 2.4 %: improbable at the detectors' alpha, two earlier days are enough
    far = units_of(_day_traffic(9, 1000, lambda d, i: status(d, i, every=50)), None)
    far = far[far["time"] >= day - pd.Timedelta(days=2)]
    row = kpis.check_table(kpis.daily_kpis(far), [rb], day, far).iloc[0]
    assert row["baseline_days"] == 2 and row["p_value"] < 1e-5 and row["status"] == "breach"


def _swinging_days(judged_bad):
    """Seven days of 300 scored traces whose hallucinated share swings from 2 % to 10 % day to
    day (6, 30, 9, 28, 8, 31, 10), then the judged day with ``judged_bad`` of its 300."""
    per_day = [6, 30, 9, 28, 8, 31, 10, judged_bad]
    rows, pairs = [], []
    for d, bad_n in enumerate(per_day):
        for i in range(300):
            pairs.append((len(rows), 0.9 if i * bad_n // 300 != (i + 1) * bad_n // 300 else 0.1))
            rows.append((d, (i * 24) // 300, 2.0, "ok", 0.01, 100, 20))
    t = make_traces(rows)
    return t, make_scores(pairs, t)


def test_a_day_is_judged_against_how_far_the_baseline_days_swing():
    """32 hallucinated answers of 300 (10.7 %) against a week that averaged 5.8 % is a 1-in-2,000
    day for the hours' scatter (p < 1e-3, over the 1.5x limit of the median's 3.3 %), but the
    week itself ran from 2 % to 10 % a day: no worse than two of its days, the day is judged
    ok. A day far past anything the week did still breaches."""
    rb = runbooks.load("hallucination_spike")
    day = D + pd.Timedelta(days=7)
    rows = {}
    for bad in (32, 90):
        t, s = _swinging_days(bad)
        u = units_of(t, s)
        k = kpis.daily_kpis(u)
        rows[bad] = kpis.check_table(k, [rb], day, u).iloc[0]
        from workbench.analysis.judge import judge_for
        j = judge_for(rb, u, day, day + pd.Timedelta(days=1))
        hours_only = j.interval("hallucination_rate", day, day + pd.Timedelta(days=1))
        assert rows[bad]["observed"] == pytest.approx(hours_only.observed)  # one number
        assert rows[bad]["p_value"] >= hours_only.p_value
        assert j.day_spread("hallucination_rate") > 0
    ordinary, far = rows[32], rows[90]
    assert ordinary["ratio"] > 1.5 and ordinary["value"] > 0.08  # over both limits
    hours_only_p = judge_for(rb, units_of(*_swinging_days(32)), day, day + pd.Timedelta(
        days=1)).interval("hallucination_rate", day, day + pd.Timedelta(days=1)).p_value
    assert hours_only_p < 1e-3 < ordinary["p_value"]
    assert ordinary["status"] == "ok"
    assert far["status"] == "breach" and far["p_value"] < 1e-3


def test_steady_days_judge_a_day_as_its_hours_do():
    """Where the baseline's days differ no more than their traces say, the day's p-value is
    the hours' own: a week of exactly 5 % gives no day-to-day spread."""
    rb = runbooks.load("hallucination_spike")
    t, s = _judged_scores(200)
    u = units_of(t, s)
    from workbench.analysis.judge import judge_for
    day = D + pd.Timedelta(days=8)
    j = judge_for(rb, u, day, day + pd.Timedelta(days=1))
    assert j.day_spread("hallucination_rate") == 0.0
    assert j.whole_day("hallucination_rate") == j.interval("hallucination_rate", day,
                                                           day + pd.Timedelta(days=1))
