"""The facade a runbook notebook calls: one window, its baseline, the runbook, and every section.

``investigate("cost_spike", "local", start, end, data_dir=...)`` pulls the window ``[start, end)``
plus ``baseline_days`` before it (and a little after it, to see recovery), runs the runbook's
detectors, and returns an :class:`Investigation` whose methods give each section of the runbook
notebook: summary, signals against baseline, attribution, worst traces and their span trees, and
the runbook's checklists. Notebooks only call these, so the logic is tested without a kernel.

Attribution does not wait for a detector to fire: a window an engineer points at is judged against
its baseline on the runbook's primary signal, so a quiet or thin window still gets suspects (the
detectors' own verdict, possibly "insufficient data", is shown beside them).
"""

from __future__ import annotations

import html as _html
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench import runbooks as runbook_mod
from workbench import schema
from workbench.analysis import attribute, detect, severity_for, tool_sets
from workbench.errors import ConfigError
from workbench.findings import SEVERITIES, Finding
from workbench.runbooks import Runbook
from workbench.sources import TraceSource, incomplete_reason, open_trace_source, to_window

__all__ = ["PRIMARY", "SIGNALS", "Investigation", "Signal", "TraceWindow", "explore",
           "html_table", "investigate", "open_trace_source"]


@dataclass(frozen=True)
class Signal:
    """How a runbook signal is computed from units: which units, which column, how pooled."""

    units: str  # "traces" or a score name
    column: str
    how: str  # mean | per_hour | p95 | ratio:<denominator column>
    worst_by: str  # trace column that ranks the traces behind this signal


SIGNALS: Mapping[str, Signal] = {
    "cost_per_hour": Signal("traces", "cost", "per_hour", "cost_usd"),
    "cost_per_request": Signal("traces", "cost", "mean", "cost_usd"),
    "runaway_loop": Signal("traces", "runaway", "per_hour", "total_tokens"),
    "token_waste_ratio": Signal("traces", "waste", "ratio:tokens", "total_tokens"),
    "timeout_rate": Signal("traces", "timeout", "mean", "duration_s"),
    "near_timeout_share": Signal("traces", "near_timeout", "mean", "duration_s"),
    "latency_p95": Signal("traces", "duration_s", "p95", "duration_s"),
    "hallucination_rate": Signal("hallucination", "flag", "mean", "score"),
    "groundedness": Signal("groundedness", "score", "mean", "score"),
    "tool_call_validity": Signal("tool_call_valid", "score", "mean", "score"),
    "unexpected_refusal_rate": Signal("refusal", "score", "mean", "score"),
}

#: runbook -> the signal attribution explains (a per-unit rate, so traffic shifts are not blamed)
PRIMARY: Mapping[str, str] = {
    "cost_spike": "cost_per_request",
    "timeout_surge": "timeout_rate",
    "hallucination_spike": "hallucination_rate",
}

_CONTEXT = pd.Timedelta(hours=6)  # shown around the window in the signal charts
_SCORE_LAG = pd.Timedelta(hours=1)  # scores land minutes after their trace
_STYLE = """<style>
.wb-table { border-collapse: collapse; font-size: 13px; margin: 6px 0 14px 0; }
.wb-table th, .wb-table td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
.wb-sev-page, .wb-sev-critical { background: #fdecea; border-left: 6px solid #d62728; }
.wb-sev-warning { background: #fff4e5; border-left: 6px solid #ff7f0e; }
.wb-sev-info, .wb-sev-none { background: #eef7ee; border-left: 6px solid #2ca02c; }
[class^=wb-sev] { padding: 8px 12px; } .wb-checklist { list-style: none; padding-left: 6px; }
</style>"""


def _e(text: object) -> str:
    return _html.escape(str(text))


def html_table(df: pd.DataFrame) -> str:
    return _STYLE + df.to_html(escape=True, index=False, classes="wb-table", border=0,
                               na_rep="–", float_format=lambda x: f"{x:.4g}")


def _pool(units: pd.DataFrame, sig: Signal, hours: float) -> float:
    if units.empty:
        return float("nan")
    y = units[sig.column].astype("float64")
    if sig.how == "mean":
        return float(y.mean())
    if sig.how == "per_hour":
        return float(y.sum()) / hours if hours > 0 else float("nan")
    if sig.how == "p95":
        return float(y.quantile(0.95))
    den = float(units[sig.how.split(":", 1)[1]].astype("float64").sum())
    return float(y.sum()) / den if den > 0 else float("nan")


def _measure(spec: Mapping[str, Any], observed: float, baseline: float) -> float:
    """The number a signal's thresholds are written in: ratio, drop/rise, or the value itself."""
    compare, up = spec.get("compare", "ratio"), spec.get("direction", "up") == "up"
    ratio = observed / baseline if baseline > 0 else (np.inf if observed > 0 else np.nan)
    if "min_ratio_to_baseline" in spec and not ratio >= spec["min_ratio_to_baseline"]:
        return float("nan")
    if "min_value" in spec and not observed >= spec["min_value"]:
        return float("nan")
    if compare == "ratio":
        return ratio if up else (baseline / observed if observed > 0 else np.inf)
    if compare == "delta":
        return observed - baseline if up else baseline - observed
    return observed


def _units(traces: pd.DataFrame, observations: pd.DataFrame, runbook: Runbook | None
           ) -> pd.DataFrame:
    """Traces as attribution units: time, dimensions, the set of tools called, signal columns."""
    spec = runbook.spec if runbook is not None else {}
    u = traces.copy()
    u["time"] = u["start_time"]
    u["prompt_version"] = u["prompt_version"].astype("string")
    lookup = tool_sets(observations).to_dict() if len(observations) else {}
    u["tool_name"] = pd.Series([lookup.get(t, ()) for t in u["trace_id"].astype(str).tolist()],
                               index=u.index, dtype=object)
    tokens = u["total_tokens"].astype("float64").fillna(0.0)
    u["tokens"] = tokens
    u["cost"] = u["cost_usd"].astype("float64").fillna(0.0)
    u["waste"] = np.where(u["n_errors"].astype("float64").fillna(0) > 0, tokens, 0.0)
    u["timeout"] = (u["status"].astype(str) == "timeout").astype("float64")
    budget = spec.get("budget", {})
    near = float(budget.get("seconds", schema.TIMEOUT_BUDGET_S)) * \
        float(budget.get("warning_fraction", 0.75))
    u["near_timeout"] = (u["duration_s"] >= near).astype("float64")
    bounds = spec.get("signals", {}).get("runaway_loop", {}).get("bounds", {})
    runaway = pd.Series(False, index=u.index)
    if "max_generations" in bounds:
        runaway |= u["n_generations"].astype("float64").fillna(0) > bounds["max_generations"]
    if "max_total_tokens" in bounds:
        runaway |= tokens > bounds["max_total_tokens"]
    u["runaway"] = runaway.astype("float64")
    return u.reset_index(drop=True)


_FILTERS = ("agent", "model", "status")


@dataclass
class TraceWindow:
    """Traces and observations of one window, for tables, scatter plots and waterfalls."""

    source: str
    start: pd.Timestamp
    end: pd.Timestamp
    traces: pd.DataFrame
    observations: pd.DataFrame
    units: pd.DataFrame

    @classmethod
    def load(cls, src: TraceSource, start: pd.Timestamp, end: pd.Timestamp,
             runbook: Runbook | None = None) -> TraceWindow:
        obs = src.observations(start, end)
        if type(src).traces is TraceSource.traces:  # the base roll-up: reuse what was pulled
            traces = schema.traces_from_observations(obs)
        else:
            traces = src.traces(start, end)
        return cls(source=getattr(src, "name", "?"), start=start, end=end, traces=traces,
                   observations=obs, units=_units(traces, obs, runbook))

    def options(self, column: str) -> list[str]:
        """The values a filter on ``column`` can take in this window, sorted."""
        if column not in _FILTERS:
            raise ConfigError(f"unknown trace filter {column!r}; filters: {list(_FILTERS)}")
        return sorted(self.traces[column].dropna().astype(str).unique().tolist())

    def table(self, **filters: str | None) -> pd.DataFrame:
        """Traces matching ``agent``/``model``/``status`` (None or '' means any), slowest first."""
        t = self.traces
        for key, value in filters.items():
            if key not in _FILTERS:
                raise ConfigError(f"unknown trace filter {key!r}; filters: {list(_FILTERS)}")
            if value:
                if value not in self.options(key):
                    raise ConfigError(f"{key} {value!r} has no traces in this window; "
                                      f"known: {self.options(key)}")
                t = t[t[key].astype(str) == value]
        cols = ["trace_id", "start_time", "agent", "model", "status", "duration_s", "cost_usd",
                "total_tokens", "n_generations", "n_tool_calls", "n_errors"]
        return t.sort_values("duration_s", ascending=False)[cols].reset_index(drop=True)

    def spans(self, trace_id: str) -> pd.DataFrame:
        """The observations of one trace; a clear error for an id not in the window."""
        spans = self.observations[self.observations["trace_id"].astype(str) == str(trace_id)]
        if spans.empty:
            raise ConfigError(f"trace {trace_id!r} is not in the window "
                              f"{self.start} – {self.end}")
        return spans

    def waterfall(self, trace_id: str):
        from workbench.runbook_plots import waterfall_figure

        return waterfall_figure(self.spans(trace_id), title=f"Trace {trace_id}")

    def scatter(self, **filters: str | None):
        from workbench.runbook_plots import latency_cost_scatter

        return latency_cost_scatter(self.table(**filters))


def explore(source: str | TraceSource, start: Any, end: Any, *,
            data_dir: str | Path | None = None) -> TraceWindow:
    """The traces of ``[start, end)`` for the trace explorer."""
    t0, t1 = to_window(start, end)
    return TraceWindow.load(open_trace_source(source, data_dir), t0, t1)




@dataclass
class Investigation:
    """One runbook over one window: frames, units, detector findings, and section builders."""

    runbook: Runbook
    source: str
    start: pd.Timestamp
    end: pd.Timestamp
    baseline_start: pd.Timestamp
    view: TraceWindow
    scores: pd.DataFrame
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- units ------------------------------------------------------------------------------
    @property
    def units(self) -> pd.DataFrame:
        """Trace units of the whole pull (baseline, window, after) with signal columns."""
        return self.view.units

    def score_units(self, name: str) -> pd.DataFrame:
        """One unit per trace scored ``name``: its mean score, the trace's dimensions and time."""
        if name in self._cache:
            return self._cache[name]
        s = self.scores[(self.scores["name"].astype(str) == name) & self.scores["value"].notna()]
        per = s.groupby(s["trace_id"].astype(str))["value"].mean().rename("score")
        u = self.units.set_index(self.units["trace_id"].astype(str)).join(per, how="inner")
        threshold = float(self.runbook.spec.get("score_threshold", 0.5))
        u["flag"] = (u["score"] > threshold).astype("float64")
        self._cache[name] = u.reset_index(drop=True)
        return self._cache[name]

    def _units_for(self, sig: Signal) -> pd.DataFrame:
        return self.units if sig.units == "traces" else self.score_units(sig.units)

    def _split(self, u: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        t = u["time"]
        return (u[(t >= self.start) & (t < self.end)],
                u[(t >= self.baseline_start) & (t < self.start)])

    @property
    def signal_names(self) -> list[str]:
        """The runbook's signals this facade knows how to compute, in runbook order."""
        return [s for s in self.runbook.signals if s in SIGNALS]

    @property
    def primary(self) -> str:
        name = PRIMARY.get(self.runbook.name)
        if name is None:
            means = [s for s in self.signal_names if SIGNALS[s].how == "mean"]
            if not means:
                raise ConfigError(f"runbook {self.runbook.name!r} has no signal that "
                                  f"attribution can explain; known: {sorted(SIGNALS)}")
            name = means[0]
        return name

    # -- summary ------------------------------------------------------------------------------
    def signal_table(self) -> pd.DataFrame:
        """Per signal: window value, baseline value (both pooled), ratio and severity."""
        if "signal_table" in self._cache:
            return self._cache["signal_table"].copy()
        hours_w = (self.end - self.start) / pd.Timedelta(hours=1)
        hours_b = (self.start - self.baseline_start) / pd.Timedelta(hours=1)
        rows = []
        for name in self.signal_names:
            sig, spec = SIGNALS[name], self.runbook.signal(name)
            cur, base = self._split(self._units_for(sig))
            obs, ref = _pool(cur, sig, hours_w), _pool(base, sig, hours_b)
            sev = severity_for(_measure(spec, obs, ref), spec.get("thresholds", {}))
            rows.append({"signal": name, "unit": spec.get("unit", ""), "observed": obs,
                         "baseline": ref, "ratio": obs / ref if ref > 0 else np.nan,
                         "severity": sev or "ok", "volume": len(cur)})
        table = pd.DataFrame(rows, columns=["signal", "unit", "observed", "baseline", "ratio",
                                            "severity", "volume"])
        self._cache["signal_table"] = table
        return table.copy()

    @property
    def firing(self) -> list[Finding]:
        return [f for f in self.findings if f.status == "firing"]

    @property
    def severity(self) -> str:
        """The worst of the detectors' findings and the window's pooled signal verdicts."""
        sevs = [f.severity for f in self.firing]
        sevs += [s for s in self.signal_table()["severity"] if s in SEVERITIES]
        return max(sevs, key=SEVERITIES.index) if sevs else "none"

    def summary(self) -> dict[str, Any]:
        """What the summary section says, as data (used by the HTML and by tests)."""
        table = self.signal_table()
        primary = table.set_index("signal").loc[self.primary]
        top = self.suspects().head(1)
        return {
            "runbook": self.runbook.name, "title": self.runbook.title, "source": self.source,
            "start": self.start, "end": self.end, "baseline_start": self.baseline_start,
            "severity": self.severity, "primary_signal": self.primary,
            "observed": float(primary["observed"]), "baseline": float(primary["baseline"]),
            "firing": [f"{f.signal} ({f.severity})" for f in self.firing],
            "unjudged": [f.summary for f in self.findings if f.status != "firing"],
            "top_suspect": None if top.empty else
            f"{top['dimension'].iloc[0]}={top['value'].iloc[0]}",
            "traces_in_window": int(self._split(self.units)[0].shape[0]),
            "notes": list(self.notes),
        }

    def summary_html(self) -> str:
        s = self.summary()
        sev = s["severity"]
        fired = ", ".join(s["firing"]) or "no detector fired"
        lines = [_STYLE, f"<h1>{_e(s['title'])}</h1>",
                 f"<p>Window {s['start']:%Y-%m-%d %H:%M} – {s['end']:%Y-%m-%d %H:%M} UTC, "
                 f"baseline from {s['baseline_start']:%Y-%m-%d %H:%M}. Source "
                 f"<b>{_e(s['source'])}</b>, {s['traces_in_window']:,} traces in the window.</p>",
                 f"<div class='wb-sev-{_e(sev)}'><b>Severity: {_e(sev.upper())}</b>. "
                 f"Detectors: {_e(fired)}. {_e(s['primary_signal'])}: "
                 f"{s['observed']:.4g} against a baseline of {s['baseline']:.4g}.</div>"]
        if s["top_suspect"]:
            lines.append(f"<p data-top-suspect='{_e(s['top_suspect'])}'>Top suspect: "
                         f"<b>{_e(s['top_suspect'])}</b></p>")
        lines += [f"<p><i>{_e(n)}</i></p>" for n in s["unjudged"] + s["notes"]]
        lines.append(f"<p>{_e(self.runbook.spec.get('summary', ''))}</p>")
        return "\n".join(lines)

    def signal_table_html(self) -> str:
        return html_table(self.signal_table())

    def findings_table(self) -> pd.DataFrame:
        cols = ["severity", "status", "signal", "start", "end", "observed", "baseline", "summary"]
        return pd.DataFrame([{k: f.to_dict()[k] for k in cols} for f in self.findings],
                            columns=cols)

    def findings_html(self) -> str:
        if not self.findings:
            return "<p>The detectors returned nothing for this window.</p>"
        return html_table(self.findings_table())

    # -- signals over time --------------------------------------------------------------------
    def signal_series(self) -> pd.DataFrame:
        """Hourly value of each signal around the window, with its pooled baseline and the
        10th-90th percentile band of the baseline's hourly values."""
        bucket = self.runbook.bucket
        lo, hi = self.start - _CONTEXT, self.end + _CONTEXT
        hours = bucket / pd.Timedelta(hours=1)
        frames = []
        for name in self.signal_names:
            sig = SIGNALS[name]
            u = self._units_for(sig)
            b = u["time"].dt.floor(bucket)
            hourly = pd.Series({k: _pool(g, sig, hours) for k, g in u.groupby(b)},
                               dtype="float64")
            _, base = self._split(u)
            ref = _pool(base, sig, (self.start - self.baseline_start) / pd.Timedelta(hours=1))
            in_base = hourly[(hourly.index >= self.baseline_start) & (hourly.index < self.start)]
            shown = hourly[(hourly.index >= lo) & (hourly.index < hi)]
            frames.append(pd.DataFrame({
                "signal": name, "bucket": shown.index, "value": shown.to_numpy(),
                "baseline": ref, "band_lo": in_base.quantile(0.1) if len(in_base) else np.nan,
                "band_hi": in_base.quantile(0.9) if len(in_base) else np.nan,
                "unit": self.runbook.signal(name).get("unit", "")}))
        cols = ["signal", "bucket", "value", "baseline", "band_lo", "band_hi", "unit"]
        return pd.concat(frames, ignore_index=True)[cols] if frames else pd.DataFrame(columns=cols)

    def signals_figure(self):
        from workbench.runbook_plots import signals_figure

        return signals_figure(self.signal_series(), self.start, self.end,
                              title=f"{self.runbook.title}: signals per hour against baseline")

    # -- attribution --------------------------------------------------------------------------
    @property
    def dimensions(self) -> list[str]:
        return self.runbook.dimensions

    def suspects(self, dimension: str | None = None, top: int = 10) -> pd.DataFrame:
        """Ranked suspects for the primary signal; one dimension's values when ``dimension``."""
        if dimension is not None and dimension not in self.dimensions:
            raise ConfigError(f"dimension {dimension!r} is not one of runbook "
                              f"{self.runbook.name!r}'s attribution dimensions {self.dimensions}")
        sig = SIGNALS[self.primary]
        cur, base = self._split(self._units_for(sig))
        dims = [dimension] if dimension else self.dimensions
        share = float(self.runbook.spec["attribution"].get("min_share", 0.8))
        found = attribute(cur, base, sig.column, dims, kind="mean", min_share=share, top=top)
        return pd.DataFrame({
            "rank": range(1, len(found) + 1),
            "dimension": [s.dimension for s in found], "value": [s.value for s in found],
            "contribution": [s.contribution for s in found],
            "incident": [s.incident for s in found], "baseline": [s.baseline for s in found],
        })

    def suspects_html(self, dimension: str | None = None) -> str:
        table = self.suspects(dimension)
        if table.empty:
            return (f"<p>No excess of {_e(self.primary)} over its baseline in this window: "
                    "nothing to attribute.</p>")
        return html_table(table.assign(contribution=table["contribution"].map("{:.0%}".format)))

    def suspects_figure(self, dimension: str | None = None):
        from workbench.runbook_plots import suspects_figure

        return suspects_figure(self.suspects(dimension),
                               title=f"Share of the excess {self.primary} explained")

    # -- drill-down ---------------------------------------------------------------------------
    def worst_traces(self, n: int = 10) -> pd.DataFrame:
        """The window's ``n`` worst traces for the primary signal (score-ranked for scores)."""
        sig = SIGNALS[self.primary]
        cur, _ = self._split(self._units_for(sig))
        cols = [c for c in ("trace_id", "start_time", "agent", "status", "duration_s",
                            "cost_usd", "total_tokens", "n_generations", "n_errors", "score")
                if c in cur.columns]
        return cur.sort_values(sig.worst_by, ascending=False).head(n)[cols].reset_index(drop=True)

    def worst_traces_html(self, n: int = 10) -> str:
        return html_table(self.worst_traces(n))

    def waterfall(self, trace_id: str | None = None):
        """The span waterfall of ``trace_id`` (default: the worst trace)."""
        if trace_id is None:
            worst = self.worst_traces(1)
            if worst.empty:
                raise ConfigError("no trace in the window to draw")
            trace_id = str(worst["trace_id"].iloc[0])
        return self.view.waterfall(trace_id)

    # -- checklists ---------------------------------------------------------------------------
    def steps(self, section: str) -> list[str]:
        if section not in ("investigation", "mitigations", "rollback"):
            raise ConfigError(f"unknown checklist {section!r}: investigation, mitigations or "
                              "rollback")
        return [str(s) for s in self.runbook.spec.get(section, [])]

    def checklist_html(self, section: str) -> str:
        items = "".join(f"<li>&#9744; {_e(s)}</li>" for s in self.steps(section))
        return _STYLE + f"<ul class='wb-checklist'>{items}</ul>"


def investigate(runbook: str | Runbook, source: str | TraceSource, start: Any, end: Any, *,
                data_dir: str | Path | None = None, baseline_days: int = 7,
                runbooks_dir: str | Path | None = None) -> Investigation:
    """Pull ``[start - baseline_days, end + 6 h)`` from ``source`` and investigate ``[start,
    end)`` with ``runbook``. Bad input fails here with a message naming it."""
    rb = runbook if isinstance(runbook, Runbook) else runbook_mod.load(runbook, runbooks_dir)
    t0, t1 = to_window(start, end)
    if int(baseline_days) < 1:
        raise ConfigError(f"baseline_days must be at least 1, got {baseline_days}")
    src = open_trace_source(source, data_dir)
    base0 = t0 - pd.Timedelta(days=int(baseline_days))
    view = TraceWindow.load(src, base0, t1 + _CONTEXT, runbook=rb)
    scores = src.scores(base0, t1 + _CONTEXT + _SCORE_LAG)
    notes = [f"{label} incomplete: {why}" for label, frame in
             (("traces", view.traces), ("scores", scores)) if (why := incomplete_reason(frame))]
    if view.units[view.units["time"] < t0].empty:
        notes.append("no data before the window: there is no baseline to judge against")
    window = view.traces[(view.traces["start_time"] >= t0) & (view.traces["start_time"] < t1)]
    if window.empty:
        notes.append("no traces in the window")
    found = detect(rb, view.traces, view.observations, scores, t0, t1) if len(view.traces) \
        else []
    return Investigation(runbook=rb, source=getattr(src, "name", str(source)), start=t0, end=t1,
                         baseline_start=base0, view=view,
                         scores=scores if len(scores) else schema.empty("scores"),
                         findings=found, notes=notes)
