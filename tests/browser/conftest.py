"""Browser-tier fixtures: one app server and one chromium per session, a fresh page per test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.browser import CHROMIUM, CHROMIUM_FLAGS, HOSTED_ENTRY, shot, start_app
from tests.helpers.images import ARTIFACTS


def pytest_collection_modifyitems(items) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)


def _served(env: dict | None = None, script: str = "app.py"):
    """One app server for the session: its URL, then stopped (killed if it does not stop in 10 s)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    proc, url = start_app(env, script=script)
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except Exception:
        proc.kill()


@pytest.fixture(scope="session")
def app_url():
    yield from _served()


@pytest.fixture(scope="session")
def hosted_url():
    """The app as Streamlit Community Cloud runs it: deploy/streamlit_app.py, hosted mode."""
    yield from _served({"GS_HOSTED": "1"}, script=HOSTED_ENTRY)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("CI needs /usr/bin/chromium (apt-get install chromium chromium-driver)")
        pytest.skip("Debian chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def page(browser, request):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = ctx.new_page()
    pg.set_default_timeout(90_000)
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        try:
            shot(pg, f"FAILED-{request.node.name}")
        except Exception:
            pass
    ctx.close()
