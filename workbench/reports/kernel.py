"""The kernel a report runs in: ipykernel, ending without freeing its objects one by one.

:func:`argv` starts the same IPython kernel as ``python -m ipykernel_launcher``. Once the kernel
has answered its shutdown request and its main loop has returned cleanly, the interpreter would join its threads, run the exit hooks and then tear down
every module and object (pandas, Arrow, the report's frames): a few tenths of a second in which
nothing is written. Here the threads are joined and the exit hooks run as usual (IPython's
history among them), the standard streams are flushed, and the process then ends, leaving the
memory to the operating system. A kernel that fails keeps Python's ordinary exit and status.

The kernel's cyclic garbage collector looks at the youngest objects once
:data:`YOUNG_COLLECTION` more container objects are alive than at its last pass, instead of
Python's 700: importing pandas and building a daily report otherwise runs it about 250 times,
each pass walking the objects made since and every tenth the older ones too (0.05-0.1 s of a
report on the demo week). Reference cycles are still collected, less often.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys

__all__ = ["argv", "main"]

# Started with ``-c``, not ``-m``: ``-m`` would look for ``workbench`` in the working folder
# first (a checkout there would win over the copy that asked for the report); with ``-c`` the
# folder is the empty first entry of ``sys.path``, taken off before anything is imported, as
# ipykernel_launcher does (IPython puts it back for the notebook's own code).
_BOOT = ("import sys\n"
         "if sys.path[:1] == ['']:\n"
         "    del sys.path[0]\n"
         "from workbench.reports.kernel import main\n"
         "main()\n")

_clean_exit = False

#: Allocations between two collections of the youngest generation (Python's default: 700).
YOUNG_COLLECTION = 50_000


def _end_without_teardown() -> None:
    """Registered before any other exit hook, so it runs after all of them."""
    if not _clean_exit:
        return
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):  # closed, or its pipe gone: nothing left to keep
            pass
    os._exit(0)


def argv(python: str) -> list[str]:
    """The kernelspec ``argv`` of this kernel on interpreter ``python``."""
    return [python, "-c", _BOOT, "-f", "{connection_file}"]


def main() -> None:
    """Run the kernel (its options, ``-f <connection file>``, from ``sys.argv``)."""
    global _clean_exit
    atexit.register(_end_without_teardown)
    gc.set_threshold(YOUNG_COLLECTION, *gc.get_threshold()[1:])
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()
    _clean_exit = True
