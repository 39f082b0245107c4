"""App responsiveness and memory, measured in Debian chromium against `streamlit run app.py`.

First paint: from starting the server process to the home page's button being visible.
First chart point: from pressing Train (demo data, defaults) to the live chart appearing.
Peak RSS of a full demo session: demo data, default training, Review, sorting 200 images.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from .common import ROOT, median, save

sys.path.insert(0, str(ROOT))


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self.phase_peak = 0
        self.phases: dict[str, float] = {}
        self.running = True

    def run(self) -> None:
        while self.running:
            try:
                rss = self.proc.memory_info().rss + sum(c.memory_info().rss for c in self.proc.children(recursive=True))
                self.peak = max(self.peak, rss)
                self.phase_peak = max(self.phase_peak, rss)
            except Exception:
                pass
            time.sleep(0.1)

    def mark(self, phase: str) -> None:
        """Peak RSS since the previous mark, so the bench says which step costs the memory."""
        self.phases[phase] = round(self.phase_peak / 1024**2, 1)
        self.phase_peak = 0

    def stop(self) -> float:
        self.running = False
        return self.peak / 1024**2


BARE_APP = """import streamlit as st

st.title("Gallery Sorter")
st.button("Try the demo dataset")
"""


def bare_first_paint() -> float:
    """The same measurement for a three-line Streamlit app: the part of first paint that is Streamlit's own."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from tests.helpers.browser import CHROMIUM, CHROMIUM_FLAGS, start_app

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        script = Path(tmp) / "bare.py"
        script.write_text(BARE_APP)
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        pg = b.new_page(viewport={"width": 1400, "height": 1000})
        pg.goto("about:blank")
        t0 = time.perf_counter()
        proc, url = start_app(script=str(script))
        try:
            pg.goto(url)
            pg.get_by_role("button", name="Try the demo dataset").wait_for()
            return time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(20)
            b.close()


def one_session(full: bool, gallery: Path | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.helpers.browser import CHROMIUM, CHROMIUM_FLAGS, start_app

    res: dict = {}
    with sync_playwright() as p:
        # the browser is already open, as a user's is: its own start-up is not the app's
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        pg = b.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(600_000)
        pg.goto("about:blank")
        t0 = time.perf_counter()
        proc, url = start_app()
        res["server_ready_s"] = time.perf_counter() - t0
        sampler = RssSampler(proc.pid)
        sampler.start()
        try:
            pg.goto(url)
            pg.get_by_role("button", name="Try the demo dataset").wait_for()
            res["first_paint_s"] = time.perf_counter() - t0
            time.sleep(2)
            res["idle_rss_mb"] = sampler.proc.memory_info().rss / 1024**2
            pg.get_by_role("button", name="Try the demo dataset").click()
            pg.get_by_text("Images per class").wait_for()
            pg.get_by_role("link", name="Train", exact=True).first.click()
            pg.get_by_role("button", name="Train", exact=True).wait_for()
            time.sleep(1)
            t1 = time.perf_counter()
            pg.get_by_role("button", name="Train", exact=True).click()
            pg.locator(".js-plotly-plot").first.wait_for()
            res["first_chart_point_s"] = time.perf_counter() - t1
            if full:
                pg.get_by_text("Finished", exact=True).wait_for()
                res["train_s"] = time.perf_counter() - t1
                sampler.mark("start + demo data + training")
                pg.get_by_role("link", name="Review", exact=True).first.click()
                pg.get_by_text("Confusion matrix").wait_for()
                time.sleep(5)
                sampler.mark("review")
                pg.get_by_role("link", name="Sort", exact=True).first.click()
                pg.get_by_role("tab", name="Upload images or a .zip").click()
                files = sorted(str(x) for x in gallery.glob("*.jpg"))
                up = pg.locator('[data-testid="stFileUploader"]').filter(has_text="Images or a .zip")
                up.locator("input[type=file]").set_input_files(files)
                pg.get_by_role("button", name=f"Sort {len(files)} images").click()
                pg.get_by_role("button", name="Download sorted .zip").wait_for()
                res["sorted"] = len(files)
                sampler.mark("sort 200 images")
                res["phase_peak_rss_mb"] = sampler.phases
        finally:
            res["peak_rss_mb"] = sampler.stop()
            proc.terminate()
            proc.wait(20)
        b.close()
    return res


def demo_gallery(n: int = 200) -> Path:
    from PIL import Image

    from .common import SHARED

    dest = Path("/tmp/gs-bench-gallery200")
    dest.mkdir(exist_ok=True)
    src = sorted((SHARED / "gallery_mix").rglob("*.jpg"))
    for k in range(n):
        t = dest / f"g{k:03d}.jpg"
        if not t.exists():
            im = Image.open(src[k % len(src)]).convert("RGB")
            (im if k < len(src) else im.transpose(Image.FLIP_LEFT_RIGHT)).save(t, quality=90)
    return dest


def run(runs: int = 5) -> None:
    runs = max(runs, 5)  # first paint is a few seconds and this machine is noisy: at least 5, interleaved
    quick, bare = [], []
    for _ in range(runs):
        bare.append(bare_first_paint())
        quick.append(one_session(full=False))
        r = quick[-1]
        print(
            f"  bare Streamlit app first paint {bare[-1]:.2f}s; ours: server ready {r['server_ready_s']:.2f}s, "
            f"first paint {r['first_paint_s']:.2f}s, first chart point {r['first_chart_point_s']:.1f}s, "
            f"idle RSS {r['idle_rss_mb']:.0f} MB",
            flush=True,
        )
    full = one_session(full=True, gallery=demo_gallery())
    print(f"  full demo session: peak RSS {full['peak_rss_mb']:.0f} MB (train {full['train_s']:.0f}s)", flush=True)
    save(
        "app",
        {
            "first_paint_s": median([r["first_paint_s"] for r in quick]),
            "bare_first_paint_s": median(bare),
            "bare_raw": bare,
            "server_ready_s": median([r["server_ready_s"] for r in quick]),
            "first_chart_point_s": median([r["first_chart_point_s"] for r in quick]),
            "idle_rss_mb": median([r["idle_rss_mb"] for r in quick]),
            "full_session": full,
            "raw": quick,
            "runs": runs,
            "command": "python -m bench app",
        },
    )
