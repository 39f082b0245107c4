"""Concurrent first use of the pages' modules: two sessions' threads at once must not see half a module."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers.images import ROOT

# Two threads in a fresh interpreter, as two sessions opening their first pages at once: one page
# imports pandas (Review, Sort), the other draws a plotly chart, whose optional import of pandas
# returns sys.modules["pandas"] as soon as it is there, finished or not. Both go through ready()
# first, as every page does (pages/ui/nav.py, pages/home.py). Without the lock in ready(), the
# second thread reads pandas while the first still executes it: AttributeError on Series.
RACE = r"""
import sys, threading
sys.path.insert(0, ".")
sys.setswitchinterval(1e-6)  # switch threads as often as possible: widen the window of the race
errors = []
go = threading.Barrier(2)

def importer():
    try:
        go.wait()
        from pages.ui.preload import ready
        ready()
        import pandas
        pandas.Series([1])
    except BaseException as exc:
        errors.append(repr(exc))

def plotter():
    try:
        go.wait()
        from pages.ui.preload import ready
        ready()
        from _plotly_utils.optional_imports import get_module
        pd = None
        while pd is None:  # as soon as the other thread has put pandas in sys.modules
            pd = get_module("pandas", should_load=False) if "pandas" in sys.modules else None
        pd.Series
    except BaseException as exc:
        errors.append(repr(exc))

threads = [threading.Thread(target=importer), threading.Thread(target=plotter)]
for t in threads: t.start()
for t in threads: t.join(300)
print("ERRORS", errors)
"""


def test_two_first_visits_at_once_import_nothing_half_done():
    out = subprocess.run([sys.executable, "-c", RACE], cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert "ERRORS []" in out.stdout, (out.stdout, out.stderr[-3000:])


def test_ready_imports_what_the_pages_import_lazily():
    code = (
        "import sys; sys.path.insert(0, '.'); from pages.ui.preload import ready; ready(); "
        "print(all(m in sys.modules for m in ('pandas', 'torch', 'pytorch_grad_cam', 'core.analysis.explain', "
        "'pages.ui.charts', 'sklearn.cluster')))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.stdout.strip().endswith("True"), (out.stdout, out.stderr[-3000:])
