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
