"""The engine's and the report's faster paths give what the general ones give: attribution of
rows of a units frame (``attribute_rows``) against ``attribute`` of the two frames, composites
keyed per distinct value against keyed per row, the charts' grid layout against
``plotly.subplots.make_subplots``, and the conventions' test for blank text (no trimmed copy
made) against trimming."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.io as pio
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from plotly.subplots import make_subplots

from workbench import plots
from workbench.analysis import attribution
from workbench.analysis.attribution import Exploded, attribute, attribute_rows
from workbench.findings import Suspect
from workbench.sources import conventions as conv


def _units(seed: int, n: int = 3000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    agents = rng.choice(["support", "research", "billing"], n)
    models = [tuple(sorted({str(m) for m in rng.choice(["gpt-4o", "claude", "mini"], k)}))
              for k in rng.integers(0, 3, n)]
    tools = [() if r < 0.3 else ("search",) if r < 0.6 else ("search", "sql")
             for r in rng.random(n)]
    release = pd.array([None if r < 0.1 else f"v{int(r * 4)}" for r in rng.random(n)],
                       dtype="string")
    incident = rng.random(n) < 0.3  # the window's rows; billing's calls to claude fail there
    hot = incident & (agents == "billing") & np.array(["claude" in m for m in models])
    bad = (rng.random(n) < np.where(hot, 0.5, 0.05)).astype("float64")
    return pd.DataFrame({"agent": pd.array(agents, dtype="string"),
                         "model": pd.Series(models, dtype=object),
                         "tool_name": pd.Series(tools, dtype=object), "release": release,
                         "bad": bad, "incident": incident})


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_attributing_rows_of_the_units_ranks_as_attributing_two_frames(seed: int) -> None:
    units = _units(seed)
    units["agent/model"] = attribution._composite(units, "agent/model")
    rng = np.random.default_rng(seed + 10)
    cur = units["incident"].to_numpy()
    base = ~cur & (rng.random(len(units)) < 0.8)
    dims = ["agent/model", "model", "tool_name", "release", "agent"]
    want = attribute(units[cur], units[base], "bad", dims)
    got = attribute_rows(Exploded.of(units), units["bad"].to_numpy(), cur, base, dims)
    assert want  # something to explain
    assert [(s.dimension, s.value, s.within, s.contribution, s.incident, s.baseline)
            for s in got] == [(s.dimension, s.value, s.within, s.contribution, s.incident,
                               s.baseline) for s in want]


def test_composites_keyed_per_distinct_value_match_keyed_per_row() -> None:
    units = _units(4, 500)
    units["release"] = units["release"].astype(object)
    units.loc[units.index[:5], "release"] = None
    units.loc[units.index[5:8], "release"] = float("nan")
    fast = attribution._composite(units, "agent/model/release")
    for i, row in enumerate(fast.tolist()):
        values = [""]
        for part in (attribution._as_key(units[c].iloc[i]) for c in ("agent", "model",
                                                                     "release")):
            values = [f"{v}\x1f{x}" if v else str(x) for v in values for x in part] \
                if part else []
        assert row == tuple(sorted(set(values)))
    assert fast.iloc[0] == () and any(len(r) > 1 for r in fast.tolist())


@pytest.mark.parametrize("seed", [1, 2])
def test_a_slice_judged_per_distinct_value_matches_judged_per_unit(seed: int) -> None:
    units = _units(seed)
    odd = pd.Series([["search"], {"sql"}, None, float("nan"), pd.NA, 3, "search"] * 4,
                    dtype=object)  # lists and sets are unhashable: judged one by one
    units = units.assign(odd=pd.concat([odd, pd.Series([()] * (len(units) - len(odd)),
                                                        dtype=object)], ignore_index=True))

    def reference(s: Suspect) -> np.ndarray:
        conds = [(s.dimension, s.value)] + list(s.within.items())
        mask = np.ones(len(units), dtype=bool)
        for dim, value in conds:
            mask &= np.array([(value in v) if isinstance(v, (tuple, list, set))
                              else (isinstance(v, str) and v == value) for v in units[dim]])
        return mask

    suspects = [Suspect(dimension=d, value=v, contribution=1.0, within=w) for d, v, w in (
        ("model", "claude", {}), ("model", "mini", {"agent": "billing"}),
        ("tool_name", "sql", {}), ("release", "v1", {}), ("release", "v9", {}),
        ("agent", "support", {"tool_name": "search"}), ("odd", "search", {}),
        ("odd", "sql", {"model": "claude"}))]
    for s in suspects:
        got = attribution.in_slice(units, s)
        assert got.dtype == bool and got.tolist() == reference(s).tolist(), s
    assert attribution.in_slice(units, suspects[0]).sum() > 0


def test_lists_in_a_composite_part_still_work() -> None:
    df = pd.DataFrame({"agent": ["a", "b", "a"],
                       "tool_name": pd.Series([["x", "y"], [], ["y"]], dtype=object)})
    assert attribution._composite(df, "agent/tool_name").tolist() == \
        [("a\x1fx", "a\x1fy"), (), ("a\x1fy",)]


@pytest.mark.parametrize(("rows", "cols", "h", "v", "shared"),
                         [(4, 2, 0.08, 0.08, False), (3, 2, 0.08, 0.08, False),
                          (3, 1, 0.2, 0.06, True), (1, 1, 0.2, 0.3, False)])
def test_the_chart_grid_is_make_subplots_layout(rows: int, cols: int, h: float, v: float,
                                                shared: bool) -> None:
    titles = [f"panel {i}" for i in range(rows * cols - (1 if rows * cols > 2 else 0))]
    want = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=h,
                         vertical_spacing=v, shared_xaxes=shared)
    got = plots._figure([], plots._grid(rows, cols, titles, h, v, shared_x=shared))
    assert json.loads(pio.to_json(got, validate=False)) == \
        json.loads(pio.to_json(want, validate=False))


def test_a_window_s_buckets_are_judged_as_each_interval_alone() -> None:
    from tests import engine_golden
    from workbench.analysis import Judge, units_for

    books, traces, observations, scores = engine_golden.load()
    last = traces["start_time"].max().floor("D")
    first = last - pd.Timedelta(days=2)
    units = units_for(books, traces, observations, scores, first)
    seen = 0
    for rb in books.values():
        judge = Judge(rb, units, first, last + pd.Timedelta(days=1))
        for signal in judge.signals():
            for group in judge.groups():
                for iv in judge.buckets(signal, group):
                    alone = judge.interval(signal, iv.start, iv.end, group)
                    assert repr(iv) == repr(alone)
                    seen += 1
    assert seen > 1000


def test_blank_text_is_what_trimming_leaves_empty() -> None:
    """Every character (surrogates aside) alone, then padded, empty and null strings: filled
    exactly where ``utf8_trim_whitespace`` leaves something."""
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    text = pa.array([*chars, *(f" {c}\t" for c in chars[:0x3100]), "", None, " \u3000 ", "a b"],
                    type=pa.large_string())
    trimmed = pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(text), ""), False)
    got = conv._filled(text)
    assert got.null_count == 0
    assert got.equals(trimmed)
    blank = len(text) - pc.sum(got).as_py()
    assert blank > 50  # the whitespace characters alone and padded, "", None, " \u3000 "
