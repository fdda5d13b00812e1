"""Scripted misbehaviour: the failures that decide whether a sender double-sends or loses
mail (429, 5xx, a slow answer, a connection dropped before or after accepting), queued for
the next requests or set as the default for all of them.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Final, Literal, cast, get_args

FaultKind = Literal["rate_limit", "error", "slow", "drop", "drop_before"]
_FAULT_KINDS: Final[frozenset[str]] = frozenset(get_args(FaultKind))
ERROR_FAULT_STATUSES: Final = frozenset({400, 401, 403, 413, 500, 502, 503, 504})
"""The statuses an ``error`` fault may answer."""


@dataclass(frozen=True, slots=True)
class Fault:
    """A scripted misbehaviour for one mail/send request.

    ``rate_limit``: 429 (with ``X-RateLimit-*`` headers unless ``headers`` is
    false, reset ``reset_in`` seconds ahead); ``error``: answer ``status``;
    ``slow``: wait ``seconds`` then answer normally; ``drop``: process the
    request as usual (a valid one is recorded as accepted), then close without
    answering; ``drop_before``: read the body, close without accepting.  A
    fault is used up by the next mail/send request whatever its key or body.
    """

    kind: FaultKind
    status: int = 500
    seconds: float = 1.0
    reset_in: float = 60.0
    limit: int = 600
    headers: bool = True
    message: str | None = None

    @classmethod
    def build(cls, kind: str, **params: Any) -> Fault:
        """Check a fault spec (from Python or from JSON) so typos fail loudly."""
        if kind not in _FAULT_KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {sorted(_FAULT_KINDS)}")
        allowed = {
            "rate_limit": {"reset_in", "limit", "headers", "message"},
            "error": {"status", "message"},
            "slow": {"seconds"},
            "drop": set(),
            "drop_before": set(),
        }[kind]
        unknown = set(params) - allowed
        if unknown:
            raise ValueError(f"fault {kind!r} takes no parameter(s) {sorted(unknown)}")
        for name in ("seconds", "reset_in"):
            value = params.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")
        status = params.get("status", 500)
        if isinstance(status, bool) or status not in ERROR_FAULT_STATUSES:
            raise ValueError(f"status must be one of {sorted(ERROR_FAULT_STATUSES)}")
        limit = params.get("limit", 600)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError("limit must be a positive integer")
        if not isinstance(params.get("headers", True), bool):
            raise ValueError("headers must be a boolean")
        if not isinstance(params.get("message", ""), str):
            raise ValueError("message must be a string")
        return cls(kind=cast(FaultKind, kind), **params)

    def as_json(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"fault": self.kind}
        if self.kind == "rate_limit":
            spec.update(reset_in=self.reset_in, limit=self.limit, headers=self.headers)
        elif self.kind == "error":
            spec["status"] = self.status
        elif self.kind == "slow":
            spec["seconds"] = self.seconds
        if self.message is not None:
            spec["message"] = self.message
        return spec


@dataclass(slots=True)
class _Scripted:
    fault: Fault
    remaining: int


class FaultScript:
    """The queue of faults for the next requests, then the default; thread-safe, as the
    server takes the next fault from a thread per connection while a test scripts more."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: deque[_Scripted] = deque()
        self._default: Fault | None = None

    def inject(self, fault: str, count: int = 1, **params: Any) -> None:
        """Apply ``fault`` to the next ``count`` mail/send requests (after earlier ones)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        built = Fault.build(fault, **params)
        with self._lock:
            self._queue.append(_Scripted(built, count))

    def set_default(self, fault: str | None, **params: Any) -> None:
        """Apply ``fault`` to every request once the queue is empty (None: behave)."""
        built = None if fault is None else Fault.build(fault, **params)
        with self._lock:
            self._default = built

    def clear(self) -> None:
        """Forget queued faults and the default mode."""
        with self._lock:
            self._queue.clear()
            self._default = None

    def as_json(self) -> dict[str, Any]:
        """The queued faults and the default mode, as JSON-able data."""
        with self._lock:
            return {
                "queue": [{**s.fault.as_json(), "count": s.remaining} for s in self._queue],
                "default": None if self._default is None else self._default.as_json(),
            }

    def next(self) -> Fault | None:
        """The fault for this request, used up from the queue; None: behave."""
        with self._lock:
            if self._queue:
                head = self._queue[0]
                head.remaining -= 1
                if head.remaining <= 0:
                    self._queue.popleft()
                return head.fault
            return self._default
