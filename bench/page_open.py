"""Does watching a run slow it down? Training time with the Train page open against closed.

The Train page redraws its progress and chart every second while a run trains (an
``st.fragment`` polling the job's snapshot, in the server process that also trains). Here the
same recipe (demo data, the last block and the head fine-tuned on cached inputs, so an epoch
takes a second or two and any cost of the page shows) trains with the page open the whole time, and with the user gone to Home right after pressing
Train. The time is the run's own ``train_seconds`` from the runs table. Open and closed
alternate, their order swapped each pair, so the VM's drift cancels in the per-pair ratio.

    python -m bench page-open [--runs N]
"""

from __future__ import annotations

import re
import sys
import time

from .common import ROOT, median, paired_ratio, save

sys.path.insert(0, str(ROOT))
EPOCHS = 20
LAYERS = "last block + head"  # cached inputs: an epoch is seconds, so the page's own cost would show


def _newest_seconds(pg) -> float:
    row = pg.locator('[data-testid="stTable"] tbody tr').first.inner_text()
    return float(re.search(r"(\d+) s\b", row).group(1))


def _newest_row(pg) -> str:
    rows = pg.locator('[data-testid="stTable"] tbody tr')
    return rows.first.inner_text() if rows.count() else ""


def _one(pg, open_page: bool, wait_hint: float) -> float:
    before = _newest_row(pg)
    pg.get_by_role("button", name="Train", exact=True).click()
    pg.get_by_text("Stop", exact=True).first.wait_for()
    if open_page:
        pg.get_by_text("Finished", exact=True).wait_for()
    else:
        pg.get_by_role("link", name="Home", exact=True).first.click()  # Home's heading is the app's name
        pg.get_by_role("heading", name="Gallery Sorter", exact=True).first.wait_for()
        time.sleep(wait_hint)  # away from the page; the run's own clock is what is measured
        pg.get_by_role("link", name="Train", exact=True).first.click()
    # a run that ended while the page was closed is collected into the runs table on return
    for _ in range(600):
        if _newest_row(pg) not in ("", before):
            break
        time.sleep(0.5)
    time.sleep(1.5)
    return _newest_seconds(pg)


def run(runs: int = 3) -> None:
    from playwright.sync_api import sync_playwright

    from tests.helpers.browser import (
        CHROMIUM,
        CHROMIUM_FLAGS,
        nav,
        open_demo,
        start_app,
        start_training,
        use_custom_recipe,
    )

    opened, closed = [], []
    proc, url = start_app()
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            pg = b.new_page(viewport={"width": 1400, "height": 1000})
            pg.set_default_timeout(900_000)
            open_demo(pg, url)
            nav(pg, "Train")
            use_custom_recipe(pg)
            pg.get_by_label("Layers to train").click()
            pg.get_by_role("option", name=LAYERS, exact=True).click()
            pg.wait_for_timeout(800)
            start_training(pg, epochs=EPOCHS)  # a warm-up run: first decodes, first ONNX/torch start-up
            pg.get_by_text("Finished", exact=True).wait_for()
            hint = 1.3 * _newest_seconds(pg) + 5
            for k in range(runs):
                for open_page in (True, False) if k % 2 == 0 else (False, True):
                    s = _one(pg, open_page, hint)
                    (opened if open_page else closed).append(s)
                    print(f"  run {k} page {'open' if open_page else 'closed'}: {s:.0f} s", flush=True)
            b.close()
    finally:
        proc.terminate()
        proc.wait(20)
    ratio = paired_ratio(opened, closed)
    save(
        "page-open",
        {
            "command": f"python -m bench page-open --runs {runs}",
            "title": "Training with the Train page open against closed",
            "markdown": (
                f"Demo data, {LAYERS}, {EPOCHS} epochs, run time from the runs table "
                f"(whole seconds), {runs} pairs, order swapped each pair.\n\n"
                f"| page | median train s |\n|---|---|\n| open | {median(opened):.0f} |\n"
                f"| closed | {median(closed):.0f} |\n\n"
                f"Open / closed, median of per-pair ratios: **{ratio:.2f}** (target ≤ 1.2: "
                f"{'met' if ratio <= 1.2 else '**not met**'})."
            ),
            "open_s": opened,
            "closed_s": closed,
            "ratio": ratio,
        },
    )
