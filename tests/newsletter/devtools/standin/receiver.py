"""A small webhook receiver for the stand-in's event tests: a real HTTP server that checks
each POST's signature with `cryptography` against the public key the stand-in printed, as
an application would, and answers from a script (500 first, then 200, ...)."""

from __future__ import annotations

import base64
import json
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from newsletter.devtools.standin.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER


@dataclass(frozen=True)
class Post:
    """One POST received: its events, whether its signature held, the status answered."""

    events: list[dict[str, Any]]
    signed: bool
    status: int
    timestamp: str


def verified(public_key: str, body: bytes, signature: str, timestamp: str) -> bool:
    """What the app does: ECDSA P-256/SHA-256 over timestamp + the exact body."""
    key = serialization.load_der_public_key(base64.b64decode(public_key))
    assert isinstance(key, ec.EllipticCurvePublicKey)
    try:
        key.verify(
            base64.b64decode(signature), timestamp.encode() + body, ec.ECDSA(hashes.SHA256())
        )
    except (InvalidSignature, ValueError):
        return False
    return True


class Receiver:
    """The events posted to it; `answers` are the statuses of the next POSTs (then 200),
    `hang` makes it hold every POST that long before answering."""

    def __init__(self) -> None:
        self.public_key = ""
        self.answers: deque[int] = deque()
        self.hang = 0.0
        self.posts: list[Post] = []
        self.lock = threading.Lock()
        self.url = ""
        self.released = threading.Event()

    @property
    def accepted(self) -> list[Post]:
        """The POSTs answered 2xx."""
        with self.lock:
            return [post for post in self.posts if 200 <= post.status < 300]

    def events(self) -> list[dict[str, Any]]:
        """Every event of every POST answered 2xx, in the order received."""
        return [event for post in self.accepted for event in post.events]

    def answer(self, body: bytes, signature: str, timestamp: str) -> int:
        if self.hang:
            self.released.wait(self.hang)
        signed = verified(self.public_key, body, signature, timestamp)
        with self.lock:
            status = self.answers.popleft() if self.answers else 200
            self.posts.append(Post(json.loads(body), signed, status, timestamp))
        return status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        receiver = self.server.receiver  # type: ignore[attr-defined]
        status = receiver.answer(
            body, self.headers.get(SIGNATURE_HEADER, ""), self.headers.get(TIMESTAMP_HEADER, "")
        )
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A receiver on a free loopback port for the block."""
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.receiver = receiver  # type: ignore[attr-defined]
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks/sendgrid"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()
