"""Each public convention mapped to the canonical columns, from records shaped as their producers
write them: OTel SDK spans in four instrumentation styles, and the Langfuse v2 records the
double serves for the same spans. Both paths must give the same agent, tool, model, prompt and
timeout classification."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.doubles import LangfuseDouble
from tests.doubles.langfuse_ingest import ingest
from tests.otel_fixtures import (Recorder, audio, openllmetry, prompt_cache, provider_usage,
                                 reasoning, strands)
from workbench import schema
from workbench.errors import ConfigError
from workbench.simulate import errors
from workbench.simulate.plan import CallPlan, TracePlan
from workbench.simulate.profiles import REALISTIC
from workbench.simulate.styles import SpanRecorder
from workbench.sources import conventions as conv
from workbench.sources.otel import raw_from_spans

DAY = ("2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z")
T0 = int(pd.Timestamp("2026-11-02T10:00:00Z").value // 1000)


def _request(agent: str, calls: list[CallPlan], at_s: int, failure=None, cut=False
             ) -> TracePlan:
    spec = REALISTIC.agent(agent)
    t = 0.01
    for c in calls:
        c.start, c.end = t, t + c.dur
        t = c.end + 0.01
    plan = TracePlan(spec, "production", "user-7", "sess-7", T0 + at_s * 1_000_000, calls,
                     tags=("web",), failure=failure, cut=cut)
    plan.end = t
    return plan


def _gen(name, model, prompt=None, version=None, failure=None):
    return CallPlan("generation", name, 0.8, 0.0, model=model, input_tokens=1200,
                    output_tokens=80, prompt_name=prompt, prompt_version=version,
                    failure=failure)


def _tool(agent, name, failure=None, propagates=False):
    return CallPlan("tool", name, 0.4, 0.0, tool=REALISTIC.agent(agent).tools[name],
                    failure=failure, propagates=propagates)


def _plans() -> dict[str, TracePlan]:
    kb = REALISTIC.agent("support-agent").tools["search_kb"]
    read = errors.timeout("httpx")
    deadline = errors.timeout("grpc", "/warehouse.Query/Run")
    agents_timeout = errors.timeout("agents", "search_products", 10)
    fetch = errors.timeout("asyncio")
    return {
        # Langfuse SDK: the tool times out in httpx and the request fails with it
        "langfuse": _request("support-agent", [
            _gen("route", "gpt-4.1-nano", "support-router", 3),
            CallPlan("tool", "search_kb", 8.0, 0.0, tool=kb, failure=read, propagates=True)],
            0, failure=read),
        # GenAI semconv under an HTTP server span: a gRPC deadline in run_sql, request fails
        "genai": _request("billing-agent", [
            _gen("chat", "claude-haiku-4-5"),
            _tool("billing-agent", "run_sql", deadline, True)], 60, failure=deadline),
        # OpenInference / LangGraph: fetch_page times out in asyncio, the model carries on
        "openinference": _request("research-agent", [
            _gen("plan", "gpt-4.1"), _tool("research-agent", "fetch_page", fetch),
            _gen("synthesize", "gpt-4.1")], 120),
        # OpenAI Agents SDK: the tool's own time-out, handed back to the model
        "openai_agents": _request("shop-assistant", [
            _gen("response", "gpt-4o-mini"),
            _tool("shop-assistant", "search_products", agents_timeout),
            _gen("response", "gpt-4o-mini")], 180),
    }


@pytest.fixture(scope="module")
def spans():
    recorder = SpanRecorder(seed=1)
    plans = _plans()
    for p in plans.values():
        recorder.record(p)
    return recorder.spans


@pytest.fixture(scope="module")
def via_otel(spans):
    return conv.load().observations(raw_from_spans(spans))


@pytest.fixture(scope="module")
def via_langfuse(spans):
    with LangfuseDouble.from_spans(spans, prices=()) as d, d.source() as src:
        return src.observations(*DAY)


EXPECTED = {  # agent -> (tools, models, (prompt, version) pairs, timed-out tool)
    "support-agent": ({"search_kb"}, {"gpt-4.1-nano"}, {("support-router", 3)}, "search_kb"),
    "billing-agent": ({"run_sql"}, {"claude-haiku-4-5"}, set(), "run_sql"),
    "research-agent": ({"fetch_page"}, {"gpt-4.1"}, set(), "fetch_page"),
    "shop-assistant": ({"search_products"}, {"gpt-4o-mini"}, set(), "search_products"),
}


@pytest.mark.parametrize("path", ["via_otel", "via_langfuse"])
def test_each_style_maps_agent_tool_model_prompt_and_timeout(path, request):
    obs = request.getfixturevalue(path)
    assert set(obs["agent"]) == set(EXPECTED)
    for agent, (tools, models, prompts, timed_out) in EXPECTED.items():
        part = obs[obs["agent"] == agent]
        assert part["trace_id"].nunique() == 1, agent
        assert set(part.loc[part["type"] == "tool", "tool_name"]) == tools, agent
        gens = part[part["type"] == "generation"]
        assert set(gens["model"]) == models, agent
        assert set(zip(gens["prompt_name"].dropna(), gens["prompt_version"].dropna())) == \
            prompts, agent
        tool = part[part["tool_name"] == timed_out].iloc[0]
        assert (tool["level"], tool["error_type"]) == ("ERROR", "timeout"), agent
        assert part["user_id"].eq("user-7").all() and part["session_id"].eq("sess-7").all()
        assert part["environment"].eq("production").all()
    assert set(obs.loc[obs["agent"] == "support-agent", "release"]) == {"3.12.0"}
    assert set(obs.loc[obs["agent"] == "billing-agent", "release"]) == {"1.4.2"}
    # requests that failed with the time-out are timeouts as a whole
    roots = obs[obs["parent_observation_id"].isna()].set_index("agent")
    assert roots.loc["support-agent", "error_type"] == "timeout"
    assert roots.loc["billing-agent", "error_type"] == "timeout"
    assert roots.loc["shop-assistant", "level"] == "DEFAULT"  # the processor ends traces OK
    assert set(obs["type"]) == {"agent", "generation", "tool", "span", "chain"}


def test_status_messages_keep_the_library_words(via_otel, via_langfuse):
    for obs in (via_otel, via_langfuse):
        msg = obs.set_index("tool_name")["status_message"]
        assert msg["search_kb"] == "timed out"  # @observe: str(exc)
        assert msg["run_sql"].startswith("_InactiveRpcError: <_InactiveRpcError of RPC")
        assert "StatusCode.DEADLINE_EXCEEDED" in msg["run_sql"]
        assert msg["fetch_page"].startswith("Traceback (most recent call last):")
        assert msg["fetch_page"].rstrip().endswith("\nTimeoutError")
        assert msg["search_products"] == ("Error running tool: {'tool_name': 'search_products', "
                                          "'error': \"Tool 'search_products' timed out after 10 "
                                          "seconds.\"}")


def test_both_paths_give_the_same_frame(via_otel, via_langfuse):
    key = ["observation_id"]
    pd.testing.assert_frame_equal(via_langfuse.sort_values(key).reset_index(drop=True),
                                  via_otel.sort_values(key).reset_index(drop=True))


def test_langfuse_records_as_ingestion_makes_them(spans):
    records = {r["core"]["id"]: r for r in ingest(spans)}
    by_name = {}
    for r in records.values():
        by_name.setdefault(r["basic"]["name"], []).append(r)
    root = by_name["handle_request"][0]
    assert root["core"]["type"] == "AGENT" and root["basic"]["isRootObservation"]
    assert root["trace_context"]["traceName"] == "support-agent"  # langfuse.trace.name
    assert "attributes.langfuse.trace.name" not in root["metadata"]["metadata"]  # langfuse-sdk
    assert root["metadata"]["metadata"]["scope.name"] == "langfuse-sdk"
    http = by_name["POST /v1/chat"][0]
    assert http["core"]["type"] == "SPAN" and http["trace_context"]["traceName"] is None
    assert http["basic"]["statusMessage"].startswith("_InactiveRpcError: ")
    chat = by_name["chat claude-haiku-4-5"][0]
    assert chat["core"]["type"] == "GENERATION"
    assert chat["usage"]["usageDetails"] == {"input": 1200, "output": 80, "total": 1280}
    assert chat["usage"]["costDetails"] == {"input": pytest.approx(1200e-6),
                                            "output": pytest.approx(400e-6),
                                            "total": pytest.approx(1600e-6)}  # list price
    assert chat["metadata"]["metadata"]["attributes.gen_ai.usage.input_tokens"] == "1200"
    tool = by_name["run_sql"][0]  # name from gen_ai.tool.name, not the span name
    assert tool["core"]["type"] == "TOOL" and tool["basic"]["level"] == "ERROR"
    response = by_name["response"][0]
    assert response["core"]["type"] == "GENERATION"
    assert response["usage"]["usageDetails"]["input_cached_tokens"] == 0
    graph = by_name["LangGraph"][0]
    assert graph["core"]["type"] == "CHAIN" and graph["trace_context"]["tags"] == ["web"]
    gens = [r for r in records.values() if r["core"]["type"] == "GENERATION"]
    assert {r["prompt"]["promptName"] for r in gens} == {"support-router", None}


def test_metadata_leaves_cut_at_200_characters_unless_expanded(spans):
    with LangfuseDouble.from_spans(spans) as d:
        import httpx

        auth = (d.public_key, d.secret_key)
        url = f"{d.base_url}/api/public/v2/observations"
        cut = httpx.get(url, params={"fields": "core,metadata", "limit": 100}, auth=auth).json()
        full = httpx.get(url, params={"fields": "core,metadata", "limit": 100,
                                      "expandMetadata": "attributes.metadata"},
                         auth=auth).json()
    long_cut = [v for row in cut["data"] for v in row["metadata"].values()
                if isinstance(v, str) and len(v) == 200]
    assert long_cut  # e.g. the OpenInference invocation parameters and messages
    full_len = max(len(str(v)) for row in full["data"] for v in row["metadata"].values())
    assert full_len > 200
    for row in cut["data"]:
        assert "." in next(iter(row["metadata"]))  # flat dotted keys, never nested objects
        assert not any(isinstance(v, dict) and "gen_ai.tool.name" in v
                       for v in row["metadata"].values())


def test_error_type_from_the_status_message_when_events_are_gone():
    raw = conv.raw_frame({
        "trace_id": ["t"] * 4, "observation_id": ["a", "b", "c", "d"],
        "parent_observation_id": [None, "a", "a", "a"],
        "start_time": ["2026-11-02T10:00:00Z"] * 4, "name": ["r", "x", "y", "z"],
        "level": ["ERROR"] * 4,
        "status_message": ["HTTPStatusError: Server error '502 Bad Gateway'",
                           "Traceback (most recent call last):\n  File \"a.py\"\n    x()\n"
                           "httpx.HTTPStatusError: Server error\nFor more information: u\n",
                           "Error code: 500 - {'error': 1}", None],
        "exception_type": [None, None, None, "grpc.RpcError"],
    })
    got = conv.load().observations(raw).set_index("observation_id")["error_type"]
    assert got.to_dict() == {"a": "HTTPStatusError", "b": "httpx.HTTPStatusError",
                             "c": "error", "d": "grpc.RpcError"}


def _raw(rows: list[dict]) -> pd.DataFrame:
    """A raw frame from rows (one dict per observation)."""
    cols = sorted({k for r in rows for k in r})
    return conv.raw_frame({c: [r.get(c) for r in rows] for c in cols})


def _agents(rows: list[dict], conventions=None) -> dict[str, str]:
    """Agent per trace id from raw rows (one dict per observation)."""
    obs = (conventions or conv.load()).observations(_raw(rows))
    return obs.groupby("trace_id")["agent"].first().to_dict()


def _span(trace, oid, name, parent=None, **extra):
    return {"trace_id": trace, "observation_id": oid, "parent_observation_id": parent,
            "start_time": "2026-11-02T10:00:00Z", "name": name, **extra}


def test_agent_from_the_root_span_name_before_the_service():
    """Langfuse names an OTel trace after its root span when no ``langfuse.trace.name`` is set:
    an OpenInference root CHAIN named after the agent names it, not the service that ran it.
    Names frameworks give every trace are skipped, and the next rule decides."""
    chain = {"attr:openinference.span.kind": "CHAIN", "res:service.name": "research-worker"}
    rows = [
        # OpenInference LangChain: root CHAIN "research-agent", no trace name
        _span("oi", "a", "research-agent", **chain),
        _span("oi", "b", "ChatOpenAI", "a", **{"attr:openinference.span.kind": "LLM",
                                               "res:service.name": "research-worker"}),
        # LangGraph's default run name: the service names the agent
        _span("lg", "c", "LangGraph", **chain),
        # OpenAI Agents SDK, served with the trace named after its root ("Agent workflow")
        _span("oa", "d", "Agent workflow", trace_name="Agent workflow",
              **{"res:service.name": "triage-worker"}),
        _span("oa", "e", "triage-agent", "d", trace_name="Agent workflow",
              **{"attr:openinference.span.kind": "AGENT", "res:service.name": "triage-worker"}),
        # GenAI semconv, trace named after its root "invoke_agent order-agent"
        _span("ga", "f", "invoke_agent order-agent", trace_name="invoke_agent order-agent",
              **{"attr:gen_ai.operation.name": "invoke_agent"}),
        # an HTTP server root span: the service
        _span("http", "g", "POST /v1/chat", **{"res:service.name": "chat-api"}),
        _span("http", "h", "chat gpt-4o", "g", **{"attr:gen_ai.operation.name": "chat",
                                                   "res:service.name": "chat-api"}),
        # a Logfire span-name template is no name
        _span("lf", "i", "OpenAI Agents trace: {name}", **{"res:service.name": "shop"}),
    ]
    assert _agents(rows) == {"oi": "research-agent", "lg": "research-worker",
                             "oa": "triage-agent", "ga": "order-agent", "http": "chat-api",
                             "lf": "shop"}


def test_generic_agent_names_can_be_overridden_and_bad_ones_are_named():
    rows = [_span("lg", "c", "LangGraph", **{"res:service.name": "research-worker"})]
    mine = conv.load({"generic_agent_names": ["internal-.*"]})
    assert _agents(rows, mine) == {"lg": "LangGraph"}  # the user's list replaces the defaults
    assert _agents([_span("x", "a", "internal-runner", **{"res:service.name": "svc"})],
                   mine) == {"x": "svc"}
    with pytest.raises(conv.ConfigError, match=r"generic_agent_names.*bad regular expression"):
        conv.load({"generic_agent_names": ["(unclosed"]})


@pytest.mark.parametrize("name, signal", [
    ("ragas_faithfulness", "groundedness"), ("faithfulness_score", "groundedness"),
    ("llm-judge/groundedness", "groundedness"), ("HallucinationEvaluator", "hallucination"),
    ("hallucination_v2", "hallucination"), ("eval:hallucination", "hallucination"),
    ("Hallucination", "hallucination"), ("answer_support", "groundedness"),
    ("answer_relevance_score", None), ("score", None), ("judge", None), ("toxicity", None)])
def test_score_names_are_read_through_framework_prefixes_and_suffixes(name, signal):
    """Evaluation frameworks and teams decorate a metric's name with the framework, the judge,
    "score" or a version; the metric itself decides the signal, and a bare decoration none."""
    assert conv.load().score_signal(name) == signal


def test_prompt_cache_tokens_reach_the_same_columns_through_langfuse():
    rec = Recorder()
    prompt_cache(rec)
    otel = conv.load().observations(raw_from_spans(rec.spans))
    with LangfuseDouble.from_spans(rec.spans, prices=()) as d, d.source() as src:
        served = src.observations(*DAY)
    records = {r["basic"]["name"]: r for r in ingest(rec.spans)}
    # Langfuse keeps its usage types disjoint: the cached part is out of `input`
    assert records["chat hit"]["usage"]["usageDetails"] == {
        "input": 2000, "output": 200, "total": 10200, "input_cached_tokens": 8000}
    assert records["Messages"]["usage"]["usageDetails"] == {
        "input": 1000, "output": 100, "total": 5100, "input_cached_tokens": 3000,
        "input_cache_creation": 1000}
    cols = ["name", "input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens",
            "total_tokens"]
    got = served.sort_values("name")[cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, otel.sort_values("name")[cols].reset_index(drop=True))
    by_name = got.set_index("name")
    assert by_name.loc["chat hit"].tolist() == [10000, 8000, pd.NA, 200, 10200]
    assert by_name.loc["Messages"].tolist() == [5000, 3000, 1000, 100, 5100]
    assert by_name.loc["cached-answer"].tolist() == [2000, 1600, pd.NA, 50, 2050]


def test_cache_marker_is_checked():
    c = conv.load({"input_tokens": [{"attribute": "my.prompt_tokens", "cache": "excluded"}]})
    assert c.rules["input_tokens"][0].parts_excluded
    assert not c.rules["input_tokens"][-1].parts_excluded
    with pytest.raises(ConfigError, match=r"input_tokens\[0\]: `cache` must be `excluded` or "
                                          r"`included`, got 'no'"):
        conv.load({"input_tokens": [{"attribute": "x", "cache": "no"}]})
    with pytest.raises(ConfigError, match=r"output_tokens\[0\] must be one `kind: key` pair"):
        conv.load({"output_tokens": [{"attribute": "x", "cache": "excluded"}]})


def test_categorical_judge_labels_feed_their_signal_and_unknown_labels_are_counted():
    """A categorical judge answers in words (Phoenix's "factual" / "hallucinated", a
    groundedness judge's "grounded" / "hallucinated"); the scores API gives them as the
    string value. Words no category maps are left out and counted, never read as a level."""
    t = pd.Timestamp("2026-11-02T10:00:00Z")
    scores = pd.DataFrame({
        "trace_id": list("abcdef"), "observation_id": [None] * 6, "timestamp": t,
        "name": ["groundedness", "groundedness", "Groundedness", "groundedness",
                 "hallucination", "hallucination"],
        "value": [float("nan")] * 6,
        "string_value": ["hallucinated", "grounded", "Partially Grounded", "needs review",
                         "Factual", "needs review"],
        "data_type": ["CATEGORICAL"] * 6})
    got = conv.load().score_values(scores)
    assert dict(zip(got["trace_id"], zip(got["signal"], got["value"]))) == {
        "a": ("groundedness", 0.0), "b": ("groundedness", 1.0), "c": ("groundedness", 0.5),
        "e": ("hallucination", 0.0)}
    assert got.attrs["unmapped_categories"] == {("groundedness", "needs review"): 1,
                                                ("hallucination", "needs review"): 1}
    note = conv.unmapped_categories_note(got.attrs["unmapped_categories"])
    assert note.startswith("2 categorical score(s) left out") and "'needs review'" in note


def test_agent_names_of_vercel_pydantic_ai_and_langgraph_as_langfuse_serves_them():
    """Langfuse names a Vercel AI SDK span "<functionId>:<operationId>" and a Pydantic AI agent
    span by its Logfire message ("claims-triage run"); the Langfuse LangChain handler types
    LangGraph's ReAct node "agent" as an AGENT under the graph's root. The agent is the
    function id, the GenAI agent name and the graph."""
    rows = [
        _span("v", "a", "shop-assistant:ai.generateText",
              **{"attr:ai.telemetry.functionId": "shop-assistant",
                 "attr:ai.operationId": "ai.generateText"}),
        _span("v", "b", "shop-assistant:ai.generateText.doGenerate", "a",
              native_type="GENERATION",
              **{"attr:ai.telemetry.functionId": "shop-assistant",
                 "attr:ai.operationId": "ai.generateText.doGenerate"}),
        _span("p", "c", "claims-triage run", native_type="AGENT",
              **{"attr:gen_ai.agent.name": "claims-triage", "attr:logfire.msg":
                 "claims-triage run", "res:service.name": "claims-api"}),
        _span("p1", "d", "claims-triage run", native_type="AGENT",  # before Pydantic AI 1.0
              **{"attr:agent_name": "claims-triage", "res:service.name": "claims-api"}),
        _span("g", "e", "research-graph", native_type="CHAIN"),
        _span("g", "f", "agent", "e", native_type="AGENT"),
        _span("g", "h", "tools", "e", native_type="CHAIN"),
        # LlamaIndex through OpenInference names its spans after the class's method
        _span("li", "i", "RetrieverQueryEngine.query", native_type="CHAIN",
              **{"res:service.name": "policy-rag"}),
        _span("li", "j", "OpenAI.chat", "i", native_type="GENERATION",
              **{"res:service.name": "policy-rag"}),
    ]
    assert _agents(rows) == {"v": "shop-assistant", "p": "claims-triage", "p1": "claims-triage",
                             "g": "research-graph", "li": "policy-rag"}


def test_a_crewai_crew_is_the_agent_not_the_role_running_its_first_task():
    """OpenInference names a CrewAI crew's root span "<crew name>.kickoff" (CHAIN; "Crew" when
    the crew has no name) and each task an AGENT span "<role>._execute_core": the crew is the
    agent, whichever role ran the first task."""
    crew = {"attr:crew_key": "5f1c0e7d", "attr:openinference.span.kind": "CHAIN",
            "res:service.name": "procurement-worker"}
    rows = [
        _span("c", "a", "vendor_research.kickoff", native_type="CHAIN", **crew),
        _span("c", "b", "Procurement Analyst._execute_core", "a", native_type="AGENT",
              **{"attr:graph.node.id": "Procurement Analyst"}),
        _span("c", "c", "Report Writer._execute_core", "a", native_type="AGENT",
              **{"attr:graph.node.id": "Report Writer"}),
        _span("u", "d", "Crew.kickoff", native_type="CHAIN",
              **{**crew, "res:service.name": "crew-worker"}),
        _span("u", "e", "Researcher._execute_core", "d", native_type="AGENT"),
        _span("f", "g", "TripPlannerFlow.kickoff", native_type="CHAIN",
              **{"res:service.name": "planner"}),
    ]
    assert _agents(rows) == {"c": "vendor_research", "u": "crew-worker", "f": "TripPlannerFlow"}


def test_a_smolagents_or_agno_run_is_named_after_its_agent():
    """OpenInference names a smolagents (and Agno) agent's run "<agent name>.run", its class
    name when the agent has none ("CodeAgent.run")."""
    rows = [
        _span("s", "a", "sales_analyst.run", native_type="AGENT",
              **{"attr:openinference.span.kind": "AGENT", "res:service.name": "analytics"}),
        _span("s", "b", "Step 1", "a", native_type="CHAIN"),
        _span("n", "c", "CodeAgent.run", native_type="AGENT",
              **{"res:service.name": "analytics-batch"}),
        _span("g", "d", "Support_Team.run", native_type="AGENT"),
    ]
    assert _agents(rows) == {"s": "sales_analyst", "n": "analytics-batch", "g": "Support_Team"}


def test_a_dspy_tool_is_named_without_the_method_openinference_adds():
    """OpenInference's DSPy instrumentor names a tool's span after the tool and the method it
    wraps ("search_tariffs.__call__", "acall" when awaited) and sets no ``tool.name``."""
    rows = [
        _span("d", "a", "FareRulesQA.forward", native_type="CHAIN",
              **{"attr:openinference.span.kind": "CHAIN"}),
        _span("d", "b", "search_tariffs.__call__", "a", native_type="TOOL",
              **{"attr:openinference.span.kind": "TOOL"}),
        _span("d", "c", "seat_map.acall", "a", native_type="TOOL",
              **{"attr:openinference.span.kind": "TOOL"}),
        _span("d", "e", "ChatAdapter.__call__", "a", native_type="CHAIN",
              **{"attr:openinference.span.kind": "CHAIN"}),
    ]
    obs = conv.load().observations(_raw(rows)).set_index("name")
    assert obs.loc["search_tariffs.__call__", "tool_name"] == "search_tariffs"
    assert obs.loc["seat_map.acall", "tool_name"] == "seat_map"
    assert pd.isna(obs.loc["ChatAdapter.__call__", "tool_name"])  # a chain, no tool


def test_reasoning_and_audio_tokens_reach_the_same_columns_through_langfuse():
    rec = Recorder()
    reasoning(rec)
    otel = conv.load().observations(raw_from_spans(rec.spans))
    with LangfuseDouble.from_spans(rec.spans, prices=()) as d, d.source() as src:
        served = src.observations(*DAY)
    records = {r["basic"]["name"]: r for r in ingest(rec.spans)}
    # Langfuse keeps its usage types disjoint: reasoning and audio tokens are out of `output`
    assert records["chat o4-mini"]["usage"]["usageDetails"] == {
        "input": 1000, "output": 500, "total": 4000, "output_reasoning_tokens": 2500}
    assert records["ChatCompletion"]["usage"]["usageDetails"] == {
        "input": 500, "output": 200, "total": 1700, "output_reasoning_tokens": 1000}
    assert records["AudioCompletion"]["usage"]["usageDetails"] == {
        "input": 100, "output": 200, "total": 700, "output_audio_tokens": 400}
    cols = ["name", "input_tokens", "output_tokens", "reasoning_tokens", "total_tokens"]
    got = served.sort_values("name")[cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, otel.sort_values("name")[cols].reset_index(drop=True))
    by_name = got.set_index("name")
    assert by_name.loc["chat o4-mini"].tolist() == [1000, 3000, 2500, 4000]
    assert by_name.loc["ChatCompletion"].tolist() == [500, 1200, 1000, 1700]
    assert by_name.loc["AudioCompletion"].tolist() == [100, 600, pd.NA, 700]
    assert by_name.loc["reasoned-answer"].tolist() == [400, 1000, 900, 1400]
    assert by_name.loc["thought-answer"].tolist() == [50, 50, 30, 100]


def test_audio_and_prediction_tokens_reach_the_same_columns_through_langfuse():
    rec = Recorder()
    audio(rec)
    otel = conv.load().observations(raw_from_spans(rec.spans))
    with LangfuseDouble.from_spans(rec.spans, prices=()) as d, d.source() as src:
        served = src.observations(*DAY)
    records = {r["basic"]["name"]: r for r in ingest(rec.spans)}
    # Langfuse keeps its usage types disjoint: each OpenAI usage detail is out of `input` /
    # `output`, the Python SDK's usage object flattened by Langfuse as the JS SDK flattens it
    assert records["voice-answer"]["usage"]["usageDetails"] == {
        "input": 700, "output": 300, "total": 2100, "input_cached_tokens": 200,
        "input_audio_tokens": 300, "output_reasoning_tokens": 0, "output_audio_tokens": 400,
        "output_accepted_prediction_tokens": 150, "output_rejected_prediction_tokens": 50}
    assert records["predicted-edit"]["usage"]["usageDetails"]["output"] == 120
    # OpenInference's prompt audio stays inside `input` (kept beside it under its own name)
    assert records["AudioChat"]["usage"]["usageDetails"] == {
        "input": 300, "output": 100, "total": 900, "output_reasoning_tokens": 100,
        "output_audio_tokens": 400, "prompt_details.audio": 120}
    cols = ["name", "input_tokens", "output_tokens", "cache_read_tokens", "reasoning_tokens"]
    got = served.sort_values("name")[cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, otel.sort_values("name")[cols].reset_index(drop=True))
    by_name = got.set_index("name")
    assert by_name.loc["voice-answer"].tolist() == [1200, 900, 200, 0]
    assert by_name.loc["predicted-edit"].tolist() == [500, 300, 0, 0]
    # OpenInference and GenAI audio counts are parts of the prompt / completion: not added
    assert by_name.loc["AudioChat"].tolist() == [300, 600, pd.NA, 100]
    assert by_name.loc["chat gpt-4o"].tolist() == [250, 500, pd.NA, pd.NA]
    totals = otel.set_index("name")["total_tokens"]
    assert totals.to_dict() == {"voice-answer": 2100, "predicted-edit": 800, "AudioChat": 900,
                                "chat gpt-4o": 750}
    reported = served.set_index("name").drop(index="chat gpt-4o")
    assert (reported["total_tokens"] == totals.drop(index="chat gpt-4o")).all()
    assert (reported["total_tokens"]
            == reported["input_tokens"] + reported["output_tokens"]).all()


def test_provider_usage_objects_sent_by_the_langfuse_sdk_count_every_token():
    rec = Recorder()
    provider_usage(rec)
    otel = conv.load().observations(raw_from_spans(rec.spans))
    with LangfuseDouble.from_spans(rec.spans, prices=()) as d, d.source() as src:
        served = src.observations(*DAY)
    cols = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
            "reasoning_tokens", "total_tokens"]

    def rows(obs):
        by_name = obs.set_index("name")[cols]
        return by_name.astype(object).where(by_name.notna(), None).T.to_dict("list")

    # OpenAI responses: input_tokens counts the cached input (read from the span it is not
    # taken for a cache part; Langfuse's ingestion splits it off `input`, added back)
    assert rows(otel)["responses-answer"] == [1000, 500, None, None, 300, 1500]
    assert rows(served)["responses-answer"] == [1000, 500, 400, None, 300, 1500]
    # Anthropic messages: input_tokens leaves the cache reads and writes out: added to it
    assert rows(otel)["messages-answer"] == [1350, 200, 1000, 300, None, 1550]
    assert rows(served)["messages-answer"] == rows(otel)["messages-answer"]


def test_json_usage_fields_are_read_nested_and_summed():
    c = conv.load({"input_tokens": [{"attribute": "my.usage#in+in_audio+in_note",
                                     "cache": "excluded"}],
                   "cache_read_tokens": [{"attribute": "my.usage#details.cached"}],
                   "output_tokens": [{"attribute": "my.usage#a.b.c"}]})
    raw = pd.DataFrame({"trace_id": ["t"] * 5, "observation_id": list("abcde"),
                        "start_time": [pd.Timestamp("2026-11-02T10:00:00Z")] * 5,
                        "attr:my.usage": [
                            '{"in": 10, "in_audio": 5, "in_note": "x", "details": {"cached": 2},'
                            ' "a": {"b": {"c": 7}}}',
                            {"in_audio": "4", "details.cached": 3, "details": {"cached": 9},
                             "a.b.c": 8},
                            '{"in": true, "details": 3, "a": {"b": 1}}',
                            "not json {",
                            None]})
    obs = c.observations(raw)
    cols = ["input_tokens", "cache_read_tokens", "output_tokens"]
    # a sum of the numbers among the fields present (text that is not a number and booleans
    # left out, a number as text read); a path into nested objects unless a field has the
    # dotted name itself; the cache part added to a count marked `cache: excluded`
    assert obs[cols].astype(object).where(obs[cols].notna(), None).values.tolist() == [
        [17, 2, 7], [7, 3, 8], [None, None, None], [None, None, None], [None, None, None]]


def test_reasoning_marker_is_checked():
    c = conv.load({"output_tokens": [{"attribute": "my.completion", "reasoning": "excluded"}]})
    assert c.rules["output_tokens"][0].parts_excluded
    assert not c.rules["output_tokens"][-1].parts_excluded
    raw = pd.DataFrame({"trace_id": ["t"], "observation_id": ["o"],
                        "start_time": [pd.Timestamp("2026-11-02T10:00:00Z")],
                        "attr:my.completion": [40], "attr:gen_ai.usage.reasoning.output_tokens":
                        [60]})
    assert c.observations(raw)[["output_tokens", "reasoning_tokens"]].iloc[0].tolist() == [
        100, 60]
    with pytest.raises(ConfigError, match=r"output_tokens\[0\]: `reasoning` must be `excluded` "
                                          r"or `included`, got True"):
        conv.load({"output_tokens": [{"attribute": "x", "reasoning": True}]})
    with pytest.raises(ConfigError, match=r"input_tokens\[0\] must be one `kind: key` pair "
                                          r"\(`cache: excluded\|included` may follow"):
        conv.load({"input_tokens": [{"attribute": "x", "reasoning": "excluded"}]})
    with pytest.raises(ConfigError, match=r"reasoning_tokens\[0\] must be one `kind: key` pair, "):
        conv.load({"reasoning_tokens": [{"attribute": "x", "reasoning": "excluded"}]})


def test_judge_scores_off_the_unit_scale_are_read_on_their_own_scale_and_said():
    """Teams' judges rate 1-5 or in percent; the signals read 0..1. A rating is read on its
    scale (1-5: 1 is 0, 5 is 1), a scale the conventions declare wins, and numbers that fit no
    scale are left out, never read as they are."""
    t = pd.Timestamp("2026-11-02T10:00:00Z")
    names = ["faithfulness"] * 3 + ["hallucination"] * 2 + ["Hallucination"] + \
        ["groundedness"] * 2 + ["answer_groundedness"] * 2
    scores = pd.DataFrame({
        "trace_id": [f"t{i}" for i in range(10)], "observation_id": [None] * 10,
        "timestamp": t, "name": names,
        "value": [1.0, 3.0, 5.0, 0.2, 0.9, 80.0, -3.0, 250.0, 2.0, 6.0],
        "string_value": [None] * 10, "data_type": ["NUMERIC"] * 10})
    got = conv.load().score_values(scores)
    assert dict(zip(got["trace_id"], got["value"])) == pytest.approx({
        "t0": 0.0, "t1": 0.5, "t2": 1.0, "t3": 0.2, "t4": 0.9, "t5": 0.8, "t8": 1 / 9,
        "t9": 5 / 9})
    assert got.attrs["rescaled"] == {"faithfulness": (1.0, 5.0), "Hallucination": (0.0, 100.0),
                                     "answer_groundedness": (1.0, 10.0)}
    assert got.attrs["unscaled"] == {"groundedness": (-3.0, 250.0)}
    notes = conv.scale_notes(got.attrs["rescaled"], got.attrs["unscaled"])
    assert "score 'faithfulness' read on a 1–5 scale" in notes[2]
    assert notes[3].startswith("score 'groundedness' left out: its values (-3 to 250)")
    # a declared scale wins over what the values suggest
    mine = conv.load({"scores": {"groundedness": {"scales": {"answer_groundedness": [0, 10]}}}})
    declared = mine.score_values(scores)
    assert declared.set_index("trace_id").loc[["t8", "t9"], "value"].tolist() == \
        pytest.approx([0.2, 0.6])
    with pytest.raises(ConfigError, match=r"scores.groundedness.scales.x must be \[lowest, "
                                          r"highest\]"):
        conv.load({"scores": {"groundedness": {"scales": {"x": [5, 1]}}}})


def test_a_generic_name_is_the_last_resort_for_an_agent_and_the_report_says_so():
    """Flowise's Langfuse analytics name a Tool Agent's trace after LangChain's root run,
    "AgentExecutor", with nothing else naming the agent: that name beats "unknown", and the
    coverage says the agent is only named generically."""
    rows = [
        _span("f", "a", "AgentExecutor", trace_name="AgentExecutor", native_type="SPAN"),
        _span("f", "b", "ChatOpenAI", "a", native_type="GENERATION"),
        _span("s", "c", "AgentExecutor", trace_name="AgentExecutor",
              **{"res:service.name": "storefront"}),
        _span("n", "d", "POST /chat"),
    ]
    assert _agents(rows) == {"f": "AgentExecutor", "s": "storefront", "n": "POST /chat"}
    cov = conv.coverage(conv.load().observations(_raw(rows)))
    assert cov.unknown["agent"] == 0.0
    note, = [n for n in cov.notes if "generic name" in n]
    assert note.startswith("agent named only by a framework's generic name (AgentExecutor, "
                           "POST /chat) on 67% of traces")
    # the last resort is a rule like any other: dropped, such traces are unknown again
    rules = [r for r in conv._defaults()["agent"] if not isinstance(r, dict)
             or "generic" not in r]
    strict = conv.load({"agent": {"replace": True, "rules": rules}})
    assert _agents(rows, strict)["f"] == "unknown"
    with pytest.raises(ConfigError, match=r"agent\[0\]: `generic` must be `allowed` or "
                                          r"`skipped`, got 'yes'"):
        conv.load({"agent": [{"root_observation": "*", "generic": "yes"}]})


def test_a_dify_node_is_typed_by_its_node_type_metadata():
    """Dify writes workflow nodes through Langfuse's ingestion API as plain spans named by
    their title, with the node type in metadata: an HTTP request or tool node is a tool call,
    a knowledge retrieval a retriever."""
    dify = {"meta:app_id": "6f1c2f0e", "native_type": "SPAN"}
    rows = [
        _span("d", "a", "workflow", trace_name="message", **dify),
        _span("d", "b", "Order Status API", "a", level="ERROR",
              status_message="Reached maximum retries (3) for URL https://erp.example/api",
              **{**dify, "meta:node_type": "http-request"}),
        _span("d", "c", "Knowledge Retrieval", "a", **{**dify, "meta:node_type":
                                                       "knowledge-retrieval"}),
        _span("d", "e", "Start", "a", **{**dify, "meta:node_type": "start"}),
        # sent over OpenTelemetry by an SDK that marks every span a "span": the node type wins
        _span("o", "f", "Weather API", **{"attr:langfuse.observation.type": "span",
                                          "meta:node_type": "tool"}),
        # ... but a "span" stays one where only a guess would make it more (a model named)
        _span("o", "g", "rerank", "f", **{"attr:langfuse.observation.type": "span",
                                          "attr:gen_ai.request.model": "rerank-v3.5"}),
    ]
    obs = conv.load().observations(_raw(rows)).set_index("name")
    assert obs.loc["Order Status API", ["type", "tool_name"]].tolist() == \
        ["tool", "Order Status API"]
    assert obs.loc["Knowledge Retrieval", "type"] == "retriever"
    assert obs.loc["Start", "type"] == "span" and obs.loc["workflow", "agent"] == "message"
    assert obs.loc["Weather API", "type"] == "tool" and obs.loc["rerank", "type"] == "span"
    assert "meta:node_type" in conv.load().wanted_columns()


def _both_paths(builder, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The observations of ``builder``'s spans mapped from OpenTelemetry directly and as the
    Langfuse double serves them after its OTel ingestion: one convention, both paths."""
    rec = Recorder(seed=seed)
    builder(rec)
    via_otel = conv.load().observations(raw_from_spans(rec.spans))
    with LangfuseDouble.from_spans(rec.spans, prices=()) as d, d.source() as src:
        return via_otel, src.observations(*DAY)


def test_a_tool_error_strands_ends_ok_is_an_error_on_both_paths():
    """Strands hands a raising tool's error to the model and ends the tool span OK with
    ``gen_ai.tool.status=error``: read as an error of that tool, the status message saying why;
    the tool that answered stays fine."""
    for obs in _both_paths(strands, seed=5):
        by_name = obs.set_index("name")
        failed = by_name.loc["flight_search"]
        assert (failed["type"], failed["tool_name"]) == ("tool", "flight_search")
        assert (failed["level"], failed["error_type"]) == ("ERROR", "error")
        assert failed["status_message"] == "gen_ai.tool.status=error"
        fine = by_name.loc["hotel_search"]
        assert fine["level"] != "ERROR" and pd.isna(fine["error_type"])
        assert set(obs["agent"]) == {"trip_desk"}
        assert schema.traces_from_observations(obs)["n_errors"].tolist() == [1]


def test_failed_when_is_extended_and_checked(tmp_path):
    """A team's own attribute joins the defaults; a value that is no list is refused by name."""
    path = tmp_path / "conv.yaml"
    path.write_text("failed_when:\n  app.outcome: [Failed]\n")
    mine = conv.load(path)
    assert mine.failed_when["app.outcome"] == {"failed"}
    assert mine.failed_when["gen_ai.tool.status"] == {"error"}
    rows = [_span("t", "a", "lookup", **{"attr:app.outcome": "FAILED"}),
            _span("t", "b", "other", "a", **{"attr:app.outcome": "ok"})]
    obs = mine.observations(_raw(rows)).set_index("name")
    assert obs.loc["lookup", "level"] == "ERROR"
    assert obs.loc["lookup", "status_message"] == "app.outcome=FAILED"
    assert obs.loc["other", "level"] != "ERROR"
    path.write_text("failed_when:\n  app.outcome: failed\n")
    with pytest.raises(ConfigError, match="failed_when.app.outcome"):
        conv.load(path)


def test_openllmetry_spans_map_agent_tool_model_tokens_and_timeout_on_both_paths():
    """OpenLLMetry's decorated spans say their kind only in ``traceloop.span.kind`` (Langfuse
    keeps them as plain spans, its LLM call a generation by its model): the workflow is the
    agent, a ``.tool`` span the tool under its entity name, the time-out the tool's."""
    for obs in _both_paths(openllmetry, seed=4):
        by_name = obs.set_index("name")
        assert set(obs["agent"]) == {"order_support"}
        assert set(obs["user_id"]) == {"u-9"} and set(obs["session_id"]) == {"chat-9"}
        assert by_name.loc["lookup_order.tool", "type"] == "tool"
        assert by_name.loc["lookup_order.tool", "tool_name"] == "lookup_order"
        assert by_name.loc["lookup_order.tool", "error_type"] == "timeout"
        assert by_name.loc["triage.agent", "type"] == "agent"
        chat = by_name.loc["openai.chat"]
        assert (chat["type"], chat["model"]) == ("generation", "gpt-4o-mini")
        assert (chat["input_tokens"], chat["output_tokens"], chat["total_tokens"]) == \
            (900, 70, 970)
    # the LLM call's name is no agent's, when it is all a trace holds
    rows = [_span("l", "a", "openai.chat", **{"attr:llm.request.type": "chat",
                                               "res:service.name": "quick-replies"})]
    assert _agents(rows) == {"l": "quick-replies"}


def test_categorical_labels_and_ratings_of_several_judges_in_one_pull():
    """Words and numbers from several judges in one frame, with names no signal reads: each
    row keeps its own name's signal, scale and category."""
    t = pd.Timestamp("2026-11-02T10:00:00Z")
    scores = pd.DataFrame({
        "trace_id": [f"t{i}" for i in range(8)], "observation_id": [None] * 8,
        "timestamp": t,
        "name": ["groundedness", "faithfulness", "tone", "faithfulness", "groundedness",
                 "hallucination", "tone", "faithfulness"],
        "value": [float("nan"), 1.0, 0.3, 5.0, float("nan"), 0.4, 0.9, 3.0],
        "string_value": ["grounded", None, None, None, "needs review", None, None, None],
        "data_type": ["CATEGORICAL", "NUMERIC", "NUMERIC", "NUMERIC", "CATEGORICAL",
                      "NUMERIC", "NUMERIC", "NUMERIC"]})
    got = conv.load().score_values(scores)
    assert dict(zip(got["trace_id"], zip(got["signal"], got["value"]))) == {
        "t0": ("groundedness", 1.0), "t1": ("groundedness", 0.0),
        "t3": ("groundedness", 1.0), "t5": ("hallucination", 0.4),
        "t7": ("groundedness", 0.5)}
    assert got.attrs["unmapped_names"] == ["tone"]
    assert got.attrs["unmapped_categories"] == {("groundedness", "needs review"): 1}
    assert got.attrs["rescaled"] == {"faithfulness": (1.0, 5.0)}
