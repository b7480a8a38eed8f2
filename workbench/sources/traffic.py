"""Which pulled traces are the application's traffic, decided once for every reader of a window.

A Langfuse project holds more than the application's requests. Langfuse records each run of its
LLM-as-a-judge evaluators as a trace of its own ("Execute evaluator: <name>", environment
``langfuse-llm-as-a-judge``, with the judge model's tokens and cost), and the SDKs' experiments
over a dataset (``sdk-experiment``) may try a worse prompt on purpose. Judged as traffic they are
an agent nobody runs, spend that is not cost per request, and a hallucination spike nobody
shipped. The conventions' ``not_traffic`` environments are set aside (:func:`application_traffic`)
in the one pull of a window the daily report, the scheduled check and the runbook notebook share
(:func:`workbench.sources.window.pull_window`), and what was set aside is kept on the frames for
the notes (:func:`set_aside_note`): left out, never silently.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from workbench.sources import conventions as conv

__all__ = ["SET_ASIDE", "application_traffic", "set_aside", "set_aside_note"]

#: frame attribute: {environment: [traces, cost in USD]} set aside from the pull
SET_ASIDE = "workbench.set_aside"


def application_traffic(observations: pd.DataFrame, traces: pd.DataFrame,
                        scores: pd.DataFrame, conventions: conv.Conventions | None = None
                        ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``observations``, ``traces`` and ``scores`` without the traces of the conventions'
    ``not_traffic`` environments (and the scores of those traces). Each frame keeps its
    attributes (a partial pull stays marked) and the observations and traces carry what was
    set aside (:func:`set_aside`)."""
    pattern = (conventions or conv.load()).not_traffic
    if pattern is None:
        return observations, traces, scores
    envs = _matching(observations, pattern) | _matching(traces, pattern)
    if not envs:
        return observations, traces, scores
    gone = observations["environment"].isin(envs).to_numpy()
    t_gone = traces["environment"].isin(envs).to_numpy()
    pairs = pd.concat([observations.loc[gone, ["environment", "trace_id"]],
                       traces.loc[t_gone, ["environment", "trace_id"]]]).drop_duplicates()
    spent = observations.loc[gone, ["environment", "cost_usd"]].groupby(
        "environment", observed=True)["cost_usd"].sum()
    info = {str(env): [int(n), float(spent.get(env, 0.0))]
            for env, n in pairs.groupby("environment", observed=True).size().items()}
    ids = pairs["trace_id"].unique()
    obs = _kept(observations, ~gone, info)
    trs = _kept(traces, ~t_gone, info)
    sc = scores
    if len(scores):
        drop = scores["trace_id"].isin(ids).to_numpy()
        if "environment" in scores:
            drop = drop | scores["environment"].isin(envs).to_numpy()
        sc = _kept(scores, ~drop, None) if drop.any() else scores
    return obs, trs, sc


def set_aside(frame: pd.DataFrame) -> dict[str, list[float]]:
    """What :func:`application_traffic` set aside from ``frame``'s pull: {environment:
    [traces, cost in USD]}; empty when nothing was."""
    return dict(frame.attrs.get(SET_ASIDE) or {})


def set_aside_note(frame: pd.DataFrame) -> str | None:
    """One line for a report's notes on what was set aside, or None. It counts the whole pull
    (the window and the days it is judged against), and says so: beside a three-hour check of
    17 traces, "3,138 traces left out" alone reads as 3,138 evaluator runs in those hours."""
    info = set_aside(frame)
    if not info:
        return None
    n = sum(int(v[0]) for v in info.values())
    cost = sum(float(v[1]) for v in info.values())
    parts = ", ".join(f"{env} {int(v[0]):,}" for env, v in
                      sorted(info.items(), key=lambda kv: -kv[1][0]))
    spent = f", ${cost:,.2f} of spend" if cost > 0 else ""
    kept = int(frame["trace_id"].nunique()) if "trace_id" in frame else 0
    return (f"{n:,} of the {n + kept:,} traces read (the window and the days it is judged "
            f"against) left out as not the application's traffic ({parts}{spent}): "
            "Langfuse's own evaluator runs and experiments; change `not_traffic:` in the "
            f"conventions file ({conv.ENV_CONVENTIONS}) to judge them")


def _matching(frame: pd.DataFrame, pattern: re.Pattern[str]) -> set[str]:
    if not len(frame) or "environment" not in frame:
        return set()
    return {str(e) for e in frame["environment"].dropna().unique()
            if pattern.fullmatch(str(e))}


def _kept(frame: pd.DataFrame, keep: Any, info: dict[str, list[float]] | None
          ) -> pd.DataFrame:
    out = frame.loc[keep].reset_index(drop=True)
    out.attrs = dict(frame.attrs)
    if info is not None:
        out.attrs[SET_ASIDE] = info
    return out
