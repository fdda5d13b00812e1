"""The burst that follows a send, over real HTTP against the app under uvicorn: more votes
and one-click unsubscribes at once than the app has worker threads (40) and pooled
connections (16 + 8) together. Every answer is a 200 page and every vote and unsubscribe is
stored once; a session waiting for a thread to commit must never hold the connection a
route thread is waiting for (that wait would end only at the pool's 30 s timeout, in 500s).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import Engine, func
from sqlmodel import col, select

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.publishing.models import Vote
from subscribers.models import StatusChange
from tests.newsletter.web.helpers import issue_for
from tests.newsletter.web.link_kinds import personal_links, subscriber_id

AT_ONCE = 120


def test_a_burst_past_the_threads_and_the_pool_is_answered_and_stored_once(
    live_app: str, engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    issue = issue_for(engine, settings, tmp_path, "2026-W30", ["burst"], "2026-07-20")
    posts: list[tuple[str, dict[str, str]]] = []
    for i in range(AT_ONCE):
        sid = subscriber_id(engine, f"reader{i}@example.com")
        unsubscribe, votes = personal_links(engine, settings, issue, sid)
        if i % 3 == 0:
            posts.append((unsubscribe, {"List-Unsubscribe": "One-Click"}))
        else:
            posts.append((votes["burst-a" if i % 2 else "burst-b"], {}))

    def post(link: tuple[str, dict[str, str]]) -> tuple[int, str]:
        url, data = link
        with httpx.Client(trust_env=False, timeout=90) as client:
            answer = client.post(url, data=data)
            return answer.status_code, answer.text

    with ThreadPoolExecutor(AT_ONCE) as pool:
        answers = list(pool.map(post, posts))

    assert [code for code, _ in answers] == [200] * AT_ONCE, [
        text[:200] for code, text in answers if code != 200
    ]
    with session_scope(engine) as session:
        stored = session.exec(select(func.count()).select_from(Vote)).one()
        unsubscribed = session.exec(
            select(func.count())
            .select_from(StatusChange)
            .where(col(StatusChange.to_status) == "unsubscribed")
        ).one()
    assert (stored, unsubscribed) == (AT_ONCE - AT_ONCE // 3, AT_ONCE // 3)
