"""The report kernel's own settings, seen from inside a notebook it runs."""

from __future__ import annotations

import gc

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from workbench.reports import run_notebook
from workbench.reports.kernel import YOUNG_COLLECTION


@pytest.mark.notebook
def test_kernel_collects_young_objects_less_often_and_still_collects_cycles(tmp_path):
    nb = tmp_path / "gc.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(
        "import gc\n"
        "gc.collect()\n"
        "class Node:\n"
        "    pass\n"
        "for _ in range(3):\n"
        "    a, b = Node(), Node()\n"
        "    a.other, b.other = b, a\n"
        "del a, b\n"
        "print(gc.isenabled(), gc.get_threshold()[0], gc.collect() >= 6)")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}}), nb)
    ran = nbformat.read(run_notebook(nb, {}, tmp_path / "out"), as_version=4)
    assert ran.cells[-1].outputs[0]["text"].split() == ["True", str(YOUNG_COLLECTION), "True"]
    assert YOUNG_COLLECTION > gc.get_threshold()[0]  # this process keeps Python's default


@pytest.mark.notebook
def test_a_finished_run_leaves_no_kernel_error_on_stderr(tmp_path, capfd, monkeypatch):
    """jupyter_client interrupts a kernel before asking it to shut down; the idle kernel of a
    finished run logged "ERROR | KeyboardInterrupt caught in kernel." on the stderr of every
    report, which a scheduler mails as a failure (the runbook notebooks' widgets import is
    enough to show it)."""
    from jupyter_client.manager import KernelManager

    interrupts = []

    async def record(self):
        interrupts.append(self.shutting_down)

    # the log line depends on when the SIGINT lands; the interrupt itself is what to avoid
    monkeypatch.setattr(KernelManager, "_async_interrupt_kernel", record)
    nb = tmp_path / "ok.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell(
        "from workbench import widgets  # noqa: F401\nprint('done')")], metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}),
        nb)
    ran = nbformat.read(run_notebook(nb, {}, tmp_path / "out"), as_version=4)
    assert ran.cells[-1].outputs[0]["text"] == "done\n"
    assert "KeyboardInterrupt" not in capfd.readouterr().err
    assert interrupts == []
