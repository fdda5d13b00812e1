"""The emails in a local outbox, read the way a person reads them: by recipient."""

from __future__ import annotations

import re
from email.utils import parseaddr
from pathlib import Path

from tests.newsletter.web.helpers import eml


def outbox(folder: Path) -> dict[str, str]:
    """{recipient address: plain text} of every email in the outbox."""
    found: dict[str, str] = {}
    for path in sorted(folder.rglob("*.eml")):
        message = eml(path)
        body = message.get_body(("plain",))
        assert body is not None
        found[parseaddr(str(message["To"]))[1].lower()] = str(body.get_content())
    return found


def confirm_token(text: str) -> str:
    """The token of the confirmation link in an email's text."""
    match = re.search(r"/confirm/([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)", text)
    assert match is not None, text
    return match.group(1)
