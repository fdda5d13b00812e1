"""The web tests' client: real HTTP against the real app under uvicorn (`live_app`)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest


@pytest.fixture
def http(live_app: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_app, trust_env=False, follow_redirects=False, timeout=10) as c:
        yield c
