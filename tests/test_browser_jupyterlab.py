"""The runbook notebook and the trace explorer in a real JupyterLab, driven in Debian's Chromium.

JupyterLab runs on 127.0.0.1 with token auth over a temporary folder holding copies of the
notebooks (pointed at a small simulated store); every cell is run as a person would, and the test
reads what the page shows: widgets rendered (no "Error displaying widget"), plotly charts drawn,
dollar amounts not typeset as math, controls that change the output, and no console errors.
Screenshots are kept (see ``browser.artifacts_dir``)."""

import re

import nbformat
import pytest

from browser import artifacts_dir, chromium, require_chromium
from workbench import runbooks
from jupyterlab_server import JupyterLab
from workbench.reports.runner import notebooks_dir
from workbench.sources.local import LocalSource

pytestmark = [pytest.mark.browser, pytest.mark.notebook]

RUN_TIMEOUT_MS = 180_000
STEP_TIMEOUT_MS = 60_000

_PANEL = """name => Array.from(window.jupyterapp ? window.jupyterapp.shell.widgets('main') : [])
  .find(w => w.context && w.context.path === name && w.content && w.sessionContext)"""
_READY = f"name => !!({_PANEL})(name)"
_RUN = f"""async name => {{ const nb = ({_PANEL})(name); await nb.sessionContext.ready;
  window.jupyterapp.shell.activateById(nb.id);
  await window.jupyterapp.commands.execute('notebook:run-all-cells'); }}"""
_DONE = f"""name => {{ const nb = ({_PANEL})(name);
  const k = nb.sessionContext.session && nb.sessionContext.session.kernel;
  const code = nb.content.widgets.filter(c => c.model.type === 'code');
  return !!k && k.status === 'idle' && code.length > 0 &&
         code.every(c => c.model.executionCount !== null); }}"""
_PLOTS = """() => Array.from(document.querySelectorAll('.jp-OutputArea .js-plotly-plot'))
  .map(p => ({drawn: !!p.querySelector('.main-svg'),
              names: (p.data || []).map(t => t.name || ''),
              x0: (p.data || []).length && p.data[0].x && p.data[0].x.length ?
                  String(p.data[0].x[0]) : null}))"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    require_chromium()  # before minutes of set-up, not after
    from shared_datasets import demo_store

    return demo_store(tmp_path_factory.mktemp("lab-store") / "demo", days=6,
                      traces_per_day=2000)


@pytest.fixture(scope="module")
def labels(store):
    return {r.runbook: r for r in LocalSource(store).labels().itertuples()}


def copy_notebook(src, dst, **params):
    """``src`` with its parameters cell pointed at ``params`` (values as Python literals)."""
    nb = nbformat.read(src, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for name, value in params.items():
        cell.source, n = re.subn(rf"^{name} = .*$", f"{name} = {value!r}", cell.source,
                                 flags=re.MULTILINE)
        assert n == 1, name
    nbformat.write(nb, dst)


@pytest.fixture(scope="module")
def lab(store, labels, tmp_path_factory):
    root = tmp_path_factory.mktemp("lab-root")
    cost = labels["cost_spike"]
    copy_notebook(notebooks_dir() / "runbooks" / "cost_spike.ipynb", root / "cost_spike.ipynb",
                  start=f"{cost.start:%Y-%m-%dT%H:%MZ}", end=f"{cost.end:%Y-%m-%dT%H:%MZ}",
                  data_dir=str(store), interactive=True)
    timeout = labels["timeout_surge"]
    copy_notebook(notebooks_dir() / "trace_explorer.ipynb", root / "trace_explorer.ipynb",
                  start=f"{timeout.start:%Y-%m-%dT%H:%MZ}",
                  end=f"{timeout.end:%Y-%m-%dT%H:%MZ}", data_dir=str(store), interactive=True)
    server = JupyterLab(root, tmp_path_factory.mktemp("lab-work"))
    with server:
        yield server


@pytest.fixture
def page(lab):
    """A Chromium page on the JupyterLab server, recording console errors and page errors."""
    with chromium() as browser:
        pg = browser.new_page(viewport={"width": 1400, "height": 1600})
        pg.errors = []
        pg.on("console", lambda m: pg.errors.append(f"console.{m.type}: {m.text}")
              if m.type == "error" else None)
        pg.on("pageerror", lambda e: pg.errors.append(f"uncaught: {e}"))
        pg.on("dialog", lambda d: (pg.errors.append(f"dialog: {d.message}"), d.dismiss()))
        yield pg
        pg.close()


def run_all(page, lab, name):
    """Open ``name`` in a fresh workspace and run all its cells, as Run > Run All Cells does."""
    page.goto(lab.url(f"lab/workspaces/{name.split('.')[0]}/tree/{name}") + "&reset")
    try:
        page.wait_for_function(_READY, arg=name, timeout=STEP_TIMEOUT_MS)
        page.evaluate(_RUN, name)
        page.wait_for_function(_DONE, arg=name, timeout=RUN_TIMEOUT_MS, polling=500)
    except Exception:
        page.screenshot(path=str(artifacts_dir() / f"lab-{name}-failed.png"))
        raise


def output_of(page, n):
    """The output area of the ``n``-th code cell (0-based)."""
    return page.locator(".jp-CodeCell").nth(n).locator(".jp-Cell-outputArea")


def shot(locator, name):
    path = artifacts_dir() / name
    locator.screenshot(path=str(path))
    return path


def assert_widgets_rendered(page):
    assert page.get_by_text("Error displaying widget").count() == 0
    assert page.locator(".jp-OutputArea .jupyter-widgets").count() > 0


def test_runbook_notebook_runs_renders_and_follows_a_new_window(page, lab, labels):
    cost, timeout = labels["cost_spike"], labels["timeout_surge"]
    run_all(page, lab, "cost_spike.ipynb")
    assert_widgets_rendered(page)
    summary = output_of(page, 2)  # 0: parameters, 1: set-up, 2: board.summary()
    assert f"Window {cost.start:%Y-%m-%d %H:%M}" in summary.inner_text()
    boxes = summary.locator(".widget-text input")
    assert boxes.count() == 2
    assert boxes.nth(0).input_value() == f"{cost.start:%Y-%m-%dT%H:%MZ}"

    plots = page.evaluate(_PLOTS)
    assert len(plots) == 3 and all(p["drawn"] for p in plots)  # signals, suspects, waterfall
    # Dollar amounts read as written: nothing in the outputs is typeset as math.
    page.wait_for_timeout(1500)  # MathJax typesets asynchronously
    assert re.search(r"\$0\.\d+ against \$0\.\d+ expected", summary.inner_text())
    assert page.locator(".jp-OutputArea mjx-container").count() == 0
    steps = runbooks.load("cost_spike").spec["investigation"]
    labels_shown = page.locator(".widget-checkbox").all_inner_texts()
    assert [t.strip() for t in labels_shown[:len(steps)]] == steps  # labels as written
    shot(summary, "lab-runbook-summary.png")
    shot(output_of(page, 4), "lab-runbook-attribution.png")

    boxes.nth(0).fill(f"{timeout.start:%Y-%m-%dT%H:%MZ}")
    boxes.nth(1).fill(f"{timeout.end:%Y-%m-%dT%H:%MZ}")
    summary.get_by_role("button", name="Apply").click()
    summary.get_by_text(f"Window {timeout.start:%Y-%m-%d %H:%M}").wait_for(
        timeout=STEP_TIMEOUT_MS)
    page.wait_for_function(f"() => ({_PLOTS})()[0].x0 !== {plots[0]['x0']!r}",
                           timeout=STEP_TIMEOUT_MS)
    after = page.evaluate(_PLOTS)
    assert len(after) == 3 and all(p["drawn"] for p in after)
    assert after[0]["x0"] != plots[0]["x0"]  # the signals chart redrawn for the new window
    assert "Error" not in summary.locator(".widget-html").first.inner_text()
    shot(summary, "lab-runbook-new-window.png")
    assert page.errors == []


def test_trace_explorer_filters_redraw_the_table_and_the_scatter(page, lab, labels):
    run_all(page, lab, "trace_explorer.ipynb")
    assert_widgets_rendered(page)
    out = output_of(page, 2)  # 0: parameters, 1: set-up, 2: browser.show()
    selects = out.locator(".widget-dropdown select")
    assert selects.count() == 3  # agent, model, status
    for i in range(3):
        assert selects.nth(i).locator("option").first.inner_text() == "(any)"
    before = re.search(r"([\d,]+) traces match", out.inner_text()).group(1)
    plots = page.evaluate(_PLOTS)
    assert len(plots) == 2 and all(p["drawn"] for p in plots)  # scatter, waterfall
    assert set(plots[0]["names"]) >= {"ok", "timeout"}
    shot(out, "lab-explorer.png")

    selects.nth(2).select_option(label="timeout")
    page.wait_for_function(f"() => !document.body.innerText.includes('{before} traces match')",
                           timeout=STEP_TIMEOUT_MS)
    after = int(re.search(r"([\d,]+) traces? match", out.inner_text()).group(1)
                .replace(",", ""))
    assert 0 < after < int(before.replace(",", ""))
    cells = out.locator(".jp-RenderedHTMLCommon table tbody tr td:nth-child(5)")
    assert cells.count() > 0 and set(cells.all_inner_texts()) == {"timeout"}
    page.wait_for_function(f"() => ({_PLOTS})()[0].names.join() === 'timeout'",
                           timeout=STEP_TIMEOUT_MS)
    shot(out, "lab-explorer-timeouts.png")
    assert page.errors == []
