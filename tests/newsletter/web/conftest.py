"""The web tests' client: real HTTP against the real app under uvicorn (`live_app`), and
Debian's headless Chromium through Playwright for what a browser does."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def http(live_app: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_app, trust_env=False, follow_redirects=False, timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Skipped, with the reason, where no Chromium is installed; .ci/run installs it."""
    if CHROMIUM is None:
        pytest.skip("no Chromium installed (apt-get install chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()
