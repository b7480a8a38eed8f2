"""Post-mortems: the timeline, impact and root cause of each demo incident, read from the
engine; the alert ledger as the detection time; an incident the data ends in; a quiet window;
the notes file; Markdown that shows trace content as written. In-process, without a kernel
(the command and its files are tested in test_postmortem_command.py)."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

from workbench.alerts import Alert
from workbench.alerts.spool import Entry, Spool
from workbench.analysis import Judge
from workbench.analysis.judge import ALL
from workbench.errors import ConfigError
from workbench.findings import Finding, Suspect
from workbench.redact import redactor
from workbench.reports import postmortem as pm
from workbench.reports.document import md_text
from workbench.reports.incident import examine, in_slice
from workbench.reports.postmortem_notes import ActionItem, Notes, load_notes
from workbench.sources import TraceSource, to_utc

H = pd.Timedelta(hours=1)
CAUSE = {"cost_spike": "tool_name=search_api in agent=tool-agent",
         "timeout_surge": "tool_name=web_fetch in agent=planner-agent",
         "hallucination_spike": "prompt_version=8 in prompt_name=rag-answer"}
AGENT = {"cost_spike": "tool-agent", "timeout_surge": "planner-agent",
         "hallucination_spike": "rag-agent"}


class FrameSource(TraceSource):
    """The simulator's frames as a trace source, optionally cut off at ``until``."""

    name = "frames"

    def __init__(self, ds, until=None):
        self.ds, self.until = ds, until

    def _cut(self, frame, column, start, end):
        end = min(to_utc(end), self.until) if self.until is not None else to_utc(end)
        return frame[(frame[column] >= to_utc(start)) & (frame[column] < end)]

    def observations(self, start, end, **filters):
        return self._cut(self.ds.observations, "start_time", start, end)

    def scores(self, start, end, **filters):
        return self._cut(self.ds.scores, "timestamp", start, end)


@pytest.fixture(scope="module")
def week():
    from shared_datasets import simulated

    return simulated(seed=7, days=7, traces_per_day=1000)


@pytest.fixture(scope="module")
def labels(week):
    return {r.runbook: r for r in week.labels.itertuples()}


@pytest.fixture(scope="module")
def written(week, labels):
    """The post-mortem of each incident over its whole day, with no alert history."""
    out = {}
    for name, lab in labels.items():
        day = lab.start.floor("D")
        out[name] = pm.build(name, FrameSource(week), day, day + pd.Timedelta(days=1),
                             ledger=[])
    return out


@pytest.mark.parametrize("name", sorted(CAUSE))
def test_each_demo_incident_has_its_timeline_impact_and_cause(written, labels, name):
    p, lab = written[name], labels[name]
    inc = p.incident
    assert inc.group == AGENT[name] and inc.state == "resolved"
    times = {e.name: e.at for e in inc.timeline}
    # the injected hours, found from the data: started, peaked inside, resolved at their end
    assert times["Started"] == lab.start and times["Resolved"] == lab.end
    assert lab.start <= times["Peaked"] < lab.end
    # a prompt version new since the baseline is on the timeline from its first trace; a tool
    # or a model the agent always ran shipped nothing
    if lab.cause_dimension == "prompt_version":
        units = inc.inv.units
        shipped = f"{lab.cause_within.split('=')[1]}|{lab.cause_value}"  # rag-answer|8
        ran = units["prompt_version"].map(lambda versions: shipped in versions)
        assert times["Shipped"] == units.loc[ran, "time"].min()
        assert lab.start <= times["Shipped"] < lab.start + H
        # in time order with the first changed hour (the version's first trace can fall
        # inside that hour)
        first_two = ["Shipped", "Started"] if times["Shipped"] <= times["Started"] \
            else ["Started", "Shipped"]
        assert [e.name for e in inc.timeline][:2] == first_two
        assert inc.causes[0]["first_seen"] == times["Shipped"]
    else:
        assert "Shipped" not in times and inc.causes[0]["first_seen"] is None
    # no alert in the ledger: the first hour an hourly check would have alerted, said so
    assert lab.start < times["Detected"] <= lab.end and inc.detected_by is None
    assert "an hourly check would have alerted" in inc.event("Detected").what
    # ... and "what went badly" claims no detection nobody made
    assert not any(x.startswith("Detected ") for x in p.went_badly())
    delay = times["Detected"] - times["Started"]
    if delay > pm._PROMPT:
        assert (f"An hourly check would have alerted {pm.fmt_duration(delay)} after the change "
                "started.") in p.went_badly()
    assert inc.window == (lab.start, lab.end)
    # impact: the judge's numbers over the incident's hours, in the incident's agent
    j, units = inc.inv.judge, inc.inv.units
    t = units["time"]
    mask = (t >= lab.start) & (t < lab.end) & (units["agent"] == AGENT[name])
    assert inc.impact["requests"] == int(mask.sum()) > 0
    assert inc.impact["users"] == units.loc[mask, "user_id"].nunique()
    assert inc.impact["errors"] == int(units.loc[mask, "error"].sum())
    iv = j.interval(inc.inv.primary, lab.start, lab.end, AGENT[name])
    pr = inc.impact["primary"]
    assert (pr["observed"], pr["expected"], pr["p_value"]) == (iv.observed, iv.expected,
                                                               iv.p_value)
    assert pr["observed"] > 2 * pr["expected"]
    # the cause injected is the top candidate, with evidence traces from its slice
    top = inc.causes[0]
    assert top["suspect"] == CAUSE[name] and top["contribution"] > 0.8
    assert len(top["traces"]) == 3
    assert set(top["traces"]) <= set(units["trace_id"][mask])
    # the first action item is the mitigation for that kind of cause, then the runbook's
    entry = p.runbook.spec["suspect_mitigations"][top["dimension"]]
    fitted = entry["say"].format(
        value=top["value"], agent=top["within"].get("agent") or AGENT[name],
        prompt_name=f"prompt {top['within'].get('prompt_name')}")
    general = [m for m in p.runbook.spec["mitigations"] if m != entry["instead_of"]]
    assert len(general) == len(p.runbook.spec["mitigations"]) - 1  # not said twice
    assert [a.action for a in p.action_items()] == [fitted, *general]
    assert f"| 1 | {md_text(fitted)} | unassigned |" in p.markdown()


def test_cost_spike_impact_is_excess_dollars_against_the_same_traffic(written, labels):
    inc, lab = written["cost_spike"].incident, labels["cost_spike"]
    units = inc.inv.units
    mask = ((units["time"] >= lab.start) & (units["time"] < lab.end)
            & (units["agent"] == "tool-agent")).to_numpy()
    spent = float(units.loc[mask, "cost"].sum())
    im = inc.impact
    assert im["cost_usd"] == pytest.approx(spent, rel=1e-12)
    tot = Judge(inc.inv.runbook, units, inc.inv.start, inc.inv.end).totals(
        "cost_per_request", lab.start, lab.end, "tool-agent")
    assert (im["expected_cost_usd"], im["excess_cost_usd"]) == (tot.expected, tot.excess)
    # what the baseline expects is the cost per request it expects, for these requests
    pr = im["primary"]
    assert im["expected_cost_usd"] == pytest.approx(pr["expected"] * pr["units"], rel=1e-9)
    assert 0.8 * spent < im["excess_cost_usd"] < spent  # an 8x spike is mostly excess
    text = written["cost_spike"].markdown()
    assert f"\\${im['excess_cost_usd']:,.2f}" in text  # printed in USD, the dollar escaped


def test_the_primary_signal_is_printed_in_its_unit(written):
    """Cost per request reads as dollars wherever the post-mortem states it (Summary, Impact,
    Timeline, Root cause), the same 4 digits the daily report prints; a rate stays bare."""
    p = written["cost_spike"]
    inc = p.incident
    pr = inc.impact["primary"]
    seen, expected = f"${pr['observed']:.4g}", f"${pr['expected']:.4g}"
    impact = p.blocks("Impact")[0].content.set_index("")
    assert impact.loc["cost_per_request", "value"] == seen
    assert impact.loc["cost_per_request", "against"].startswith(
        f"{expected} expected for the same traffic")
    assert f"rose to {seen} against {expected} expected" in p.blocks("Summary")[-1].content[0]
    assert f"cost_per_request {seen} against" in inc.event("Started").what
    assert inc.event("Peaked").what.startswith("cost_per_request $")
    causes = p.blocks("Root cause")[1].content
    assert list(causes.columns[3:5]) == ["cost_per_request of its traces",
                                         "expected of its traces"]
    assert causes["cost_per_request of its traces"].str.startswith("$").all()
    assert causes["expected of its traces"].str.startswith("$").all()
    # every candidate's figure is its own traces' cost per request over the changed hours
    units, (a, b) = inc.inv.units, inc.changed
    scope = ((units["time"] >= a) & (units["time"] < b)).to_numpy().copy()
    if inc.group != ALL:
        scope &= (units["agent"] == inc.group).to_numpy()
    for c, shown in zip(inc.causes, causes["cost_per_request of its traces"]):
        held = scope & in_slice(units, Suspect(c["dimension"], c["value"], 0.0,
                                               within=c["within"]))
        cost = np.nan_to_num(units["cost"].to_numpy(dtype="float64")[held])
        assert c["incident"] == pytest.approx(cost.mean(), rel=1e-9)
        assert shown == f"${c['incident']:.4g}"
    markdown = p.markdown()
    assert f"| cost\\_per\\_request | \\{seen} | \\{expected} expected" in markdown
    rate = written["timeout_surge"].blocks("Impact")[0].content.set_index("")
    assert rate.loc["timeout_rate", "value"] == \
        f"{100 * written['timeout_surge'].incident.impact['primary']['observed']:.4g}%"


def test_timeout_surge_impact_counts_timeouts_and_the_slo_budget_they_burnt(written, labels):
    inc = written["timeout_surge"].incident
    im = inc.impact
    units, lab = inc.inv.units, labels["timeout_surge"]
    mask = ((units["time"] >= lab.start) & (units["time"] < lab.end)
            & (units["agent"] == "planner-agent")).to_numpy()
    assert im["timeouts"] == int(units.loc[mask, "timeout"].sum())
    assert im["timeouts"] > 10 * im["timeouts_expected"]
    assert im["primary"]["events"] == im["timeouts"]  # timeout_rate's events are timeouts
    rows = written["timeout_surge"].blocks("Impact")[0].content.set_index("")
    assert "timeout_rate events" not in rows.index  # said once, as Timeouts
    assert rows.loc["Timeouts", "value"] == f"{im['timeouts']:,}"
    slo = im["slo"]
    # the budget: 1 % of 30 days of all traffic at the baseline days' rate (the three days
    # the simulated week has before the surge's day)
    t = inc.inv.units["time"]
    day = lab.start.floor("D")
    per_day = int(((t >= day - pd.Timedelta(days=3)) & (t < day)).sum()) / 3
    assert slo["budget_events"] == pytest.approx(0.01 * per_day * 30, rel=1e-9)
    assert slo["consumed"] == pytest.approx((im["timeouts"] - im["timeouts_expected"])
                                            / slo["budget_events"], rel=1e-9)
    assert 0 < slo["consumed"] < 1
    # the planner's incident uses the whole service's budget, and the basis says so
    assert inc.group == "planner-agent"
    assert f"~{per_day:,.0f} requests a day of all traffic, not planner-agent alone" \
        in slo["basis"]


def test_the_slo_budget_is_counted_over_the_runbooks_period(written):
    inv = written["timeout_surge"].incident.inv
    spec = inv.runbook.spec
    weekly = dataclasses.replace(inv.runbook, spec={**spec, "slo": {**spec["slo"],
                                                                     "period": "7d"}})
    slo = examine(dataclasses.replace(inv, runbook=weekly), ledger=[]).impact["slo"]
    monthly = written["timeout_surge"].incident.impact["slo"]
    assert slo["period_days"] == 7 and monthly["period_days"] == 30
    assert slo["budget_events"] == pytest.approx(monthly["budget_events"] * 7 / 30, rel=1e-12)
    assert slo["consumed"] == pytest.approx(monthly["consumed"] * 30 / 7, rel=1e-12)
    assert "of a 7-day budget" in slo["basis"]


def test_the_slo_budget_is_shown_where_timeouts_spent_it(written):
    """A timeout incident states the budget it burnt; a cost incident with no extra timeouts
    has no budget row (a "0.0 %" there says nothing about cost), one with extra timeouts has."""
    def rows(p):
        return set(p.blocks("Impact")[0].content[""])

    assert "SLO error budget consumed" in rows(written["timeout_surge"])
    cost = copy.deepcopy(written["cost_spike"])
    cost.incident.impact["slo"]["excess_events"] = 0.0
    cost.incident.impact["slo"]["consumed"] = 0.0
    assert "SLO error budget consumed" not in rows(cost)
    assert "SLO error budget" not in cost.markdown()
    cost.incident.impact["slo"]["excess_events"] = 12.0
    cost.incident.impact["slo"]["consumed"] = 0.02
    assert "SLO error budget consumed" in rows(cost)
    assert "| SLO error budget consumed | 2.0% |" in cost.markdown()


def test_hallucination_impact_counts_hallucinated_answers_of_the_scored(written):
    im = written["hallucination_spike"].incident.impact
    pr = im["primary"]
    assert pr["events"] == pytest.approx(pr["observed"] * pr["units"], rel=1e-9)
    assert pr["units"] <= im["requests"]  # only scored traces are judged


def test_detection_is_the_first_alert_the_ledger_delivered(week, labels, tmp_path):
    lab = labels["cost_spike"]
    spool = Spool(tmp_path / "spool.jsonl")

    def deliver(runbook, signal, start, at, agent="tool-agent"):
        f = Finding(runbook=runbook, signal=signal, severity="page", start=start,
                    end=start + H, observed=1.0, baseline=0.1, summary="x",
                    labels={"agent": agent})
        with spool.locked():
            spool.settle([Entry.new("file:///x", Alert.from_finding(f))], [],
                         now=at.to_pydatetime())

    deliver("cost_spike", "cost_per_request", lab.start, lab.start + pd.Timedelta(minutes=40))
    # another agent's cost alert, earlier, is not this incident's detection
    deliver("cost_spike", "cost_per_request", lab.start, lab.start + pd.Timedelta(minutes=10),
            agent="chat-agent")
    deliver("cost_spike", "cost_per_request", lab.start - 2 * H, lab.start - H)  # before it
    deliver("timeout_surge", "timeout_rate", lab.start, lab.start + pd.Timedelta(minutes=5))
    p = pm.build("cost_spike", FrameSource(week), lab.start, lab.end, ledger=spool.path)
    inc = p.incident
    assert inc.detected == lab.start + pd.Timedelta(minutes=40)
    assert inc.detected_by == "CostSpikeCostPerRequest"
    assert inc.event("Detected").basis == "the alert ledger"
    assert any("Alerted 40 min after the change started" in x for x in p.went_well())
    assert "First alert: CostSpikeCostPerRequest at" in p.markdown()


def test_a_late_alert_went_badly_not_well(week, labels, tmp_path):
    lab = labels["cost_spike"]
    spool = Spool(tmp_path / "spool.jsonl")
    f = Finding(runbook="cost_spike", signal="cost_per_request", severity="page",
                start=lab.start, end=lab.start + H, observed=1.0, baseline=0.1, summary="x",
                labels={"agent": "tool-agent"})
    with spool.locked():  # 2 h 30 min after the start, the incident still on
        spool.settle([Entry.new("file:///x", Alert.from_finding(f))], [],
                     now=(lab.start + 2.5 * H).to_pydatetime())
    p = pm.build("cost_spike", FrameSource(week), lab.start, lab.end, ledger=spool.path)
    assert p.incident.detected == lab.start + 2.5 * H
    assert "Detected 2 h 30 min after the change started." in p.went_badly()
    assert not any("Alerted" in x for x in p.went_well())
    causes = p.incident.causes
    said = next(x for x in p.went_well() if x.startswith("Attribution explains"))
    assert f"its first candidate: {causes[0]['suspect']}" in said
    # every other candidate explaining as much is named beside it, never "one candidate"
    also = [c["suspect"] for c in causes[1:] if c["contribution"] >= 0.8]
    assert all(s in said for s in also) and "one candidate" not in said
    if also:
        assert f"{len(also)} other candidate" in said


class ProjectSource(FrameSource):
    """The same frames as one project's source: its alerts are its own in the ledger."""

    def __init__(self, ds, project, until=None):
        super().__init__(ds, until)
        self.project = project

    @property
    def identity(self):
        return f"frames:{self.project}"


def _deliver(spool, runbook, signal, start, at, *, labels=None, source_id=None,
             end=None):
    f = Finding(runbook=runbook, signal=signal, severity="page", start=start,
                end=end if end is not None else start + H, observed=1.0, baseline=0.1,
                summary="x", labels=labels if labels is not None else {})
    with spool.locked():
        spool.settle([Entry.new("file:///x", Alert.from_finding(f, source_id=source_id))], [],
                     now=at.to_pydatetime())


def test_another_projects_alert_is_no_detection(week, labels, tmp_path):
    """The ledger is shared by every project on the machine: project A's daily alert for the
    same runbook and day is not project B's detection, nor is an older record naming no
    source; B's own alert is."""
    lab = labels["hallucination_spike"]
    day = lab.start.floor("D")
    spool = Spool(tmp_path / "spool.jsonl")
    _deliver(spool, "hallucination_spike", "daily_hallucination_rate", day, lab.start + H,
             labels={"day": f"{day:%Y-%m-%d}"}, source_id="frames:A", end=day + 24 * H)
    _deliver(spool, "hallucination_spike", "hallucination_rate", lab.start,
             lab.start + 2 * H, labels={"agent": "rag-agent"})  # an older ledger's record
    _deliver(spool, "hallucination_spike", "groundedness", lab.start, lab.start + 3 * H,
             labels={"agent": "rag-agent"}, source_id="frames:B")
    p = pm.build("hallucination_spike", ProjectSource(week, "B"), lab.start, lab.end,
                 ledger=spool.path)
    inc = p.incident
    assert inc.detected_by == "HallucinationSpikeGroundedness"
    assert inc.detected == lab.start + 3 * H
    assert "First alert: HallucinationSpikeGroundedness at" in p.markdown()
    assert "HallucinationSpikeDailyHallucinationRate" not in p.markdown()
    # project A's post-mortem counts A's alert (on all traffic: its agent's too) and not B's
    a = pm.build("hallucination_spike", ProjectSource(week, "A"), lab.start, lab.end,
                 ledger=spool.path).incident
    assert (a.detected_by, a.detected) == ("HallucinationSpikeDailyHallucinationRate",
                                           lab.start + H)
    # records the caller passes are vouched for: one naming no source still counts
    older = [r for r in Spool(spool.path).ledger().values()
             if r.get("source_id") != "frames:B"]
    listed = examine(inc.inv, ledger=older)
    assert listed.detected_by == "HallucinationSpikeHallucinationRate"


def test_only_alerts_on_all_traffic_count_for_every_agent(week, labels, tmp_path):
    """An alert naming no agent detected an agent's incident only when it judged all
    traffic: a release's alert across agents is about that slice, not this agent."""
    lab = labels["cost_spike"]
    spool = Spool(tmp_path / "spool.jsonl")
    _deliver(spool, "cost_spike", "cost_per_request", lab.start,
             lab.start + pd.Timedelta(minutes=10), labels={"release": "v2"})
    _deliver(spool, "cost_spike", "cost_per_request", lab.start,
             lab.start + pd.Timedelta(minutes=30))
    inc = pm.build("cost_spike", FrameSource(week), lab.start, lab.end,
                   ledger=spool.path).incident
    assert inc.group == "tool-agent"
    assert inc.detected == lab.start + pd.Timedelta(minutes=30)
    records = {r["at"]: r for r in Spool(spool.path).ledger().values()}
    assert [r.get("all_traffic", False) for _, r in sorted(records.items())] == [False, True]


def test_an_alert_sent_after_the_incident_is_no_detection(week, labels, tmp_path):
    """A daily report replayed days later sends its alerts then: no detection after the
    incident resolved, no detection delay of days; said as a report run after the fact."""
    lab = labels["cost_spike"]
    spool = Spool(tmp_path / "spool.jsonl")
    replay = lab.start + pd.Timedelta(hours=164, minutes=23)
    _deliver(spool, "cost_spike", "cost_per_request", lab.start, replay,
             labels={"agent": "tool-agent"})
    p = pm.build("cost_spike", FrameSource(week), lab.start, lab.end, ledger=spool.path)
    inc = p.incident
    assert inc.resolved is not None and inc.detected_by is None
    assert inc.late_alert == (replay, "CostSpikeCostPerRequest")
    detected = inc.event("Detected")
    assert detected.at is None or detected.at <= inc.resolved
    assert detected.what.startswith("no alert delivered while it ran")
    said = ("No alert of this runbook was delivered while the incident ran: the first "
            f"recorded, CostSpikeCostPerRequest at {replay:%Y-%m-%d %H:%M} UTC, came "
            f"{(replay - inc.resolved) // H} h 23 min after it was resolved (a report run "
            "after the fact).")
    assert said in p.went_badly()
    assert not any(x.startswith("Detected") for x in p.went_badly())
    assert not any("Alerted" in x for x in p.went_well())
    text = p.markdown()
    assert "164 h" not in text and "First alert" not in text
    assert "No alert of this runbook was delivered while the incident ran" in text


def test_an_alert_sent_after_the_data_ends_is_no_detection(week, labels, tmp_path):
    lab = labels["timeout_surge"]
    cut = lab.start + 2 * H  # the data stops two hours into the surge
    spool = Spool(tmp_path / "spool.jsonl")
    _deliver(spool, "timeout_surge", "timeout_rate", lab.start, cut + 30 * H,
             labels={"agent": "planner-agent"})
    p = pm.build("timeout_surge", FrameSource(week, until=cut), lab.start.floor("D"), cut,
                 ledger=spool.path)
    inc = p.incident
    assert inc.resolved is None and inc.detected_by is None
    assert inc.late_alert is not None
    assert any(x.startswith("No alert of this runbook was delivered while the incident ran")
               and "after the data ends, the change still on (a report run after the fact)"
               in x for x in p.went_badly())


def test_an_incident_the_data_ends_in_is_not_resolved(week, labels):
    lab = labels["timeout_surge"]
    cut = lab.start + 2 * H  # the data stops two hours into the surge
    p = pm.build("timeout_surge", FrameSource(week, until=cut), lab.start.floor("D"),
                 cut, ledger=[])
    inc = p.incident
    assert inc.started == lab.start and inc.resolved is None
    assert inc.state == "ongoing when the data ends"
    resolved = inc.event("Resolved")
    assert resolved.at is None and resolved.what.startswith("not yet: the data ends at")
    assert inc.window == (lab.start, cut)
    assert "Not back to baseline when the data ends." in p.went_badly()
    assert "until the data ends, still changed" in p.markdown()


def test_a_quiet_window_says_so_and_suggests_nothing(week, labels):
    day = labels["cost_spike"].start.floor("D")
    p = pm.build("cost_spike", FrameSource(week), day + 15 * H, day + 18 * H, ledger=[])
    inc = p.incident
    assert inc.changed is None and inc.state == "no change found" and inc.causes == []
    assert [e.at for e in inc.timeline] == [None] * 4
    text = p.markdown()
    assert "No significant change of cost per request between" in text
    assert "No root-cause candidate: no changed hours to explain." in text
    # what the window could have missed, never a bare all-clear, and nothing to mitigate
    could = inc.inv.signal_table().set_index("signal").loc["cost_per_request", "could_show"]
    assert 1 < could < 10
    assert (f"could show a change of {could:.3g}x or more: a smaller one would be missed, "
            "not absent") in text
    assert inc.inv.suspects().empty and "Leading, not significant" not in text
    # where a ranking leads the window's difference, it is named, as not significant
    leading = copy.copy(p)
    leading.incident = dataclasses.replace(inc, inv=copy.copy(inc.inv))
    leading.incident.inv.suspects = lambda: pd.DataFrame(
        [{"suspect": "tool_name=search in agent=tool-agent", "contribution": 0.64}])
    assert ("Leading, not significant: tool_name=search in agent=tool-agent (64% of the "
            "difference).") in leading.blocks("Summary")[-1].content[0]
    assert p.action_items() == []
    assert "No action items: no change was found in the window." in text
    impact = p.blocks("Impact")[0].content.set_index("")
    assert "Requests affected" not in impact.index
    assert impact.loc["Requests in the window", "value"] == f"{inc.impact['requests']:,}"


def test_a_window_too_small_to_judge_says_so_not_no_change(week, labels):
    """Half an hour of a night: the timeout runbook cannot tell even a page-size change
    apart there, so the post-mortem says it could not judge, not that nothing changed."""
    night = labels["timeout_surge"].start.floor("D") + 3 * H
    p = pm.build("timeout_surge", FrameSource(week), night, night + H / 2, ledger=[])
    inc = p.incident
    assert inc.changed is None and inc.inv.too_little
    assert inc.state == "cannot judge (too little data)"
    text = p.markdown().replace("\\", "")  # Markdown's escapes
    assert ("No change of timeout rate could be judged between 2026-11-05 03:00 and "
            "2026-11-05 03:30 UTC: insufficient data to judge (13 traces in the window can "
            "only tell apart a timeout_rate change of ") in text
    assert "Not finding one here is no all-clear." in text
    assert "No significant change" not in text


def test_no_data_in_the_window_is_degraded_not_an_all_clear(week):
    late = week.traces["start_time"].max().ceil("D") + pd.Timedelta(days=2)
    p = pm.build("cost_spike", FrameSource(week), late, late + 3 * H, ledger=[])
    assert p.degraded and any("no traces in the window" in x for x in p.incident.problems)
    assert "Incomplete data: " in p.markdown() and p.summary({})["degraded"] is True


def test_the_notes_file_fills_the_parts_people_write(week, labels, tmp_path):
    notes = tmp_path / "notes.yaml"
    notes.write_text(
        "title: Search API loop burns $11\nstatus: In review\n"
        "summary: search_api answered HTML error pages; tool-agent retried them.\n"
        "contributing_factors: [The loop guard allowed 40 iterations.]\n"
        "went_well: []\n"
        "action_items:\n"
        "  - {action: Cap iterations at 10, owner: ana, due: 2026-11-20, tracked_in: OPS-1}\n")
    lab = labels["cost_spike"]
    p = pm.build("cost_spike", FrameSource(week), lab.start, lab.end, notes=notes, ledger=[])
    assert p.title == "Search API loop burns $11" and p.notes.status == "In review"
    assert p.action_items() == [ActionItem("Cap iterations at 10", "ana", "2026-11-20", "OPS-1")]
    md = p.markdown()
    assert md.startswith("# Search API loop burns \\$11\n")
    assert "| Status | In review |" in md
    assert "| 1 | Cap iterations at 10 | ana | 2026-11-20 | OPS-1 |" in md
    assert "- The loop guard allowed 40 iterations." in md and "None written." in md
    assert "went_badly" not in md and "Suggested from the data" in md  # went badly: suggested
    s = p.summary({})
    assert s["notes_written"] and s["went_well"] == [] and s["status"] == "In review"


@pytest.mark.parametrize("text,message", [
    ("- a list", "expected a mapping"),
    ("titel: x", "unknown key(s) ['titel']"),
    ("went_well: not a list", "went_well: expected a list of text"),
    ("action_items: [{owner: ana}]", "action_items item 1: expected a mapping with an 'action'"),
    ("action_items: [{action: x, who: ana}]", "item 1: unknown key(s) ['who']"),
    ("status: [a]", "status: expected text"),
    ("title: 'unclosed", "not valid YAML"),
])
def test_bad_notes_files_name_the_file_key_and_problem(tmp_path, text, message):
    path = tmp_path / "notes.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_notes(path)
    assert str(path) in str(err.value) and message in str(err.value)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_notes(tmp_path / "missing.yaml")
    assert load_notes(None) == Notes()


def test_markdown_shows_trace_content_as_written_never_as_markup():
    hostile = ('<script>alert(1)</script> [x](javascript:alert(1)) **b** | `c` $5 and $6 '
               '<img src=x onerror=alert(1)>\nnext line')
    out = md_text(hostile)
    assert "<" not in out and ">" not in out and "\n" not in out
    # both brackets escaped: no link can form, so the parentheses read as written
    assert not re.search(r"(?<!\\)\]\(", out) and "\\[x\\](javascript:alert(1))" in out
    assert "\\*\\*b\\*\\*" in out and "\\|" in out and "\\`c\\`" in out and "\\$5" in out
    assert out.startswith("&lt;script&gt;alert(1)&lt;/script&gt;")
    import mistune  # the Markdown renderer Jupyter's nbconvert uses

    rendered = mistune.html(out)
    assert "<a " not in rendered and "<img" not in rendered and "<strong>" not in rendered
    assert "[x](javascript:alert(1)) **b** | `c` $5" in rendered


def test_markdown_and_json_are_redacted_and_counted(week, labels, tmp_path):
    lab = labels["cost_spike"]
    notes = Notes(summary="ask oncall.lead@example.com or +44 20 7946 0958")
    p = pm.build("cost_spike", FrameSource(week), lab.start, lab.end, notes=notes, ledger=[])
    files = p.write(tmp_path, {"runbook": "cost_spike"})
    md = files["markdown"].read_text()
    assert "oncall.lead@example.com" not in md and "\\[redacted:email\\]" in md
    assert "7946 0958" not in md
    s = files["summary"].read_text()
    assert "oncall.lead@example.com" not in s
    import json

    red = json.loads(s)["redaction"]
    assert red["parts"]["markdown"]["by_kind"] == {"email": 1, "phone": 1}
    assert red["count"] >= 2
    plain = p.markdown(redactor(False))
    assert "oncall.lead@example.com" in plain and "Redaction was turned off" in plain


def test_suspect_slices_match_tuples_composites_and_prompt_versions():
    from workbench.findings import Suspect

    units = pd.DataFrame({
        "agent": ["a", "a", "b"], "tool_name": [("s", "t"), ("t",), ("s",)],
        "prompt_version": [("p|8",), ("p|7",), ("q|8",)], "prompt_name": [("p",), ("p",), ("q",)]})
    assert in_slice(units, Suspect("tool_name", "s", 1.0, within={"agent": "a"})).tolist() == \
        [True, False, False]
    assert in_slice(units, Suspect("prompt_version", "8", 1.0,
                                   within={"prompt_name": "p"})).tolist() == [True, False, False]
    assert not in_slice(units, Suspect("release", "1.0", 1.0)).any()


def test_the_stem_is_a_safe_file_name():
    t = dt.datetime(2026, 11, 6, 9, 0)
    assert pm.postmortem_stem("cost_spike", t) == "postmortem-cost_spike-20261106T0900"
    assert pm.postmortem_stem("cost_spike", t, "tool agent/../<x>") == \
        "postmortem-cost_spike-20261106T0900-tool-agent-x"
    assert np.all([c.isalnum() or c in "-_." for c in
                   pm.postmortem_stem("x", t, "../../etc/passwd")])


def test_notes_on_the_data_are_caveats_not_contributing_factors(written):
    """The seventh blind dataset's billing cost spike listed "6,000 traces left out as not the
    application's traffic" and another agent's latency budget as contributing factors: notes on
    the data go with the summary, in the Markdown and the JSON, and suggest no factor."""
    p = written["cost_spike"]
    note = ("3,554 traces left out as not the application's traffic (langfuse-llm-as-a-judge "
            "3,234): Langfuse's own evaluator runs and experiments")
    inv = dataclasses.replace(p.incident.inv, notes=[note])
    noted = dataclasses.replace(p, incident=dataclasses.replace(p.incident, inv=inv))
    assert note not in noted.factors()
    assert noted.data_notes() == [note]
    s = noted.summary({})
    assert s["data_notes"] == [note] and note not in s["contributing_factors"]
    text = noted.markdown().replace("\\", "")
    assert text.index("About the data:") < text.index(note.split(" (")[0]) < text.index(
        "Contributing factors")


def test_another_agents_latency_budget_is_no_caveat_of_one_agents_incident(written):
    """Examined on all traffic, the tool-agent's cost spike carried planner-agent's derived
    latency budget among its notes (the seventh blind dataset: travel_planner's in a billing
    agent's post-mortem); its own agent's budget note stays."""
    from types import SimpleNamespace

    p = written["cost_spike"]
    assert p.incident.group == "tool-agent"
    other = "agent planner-agent runs past the 8 s budget in 94% of its baseline traces"
    mine = "agent tool-agent runs past the 8 s budget in 90% of its baseline traces"
    units = p.incident.inv.view.units.copy()
    units.attrs = {**units.attrs, "budgets": SimpleNamespace(
        notes_by_agent={"planner-agent": other, "tool-agent": mine})}
    view = dataclasses.replace(p.incident.inv.view, units=units)
    inv = dataclasses.replace(p.incident.inv, view=view, notes=[other, mine])
    noted = dataclasses.replace(p, incident=dataclasses.replace(p.incident, inv=inv))
    assert noted.data_notes() == [mine]
    # on all traffic, several slow agents' notes are the one line the daily report says
    from workbench.analysis.signals import Budgets

    both = Budgets(derived={"planner-agent": 40.0, "tool-agent": 30.0},
                   over={"planner-agent": 0.94, "tool-agent": 0.9},
                   notes_by_agent={"planner-agent": other, "tool-agent": mine})
    units.attrs = {**units.attrs, "budgets": both}
    view = dataclasses.replace(p.incident.inv.view, units=units)
    inv = dataclasses.replace(p.incident.inv, view=view, notes=["traffic set aside", other, mine])
    whole = dataclasses.replace(p, incident=dataclasses.replace(p.incident, inv=inv, group=ALL))
    assert whole.data_notes() == ["traffic set aside", *both.notes]
    assert len(both.notes) == 1 and "planner-agent 40 s (94% past)" in both.notes[0]


def test_a_new_version_only_its_own_test_finds_is_still_detected():
    """The seventh blind dataset's prompt release at 3x: the new version's own (canary) test
    fires while the agent's whole traffic, over every hour from the start, is no significant
    change. An hourly check runs that test too, so the timeline says when it would have
    alerted instead of "no alert recorded" with no time."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import blind_telemetry
    from blind_data import Incident

    from workbench.analysis.detect import Context, new_version_interval

    data = blind_telemetry.generate(seed=1, end_day="2026-11-25", days=8, incidents=[
        Incident("hallucination_spike", "2026-11-25", 15, 3.0)])
    lab = data.labels[0]
    with data.double() as dbl:
        p = pm.build("hallucination_spike", dbl.source(), lab.start - 3 * H,
                     lab.end + 3 * H, agent="support-chat", ledger=[])
    inc = p.incident
    (f,) = [f for f in inc.inv.findings if f.status == "firing"]
    assert f.summary.startswith("New prompt_version=13") and inc.started == lab.start
    detected = inc.event("Detected")
    assert detected.at is not None and lab.start < detected.at <= f.end
    assert detected.what.startswith("no alert recorded; an hourly check would have alerted")
    # the hour it says is the first at which the version's own test is significant
    ctx = Context(inc.inv.runbook, inc.inv.judge, inc.inv.view.observations)
    assert new_version_interval(ctx, f, f.start, detected.at) is not None
    assert new_version_interval(ctx, f, f.start, detected.at - H) is None


@pytest.mark.parametrize("excess", [-0.0004, 0.0, -3.25])
def test_an_excess_cost_that_is_nil_or_negative_reads_none_never_minus_zero(written, excess):
    """Spend at or below what the baseline expects is no excess cost: "none", never
    "-$0.00" (nor a negative excess read as a cost)."""
    from workbench.reports.document import fmt_excess_usd, fmt_usd

    p = copy.deepcopy(written["timeout_surge"])
    p.incident.impact["excess_cost_usd"] = excess
    text = p.markdown()
    assert "excess cost: none." in text and "| Excess cost | none |" in text
    assert "-\\$0.00" not in text and "-$0.00" not in text
    assert fmt_excess_usd(excess) == "none" and fmt_excess_usd(0.006) == "$0.01"
    assert fmt_excess_usd(0.004) == "$0.00"
    assert fmt_excess_usd(None) == "unknown" and fmt_usd(-0.004) == "$0.00"
    assert fmt_usd(-3.1) == "-$3.10" and fmt_usd(1234.5) == "$1,234.50"
