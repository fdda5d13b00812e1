"""The sign-up form is not a relay: what it sends carries nothing a visitor typed but the
address, its answer does the same work for every address, a slow provider never slows the
site, and a queue that grows too long is refused politely. Real HTTP against the app
under uvicorn, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, event

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery import Message, Recipient
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.sending.signup_dispatcher import THREAD_NAME
from newsletter.sending.signup_queue import queue_signup
from newsletter.web.app import create_app
from subscribers.models import Source, Status
from subscribers.service import add_subscriber, find_subscriber
from subscribers.status import change_status
from tests.conftest import serve
from tests.newsletter.web.helpers import (
    eml,
    html_part,
    subscriber_of,
    wait_for,
    wait_for_signups,
)

LURE = "Claim your prize at http://evil.example/win"


def _no_limits(settings: Settings) -> None:
    """Many posts from one test client: the rate limits are tested on their own."""
    settings.signup_limit_per_client = ""
    settings.signup_limit_total = ""


def _known(engine: Engine) -> dict[str, str]:
    """An active, a bounced, a complained and an unsubscribed address."""
    kinds = {
        "active": Status.ACTIVE,
        "bounced": Status.BOUNCED,
        "complained": Status.COMPLAINED,
        "unsubscribed": Status.UNSUBSCRIBED,
    }
    with session_scope(engine) as session:
        for kind, status in kinds.items():
            row = add_subscriber(session, f"{kind}@example.com", source=Source.CLI, confirmed=True)
            if status != Status.ACTIVE:
                change_status(session, row, status, reason="test", source=Source.CLI)
    return {kind: f"{kind}@example.com" for kind in kinds}


@contextmanager
def _statements_of_requests(engine: Engine) -> Iterator[list[str]]:
    """The SQL run by the app's request workers (not by the sign-up dispatcher)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.current_thread().name != THREAD_NAME:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_confirmation_carries_nothing_the_visitor_typed_but_the_address(
    http: httpx.Client, engine: Engine, settings: Settings
) -> None:
    answer = http.post("/subscribe", data={"email": "target@example.com", "name": LURE})
    assert answer.status_code == 200
    [path] = wait_for(settings.outbox_dir, "*target@example.com.eml")
    message = eml(path)
    assert message["To"] == "target@example.com"
    assert message["To"].addresses[0].display_name == ""
    plain = message.get_body(("plain",))
    assert plain is not None
    for part in (str(plain.get_content()), html_part(message), str(message)):
        assert "prize" not in part
        assert "evil" not in part
    wait_for_signups(engine)
    stored = subscriber_of(engine, "target@example.com")
    assert stored is not None
    assert stored.name == LURE  # the person's own name, once they confirm; never sent


def test_names_with_control_characters_are_stored_clean_and_the_email_still_goes(
    http: httpx.Client, engine: Engine, settings: Settings
) -> None:
    names = {
        "nul@example.com": "Ann\x00 Lee",  # aborts an INSERT on PostgreSQL
        "crlf@example.com": "Ann Lee\r\nBcc: victim@example.com",  # a header of its own
        "escape@example.com": "\x1b]0;pwned\x07Ann \x1b[31mLee",  # a terminal's title, colour
    }
    for address, name in names.items():
        answer = http.post("/subscribe", data={"email": address, "name": name})
        assert answer.status_code == 200
        assert "Check your inbox" in answer.text
    for address in names:
        [path] = wait_for(settings.outbox_dir, f"*{address}.eml")
        message = eml(path)
        assert message["To"] == address
        assert message["Bcc"] is None
    wait_for_signups(engine)
    stored = {a: subscriber_of(engine, a) for a in names}
    assert {a: s.name if s else None for a, s in stored.items()} == {
        "nul@example.com": "Ann Lee",
        "crlf@example.com": "Ann Lee Bcc: victim@example.com",
        "escape@example.com": "Ann Lee",
    }


def test_the_answer_is_the_same_page_after_the_same_work_for_every_address(
    http: httpx.Client, engine: Engine, settings: Settings
) -> None:
    known = _known(engine)
    addresses = {"new": "new@example.com", **known}
    pages: dict[str, tuple[int, str]] = {}
    work: dict[str, list[str]] = {}
    for kind, address in addresses.items():
        wait_for_signups(engine)  # the dispatcher idle: only this post's own work is seen
        with _statements_of_requests(engine) as statements:
            answer = http.post("/subscribe", data={"email": address, "name": "Someone"})
        pages[kind] = (answer.status_code, answer.text.replace(address, "ADDRESS"))
        work[kind] = statements
    assert all(page == pages["new"] for page in pages.values()), pages.keys()
    assert pages["new"][0] == 200
    assert all(statements == work["new"] for statements in work.values()), work
    assert any("signup_request" in s for s in work["new"])
    assert not any("FROM subscriber" in s for s in work["new"])  # the list is not even read
    wait_for_signups(engine)
    for kind in ("bounced", "complained"):
        unchanged = subscriber_of(engine, addresses[kind])
        assert unchanged is not None
        assert unchanged.status == kind  # the form never revives a suppressed address


class SlowOutbox(OutboxBackend):
    """The embedded backend behind a provider that takes `delay` seconds per request."""

    def __init__(self, folder: Path, delay: float) -> None:
        super().__init__(folder)
        self.delay = delay

    def send_batch(self, message: Message, recipients: Sequence[Recipient]) -> str:
        time.sleep(self.delay)
        return super().send_batch(message, recipients)


def test_a_slow_provider_never_slows_the_site_while_sign_ups_pour_in(
    engine: Engine, settings: Settings
) -> None:
    """Before the queue, confirmation emails were sent in the request workers' thread
    pool: 80 posts against a slow provider made every page wait for it."""
    _no_limits(settings)
    backend = SlowOutbox(settings.outbox_dir, delay=2.0)
    with (
        serve(create_app(settings, engine, backend=backend)) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=30) as client,
        ThreadPoolExecutor(max_workers=60) as pool,
    ):

        def post(n: int) -> int:
            return client.post("/subscribe", data={"email": f"r{n}@example.com"}).status_code

        answers = [pool.submit(post, n) for n in range(60)]
        time.sleep(0.3)  # the posts are in; their confirmations are being sent
        home: list[float] = []
        for _ in range(5):
            started = time.perf_counter()
            assert client.get("/").status_code == 200
            home.append(time.perf_counter() - started)
        assert [a.result() for a in answers] == [200] * 60
    assert max(home) < 0.8, [f"{t:.2f} s" for t in home]  # before the queue: over 2 s


class GatedOutbox(OutboxBackend):
    """A provider that holds each request until the test lets it go."""

    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.sending = threading.Event()
        self.gate = threading.Event()

    def send_batch(self, message: Message, recipients: Sequence[Recipient]) -> str:
        self.sending.set()
        self.gate.wait(10)
        return super().send_batch(message, recipients)


def test_a_full_queue_is_refused_politely_and_keeps_what_it_holds(
    engine: Engine, settings: Settings
) -> None:
    _no_limits(settings)
    settings.signup_queue_max = 2
    backend = GatedOutbox(settings.outbox_dir)
    with (
        serve(create_app(settings, engine, backend=backend)) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=10) as client,
    ):
        assert client.post("/subscribe", data={"email": "first@example.com"}).status_code == 200
        assert backend.sending.wait(5)  # the dispatcher is stuck sending the first
        for address in ("second@example.com", "third@example.com"):
            assert client.post("/subscribe", data={"email": address}).status_code == 200
        full = client.post("/subscribe", data={"email": "fourth@example.com"})
        assert full.status_code == 503
        assert full.headers["Retry-After"] == "120"
        assert "Please try again shortly" in full.text
        assert "Nothing was stored" in full.text
        assert 'href="/subscribe"' in full.text
        backend.gate.set()
        wait_for_signups(engine)
        wait_for(settings.outbox_dir, "*.eml", count=3)
    with session_scope(engine) as session:
        on_list = {
            address: find_subscriber(session, f"{address}@example.com") is not None
            for address in ("first", "second", "third", "fourth")
        }
    assert on_list == {"first": True, "second": True, "third": True, "fourth": False}


def test_posts_a_crash_left_in_the_queue_are_handled_when_the_app_starts(
    engine: Engine, settings: Settings
) -> None:
    with session_scope(engine, immediate=True) as session:  # answered, then the process died
        queue_signup(session, "left@example.com", name=None, ip="192.0.2.9", max_queued=10)
    with serve(create_app(settings, engine)):
        [path] = wait_for(settings.outbox_dir, "*left@example.com.eml")
    assert eml(path)["To"] == "left@example.com"
    pending = subscriber_of(engine, "left@example.com")
    assert pending is not None
    assert (pending.status, pending.consent_ip) == ("pending", "192.0.2.9")
