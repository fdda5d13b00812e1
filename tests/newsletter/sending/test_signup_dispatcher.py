"""The dispatcher thread: woken by the form, it drains the queue; asked to stop, it
finishes the email in hand and leaves the rest queued for the next start."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Engine

from newsletter.core.database import session_scope
from newsletter.core.settings import Settings
from newsletter.delivery import Message, Recipient
from newsletter.delivery.providers.outbox import OutboxBackend
from newsletter.sending.signup_dispatcher import THREAD_NAME, SignupDispatcher
from newsletter.sending.signup_queue import queue_signup, queued


class GatedOutbox(OutboxBackend):
    def __init__(self, folder: Path) -> None:
        super().__init__(folder)
        self.sending = threading.Event()
        self.gate = threading.Event()
        self.sent: list[str] = []

    def send_batch(self, message: Message, recipients: Sequence[Recipient]) -> str:
        self.sending.set()
        self.gate.wait(10)
        self.sent.extend(r.email for r in recipients)
        return super().send_batch(message, recipients)


def _queue(engine: Engine, *addresses: str) -> None:
    with session_scope(engine, immediate=True) as session:
        for address in addresses:
            queue_signup(session, address, name=None, ip=None, max_queued=100)


def _waiting(engine: Engine) -> int:
    with session_scope(engine) as session:
        return queued(session)


def _dispatcher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME]


def test_stop_finishes_the_email_in_hand_and_leaves_the_rest_for_the_next_start(
    engine: Engine, settings: Settings
) -> None:
    _queue(engine, "a@example.com", "b@example.com", "c@example.com")
    backend = GatedOutbox(settings.outbox_dir)
    dispatcher = SignupDispatcher(engine, settings, backend, poll=60)
    dispatcher.start()  # drains what is waiting at once, without a wake-up or a poll
    assert backend.sending.wait(5)
    stopped: list[bool] = []
    stopper = threading.Thread(target=lambda: stopped.append(dispatcher.stop(timeout=10)))
    stopper.start()
    time.sleep(0.1)
    assert stopped == []  # waiting for the send in hand
    backend.gate.set()
    stopper.join(10)
    assert stopped == [True]
    assert backend.sent == ["a@example.com"]
    assert _waiting(engine) == 2
    assert _dispatcher_threads() == []

    again = SignupDispatcher(engine, settings, backend, poll=60)
    again.start()
    deadline = time.monotonic() + 10
    while _waiting(engine) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert again.stop(timeout=10)
    assert backend.sent == ["a@example.com", "b@example.com", "c@example.com"]


def test_a_wake_up_drains_at_once_rather_than_at_the_next_look(
    engine: Engine, settings: Settings
) -> None:
    backend = GatedOutbox(settings.outbox_dir)
    backend.gate.set()
    dispatcher = SignupDispatcher(engine, settings, backend, poll=60)
    dispatcher.start()
    try:
        time.sleep(0.1)  # idle: the queue was empty
        _queue(engine, "woken@example.com")
        dispatcher.wake()
        assert backend.sending.wait(5)  # long before the 60 s look
    finally:
        assert dispatcher.stop(timeout=10)
    assert backend.sent == ["woken@example.com"]
