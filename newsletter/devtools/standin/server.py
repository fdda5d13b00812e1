"""The thin HTTP layer: a threading server, and a handler that reads bodies the way SendGrid
does (no more than its limit, chunked or not), writes answers, and hands each request to
its route (`mail_send`, `control`). Standard library only.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from newsletter.delivery.providers.sendgrid.limits import MAX_BODY_BYTES
from newsletter.devtools.standin import control, mail_send
from newsletter.devtools.standin.api_errors import STATUS_MESSAGES, ApiError
from newsletter.devtools.standin.exchange import BodyProblem

if TYPE_CHECKING:
    from newsletter.devtools.standin.stand_in import StandIn

_DRAIN_LIMIT: Final = 4 * MAX_BODY_BYTES  # beyond this an oversize body is cut off
_DRAIN_IDLE_S: Final = 2.0


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        standin: StandIn,
    ) -> None:
        self.standin = standin
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (timeouts, drops) are normal here, not tracebacks."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    """One connection; every method goes through `_dispatch`. Implements `Exchange`."""

    protocol_version = "HTTP/1.1"
    server_version = "sendgrid-standin/1.0"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are closed after this

    def version_string(self) -> str:
        return self.server_version

    @property
    def standin(self) -> StandIn:
        server = self.server
        assert isinstance(server, Server)
        return server.standin

    def do_POST(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Replaced by one line per request from ``_dispatch``."""

    def log_message(self, format: str, *args: Any) -> None:
        self.standin.log(f"{self.client_address[0]} {format % args}")

    def handle_expect_100(self) -> bool:
        """Refuse an oversize body before the client sends it."""
        length = self.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > MAX_BODY_BYTES:
            self.reply_errors(413, [ApiError(STATUS_MESSAGES[413])], close=True)
            return False
        return super().handle_expect_100()

    def _dispatch(self) -> None:
        path = urlsplit(self.path).path
        status, note = 500, ""
        try:
            if path == mail_send.MAIL_SEND_PATH:
                status, note = mail_send.answer(self)
            elif path.startswith(control.CONTROL_PREFIX):
                status = control.answer(self, path)
            else:
                status = self.refuse(404)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
            note = "client went away"
        except Exception:  # a bug here must not look like a SendGrid drop
            traceback.print_exc()
            self.reply_errors(500, [ApiError("stand-in internal error")], close=True)
        answer = str(status) if status else "no answer (connection closed)"
        self.standin.log(f"{self.command} {self.path} -> {answer}{note}")

    # -- reading

    def read_body(self) -> bytes:
        """Read the body, refusing more than ``MAX_BODY_BYTES`` before reading it."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
            if length < 0:
                raise ValueError(raw_length)
        except ValueError:
            raise BodyProblem(400, "Invalid Content-Length") from None
        if length > MAX_BODY_BYTES:
            raise BodyProblem(413, STATUS_MESSAGES[413])
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BodyProblem(400, "Malformed chunked body") from None
            if size == 0:
                while self.rfile.readline(65536) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                raise BodyProblem(413, STATUS_MESSAGES[413])
            parts.append(self.rfile.read(size))
            self.rfile.readline(3)

    def drain_after_refusal(self) -> None:
        """Swallow an oversize body so the client can read the 413, then close.

        Closing with unread data makes the kernel send RST, and the client
        would see a reset instead of the answer.
        """
        self.close_connection = True
        remaining = int(self.headers.get("Content-Length") or 0) or _DRAIN_LIMIT
        remaining = min(remaining, _DRAIN_LIMIT)
        try:
            self.connection.settimeout(_DRAIN_IDLE_S)
            while remaining > 0:
                chunk = self.rfile.read1(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
        except OSError:
            pass

    # -- answering

    def refuse(self, status: int, *, allow: str | None = None) -> int:
        """Answer an error after discarding the body, so keep-alive survives."""
        try:
            self.read_body()
        except BodyProblem as problem:
            self.reply_errors(problem.status, [ApiError(str(problem))], close=True)
            return problem.status
        extra = {"Allow": allow} if allow else None
        self.reply_errors(status, [ApiError(STATUS_MESSAGES[status])], headers=extra)
        return status

    def reply(
        self,
        status: int,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if body:
            self.wfile.write(body)

    def reply_errors(
        self,
        status: int,
        errors: Sequence[ApiError],
        headers: Mapping[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        body = json.dumps({"errors": [e.as_json() for e in errors]}).encode()
        self.reply(status, body, headers, close=close)

    def reply_json(self, status: int, payload: object) -> None:
        self.reply(status, json.dumps(payload).encode())
