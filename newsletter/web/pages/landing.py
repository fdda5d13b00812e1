"""What every link the service sends answers to without acting.

Mail scanners (Safe Links, Mimecast, Proofpoint, Barracuda) fetch every link of an email,
by HEAD, by GET, and in real browsers that run scripts. So a link's GET and HEAD only show
what it would do, and the page's button, a form POST to the same address, does it: one
more click, which a scanner does not make. The page makes no POST by script: a browser
that runs scripts is exactly what the scanners run, and the site's pages carry no script.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi import APIRouter

Endpoint = TypeVar("Endpoint", bound=Callable[..., object])


def landing(router: APIRouter, path: str) -> Callable[[Endpoint], Endpoint]:
    """Declare a link's landing page: GET, and HEAD answered as GET without the body (so a
    link checker's HEAD gets 200); HEAD stays out of the OpenAPI schema."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.get(path)(endpoint)
        router.head(path, include_in_schema=False)(endpoint)
        return endpoint

    return register
