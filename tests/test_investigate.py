"""The investigation facade over a small demo store: suspects, numbers, drill-down, escaping."""

import sys
from pathlib import Path

import pandas as pd
import plotly.io as pio
import pytest

from workbench import runbooks, widgets
from workbench.errors import ConfigError
from workbench.investigate import explore, html_table, investigate
from workbench.runbook_plots import span_tree, waterfall_figure
from workbench.sources.local import LocalSource


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from shared_datasets import demo_store

    return demo_store(tmp_path_factory.mktemp("inv") / "demo", days=8, traces_per_day=600)


@pytest.fixture(scope="module")
def labels(store):
    return {r.runbook: r for r in LocalSource(store).labels().itertuples()}


@pytest.fixture(scope="module")
def cases(store, labels):
    return {name: investigate(name, "local", lab.start, lab.end, data_dir=store)
            for name, lab in labels.items()}


@pytest.mark.parametrize("name", ["cost_spike", "timeout_surge", "hallucination_spike"])
def test_the_injected_cause_is_the_top_suspect(cases, labels, name):
    inv, lab = cases[name], labels[name]
    top = inv.suspects().iloc[0]
    assert (top["dimension"], top["value"]) == (lab.cause_dimension, lab.cause_value)
    assert top["incident"] > 3 * top["baseline"]
    assert inv.summary()["top_suspect"].startswith(f"{lab.cause_dimension}={lab.cause_value}")
    assert f"data-top-suspect='{lab.cause_dimension}={lab.cause_value}" in inv.summary_html()


def test_the_signal_explained_is_the_one_that_fired(cases):
    """A primary signal that fired leads; where only another signal fired (a slow agent's
    near-timeouts), that one is explained, not a timeout rate the table calls "ok"."""
    import copy
    import dataclasses

    inv = copy.copy(cases["timeout_surge"])
    fired = [f for f in inv.findings if f.status == "firing"]
    assert "timeout_rate" in {f.signal for f in fired} and inv.primary == "timeout_rate"
    near = [dataclasses.replace(f, signal="near_timeout_share") for f in fired
            if f.signal == "timeout_rate"][:1]
    weaker = dataclasses.replace(near[0], signal="latency_p95", severity="info")
    inv.findings = [*near, weaker]
    assert inv.primary == "near_timeout_share"  # the most urgent of those that fired
    inv.findings = []
    assert inv.primary == "timeout_rate"  # nothing fired: the runbook's primary signal


def test_signal_table_judges_the_window_against_what_its_traffic_should_cost(cases, store,
                                                                             labels):
    inv, lab = cases["cost_spike"], labels["cost_spike"]
    day0 = lab.start.floor("D")
    traces = LocalSource(store).traces(day0 - pd.Timedelta(days=7), lab.end)
    window = traces[traces["start_time"] >= lab.start]
    base = traces[traces["start_time"] < day0]
    table = inv.signal_table().set_index("signal")
    assert table.loc["cost_per_request", "observed"] == pytest.approx(window["cost_usd"].mean())
    # expected: the baseline's cost per request for this window's agents, models and hours
    assert table.loc["cost_per_request", "expected"] == pytest.approx(
        base["cost_usd"].mean(), rel=0.35)
    assert table.loc["cost_per_request", "units"] == len(window)
    assert table.loc["cost_per_request", "p_value"] < 1e-6
    assert table.loc["cost_per_request", "severity"] == "page"  # ~10x, page at 5x
    assert inv.severity == "page"
    # the summary quotes the finding that pages, in its own scope (the window's row is above)
    lead = inv.lead
    assert lead.severity == "page" and inv.summary()["observed"] == lead.observed


def test_a_quiet_window_has_no_severe_signal(store, labels):
    day = labels["cost_spike"].start - pd.Timedelta(days=1)
    quiet = investigate("cost_spike", "local", day, day + pd.Timedelta(hours=3), data_dir=store)
    table = quiet.signal_table().set_index("signal")
    assert table.loc["cost_per_request", "ratio"] < 1.5
    assert table.loc["cost_per_request", "severity"] == "ok"
    # nothing found is said as nothing significant, never as "no change": beside a signal
    # short of its "could show" it would read as an all-clear
    assert quiet.findings == []
    assert ("found no significant change in this window: a change smaller than a signal's "
            "“could show” above is missed, not absent") in quiet.findings_html()


def test_a_window_no_worse_than_its_baseline_names_no_suspect(store, labels):
    """Cost per request below what the window's traffic should cost and nothing fired: no
    excess to attribute, so no "top suspect" in the summary, the HTML or the summary JSON
    (attribution's raw means would otherwise name a slice, e.g. an environment)."""
    from workbench.reports.runbook_summary import runbook_summary

    start = labels["cost_spike"].start.floor("D") - pd.Timedelta(days=1) + pd.Timedelta(hours=3)
    quiet = investigate("cost_spike", "local", start, start + pd.Timedelta(hours=3),
                        data_dir=store)
    row = quiet.signal_table().set_index("signal").loc["cost_per_request"]
    assert row["observed"] < row["expected"] and quiet.firing == []
    assert quiet.suspects().empty and quiet.suspects("environment").empty
    assert quiet.summary()["top_suspect"] is None
    assert "Top suspect" not in quiet.summary_html()
    assert "nothing to attribute" in quiet.suspects_html()
    s = runbook_summary(quiet)
    assert s["severity"] == "none" and s["top_suspect"] is None and s["suspects"] == []


def test_a_signal_named_unlike_what_it_measures_says_what_it_is(cases):
    """latency_p95 is the share of traces slower than the baseline p95: "ratio 0.11" beside
    its bare name read as a p95 of 0.11 s."""
    html = cases["timeout_surge"].signal_table_html()
    assert "<td>latency_p95 (share slower than the baseline p95)</td>" in html
    assert "<td>timeout_rate</td>" in html  # no label, the name alone


def test_signal_series_shows_each_hour_against_what_it_should_have_been(cases, labels):
    inv, lab = cases["timeout_surge"], labels["timeout_surge"]
    s = inv.signal_series()
    assert set(s["signal"]) == {"timeout_rate", "timeout_errors", "near_timeout_share",
                                "latency_p95"}
    rate = s[s["signal"] == "timeout_rate"].set_index("bucket")
    inside = rate[(rate.index >= lab.start) & (rate.index < lab.end)]
    assert len(inside) == 3 and (inside["value"] > 5 * inside["baseline"]).all()
    before = rate[rate.index < lab.start]
    assert (before["baseline"] > 0).all() and before["value"].mean() < 3 * before["baseline"].mean()
    assert rate.index.min() >= lab.start - pd.Timedelta(hours=6)
    # each hour is the judge's verdict on that hour: the numbers a finding would quote
    hour = inside.index[0]
    iv = inv.judge.interval("timeout_rate", hour, hour + pd.Timedelta(hours=1))
    assert (inside.loc[hour, "value"], inside.loc[hour, "baseline"]) == (iv.observed,
                                                                         iv.expected)
    fig = inv.signals_figure()
    assert len(fig.data) == 8  # expected and observed per signal


def test_suspects_for_one_dimension(cases):
    # in the finding's agent and hours (tool-agent, 09:00-11:00): its tools, one dimension
    table = cases["cost_spike"].suspects("culprit_tool")
    assert set(table["dimension"]) == {"tool_name"} and set(table["within"]) == {""}
    assert table["value"].iloc[0] == "search_api" and list(table["rank"])[:1] == [1]
    assert table["contribution"].iloc[0] > 0.9
    assert (table["contribution"].iloc[1:] < 0.1).all()
    with pytest.raises(ConfigError, match="not one of runbook 'cost_spike'"):
        cases["cost_spike"].suspects("colour")


def test_worst_traces_are_in_the_window_worst_first(cases, labels):
    inv, lab = cases["cost_spike"], labels["cost_spike"]
    worst = inv.worst_traces(5)
    assert len(worst) == 5 and worst["cost_usd"].is_monotonic_decreasing
    assert ((worst["start_time"] >= lab.start) & (worst["start_time"] < lab.end)).all()
    # the runaway loops: dozens of generations each
    assert (worst["n_generations"] > 25).all()
    hall = cases["hallucination_spike"].worst_traces(3)
    assert hall["score"].is_monotonic_decreasing and (hall["score"] > 0.5).all()


def test_waterfall_draws_every_span_of_the_trace(cases):
    inv = cases["cost_spike"]
    tid = inv.worst_traces(1)["trace_id"].iloc[0]
    spans = inv.view.spans(tid)
    fig = inv.waterfall(tid)
    assert len(fig.data[0].y) == len(spans)
    assert fig.data[0].base[0] == 0.0  # the root starts the trace
    assert max(b + d for b, d in zip(fig.data[0].base, fig.data[0].x)) == pytest.approx(
        (spans["end_time"].max() - spans["start_time"].min()).total_seconds())
    with pytest.raises(ConfigError, match="is not in the window"):
        inv.waterfall("0" * 32)


def test_span_tree_orders_depth_first_and_survives_orphans_and_cycles():
    t = pd.Timestamp("2026-11-06T09:00Z")
    spans = pd.DataFrame({
        "observation_id": ["r", "a", "b", "a1", "o", "x", "y"],
        "parent_observation_id": [None, "r", "r", "a", "missing", "y", "x"],
        "start_time": [t + pd.Timedelta(seconds=s) for s in (0, 1, 3, 2, 4, 5, 6)],
        "name": list("rab1oxy"),
    })
    tree = span_tree(spans)
    assert list(tree["observation_id"][:5]) == ["r", "a", "a1", "b", "o"]
    assert list(tree["depth"][:5]) == [0, 1, 2, 1, 0]
    assert sorted(tree["observation_id"]) == sorted(spans["observation_id"])
    assert list(tree["offset_s"][:3]) == [0.0, 1.0, 2.0]


def test_untrusted_trace_text_is_escaped_in_figures_and_tables():
    t = pd.Timestamp("2026-11-06T09:00Z")
    evil = "</script><script>alert(1)</script>"
    spans = pd.DataFrame({
        "observation_id": ["r"], "parent_observation_id": [None], "start_time": [t],
        "duration_s": [1.0], "name": [evil], "type": ["tool"], "level": ["ERROR"],
        "status_message": ["<img src=x onerror=alert(2)>"]})
    fig = waterfall_figure(spans, title=evil)
    assert "&lt;script&gt;" in fig.layout.yaxis.ticktext[0]
    assert "&lt;img" in fig.data[0].hovertext[0]
    page = pio.to_html(fig, include_plotlyjs=False, full_html=False)
    assert "<script>alert" not in page and "<img src=x" not in page
    table = html_table(pd.DataFrame({"value": [evil]}))
    assert "<script>alert" not in table and "&lt;script&gt;" in table


def test_checklists_come_from_the_runbook_and_are_escaped(cases):
    inv = cases["timeout_surge"]
    rb = runbooks.load("timeout_surge")
    assert inv.steps("investigation") == rb.spec["investigation"]
    assert inv.steps("rollback") == rb.spec["rollback"]
    # the mitigation fitted to the finding's first suspect leads, standing instead of the
    # general one it repeats, as in the daily report and the post-mortem
    lead = inv.lead
    assert inv.steps("mitigations") == rb.mitigations(lead.suspects, lead.labels.get("agent"))
    assert inv.steps("mitigations")[0] == rb.suspect_mitigation(
        lead.suspects, lead.labels.get("agent"))
    assert inv.steps("mitigations")[0].startswith(
        f"Put a per-call timeout and a fallback on {lead.suspects[0].value}")
    html = inv.checklist_html("mitigations")
    assert html.count("<li>") == len(rb.spec["mitigations"])  # one fitted, one replaced
    with pytest.raises(ConfigError, match="unknown checklist"):
        inv.steps("prayers")


@pytest.mark.parametrize("kwargs, message", [
    (dict(runbook="nope"), "runbook file .* not found"),
    (dict(start="2026-11-06T12:00Z", end="2026-11-06T09:00Z"), "is not after its start"),
    (dict(start="soon"), "window bounds must be timestamps"),
    (dict(agent="ghost"), "agent 'ghost' has no traces"),
    (dict(data_dir="no/such/store"), "data directory no/such/store not found"),
    (dict(source="jaeger"), "unknown source 'jaeger'"),
    (dict(source="prometheus"), "not a trace source"),
])
def test_bad_input_is_refused_with_a_clear_message(store, kwargs, message, monkeypatch):
    monkeypatch.setenv("PROMETHEUS_URL", "http://127.0.0.1:1")
    args = dict(runbook="cost_spike", source="local", start="2026-11-06T09:00Z",
                end="2026-11-06T12:00Z", data_dir=store)
    args.update(kwargs)
    with pytest.raises(ConfigError, match=message):
        investigate(args.pop("runbook"), args.pop("source"), args.pop("start"), args.pop("end"),
                    **args)


def test_the_signal_table_says_what_an_ok_could_have_missed(store, labels):
    """Beside each "ok", the smallest change the window could show: the judge's own figure
    (the one the daily report prints per agent), smaller for three busy hours than for half an
    hour of night; a score compared by its difference gives the drop it could show."""
    day = labels["cost_spike"].start - pd.Timedelta(days=1)
    busy = investigate("hallucination_spike", "local", day + pd.Timedelta(hours=12),
                       day + pd.Timedelta(hours=15), data_dir=store)
    table = busy.signal_table().set_index("signal")
    row = table.loc["hallucination_rate"]
    assert row["severity"] == "ok" and row["compare"] == "ratio"
    assert row["could_show"] == busy.judge.smallest_finding("hallucination_rate")
    assert 1.0 < row["could_show"] < 20.0
    g = table.loc["groundedness"]
    assert g["compare"] == "delta" and g["could_show"] == busy.judge.detectable_shift(
        "groundedness") and 0.0 < g["could_show"] < 0.5
    night = investigate("hallucination_spike", "local", day + pd.Timedelta(hours=3),
                        day + pd.Timedelta(hours=3, minutes=30), data_dir=store)
    late = night.signal_table().set_index("signal").loc["hallucination_rate", "could_show"]
    assert late > row["could_show"]
    html = busy.signal_table_html()
    assert "<th>could show</th>" in html and f"≥ {row['could_show']:.3g}x" in html
    assert f"≥ {g['could_show']:.3g}</td>" in html and "<th>compare</th>" not in html


def test_a_window_too_small_to_judge_is_unknown_not_none(store):
    """Half an hour of a night (600 traces a day): the timeout runbook's detectors say the
    window cannot show even a page-size change. Nothing fired, and the verdict is "unknown"
    with the reason, never a green NONE; the busy incident window keeps its severity."""
    inv = investigate("timeout_surge", "local", "2026-11-07T03:00Z", "2026-11-07T03:30Z",
                      data_dir=store)
    assert inv.severity == "none" and inv.too_little and inv.problems == []
    assert inv.verdict == "unknown"
    (reason,) = inv.summary()["unjudged"]
    assert reason.startswith("Timeout surge: insufficient data to judge (")
    head = inv.summary_html()
    assert "Severity: UNKNOWN (too little data to judge, see below)" in head
    assert "class='wb-sev-unknown'" in head and "class='wb-sev-none'" not in head
    assert reason.split(" (")[0] in head


def test_an_empty_window_says_so_instead_of_failing(store):
    inv = investigate("cost_spike", "local", "2027-01-01T00:00Z", "2027-01-01T03:00Z",
                      data_dir=store)
    s = inv.summary()
    assert s["traces_in_window"] == 0 and s["top_suspect"] is None
    assert "no traces in the window" in s["notes"]
    assert "nothing to attribute" in inv.suspects_html()
    # no green all-clear and no NaN where nothing could be judged
    head = inv.summary_html()
    assert "Severity: UNKNOWN" in head and "class='wb-sev-none'" not in head
    assert "cost_per_request: cannot judge, no traces in the window" in head
    assert "nan" not in head.lower()


@pytest.fixture(scope="module")
def stacks():
    """Two weeks of bench/blind_stacks.py (a Haystack RAG pipeline judged by RAGAS
    faithfulness only, beside agents judged by DeepEval's Hallucination), with the RAG's
    embedder switched on the last day."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import blind_stacks
    from blind_data import Incident

    return blind_stacks.generate(seed=5, end_day="2026-11-25", days=8, volume=0.5, incidents=[
        Incident("hallucination_spike", "2026-11-25", 3, 5.0)])


def test_an_agent_judged_for_groundedness_alone_is_explained_by_it(stacks):
    lab = stacks.labels[0]
    with stacks.double() as dbl:
        inv = investigate("hallucination_spike", dbl.source(), lab.start, lab.end,
                          agent="kb-rag")
        whole = investigate("hallucination_spike", dbl.source(), lab.start, lab.end)
    table = inv.signal_table().set_index("signal")
    assert table.loc["hallucination_rate", "units"] == 0  # no hallucination judge on kb-rag
    # nothing to judge it on is said as such, never an "ok" with p=1
    assert table.loc["hallucination_rate", "severity"] == "no data"
    assert pd.isna(table.loc["hallucination_rate", "p_value"])
    assert "<td>no data</td>" in inv.signal_table_html()
    assert inv.primary == "groundedness" and table.loc["groundedness", "severity"] == "page"
    s = inv.summary()
    assert s["observed"] == table.loc["groundedness", "observed"] < 0.7
    assert s["baseline"] == table.loc["groundedness", "expected"] > 0.8
    # the agent's finding names the model in it once: not also unscoped, the same traces
    assert s["top_suspect"] == "model=text-embedding-3-large in agent=kb-rag"
    assert inv.suspects()["suspect"].tolist().count("model=text-embedding-3-large") == 0
    n = int(table.loc["groundedness", "units"])
    # the finding's figures, said with its scope (here the agent over the whole window)
    assert inv.lead.labels == {"agent": "kb-rag"} and s["units"] == n
    assert (f"Most urgent finding: groundedness in agent=kb-rag, {lab.start:%H:%M}–"
            f"{lab.end:%H:%M} UTC ({n:,} scored traces): 0.5916 against 0.8503") \
        in inv.summary_html()
    worst = inv.worst_traces(5)  # the least grounded answers, their scores shown
    assert worst["score"].is_monotonic_increasing and (worst["score"] < 0.5).all()
    # all traffic: the signal that fired is the one explained, not a quiet one beside it
    assert whole.primary == "groundedness"
    # (only kb-rag calls the embedder: the narrower of the two names of the same traces)
    assert whole.suspects().iloc[0]["suspect"] == "model=text-embedding-3-large in agent=kb-rag"


def test_a_partial_pull_is_said_and_no_all_clear(stacks):
    lab = stacks.labels[0]
    day = lab.start.floor("D")
    with stacks.double() as dbl:
        dbl.drop_rows(0.3, seed=3)
        inv = investigate("cost_spike", dbl.source(), day + pd.Timedelta(hours=12),
                          day + pd.Timedelta(hours=15))
    assert any(n.startswith("traces incomplete: langfuse observations") for n in inv.notes)
    assert inv.problems and all(not f.confirmed for f in inv.findings)
    assert inv.summary()["traces_in_window"] > 0  # what came is shown, said partial
    head = inv.summary_html()
    assert "traces incomplete" in head and "class='wb-sev-none'" not in head


def test_an_unreachable_source_fails_at_once_naming_it():
    from workbench.errors import SourceUnavailable
    from workbench.sources.langfuse import LangfuseSource

    src = LangfuseSource("http://127.0.0.1:9", "pk-lf-x", "sk-lf-x", progress=False)
    with pytest.raises(SourceUnavailable, match=r"cannot reach http://127\.0\.0\.1:9"):
        investigate("cost_spike", src, "2026-11-20T01:00Z", "2026-11-20T07:00Z")


def test_tables_show_counts_in_full_and_times_to_the_second():
    df = pd.DataFrame({"start_time": pd.to_datetime(["2026-11-20 06:09:55.926701", None],
                                                    utc=True),
                       "total_tokens": [24170.0, float("nan")], "cost_usd": [0.01061, 123456.7],
                       "p_value": [1.079e-35, 1.0]})
    out = html_table(df)
    cells = [c.split("</td>")[0] for c in out.split("<td>")[1:]]
    assert cells == ["2026-11-20 06:09:55", "24,170", "0.01061", "1.079e-35",
                     "–", "–", "123,457", "1"]


def test_trace_window_filters_and_validates(store, labels):
    lab = labels["timeout_surge"]
    view = explore("local", lab.start, lab.end, data_dir=store)
    timeouts = view.table(status="timeout", agent="planner-agent")
    assert len(timeouts) > 0 and set(timeouts["status"]) == {"timeout"}
    assert timeouts["duration_s"].is_monotonic_decreasing
    assert len(view.table()) == len(view.traces)
    assert "planner-agent" in view.options("agent")
    with pytest.raises(ConfigError, match="unknown trace filter 'colour'"):
        view.table(colour="red")
    with pytest.raises(ConfigError, match="agent 'ghost' has no traces"):
        view.table(agent="ghost")
    fig = view.scatter(status="timeout")
    assert sum(len(d.x) for d in fig.data) == len(view.table(status="timeout"))


def test_runbook_board_redraws_every_section_for_a_new_window(store, labels):
    widgets.forget()
    cost, timeout = labels["cost_spike"], labels["timeout_surge"]

    def load(s, e):
        return investigate("cost_spike", "local", s, e, data_dir=store)

    board = widgets.RunbookBoard("cost", load(cost.start, cost.end), load)
    assert "search_api" in board.summary_out.outputs[0]["data"]["text/html"]
    first_trace = board.traces.value
    board.picker.start_box.value = f"{timeout.start:%Y-%m-%dT%H:%MZ}"
    board.picker.end_box.value = f"{timeout.end:%Y-%m-%dT%H:%MZ}"
    assert board.picker.apply()
    assert board.investigation.start == timeout.start
    assert board.traces.value != first_trace
    assert board.traces.value in set(board.investigation.worst_traces(10)["trace_id"])
    assert f"{timeout.start:%Y-%m-%d %H:%M}" in board.summary_out.outputs[0]["data"]["text/html"]
    widgets.forget()


def test_a_derived_budget_is_said_without_unconfirming_the_notebooks_findings(tmp_path):
    """An agent slow by design gets its own budget, said in the notes; the data is complete,
    so the notebook's findings are confirmed, as the daily report's are."""
    from workbench.reports.daily import build
    from workbench.simulate import write_demo

    root = write_demo(tmp_path / "real", days=8, traces_per_day=1250, profile="realistic")
    label = LocalSource(root).labels().set_index("runbook").loc["cost_spike"]
    inv = investigate("cost_spike", "local", label["start"], label["end"], data_dir=root)
    # a latency budget is no caveat of a cost investigation: said where latency is judged
    assert not any("runs past the 8 s budget" in n for n in inv.notes)
    assert inv.findings and all(f.confirmed for f in inv.findings)
    report = build(label["start"].floor("D"), "local", root, days=1)
    ours = {(f.signal, f.start, f.end, f.confirmed) for f in inv.findings
            if f.status == "firing" and f.signal == "cost_per_request"}
    theirs = {(f.signal, f.start, f.end, f.confirmed) for f in report.findings
              if f.status == "firing" and f.signal == "cost_per_request"}
    assert ours and ours == theirs
    # one agent's investigation is told of its own budget only
    slow_inv = investigate("timeout_surge", "local", label["start"], label["end"],
                           data_dir=root)
    slow = {n.split()[1] for n in slow_inv.notes if "runs past the 8 s budget" in n}
    assert slow
    agents = set(inv.units["agent"].astype(str))
    for agent in (next(iter(slow)), min(agents - slow)):
        mine = investigate("timeout_surge", "local", label["start"], label["end"],
                           data_dir=root, agent=agent)
        told = {n.split()[1] for n in mine.notes if "runs past the 8 s budget" in n}
        assert told == ({agent} & slow)


def test_a_signal_a_detector_fired_on_is_not_ok_in_the_signal_table(store, labels):
    """A new prompt version's own test can fire on hours the whole window's test cannot tell
    apart (the seventh blind dataset: CRITICAL above, "ok" for the same signal and the same
    numbers in the table and the summary JSON). The table says what fired."""
    from dataclasses import replace

    from workbench.findings import Finding
    from workbench.reports.runbook_summary import runbook_summary

    day = labels["cost_spike"].start - pd.Timedelta(days=1)
    quiet = investigate("hallucination_spike", "local", day + pd.Timedelta(hours=12),
                        day + pd.Timedelta(hours=15), data_dir=store)
    assert quiet.signal_table().set_index("signal").loc["hallucination_rate", "severity"] == "ok"
    fired = replace(quiet, findings=[Finding(
        "hallucination_spike", "hallucination_rate", "critical", quiet.start, quiet.end,
        0.2, 0.06, "New prompt_version=13 ...", labels={"prompt_version": "13"})], _cache={})
    row = fired.signal_table().set_index("signal").loc["hallucination_rate"]
    # the row's severity is its own numbers' verdict; what fired on the version's traffic is
    # beside it with its scope, and the headline quotes the version's figures, not the row's
    assert row["severity"] == "ok" and fired.severity == "critical"
    scope = f"in prompt_version=13, {quiet.start:%H:%M}–{quiet.end:%H:%M} UTC"
    assert row["fired"] == f"critical {scope} (3.33x)"
    assert f"<td>critical {scope} (3.33x)</td>" in fired.signal_table_html()
    assert f"Most urgent finding: hallucination_rate {scope}: 20% against 6%" in \
        fired.summary_html()
    summary = runbook_summary(fired)
    signals = {s["signal"]: s for s in summary["signals"]}
    assert signals["hallucination_rate"]["fired"].startswith("critical in prompt_version=13")
    assert (summary["severity"], summary["primary"]["observed"]) == ("critical", 0.2)


def test_the_headline_quotes_the_finding_that_fired_in_its_own_scope(store, labels):
    """A finding on one agent set the severity while the headline quoted all traffic's figures
    (WARNING beside $0.01385 against $0.01385, with the agent's p) and the signal table's row
    read "warning" at 1.00x. The headline and the summary JSON quote the finding's scope and
    numbers; the row keeps its own verdict and says what fired where."""
    from dataclasses import replace

    from workbench.findings import Finding
    from workbench.reports.runbook_summary import runbook_summary

    day = labels["cost_spike"].start - pd.Timedelta(days=1)
    quiet = investigate("cost_spike", "local", day, day + pd.Timedelta(hours=3), data_dir=store)
    agent = quiet.view.options("agent")[0]
    a, b = quiet.start + pd.Timedelta(hours=1), quiet.end
    iv = quiet.judge.interval("cost_per_request", a, b, agent)
    fired = replace(quiet, _cache={}, findings=[Finding(
        "cost_spike", "cost_per_request", "warning", a, b, iv.observed, iv.expected,
        f"Cost per request in {agent} ...", unit="USD", labels={"agent": agent},
        p_value=1e-30)])
    whole = fired.signal_table().set_index("signal").loc["cost_per_request"]
    assert whole["units"] > iv.units and whole["observed"] != pytest.approx(iv.observed)
    s = fired.summary()
    assert (s["observed"], s["baseline"], s["p_value"], s["units"]) == (
        iv.observed, iv.expected, 1e-30, iv.units)
    head = fired.summary_html()
    scope = f"in agent={agent}, {a:%H:%M}–{b:%H:%M} UTC ({iv.units:,} traces)"
    assert "Severity: WARNING" in head and f"cost_per_request {scope}" in head
    assert f"{iv.observed / iv.expected:.2f}x, p<1e-12" in head
    assert "over all traffic" not in head
    primary = runbook_summary(fired)["primary"]
    assert (primary["observed"], primary["expected"], primary["units"]) == (
        iv.observed, iv.expected, iv.units)
    assert primary["labels"] == {"agent": agent} and primary["finding"] is True
    # the all-traffic row: its own verdict, and the agent's warning said with its scope
    assert whole["severity"] == "ok"
    assert whole["fired"].startswith(f"warning in agent={agent}, {a:%H:%M}–{b:%H:%M} UTC (")
    assert fired.severity == "warning"
    # nothing fired: the whole window's own figures, its own p
    q = quiet.summary()
    row = quiet.signal_table().set_index("signal").loc["cost_per_request"]
    assert (q["observed"], q["p_value"], q["units"]) == (row["observed"], row["p_value"],
                                                         row["units"])
    assert "cost_per_request over all traffic in the window" in quiet.summary_html()


def test_no_top_suspect_where_nothing_fired_on_the_page_or_in_the_post_mortem(cases):
    """Nothing fired, yet the window's traffic is worse than expected: the page named a "Top
    suspect" the post-mortem of the same hours did not. Neither names one; the ranking is
    shown as what it is."""
    from dataclasses import replace

    from workbench.reports.incident import examine
    from workbench.reports.runbook_summary import runbook_summary

    inv = cases["timeout_surge"]
    assert inv.firing and inv.summary()["top_suspect"]  # fired: a suspect is named
    quiet = replace(inv, findings=[], _cache={})
    ranked = quiet.suspects()
    assert len(ranked) > 0  # worse than expected, so there is a ranking to show
    assert quiet.summary()["top_suspect"] is None and quiet.fired_on() == []
    assert "Top suspect" not in quiet.summary_html()
    assert ("Leading dimensions of a change that is not significant in timeout_rate"
            in quiet.suspects_html())
    assert quiet.suspects_figure().layout.title.text.startswith(
        "Leading dimensions of a change that is not significant")
    s = runbook_summary(quiet)
    assert s["top_suspect"] is None and s["suspects"] == []
    assert [r["suspect"] for r in s["leading_not_significant"]] == \
        ranked["suspect"].head(5).tolist()
    assert examine(quiet, ledger=[]).causes == []
    assert examine(inv, ledger=[]).causes  # the same rule names them when a finding fired


def test_each_suspect_is_one_bar_of_at_most_the_whole_excess():
    """A value within an agent and the value alone were labelled alike and drawn as one bar
    of both shares (supplier_catalog at ~195 %)."""
    from workbench.runbook_plots import suspects_figure

    table = pd.DataFrame({
        "suspect": ["tool_name=supplier_catalog in agent=vendor_research",
                    "tool_name=supplier_catalog", "model=gpt-4o"],
        "dimension": ["tool_name", "tool_name", "model"],
        "value": ["supplier_catalog", "supplier_catalog", "gpt-4o"],
        "within": ["agent=vendor_research", "", ""], "contribution": [0.97, 0.97, 1.3]})
    bar = suspects_figure(table).data[0]
    assert list(bar.y) == ["tool_name=supplier_catalog in agent=vendor_research",
                           "tool_name=supplier_catalog", "model=gpt-4o"]
    assert list(bar.x) == [0.97, 0.97, 1.0]
    # without a suspect column (the post-mortem's causes) the label is built the same way
    bar = suspects_figure(table.drop(columns=["suspect"])).data[0]
    assert list(bar.y)[0] == "tool_name=supplier_catalog in agent=vendor_research"


def test_attribution_follows_the_headline_findings_agent_and_hours(cases, store, labels):
    """Without an agent, the headline quoted one agent's finding while the attribution table
    ranked all traffic (other agents' tools and environment=production before the cause) and
    the worst traces came from any agent. The ranking, its chart and the worst traces are in
    the finding's agent and hours, and say so; the summary JSON's suspects start with its
    top suspect."""
    from workbench.reports.runbook_summary import runbook_summary

    inv, lab = cases["cost_spike"], labels["cost_spike"]
    lead = inv.lead
    assert (lead.signal, lead.labels) == ("cost_per_request", {"agent": "tool-agent"})
    assert (lead.start, lead.end) == (lab.start, lab.start + pd.Timedelta(hours=2))
    assert inv.attribution_scope == ("cost_per_request", "tool-agent", lead.start, lead.end)
    ranked = inv.suspects()
    # the finding's own ranking, number for number
    assert ranked["suspect"].tolist() == [s.label for s in lead.suspects]
    assert ranked["contribution"].tolist() == [s.contribution for s in lead.suspects]
    assert ranked["suspect"].iloc[0] == "tool_name=search_api in agent=tool-agent"
    assert ranked["contribution"].iloc[0] == pytest.approx(0.9966, abs=1e-4)
    # all traffic's ranking put environment=production second; here nothing follows the
    # cause that the rest of the agent's traffic carries as much of (production, the model
    # the looping traces and the normal ones both ran)
    assert ranked["suspect"].tolist() == ["tool_name=search_api in agent=tool-agent"]
    note = ("<p data-scope='agent=tool-agent'>In agent=tool-agent, 09:00–11:00 UTC, where the "
            "finding fired (not over all traffic).</p>")
    assert inv.suspects_html().startswith(note) and inv.worst_traces_html().startswith(note)
    assert inv.suspects_figure().layout.title.text == (
        "Share of the excess cost_per_request explained in agent=tool-agent, 09:00–11:00 UTC")
    worst = inv.worst_traces(10)
    assert len(worst) == 10 and set(worst["agent"]) == {"tool-agent"}
    assert ((worst["start_time"] >= lead.start) & (worst["start_time"] < lead.end)).all()
    s = runbook_summary(inv)
    assert s["top_suspect"] == s["suspects"][0]["suspect"] == \
        "tool_name=search_api in agent=tool-agent"
    assert s["attributed_signal"] == "cost_per_request"
    assert s["attributed_scope"] == {"labels": {"agent": "tool-agent"}, "start": lead.start,
                                     "end": lead.end}
    # every demo incident: the summary's ranking starts with its top suspect
    for name, other in cases.items():
        assert runbook_summary(other)["suspects"][0]["suspect"] == other.top_suspect, name
    # an agent asked for keeps its window and says nothing more
    mine = investigate("cost_spike", "local", lab.start, lab.end, data_dir=store,
                       agent="tool-agent")
    assert mine.attribution_scope == ("cost_per_request", "tool-agent", lab.start, lab.end)
    assert "data-scope" not in mine.suspects_html() + mine.worst_traces_html()


def test_a_significant_change_under_the_threshold_is_not_ok(store, labels):
    """cost_per_request at 7.50x with p=5.2e-10 read "ok" because it fell short of the warning
    threshold: a near-zero p beside "ok" looks like a bug. The verdict says what it is, in the
    HTML and the summary JSON alike; a ratio past a threshold the p cannot back is "not
    significant"; "ok" is left for what is neither."""
    import copy

    from workbench.reports.runbook_summary import runbook_summary
    from workbench.runbooks import Runbook

    lab = labels["cost_spike"]
    rb = runbooks.load("cost_spike")
    spec = copy.deepcopy(rb.spec)
    spec["signals"]["cost_per_request"]["thresholds"] = {"warning": 20.0, "critical": 30.0,
                                                         "page": 50.0}
    inv = investigate(Runbook(name=rb.name, spec=spec, path=rb.path), "local", lab.start,
                      lab.end, data_dir=store)
    table = inv.signal_table().set_index("signal")
    row = table.loc["cost_per_request"]
    assert row["ratio"] == pytest.approx(7.50, abs=0.01) and row["p_value"] < 1e-9
    assert row["severity"] == "below threshold"
    loop = table.loc["runaway_loop"]  # 8.14x against a 2x warning, p=2.7e-05 > alpha 1e-05
    assert loop["ratio"] == pytest.approx(8.14, abs=0.01)
    assert 1e-5 < loop["p_value"] < 1e-4 and loop["severity"] == "not significant"
    assert inv.severity == "page"  # what fired elsewhere still sets the page's severity
    html = inv.signal_table_html()
    assert "<td>below threshold</td>" in html and "<td>not significant</td>" in html
    verdicts = {r["signal"]: r["severity"] for r in runbook_summary(inv)["signals"]}
    assert (verdicts["cost_per_request"], verdicts["runaway_loop"]) == \
        ("below threshold", "not significant")
    day = lab.start - pd.Timedelta(days=1)
    quiet = investigate("cost_spike", "local", day, day + pd.Timedelta(hours=3), data_dir=store)
    q = quiet.signal_table().set_index("signal").loc["cost_per_request"]
    assert q["p_value"] > 0.01 and q["severity"] == "ok"


def test_every_signal_the_runbook_defines_has_a_row(cases, store, labels):
    """tool_latency_p95 (timeout_surge) and cost_per_hour, page_burst (cost_spike) had no row:
    a reader could not tell whether they were judged. Each has one, judged (a tool's latency
    over the window's tool calls) or "not judged: why", with what fired on it."""
    from workbench.reports.runbook_summary import runbook_summary

    for name, inv in cases.items():
        assert inv.signal_table()["signal"].tolist() == list(inv.runbook.signals), name
        assert [r["signal"] for r in runbook_summary(inv)["signals"]] == list(inv.runbook.signals)
    tool = cases["timeout_surge"].signal_table().set_index("signal").loc["tool_latency_p95"]
    assert tool["units"] == 166 and tool["unit"] == "ratio"  # tool calls, each tool's share
    assert tool["ratio"] == pytest.approx(2.96, abs=0.01)
    assert 1e-5 < tool["p_value"] < 1e-4 and tool["severity"] == "not significant"
    assert tool["could_show"] == pytest.approx(3.08, abs=0.01)
    assert tool["fired"].startswith(
        "critical in tool_name=web_fetch, agent=planner-agent, 13:00–16:00 UTC (")
    lab = labels["timeout_surge"]
    mine = investigate("timeout_surge", "local", lab.start, lab.end, data_dir=store,
                       agent="planner-agent")
    row = mine.signal_table().set_index("signal").loc["tool_latency_p95"]
    assert row["units"] == 108 and row["ratio"] == pytest.approx(3.99, abs=0.01)
    assert row["severity"] == "warning"
    cost = cases["cost_spike"].signal_table().set_index("signal")
    assert cost.loc["cost_per_hour", "severity"] == \
        "not judged: its detector reads spend growth per hour"
    assert cost.loc["page_burst", "severity"] == "not judged: its detector reads 5-minute bins"
    assert cost.loc["page_burst", "fired"] == "page over all traffic, 10:25–10:45 UTC (42.58x)"
    html = cases["cost_spike"].signal_table_html()
    assert "<td>not judged: its detector reads 5-minute bins</td>" in html


def test_a_real_change_short_of_a_finding_is_said_in_the_headline(store, labels):
    """Nothing fired over 11:00-12:00 of the cost incident, yet tool-agent's cost per request
    was 6.32x (p=0.0013): "Severity: NONE. Detectors: no detector fired" read as an
    all-clear. The headline names the leading change, its scope and p, says it is not
    significant, and what the window could show there."""
    from workbench.reports.runbook_summary import runbook_summary

    lab = labels["cost_spike"]
    start = lab.start + pd.Timedelta(hours=2)
    inv = investigate("cost_spike", "local", start, start + pd.Timedelta(hours=1),
                      data_dir=store)
    assert inv.firing == [] and inv.severity == "none"
    lead = inv.leading_change()
    iv = inv.judge.interval("cost_per_request", inv.start, inv.end, "tool-agent")
    assert (lead["signal"], lead["labels"], lead["units"]) == (
        "cost_per_request", {"agent": "tool-agent"}, iv.units)
    assert lead["ratio"] == pytest.approx(6.32, abs=0.01) == iv.ratio
    assert lead["p_value"] == pytest.approx(0.0013, abs=1e-4) and not lead["significant"]
    could = inv._could_show("cost_per_request", "tool-agent")
    head = inv.summary_html()
    assert "Severity: NONE (no finding; not an all-clear)" in head
    assert (f"Leading change: cost_per_request in agent=tool-agent, 11:00–12:00 UTC "
            f"({iv.units:,} traces): ${iv.observed:.4g} against ${iv.expected:.4g} expected "
            f"(6.32x, p=0.0013), not significant (the runbook asks p ≤ 1e-05) over the "
            f"window, and no detector fired on it in the windows they scanned; there the "
            f"window could show ≥ {could:.3g}x: a smaller change is missed, not absent."
            ) in head
    s = runbook_summary(inv)
    assert s["leading_change"]["scope"] == "in agent=tool-agent, 11:00–12:00 UTC"
    assert s["leading_change"]["p_value"] == lead["p_value"]
    # a finding fired: the headline quotes it, and no leading change is added
    fired = investigate("cost_spike", "local", lab.start, lab.end, data_dir=store)
    assert fired.leading_change() is None and "Leading change" not in fired.summary_html()
