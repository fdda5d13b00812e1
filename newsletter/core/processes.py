"""Whether a process of this machine still runs: how leftovers of a killed one (a sender's
leased batches, the outbox's temporary files) are told from a live one's."""

from __future__ import annotations

import os


def process_exists(pid: int) -> bool:
    """True while a process with this id runs on this machine (this one included, and one
    of another user, which a signal may not reach but which exists)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
