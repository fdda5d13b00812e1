"""The desk judges a POST's body by its headers before reading it: over the route's limit
a 413 desk page at once (the body is never waited for), without a length a 411."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from sqlalchemy import Engine

from newsletter.accounts.roles import Role
from newsletter.web.admin.imports import UPLOAD_MAX
from tests.newsletter.web.admin.desk import csrf_of, signed_in
from tests.newsletter.web.admin.list_data import audit_actions

FORM_MAX = 64 * 1024  # body_limit.FORM_MAX, as the page states it
ENVELOPE = 64 * 1024  # body_limit.ENVELOPE


def _raw(base: str, head: str, body: bytes = b"") -> bytes:
    """Send a request's head (and maybe part of its body) and read the answer; a server
    that waits for the rest of the body times out here instead of answering."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=5) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(desk: str) -> None:
    for path, declared in (
        ("/admin/sign-in", FORM_MAX + 1),
        ("/admin/issues/1/check", 10**9),
        ("/admin/subscribers/import", UPLOAD_MAX + ENVELOPE + 1),
    ):
        head = (
            f"POST {path} HTTP/1.1\nHost: desk\n"
            "Content-Type: application/x-www-form-urlencoded\n"
            f"Content-Length: {declared}\n"
        )
        answer = _raw(desk, head, b"csrf=x&")  # the rest never comes
        assert answer.startswith(b"HTTP/1.1 413"), (path, answer[:200])


def test_the_413_page_is_the_desks_and_names_the_limit(desk: str) -> None:
    with signed_in(desk, Role.EDITOR) as editor:
        token = csrf_of(editor)
        big = editor.post("/admin/issues/1/check", data={"csrf": token, "pad": "x" * FORM_MAX})
        small = editor.post("/admin/issues/1/check", data={"csrf": token})
    assert big.status_code == 413
    assert "(64 KB)" in big.text
    assert "desk" in big.text.lower()
    assert small.status_code == 404  # the form itself was read: there is no issue #1


def test_a_body_without_a_length_is_refused_411(desk: str, engine: Engine) -> None:
    head = (
        "POST /admin/sign-in HTTP/1.1\nHost: desk\n"
        "Content-Type: application/x-www-form-urlencoded\nTransfer-Encoding: chunked\n"
    )
    answer = _raw(desk, head, b"5\r\nemail\r\n")
    assert answer.startswith(b"HTTP/1.1 411"), answer[:200]
    assert audit_actions(engine) == []
