"""N visitors at once on the hosted demo, as Streamlit Community Cloud runs it.

`streamlit run deploy/streamlit_app.py` with GS_HOSTED=1 on 127.0.0.1; N separate Chromium
browser contexts (one browser), started together, each doing Home -> "Try the demo dataset" ->
"Next: Train" -> Train (the default quality) -> wait for Finished -> "Next: Review the mistakes"
-> Sort 3 generated photos -> the download button. Reports, per visitor, whether it finished,
its error boxes and its time from pressing Train to a trained model (queue wait included), and
whether it was shown a place in line; for the server: its peak RSS (process tree, sampled every
0.1 s) and the tracebacks in its output.

    python -m bench load --visitors 4

Needs no ../shared (the demo dataset ships with the app); results go to bench/out/load-visitors-N.json.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .common import ROOT, save

sys.path.insert(0, str(ROOT))

ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
QUEUED = "Waiting for other work on this server"


async def _errors(page) -> list[str]:
    boxes = page.locator(ERRORS)
    return [await boxes.nth(k).inner_text() for k in range(await boxes.count())]


async def visitor(browser, url: str, k: int, photos: list[str], timeout_s: float) -> dict:
    """One visitor's walk; never raises: what went wrong is in the result."""
    out: dict = {"visitor": k, "finished": False, "errors": [], "step": "home", "queued_seen": False}
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await ctx.new_page()
    page.set_default_timeout(180_000)
    try:
        await page.goto(url)
        await page.get_by_role("button", name="Try the demo dataset").click()
        out["step"] = "data"
        await page.get_by_text("Images per class").wait_for()
        await page.get_by_role("link", name="Next: Train").click()
        out["step"] = "train"
        await page.get_by_role("heading", name="Train", exact=True).first.wait_for()
        await page.get_by_role("button", name="Train", exact=True).click()
        t0 = time.perf_counter()
        finished = page.get_by_text("Finished", exact=True)
        deadline = t0 + timeout_s
        while not await finished.count():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"no trained model after {timeout_s:.0f} s")
            if not out["queued_seen"] and await page.get_by_text(QUEUED, exact=False).count():
                out["queued_seen"] = True
                out["queue_text"] = await page.get_by_text(QUEUED, exact=False).first.inner_text()
            if await page.locator(ERRORS).count():
                raise RuntimeError("an error box appeared while training")
            await page.wait_for_timeout(500)
        out["trained_s"] = round(time.perf_counter() - t0, 1)
        await page.get_by_role("link", name="Next: Review the mistakes").click()
        out["step"] = "review"
        await page.get_by_text("Confusion matrix").wait_for()
        await page.get_by_role("link", name="Sort", exact=True).first.click()
        out["step"] = "sort"
        await page.get_by_role("heading", name="Sort", exact=True).first.wait_for()
        await page.get_by_role("tab", name="Upload images or a .zip").click()
        uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="Images or a .zip")
        await uploader.locator("input[type=file]").set_input_files(photos)
        await page.get_by_role("button", name=f"Sort {len(photos)} images").click()
        await page.get_by_role("button", name="Download sorted .zip").wait_for(timeout=timeout_s * 1000)
        out["step"] = "done"
        out["finished"] = True
    except Exception as exc:  # reported, not raised: the other visitors go on
        out["failure"] = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    finally:
        try:
            out["errors"] = await _errors(page)
        except Exception:
            pass
        out["finished"] = out["finished"] and not out["errors"]
        await ctx.close()
    return out


async def _crowd(url: str, n: int, photos: list[str], timeout_s: float) -> list[dict]:
    from playwright.async_api import async_playwright

    from tests.helpers.browser import CHROMIUM, CHROMIUM_FLAGS

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            return await asyncio.gather(*(visitor(browser, url, k, photos, timeout_s) for k in range(n)))
        finally:
            await browser.close()


def tracebacks(log: str) -> list[str]:
    """Each traceback in the server's output, as its last line (the exception) with the count of lines."""
    found = []
    for block in re.split(r"(?=Traceback \(most recent call last\))", log)[1:]:
        lines = [ln for ln in block.splitlines() if ln.strip()]
        last = next((ln for ln in lines[1:] if not ln.startswith((" ", "\t")) and not ln.startswith("Traceback")), "")
        found.append(last.strip() or lines[-1].strip())
    return found


def run(runs: int = 1, visitors: int = 1, timeout_s: float = 1800) -> dict:
    from tests.helpers.browser import HOSTED_ENTRY, start_app
    from tests.helpers.images import draw_image

    from .app_bench import RssSampler

    tmp = Path(tempfile.mkdtemp(prefix="gs-load-"))
    photos = []
    for k, kind in enumerate(["stripes", "dots", "plain"]):
        p = tmp / f"photo{k}.jpg"
        draw_image(kind, 40 + k, size=200).save(p)
        photos.append(str(p))
    log_path = tmp / "server.log"
    proc, url = start_app({"GS_HOSTED": "1"}, script=HOSTED_ENTRY, log_path=log_path)
    sampler = RssSampler(proc.pid)
    sampler.start()
    t = time.perf_counter()
    try:
        results = asyncio.run(_crowd(url, visitors, photos, timeout_s))
    finally:
        peak = sampler.stop()
        proc.terminate()
        try:
            proc.wait(15)
        except Exception:
            proc.kill()
    wall = time.perf_counter() - t
    log = log_path.read_text(errors="replace")
    trained = [r["trained_s"] for r in results if "trained_s" in r]
    summary = {
        "visitors": visitors,
        "entry": HOSTED_ENTRY,
        "finished": sum(r["finished"] for r in results),
        "error_boxes": sum(len(r["errors"]) for r in results),
        "server_tracebacks": tracebacks(log),
        "peak_rss_mb": round(peak, 1),
        "trained_median_s": round(statistics.median(trained), 1) if trained else None,
        "trained_worst_s": max(trained) if trained else None,
        "wall_s": round(wall, 1),
        "per_visitor": results,
    }
    path = save(f"load-visitors-{visitors}", summary)
    print(
        f"{visitors} visitor(s): {summary['finished']}/{visitors} finished, {summary['error_boxes']} error boxes, "
        f"{len(summary['server_tracebacks'])} server tracebacks, peak RSS {summary['peak_rss_mb']:.0f} MB, "
        f"time to a trained model: median {summary['trained_median_s']} s, worst {summary['trained_worst_s']} s"
    )
    for r in results:
        print(
            f"  visitor {r['visitor']}: {'finished' if r['finished'] else 'FAILED at ' + r['step']}"
            f"{', trained in ' + str(r['trained_s']) + ' s' if 'trained_s' in r else ''}"
            f"{', was queued (' + r.get('queue_text', '') + ')' if r['queued_seen'] else ''}"
            f"{'; ' + r['failure'] if 'failure' in r else ''}"
            f"{'; errors: ' + ' | '.join(r['errors']) if r['errors'] else ''}"
        )
    for tb in summary["server_tracebacks"]:
        print(f"  server traceback: {tb}")
    print(f"saved {path}")
    return summary
