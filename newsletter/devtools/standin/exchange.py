"""One request and its answer, as the routes see it: what they read of the request and
how they answer, without the HTTP server's plumbing (see `server.Handler`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from email.message import Message
from typing import TYPE_CHECKING, Protocol

from newsletter.devtools.standin.api_errors import ApiError

if TYPE_CHECKING:
    from newsletter.devtools.standin.stand_in import StandIn


class BodyProblem(Exception):
    """The body could not be read; the route answers ``status`` and closes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Exchange(Protocol):
    command: str
    """The HTTP method."""
    path: str
    """The request target: path and query."""
    headers: Message
    close_connection: bool
    """Set to close the connection after this exchange (with or without an answer)."""

    @property
    def standin(self) -> StandIn:
        """The stand-in this request was made to."""
        ...

    def read_body(self) -> bytes:
        """The request body; `BodyProblem` if it is malformed or over SendGrid's limit."""
        ...

    def reply(
        self,
        status: int,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None: ...

    def reply_errors(
        self,
        status: int,
        errors: Sequence[ApiError],
        headers: Mapping[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        """Answer SendGrid's way: ``{"errors": [...]}``."""
        ...

    def reply_json(self, status: int, payload: object) -> None: ...

    def refuse(self, status: int, *, allow: str | None = None) -> int:
        """Answer an error after discarding the body, so keep-alive survives; the status
        actually answered."""
        ...

    def drain_after_refusal(self) -> None:
        """Swallow an oversize body so the client can read the 413, then close."""
        ...
