"""The OpenMetrics export: well-formed, cumulative, and equal to the frames it came from."""

import io
import re
from collections import defaultdict

import numpy as np
import pytest

from prometheus_server import build_tsdb, require_binaries, tiny_dataset
from workbench.simulate.openmetrics import DURATION_BUCKETS, to_openmetrics, ttft_seconds

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+) (\d+)$')


def _parse(text):
    """{(name, labels): [(ts, value), ...]} plus the TYPE of each family; strict on the format."""
    series, types, current = defaultdict(list), {}, None
    lines = text.splitlines()
    assert lines[-1] == "# EOF" and text.endswith("# EOF\n")
    for line in lines[:-1]:
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ")
            assert family not in types, f"family {family} declared twice"
            types[family], current = kind, family
            continue
        if line.startswith("# HELP "):
            continue
        m = _SAMPLE.match(line)
        assert m, f"not an OpenMetrics sample: {line!r}"
        name, labels, value, ts = m.groups()
        assert name.startswith(current), f"{name} outside its family {current}"
        series[(name, labels or "")].append((int(ts), float(value)))
    return series, types


@pytest.fixture(scope="module")
def data():
    return tiny_dataset()


@pytest.fixture(scope="module")
def exported(data):
    text = to_openmetrics(data, scrape_interval="60s")
    return text, *_parse(text)


def test_families_and_types(exported):
    _, _, types = exported
    assert types == {
        "llm_request_duration_seconds": "histogram", "llm_ttft_seconds": "histogram",
        "llm_tokens": "counter", "llm_cost_usd": "counter", "llm_errors": "counter",
        "api_requests": "counter", "api_timeout": "counter",
        "llm_guardrail_decisions": "counter", "llm_hallucination_score": "histogram"}


def test_every_series_is_cumulative_on_one_grid(exported):
    _, series, _ = exported
    grids = {tuple(ts for ts, _ in samples) for samples in series.values()}
    assert len(grids) == 1
    grid = np.array(grids.pop())
    assert (np.diff(grid) == 60).all() and grid[0] % 60 == 0
    for key, samples in series.items():
        values = np.array([v for _, v in samples])
        assert (np.diff(values) >= -1e-9).all(), f"{key} decreases"


def test_counters_end_at_the_frames_totals(exported, data):
    _, series, _ = exported
    traces, obs = data["traces"], data["observations"]

    def final(prefix):
        return {k[1]: v[-1][1] for k, v in series.items() if k[0] == prefix}

    requests = final("api_requests_total")
    for status, n in traces["status"].value_counts().items():
        got = sum(v for lab, v in requests.items() if f'status="{status}"' in lab)
        assert got == n
    timeouts = final("api_timeout_total")
    assert len(timeouts) == traces["agent"].nunique()  # every agent, 0 included
    assert sum(timeouts.values()) == (traces["status"] == "timeout").sum()
    assert sum(final("llm_cost_usd_total").values()) == pytest.approx(obs["cost_usd"].sum())
    tokens = final("llm_tokens_total")
    assert sum(v for k, v in tokens.items() if "input" in k) == obs["input_tokens"].sum()
    blocks = sum(v for k, v in final("llm_guardrail_decisions_total").items() if "block" in k)
    refused = data["scores"].query("name == 'refusal' and value > 0.5")["trace_id"].nunique()
    assert blocks == refused


def test_histograms_are_consistent(exported, data):
    _, series, _ = exported
    by_group = defaultdict(dict)
    for (name, labels), samples in series.items():
        if name.startswith("llm_request_duration_seconds"):
            le = re.search(r'le="([^"]+)"', labels)
            group = re.sub(r',?le="[^"]+"', "", labels)
            suffix = name.rsplit("_", 1)[1]
            by_group[group][le.group(1) if le else suffix] = np.array([v for _, v in samples])
    n_roots = 0
    for group, parts in by_group.items():
        les = [str(float(b)) for b in DURATION_BUCKETS] + ["+Inf"]
        stacked = np.stack([parts[le] for le in les])
        assert (np.diff(stacked, axis=0) >= 0).all(), group  # buckets grow with le
        np.testing.assert_array_equal(parts["+Inf"], parts["count"])
        if 'operation="invoke_agent"' in group:
            n_roots += parts["count"][-1]
    assert n_roots == len(data["traces"])
    timeouts = sum(parts["+Inf"][-1] - parts["6.0"][-1] for g, parts in by_group.items()
                   if 'operation="invoke_agent"' in g and "planner-agent" in g)
    assert timeouts >= (data["traces"]["status"] == "timeout").sum()


def test_incident_shows_as_a_jump_in_the_cost_counter(exported):
    _, series, _ = exported
    tool = [np.array([v for _, v in s]) for (n, lab), s in series.items()
            if n == "llm_cost_usd_total" and "tool-agent" in lab]
    hourly = np.diff(sum(tool)[::60])  # USD per hour, from the 60 s grid
    assert hourly[2] > 5 * np.median(hourly[[0, 1, 3, 4]])


def test_label_values_are_escaped():
    data = tiny_dataset(hours=1, per_hour=6)
    obs = data["observations"].copy()
    obs.loc[obs["type"] == "tool", "tool_name"] = 'say "hi"\\now'
    text = to_openmetrics({**data, "observations": obs})
    assert 'tool="say \\"hi\\"\\\\now"' in text


def test_ttft_is_deterministic_and_never_longer_than_the_call():
    d = np.array([0.0, 0.05, 1.0, 10.0])
    np.testing.assert_allclose(ttft_seconds(d), [0.0, 0.05, 0.25, 2.05])


def test_writes_to_a_path_or_a_stream(tmp_path, data):
    small = tiny_dataset(hours=1, per_hour=6)
    text = to_openmetrics(small, path=tmp_path / "x.om")
    assert (tmp_path / "x.om").read_text() == text
    buf = io.StringIO()
    to_openmetrics(small, scrape_interval=30, path=buf)
    assert buf.getvalue().endswith("# EOF\n") and buf.getvalue() != text


@pytest.mark.parametrize("bad", ["0s", "1.5s", 0.5])
def test_bad_scrape_interval(bad, data):
    with pytest.raises(ValueError, match="scrape_interval"):
        to_openmetrics(data, scrape_interval=bad)


@pytest.mark.prometheus
def test_promtool_backfills_the_export(tmp_path, data):
    require_binaries()
    build_tsdb(to_openmetrics(data), tmp_path / "tsdb")
    blocks = [p for p in (tmp_path / "tsdb").iterdir() if (p / "meta.json").exists()]
    assert blocks
