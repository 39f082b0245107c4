"""Bringing a camera roll in: folder upload, zip upload and a local path, 1,000 and 3,000 photos.

Each case starts a fresh ``streamlit run app.py`` and a fresh chromium page, brings the photos in
on the Data page as a user would, and records the seconds until the page names the new dataset
("Source: ... N images") and until its health report is drawn ("Readable images"), with the peak
memory of the server process and of the browser (the summed PSS of chromium's processes, so
shared pages are counted once) while it ran. The photos are trashnet's (512x384 phone JPEGs,
about 30 KB), each re-encoded from a slightly different crop so no two files are equal.

Then ``python -m core sort`` on 1,000 and 10,000 of them from a local path: images/s and peak RSS.

    python -m bench intake
"""

from __future__ import annotations

import shutil
import threading
import time
import zipfile
from pathlib import Path

import psutil

from .common import SHARED, peak_rss_mb, save

WORK = Path("/tmp/gs-bench-intake")
SIZES = (1000, 3000)
MODES = ("local path", "zip upload", "folder upload")
TIMEOUT_S = 300  # a folder upload of 3,000 files runs for many minutes (the case the issue met)


def roll(n: int) -> Path:
    """n distinct photos in trashnet's six class folders."""
    from PIL import Image

    dest = WORK / f"roll{n}"
    if dest.is_dir() and sum(1 for _ in dest.rglob("*.jpg")) == n:
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    src = sorted((SHARED / "trashnet").rglob("*.jpg"))
    for k in range(n):
        p = src[k % len(src)]
        im = Image.open(p).convert("RGB")
        d = 1 + k // len(src)  # a different crop on every pass over the source photos
        im = im.crop((d, d, im.width - d, im.height - d))
        out = dest / p.parent.name / f"IMG_{k:05d}.jpg"
        out.parent.mkdir(parents=True, exist_ok=True)
        im.save(out, quality=90)
    return dest


def zipped(folder: Path) -> Path:
    z = folder.with_suffix(".zip")
    if not z.exists():
        with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf:
            for p in sorted(folder.rglob("*.jpg")):
                zf.write(p, p.relative_to(folder.parent).as_posix())
    return z


class Peak:
    """Samples the server's RSS and chromium's summed PSS in a thread; keeps the highest of each."""

    def __init__(self, server_pid: int) -> None:
        self.server = psutil.Process(server_pid)
        self.server_mb = self.browser_mb = 0.0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _browser(self) -> float:
        total = 0
        for p in psutil.process_iter(["name"]):
            if "chrom" in (p.info["name"] or ""):
                try:
                    total += p.memory_full_info().pss
                except (psutil.Error, AttributeError):
                    pass
        return total / 2**20

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.server_mb = max(self.server_mb, self.server.memory_info().rss / 2**20)
            except psutil.Error:
                return
            self.browser_mb = max(self.browser_mb, self._browser())
            self._stop.wait(0.5)

    def stop(self) -> None:
        self._stop.set()
        self._t.join()


def one_case(mode: str, n: int, folder: Path) -> dict:
    import re

    from playwright.sync_api import sync_playwright

    from tests.helpers.browser import CHROMIUM, CHROMIUM_FLAGS, nav, start_app

    proc, url = start_app()
    row = {"mode": mode, "photos": n, "mb": sum(p.stat().st_size for p in folder.rglob("*.jpg")) / 1e6}
    try:
        with sync_playwright() as pw:
            b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            pg = b.new_page(viewport={"width": 1400, "height": 1000})
            pg.set_default_timeout(TIMEOUT_S * 1000)
            pg.on("dialog", lambda d: d.accept())  # the large-folder warning: go on anyway
            pg.goto(url)
            nav(pg, "Data")
            peak = Peak(proc.pid)
            t = time.perf_counter()
            if mode == "local path":
                pg.get_by_role("tab", name="Local folder").click()
                box = pg.get_by_role("textbox", name="Folder on this machine")
                box.fill(str(folder))
                box.press("Enter")
                pg.get_by_role("button", name="Load folder").click()
            else:
                folder_mode = mode == "folder upload"
                pg.get_by_role("tab", name="Upload a folder" if folder_mode else "Upload a .zip or files").click()
                label = "Choose a folder of photos" if folder_mode else "A .zip of class folders"
                up = pg.locator('[data-testid="stFileUploader"]').filter(has_text=label)
                up.locator("input[type=file]").set_input_files(str(folder) if folder_mode else str(zipped(folder)))
            try:
                # the Source line names the new dataset (the folder picker counts the photos before Load)
                pg.get_by_text(re.compile(rf"Source:.*\b{n} images\b")).first.wait_for()
                row["loaded_s"] = time.perf_counter() - t
                pg.get_by_text("Readable images").first.wait_for()
                row["health_s"] = time.perf_counter() - t
            except Exception as exc:  # a case that does not finish is a figure too
                row["error"] = f"did not finish in {TIMEOUT_S} s ({type(exc).__name__})"
            peak.stop()
            row["server_peak_mb"], row["browser_peak_mb"] = peak.server_mb, peak.browser_mb
            b.close()
    finally:
        proc.terminate()
        proc.wait(30)
    return row


def sort_rates(model_dir: Path) -> list[dict]:
    out = []
    for n in (1000, 10000):
        g = roll(n)
        dest = WORK / f"sorted{n}"
        shutil.rmtree(dest, ignore_errors=True)
        peak, wall, _ = peak_rss_mb(["-q", "sort", str(model_dir), str(g), "--out", str(dest)])
        shutil.rmtree(dest, ignore_errors=True)
        out.append({"photos": n, "wall_s": wall, "img_per_s": n / wall, "peak_rss_mb": peak})
        print(f"  sort {n} photos from a local path: {n / wall:.1f} img/s, peak RSS {peak:.0f} MB", flush=True)
    return out


def run(runs: int = 1) -> None:
    rows = []
    for n in SIZES:
        folder = roll(n)
        for mode in MODES:
            r = one_case(mode, n, folder)
            rows.append(r)
            print(f"  {r}", flush=True)
    model_dir = WORK / "model"
    if not (model_dir / "model.pt").exists():
        peak_rss_mb(["-q", "train", str(roll(1000)), "--out", str(model_dir), "--quality", "quick"])
    sorts = sort_rates(model_dir)

    def secs(r, key):
        return f"{r[key]:.0f}" if key in r else r.get("error", "-")

    lines = [
        "One run per case, each on a fresh server and browser page (Data page, as a user would).",
        "",
        "| mode | photos | MB | dataset shown s | health report drawn s | server peak RSS MB | browser peak PSS MB |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['mode']} | {r['photos']} | {r['mb']:.0f} | {secs(r, 'loaded_s')} | {secs(r, 'health_s')} | "
        f"{r['server_peak_mb']:.0f} | {r['browser_peak_mb']:.0f} |"
        for r in rows
    ]
    lines += [
        "",
        "`python -m core sort MODEL ROLL --out OUT` from a local path (a Quick model of these photos):",
        "",
        "| photos | images/s | wall s | peak RSS MB |",
        "|---|---|---|---|",
    ]
    lines += [f"| {s['photos']} | {s['img_per_s']:.1f} | {s['wall_s']:.0f} | {s['peak_rss_mb']:.0f} |" for s in sorts]
    save(
        "intake",
        {
            "title": "Camera rolls: bringing 1,000 and 3,000 photos in, and sorting 10,000",
            "command": "python -m bench intake",
            "rows": rows,
            "sorts": sorts,
            "markdown": "\n".join(lines),
        },
    )
