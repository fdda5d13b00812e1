"""The desk benchmark at a tiny size: the data it builds says what it claims (the counters
match their rows, the list's statuses match the events), a second run reuses it, and a
run signs in over HTTP and gives every desk route of the app a row with a verdict.

SQLite only, as the benchmark is: issue #13's figure is for SQLite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from benchmarks.desk import ensure_built, main, paths, settings_for
from benchmarks.desk_data import Facts
from benchmarks.desk_pages import ASKED, desk_routes
from newsletter.core.database import make_engine
from newsletter.web.app import create_app

SIZE = 1000


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Facts]:
    folder = tmp_path_factory.mktemp("desk")
    return folder, ensure_built(folder, SIZE, quiet=True)


def scalar(engine: Engine, sql: str, **params: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def test_the_data_is_what_the_benchmark_says(built: tuple[Path, Facts]) -> None:
    folder, facts = built
    engine = make_engine(f"sqlite:///{paths(folder, SIZE)[0]}")
    try:
        newest = scalar(engine, "SELECT id FROM issue WHERE number = :n", n=facts.issue_number)
        assert (facts.size, facts.events, facts.subscribers) == (SIZE, 3 * SIZE, SIZE + SIZE // 50)
        assert scalar(engine, "SELECT COUNT(*) FROM delivery_event") == 3 * SIZE
        assert scalar(engine, "SELECT COUNT(*) FROM issue WHERE status = 'sent'") == 6
        tally = "SELECT value FROM event_tally WHERE issue_id = :i AND name = :name"
        rows = {
            "events": "SELECT COUNT(*) FROM delivery_event WHERE issue_id = :i",
            "delivered": "SELECT COUNT(*) FROM recipient_activity WHERE issue_id = :i "
            "AND delivery = 'delivered'",
            "clicked": "SELECT COUNT(*) FROM recipient_activity WHERE issue_id = :i "
            "AND first_click_at IS NOT NULL",
        }
        for name, counted in rows.items():
            assert scalar(engine, tally, i=newest, name=name) == scalar(engine, counted, i=newest)
        link_clicks = "SELECT COUNT(*) FROM link_click WHERE issue_id = :i"
        clicks = "SELECT SUM(clicks) FROM issue_link WHERE issue_id = :i"
        assert scalar(engine, clicks, i=newest) == scalar(engine, link_clicks, i=newest)
        statuses = {"bounced": 20, "complained": 2, "unsubscribed": 3, "pending": 20}
        for status, per_thousand in statuses.items():
            count = "SELECT COUNT(*) FROM subscriber WHERE status = :s"
            history = "SELECT COUNT(*) FROM status_change WHERE to_status = :s"
            assert scalar(engine, count, s=status) == per_thousand
            assert scalar(engine, history, s=status) == per_thousand
        bounced = "SELECT status FROM subscriber WHERE id = :i"
        with engine.connect() as conn:
            found = conn.execute(text(bounced), {"i": facts.subscriber_id}).scalar_one()
        assert found == "bounced"
        assert scalar(engine, "SELECT COUNT(*) FROM account") == 3
        assert scalar(engine, "SELECT COUNT(*) FROM audit_entry") > 3
    finally:
        engine.dispose()
    assert ensure_built(folder, SIZE, quiet=True) == facts  # reused, not rebuilt


@pytest.mark.slow
def test_every_desk_route_is_timed(
    built: tuple[Path, Facts], capsys: pytest.CaptureFixture[str]
) -> None:
    folder, facts = built
    main(["--size", str(SIZE), "--runs", "1", "--json", "--folder", str(folder)])
    out = json.loads(capsys.readouterr().out)
    assert out["data"]["built_at"] == facts.built_at
    rows = {page["label"]: page for page in out["pages"]}
    for signed_in_page in ("/admin/sign-in", "/admin"):
        assert rows[signed_in_page]["status"] == 200, rows[signed_in_page]
        assert rows[signed_in_page]["verdict"] in {"ok", "SLOW"}
        assert rows[signed_in_page]["median_ms"] > 0
    database = paths(folder, SIZE)[0]
    engine = make_engine(f"sqlite:///{database}")
    try:
        routes = desk_routes(create_app(settings_for(database, folder), engine))
    finally:
        engine.dispose()
    assert set(routes) | set(ASKED) <= set(rows)
    for page in out["pages"]:
        assert page["verdict"] in {"ok", "SLOW", "missing"} or page["verdict"].startswith(
            ("skipped", "answered", "redirect")
        ), page
