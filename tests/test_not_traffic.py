"""What Langfuse itself writes into a project is not the application's traffic.

A project judged by Langfuse's managed LLM-as-a-judge evaluators also holds a trace of every
evaluator run (Langfuse records them in the environment ``langfuse-llm-as-a-judge``, named
``Execute evaluator: <template>``, with the judge model's usage), and experiments run with the
SDKs (``dataset.run_experiment``: an ``experiment-item-run`` root span in the environment
``sdk-experiment``) whose scores may be bad on purpose. Built here as those public sources write
them, beside a simulated week, served by the Langfuse double and read by the real source: the
daily report, the runbook investigation and the scheduled check must give the figures they give
without them, and say what they left out.
"""

from __future__ import annotations

import json
import uuid

import pandas as pd
import pytest

from otel_fixtures import Recorder, _child
from tests.doubles import LangfuseDouble
from workbench.alerts.check import run_check
from workbench.investigate import investigate
from workbench.reports import daily
from workbench.sources.conventions import ENV_CONVENTIONS

DAY = "2026-11-04"
JUDGE_ENV, EXPERIMENT_ENV = "langfuse-llm-as-a-judge", "sdk-experiment"
EXPERIMENT_ITEMS = 40


@pytest.fixture(scope="module")
def dataset():
    from workbench.simulate import generate

    return generate(seed=3, days=3, traces_per_day=300, keep_spans=True)


def _evaluator_runs(rec: Recorder, scores: pd.DataFrame) -> None:
    """One trace per managed-evaluator score, as Langfuse's worker records the judge's call."""
    t = rec.tracer({"service.name": "langfuse-worker"}, "langfuse-sdk", "3.9.0")
    for s in scores.itertuples():
        start = pd.Timestamp(s.timestamp) - pd.Timedelta(seconds=3)
        meta = {"job_execution_id": str(uuid.uuid4()), "job_configuration_id": "cfg-halluc",
                "target_trace_id": s.trace_id, "score_id": s.score_id}
        root = _child(t, f"Execute evaluator: {s.name}", None, start.value, None,
                      {"langfuse.observation.type": "span",
                       "langfuse.trace.name": f"Execute evaluator: {s.name}",
                       "langfuse.environment": JUDGE_ENV,
                       **{f"langfuse.trace.metadata.{k}": v for k, v in meta.items()}})
        gen = _child(t, "ChatOpenAI", root, start.value + 10_000_000, None,
                     {"langfuse.observation.type": "generation",
                      "langfuse.observation.model.name": "gpt-4o-mini",
                      "langfuse.observation.usage_details": json.dumps(
                          {"input": 1450, "output": 60, "total": 1510})})
        gen.end(start.value + 2_500_000_000)
        root.end(start.value + 2_600_000_000)


def _experiment(rec: Recorder, agent: str, at: pd.Timestamp) -> list[str]:
    """A nightly SDK experiment over a dataset, trying a worse prompt on the production agent's
    code path: its trace ids."""
    t = rec.tracer({"service.name": "support-evals"}, "langfuse-sdk", "3.9.0")
    ids = []
    for i in range(EXPERIMENT_ITEMS):
        start = (at + pd.Timedelta(seconds=20 * i)).value
        root = _child(t, "experiment-item-run", None, start, None,
                      {"langfuse.observation.type": "span",
                       "langfuse.environment": EXPERIMENT_ENV,
                       "langfuse.trace.metadata.experiment_name": "prompt-v9-candidate",
                       "langfuse.trace.metadata.experiment_run_name": "prompt-v9-candidate-run"})
        agent_span = _child(t, agent, root, start + 1_000_000, None,
                            {"langfuse.observation.type": "agent"})
        gen = _child(t, "answer", agent_span, start + 2_000_000, None,
                     {"langfuse.observation.type": "generation",
                      "langfuse.observation.model.name": "gpt-4o",
                      "langfuse.observation.prompt.name": "support-answer",
                      "langfuse.observation.prompt.version": 9,
                      "langfuse.observation.usage_details": json.dumps(
                          {"input": 2400, "output": 300})})
        gen.end(start + 4_000_000_000)
        agent_span.end(start + 4_100_000_000)
        root.end(start + 4_200_000_000)
        ids.append(format(root.get_span_context().trace_id, "032x"))
    return ids


@pytest.fixture(scope="module")
def project(dataset):
    """The simulated week with Langfuse's evaluator runs and a bad experiment beside it."""
    rec = Recorder(seed=5)
    judged = dataset.scores[dataset.scores["name"] == "Hallucination"]
    _evaluator_runs(rec, judged)
    night = pd.Timestamp(DAY, tz="UTC") + pd.Timedelta(hours=2)
    ids = _experiment(rec, "rag-agent", night)
    bad = judged.head(EXPERIMENT_ITEMS).copy()
    bad["trace_id"] = ids
    bad["score_id"] = [str(uuid.uuid4()) for _ in ids]
    bad["observation_id"] = None
    bad["timestamp"] = [night + pd.Timedelta(seconds=20 * i + 30) for i in range(len(ids))]
    bad["value"] = 1.0
    bad["environment"] = EXPERIMENT_ENV
    scores = pd.concat([dataset.scores, bad], ignore_index=True)
    # the runs a report of DAY pulls: those started before its end (a late trace's judge runs
    # after midnight)
    end = pd.Timestamp(DAY, tz="UTC") + pd.Timedelta(days=1)
    pulled = int((judged["timestamp"] - pd.Timedelta(seconds=3) < end).sum())
    return {"spans": list(dataset.spans) + rec.spans, "scores": scores,
            "judge_traces": pulled, "judge_spend": len(judged)}


@pytest.fixture(scope="module")
def served(dataset, project, tmp_path_factory):
    """Two doubles: the application's traces alone, and the project as Langfuse holds it."""
    with LangfuseDouble.from_spans(dataset.spans, dataset.scores) as alone, \
            LangfuseDouble.from_spans(project["spans"], project["scores"]) as whole:
        yield {"alone": alone, "whole": whole, "cache": tmp_path_factory.mktemp("cache")}


def _report(dbl, cache) -> daily.DailyReport:
    return daily.build(DAY, dbl.source(cache_dir=str(cache / str(id(dbl)))), days=3,
                       alert_days=1, prometheus=False)


def _findings(rep) -> list[tuple]:
    return [(f.runbook, f.signal, f.start, f.end, f.severity, f.labels.get("agent"),
             round(float(f.observed), 9)) for f in rep.findings]


def test_the_report_judges_the_application_alone_and_says_what_it_left_out(served, project):
    alone, whole = _report(served["alone"], served["cache"]), \
        _report(served["whole"], served["cache"])
    assert len(whole.units) == len(alone.units)
    assert set(whole.units["agent"].astype(str)) == {"rag-agent", "tool-agent", "planner-agent"}
    pd.testing.assert_frame_equal(whole.all_kpis, alone.all_kpis)
    pd.testing.assert_frame_equal(whole.checks, alone.checks)
    assert _findings(whole) == _findings(alone)
    note = [n for n in whole.notes if "not the application's traffic" in n]
    judged = project["judge_traces"]
    assert len(note) == 1, whole.notes
    # the whole pull's count, said as such: beside a window's own trace count it is no rate
    read = judged + EXPERIMENT_ITEMS + whole.units["trace_id"].nunique()
    assert (f"{judged + EXPERIMENT_ITEMS:,} of the {read:,} traces read (the window and the "
            "days it is judged against) left out") in note[0]
    assert f"{JUDGE_ENV} {judged:,}" in note[0] and f"{EXPERIMENT_ENV} {EXPERIMENT_ITEMS}" \
        in note[0]
    # the judge's calls are priced by the project's model table: their spend is said, not hidden
    spend = judged * (1450 * 0.15 + 60 * 0.60) / 1e6 + EXPERIMENT_ITEMS * (
        2400 * 2.50 + 300 * 10.00) / 1e6
    assert f"${spend:,.2f} of spend" in note[0]
    assert not [n for n in alone.notes if "not the application's traffic" in n]
    assert f"{judged + EXPERIMENT_ITEMS:,} of the {read:,} traces read" in whole.header_html()


def test_judged_as_traffic_they_would_be_agents_and_an_incident(served, project, tmp_path,
                                                                 monkeypatch):
    """The same project with nothing set aside: Langfuse's evaluator is an agent of its own and
    the bad experiment a hallucination spike on the production agent that nobody shipped, so
    the test above can fail."""
    mine = tmp_path / "conventions.yaml"
    mine.write_text("not_traffic: {replace: true, environments: []}\n")
    monkeypatch.setenv(ENV_CONVENTIONS, str(mine))
    rep = _report(served["whole"], tmp_path)
    alone = _report(served["alone"], served["cache"])
    agents = rep.units["agent"].astype(str).value_counts()
    assert "Execute evaluator: Hallucination" in agents
    # the experiment runs the production agent's code: its traces would count as that agent's
    assert agents["rag-agent"] == (alone.units["agent"] == "rag-agent").sum() + EXPERIMENT_ITEMS
    night = pd.Timestamp(DAY, tz="UTC") + pd.Timedelta(hours=2)
    made_up = [f for f in rep.findings if f.runbook == "hallucination_spike"
               and f.start <= night < f.end and f.status == "firing"]
    assert made_up and not [f for f in alone.findings if f.runbook == "hallucination_spike"
                            and f.start <= night < f.end and f.status == "firing"], \
        _findings(rep)


def test_a_runbook_and_a_check_read_the_same_traffic(served):
    t0 = pd.Timestamp(DAY, tz="UTC") + pd.Timedelta(hours=1)
    t1 = t0 + pd.Timedelta(hours=3)
    runs = {}
    for name in ("alone", "whole"):
        src = served[name].source(cache_dir=str(served["cache"] / f"inv-{name}"))
        inv = investigate("hallucination_spike", src, t0, t1)
        runs[name] = (inv.summary(), inv.notes)
    (alone, alone_notes), (whole, whole_notes) = runs["alone"], runs["whole"]
    for key in ("severity", "signals", "findings"):
        assert whole.get(key) == alone.get(key), key
    assert any(f"{EXPERIMENT_ENV} {EXPERIMENT_ITEMS}" in n for n in whole_notes), whole_notes
    assert not any("not the application's traffic" in n for n in alone_notes)

    checked = {name: run_check(pd.Timedelta(hours=3), at=t1, source=served[name].source(
        cache_dir=str(served["cache"] / f"chk-{name}")), sink=None) for name in served
        if name != "cache"}
    assert checked["whole"].traces == checked["alone"].traces > 0
    assert [(f.runbook, f.signal, f.start) for f in checked["whole"].findings] == \
        [(f.runbook, f.signal, f.start) for f in checked["alone"].findings]
    assert checked["alone"].set_aside is None
    assert f"{EXPERIMENT_ENV} {EXPERIMENT_ITEMS}" in checked["whole"].set_aside


def test_your_environments_are_added_to_the_defaults_or_replace_them():
    from workbench.errors import ConfigError
    from workbench.sources.conventions import load

    def left_out(c, env):
        return bool(c.not_traffic and c.not_traffic.fullmatch(env))

    default = load()
    assert [e for e in ("langfuse-llm-as-a-judge", "langfuse-prompt-experiment", "langfuse",
                        "sdk-experiment", "llm-as-a-judge", "production", "staging",
                        "default", "my-langfuse") if left_out(default, e)] == \
        ["langfuse-llm-as-a-judge", "langfuse-prompt-experiment", "langfuse", "sdk-experiment",
         "llm-as-a-judge"]
    mine = load({"not_traffic": {"environments": ["load-test.*"]}})
    assert left_out(mine, "load-test-7") and left_out(mine, "langfuse-llm-as-a-judge")
    assert mine.fingerprint == default.fingerprint  # the mapped frames do not change
    only = load({"not_traffic": {"replace": True, "environments": ["staging"]}})
    assert left_out(only, "staging") and not left_out(only, "sdk-experiment")
    assert load({"not_traffic": {"replace": True, "environments": []}}).not_traffic is None
    for bad in (["staging"], {"environments": "staging"}, {"environments": ["(unclosed"]}):
        with pytest.raises(ConfigError, match="not_traffic"):
            load({"not_traffic": bad})
