"""N visitors at once on the hosted demo, as Streamlit Community Cloud runs it.

`streamlit run deploy/streamlit_app.py` with GS_HOSTED=1 on 127.0.0.1; N separate Chromium
browser contexts (one browser), started together, each doing Home -> "Try the demo dataset" ->
"Next: Train" -> Train (the default quality) -> wait for Finished -> "Next: Review the mistakes"
-> Sort 3 generated photos -> the download button. Reports, per visitor, whether it finished,
its error boxes and its time from pressing Train to a trained model (queue wait included), and
whether it was shown a place in line; for the server: its peak RSS (process tree, sampled every
0.1 s) and the tracebacks in its output.

With --uploader, one more context starts with them: Home -> Data -> "Upload a folder" of 1,000
phone-sized photos in class folders (the large-folder warning accepted) -> "Next: Train" -> Train
(the default) -> Finished; reported apart (upload time, queued or not, time to a trained model).
The photos are trashnet's re-encoded at 1600x1200 when ../shared has them, generated ones otherwise.

    python -m bench load --visitors 4 [--uploader]

Needs no ../shared (the demo dataset ships with the app); results go to
bench/out/load-visitors-N.json (load-uploader-N.json with --uploader).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .common import ROOT, SHARED, save

sys.path.insert(0, str(ROOT))

ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
QUEUED = "Waiting for other work on this server"
UPLOADS = Path(tempfile.gettempdir()) / "gs-load-uploads"  # kept between runs: made once
UPLOAD_PHOTOS = 1000
PHONE_SIZE = (1600, 1200)  # a phone photo as shared (12 MP cameras save 4032x3024)


async def _errors(page) -> list[str]:
    boxes = page.locator(ERRORS)
    return [await boxes.nth(k).inner_text() for k in range(await boxes.count())]


async def train(page, out: dict, timeout_s: float) -> None:
    """On the Train page: press Train (the default quality), wait for Finished; note any place in line."""
    await page.get_by_role("heading", name="Train", exact=True).first.wait_for()
    await page.get_by_role("button", name="Train", exact=True).click()
    t0 = time.perf_counter()
    finished = page.get_by_text("Finished", exact=True)
    while not await finished.count():
        if time.perf_counter() > t0 + timeout_s:
            raise TimeoutError(f"no trained model after {timeout_s:.0f} s")
        if not out["queued_seen"] and await page.get_by_text(QUEUED, exact=False).count():
            out["queued_seen"] = True
            out["queue_text"] = await page.get_by_text(QUEUED, exact=False).first.inner_text()
        if await page.locator(ERRORS).count():
            raise RuntimeError("an error box appeared while training")
        await page.wait_for_timeout(500)
    out["trained_s"] = round(time.perf_counter() - t0, 1)


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
        await train(page, out, timeout_s)
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


def upload_roll(n: int = UPLOAD_PHOTOS) -> Path:
    """n distinct phone-sized JPEGs in class folders (trashnet's photos, or generated ones without ../shared)."""
    from PIL import Image

    from tests.helpers.images import draw_image

    dest = UPLOADS / f"roll{n}"
    if dest.is_dir() and sum(1 for _ in dest.rglob("*.jpg")) == n:
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    src = sorted((SHARED / "trashnet").rglob("*.jpg"))
    for k in range(n):
        if src:
            p = src[k % len(src)]
            label, im = p.parent.name, Image.open(p).convert("RGB")
            d = 1 + k // len(src)  # a different crop on every pass: no two files equal
            im = im.crop((d, d, im.width - d, im.height - d))
        else:
            label = ("stripes", "dots", "plain")[k % 3]
            im = draw_image(label, k, size=400)
        out = dest / label / f"IMG_{k:05d}.jpg"
        out.parent.mkdir(parents=True, exist_ok=True)
        im.resize(PHONE_SIZE, Image.Resampling.BICUBIC).save(out, quality=88)
    return dest


async def uploader(browser, url: str, folder: Path, timeout_s: float) -> dict:
    """The fifth visitor: a folder of photos through the Data page's uploader, then Train; never raises."""
    n = sum(1 for _ in folder.rglob("*.jpg"))
    out: dict = {"visitor": "uploader", "photos": n, "finished": False, "errors": [], "step": "home"}
    out.update(queued_seen=False, upload_mb=round(sum(p.stat().st_size for p in folder.rglob("*.jpg")) / 2**20, 1))
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await ctx.new_page()
    page.set_default_timeout(timeout_s * 1000)
    page.on("dialog", lambda d: asyncio.ensure_future(d.accept()))  # the large-folder warning: go on
    try:
        await page.goto(url)
        await page.get_by_role("link", name="Data", exact=True).first.click()
        await page.get_by_role("heading", name="Data", exact=True).first.wait_for()
        out["step"] = "upload"
        await page.get_by_role("tab", name="Upload a folder").click()
        up = page.locator('[data-testid="stFileUploader"]').filter(has_text="Choose a folder of photos")
        t0 = time.perf_counter()
        await up.locator("input[type=file]").set_input_files(str(folder))
        await page.get_by_text(re.compile(rf"Source:.*\b{n} images\b")).first.wait_for()
        out["uploaded_s"] = round(time.perf_counter() - t0, 1)
        await page.get_by_text("Images per class").wait_for()
        await page.get_by_role("link", name="Next: Train").click()
        out["step"] = "train"
        await train(page, out, timeout_s)
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


async def _crowd(url: str, n: int, photos: list[str], timeout_s: float, upload: Path | None) -> list[dict]:
    from playwright.async_api import async_playwright

    from tests.helpers.browser import CHROMIUM, CHROMIUM_FLAGS

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            walks = [visitor(browser, url, k, photos, timeout_s) for k in range(n)]
            return await asyncio.gather(*walks, *([uploader(browser, url, upload, timeout_s)] if upload else []))
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


def sort_photos(folder: Path) -> list[str]:
    """The three generated photos each visitor sorts."""
    from tests.helpers.images import draw_image

    photos = []
    for k, kind in enumerate(["stripes", "dots", "plain"]):
        p = folder / f"photo{k}.jpg"
        draw_image(kind, 40 + k, size=200).save(p)
        photos.append(str(p))
    return photos


def describe(r: dict) -> str:
    """One visitor's line in the printed summary."""
    return (
        f"  visitor {r['visitor']}: {'finished' if r['finished'] else 'FAILED at ' + r['step']}"
        f"{', uploaded ' + str(r['photos']) + ' photos in ' + str(r['uploaded_s']) + ' s' if 'uploaded_s' in r else ''}"
        f"{', trained in ' + str(r['trained_s']) + ' s' if 'trained_s' in r else ''}"
        f"{', was queued (' + r.get('queue_text', '') + ')' if r['queued_seen'] else ''}"
        f"{'; ' + r['failure'] if 'failure' in r else ''}"
        f"{'; errors: ' + ' | '.join(r['errors']) if r['errors'] else ''}"
    )


def run(runs: int = 1, visitors: int = 1, uploader: bool = False, timeout_s: float = 1800) -> dict:
    from tests.helpers.browser import HOSTED_ENTRY, start_app

    from .app_bench import RssSampler

    tmp = Path(tempfile.mkdtemp(prefix="gs-load-"))
    photos = sort_photos(tmp)
    upload = upload_roll() if uploader else None
    log_path = tmp / "server.log"
    proc, url = start_app({"GS_HOSTED": "1"}, script=HOSTED_ENTRY, log_path=log_path)
    sampler = RssSampler(proc.pid)
    sampler.start()
    t = time.perf_counter()
    try:
        results = asyncio.run(_crowd(url, visitors, photos, timeout_s, upload))
    finally:
        peak = sampler.stop()
        proc.terminate()
        try:
            proc.wait(15)
        except Exception:
            proc.kill()
    wall = time.perf_counter() - t
    log = log_path.read_text(errors="replace")
    up = results.pop() if uploader else None
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
        **({"uploader": up} if up else {}),
    }
    path = save(f"load-{'uploader' if up else 'visitors'}-{visitors}", summary)
    print(
        f"{visitors} visitor(s): {summary['finished']}/{visitors} finished, {summary['error_boxes']} error boxes, "
        f"{len(summary['server_tracebacks'])} server tracebacks, peak RSS {summary['peak_rss_mb']:.0f} MB, "
        f"time to a trained model: median {summary['trained_median_s']} s, worst {summary['trained_worst_s']} s"
    )
    for r in results + ([up] if up else []):
        print(describe(r))
    for tb in summary["server_tracebacks"]:
        print(f"  server traceback: {tb}")
    print(f"saved {path}")
    return summary
