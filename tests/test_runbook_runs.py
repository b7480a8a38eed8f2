"""``workbench runbook`` runs as safely as the daily report: a lock per incident name and out
folder, staging and publishing together, the run's budget handed to the kernel."""

from __future__ import annotations

import json
import os
import re
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest

from workbench.cli import EXIT_BAD_INPUT, EXIT_FAILED, main
from workbench.deadline import ENV_DEADLINE, Deadline
from workbench.errors import ReportError
from workbench.reports import runner
from workbench.reports.runbook import incident_stem, notebook_path, run_runbook
from workbench.runbooks import load
from workbench.sources.local import LocalSource


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    from shared_datasets import demo_store

    return demo_store(tmp_path_factory.mktemp("rbruns") / "demo", days=8, traces_per_day=600)


@pytest.fixture(scope="module")
def window(store):
    lab = LocalSource(store).labels().set_index("runbook").loc["cost_spike"]
    return lab["start"], lab["end"]


def names(folder: Path) -> dict[str, bytes]:
    """Every entry of ``folder``, hidden ones (staging folders) included, with its bytes."""
    return {p.name: p.read_bytes() if p.is_file() else b"<folder>" for p in folder.iterdir()}


class FakeKernel:
    """Stands in for papermill and nbconvert: each run writes a notebook, a summary naming the
    run, and an HTML; ``gate`` (when given) holds a run inside its execution until set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[str] = []
        self.gates: dict[str, threading.Event] = {}
        self.inside = threading.Event()
        monkeypatch.setattr(runner, "run_notebook", self.run_notebook)
        monkeypatch.setattr(runner, "render_report", self.render_report)

    def run_notebook(self, nb, params, out, *, output_name, **_):
        run = threading.current_thread().name
        self.events.append(f"{run} starts")
        self.inside.set()
        if run in self.gates:
            assert self.gates[run].wait(120)
        Path(params["summary_path"]).write_text(json.dumps({"report": "runbook", "run": run}))
        (out / output_name).write_text(json.dumps({"run": run}))
        self.events.append(f"{run} ends")
        return out / output_name

    def render_report(self, executed, html, **_):
        html.write_text(f"<p>{threading.current_thread().name}</p>")
        return SimpleNamespace(html=html, redaction={})


def in_thread(name: str, fn, *args, **kwargs):
    """Start ``fn`` in thread ``name``; ``.result`` holds its return value or exception."""
    box = SimpleNamespace(result=None)

    def run():
        try:
            box.result = fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - handed to the test
            box.result = exc

    box.thread = threading.Thread(target=run, name=name, daemon=True)
    box.thread.start()
    return box


class LockWaits:
    """The runner's clock, noting that a run found its lock taken (it sleeps only then)."""

    def __init__(self) -> None:
        self.seen = threading.Event()

    def __getattr__(self, name):
        return getattr(time, name)

    def sleep(self, seconds: float) -> None:
        self.seen.set()
        time.sleep(seconds)


def test_two_runs_of_one_incident_take_turns(store, window, tmp_path, monkeypatch):
    """The second run of the same window and agent waits for the first's lock (within its
    budget), then runs and publishes its own complete set."""
    kernel = FakeKernel(monkeypatch)
    waits = LockWaits()
    monkeypatch.setattr(runner, "time", waits)
    out = tmp_path / "out"
    stem = incident_stem("cost_spike", window[0])
    kernel.gates["first"] = threading.Event()
    first = in_thread("first", run_runbook, "cost_spike", *window, "local", store, out)
    assert kernel.inside.wait(60)  # the first run holds the lock, inside its notebook
    second = in_thread("second", run_runbook, "cost_spike", *window, "local", store, out,
                       budget_s=300)
    assert waits.seen.wait(60)  # the second found the lock taken and is waiting
    assert kernel.events == ["first starts"]
    kernel.gates["first"].set()
    first.thread.join(120)
    second.thread.join(120)
    assert first.result == second.result == out / f"{stem}.html"
    assert kernel.events == ["first starts", "first ends", "second starts", "second ends"]
    assert sorted(names(out)) == [f"{stem}.html", f"{stem}.ipynb", f"{stem}.summary.json"]
    summary = json.loads((out / f"{stem}.summary.json").read_text())
    assert summary["run"] == "second" and (out / f"{stem}.html").read_text() == "<p>second</p>"
    assert summary["outputs"] == {"html": str(out / f"{stem}.html"),
                                  "notebook": str(out / f"{stem}.ipynb")}


def test_a_run_whose_lock_stays_taken_fails_within_its_budget_naming_the_lock(
        store, window, tmp_path, monkeypatch):
    kernel = FakeKernel(monkeypatch)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier")
    stem = incident_stem("cost_spike", window[0])
    with runner.slot_lock(out.resolve(), stem, Deadline(None)) as lock:  # a run still going
        with pytest.raises(ReportError) as err:
            run_runbook("cost_spike", *window, "local", store, out, budget_s=0.5)
    message = str(err.value)
    assert f"another run of {stem} into {out.resolve()} is still going" in message
    assert f"gave up waiting for its lock {lock}" in message and lock.name.startswith(stem)
    assert kernel.events == []  # no kernel started
    assert names(out) == {"keep.txt": b"earlier"}


def test_runs_of_two_agents_of_one_window_do_not_wait_for_each_other(store, window, tmp_path,
                                                                    monkeypatch):
    FakeKernel(monkeypatch)
    out = tmp_path / "out"
    out.mkdir()
    with runner.slot_lock(out.resolve(), incident_stem("cost_spike", window[0]), Deadline(None)):
        html = run_runbook("cost_spike", *window, "local", store, out, agent="support-bot",
                           budget_s=30)
    assert html.name == incident_stem("cost_spike", window[0], "support-bot") + ".html"


@pytest.mark.notebook
def test_a_render_failing_after_the_notebook_ran_publishes_nothing_new(store, window, tmp_path,
                                                                       monkeypatch):
    """The kernel wrote this run's summary, then rendering failed: the earlier HTML, summary
    and notebook of that name stay byte for byte, and no staging folder is left."""
    out = tmp_path / "out"
    stem = incident_stem("cost_spike", window[0])
    html = run_runbook("cost_spike", *window, "local", store, out)
    before = names(out)
    assert sorted(before) == [f"{stem}.html", f"{stem}.ipynb", f"{stem}.summary.json"]
    assert html == out.resolve() / f"{stem}.html"
    written = []

    def failing_render(executed, html, **_):
        written.append(json.loads((executed.parent / f"{stem}.summary.json").read_text()))
        raise ReportError("nbconvert failed: template not found")

    monkeypatch.setattr(runner, "render_report", failing_render)
    with pytest.raises(ReportError, match="nbconvert failed"):
        run_runbook("cost_spike", *window, "local", store, out)
    earlier = json.loads(before[f"{stem}.summary.json"])
    assert len(written) == 1 and written[0]["runbook"] == "cost_spike"
    assert written[0]["generated_at"] != earlier["generated_at"]  # this run's notebook ran
    assert names(out) == before


def _edited_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str) -> None:
    """cost_spike's notebook with ``old`` replaced by ``new`` in its code, found through
    ``$WORKBENCH_NOTEBOOKS``."""
    nb = nbformat.read(notebook_path(load("cost_spike")), as_version=4)
    cell = next(c for c in nb.cells if old in c.source)
    cell.source = cell.source.replace(old, new)
    folder = tmp_path / "notebooks"
    (folder / "runbooks").mkdir(parents=True)
    nbformat.write(nb, folder / "runbooks" / "cost_spike.ipynb")
    monkeypatch.setenv("WORKBENCH_NOTEBOOKS", str(folder))


@pytest.mark.notebook
def test_the_kernel_receives_the_runs_deadline(store, window, tmp_path, monkeypatch):
    """The kernel's pulls obey the run's budget (less the part kept for rendering): the
    deadline reaches it as ``WORKBENCH_DEADLINE_AT``, and leaves this process's environment."""
    monkeypatch.delenv(ENV_DEADLINE, raising=False)
    _edited_notebook(tmp_path, monkeypatch, "inv = load(start, end)",
                     "import os\nprint('deadline at', os.environ.get('WORKBENCH_DEADLINE_AT'))\n"
                     "inv = load(start, end)")
    out = tmp_path / "out"
    started = time.time()
    html = run_runbook("cost_spike", *window, "local", store, out, budget_s=900)
    executed = nbformat.read(html.with_suffix(".ipynb"), as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code"
                   for o in c.outputs)
    found = re.search(r"deadline at (\d+\.\d+)", text)
    assert found, text  # "deadline at None": the kernel was given no deadline
    at = float(found.group(1))
    assert started < at <= started + 900  # the run's budget, not the default 1200 s
    assert ENV_DEADLINE not in os.environ


@pytest.mark.notebook
def test_a_runbook_run_past_its_budget_is_stopped_and_publishes_nothing(store, window, tmp_path,
                                                                        monkeypatch, capsys):
    _edited_notebook(tmp_path, monkeypatch, "inv = load(start, end)",
                     "import time\ntime.sleep(120)\ninv = load(start, end)")
    out = tmp_path / "out"
    code = main(["runbook", "cost_spike", "--start", window[0].isoformat(),
                 "--end", window[1].isoformat(), "--data", str(store), "--out", str(out),
                 "--budget", "8"])
    assert code == EXIT_FAILED
    assert "ran past its 8 s budget" in capsys.readouterr().err
    assert names(out) == {}  # no HTML, summary or staging folder


def test_runbook_budget_out_of_range_is_bad_input(store, window, tmp_path, capsys):
    code = main(["runbook", "cost_spike", "--start", window[0].isoformat(),
                 "--end", window[1].isoformat(), "--data", str(store),
                 "--out", str(tmp_path / "out"), "--budget", "0"])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT and "between 1 and 86400" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.notebook
def test_an_agent_without_traces_is_bad_input_and_the_kept_notebook_is_where_it_says(
        store, window, tmp_path, capsys):
    """The notebook refuses an agent with no traces (its kernel raises ConfigError): exit 2,
    like any bad input, and the message names the failed notebook where it now is, in the out
    folder, not in the staging folder it was moved from."""
    out = tmp_path / "out"
    code = main(["runbook", "cost_spike", "--start", window[0].isoformat(),
                 "--end", window[1].isoformat(), "--data", str(store), "--out", str(out),
                 "--agent", "nobody"])
    err = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT, err
    assert "ConfigError: agent 'nobody' has no traces" in err
    kept = out / f"{incident_stem('cost_spike', window[0], 'nobody')}-err.ipynb"
    assert kept.is_file() and f"(executed notebook kept at {kept})" in err
    assert ".staging" not in err
