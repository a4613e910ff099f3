"""The page in a real headless browser: Debian chromium driven by the playwright package.

Skipped (with the install command) when Debian chromium is absent, except where
``MUSICREC_REQUIRE_BROWSER`` is set (CI sets it): there a missing browser fails the suite instead of
letting it stay green without the test. Never downloads a browser.
Set ``MUSICREC_SCREENSHOT=/path/page.png`` to keep a copy of the screenshot.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

import gradio_app  # noqa: F401  (sets the offline environment before gradio is imported)
from gradio_app.app import build_app, launch
from musicrec_assets_tests.web_data import HOSTILE_ARTIST, HOSTILE_USER, write_fake_artifacts

CHROMIUM = Path(
    os.environ.get("MUSICREC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
)
MISSING = (
    f"needs Debian chromium (looked for {CHROMIUM}; "
    "apt-get install -y --no-install-recommends chromium)"
)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 30_000

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning:gradio"),
]


def _unavailable(reason: str) -> None:
    """Skip on a developer's machine; fail where the browser test is required."""
    if os.environ.get("MUSICREC_REQUIRE_BROWSER"):
        pytest.fail(f"browser test required but {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Path:
    storage = tmp_path_factory.mktemp("artifacts")
    write_fake_artifacts(storage)
    return storage


@pytest.fixture(scope="module")
def url(storage: Path) -> Iterator[str]:
    demo = build_app(storage)
    _, local_url = launch(demo, port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        yield local_url
    finally:
        demo.close()


@dataclass
class Session:
    """A page plus what it did: every URL fetched (must be loopback) and any dialog opened."""

    page: Any
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@pytest.fixture
def session(url: str) -> Iterator[Session]:
    if not CHROMIUM.exists():
        _unavailable(MISSING)
    try:
        from playwright import sync_api
    except ImportError:
        _unavailable("the playwright package is not installed (uv sync)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 1100})
            s = Session(context.new_page())
            s.page.set_default_timeout(TIMEOUT_MS)
            s.page.on("request", lambda r: s.requests.append(r.url))
            s.page.on("dialog", lambda d: (s.dialogs.append(d.message), d.dismiss()))
            s.page.goto(url)
            yield s
        finally:
            browser.close()


def pick_listener(page: Any, name: str) -> None:
    """Type into the searchable listener dropdown and choose the matching option."""
    box = page.locator("#listener input")
    box.click()
    box.fill(name[:4])
    page.locator('li[data-testid="dropdown-option"]', has_text=name).first.click()


def build_in(page: Any, context: str, user: str | None = None) -> str:
    """Choose a context, press Build, wait for the new table; returns the table's text.

    With ``user``, waits for that listener's playlist: picking a listener builds on its own, so
    a table and message of the previous listener may still be showing (or be replaced) at first.
    """
    from playwright.sync_api import expect

    page.locator("#context label", has_text=context).click()
    page.locator("#build").click()
    message = page.locator("#message")
    message.filter(has_text=f"· {context} ·").wait_for()
    if user is not None:
        message.filter(has_text=user).wait_for()
    table = page.locator("#playlist-table")
    table.filter(has_text="Because you play").wait_for()
    expect(table).not_to_contain_text("processing")
    return table.inner_text()


def test_build_workout_then_chill(session: Session, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page = session.page
    pick_listener(page, "alice")
    workout = build_in(page, "workout")
    assert "for workout (target" in workout
    chill = build_in(page, "chill")
    expect(page.locator("#playlist-table")).to_contain_text("for chill (target")
    chill = page.locator("#playlist-table").inner_text()
    assert chill != workout
    # The sliders followed the context (chill: 0.5 / 0.3 / 0.2).
    assert "weights base 0.50 / tempo 0.30 / valence 0.20" in page.locator("#message").inner_text()
    expect(page.locator("[data-testid='plotly']")).to_be_visible()

    shot = tmp_path / "musicrec-page.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("MUSICREC_SCREENSHOT"):
        target = Path(os.environ["MUSICREC_SCREENSHOT"])
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)

    hosts = {urlparse(u).hostname for u in session.requests if u.startswith("http")}
    assert hosts <= {"127.0.0.1", "localhost"}, f"page fetched from the internet: {hosts}"


def test_names_render_as_text(session: Session) -> None:
    page = session.page
    pick_listener(page, HOSTILE_USER)
    text = build_in(page, "default", HOSTILE_USER)
    assert HOSTILE_ARTIST in text  # shown literally in the table
    assert page.locator("#playlist-table b").count() == 0
    message = page.locator("#message")
    assert HOSTILE_USER in message.inner_text()
    assert message.locator("i").count() == 0
    injected = page.evaluate(
        "() => [...document.querySelectorAll('script')].some(s => s.textContent.includes('alert'))"
    )
    assert not injected and not session.dialogs


def test_the_page_opens_ready_on_the_most_active_listener(session: Session, storage: Path) -> None:
    """Without a click: the most active listener is chosen, their default playlist is shown,
    and the address names them, so the link can be shared."""
    from gradio_app.service import PlaylistPage
    from gradio_app.store import ArtifactStore
    from musicrec_assets.core.config import PlaylistConfig

    top = PlaylistPage(ArtifactStore(storage), PlaylistConfig()).most_active()
    page = session.page
    page.locator("#message").filter(has_text=f"{top} · default ·").wait_for()
    page.locator("#playlist-table").filter(has_text="Because you play").wait_for()
    assert page.locator("#listener input").input_value() == top
    page.wait_for_url(lambda u: f"user={top}" in u and "context=default" in u)


def test_a_shared_link_opens_that_listener_and_context(session: Session, url: str) -> None:
    page = session.page
    page.goto(f"{url}?user=bob&context=chill")
    page.locator("#message").filter(has_text="bob · chill ·").wait_for()
    table = page.locator("#playlist-table")
    table.filter(has_text="for chill (target").wait_for()
    assert page.locator("#listener input").input_value() == "bob"
    assert page.locator("#context input:checked").get_attribute("value") == "chill"
    build_in(page, "workout")  # choosing another context moves the address along
    page.wait_for_url(lambda u: "user=bob" in u and "context=workout" in u)
