"""A real Prometheus for tests: a TSDB backfilled with promtool, served on 127.0.0.1.

``require_binaries()`` skips a test when ``prometheus``/``promtool`` are missing, but fails it when
``CI=true``: a test that needs the real server must run in CI, never be skipped there.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from server_process import ServerProcess, free_port, require

__all__ = ["DEMO", "CannedServer", "PrometheusServer", "build_tsdb", "demo_tsdb", "free_port", "serve_demo",
           "require_binaries", "tiny_dataset"]

_CONFIG = "global:\n  scrape_interval: 1h\n  evaluation_interval: 1h\nscrape_configs: []\n"


def require_binaries() -> tuple[str, str]:
    """Paths of ``prometheus`` and ``promtool``; skip (locally) or fail (CI) without them."""
    prometheus, promtool = require(["prometheus", "promtool"], "prometheus")
    return prometheus, promtool


def build_tsdb(openmetrics: str | Path, tsdb_dir: Path, *, block_hours: int = 24) -> Path:
    """Backfill ``tsdb_dir`` from an OpenMetrics text or file with promtool; returns the dir."""
    _, promtool = require_binaries()
    tsdb_dir = Path(tsdb_dir)
    tsdb_dir.mkdir(parents=True, exist_ok=True)
    path = Path(openmetrics) if isinstance(openmetrics, Path) else None
    if path is None:
        path = tsdb_dir.parent / f"{tsdb_dir.name}.om.txt"
        path.write_text(openmetrics)
    proc = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics",
         f"--max-block-duration={block_hours}h", str(path), str(tsdb_dir)],
        capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError(f"promtool failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return tsdb_dir


class PrometheusServer(ServerProcess):
    """``prometheus`` over an existing TSDB dir on a free 127.0.0.1 port; a context manager."""

    name = "prometheus"

    def __init__(self, tsdb_dir: Path, workdir: Path) -> None:
        super().__init__(workdir)
        self.tsdb_dir = Path(tsdb_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, ready_timeout: float = 60.0) -> PrometheusServer:
        prometheus, _ = require_binaries()
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(_CONFIG)
        self._spawn([prometheus, f"--config.file={config}",
                     f"--storage.tsdb.path={self.tsdb_dir}",
                     "--storage.tsdb.retention.time=100y",  # the demo dates are in the past
                     f"--web.listen-address=127.0.0.1:{self.port}",
                     "--query.lookback-delta=5m"],
                    ready=self._ready, timeout=ready_timeout, interval=0.2)
        return self

    def _ready(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:
            return r.status == 200


def tiny_dataset(start: str = "2026-11-02", hours: int = 6, per_hour: int = 60,
                 seed: int = 3) -> dict:
    """A small hand-built canonical dataset: one root, one generation, one tool span per trace.

    Deterministic; tool-agent's traces cost 10x from hour 2 to 3 and planner-agent's time out
    from hour 4 to 5, so the series have known incidents without the simulator.
    """
    import numpy as np
    import pandas as pd

    from workbench import schema

    rng = np.random.default_rng(seed)
    n = hours * per_hour
    t0 = pd.Timestamp(start, tz="UTC")
    starts = t0 + pd.to_timedelta(np.sort(rng.uniform(0, hours * 3600, n)), unit="s")
    agents = np.array(["rag-agent", "tool-agent", "planner-agent"])[np.arange(n) % 3]
    hour = ((starts - t0).total_seconds() // 3600).to_numpy()
    gen_d = rng.uniform(0.5, 2.0, n)
    tool_d = rng.uniform(0.1, 1.0, n)
    timeout = (agents == "planner-agent") & (hour == 4)
    tool_d = np.where(timeout, 8.0 - gen_d, tool_d)
    cost = np.where((agents == "tool-agent") & (hour == 2), 0.02, 0.002)
    rows = []
    for i in range(n):
        tid = f"{i:032x}"
        s = starts[i]
        g_end = s + pd.Timedelta(seconds=gen_d[i])
        t_end = g_end + pd.Timedelta(seconds=tool_d[i])
        base = dict(trace_id=tid, agent=agents[i], environment="production", level="DEFAULT")
        rows.append({**base, "observation_id": f"{3 * i:016x}", "parent_observation_id": None,
                     "start_time": s, "end_time": t_end, "name": "request", "type": "agent",
                     "level": "ERROR" if timeout[i] else "DEFAULT",
                     "error_type": "timeout" if timeout[i] else None})
        rows.append({**base, "observation_id": f"{3 * i + 1:016x}",
                     "parent_observation_id": f"{3 * i:016x}", "start_time": s,
                     "end_time": g_end, "name": "llm", "type": "generation",
                     "model": "gpt-4o" if i % 2 else "claude-sonnet", "input_tokens": 1000,
                     "output_tokens": 200, "total_tokens": 1200, "cost_usd": cost[i]})
        rows.append({**base, "observation_id": f"{3 * i + 2:016x}",
                     "parent_observation_id": f"{3 * i:016x}", "start_time": g_end,
                     "end_time": t_end, "name": "tool", "type": "tool",
                     "tool_name": "web_fetch" if agents[i] == "planner-agent" else "search_api"})
    obs = pd.DataFrame(rows)
    obs["duration_s"] = (obs["end_time"] - obs["start_time"]).dt.total_seconds()
    obs = schema.conform(obs, "observations")
    traces = schema.traces_from_observations(obs)
    ends = traces.set_index("trace_id")["end_time"]
    tids = traces["trace_id"].to_numpy()
    hall = np.where(np.arange(len(tids)) % 10 == 0, 0.9, 0.1)
    refusal = np.where(np.arange(len(tids)) % 25 == 0, 1.0, 0.0)
    scores = pd.DataFrame({
        "score_id": [f"h{i}" for i in range(len(tids))] + [f"r{i}" for i in range(len(tids))],
        "trace_id": np.concatenate([tids, tids]),
        "timestamp": pd.concat([ends.loc[tids], ends.loc[tids]]).to_numpy(),
        "name": ["hallucination"] * len(tids) + ["refusal"] * len(tids),
        "value": np.concatenate([hall, refusal]),
        "data_type": ["NUMERIC"] * len(tids) + ["BOOLEAN"] * len(tids),
        "source": "EVAL",
    })
    return {"observations": obs, "traces": traces,
            "scores": schema.conform(scores, "scores")}


#: The demo the real-server tests backfill: small, with the three default incidents in it.
DEMO = {"seed": 7, "days": 3, "traces_per_day": 2000, "start": "2026-11-02"}


@lru_cache(maxsize=1)
def demo_tsdb() -> tuple[Path, object]:
    """(TSDB dir, dataset) of the demo, built once per test process and removed at exit."""
    import atexit

    from workbench.simulate import generate
    from workbench.simulate.openmetrics import to_openmetrics

    require_binaries()
    root = Path(tempfile.mkdtemp(prefix="wb-prom-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    import warnings

    with warnings.catch_warnings():
        # The simulator's own tests own its warnings; this fixture only needs its data.
        warnings.filterwarnings("ignore", message=r"Timestamp\.dayofweek is deprecated")
        dataset = generate(**DEMO)
    om = root / "demo.om.txt"
    to_openmetrics(dataset, scrape_interval="60s", path=om)
    return build_tsdb(om, root / "tsdb"), dataset


def serve_demo(workdir: Path) -> PrometheusServer:
    """A started server over a private copy of the demo TSDB (servers never share a dir)."""
    tsdb, _ = demo_tsdb()
    copy = Path(workdir) / "tsdb"
    shutil.copytree(tsdb, copy)
    return PrometheusServer(copy, Path(workdir) / "server").start()


class CannedServer:
    """A tiny local HTTP server answering every request with one status and body, optionally
    after a delay: the faults a real Prometheus will not produce on demand."""

    def __init__(self, status: int = 200, body: bytes = b"", delay_s: float = 0.0,
                 content_type: str = "application/json") -> None:
        self.requests = 0
        canned = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                canned.requests += 1
                time.sleep(delay_s)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up first, as a timeout test wants

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)

    def __enter__(self) -> CannedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
