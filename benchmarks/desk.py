"""How fast every page of the desk (/admin) answers on SQLite with 1,000,000 subscribers and
an issue with 3,000,000 delivery events (issue #13 asks for under 300 ms each).

    .venv/bin/python -m benchmarks.desk [--size 1000000] [--runs 5] [--rebuild] [--json]

The data (see `benchmarks.desk_data`) is built once into var/bench/desk-<size>.db, with
what was built in desk-<size>.json beside it, and reused by later runs (`--rebuild` makes
it afresh; a build that was interrupted is never reused). Then `newsletter serve` runs
against it in a process of its own, the benchmark signs in over HTTP as an admin (the
sign-in form, its token and cookie, the POST), and GETs every page (`benchmarks.desk_pages`:
read from the route table, so whatever pages exist when it runs are timed) once to warm
up and --runs times more, and reports per page the first answer, the median and the
slowest in ms, with a verdict: `ok` (the slowest under the budget), `SLOW`, `missing`
(404: not written yet), or the status it answered. A page that links to the next page of
its keyset paging (`after=`, `before=` or `cursor=` in a link to the same path) has that
page timed too, and the subscriber list a page from the middle of the list as well.

The sign-in is a real one: each run adds a session, its audit entry and nothing else to
the database. SQLite only, as the issue's figure is.

Not a test: a measurement to compare before and after a change.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from html import unescape
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

from benchmarks.desk_data import ADMIN, PASSWORD, Facts, build
from benchmarks.desk_pages import Page, pages
from benchmarks.events import server_process
from newsletter.core.database import make_engine, upgrade
from newsletter.core.settings import PROJECT_ROOT, Settings
from newsletter.web.app import create_app

BUDGET_MS = 300.0
FOLDER = PROJECT_ROOT / "var" / "bench"
SECRET = "desk-benchmark-" + "k" * 40
SITE = "http://127.0.0.1:8000"  # http: the session cookie is not marked Secure
_FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
KEYSET = ("after", "before", "cursor")
"""Query parameters that name a keyset page's bound."""
_NEXT = re.compile(r'href="([^"]*[?&](?:amp;)?(?:after|before|cursor)=[^"]*)"')


@dataclass(frozen=True)
class Timing:
    label: str
    url: str
    status: int
    verdict: str
    first_ms: float | None = None
    median_ms: float | None = None
    max_ms: float | None = None
    bytes: int = 0


def paths(folder: Path, size: int) -> tuple[Path, Path]:
    return folder / f"desk-{size}.db", folder / f"desk-{size}.json"


def settings_for(database: Path, folder: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{database}",
        content_dir=PROJECT_ROOT / "content",
        outbox_dir=folder / "outbox",
        secret_key=SECRET,
        site_url=SITE,
    )


def ensure_built(folder: Path, size: int, rebuild: bool = False, quiet: bool = False) -> Facts:
    """The facts of the database for `size`, built now unless a finished one is there."""
    database, meta = paths(folder, size)
    if database.exists() and meta.exists() and not rebuild:
        return Facts(**json.loads(meta.read_text()))
    folder.mkdir(parents=True, exist_ok=True)
    building = folder / f"desk-{size}.building.db"
    for old in (
        database,
        meta,
        *(Path(f"{p}{s}") for p in (database, building) for s in ("", "-wal", "-shm")),
    ):
        old.unlink(missing_ok=True)

    def say(line: str) -> None:
        if not quiet:
            print(f"building: {line}", file=sys.stderr, flush=True)

    facts = build(building, size, settings_for(building, folder), say)
    building.rename(database)
    meta.write_text(json.dumps(facts.as_dict(), indent=2) + "\n")
    return facts


def server_env(database: Path, folder: Path) -> dict[str, str]:
    """The environment `newsletter serve` reads its settings from (no .env file)."""
    return {
        **os.environ,
        "NEWSLETTER_ENV_FILE": os.devnull,
        "NEWSLETTER_DATABASE_URL": f"sqlite:///{database}",
        "NEWSLETTER_OUTBOX_DIR": str(folder / "outbox"),
        "NEWSLETTER_SECRET_KEY": SECRET,
        "NEWSLETTER_SITE_URL": SITE,
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }


def sign_in(client: httpx.Client) -> None:
    """As a person does: the form (its token and cookie), then the POST."""
    form = client.get("/admin/sign-in")
    token = _FORM_TOKEN.search(form.text)
    if form.status_code != 200 or token is None:
        raise SystemExit(f"the sign-in form answered {form.status_code} without a form token")
    answer = client.post(
        "/admin/sign-in",
        data={"email": ADMIN, "password": PASSWORD, "form_token": token[1], "next": "/admin"},
    )
    if answer.status_code != 303:
        raise SystemExit(f"signing in answered {answer.status_code}, not 303")


def fetch(client: httpx.Client, url: str) -> tuple[float, int, bytes, str]:
    """One GET: ms until the whole body arrived (an event stream: its first chunk)."""
    started = time.perf_counter()
    with client.stream("GET", url) as answer:
        if answer.headers.get("content-type", "").startswith("text/event-stream"):
            body = next(answer.iter_bytes(), b"")
        else:
            body = answer.read()
    ms = (time.perf_counter() - started) * 1000
    return ms, answer.status_code, body, answer.headers.get("location", "")


def verdict(status: int, slowest: float, location: str, budget: float) -> str:
    if status == 404:
        return "missing"
    if 300 <= status < 400:
        return f"redirect to {location}"
    if status != 200:
        return f"answered {status}"
    return "ok" if slowest < budget else "SLOW"


def time_page(client: httpx.Client, page: Page, runs: int, budget: float) -> tuple[Timing, bytes]:
    """A warm-up GET, then `runs` more (only the warm-up if it did not answer 200)."""
    first, status, body, location = fetch(client, page.url)
    times: list[float] = []
    if status == 200:
        for _ in range(runs):
            ms, status, body, location = fetch(client, page.url)
            times.append(ms)
    slowest = max(times) if times else first
    timing = Timing(
        label=page.label,
        url=page.url,
        status=status,
        verdict=verdict(status, slowest, location, budget),
        first_ms=round(first, 1),
        median_ms=round(statistics.median(times), 1) if times else None,
        max_ms=round(slowest, 1) if times else None,
        bytes=len(body),
    )
    return timing, body


def next_pages(page: Page, body: bytes, facts: Facts) -> list[Page]:
    """The next page of a keyset-paged list (a link to the same path with `after=`,
    `before=` or `cursor=`), and for the subscriber list a page from the middle of it too."""
    if any(key in dict(parse_qsl(urlsplit(page.url).query)) for key in KEYSET):
        return []
    path = urlsplit(page.url).path
    for href in _NEXT.findall(body.decode("utf-8", errors="replace")):
        link = urlsplit(unescape(href))
        if link.path != path:
            continue
        found = [Page(f"{page.label} (next page)", f"{link.path}?{link.query}")]
        query = dict(parse_qsl(link.query))
        if path == "/admin/subscribers" and query.get("after", "").isdigit():
            query["after"] = str(facts.subscriber_id + facts.size // 2)
            found.append(Page(f"{page.label} (middle page)", f"{path}?{urlencode(query)}"))
        return found
    return []


def time_pages(folder: Path, facts: Facts, runs: int, budget: float = BUDGET_MS) -> list[Timing]:
    """Every page, timed over HTTP against `newsletter serve` on the built database."""
    database, _ = paths(folder, facts.size)
    engine = make_engine(f"sqlite:///{database}")
    try:
        # A migration merged since the build (an index, say) is applied here, not by the
        # server's start, which would outlast the wait for it on a table of millions.
        if upgrade(engine):
            print("applied the new migrations to the kept database", file=sys.stderr)
        todo = pages(create_app(settings_for(database, folder), engine), facts)
    finally:
        engine.dispose()
    results: list[Timing] = []
    log = folder / f"desk-{facts.size}.serve.log"
    with (
        server_process(server_env(database, folder), log) as (url, _pid),
        httpx.Client(base_url=url, timeout=120, trust_env=False) as client,
    ):
        sign_in(client)
        while todo:
            page = todo.pop(0)
            if page.skipped:
                results.append(Timing(page.label, page.url, 0, f"skipped: {page.skipped}"))
                continue
            timing, body = time_page(client, page, runs, budget)
            results.append(timing)
            if timing.status == 200:
                todo[0:0] = next_pages(page, body, facts)
    return results


def _ms(value: float | None, width: int) -> str:
    return f"{value:{width}.1f}" if value is not None else f"{'-':>{width}}"


def table(results: list[Timing], budget: float) -> str:
    width = max(len(t.label) for t in results)
    lines = [f"{'page':<{width}}  status  first ms  median ms  max ms     bytes  verdict"]
    for t in results:
        lines.append(
            f"{t.label:<{width}}  {t.status or '-':>6}  {_ms(t.first_ms, 8)}  "
            f"{_ms(t.median_ms, 9)}  {_ms(t.max_ms, 6)}  {t.bytes:>8,}  {t.verdict}"
        )
    timed = [t for t in results if t.max_ms is not None]
    slow = [t for t in timed if t.verdict == "SLOW"]
    missing = [t for t in results if t.verdict == "missing"]
    lines.append(
        f"{len(timed)} pages timed, {len(slow)} at or over {budget:.0f} ms, {len(missing)} missing"
    )
    return "\n".join(lines)


def database_mb(folder: Path, size: int) -> float:
    return round(paths(folder, size)[0].stat().st_size / 1024 / 1024, 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--size", type=int, default=1_000_000, help="subscribers sent the issue (events: 3x)"
    )
    parser.add_argument("--runs", type=int, default=5, help="timed GETs per page, after one")
    parser.add_argument("--rebuild", action="store_true", help="build the data afresh")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--budget-ms", type=float, default=BUDGET_MS)
    parser.add_argument("--folder", type=Path, default=FOLDER, help="where the data is kept")
    args = parser.parse_args(argv)
    size = max(1000, args.size - args.size % 1000)
    facts = ensure_built(args.folder, size, args.rebuild, quiet=args.json)
    results = time_pages(args.folder, facts, args.runs, args.budget_ms)
    mb = database_mb(args.folder, size)
    if args.json:
        data = {**facts.as_dict(), "database_mb": mb}
        out = {"data": data, "budget_ms": args.budget_ms, "runs": args.runs}
        print(json.dumps({**out, "pages": [asdict(t) for t in results]}, indent=2))
        return
    print(
        f"data: {facts.subscribers:,} subscribers, issue #{facts.issue_number} sent to "
        f"{facts.size:,} with {facts.events:,} events; built in {facts.build_seconds:.0f} s "
        f"on {facts.built_at}; {mb:,.0f} MB ({paths(args.folder, size)[0]})"
    )
    print(table(results, args.budget_ms))


if __name__ == "__main__":
    main()
