"""Ending the app's own background threads (the sign-up dispatcher, the desk's send)."""

from __future__ import annotations

import logging
import threading


def joined(
    thread: threading.Thread | None, timeout: float | None, log: logging.Logger, what: str
) -> bool:
    """Wait up to `timeout` seconds for `thread` (None: nothing to wait for); False, with a
    warning naming `what`, if it was still running when the app stopped."""
    if thread is None:
        return True
    thread.join(timeout)
    if thread.is_alive():
        log.warning("%s was still running when the app stopped", what)
        return False
    return True
