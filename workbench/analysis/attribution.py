"""Root-cause attribution: which dimension values explain the change from baseline to incident.

Method ("explain the delta", as in Adtributor and Squeeze-style root-cause search). Each row of
``current`` and ``baseline`` is one unit (a trace, a scored trace, an observation) carrying the
metric. For a value ``v`` of a dimension, the rows of the incident window holding ``v`` are judged
against what they would have cost (or scored) at ``v``'s own baseline rate::

    expected_v = n_v,cur * rate_v,base            (kind="mean": per-unit rates, cost per request)
    expected_v = total_v,base * scale             (kind="sum": totals, e.g. spend per hour)
    excess_v   = observed_v,cur - expected_v
    contribution_v = excess_v / total excess      (total excess = observed - expected, all rows;
                                                   capped at 1: a value explains all of it, not
                                                   more, when others ran below their baseline)

So a value with a normal rate explains nothing however large it is, and a value whose rate jumped
explains its share of the excess. Per-value baseline rates are shrunk toward the overall baseline
rate (``prior`` pseudo-units) so that a value seen a handful of times in the baseline does not get
a wild expected rate; a value never seen before (a new prompt version) is expected at the overall
baseline rate.

Nested and correlated dimensions: a new prompt version that exists only in one agent explains as
much as the agent itself, so ranking by contribution alone cannot tell them apart. Among the
*candidates* (values explaining at least ``min_share`` of what the top value explains) one is put
first by pairwise preference:

- B nested in A (B's incident rows lie inside A's): B wins when the rest of A (A without B) is
  normal, i.e. carries under a quarter of B's excess per row; otherwise A, the wider cause, wins
  (a model used by most of a faulty prompt version's traffic is not the cause);
- the same rows, or crossing sets (a shared tool broken in one agent only: the data can only say
  "this tool in this agent"): the finer-grained dimension in :data:`SPECIFICITY` wins. A rest of
  A of fewer than ``_FEW`` rows cannot show itself normal or not (five traces of a short
  burn window, one of them in staging): there too the two say the same, and the finer wins.

The other values follow by contribution, so the containing agent is still reported.

Dimension columns may hold list-like values (the set of tools a trace called); such a row counts
toward each of its values.

Narrower than any one column: a dimension written ``"agent/model"`` takes every (agent, model)
pair of a row, so "this model, in this agent" competes with "this model" and "this agent" and
wins exactly when the rest of both is normal. Prompt versions are ``"<prompt>|<version>"``: a
version number means nothing without its prompt. Both come back as a :class:`Suspect` of the last
component, ``within`` the others (``model=gpt-4o`` within ``agent=support-bot``).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from itertools import chain
from typing import Any, Literal

import numpy as np
import pandas as pd

from workbench.errors import SchemaError
from workbench.findings import Suspect

__all__ = ["SPECIFICITY", "Exploded", "attribute", "attribute_rows", "tool_sets"]

#: Finest-grained first; decides between candidates the data cannot separate. A tool call is the
#: smallest unit of an agent's work and where outside faults enter; a prompt version, a model and
#: a prompt are per generation; a release, an agent and an environment contain all of those. Users
#: and sessions come late: they are who was affected more often than what broke.
SPECIFICITY = ("culprit_tool", "tool_name", "prompt_version", "model", "primary_model",
               "prompt_name", "release", "agent", "user_id", "session_id", "environment")

# Two row sets count as nested when this share of the smaller one lies in the larger.
_CONTAINMENT = 0.95
# The rest of a container is "normal" when its excess per row is under this share of the
# nested value's excess per row.
_REST_SHARE = 0.25
# A container whose rest holds fewer rows than this holds the same rows as what it contains, as
# far as the data can tell.
_FEW = 5


def tool_sets(observations: pd.DataFrame) -> pd.Series:
    """Per trace, the sorted tuple of tools it called (from tool spans), indexed by trace id."""
    tools = observations.loc[observations["tool_name"].notna(), ["trace_id", "tool_name"]]
    tools = tools.astype(str).drop_duplicates().sort_values(["trace_id", "tool_name"])
    ids = tools["trace_id"].to_numpy()
    names = tools["tool_name"].tolist()
    cuts = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    bounds = zip(np.concatenate([[0], cuts]).tolist(), np.concatenate([cuts, [len(ids)]]).tolist())
    # built as plain objects: pandas would turn a tuple-valued aggregation into an Arrow list
    sets = [tuple(names[a:b]) for a, b in bounds] if len(ids) else []
    return pd.Series(sets, index=ids[np.concatenate([[0], cuts])] if len(ids) else [],
                     dtype=object, name="tool_name")


def in_slice(units: pd.DataFrame, s: Suspect) -> np.ndarray:
    """The units whose values include the suspect's value (and its ``within`` values)."""
    conds = [(s.dimension, s.value)] + list(s.within.items())
    if s.dimension == "prompt_version" and "prompt_name" in s.within:
        conds[0] = ("prompt_version", f"{s.within['prompt_name']}|{s.value}")
    mask = np.ones(len(units), dtype=bool)
    exploded = Exploded.of(units)
    for dim, value in conds:
        if dim not in units.columns:
            return np.zeros(len(units), dtype=bool)
        mask &= exploded.holds(dim, value)
    return mask


def _holds_value(v: Any, value: Any) -> bool:
    return (value in v) if isinstance(v, (tuple, list, set)) else (isinstance(v, str)
                                                                   and v == value)


def _distinct(col: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``pd.factorize(col)``; None for unhashable values (lists, sets)."""
    try:
        return pd.factorize(col)
    except TypeError:
        return None


def _holds_coded(coded: tuple[np.ndarray, np.ndarray] | None, col: np.ndarray,
                 value: Any) -> np.ndarray:
    """Per element of ``col``: it is ``value``, or a tuple/list/set holding it, from the
    column's :func:`_distinct` values: each distinct value is judged once (a column holds a few
    dozen distinct tuples over many units)."""
    if coded is None:  # unhashable values: one element at a time
        return np.fromiter((_holds_value(v, value) for v in col), dtype=bool, count=len(col))
    codes, distinct = coded
    hit = np.fromiter((_holds_value(v, value) for v in distinct), dtype=bool,
                      count=len(distinct))
    # missing values (code -1) hold nothing, as a value that is neither a string nor a tuple
    return np.append(hit, False)[codes]


def _explode(df: pd.DataFrame, dim: str) -> tuple[np.ndarray, np.ndarray]:
    """Row positions and the dimension's value there as a plain string (list-like values give
    one row per element; missing and empty values give none)."""
    col = df[dim]
    if col.dtype == object:
        try:
            return _explode_distinct(col.to_numpy())
        except TypeError:  # unhashable values (lists, sets): one row at a time below
            pass
    values = col.to_numpy(dtype=object)
    rows = np.arange(len(values))
    if col.dtype == object and any(isinstance(v, (list, tuple, set)) for v in values.tolist()):
        # one row per element, like Series.explode (an empty set holds no value)
        items = [v if isinstance(v, (list, tuple, set)) else (v,) for v in values.tolist()]
        rows = np.repeat(rows, np.fromiter(map(len, items), dtype="int64", count=len(items)))
        values = np.empty(len(rows), dtype=object)
        values[:] = list(chain.from_iterable(items))
    keep = ~pd.isna(values)
    rows, values = rows[keep], values[keep]
    if not isinstance(col.dtype, pd.StringDtype) or col.dtype == object:
        values = pd.Series(values, dtype=object).astype(str).to_numpy(dtype=object)
    keep = values != ""
    return rows[keep], values[keep]


def _factorized(cur: pd.DataFrame, base: pd.DataFrame, dim: str
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rows of ``cur`` and ``base`` holding a value of ``dim``, the value's code there and the
    values (strings) by code, numbered by first appearance: ``cur`` first, like
    ``groupby(sort=False)``. Categorical columns sharing their categories are numbered by their
    category codes, without a string per row."""
    col = cur[dim]
    b_col = base[dim] if dim in base.columns and not base.empty else None
    if (isinstance(col.dtype, pd.CategoricalDtype) and b_col is not None
            and col.dtype == b_col.dtype):
        labels = _labels(col.cat.categories)
        rows, keys = _category_rows(col, labels)
        b_rows, b_keys = _category_rows(b_col, labels)
    else:
        labels = None
        rows, keys = _explode(cur, dim)
        b_rows, b_keys = _explode(base, dim) if b_col is not None else (rows[:0], keys[:0])
    codes, uniques = pd.factorize(np.concatenate([keys, b_keys]))
    if labels is not None:
        uniques = labels[uniques]
    return rows, codes[:len(rows)], b_rows, codes[len(rows):], uniques


def _labels(categories: pd.Index) -> np.ndarray:
    """Categories as the strings :func:`_explode` would give."""
    return pd.Series(categories.to_numpy(dtype=object), dtype=object).astype(str).to_numpy(
        dtype=object)


def _category_rows(col: pd.Series, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row positions and category codes of a categorical column's values (missing and empty
    values give none)."""
    codes = col.cat.codes.to_numpy()
    keep = codes >= 0
    empty = np.flatnonzero(labels == "")
    if len(empty):
        keep &= ~np.isin(codes, empty)
    return np.flatnonzero(keep), codes[keep]


def _coded_text(col: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:meth:`Exploded.__call__` of a text column: the rows holding a non-empty value, their
    codes (by first appearance) and the values by code, numbered by Arrow instead of hashing
    a Python string per row."""
    codes, labels = pd.factorize(col)
    labels = np.asarray(labels, dtype=object)
    keep = codes >= 0
    empty = np.flatnonzero(labels == "")
    if len(empty):  # an empty value holds nothing: its rows go, the codes after it close up
        keep &= codes != empty[0]
        codes = np.where(codes > empty[0], codes - 1, codes)
        labels = np.delete(labels, empty[0])
    return np.flatnonzero(keep), codes[keep].astype("int64"), labels


def _explode_distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_explode` of an object column worked out once per distinct value: a column of
    tool-set tuples holds a few dozen distinct sets over thousands of rows. Raises TypeError
    on unhashable values."""
    codes, uniques = pd.factorize(values)
    items = [list(v) if isinstance(v, (list, tuple, set)) else [v] for v in uniques.tolist()]
    elements = np.empty(sum(map(len, items)), dtype=object)
    elements[:] = list(chain.from_iterable(items))
    # the same filtering and string conversion as row by row, on each distinct element once
    keep = ~pd.isna(elements)
    text = pd.Series(elements, dtype=object).astype(str).to_numpy(dtype=object)
    keep &= text != ""
    lengths = np.fromiter(map(len, items), dtype="int64", count=len(items))
    owner = np.repeat(np.arange(len(items)), lengths)[keep]
    text = text[keep]
    per_value = np.bincount(owner, minlength=len(items))
    start = np.concatenate([[0], np.cumsum(per_value)[:-1]]).astype("int64")
    count = np.where(codes >= 0, np.append(per_value, 0)[codes], 0)
    rows = np.repeat(np.arange(len(values)), count)
    within = np.arange(len(rows)) - np.repeat(np.cumsum(count) - count, count)
    return rows, text[start[codes[rows]] + within]


def _check(frame: pd.DataFrame, name: str, metric: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"attribute: {name} must be a DataFrame, got {type(frame).__name__}")
    if metric not in frame.columns:
        raise SchemaError(f"attribute: {name} has no metric column {metric!r}; "
                          f"columns: {list(frame.columns)}")


def attribute(current: pd.DataFrame, baseline: pd.DataFrame, metric: str,
              dimensions: Sequence[str], *, kind: Literal["mean", "sum"] = "mean",
              scale: float | None = None, min_share: float = 0.8, prior: float = 20.0,
              top: int = 10) -> list[Suspect]:
    """Rank dimension values by their share of the excess of ``metric`` over its baseline.

    ``kind="mean"``: the metric is a per-unit rate (0/1 flag, cost per trace); a value is
    expected to keep its baseline rate at its current volume, so traffic shifts are not blamed.
    ``kind="sum"``: totals; the baseline total is multiplied by ``scale`` (default: the ratio of
    row counts) to get what was expected. Dimensions missing from ``current`` are skipped.
    Returns at most ``top`` suspects with a positive contribution, the most specific explaining
    value first (see the module docstring). Empty when there is no excess to explain.
    """
    if kind not in ("mean", "sum"):
        raise ValueError(f"attribute: kind must be 'mean' or 'sum', got {kind!r}")
    _check(current, "current", metric)
    _check(baseline, "baseline", metric)
    if current.empty:
        return []
    cur = current.reset_index(drop=True)
    base = baseline.reset_index(drop=True)
    composites = [d for d in dimensions if "/" in d and d not in cur.columns]
    if composites:
        cur = cur.assign(**{d: c for d in composites
                            if (c := _composite(cur, d)) is not None})
        base = base.assign(**{d: c for d in composites
                              if d in cur.columns and (c := _composite(base, d)) is not None})
    return _rank(cur[metric].astype("float64").fillna(0.0),
                 base[metric].astype("float64").fillna(0.0),
                 [d for d in dimensions if d in cur.columns],
                 lambda dim: _factorized(cur, base, dim), kind=kind, scale=scale,
                 min_share=min_share, prior=prior, top=top)


class Exploded:
    """Every unit's values of each dimension, exploded and numbered once for a units frame, so
    attributing many windows of the same units (:func:`attribute_rows`) selects rows instead of
    exploding and converting values to text again each time. :meth:`of` keeps one per units
    frame for the frame's lifetime (dimension columns are not rewritten once made)."""

    def __init__(self, units: pd.DataFrame) -> None:
        self._units = weakref.ref(units)  # kept by :meth:`of`: never keeps the frame alive
        self._dims: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._cells: dict[str, tuple[np.ndarray, Any]] = {}

    @property
    def units(self) -> pd.DataFrame:
        units = self._units()
        if units is None:
            raise ReferenceError("the units frame of these exploded values is gone")
        return units

    @classmethod
    def of(cls, units: pd.DataFrame) -> Exploded:
        key = id(units)
        found = _EXPLODED.get(key)
        if found is None or found._units() is not units:
            found = _EXPLODED[key] = cls(units)
            weakref.finalize(units, _EXPLODED.pop, key, None)
        return found

    def __call__(self, dim: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Row positions, the value's code there and the values (strings) by code."""
        if dim not in self._dims:
            col = self.units[dim]
            if isinstance(col.dtype, pd.StringDtype):
                self._dims[dim] = _coded_text(col)
            else:
                rows, values = _explode(self.units, dim)
                codes, labels = pd.factorize(values)
                self._dims[dim] = (rows, codes.astype("int64"), np.asarray(labels, dtype=object))
        return self._dims[dim]

    def holds(self, dim: str, value: Any) -> np.ndarray:
        """Per unit: its ``dim`` is ``value`` or holds it (:func:`in_slice`), from the column's
        distinct values worked out once."""
        if dim not in self._cells:
            col = self.units[dim].to_numpy(dtype=object)
            self._cells[dim] = (col, _distinct(col))
        col, coded = self._cells[dim]
        return _holds_coded(coded, col, value)

    def selector(self, cur: np.ndarray, base: np.ndarray):
        """``dim ->`` :func:`_factorized` of the rows at positions ``cur`` and ``base``
        (ascending)."""
        n = len(self.units)
        at_cur = np.full(n, -1, dtype="int64")
        at_cur[cur] = np.arange(len(cur))
        at_base = np.full(n, -1, dtype="int64")
        at_base[base] = np.arange(len(base))

        def select(dim: str):
            rows, codes, labels = self(dim)
            c_pos, b_pos = at_cur[rows], at_base[rows]
            c_keep, b_keep = c_pos >= 0, b_pos >= 0
            c_keys, b_keys = codes[c_keep], codes[b_keep]
            # numbered by first appearance, cur first: as factorizing the values themselves
            new, uniques = pd.factorize(np.concatenate([c_keys, b_keys]))
            return (c_pos[c_keep], new[:len(c_keys)], b_pos[b_keep], new[len(c_keys):],
                    labels[uniques])

        return select


_EXPLODED: dict[int, Exploded] = {}


def attribute_rows(exploded: Exploded, values: np.ndarray, current: np.ndarray,
                   baseline: np.ndarray, dimensions: Sequence[str], *,
                   min_share: float = 0.8, prior: float = 20.0, top: int = 10
                   ) -> list[Suspect]:
    """:func:`attribute` (``kind="mean"``) of the units frame of ``exploded`` with ``values``
    as the metric, ``current`` and ``baseline`` bool masks over its rows: the same ranking,
    without building the two frames."""
    cur, base = np.flatnonzero(current), np.flatnonzero(baseline)
    if not len(cur):
        return []
    cols = exploded.units.columns
    return _rank(pd.Series(values[cur]).astype("float64").fillna(0.0),
                 pd.Series(values[base]).astype("float64").fillna(0.0),
                 [d for d in dimensions if d in cols],
                 exploded.selector(cur, base), kind="mean", scale=None,
                 min_share=min_share, prior=prior, top=top)


def _rank(cur_y: pd.Series, base_y: pd.Series, dimensions: Sequence[str],
          factorized, *, kind: str, scale: float | None, min_share: float, prior: float,
          top: int) -> list[Suspect]:
    """The ranking of :func:`attribute` from the metric of both sides (positional index) and
    ``factorized(dim)``, which gives :func:`_factorized` of a dimension."""
    if kind == "mean":
        base_rate = float(base_y.mean()) if len(base_y) else float(cur_y.mean())
        expected_total = base_rate * len(cur_y)
    else:
        if scale is None:
            scale = len(cur_y) / len(base_y) if len(base_y) else 1.0
        base_rate = float("nan")
        expected_total = float(base_y.sum()) * scale
    total_excess = float(cur_y.sum()) - expected_total
    if not total_excess > 0:
        return []

    cur_arr = cur_y.to_numpy()
    base_arr = base_y.to_numpy()
    # every dimension's values as integer keys (offset per dimension), so each side's sums and
    # counts per value are one groupby, not one per dimension
    dims, cur_keys, base_keys, members = [], [], [], _Members()
    offset = 0
    for dim in dimensions:
        rows, codes, b_rows, b_codes, uniques = factorized(dim)
        if not len(rows):
            continue
        n_cur = int(codes.max()) + 1
        uniques = uniques[:n_cur]
        dims.append((dim, uniques, offset))
        members.add(dim, rows, codes, uniques)
        cur_keys.append((rows, codes + offset))
        seen = b_codes < n_cur
        base_keys.append((b_rows[seen], b_codes[seen] + offset))
        offset += n_cur
    if not dims:
        return []
    c_sum, c_count = _sums(cur_keys, cur_arr, offset)
    b_sum, b_count = _sums(base_keys, base_arr, offset)
    # every dimension's values side by side: the arithmetic is per value
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind == "mean":
            rate_b = (b_sum + prior * base_rate) / (b_count + prior)
            expected = c_count * rate_b
            inc_rate = c_sum / c_count
            base_val = unit_base = rate_b
        else:
            expected = b_sum * scale
            inc_rate = c_sum
            base_val = expected
            overall = float(base_y.mean()) if len(base_y) else 0.0
            unit_base = ((b_sum + prior * overall) / (b_count + prior))
    excess = c_sum - expected
    names = np.array([dim for dim, _, _ in dims], dtype=object)
    table = pd.DataFrame({
        "dimension": np.repeat(names, [len(uniques) for _, uniques, _ in dims]),
        "value": np.concatenate([np.asarray(uniques, dtype=object) for _, uniques, _ in dims]),
        "contribution": excess / total_excess, "incident": inc_rate, "baseline": base_val,
        "unit_base": unit_base, "support": c_count})
    table = table[table["contribution"] > 0]
    if table.empty:
        return []
    table["rank"] = table["dimension"].map(_specificity_rank)
    table = table.sort_values(["contribution", "support", "rank"],
                              ascending=[False, True, True], kind="stable")
    table = table.reset_index(drop=True)
    order = _refine(table, members, cur_y, min_share)
    out = []
    for r in order.head(top).itertuples():
        dim, value, within = _decode(r.dimension, str(r.value))
        # a value can carry more than the total excess when others ran below their baseline:
        # it still explains all of it, not more
        out.append(Suspect(dimension=dim, value=value, contribution=min(1.0, r.contribution),
                           incident=r.incident, baseline=r.baseline, within=within))
    return out


def _sums(keys: list[tuple[np.ndarray, np.ndarray]], y: np.ndarray, size: int
          ) -> tuple[np.ndarray, np.ndarray]:
    """Sum (pandas' compensated group sum) and count of ``y`` per key ``0 .. size-1``."""
    if not keys:
        return np.zeros(size), np.zeros(size, dtype="int64")
    rows = np.concatenate([r for r, _ in keys])
    k = np.concatenate([c for _, c in keys])
    sums = pd.Series(y[rows]).groupby(k).sum()
    out = np.zeros(size)
    out[sums.index.to_numpy()] = sums.to_numpy()
    return out, np.bincount(k, minlength=size).astype("int64")


class _Members:
    """(dimension, value) -> the rows holding it, worked out only for the few candidates
    :func:`_refine` compares (a dimension such as ``user_id`` has hundreds of values)."""

    def __init__(self) -> None:
        self._dims: dict[str, tuple[np.ndarray, np.ndarray, dict[str, int]]] = {}

    def add(self, dim: str, rows: np.ndarray, codes: np.ndarray, uniques: np.ndarray) -> None:
        self._dims[dim] = (rows, codes, {v: i for i, v in enumerate(uniques.tolist())})

    def __getitem__(self, key: tuple[str, str]) -> pd.Index:
        rows, codes, lookup = self._dims[key[0]]
        return pd.Index(rows[codes == lookup[key[1]]])


def _specificity_rank(dim: str) -> float:
    """Lower is finer. A composite is finer than its last part, which is finer than the rest."""
    if "/" in dim:
        return _specificity_rank(dim.rsplit("/", 1)[1]) - 0.5
    return SPECIFICITY.index(dim) if dim in SPECIFICITY else len(SPECIFICITY)


_SEP = "\x1f"  # joins the parts of a composite value


def _composite(df: pd.DataFrame, dim: str) -> pd.Series | None:
    """Per row, the tuple of every combination of the parts' values (None when a part is
    missing from ``df``). Worked out on the distinct combinations of the parts' values, which
    are few (a few agents times a few models) however many rows there are."""
    parts = dim.split("/")
    if any(p not in df.columns for p in parts):
        return None
    try:
        codes, uniques = _key_codes(df, parts)
    except TypeError:  # unhashable cells (lists, sets): every row's key worked out
        keys = pd.DataFrame({str(i): df[p].map(_as_key) for i, p in enumerate(parts)})
        codes, uniques = pd.factorize(pd.MultiIndex.from_frame(keys))
    combos = []
    for key in uniques:
        values: list[str] = [""]
        for part in key:
            values = [f"{v}{_SEP}{x}" if v else str(x) for v in values for x in part] \
                if part else []
        combos.append(tuple(sorted(set(values))))
    table = np.empty(len(combos) + 1, dtype=object)
    table[:-1] = combos
    table[-1] = ()
    return pd.Series(table[np.where(codes >= 0, codes, len(combos))], index=df.index,
                     dtype=object)


def _key_codes(df: pd.DataFrame, parts: list[str]) -> tuple[np.ndarray, list[tuple]]:
    """Per row, a code of its parts' keys (:func:`_as_key`), and the keys by code: each part's
    distinct cells are keyed once, not every row. Raises TypeError on unhashable cells."""
    part_codes, part_keys = [], []
    for p in parts:
        codes, uniques = pd.factorize(df[p].to_numpy(dtype=object), use_na_sentinel=False)
        part_codes.append(codes)
        part_keys.append([_as_key(v) for v in uniques.tolist()])
    combined = np.zeros(len(df), dtype="int64")
    for codes, keys in zip(part_codes, part_keys):
        combined = pd.factorize(combined * (len(keys) + 1) + codes)[0]  # renumbered: no overflow
    first = np.unique(combined, return_index=True)[1]  # codes are 0..n-1
    table = [tuple(keys[codes[i]] for codes, keys in zip(part_codes, part_keys))
             for i in first.tolist()]
    return combined, table


def _as_key(v: object) -> tuple:
    """A cell as a hashable tuple of its values (missing: no value)."""
    if isinstance(v, (list, tuple, set)):
        return tuple(v)
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return ()
    return (v,)


def _decode(dimension: str, value: str) -> tuple[str, str, dict[str, str]]:
    """(dimension, value, within) of a raw attribution value for a :class:`Suspect`."""
    if "/" in dimension:
        parts = dimension.split("/")
        values = value.split(_SEP)
        within = dict(zip(parts[:-1], values[:-1]))
        last_dim, last_value = parts[-1], values[-1]
        inner_dim, inner_value, inner_within = _decode(last_dim, last_value)
        return inner_dim, inner_value, {**within, **inner_within}
    if dimension == "culprit_tool":  # the tool that failed or was slow: a tool, to a reader
        return "tool_name", value, {}
    if dimension == "prompt_version" and "|" in value:
        name, version = value.rsplit("|", 1)
        return dimension, version, {"prompt_name": name}
    return dimension, value, {}


def _prefer(b, a, members: dict, y: pd.Series) -> bool:
    """Whether candidate ``b`` is the better root cause than ``a`` (module docstring)."""
    rows_a, rows_b = members[(a.dimension, a.value)], members[(b.dimension, b.value)]
    b_in_a = np.isin(rows_b, rows_a).mean() if len(rows_b) else 0.0
    a_in_b = np.isin(rows_a, rows_b).mean() if len(rows_a) else 0.0
    same = b_in_a >= _CONTAINMENT and a_in_b >= _CONTAINMENT
    if not same and max(b_in_a, a_in_b) >= _CONTAINMENT:
        outer, inner = (rows_a, rows_b) if b_in_a >= _CONTAINMENT else (rows_b, rows_a)
        same = len(outer.difference(inner)) < _FEW
    if same:  # the same rows: finer grain wins
        return _specificity_rank(b.dimension) < _specificity_rank(a.dimension)
    if b_in_a >= _CONTAINMENT:  # b nested in a: b wins when the rest of a is normal
        return _rest_is_normal(rows_a, rows_b, a.unit_base, y)
    if a_in_b >= _CONTAINMENT:
        return not _rest_is_normal(rows_b, rows_a, b.unit_base, y)
    rank_a, rank_b = _specificity_rank(a.dimension), _specificity_rank(b.dimension)
    return rank_b < rank_a or (rank_b == rank_a and b.contribution > a.contribution)


def _rest_is_normal(outer: pd.Index, inner: pd.Index, base_rate: float, y: pd.Series) -> bool:
    """The rows of ``outer`` outside ``inner`` carry little excess per row compared with
    ``inner`` (under a quarter of it): ``inner`` alone explains ``outer``'s excess."""
    rest = outer.difference(inner)
    if len(rest) == 0:
        return True
    e_inner = float(y.loc[inner].mean()) - base_rate
    e_rest = float(y.loc[rest].mean()) - base_rate
    return e_inner > 0 and e_rest <= _REST_SHARE * e_inner


def _refine(table: pd.DataFrame, members: dict[tuple[str, str], pd.Index], y: pd.Series,
            min_share: float) -> pd.DataFrame:
    """Put the best root cause among the values explaining most of the excess first."""
    best_c = table["contribution"].iloc[0]
    candidates = table[table["contribution"] >= min_share * best_c]
    winner = candidates.iloc[0]
    for cand in candidates.iloc[1:].itertuples():
        if _prefer(cand, winner, members, y):
            winner = candidates.loc[cand.Index]
    first = (table["dimension"] == winner["dimension"]) & (table["value"] == winner["value"])
    return pd.concat([table[first], table[~first]])
