"""The real-browser harness: start `streamlit run app.py`, and the steps tests take in the page."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from tests.helpers.images import ARTIFACTS, ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


HOSTED_ENTRY = "deploy/streamlit_app.py"  # what Streamlit Community Cloud runs
PORTS = range(8621, 8641)  # tried first, so these runs keep clear of 8501 and other servers


def _free_port(preferred=PORTS) -> int:
    import socket

    for port in preferred:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(env_extra: dict | None = None, script: str = "app.py", log_path: Path | None = None):
    """Start `streamlit run app.py` (or ``script``) headless on 127.0.0.1; returns (process, url).

    The server's output goes to ``log_path`` (tests/artifacts/streamlit-<port>.log by default).
    """
    import subprocess
    import time
    import urllib.request

    port = _free_port()
    env = dict(os.environ, GS_OFFLINE="1", NO_ALBUMENTATIONS_UPDATE="1", **(env_extra or {}))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)  # a bench run on a fresh clone has no artifacts folder yet
    log = open(log_path or ARTIFACTS / f"streamlit-{port}.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            script,
            "--server.headless",
            "true",
            "--server.fileWatcherType",
            "none",
            "--server.address",
            "127.0.0.1",
            "--server.port",
            str(port),
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).status == 200:
                return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("streamlit did not start; see tests/artifacts/streamlit-*.log")


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.wait_for_timeout(1500)  # let reruns settle and media requests start
    try:
        page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=15_000)
    except Exception:
        pass
    page.screenshot(path=str(path), full_page=True)
    return path


def nav(page, title: str) -> None:
    page.get_by_role("link", name=title, exact=True).first.click()
    page.get_by_role("heading", name=title, exact=True).first.wait_for()


def choose(page, label: str, option: str) -> None:
    """Pick a selectbox option by clicking it in the open list, then wait until the box shows it.

    Typing and pressing Enter raced the list's filtering: Enter sometimes took the first option.
    So this types to open and filter the list, then clicks the option itself.
    """
    from playwright.sync_api import expect

    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    box.locator("input").click()
    page.keyboard.type(option)  # typing opens the list even where a click only focuses the box
    wanted = page.get_by_role("option").filter(has_text=option).first
    for _ in range(4):
        try:
            wanted.click(timeout=5_000)
            break
        except Exception:  # a rerun closed the list: ArrowDown opens it again, filter kept
            box.locator("input").focus()
            page.keyboard.press("ArrowDown")
    expect(box.locator("input")).to_have_value(re.compile(re.escape(option)), timeout=30_000)
    page.wait_for_timeout(300)  # let the rerun with the new value land


def open_demo(page, app_url: str) -> None:
    """Home -> "Try the demo dataset" -> the Data page's report is drawn."""
    page.goto(app_url)
    page.get_by_role("button", name="Try the demo dataset").click()
    page.get_by_text("Images per class").wait_for(timeout=60_000)


def use_custom_recipe(page) -> None:
    """On the Train page: choose 'Custom recipe' (every setting by hand) unless it is chosen already."""
    if not page.get_by_label("Epochs").count():
        page.locator('[data-testid="stRadio"]').filter(has_text="Quality").get_by_text("Custom recipe").click()
    page.get_by_label("Epochs").wait_for()


def start_training(page, epochs: int) -> None:
    """On the Train page: a custom recipe with ``epochs`` epochs, then Train (does not wait for the end)."""
    use_custom_recipe(page)
    box = page.get_by_label("Epochs")
    box.fill(str(epochs))
    box.press("Enter")
    page.wait_for_timeout(500)  # let the rerun with the new value land before the click
    page.get_by_role("button", name="Train", exact=True).click()


def wait_trained(page, timeout_ms: int = 600_000) -> None:
    page.get_by_text("Finished", exact=True).wait_for(timeout=timeout_ms)


def load_model_file(page, path: Path, classes: str) -> None:
    """Sort page: upload a model file and wait for its caption (the expander then collapses)."""
    page.get_by_text("Model file: download this model").click()
    up = page.locator('[data-testid="stFileUploader"]').filter(has_text="Load a model file")
    up.locator("input[type=file]").set_input_files(str(path))
    page.get_by_text(f"Model: efficientnet_lite0, classes: {classes}").wait_for()


def sort_three_uploads(page, folder: Path, timeout_ms: int) -> None:
    """Sort page: upload three generated photos and sort them; waits for the zip download button."""
    from tests.helpers.images import draw_image

    files = []
    for k, kind in enumerate(["stripes", "dots", "plain"]):
        p = folder / f"photo{k}.jpg"
        draw_image(kind, 40 + k, size=200).save(p)
        files.append(str(p))
    page.get_by_role("tab", name="Upload images or a .zip").click()
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="Images or a .zip")
    uploader.locator("input[type=file]").set_input_files(files)
    page.get_by_role("button", name="Sort 3 images").click()
    page.get_by_role("button", name="Download sorted .zip").wait_for(timeout=timeout_ms)
