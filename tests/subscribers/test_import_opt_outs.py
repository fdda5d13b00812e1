"""No import brings back an address that opted out or was suppressed, whatever path it
took on the way: unsubscribed, asked back by a stranger on the form, made pending by older
code or by an operator, left to expire, forgotten. Each path, then an import, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine

from newsletter.core.database import session_scope
from subscribers.models import SUPPRESSED, Source, Status
from subscribers.service import add_subscriber, forget, get_subscriber, is_forgotten, set_status
from subscribers.status import change_status
from tests.subscribers.helpers import T0, id_of
from tests.subscribers.opt_outs import (
    DAY,
    form_post,
    housekeeping,
    import_one,
    status_of,
    subscribed_then_unsubscribed,
)


# Each path an opted-out address may take before an import --confirmed meets it.
def path_unsubscribed(engine: Engine, address: str) -> None:
    subscribed_then_unsubscribed(engine, address)


def path_form_post_then_expiry(engine: Engine, address: str) -> None:
    """Before the fix: the post made it pending, expiry deleted it, the import revived it."""
    subscribed_then_unsubscribed(engine, address)
    form_post(engine, address)
    housekeeping(engine)


def path_made_pending_by_the_old_form_then_expiry(engine: Engine, address: str) -> None:
    """A row the form made pending before this fix (the data is still out there)."""
    sid = subscribed_then_unsubscribed(engine, address)
    with session_scope(engine) as session:
        row = get_subscriber(session, sid)
        assert row is not None
        at = T0 + DAY / 24
        change_status(
            session,
            row,
            Status.PENDING,
            reason="re-subscribed through the form",
            source=Source.FORM,
            now=at,
        )
        row.confirmation_sent_at = at
    housekeeping(engine)


def path_moved_to_pending_by_an_operator_then_expiry(engine: Engine, address: str) -> None:
    """Pending with no confirmation email at all: still returned to the opt-out."""
    subscribed_then_unsubscribed(engine, address)
    with session_scope(engine) as session:
        set_status(session, address, Status.PENDING, reason="ask again", source=Source.CLI, now=T0)
    housekeeping(engine)


def path_forgotten(engine: Engine, address: str) -> None:
    subscribed_then_unsubscribed(engine, address)
    with session_scope(engine) as session:
        forget(session, address, now=T0 + DAY)


def path_forgotten_then_form_post_then_expiry(engine: Engine, address: str) -> None:
    """The new pending row goes, the tombstone stays: nobody confirmed anything."""
    path_forgotten(engine, address)
    form_post(engine, address)
    housekeeping(engine)
    assert status_of(engine, address) is None  # the new request went
    with session_scope(engine) as session:
        assert is_forgotten(session, address)


PATHS: list[tuple[Callable[[Engine, str], None], Status | None]] = [
    (path_unsubscribed, Status.UNSUBSCRIBED),
    (path_form_post_then_expiry, Status.UNSUBSCRIBED),
    (path_made_pending_by_the_old_form_then_expiry, Status.UNSUBSCRIBED),
    (path_moved_to_pending_by_an_operator_then_expiry, Status.UNSUBSCRIBED),
    (path_forgotten, None),  # only the tombstone is left
    (path_forgotten_then_form_post_then_expiry, None),
]


@pytest.mark.parametrize(
    ("path", "left"), PATHS, ids=[p.__name__.removeprefix("path_") for p, _ in PATHS]
)
def test_no_import_revives_an_opt_out_whatever_path_it_took(
    engine: Engine, path: Callable[[Engine, str], None], left: Status | None
) -> None:
    path(engine, "out@example.com")
    assert status_of(engine, "out@example.com") == left
    for confirmed in (True, False):
        report = import_one(engine, "OUT@example.com", confirmed=confirmed)
        assert report.imported == 0
        assert status_of(engine, "out@example.com") == left


@pytest.mark.parametrize("suppressed", sorted(SUPPRESSED))
def test_a_suppressed_address_revived_to_pending_falls_back_and_stays_out(
    engine: Engine, suppressed: Status
) -> None:
    with session_scope(engine) as session:
        row = add_subscriber(session, "gone@example.com", source=Source.CLI, confirmed=True, now=T0)
        change_status(session, row, suppressed, reason="webhook", source=Source.WEBHOOK, now=T0)
        set_status(session, id_of(row), Status.PENDING, reason="try", source=Source.CLI, now=T0)
        row.confirmation_sent_at = T0
    housekeeping(engine)
    assert status_of(engine, "gone@example.com") == suppressed
    report = import_one(engine, "gone@example.com")
    assert (report.imported, report.bad) == (0, 1)
    assert "suppressed" in report.bad_rows[0].reason
    assert status_of(engine, "gone@example.com") == suppressed
