"""The confirmation button writes through the write session: many people confirming while
the database is busy with other writes (a send's ledger, an import) all end active, and
none is answered "database is locked". Real HTTP against the app under uvicorn."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import Engine, update
from sqlmodel import col, select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.links.tokens import Signer
from subscribers.models import Status, Subscriber
from tests.newsletter.web.link_kinds import subscriber_id

CLICKS = 50


def _busy_writer(engine: Engine, stop: threading.Event, held: list[int]) -> None:
    """Write transactions back to back, each holding the write lock (SQLite) a while."""
    while not stop.is_set():
        with session_scope(engine, immediate=True) as session:
            session.exec(  # type: ignore[call-overload]
                update(Subscriber)
                .where(col(Subscriber.email) == "busy@example.com")
                .values(name=f"busy {len(held)}")
            )
            time.sleep(0.01)
        held.append(1)
        time.sleep(0.002)


def test_fifty_confirm_clicks_during_other_writes_all_succeed(
    live_app: str, engine: Engine, settings: Settings
) -> None:
    subscriber_id(engine, "busy@example.com")
    signer = Signer(settings.secret())
    tokens = [
        signer.confirm_token(subscriber_id(engine, f"clicker{i}@example.com", Status.PENDING))
        for i in range(CLICKS)
    ]
    stop, held = threading.Event(), list[int]()
    writer = threading.Thread(target=_busy_writer, args=(engine, stop, held), daemon=True)
    writer.start()

    def click(token: str) -> tuple[int, str]:
        with httpx.Client(base_url=live_app, trust_env=False, timeout=60) as client:
            answer = client.post(f"/confirm/{token}")
            return answer.status_code, answer.text

    try:
        with ThreadPoolExecutor(CLICKS) as pool:
            answers = list(pool.map(click, tokens))
    finally:
        stop.set()
        writer.join(timeout=30)
    assert len(held) > 5, "the other writer should have been writing all along"
    assert [code for code, _text in answers] == [200] * CLICKS, [
        text[:200] for code, text in answers if code != 200
    ]
    assert all("You're subscribed" in text.replace("&#39;", "'") for _code, text in answers)
    with session_scope(engine) as session:
        statuses = session.exec(
            select(Subscriber.status).where(col(Subscriber.email).startswith("clicker"))
        ).all()
    assert statuses == [Status.ACTIVE] * CLICKS
