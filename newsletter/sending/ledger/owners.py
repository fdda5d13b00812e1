"""Who is sending: owner tokens, the leases a live sender keeps extending, and the reaping
of batches whose sender is provably gone (their fate is unknown: never sent again)."""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Callable

from sqlalchemy import update
from sqlmodel import Session, col, select

from newsletter.core.clock import utcnow
from newsletter.core.processes import process_exists
from newsletter.sending.ledger.outcomes import settle_recipients
from newsletter.sending.ledger.tables import BatchState, SendBatch

_HOST = socket.gethostname()
_live_owners: set[str] = set()
_owners_lock = threading.Lock()


def new_owner() -> str:
    """A token naming this sender: host, process id and a random part (several senders
    may live in one process)."""
    owner = f"{_HOST}:{os.getpid()}:{secrets.token_hex(6)}"
    with _owners_lock:
        _live_owners.add(owner)
    return owner


def retire_owner(owner: str) -> None:
    with _owners_lock:
        _live_owners.discard(owner)


def owner_is_gone(owner: str | None) -> bool:
    """Whether `owner` is certainly dead: a process of this host that no longer exists, or
    an earlier sender of this very process. Owners on other hosts are judged by lease."""
    if owner is None:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != _HOST or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        with _owners_lock:
            return owner not in _live_owners
    return not process_exists(pid)


def heartbeat(session: Session, owner: str, *, now: float, lease: float) -> int:
    """Extend the leases of every batch this owner has in flight."""
    result = session.exec(
        update(SendBatch)
        .where(col(SendBatch.owner) == owner)
        .where(col(SendBatch.state) == BatchState.IN_FLIGHT)
        .values(lease_until=now + lease)
    )
    return int(result.rowcount)


def reap_orphans(
    session: Session,
    issue_id: int,
    *,
    now: float,
    is_gone: Callable[[str | None], bool] = owner_is_gone,
    resend_safe: bool = False,
) -> list[tuple[int, int]]:
    """Declare `unknown` the in-flight batches whose sender is gone; returns each one's
    number and recipient count.

    Their request may or may not have reached the provider, so they are never sent again; the
    operator sees them in `issue status`, and the event webhook can settle them later.
    With a backend whose resending cannot duplicate (`resend_safe`: the outbox rewrites
    the same files), they become `retryable` instead and are not counted.
    """
    rows = session.exec(
        select(SendBatch.seq, SendBatch.owner, SendBatch.lease_until)
        .where(SendBatch.issue_id == issue_id)
        .where(SendBatch.state == BatchState.IN_FLIGHT)
    ).all()
    reaped: list[tuple[int, int]] = []
    for seq, owner, lease_until in rows:
        expired = lease_until is None or lease_until < now
        if not (expired or is_gone(owner)):
            continue
        values: dict[str, object] = (
            {
                "state": BatchState.RETRYABLE,
                "owner": None,
                "lease_until": None,
                "error": f"in flight when its sender {owner} stopped; written again",
            }
            if resend_safe
            else {
                "state": BatchState.UNKNOWN,
                "finished_at": utcnow(),
                "error": f"in flight when its sender {owner} stopped: "
                "the provider may have accepted it",
            }
        )
        result = session.exec(
            update(SendBatch)
            .where(col(SendBatch.issue_id) == issue_id)
            .where(col(SendBatch.seq) == seq)
            .where(col(SendBatch.state) == BatchState.IN_FLIGHT)
            .where(col(SendBatch.owner) == owner)
            .values(**values)
        )
        if result.rowcount == 1 and not resend_safe:
            reaped.append((seq, settle_recipients(session, issue_id, seq, BatchState.UNKNOWN)))
    return reaped
