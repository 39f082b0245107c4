"""A visitor who leaves takes their images with them: Streamlit forgets a disconnected session
without shutting it down (streamlit#12506), and the app shuts it down instead."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest

from tests.browser.conftest import _served


@pytest.fixture(scope="module")
def quick_expiry_url():
    """A server whose disconnected sessions expire after 1 s, swept every second."""
    yield from _served({"STREAMLIT_SERVER_DISCONNECTED_SESSION_TTL": "1", "GS_SESSION_IDLE_S": "4"})


def _status(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=5).status
    except urllib.error.HTTPError as e:
        return e.code


def test_a_closed_visit_releases_the_images_it_showed(browser, quick_expiry_url):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.set_default_timeout(90_000)
    page.goto(quick_expiry_url)
    page.get_by_role("button", name="Try the demo dataset").click()
    page.get_by_text("Images per class").wait_for()
    img = page.locator('img[src*="/media/"]').first
    img.wait_for()
    src = img.get_attribute("src")
    media = src if src.startswith("http") else quick_expiry_url + src
    assert _status(media) == 200  # served while the visitor is here
    ctx.close()
    deadline = time.time() + 60
    while time.time() < deadline and _status(media) == 200:
        time.sleep(1)
    assert _status(media) == 404  # the session was shut down and its media files released
