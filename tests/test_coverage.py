"""Mapping coverage of a pull (``conventions.coverage``): the shares of traces whose agent,
model, prompt and tool are unknown, and the notes the report shows about them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.sources import conventions as conv


def _obs(rows: list[dict]) -> pd.DataFrame:
    cols = ["trace_id", "type", "agent", "model", "prompt_name", "tool_name"]
    return pd.DataFrame(rows, columns=cols).astype("string")


def _by_frame_copies(obs: pd.DataFrame) -> dict[str, float]:
    """The shares computed the plain way: group and filter copies of the frame."""
    n = obs["trace_id"].nunique()
    agent = obs.groupby("trace_id", sort=False)["agent"].first().astype(str).eq("unknown")
    types = obs["type"].astype(str)
    gens = obs[types.isin(["generation", "embedding"]).to_numpy()]
    tools = obs[types.eq("tool").to_numpy()]
    return {"agent": float(agent.mean()),
            "model": 1.0 - gens.loc[gens["model"].notna(), "trace_id"].nunique() / n,
            "prompt": 1.0 - gens.loc[gens["prompt_name"].notna(), "trace_id"].nunique() / n,
            "tool": 1.0 - tools.loc[tools["tool_name"].notna(), "trace_id"].nunique() / n}


def test_shares_of_a_small_pull() -> None:
    obs = _obs([
        # t1: agent named on its second observation only; model, prompt and a tool known
        {"trace_id": "t1", "type": "span", "agent": None},
        {"trace_id": "t1", "type": "generation", "agent": "support", "model": "gpt-4o",
         "prompt_name": "answer"},
        {"trace_id": "t1", "type": "tool", "agent": "support", "tool_name": "search"},
        # t2: agent unknown first, a named one later (the first one counts); an embedding
        # with a model, a tool without a name
        {"trace_id": "t2", "type": "span", "agent": "unknown"},
        {"trace_id": "t2", "type": "embedding", "agent": "support", "model": "embed-3"},
        {"trace_id": "t2", "type": "tool", "agent": "support"},
        # t3: no agent at all, a generation without a model
        {"trace_id": "t3", "type": "generation"},
        # rows without a trace id are no trace
        {"trace_id": None, "type": "generation", "agent": "unknown", "model": "m"},
        # t4: unknown agent, a tool named but typed as a span (not a tool call)
        {"trace_id": "t4", "type": "span", "agent": "unknown", "tool_name": "search"},
    ])
    cov = conv.coverage(obs)
    assert cov.traces == 4
    assert cov.unknown == {"agent": 0.5, "model": 0.5, "prompt": 0.75, "tool": 0.75}
    assert cov.unknown == _by_frame_copies(obs)
    assert any(note.startswith("agent unknown on 50% of traces") for note in cov.notes)
    assert not any("no generation" in note or "no tool call" in note for note in cov.notes)


def test_notes_for_pulls_without_generations_tools_or_prompts() -> None:
    spans = _obs([{"trace_id": "a", "type": "span", "agent": "x"},
                  {"trace_id": "b", "type": "span", "agent": "y"}])
    cov = conv.coverage(spans)
    assert cov.unknown == {"agent": 0.0, "model": 1.0, "prompt": 1.0, "tool": 1.0}
    assert any(n.startswith("no generation (LLM call) found") for n in cov.notes)
    assert any(n.startswith("no tool call found") for n in cov.notes)
    assert not any(n.startswith("no prompt name") for n in cov.notes)

    no_prompt = _obs([{"trace_id": "a", "type": "generation", "agent": "x", "model": "m"}])
    notes = conv.coverage(no_prompt).notes
    assert any(n.startswith("no prompt name or version on any generation") for n in notes)
    assert not any(n.startswith("model unknown") for n in notes)


def test_cost_on_observations_that_are_not_model_calls_is_said_not_counted() -> None:
    """An agent span carrying the usage of the model calls under it (as Strands Agents' spans
    do) is priced by Langfuse too; the report counts the model calls and says what it left."""
    obs = _obs([{"trace_id": "a", "type": "agent", "agent": "travel"},
                {"trace_id": "a", "type": "generation", "agent": "travel", "model": "m"},
                {"trace_id": "a", "type": "generation", "agent": "travel", "model": "m"},
                # a trace without model calls: its cost is its spans' and is counted
                {"trace_id": "b", "type": "span", "agent": "legacy"}])
    obs["cost_usd"] = [0.30, 0.10, 0.20, 0.05]
    notes = [n for n in conv.coverage(obs).notes if "other than model calls" in n]
    assert notes == ["$0.30 the source priced on 1 observation other than model calls, in "
                     "the traces read (the window and the days it is judged against), is not "
                     "counted: agent and span observations on which some frameworks repeat their "
                     "model calls' usage; cost counts the model calls, so it can read below the "
                     "source's own total"]
    obs.loc[0, "cost_usd"] = 0.0
    assert not [n for n in conv.coverage(obs).notes if "other than model calls" in n]


def test_empty_pull_has_no_traces() -> None:
    cov = conv.coverage(_obs([]))
    assert (cov.traces, cov.unknown, cov.notes) == (0, {}, [])
    only_orphans = _obs([{"trace_id": None, "type": "span", "agent": "x"}])
    assert conv.coverage(only_orphans).traces == 0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_shares_match_the_frame_copies_on_random_pulls(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 3000

    def pick(values: list, p_missing: float) -> list:
        out = rng.choice(np.asarray(values, dtype=object), n)
        out[rng.random(n) < p_missing] = None
        return out.tolist()

    obs = _obs([dict(zip(["trace_id", "type", "agent", "model", "prompt_name", "tool_name"], r))
                for r in zip(pick([f"t{i}" for i in range(400)], 0.01),
                             pick(["span", "generation", "embedding", "tool", "event"], 0.02),
                             pick(["a", "b", "unknown"], 0.4), pick(["m1", "m2"], 0.7),
                             pick(["p"], 0.8), pick(["search", "fetch"], 0.6))])
    assert conv.coverage(obs).unknown == _by_frame_copies(obs)
