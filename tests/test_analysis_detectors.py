"""Detectors on the simulator's labelled incidents, quiet data, low volume and traffic growth."""

import pandas as pd
import pytest

from workbench import runbooks, schema, simulate
from workbench.analysis import detect, detect_all, trace_signals
from workbench.errors import ConfigError, SchemaError
from workbench.findings import SEVERITIES

START = pd.Timestamp("2026-11-02", tz="UTC")
DAY = pd.Timedelta(days=1)
H = pd.Timedelta(hours=1)
CAUSES = {"cost_spike": ("tool_name", "search_api"),
          "hallucination_spike": ("prompt_version", "8"),
          "timeout_surge": ("tool_name", "web_fetch")}
MAGNITUDE = {"cost_spike": 8.0, "hallucination_spike": 5.0, "timeout_surge": 20.0}
# runbook -> (day, first hour, hours); each incident on its own day after >= 5 clean days
PLAN = {"timeout_surge": (5, 13, 3), "cost_spike": (6, 9, 3), "hallucination_spike": (7, 10, 5)}


@pytest.fixture(scope="module")
def books():
    return runbooks.load_all()


@pytest.fixture(scope="module")
def labelled():
    incidents = []
    for rb, (day, hour, hours) in PLAN.items():
        t0 = START + day * DAY + hour * H
        incidents.append(simulate.Incident(rb, t0, t0 + hours * H, *CAUSES[rb], MAGNITUDE[rb],
                                           f"test {rb}"))
    return simulate.generate(seed=7, days=8, traces_per_day=3000, start=START,
                             incidents=incidents)


@pytest.fixture(scope="module")
def quiet():
    return simulate.generate(seed=8, days=8, traces_per_day=3000, start=START, incidents=[])


def day_window(day):
    return START + day * DAY, START + (day + 1) * DAY


def firing(findings):
    return [f for f in findings if f.status == "firing" and f.severity != "info"]


@pytest.mark.parametrize("name", sorted(PLAN))
def test_each_incident_is_found_in_its_window_with_its_cause_first(labelled, books, name):
    inc = labelled.labels.set_index("runbook").loc[name]
    found = detect(books[name], labelled.traces, labelled.observations, labelled.scores,
                   *day_window(PLAN[name][0]))
    hits = [f for f in firing(found) if f.start < inc["end"] and inc["start"] < f.end]
    assert hits, f"{name}: nothing fired over {inc['start']}..{inc['end']}: {found}"
    assert all(f.runbook == name for f in hits)
    worst = max(hits, key=lambda f: (SEVERITIES.index(f.severity), -f.start.value))
    assert worst.severity in ("critical", "page")
    assert (worst.suspects[0].dimension, worst.suspects[0].value) == CAUSES[name]
    assert worst.suspects[0].contribution > 0.5
    # every firing finding in the window is about the incident: no stray alerts that day
    assert all(f.start < inc["end"] + 2 * H and inc["start"] - 2 * H < f.end
               for f in firing(found))


def test_cost_findings_carry_labels_offenders_and_evidence(labelled, books):
    inc = labelled.labels.set_index("runbook").loc["cost_spike"]
    found = detect(books["cost_spike"], labelled.traces, labelled.observations, labelled.scores,
                   *day_window(PLAN["cost_spike"][0]))
    by_signal = {}
    for f in firing(found):
        by_signal.setdefault(f.signal, []).append(f)
    assert {"cost_per_request", "runaway_loop", "page_burst"} <= set(by_signal)
    # adjacent firing buckets are merged: one finding per signal and labels for the incident
    assert len(by_signal["runaway_loop"]) == 1 and len(by_signal["page_burst"]) == 1
    # a burst's figures are the dollars of its 5-minute bin, printed as dollars everywhere
    burst = by_signal["page_burst"][0]
    assert burst.unit == "USD" and burst.ratio >= 10
    assert f"(${burst.observed:.2f} against ${burst.baseline:.2f})" in burst.summary
    per_req = by_signal["cost_per_request"][0]
    assert per_req.labels == {"agent": "tool-agent"}
    assert per_req.start >= inc["start"] - H and per_req.end <= inc["end"] + H
    assert per_req.ratio > 3
    runaway = by_signal["runaway_loop"][0]
    traces = labelled.traces.set_index("trace_id")
    gens = traces.loc[runaway.trace_ids, "n_generations"]
    assert len(runaway.trace_ids) > 0 and (gens > 25).all()
    series = per_req.evidence["series"]
    assert len(series) == 24 and {"observed", "expected", "ratio", "p_value"} <= \
        set(series.columns)
    per_task = per_req.evidence["per_task"]
    assert per_task.loc["incident", "iterations_per_task"] > per_task.loc["baseline",
                                                                          "iterations_per_task"]
    offenders = per_req.evidence["offenders"]
    assert offenders[offenders["dimension"] == "agent"].iloc[0]["value"] == "tool-agent"


def test_timeout_findings_carry_latency_and_slowest_tools(labelled, books):
    found = detect(books["timeout_surge"], labelled.traces, labelled.observations,
                   labelled.scores, *day_window(PLAN["timeout_surge"][0]))
    rate = [f for f in firing(found) if f.signal == "timeout_rate"]
    assert rate and rate[0].labels == {"agent": "planner-agent"}
    assert rate[0].observed > 5 * rate[0].baseline
    slowest = rate[0].evidence["slowest"]
    assert slowest.iloc[0]["name"] == "web_fetch" and slowest.iloc[0]["ratio"] > 1.3
    latency = rate[0].evidence["latency"]
    assert {"p50_s", "p95_s", "p99_s", "near_timeout_share"} <= set(latency.columns)
    durations = labelled.traces.set_index("trace_id").loc[rate[0].trace_ids[:5], "duration_s"]
    assert (durations >= 7.9).all()
    # the baseline before this day is 5 days, not the runbook's 7: the summary says so
    assert "baseline covers only 5 of the 7 days" in rate[0].summary


@pytest.mark.parametrize("day", [6, 7])
def test_quiet_days_raise_nothing(quiet, books, day):
    found = detect_all(books, quiet.traces, quiet.observations, quiet.scores, *day_window(day))
    assert [f.to_dict() for f in found if f.severity != "info"] == []
    assert not [f for f in found if f.status == "insufficient_data"]


def _thin(ds, day, keep):
    """Keep only every ``keep``-th trace of ``day`` (and their observations and scores)."""
    lo, hi = day_window(day)
    t = ds.traces
    in_day = (t["start_time"] >= lo) & (t["start_time"] < hi)
    drop = set(t.loc[in_day, "trace_id"].iloc[[i for i in range(in_day.sum()) if i % keep]])
    keep_t = t[~t["trace_id"].isin(drop)].reset_index(drop=True)
    keep_o = ds.observations[~ds.observations["trace_id"].isin(drop)].reset_index(drop=True)
    keep_s = ds.scores[~ds.scores["trace_id"].isin(drop)].reset_index(drop=True)
    return keep_t, keep_o, keep_s


def test_low_volume_is_judged_where_it_can_be_and_said_where_not(quiet, books):
    traces, obs, scores = _thin(quiet, 7, keep=40)  # 75 traces that day, 3,000 before
    found = detect_all(books, traces, obs, scores, *day_window(7))
    # cost per request of 75 traces is judged (and quiet), and so is groundedness (61 judged
    # traces tell a drop of 0.08 apart); rare timeouts are not: not even a page-level change
    # could be told apart
    assert sorted(f.runbook for f in found) == ["timeout_surge"]
    for f in found:
        assert f.status == "insufficient_data" and f.severity == "info"
        assert "insufficient data" in f.summary and "can only tell apart" in f.summary
    # nothing at all: one finding per runbook, naming it
    t0, t1 = day_window(7)
    none = detect_all(books, traces[traces["start_time"] < t0], obs, scores, t0, t1)
    assert sorted(f.runbook for f in none) == sorted(books)
    assert all("no traces in the window" in f.summary or "no scored" in f.summary
               for f in none)


def test_a_surge_shown_on_thin_data_is_not_also_called_insufficient(labelled, books):
    """A twentieth of the surge day (150 traces) still shows the 20x timeout surge: the runbook
    pages, and "too little data to judge" beside the page would contradict it."""
    traces, obs, scores = _thin(labelled, PLAN["timeout_surge"][0], keep=20)
    found = detect(books["timeout_surge"], traces, obs, scores,
                   *day_window(PLAN["timeout_surge"][0]))
    assert {"timeout_rate", "timeout_errors"} <= {f.signal for f in firing(found)
                                                  if f.severity == "page"}
    assert not [f for f in found if f.status == "insufficient_data"]
    # a fortieth shows nothing: then it is said
    traces, obs, scores = _thin(labelled, PLAN["timeout_surge"][0], keep=40)
    found = detect(books["timeout_surge"], traces, obs, scores,
                   *day_window(PLAN["timeout_surge"][0]))
    assert [(f.status, f.signal) for f in found] == [("insufficient_data", "data_volume")]


def test_one_judge_too_sparse_is_not_insufficient_data_where_another_judges(quiet, books):
    """The hallucination judge samples a few traces of the day, the groundedness judge many:
    groundedness judges the day, so the runbook is not "insufficient data"."""
    lo, hi = day_window(7)
    s = quiet.scores
    day = (s["timestamp"] >= lo) & (s["timestamp"] < hi)
    judged = s[day & s["name"].eq("Hallucination")]
    sparse = s.drop(judged.index[judged.reset_index().index % 50 != 0])
    found = detect(books["hallucination_spike"], quiet.traces, quiet.observations, sparse,
                   lo, hi)
    assert not [f for f in found if f.status == "insufficient_data"]
    # without the groundedness judge the sparse one is all there is, and that is said
    alone = sparse[sparse["name"] != "Faithfulness"]
    found = detect(books["hallucination_spike"], quiet.traces, quiet.observations, alone, lo, hi)
    gap = [f for f in found if f.status == "insufficient_data"]
    assert len(gap) == 1 and "hallucination_rate change" in gap[0].summary


def test_a_handful_of_scores_is_said_per_judge_and_without_a_made_up_size(quiet, books):
    """Two hallucination scores and no groundedness score on the day: neither judge can tell
    any change apart, and the summary says which judge lacks what."""
    lo, hi = day_window(7)
    t, s = quiet.traces, quiet.scores
    day = s["trace_id"].isin(t.loc[(t["start_time"] >= lo) & (t["start_time"] < hi),
                                   "trace_id"])
    judged = s[day & s["name"].eq("Hallucination")]
    few = s.drop(judged.index[2:]).drop(s.index[day & s["name"].eq("Faithfulness")])
    found = detect(books["hallucination_spike"], quiet.traces, quiet.observations, few, lo, hi)
    gap = [f for f in found if f.status == "insufficient_data"]
    assert len(gap) == 1
    assert ("2 scored traces in the window cannot show any hallucination_rate change as "
            "significant (page threshold 4x)") in gap[0].summary
    assert "no scored traces in the window for groundedness" in gap[0].summary
    assert "1000" not in gap[0].summary and "no size" not in gap[0].summary
    # two groundedness scores on a 0..1 scale: the drop they could show is beyond the scale
    grounded = s[day & s["name"].eq("Faithfulness")]
    found = detect(books["hallucination_spike"], quiet.traces, quiet.observations,
                   s.drop(judged.index[2:]).drop(grounded.index[2:]), lo, hi)
    gap = [f for f in found if f.status == "insufficient_data"]
    assert len(gap) == 1 and ("2 scored traces in the window cannot show any groundedness "
                              "change as significant (page threshold 0.25)") in gap[0].summary


def test_no_history_gives_insufficient_data_not_an_all_clear(quiet, books):
    found = detect(books["cost_spike"], quiet.traces, quiet.observations, quiet.scores,
                   *day_window(0))
    assert [(f.status, f.signal) for f in found] == [("insufficient_data", "data_volume")]
    assert "no baseline" in found[0].summary


def _scale_traffic(ds, start, end, copies, cost_factor=1.0):
    """Copies of every trace in ``[start, end)`` with their observations (new ids), costs
    multiplied by ``cost_factor``: ``(traces, observations)``."""
    t, o = ds.traces, ds.observations
    sel = t[(t["start_time"] >= start) & (t["start_time"] < end)]
    sel_o = o[o["trace_id"].isin(set(sel["trace_id"]))]
    extra = [sel.assign(trace_id=sel["trace_id"] + f"-{i}") for i in range(1, copies)]
    extra_o = [sel_o.assign(trace_id=sel_o["trace_id"] + f"-{i}") for i in range(1, copies)]
    out = pd.concat([t[~t.index.isin(sel.index)], sel, *extra], ignore_index=True)
    out_o = pd.concat([o, *extra_o], ignore_index=True)
    inside = (out["start_time"] >= start) & (out["start_time"] < end)
    out.loc[inside, "cost_usd"] = out.loc[inside, "cost_usd"] * cost_factor
    return schema.conform(out, "traces"), schema.conform(out_o, "observations")


def test_traffic_growth_is_not_a_cost_spike(quiet, books):
    lo, hi = day_window(7)
    traces, obs = _scale_traffic(quiet, lo + 12 * H, lo + 15 * H, copies=10)
    found = detect(books["cost_spike"], traces, obs, quiet.scores, lo, hi)
    assert firing(found) == []
    growth = [f for f in found if f.signal == "cost_per_hour"]
    assert len(growth) == 1 and growth[0].severity == "info"
    assert "traffic growth" in growth[0].summary
    assert growth[0].ratio > 5
    # the finding spans the grown hours; its figures are its top hour's, and it says which
    g = growth[0]
    hours = g.evidence["hours"]
    top = hours.loc[hours["spend_ratio"].idxmax()]
    assert (g.start, g.end) == (hours["bucket"].min(), hours["end"].max())
    assert g.observed == pytest.approx(top["spend_usd"])
    assert g.summary.startswith(
        f"Spend grew with traffic in {len(hours)} hour{'s' if len(hours) > 1 else ''} between "
        f"{g.start:%H:%M} and {g.end:%H:%M} UTC, at most {top['spend_ratio']:.1f}x the "
        f"baseline for the hour ({top['bucket']:%H:%M}–{top['end']:%H:%M})")


def test_spend_up_on_modest_traffic_is_a_per_request_anomaly(quiet, books):
    lo, hi = day_window(7)
    traces, obs = _scale_traffic(quiet, lo + 12 * H, lo + 15 * H, copies=2, cost_factor=6.0)
    found = detect(books["cost_spike"], traces, obs, quiet.scores, lo, hi)
    per_req = [f for f in firing(found) if f.signal == "cost_per_request"]
    assert per_req and per_req[0].ratio == pytest.approx(6.0, rel=0.15)
    assert per_req[0].severity == "page"
    assert (per_req[0].start, per_req[0].end) == (lo + 12 * H, lo + 15 * H)
    # every agent's cost per request rose: one finding per agent, the all-traffic one folded in
    assert sorted(f.labels["agent"] for f in per_req) == ["planner-agent", "rag-agent",
                                                          "tool-agent"]
    series = per_req[0].evidence["series"].set_index("bucket")
    assert series.loc[lo + 13 * H, "ratio"] == pytest.approx(6.0, rel=0.15)
    assert any(f.signal == "page_burst" and f.severity == "page" for f in found)


def test_bad_input_is_named(quiet, books):
    lo, hi = day_window(7)
    with pytest.raises(ValueError, match="not after its start"):
        detect(books["cost_spike"], quiet.traces, None, None, hi, lo)
    with pytest.raises(SchemaError, match="cost_usd"):
        detect(books["cost_spike"], quiet.traces.drop(columns="cost_usd"), None, None, lo, hi)
    other = runbooks.Runbook(name="other", path=books["cost_spike"].path,
                             spec=books["cost_spike"].spec)
    with pytest.raises(ConfigError, match="no detector for runbook 'other'"):
        detect(other, quiet.traces, None, None, lo, hi)


def test_detect_all_orders_by_urgency(labelled, books):
    found = detect_all(books, labelled.traces, labelled.observations, labelled.scores,
                       *day_window(6))
    ranks = [SEVERITIES.index(f.severity) for f in found]
    assert ranks == sorted(ranks, reverse=True) and ranks[0] == SEVERITIES.index("page")


def test_hallucination_findings_point_at_the_worst_scored_traces(labelled, books):
    found = detect(books["hallucination_spike"], labelled.traces, labelled.observations,
                   labelled.scores, *day_window(PLAN["hallucination_spike"][0]))
    rate = [f for f in firing(found) if f.signal == "hallucination_rate"]
    assert rate and rate[0].labels == {"agent": "rag-agent"}
    assert rate[0].observed > 3 * rate[0].baseline
    units = trace_signals(labelled.traces, labelled.observations, labelled.scores, books)
    worst = units.set_index("trace_id").loc[rate[0].trace_ids]
    assert (worst["hallucination"] > 0.5).all() and (worst["hallucinated"] == 1).all()
    compare = rate[0].evidence["scores"]
    rag = compare[compare["agent"] == "rag-agent"].set_index("period")["mean"]
    assert rag["incident"] > rag["baseline"]


def test_an_hour_of_failures_burns_the_slo_error_budget(quiet, books):
    lo, hi = day_window(7)
    t = quiet.traces.copy()
    hour = (t["start_time"] >= lo + 14 * H) & (t["start_time"] < lo + 15 * H)
    t.loc[hour, "status"] = "timeout"
    t.loc[hour, "duration_s"] = 8.0
    found = detect(books["timeout_surge"], schema.conform(t, "traces"), quiet.observations,
                   quiet.scores, lo, hi)
    burn = [f for f in found if f.signal == "slo_burn_rate"]
    # every agent has its own budget and burns it: one page each (1h and 5m windows past 14.4x)
    assert sorted(f.labels["agent"] for f in burn) == ["planner-agent", "rag-agent",
                                                       "tool-agent"]
    for f in burn:
        assert f.severity == "page" and f.observed > 14.4 and f.baseline == 14.4
        assert lo + 14 * H <= f.start < lo + 14 * H + pd.Timedelta(minutes=15)
    rate = [f for f in found if f.signal == "timeout_rate"]
    # every agent timed out for that hour: one finding each, the all-traffic one folded in
    assert sorted(f.labels["agent"] for f in rate) == ["planner-agent", "rag-agent",
                                                       "tool-agent"]
    assert {(f.start, f.end, f.severity) for f in rate} == {(lo + 14 * H, lo + 15 * H, "page")}
    latency = rate[0].evidence["latency"].set_index("bucket")
    assert latency.loc[lo + 14 * H, "timeout_share"] == 1.0
    assert latency.loc[lo + 13 * H, "timeout_share"] < 0.05


def test_a_few_timeouts_in_a_quiet_hour_are_chance_not_a_burn(quiet, books):
    lo, hi = day_window(7)
    t = quiet.traces.copy()
    agent = t["agent"] == "rag-agent"
    hour = agent & (t["start_time"] >= lo + 3 * H) & (t["start_time"] < lo + 4 * H)
    # thin the hour to 25 requests, three of them cut: 12 % of the hour out of budget is a
    # 12x burn by arithmetic, but a 99 % SLO shows three of 25 by chance once in ~500 hours
    drop = t.index[hour][25:]
    t = t.drop(drop)
    cut = t.index[(t["agent"] == "rag-agent") & (t["start_time"] >= lo + 3 * H)
                  & (t["start_time"] < lo + 4 * H)]
    assert len(cut) == 25
    t.loc[cut[:3], "status"], t.loc[cut[:3], "duration_s"] = "timeout", 8.0
    t.loc[cut[3:], "status"] = "ok"
    found = detect(books["timeout_surge"], schema.conform(t, "traces"), quiet.observations,
                   quiet.scores, lo, hi)
    assert not [f for f in found if f.signal == "slo_burn_rate"
                and f.labels == {"agent": "rag-agent"} and f.start < lo + 5 * H]
    # a third of a busy hour cut is a burn, and an improbable one
    t2 = t.copy()
    busy = t2.index[(t2["agent"] == "rag-agent") & (t2["start_time"] >= lo + 14 * H)
                    & (t2["start_time"] < lo + 15 * H)]
    assert len(busy) >= 30
    cut = busy[::3]
    t2.loc[cut, "status"], t2.loc[cut, "duration_s"] = "timeout", 8.0
    found = detect(books["timeout_surge"], schema.conform(t2, "traces"), quiet.observations,
                   quiet.scores, lo, hi)
    burn = [f for f in found
            if f.signal == "slo_burn_rate" and f.labels == {"agent": "rag-agent"}]
    assert burn and burn[0].severity == "page" and burn[0].p_value <= 1e-5
    assert lo + 14 * H <= burn[0].start < lo + 15 * H
