"""Blind acceptance check: the daily report on an independent Langfuse project (prints, never
asserts).

The data come from ``bench/blind_data.py`` (``--data sdk``, the default) or
``bench/blind_frameworks.py`` (``--data frameworks``: other frameworks' instrumentation) or
``bench/blind_gateways.py`` (``--data gateways``: LiteLLM, Langfuse JS SDK, LlamaIndex) or
``bench/blind_agents.py`` (``--data agents``: OpenAI Agents SDK, CrewAI, Google ADK, Langfuse
Python SDK v3, judges with score configs) or ``bench/blind_stacks.py`` (``--data stacks``: Mastra,
Haystack, smolagents, Semantic Kernel; a Tokyo day) or ``bench/blind_lowcode.py`` (``--data
lowcode``: Dify, Flowise, Langfuse Python SDK v2, LangChain's CallbackHandler) or
``bench/blind_telemetry.py`` (``--data telemetry``: OpenLLMetry, Strands Agents, AutoGen, Langfuse
Python SDK v3, Langfuse's evaluator traces and SDK experiments) or ``bench/blind_sessions.py``
(``--data sessions``: Agno and DSPy through OpenInference, LangGraph JS with Langfuse's JS
CallbackHandler, a multi-turn chat on the Langfuse Python SDK v3 with sessions), all
written from public documentation without reading the detectors. Each dataset is 30 days of four agents served through the Langfuse contract
double and read by the real Langfuse source; the daily report is built for a day with the 7
days before it, as a scheduled ``workbench report daily`` would.

1. quiet days (no incident): every alert the report would send is a false alert, listed;
2. each incident (timeout surge, cost spike, hallucination spike) at 2x, 3x and 5x, judged on
   its day: alerted or not, the top suspect against the true cause, the hours from the
   incident's start to the finding's window start, how many hours after it began an hourly
   ``workbench check`` first alerted on it, and what an oracle that knows the injected
   window sees (the excess in the generator's own truth), so a miss can be told from an
   undetectable change;
3. what the report says about coverage and unmapped fields, and on each quiet day its banner
   and what it could not judge or only noted (info findings, never alerted).

    python bench/bench_blind.py [--quick] [--magnitudes 2,3,5,10] [--data sdk|frameworks|gateways|agents|stacks|lowcode|telemetry|sessions]
                                [--volume 0.1] [--quiet-days 23] [--quiet-seed 102] [--hourly 6]
    # --quick: 2x, 5x, 5 quiet days; --volume: that many times each dataset's usual traffic
    # (0.1: a small team's ~100-150 traces a day), quiet and incident projects alike;
    # --quiet-days: judge that many quiet days (at most 23: the project's 30 days less the
    # first day's baseline); --quiet-seed: another quiet project; --magnitudes none: quiet only
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

import blind_data as bd  # noqa: E402
from workbench.analysis import detect_all, units_for  # noqa: E402
from workbench.reports import daily  # noqa: E402
from workbench.sources.window import pull_window  # noqa: E402

END_DAY = "2026-11-29"
QUIET_SEED = 101
PROJECT_DAYS = 30  # each generated project's length
BASELINE_DAYS = 7  # a report judges its day on the days before it
#: each dataset's incidents (runbook, day, start hour UTC)
DATASETS = {
    "sdk": ("blind_data", (("timeout_surge", "2026-11-20", 14), ("cost_spike", "2026-11-22", 10),
                           ("hallucination_spike", "2026-11-26", 9))),
    "frameworks": ("blind_frameworks", (("timeout_surge", "2026-11-19", 16),
                                        ("cost_spike", "2026-11-23", 15),
                                        ("hallucination_spike", "2026-11-25", 14))),
    "gateways": ("blind_gateways", (("timeout_surge", "2026-11-18", 10),
                                    ("cost_spike", "2026-11-24", 8),
                                    ("hallucination_spike", "2026-11-26", 11))),
    "agents": ("blind_agents", (("timeout_surge", "2026-11-17", 15),
                                ("cost_spike", "2026-11-19", 16),
                                ("hallucination_spike", "2026-11-24", 14))),
    # a Tokyo product: its office hours are 00-09 UTC
    "stacks": ("blind_stacks", (("timeout_surge", "2026-11-18", 2),
                                ("cost_spike", "2026-11-20", 1),
                                ("hallucination_spike", "2026-11-25", 3))),
    # Dify, Flowise, the Langfuse Python SDK v2 and LangChain; a European working day
    "lowcode": ("blind_lowcode", (("timeout_surge", "2026-11-19", 10),
                                  ("cost_spike", "2026-11-24", 13),
                                  ("hallucination_spike", "2026-11-26", 9))),
    # OpenLLMetry, Strands, AutoGen, Langfuse SDK v3 and Langfuse's own traces; US East hours
    "telemetry": ("blind_telemetry", (("timeout_surge", "2026-11-18", 15),
                                      ("cost_spike", "2026-11-20", 16),
                                      ("hallucination_spike", "2026-11-25", 15))),
    # Agno, DSPy, LangGraph JS and a multi-turn chat with sessions; a European working day
    "sessions": ("blind_sessions", (("timeout_surge", "2026-11-16", 10),
                                    ("cost_spike", "2026-11-19", 13),
                                    ("hallucination_spike", "2026-11-26", 10))),
}
INCIDENTS = DATASETS["sdk"][1]
H = pd.Timedelta(hours=1)
ALERTED = ("warning", "critical", "page")


def _traffic(gen: Any, factor: float) -> dict[str, float]:
    """The keyword asking generator module ``gen`` for ``factor`` times its usual traffic:
    ``weekday_traces`` where the generator takes a day's total, else ``volume``."""
    if "weekday_traces" in inspect.signature(gen.generate).parameters:
        return {"weekday_traces": gen.WEEKDAY_TRACES * factor}
    return {"volume": factor}


def _reports(data: bd.BlindData, days: list[str], frames: bool = False
             ) -> dict[str, Any]:
    """Each day's daily report; with ``frames``, also the frames of the day and the eight
    days before it, for hourly checks (a check early in the day looks back into the day
    before, and judges that against the seven days before it), under ``"<day> frames"``."""
    out = {}
    with data.double() as dbl, tempfile.TemporaryDirectory() as cache:
        for day in days:
            t0 = time.perf_counter()
            out[day] = daily.build(day, dbl.source(cache_dir=cache), days=BASELINE_DAYS,
                                   alert_days=1, prometheus=False)
            print(f"  report {day}: {time.perf_counter() - t0:.1f} s", flush=True)
            if frames:
                end = pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1)
                out[f"{day} frames"] = pull_window(dbl.source(cache_dir=cache),
                                                   end - pd.Timedelta(days=BASELINE_DAYS + 2),
                                                   end)
    return out


def _banner(rep: Any) -> str:
    """The verdict banner of the report's HTML header, as text."""
    found = re.search(r"<div class='(wb-\w+)'>(.*?)</div>", rep.header_html(), re.S)
    if found is None:
        return "-"
    shades = {"wb-ok": "green", "wb-partial": "amber", "wb-degraded": "red",
              "wb-alert": "red alert", "wb-warning": "amber alert"}
    shade = shades.get(found.group(1), found.group(1))
    return f"[{shade}] " + re.sub(r"<[^>]+>", "", found.group(2))


def _on_day(rep: Any, f: Any) -> bool:
    return f.end > rep.date


def _agent(f: Any) -> str:
    return f.labels.get("agent", "-")


def _matches(label: bd.Label, s: Any) -> bool:
    """The suspect names the true cause: same dimension kind and value (a model's dated
    snapshot counts as the model), inside the same agent or prompt when it says."""
    dim = s.dimension.lower()
    kind = {"tool": "tool", "model": "model", "prompt_version": "prompt"}[label.cause_dimension]
    if kind not in dim:
        return False
    value = str(s.value)
    if label.cause_dimension == "model":
        ok = value == label.cause_value or (value.startswith(label.cause_value + "-20"))
    else:
        ok = value == label.cause_value
    within = {k: v for k, v in s.within.items()}
    for k, v in label.within.items():
        if k in within and within[k] != v:
            return False
    return ok


def _oracle(data: bd.BlindData, label: bd.Label) -> str:
    """What the injected window holds against the same agent's 7 days before, from truth."""
    t = data.truth
    mine = t[t["agent"] == label.agent]
    win = mine[(mine["start"] >= label.start) & (mine["start"] < label.end)]
    base = mine[(mine["start"] >= label.start.floor("D") - pd.Timedelta(days=BASELINE_DAYS))
                & (mine["start"] < label.start.floor("D"))]
    if label.runbook == "timeout_surge":
        k, n, p = int(win["timeout"].sum()), len(win), float(base["timeout"].mean())
        tail = stats.binom.sf(k - 1, n, p) if n else float("nan")
        return f"{k}/{n} traces with a tool timeout vs {n * p:.1f} expected (p={tail:.1g})"
    if label.runbook == "cost_spike":
        r = win["cost"].mean() / base["cost"].mean()
        return f"{len(win)} traces, cost/request {r:.2f}x the week before"
    s = win[win["scored"]]
    k, n = int(s["bad"].sum()), len(s)
    bs = base[base["scored"]]
    p = float(bs["bad"].mean())
    tail = stats.binom.sf(k - 1, n, p) if n else float("nan")
    return f"{k}/{n} judged hallucinated vs {n * p:.1f} expected (p={tail:.1g})"


def hourly_delay(rep: Any, frames: Any, label: bd.Label, hours: int) -> float | None:
    """Hours from the incident's start to the first scheduled check that alerts on it: one
    run at the end of each hour after it began, over its runbook's look-back, seeing only the
    traces begun and the scores recorded before the run (the report's frames cut at the run's
    time, as ``workbench check`` would pull them then). None when none of ``hours`` runs did."""
    rb = rep.runbooks[label.runbook]
    books = {label.runbook: rb}
    t, o, s = frames.traces, frames.observations, frames.scores
    for k in range(1, hours + 1):
        at = label.start.floor("h") + k * H
        lo = at - rb.lookback
        tt, oo = t[t["start_time"] < at], o[o["start_time"] < at]
        ss = s[s["timestamp"] < at]
        units = units_for(books, tt, oo, ss, lo)
        for f in detect_all(books, tt, oo, ss, lo, at, units=units):
            if (f.status == "firing" and f.confirmed and f.severity in ALERTED
                    and _agent(f) in (label.agent, "-") and f.start < label.end
                    and label.start < f.end):
                return (at - label.start) / H
    return None


def _suspect_text(f: Any | None) -> str:
    if f is None or not f.suspects:
        return "-"
    return f.suspects[0].label


def incident_rows(data: bd.BlindData, reps: dict[str, Any], mag: float,
                  check_hours: int = 0) -> list[dict[str, Any]]:
    rows = []
    for label in data.labels:
        rep = reps[f"{label.start:%Y-%m-%d}"]
        alerts = rep.alert_findings()
        same = [f for f in alerts if f.runbook == label.runbook]
        # a finding without an agent label (a new prompt version, a whole-day check) counts
        hit = [f for f in same if _agent(f) in (label.agent, "-")]
        # the incident day's own (an info finding of an earlier day in the window is not it)
        firing = [f for f in rep.findings if f.runbook == label.runbook and f.status == "firing"
                  and _agent(f) in (label.agent, "-") and _on_day(rep, f)]
        # the hourly finding first: a whole-day check starts at midnight by construction
        hourly = [f for f in hit or firing if not f.signal.startswith("daily_")]
        lead = (hourly or hit or firing or [None])[0]
        rank = None
        if lead is not None:
            rank = next((i + 1 for i, s in enumerate(lead.suspects) if _matches(label, s)), None)
        others = [f for f in alerts if f not in hit]
        delay = hourly_delay(rep, reps[f"{label.start:%Y-%m-%d} frames"], label,
                             check_hours) if check_hours else None
        rows.append({
            "magnitude": f"{mag:g}x", "runbook": label.runbook, "agent": label.agent,
            "window": f"{label.start:%m-%d %H:%M}-{label.end:%H:%M}",
            "alerted": "yes" if hit else ("other agent" if same else "no"),
            "signals": ",".join(sorted({f.signal + ("" if _agent(f) != "-" else "(no agent)")
                                        for f in hit})) or "-",
            "top suspect": _suspect_text(lead), "true cause": label.cause,
            "cause rank": rank or "-",
            "hours to start": (f"{(lead.start - label.start) / pd.Timedelta(hours=1):+.0f}"
                               if lead is not None else "-"),
            "hourly check": ("-" if not check_hours else f"+{delay:.0f} h" if delay is not None
                             else f"none in {check_hours} h"),
            "oracle": _oracle(data, label),
            "_suspects": "; ".join(f"{x.label} ({x.contribution:.0%})"
                                   for x in (lead.suspects[:5] if lead is not None else [])),
            "_others": others, "_insufficient": [f for f in rep.findings
                                                 if f.runbook == label.runbook
                                                 and f.status != "firing" and _on_day(rep, f)],
            "_info": [f for f in rep.findings if f.runbook == label.runbook
                      and f.status == "firing" and f not in alerts and _on_day(rep, f)],
        })
    return rows


def _print_table(rows: list[dict[str, Any]], cols: list[str]) -> None:
    print("| " + " | ".join(cols) + " |")
    print("|" + "|".join("---" for _ in cols) + "|")
    for r in rows:
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")


def mapping(data: bd.BlindData, rep: Any) -> pd.DataFrame:
    """The report's traces of its window against the generator's truth, per true agent: which
    agent the report named, traces, cost, timeouts (a tool timed out) against the source's
    trace status, and answers a judge called bad against the traces the report flags
    hallucinated or ungrounded (``Correctness`` feeds no signal, so order/triage stay 0)."""
    t = data.truth.set_index("trace_id")
    r = rep.window(rep.traces).set_index("trace_id")
    j = t.join(r[["agent", "status", "cost_usd"]].rename(columns={"agent": "reported"}),
               how="inner")
    units = rep.units.set_index("trace_id")
    j = j.join(units[["hallucinated", "ungrounded"]], how="left")
    j["flagged"] = (j["hallucinated"].fillna(0) > 0) | (j["ungrounded"].fillna(0) > 0)
    g = j.groupby("agent")
    return pd.DataFrame({
        "reported as": g["reported"].agg(lambda s: ", ".join(sorted(set(s)))),
        "traces": g.size(),
        "truth cost $": g["cost"].sum().round(2), "report cost $": g["cost_usd"].sum().round(2),
        "truth tool timeouts": g["timeout"].sum(),
        "report status=timeout": g["status"].agg(lambda s: int((s == "timeout").sum())),
        "truth errors": g["error"].sum(),
        "report status=error": g["status"].agg(lambda s: int((s == "error").sum())),
        "truth > 8 s": g["duration_s"].agg(lambda s: int((s > 8).sum())),
        "truth judged bad": g["bad"].agg(lambda s: int((s == True).sum())),  # noqa: E712
        "report hallucinated/ungrounded": g["flagged"].sum(),
    })


def _coverage(rep: Any) -> list[str]:
    cov = rep.coverage.to_dict()
    unknown = ", ".join(f"{k} {v:.0%}" for k, v in cov.get("unknown", {}).items())
    return [f"unknown share per trace: {unknown}"] + list(cov.get("notes", [])) + list(rep.notes)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--data", choices=sorted(DATASETS), default="sdk",
                    help="sdk: blind_data (default); frameworks: blind_frameworks; "
                         "gateways: blind_gateways; agents: blind_agents; "
                         "stacks: blind_stacks; lowcode: blind_lowcode; "
                         "telemetry: blind_telemetry; sessions: blind_sessions")
    ap.add_argument("--magnitudes", default=None,
                    help="comma-separated, default 2,3,5,10 (10: a sanity check beyond the aim)")
    ap.add_argument("--quiet-days", type=int, default=None,
                    help=f"quiet days judged (default 10, 5 with --quick; at most "
                         f"{PROJECT_DAYS - BASELINE_DAYS})")
    ap.add_argument("--quiet-seed", type=int, default=QUIET_SEED,
                    help=f"the quiet project's seed (default {QUIET_SEED})")
    ap.add_argument("--hourly", type=int, default=6,
                    help="on each incident day, run an hourly check at the end of each of the "
                         "first N hours after the incident began and say which first alerted "
                         "(default 6; 0: none)")
    ap.add_argument("--volume", type=float, default=1.0,
                    help="traffic as a multiple of the dataset's usual (default 1.0; 0.1: a "
                         "tenth)")
    args = ap.parse_args()
    if not args.volume > 0:
        ap.error(f"--volume must be > 0, got {args.volume:g}")
    module, incidents_at = DATASETS[args.data]
    gen = importlib.import_module(module)
    traffic = _traffic(gen, args.volume)
    given = args.magnitudes or ("2,5" if args.quick else "2,3,5,10")
    mags = () if given == "none" else tuple(float(m) for m in given.split(","))
    n_days = args.quiet_days or (5 if args.quick else 10)
    if not 1 <= n_days <= PROJECT_DAYS - BASELINE_DAYS:
        ap.error(f"--quiet-days must be 1..{PROJECT_DAYS - BASELINE_DAYS} (a project holds "
                 f"{PROJECT_DAYS} days, the first judged needs {BASELINE_DAYS} before it), "
                 f"got {n_days}")
    quiet_days = [f"{d:%Y-%m-%d}" for d in pd.date_range(end=END_DAY, periods=n_days)]

    notes: dict[str, None] = {}
    print(f"blind check on {args.data} ({module}), volume {args.volume:g}x the usual traffic",
          flush=True)
    print(f"quiet project (seed {args.quiet_seed}), judged {quiet_days[0]}..{quiet_days[-1]}",
          flush=True)
    t0 = time.perf_counter()
    quiet = gen.generate(seed=args.quiet_seed, end_day=END_DAY, days=PROJECT_DAYS, **traffic)
    print(f"  generated {len(quiet.truth):,} traces, {len(quiet.spans):,} spans, "
          f"{len(quiet.scores):,} scores in {time.perf_counter() - t0:.0f} s", flush=True)
    qreps = _reports(quiet, quiet_days)
    mapped = mapping(quiet, qreps[quiet_days[-1]])
    false_alerts = []
    said: dict[str, list[str]] = {}
    for day, rep in qreps.items():
        said[day] = [f"banner: {_banner(rep)}"] + [
            f"{'not judged' if f.status != 'firing' else 'info, not alerted'}: "
            f"{f.runbook}/{f.signal}: {f.summary}" for f in rep.findings
            if _on_day(rep, f) and f not in rep.alert_findings()]
        for f in rep.alert_findings():
            false_alerts.append({"day": day, "runbook": f.runbook, "signal": f.signal,
                                 "severity": f.severity, "agent": _agent(f),
                                 "window": f"{f.start:%H:%M}-{f.end:%H:%M}",
                                 "summary": f.summary})
        for n in _coverage(rep):
            notes.setdefault(n)

    rows: list[dict[str, Any]] = []
    for mag in mags:
        seed = 200 + int(mag * 10)
        incidents = [bd.Incident(rb, day, hour, mag) for rb, day, hour in incidents_at]
        print(f"incident project {mag:g}x (seed {seed})", flush=True)
        data = gen.generate(seed=seed, end_day=END_DAY, days=PROJECT_DAYS, incidents=incidents,
                            **traffic)
        reps = _reports(data, sorted({d for _, d, _ in incidents_at}), frames=args.hourly > 0)
        rows += incident_rows(data, reps, mag, args.hourly)
        for key, rep in reps.items():
            for n in ([] if key.endswith(" frames") else _coverage(rep)):
                notes.setdefault(n)

    print("\n## Incidents, judged on their day with the 7 days before\n")
    _print_table(rows, ["magnitude", "runbook", "agent", "window", "alerted", "signals",
                        "top suspect", "true cause", "cause rank", "hours to start",
                        "hourly check", "oracle"])
    print("\n## Suspects of each incident's leading finding\n")
    for r in rows:
        print(f"- {r['magnitude']} {r['runbook']}: {r['_suspects'] or '-'}")
    print("\n## Other alerts on incident days\n")
    for r in rows:
        for f in r["_others"]:
            print(f"- {r['magnitude']} {r['runbook']} day: {f.runbook}/{f.signal} "
                  f"[{f.severity}] agent={_agent(f)} {f.start:%H:%M}-{f.end:%H:%M}: "
                  f"{f.summary}")
        for f in r["_insufficient"]:
            print(f"- {r['magnitude']} {r['runbook']} day, not judged: {f.signal}: {f.summary}")
        for f in r["_info"]:
            print(f"- {r['magnitude']} {r['runbook']} day, info (not alerted): {f.signal} "
                  f"agent={_agent(f)} {f.start:%H:%M}-{f.end:%H:%M}: {f.summary}")
    n_quiet = len(quiet_days)
    print(f"\n## False alerts on {n_quiet} quiet days: {len(false_alerts)} "
          f"on {len({a['day'] for a in false_alerts})} days\n")
    for a in false_alerts:
        print(f"- {a['day']} {a['runbook']}/{a['signal']} [{a['severity']}] agent={a['agent']} "
              f"{a['window']}: {a['summary']}")
    print(f"\n## What the {n_quiet} quiet reports said besides alerts\n")
    for day, lines in said.items():
        print(f"- {day}")
        for line in lines:
            print(f"  - {line}")
    print(f"\n## Mapping: the quiet report of {quiet_days[-1]} (7 days) against the truth\n")
    print(mapped.to_string())
    print("\n## What the reports said about coverage and mapping\n")
    for n in notes:
        print(f"- {n}")


if __name__ == "__main__":
    main()
