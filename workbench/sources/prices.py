"""Model list prices, for LLM spans that report token counts but no cost.

OpenTelemetry GenAI spans carry ``gen_ai.usage.input_tokens``/``output_tokens`` and no cost, so
a source reading raw spans (Tempo) prices them from a table: ``prices.yaml`` beside this module,
shipped with the list prices of a stated date and source, and overridable by the user
(``WORKBENCH_PRICES`` or ``prices=``). A cost the span itself reports (``llm.cost.total``,
``gen_ai.usage.cost``, Langfuse cost details) always wins; what the table could not price stays
unknown and is named (:attr:`Filled.unpriced`), never counted as zero.

Prompt caches are priced apart: input tokens read from a cache (``cache_read_tokens``) at the
model's ``cached_input`` price and those written to it (``cache_write_tokens``) at its
``cache_write`` price, so a cache that stops hitting shows as a cost jump at equal token
counts. Both are parts of ``input_tokens``; the rest of the input is billed at the input price.
Reasoning tokens are part of ``output_tokens`` and bill with it at the output price, as list
prices bill them; so do OpenAI's accepted and rejected predicted-output tokens (OpenAI counts and
bills both as completion tokens; Langfuse's price list has no price for them and leaves them
unbilled). Audio tokens are part of ``input_tokens`` / ``output_tokens`` and, having no column
and no price of their own in this table, bill at the input / output price: Langfuse's price list
bills them at their own, higher rates for audio models (gpt-4o-audio-preview: 40x input, 20x
output), so a table-priced cost of audio calls is a lower bound.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import ConfigError
from workbench.yaml_file import parse_yaml, read_yaml

__all__ = ["ENV_PRICES", "Filled", "ModelPrice", "PriceTable", "load"]

ENV_PRICES = "WORKBENCH_PRICES"
_DEFAULTS = Path(__file__).with_name("prices.yaml")
#: Observation types priced from tokens: the model calls themselves (as in the trace roll-up).
PRICED_TYPES = ("generation", "embedding")


@dataclass(frozen=True)
class ModelPrice:
    """USD per 1M input / output tokens of the models whose name matches ``pattern``; cache
    reads and writes at their own prices when the model has them, else at the input price."""

    name: str
    input: float
    output: float
    pattern: re.Pattern[str]
    cached_input: float | None = None
    cache_write: float | None = None

    @property
    def cache_read_rate(self) -> float:
        """USD per 1M input tokens read from a prompt cache."""
        return self.input if self.cached_input is None else self.cached_input

    @property
    def cache_write_rate(self) -> float:
        """USD per 1M input tokens written to a prompt cache."""
        return self.input if self.cache_write is None else self.cache_write


@dataclass
class Filled:
    """What :meth:`PriceTable.fill_costs` did: costs it filled and models it could not price
    (name -> LLM spans with tokens but no price)."""

    filled: int = 0
    unpriced: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"costs_from_price_table": self.filled, "unpriced_models": dict(self.unpriced)}


@dataclass(frozen=True)
class PriceTable:
    """Loaded prices; build with :func:`load`."""

    models: tuple[ModelPrice, ...]
    date: str
    source: str
    fingerprint: str

    def price(self, model: str | None) -> ModelPrice | None:
        """The entry whose pattern matches the whole model name (case-insensitive), if any."""
        if model is None or model != model:
            return None
        return self._lookup(str(model).strip())

    @functools.lru_cache(maxsize=512)  # noqa: B019 - a handful of model names per table
    def _lookup(self, model: str) -> ModelPrice | None:
        for m in self.models:
            if m.pattern.fullmatch(model):
                return m
        return None

    def fill_costs(self, obs: pd.DataFrame) -> tuple[pd.DataFrame, Filled]:
        """``obs`` with ``cost_usd`` filled on LLM calls (generation / embedding) that have
        tokens, a priced model and no cost of their own; a copy when anything changed.

        Cache reads and writes are billed at their prices and the rest of the input at the input
        price: input tokens less the cache parts, never below zero (cache parts larger than the
        input count are billed as reported, each once)."""
        report = Filled()
        if obs.empty:
            return obs, report
        types = obs["type"].astype(str)
        tin = obs["input_tokens"].astype("Float64")
        tout = obs["output_tokens"].astype("Float64")
        ttot = obs["total_tokens"].astype("Float64")
        need = (types.isin(PRICED_TYPES) & obs["cost_usd"].isna()
                & (tin.notna() | tout.notna() | ttot.notna())).to_numpy(dtype=bool)
        if not need.any():
            return obs, report
        models = obs["model"].astype(object).where(obs["model"].notna(), None).to_numpy()
        prices_in = np.full(len(obs), np.nan)
        prices_out = np.full(len(obs), np.nan)
        prices_read = np.full(len(obs), np.nan)
        prices_write = np.full(len(obs), np.nan)
        unpriced: dict[str, int] = {}
        for i in np.flatnonzero(need):
            p = self.price(models[i])
            if p is None:
                key = "(no model)" if models[i] is None else str(models[i])
                unpriced[key] = unpriced.get(key, 0) + 1
                continue
            prices_in[i], prices_out[i] = p.input, p.output
            prices_read[i], prices_write[i] = p.cache_read_rate, p.cache_write_rate
        priced = ~np.isnan(prices_in)
        if priced.any():
            i_tok = tin.to_numpy(dtype="float64", na_value=np.nan)
            o_tok = tout.to_numpy(dtype="float64", na_value=np.nan)
            t_tok = ttot.to_numpy(dtype="float64", na_value=np.nan)
            read = _tokens(obs, "cache_read_tokens")
            write = _tokens(obs, "cache_write_tokens")
            only_total = np.isnan(i_tok) & np.isnan(o_tok)
            i_eff = np.where(only_total, t_tok, np.nan_to_num(i_tok))
            uncached = np.maximum(i_eff - read - write, 0.0)
            cost = (uncached * prices_in + read * prices_read + write * prices_write
                    + np.nan_to_num(o_tok) * prices_out) / 1e6
            obs = obs.copy()
            col = obs["cost_usd"].to_numpy(dtype="float64", copy=True)
            col[priced] = cost[priced]
            obs["cost_usd"] = col
            report.filled = int(priced.sum())
        report.unpriced = dict(sorted(unpriced.items()))
        return obs, report


def _tokens(obs: pd.DataFrame, column: str) -> np.ndarray:
    """A token column as float64, 0 where unknown (or absent from an older frame)."""
    if column not in obs.columns:
        return np.zeros(len(obs))
    return obs[column].astype("Float64").to_numpy(dtype="float64", na_value=0.0)


def load(path: str | os.PathLike[str] | Mapping[str, Any] | None = None) -> PriceTable:
    """The shipped table with ``path`` (or ``$WORKBENCH_PRICES``) layered on top; ``path`` may
    also be a mapping shaped like the YAML file."""
    if path is None:
        path = os.environ.get(ENV_PRICES) or None
    if path is None:
        return _default_table()
    if isinstance(path, Mapping):
        return _build(_merge(_defaults(), path, "<mapping>"), "<mapping>")
    p = Path(path)
    user = read_yaml(p, f"price table {p}")
    if not isinstance(user, Mapping):
        raise ConfigError(f"price table {p}: expected a mapping with `models:` at the top level")
    return _build(_merge(_defaults(), user, str(p)), str(p))


@functools.lru_cache(maxsize=1)
def _defaults() -> dict[str, Any]:
    return parse_yaml(_DEFAULTS.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def _default_table() -> PriceTable:
    return _build(_defaults(), "defaults")


def _merge(base: Mapping[str, Any], user: Mapping[str, Any], where: str) -> dict[str, Any]:
    known = {"models", "date", "source", "currency", "replace"}
    unknown = sorted(set(user) - known)
    if unknown:
        raise ConfigError(f"price table {where}: unknown key(s) {unknown}; known: "
                          f"{sorted(known)}")
    models = user.get("models") or {}
    if not isinstance(models, Mapping):
        raise ConfigError(f"price table {where}: `models` must map model names to prices")
    out = dict(base)
    merged = {} if user.get("replace") else dict(base.get("models") or {})
    merged = {**dict(models), **{k: v for k, v in merged.items() if k not in models}}
    out["models"] = merged
    for key in ("date", "source", "currency"):
        if key in user:
            out[key] = user[key]
    if "date" not in user and models:
        out["date"] = f"{base.get('date')} (defaults) + {where}"
    return out


#: Optional price fields (USD per 1M tokens): cache reads and writes, billed as input when absent.
_OPTIONAL = ("cached_input", "cache_write")


def _build(spec: Mapping[str, Any], where: str) -> PriceTable:
    currency = str(spec.get("currency", "USD"))
    if currency.upper() != "USD":
        raise ConfigError(f"price table {where}: currency must be USD (costs are USD), got "
                          f"{currency!r}")
    entries = []
    for name, entry in (spec.get("models") or {}).items():
        if not isinstance(entry, Mapping):
            raise ConfigError(f"price table {where}: model {name!r} needs `input:` and "
                              "`output:` (USD per 1M tokens)")
        values: dict[str, float | None] = {}
        for key in ("input", "output", *_OPTIONAL):
            v = entry.get(key)
            if v is None and key in _OPTIONAL:
                values[key] = None
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0:
                what = "optional; " if key in _OPTIONAL else ""
                raise ConfigError(f"price table {where}: model {name!r}: `{key}` must be a "
                                  f"number >= 0 ({what}USD per 1M tokens), got {v!r}")
            values[key] = float(v)
        extra = sorted(set(entry) - {"input", "output", "match", *_OPTIONAL})
        if extra:
            raise ConfigError(f"price table {where}: model {name!r}: unknown field(s) {extra}; "
                              f"fields: input, output, {', '.join(_OPTIONAL)}, match")
        pattern = entry.get("match") or rf"([\w.-]+/)?{re.escape(str(name))}"
        try:
            compiled = re.compile(str(pattern), re.IGNORECASE)
        except re.error as exc:
            raise ConfigError(f"price table {where}: model {name!r}: bad `match` regular "
                              f"expression {pattern!r}: {exc}") from exc
        entries.append(ModelPrice(str(name), values["input"], values["output"], compiled,
                                  values["cached_input"], values["cache_write"]))
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()
    return PriceTable(models=tuple(entries), date=str(spec.get("date", "unknown")),
                      source=" ".join(str(spec.get("source", where)).split()),
                      fingerprint=digest[:16])
