"""Visitors arriving and leaving the hosted demo for MINUTES: does the server's memory come back?

The hosted entry as in bench/load_visitors.py, started with GS_SESSION_IDLE_S=120 (a session
expires after two idle minutes instead of two hours, so the bench can wait for it). One visit to
the Data page first imports the engine (the preload every server does on its first visit); then
the server's idle RSS is taken. Then a new visitor every 60-90 s (seeded), each doing the walk of
load_visitors.visitor (demo data -> Train -> Review -> Sort 3 photos) in its own Chromium context,
closed when done, until MINUTES have passed; then no one comes, and after their sessions have
expired (Streamlit drops a disconnected session after 120 s, the registry sweeps every 30 s) the
server's RSS is taken again. Target: back within 10% of idle.

The first visitor comes alone, and the soak waits for its session to expire before the others
come: the level then (``after_first_mb``) is what one visit leaves behind. What the other visitors
add beyond it is what grows with visitors; what it adds to idle is state a process keeps after its
first use of the engine (libraries' caches, code pages), which no release can hand back.

    python -m bench load --soak 15

Results go to bench/out/load-soak-MINUTES.json, with the RSS trace every 10 s.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from .common import save
from .load_visitors import ERRORS, describe, sort_photos, tracebacks, visitor

SESSION_IDLE_S = 120
ARRIVAL_S = (60.0, 90.0)
SETTLE_S = 20  # after the preload visit, before the idle figure
EXPIRED_AFTER_S = 300  # after the last visitor left: idle time + Streamlit's 120 s + a sweep + margin
WINDOW_S = 30  # the idle and after-expiry figures are medians over this many seconds


class Trace(threading.Thread):
    """The server's RSS (process tree) every 0.5 s, as (seconds since start, MB)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process(pid)
        self.t0 = time.perf_counter()
        self.points: list[tuple[float, float]] = []
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                rss = self.proc.memory_info().rss + sum(c.memory_info().rss for c in self.proc.children(recursive=True))
                self.points.append((time.perf_counter() - self.t0, rss / 2**20))
            except Exception:
                pass
            time.sleep(0.5)

    def now(self) -> float:
        return time.perf_counter() - self.t0

    def median(self, since: float) -> float:
        return statistics.median(mb for t, mb in self.points if t >= since)

    def peak(self, since: float = 0.0) -> float:
        return max(mb for t, mb in self.points if t >= since)


async def _preload(browser, url: str) -> list[str]:
    """One visit to the Data page (it imports the engine), closed at once; returns its error boxes."""
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await ctx.new_page()
    page.set_default_timeout(180_000)
    await page.goto(url + "/data")
    await page.get_by_role("heading", name="Data", exact=True).first.wait_for()
    await page.get_by_text("No data yet").wait_for()
    boxes = page.locator(ERRORS)
    errors = [await boxes.nth(k).inner_text() for k in range(await boxes.count())]
    await ctx.close()
    return errors


async def _soak(url: str, minutes: float, photos: list[str], trace: Trace, timeout_s: float) -> dict:
    from playwright.async_api import async_playwright

    from tests.helpers.browser import CHROMIUM, CHROMIUM_FLAGS

    out: dict = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            out["preload_errors"] = await _preload(browser, url)
            await asyncio.sleep(SETTLE_S + WINDOW_S)
            out["idle_mb"] = trace.median(trace.now() - WINDOW_S)
            out["first_arrival_s"] = start = trace.now()
            print("  visitor 0 arrives alone; the others come after its session expired", flush=True)
            first = await visitor(browser, url, 0, photos, timeout_s)
            await asyncio.sleep(EXPIRED_AFTER_S)
            out["after_first_mb"] = trace.median(trace.now() - WINDOW_S)
            rng, tasks = random.Random(0), []
            start = trace.now()
            while trace.now() - start < minutes * 60:
                tasks.append(asyncio.ensure_future(visitor(browser, url, len(tasks) + 1, photos, timeout_s)))
                print(f"  visitor {len(tasks)} arrives at {trace.now() - start:.0f} s", flush=True)
                await asyncio.sleep(rng.uniform(*ARRIVAL_S))
            out["per_visitor"] = [first, *await asyncio.gather(*tasks)]
            out["last_left_s"] = left = trace.now()
            out["peak_mb"] = trace.peak(out["first_arrival_s"])
        finally:
            await browser.close()
    await asyncio.sleep(EXPIRED_AFTER_S)
    out["after_mb"] = trace.median(left + EXPIRED_AFTER_S - WINDOW_S)
    return out


def run(runs: int = 1, minutes: float = 15, timeout_s: float = 1800) -> dict:
    from tests.helpers.browser import HOSTED_ENTRY, start_app

    tmp = Path(tempfile.mkdtemp(prefix="gs-soak-"))
    photos = sort_photos(tmp)
    log_path = tmp / "server.log"
    env = {"GS_HOSTED": "1", "GS_SESSION_IDLE_S": str(SESSION_IDLE_S)}
    proc, url = start_app(env, script=HOSTED_ENTRY, log_path=log_path)
    trace = Trace(proc.pid)
    trace.start()
    try:
        got = asyncio.run(_soak(url, minutes, photos, trace, timeout_s))
    finally:
        trace.running = False
        proc.terminate()
        try:
            proc.wait(15)
        except Exception:
            proc.kill()
    results = got.pop("per_visitor")
    trained = [r["trained_s"] for r in results if "trained_s" in r]
    summary = {
        "minutes": minutes,
        "entry": HOSTED_ENTRY,
        "env": env,
        "visitors": len(results),
        "finished": sum(r["finished"] for r in results),
        "error_boxes": sum(len(r["errors"]) for r in results) + len(got["preload_errors"]),
        "server_tracebacks": tracebacks(log_path.read_text(errors="replace")),
        **{k: round(v, 1) for k, v in got.items() if k.endswith(("_mb", "_s"))},
        "after_over_idle": round(got["after_mb"] / got["idle_mb"], 3),
        "after_over_first": round(got["after_mb"] / got["after_first_mb"], 3),
        "trained_median_s": round(statistics.median(trained), 1) if trained else None,
        "trained_worst_s": max(trained) if trained else None,
        "trace_every_10s": [(round(t), round(mb)) for t, mb in trace.points[::20]],
        "per_visitor": results,
    }
    path = save(f"load-soak-{minutes:g}", summary)
    print(
        f"soak {minutes:g} min: {summary['finished']}/{summary['visitors']} visitors finished, "
        f"{summary['error_boxes']} error boxes, {len(summary['server_tracebacks'])} server tracebacks; server RSS "
        f"idle {summary['idle_mb']:.0f} MB, after the first visit {summary['after_first_mb']:.0f} MB, peak "
        f"{summary['peak_mb']:.0f} MB, after expiry {summary['after_mb']:.0f} MB ({summary['after_over_idle']:.2f}x idle; "
        f"target <= 1.10; {summary['after_over_first']:.2f}x the level one visit left)"
    )
    for r in results:
        print(describe(r))
    for tb in summary["server_tracebacks"]:
        print(f"  server traceback: {tb}")
    print(f"saved {path}")
    return summary
