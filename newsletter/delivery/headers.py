"""The mail headers every newsletter email carries, defined once."""

from __future__ import annotations

from typing import Final

LIST_UNSUBSCRIBE: Final = "List-Unsubscribe"
LIST_UNSUBSCRIBE_POST: Final = "List-Unsubscribe-Post"
ONE_CLICK: Final = "List-Unsubscribe=One-Click"
"""RFC 8058: the value of List-Unsubscribe-Post, and the body of the one-click POST."""
LIST_ID: Final = "List-Id"


def unsubscribe_headers(url: str) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe for one recipient."""
    return {LIST_UNSUBSCRIBE: f"<{url}>", LIST_UNSUBSCRIBE_POST: ONE_CLICK}
