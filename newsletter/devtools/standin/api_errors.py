"""SendGrid's error answer, ``{"errors": [{"message", "field", "help"}]}``, and the words
the stand-in answers each status with.

Where SendGrid's exact wording is known it is used; elsewhere the stand-in names the
offending item as precisely as it can. Nothing decides by these texts: the status does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

HELP_BASE: Final = "https://www.twilio.com/docs/sendgrid/api-reference/mail-send/errors"

STATUS_MESSAGES: Final[Mapping[int, str]] = {
    400: "Bad Request",
    401: "The provided authorization grant is invalid, expired, or revoked",
    403: "The from address does not match a verified Sender Identity.",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    415: "Unsupported Media Type: the body must be UTF-8 encoded JSON.",
    429: "too many requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True, slots=True)
class ApiError:
    """One entry of SendGrid's ``{"errors": [...]}`` answer."""

    message: str
    field: str | None = None
    help: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {"message": self.message, "field": self.field, "help": self.help}


def help_for(field_name: str | None) -> str | None:
    """The documentation link SendGrid attaches to an error about ``field_name``."""
    if field_name is None:
        return None
    return f"{HELP_BASE}#message.{field_name.split('.', 1)[0]}"
