"""Which desk pages the benchmark times, read from the app's own route table.

Every GET route under /admin is a page: those without a path parameter as they are, those
with one filled from the built data (`{number}`: the newest issue, `{subscriber_id}`: a
bounced recipient of it, `{account_id}`: the admin). The pages issue #13 asks for are
listed too, so one that is not written yet shows as missing (it answers 404) rather
than disappearing from the table; and a few query variants of the subscriber list
(search by address prefix, by name, and for what nobody matches, which a scan
pays for in full; status filters). Next pages of keyset paging are
found at run time, in the links a page carries (see `desk.time_pages`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.routing import APIRoute

from benchmarks.desk_data import Facts

PREFIX = "/admin"
ASKED = (
    "/admin/sign-in",
    "/admin",
    "/admin/issues",
    "/admin/issues/{number}",
    "/admin/issues/{number}/report",
    "/admin/issues/{number}/report.csv",
    "/admin/issues/{number}/activity.svg",
    "/admin/subscribers",
    "/admin/subscribers/{subscriber_id}",
    "/admin/suppressions",
    "/admin/accounts",
    "/admin/audit",
)
"""The pages the issue names (charts under /admin/charts/ are found in the route table)."""
_PARAM = re.compile(r"{([a-z_]+)(?::[a-z]+)?}")


@dataclass(frozen=True)
class Page:
    """One URL to time, and the route it came from (`label`)."""

    label: str
    url: str
    skipped: str = ""
    """Why it is not timed: a path parameter the benchmark has no value for."""


def values(facts: Facts) -> dict[str, int]:
    """Path parameters by name, from what was built."""
    return {
        "number": facts.issue_number,
        "issue_number": facts.issue_number,
        "subscriber_id": facts.subscriber_id,
        "account_id": 1,
    }


def desk_routes(app: FastAPI) -> list[str]:
    """The paths of the app's GET routes under /admin, in the order they were added."""
    found: list[str] = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or "GET" not in (route.methods or set()):
            continue
        if route.path == PREFIX or route.path.startswith(PREFIX + "/"):
            found.append(route.path)
    return found


def fill(path: str, known: dict[str, int]) -> Page:
    missing = [name for name in _PARAM.findall(path) if name not in known]
    if missing:
        return Page(path, path, skipped=f"no value for {{{', '.join(missing)}}}")
    return Page(path, _PARAM.sub(lambda m: str(known[m.group(1)]), path))


def variants(facts: Facts) -> list[Page]:
    """The subscriber list's query forms the issue asks to be fast, and the audit log's
    filter."""
    base = "/admin/subscribers"
    return [
        Page(f"{base}?q= (address prefix)", f"{base}?q={quote(facts.address_query)}"),
        Page(f"{base}?q= (name)", f"{base}?q={quote(facts.name_query)}"),
        Page(f"{base}?q= (no match)", f"{base}?q=nobody-by-this-name"),
        Page(f"{base}?status=bounced", f"{base}?status=bounced"),
        Page(f"{base}?status=pending", f"{base}?status=pending"),
        Page(f"{base}?q=&status= (both)", f"{base}?q=reader1&status=active"),
        Page("/admin/audit?action=sign-in", "/admin/audit?action=sign-in"),
    ]


def pages(app: FastAPI, facts: Facts) -> list[Page]:
    """Every page to time: the route table's, the asked-for ones it lacks, the variants."""
    known = values(facts)
    routes = desk_routes(app)
    listed = routes + [path for path in ASKED if path not in routes]
    return [fill(path, known) for path in listed] + variants(facts)
